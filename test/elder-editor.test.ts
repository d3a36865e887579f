import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { padTokenId } from '../src/editors/common/batch.js';
import { SessionStateError } from '../src/editors/common/session.js';
import { defaultBlockRange, paperBlockRange } from '../src/editors/common/sites.js';
import { type EditRequest, expandRequests, tokenizeEdit } from '../src/editors/edit.js';
import { EditFileError, parseEditsJsonl } from '../src/editors/edits-file.js';
import { Codebook, decodeCode, encodeCode, hamming } from '../src/editors/elder/codebook.js';
import { checkPreset, type ElderSettings, elderConfig, settingsOf } from '../src/editors/elder/config.js';
import { ElderEditor } from '../src/editors/elder/editor.js';
import type { SubjectGateConfig } from '../src/editors/elder/gates/subject-gate.js';
import { ELDER_PRESETS, PRESETS, type PresetSettings } from '../src/editors/elder/presets.js';
import { StateError } from '../src/editors/elder/store/errors.js';
import { ElderState, retractEdit, StateFiles } from '../src/editors/elder/store/state.js';
import { createEditor } from '../src/editors/registry.js';
import { padBatch } from '../src/models/batch.js';
import { generate } from '../src/models/generate.js';
import { loadModel } from '../src/models/load.js';
import { noGrad } from '../src/tensor/tensor.js';
import { UsageError } from '../src/util/errors.js';
import { cli, tinyGpt2Dir } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-editor-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const { model, tokenizer } = loadModel(tinyGpt2Dir);
const tok = tokenizer!;

/**
 * Settings for the random-weight fixture model: the paper's lr 1e-4 is tuned for
 * pretrained models, where a small change flips an answer; here 50 iterations at
 * lr 1e-2 in one batch make every edit hold.
 */
/**
 * The fixture is a random-weight model: the paper's lr 1e-4 moves nothing in 50
 * iterations, hence lr 1e-2. Blocks 1–3 (of 4) give 12-bit codes; the default
 * for 4 blocks (2–3, 8-bit codes) leaves so little room that no unrelated
 * prompt lands ≥ ε away, and the deferral test would check nothing.
 */
const FIXTURE_TRAINING = { lr: 1e-2, iterations: 50, batchSize: 8, firstBlock: 1, lastBlock: 3 };

const requests: EditRequest[] = [
  { id: 'humphrey', prompt: 'What university did Watts Humphrey attend?', target: 'University of Michigan', rephrases: ['Where did Watts Humphrey study?'] },
  { id: 'kenya', prompt: 'Which country is Mount Kenya in?', target: 'Chile' },
  { id: 'france', prompt: 'The capital of France is', target: 'Rome' },
  { id: 'hamlet', prompt: 'Who wrote Hamlet?', target: 'Charles Dickens' },
  { id: 'messi', prompt: 'Which sport does Lionel Messi play?', target: 'cricket' },
];
const unrelated = [
  'Hello world',
  'The weather today is',
  'Once upon a time',
  'Water boils at',
  'She opened the door and',
  'Bananas are',
  'The train to London',
  'Music makes people',
  'Winter is coming',
  'How many legs does a spider have?',
  'I like to eat',
  'The meeting starts at',
];

function baseLogits(text: string): Float32Array {
  const ids = tok.encode(text);
  return noGrad(() => model.forward(Int32Array.from(ids), 1, ids.length)).data;
}

function editedLogits(state: ElderState, text: string) {
  const ids = tok.encode(text);
  const session = state.editor.session(Int32Array.from([ids.length - 1]));
  const logits = noGrad(() => model.forward(Int32Array.from(ids), 1, ids.length, { hooks: session.hooks('prompt') })).data;
  return { logits, decision: session.decisions[0] };
}

const bytesEqual = (a: Float32Array, b: Float32Array) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

function applyAll(state: ElderState, reqs: EditRequest[]) {
  const edits = expandRequests(reqs).map((e) => tokenizeEdit(tok, model.config, e));
  for (let i = 0; i < edits.length; i += state.config.training.batchSize) state.applyBatch(edits.slice(i, i + state.config.training.batchSize));
  return edits;
}

const stateDir = path.join(tmp, 'state');
const state = ElderState.open(stateDir, model, { modelName: 'tiny-gpt2', overrides: FIXTURE_TRAINING });
const edits = applyAll(state, requests);

test('default blocks: six blocks ending at ~84% of the depth, the query never from the lower half, never block 0', () => {
  assert.deepEqual(defaultBlockRange(48), { firstBlock: 35, lastBlock: 40 });
  assert.deepEqual(defaultBlockRange(32), { firstBlock: 21, lastBlock: 26 });
  assert.deepEqual(defaultBlockRange(24), { firstBlock: 15, lastBlock: 20 });
  // Shallow models: fewer blocks, so the query (one block below the first) comes from the upper half.
  assert.deepEqual(defaultBlockRange(12), { firstBlock: 7, lastBlock: 10 });
  assert.deepEqual(defaultBlockRange(6), { firstBlock: 4, lastBlock: 5 });
  assert.deepEqual(defaultBlockRange(4), { firstBlock: 3, lastBlock: 3 });
  assert.deepEqual(defaultBlockRange(2), { firstBlock: 1, lastBlock: 1 });
  const config = elderConfig({ ...model.config, layers: 48 });
  assert.equal(config.core.epsilon, 12); // the paper's ε for 6 layers × 4 experts
  assert.equal(config.training.iterations, 50);
  // elder's deviations from the paper (each justified in docs/decisions.md).
  assert.deepEqual(
    [
      config.preset,
      config.training.lr,
      config.training.trainRouting,
      config.rehearsal.replay,
      config.rehearsal.freshCodes,
      config.gate.kind,
      config.core.rank,
      config.core.alpha,
      config.training.hiddenNoise,
      config.training.queryNoise,
    ],
    ['elder', 2e-3, 'router', 8, true, 'subject', 64, 64, 0.2, 0.4],
  );
  const gate = config.gate as SubjectGateConfig;
  assert.deepEqual(
    [gate.queryMetric, gate.gateBlock, gate.queryRadius, gate.subjectTest, gate.matchedExperts],
    ['whitened', config.core.firstBlock, 0.55, 'span', true],
  );
  // A rank given alone keeps the scale α/r at 1; an α given with it is kept.
  const rank8 = elderConfig({ ...model.config, layers: 48 }, { rank: 8 }).core;
  assert.deepEqual([rank8.rank, rank8.alpha], [8, 8]);
  const scaled = elderConfig({ ...model.config, layers: 48 }, { rank: 8, alpha: 32 }).core;
  assert.deepEqual([scaled.rank, scaled.alpha], [8, 32]);
  // So does ε follow the code's size when the experts change.
  assert.equal(elderConfig({ ...model.config, layers: 48 }, { experts: 8 }).core.epsilon, 24);
});

test('a preset names settings by their exact names: a misspelled one fails to compile and is refused at load, naming it', () => {
  // @ts-expect-error "rnak" is no setting: the preset's type refuses it.
  const misspelled: PresetSettings = { ...PRESETS.elder.settings, rnak: 64 };
  assert.throws(
    () => checkPreset('elder', misspelled),
    (e: Error) => e instanceof UsageError && /^ELDER preset "elder" sets "rnak", which is not a setting \(settings: preset, gate, site, /.test(e.message),
  );
  assert.throws(() => checkPreset('elder', { ...PRESETS.elder.settings, rank: 0 }), /^UsageError: ELDER rank must be an integer ≥ 1, got 0$/);
  for (const preset of ELDER_PRESETS) assert.doesNotThrow(() => checkPreset(preset, PRESETS[preset].settings));
});

test('settings that cannot work are refused before any training, naming the setting', () => {
  const big = { ...model.config, layers: 48 };
  assert.throws(() => elderConfig(big, { topK: 5 }), /top-k 5 exceeds the 4 experts/);
  // 6 layers × top-2 of 4: two codes differ in at most 24 bits.
  assert.doesNotThrow(() => elderConfig(big, { epsilon: 24 }));
  assert.throws(() => elderConfig(big, { epsilon: 25 }), /epsilon 25 exceeds the largest possible distance between two codes \(24 bits/);
  // Top-1 of 8 experts: at most 2 bits per layer differ.
  assert.throws(() => elderConfig(big, { experts: 8, topK: 1, epsilon: 13 }), /epsilon 13 exceeds .*\(12 bits/);
  assert.throws(() => elderConfig(big, { firstBlock: 0, lastBlock: 5 }), /blocks 0-5 must satisfy 1 ≤ first/);
  assert.throws(() => elderConfig(big, { rank: 0 }), /^UsageError: ELDER rank must be an integer ≥ 1, got 0$/);
  assert.throws(() => elderConfig(big, { lr: Number.NaN }), /ELDER lr must be a finite number > 0, got null/);
  // The gate reads below any expert; its metric is named; whitening needs a query it can factor.
  const first = elderConfig(big).core.firstBlock;
  assert.throws(
    () => elderConfig(big, { gateBlock: first + 1 }),
    new RegExp(`gate block ${first + 1} must be a block from 0 to the first edited block ${first}`),
  );
  assert.throws(() => elderConfig(big, JSON.parse('{"queryMetric": "cosine"}')), /ELDER queryMetric must be one of euclidean, whitened/);
  const wide = { ...big, width: 4096, ffnWidth: 16384 };
  assert.equal((elderConfig(wide).gate as SubjectGateConfig).queryMetric, 'euclidean', 'a query wider than 2,048 defaults to the Euclidean metric');
  assert.throws(() => elderConfig(wide, { queryMetric: 'whitened' }), /"whitened" needs a gate query at most 2048 wide; mlp\.c_fc takes 4096/);
  // A setting nothing reads is refused, never dropped: one of another gate, or none at all.
  assert.throws(
    () => elderConfig(big, { gate: 'code', queryRadius: 0.6 }),
    /ELDER queryRadius is a setting of the subject gate; this configuration's gate is code/,
  );
  assert.throws(() => elderConfig(big, { learningRate: 0.1 } as ElderSettings), /ELDER has no setting "learningRate"/);
  assert.throws(() => elderConfig(big, { scatterShrinkage: 0 }), /ELDER scatterShrinkage must be a finite number > 0, got 0/);
});

test('reliability: every edited prompt (and applied rephrase) answers its target', () => {
  for (const edit of edits) {
    const result = state.editor.predictsTarget(edit.promptIds, edit.targetIds);
    assert.ok(result.correct, `${edit.id}: token accuracy ${result.tokenAccuracy}`);
    assert.equal(result.decision.deferred, false, edit.id);
  }
  const { ids, decision } = state.editor.answer(tok.encode('Which country is Mount Kenya in?'), 2);
  assert.equal(tok.decode(ids).trim().split(/\s+/)[0], 'Chile');
  // The subject gate matched the kenya edit (two edits may share a code; the match names the edit).
  assert.equal(decision.matched, 'kenya');
});

test('deferral: unrelated prompts that defer (code ≥ ε away, or no edit matched) get byte-identical base-model logits', () => {
  let deferredCount = 0;
  for (const text of unrelated) {
    const { logits, decision } = editedLogits(state, text);
    if (!decision.deferred) continue;
    deferredCount++;
    assert.ok(decision.distance >= state.config.core.epsilon || decision.matched === null);
    assert.ok(bytesEqual(logits, baseLogits(text)), text);
  }
  assert.ok(deferredCount >= 1, 'no unrelated prompt deferred: the test would check nothing');
  // Edited prompts are not deferred, and their logits differ from the base model's.
  const edited = editedLogits(state, 'Who wrote Hamlet?');
  assert.equal(edited.decision.deferred, false);
  assert.ok(!bytesEqual(edited.logits, baseLogits('Who wrote Hamlet?')));
});

test('inference sessions: one prompt pass that decides, then decoding steps; a mixed batch gives the deferred sequence the base model exactly', () => {
  const deferredText = unrelated.find((text) => editedLogits(state, text).decision.deferred)!;
  assert.ok(deferredText !== undefined, 'no unrelated prompt defers: the mixed batch would check nothing');
  const editedText = 'Who wrote Hamlet?';
  const prompts = [tok.encode(editedText), tok.encode(deferredText)];
  const batch = padBatch(prompts, padTokenId(model.config));
  const queryRows = Int32Array.from(prompts, (ids, b) => b * batch.steps + ids.length - 1);
  const session = state.editor.session(queryRows);
  assert.equal(session.phase, 'open');
  assert.throws(() => session.hooks('step'), SessionStateError);
  assert.throws(() => session.decisions, SessionStateError);
  const mixed = noGrad(() => model.forward(batch.ids, batch.batch, batch.steps, { hooks: session.hooks('prompt') })).data;
  assert.equal(session.phase, 'decided');
  assert.deepEqual(
    session.decisions.map((d) => d.deferred),
    [false, true],
  );
  // A session serves one batch of inputs: a second prompt pass is refused, not silently routed like the first.
  assert.throws(() => session.hooks('prompt'), /already ran its prompt pass/);

  const base = noGrad(() => model.forward(batch.ids, batch.batch, batch.steps)).data;
  const vocab = model.config.vocabSize;
  const rowsOf = (logits: Float32Array, b: number, length: number) => logits.subarray(b * batch.steps * vocab, (b * batch.steps + length) * vocab);
  const deferredRows = rowsOf(mixed, 1, prompts[1].length);
  assert.ok(
    deferredRows.every((v, i) => v === rowsOf(base, 1, prompts[1].length)[i]),
    'the deferred sequence of a mixed batch is not the base model',
  );
  const alone = editedLogits(state, editedText).logits;
  const editedRows = rowsOf(mixed, 0, prompts[0].length);
  assert.ok(
    editedRows.every((v, i) => Math.abs(v - alone[i]) < 1e-4),
    'the edited sequence of a mixed batch differs from the same prompt alone',
  );
  assert.ok(!bytesEqual(editedRows, rowsOf(base, 0, prompts[0].length)));

  // Generation: the session's prompt hooks on the prompt, its step hooks after; a used session cannot start another generation.
  const generation = state.editor.session(Int32Array.of(prompts[0].length - 1));
  const first = generate(model, prompts[0], { maxTokens: 3, session: generation });
  assert.deepEqual(first.ids, state.editor.answer(prompts[0], 3).ids);
  assert.throws(() => generate(model, prompts[0], { maxTokens: 3, session: generation }), SessionStateError);
});

test('an empty codebook defers everything: the edited model is the base model', () => {
  const empty = ElderState.open(path.join(tmp, 'empty'), model, { modelName: 'tiny-gpt2' });
  for (const text of ['Who wrote Hamlet?', 'Hello world']) {
    const { logits, decision } = editedLogits(empty, text);
    assert.equal(decision.deferred, true);
    assert.ok(bytesEqual(logits, baseLogits(text)));
  }
  empty.close();
});

test('the state reloads with the same weights, codes and answers', () => {
  state.close();
  const reopened = ElderState.open(stateDir, model, { modelName: 'tiny-gpt2' });
  assert.equal(reopened.editor.liveEdits, edits.length);
  for (const edit of edits) assert.ok(reopened.editor.predictsTarget(edit.promptIds, edit.targetIds).correct, edit.id);
  reopened.close();
});

test('retraction: the retracted edit defers to the base model, the others keep working, across reloads', () => {
  retractEdit(stateDir, 'france');
  const reopened = ElderState.open(stateDir, model, { modelName: 'tiny-gpt2' });
  const { logits, decision } = editedLogits(reopened, 'The capital of France is');
  assert.equal(decision.deferred, true);
  assert.ok(bytesEqual(logits, baseLogits('The capital of France is')));
  for (const edit of edits.filter((e) => e.id !== 'france')) assert.ok(reopened.editor.predictsTarget(edit.promptIds, edit.targetIds).correct, edit.id);
  assert.equal(StateFiles.read(stateDir).edits.get('france')!.status, 'retracted');
  assert.throws(() => reopened.retract('france'), /already retracted/);
  assert.throws(() => reopened.retract('nope'), /no edit "nope"/);
  reopened.close();
});

test('bad edit files are rejected whole, with line numbers', () => {
  const text = [
    '{"prompt": "ok", "target": "fine"}',
    '{"prompt": "", "target": "x"}',
    'not json',
    '{"prompt": "a", "target": "b", "colour": 1}',
    '{"id": "dup", "prompt": "a", "target": "b"}',
    '{"id": "dup", "prompt": "a", "target": "b", "rephrases": "nope"}',
    '[1, 2]',
  ].join('\n');
  assert.throws(
    () => parseEditsJsonl(text, 'edits.jsonl'),
    (error: unknown) => {
      assert.ok(error instanceof EditFileError);
      for (const expected of [
        'line 2: "prompt" must be a non-empty string',
        'line 3: not valid JSON',
        'line 4: unknown field "colour"',
        'line 6: "rephrases" must be a list',
        'id "dup" repeats line 5',
        'line 7: expected a JSON object',
      ]) {
        assert.ok(error.message.includes(expected), `missing "${expected}" in ${error.message}`);
      }
      assert.match(error.message, /5 invalid lines, nothing applied/);
      return true;
    },
  );
  assert.throws(() => parseEditsJsonl('\n\n', 'empty.jsonl'), /no edits/);
});

test('a state refuses another base model, a changed fixed setting, and tampered weights', () => {
  const other = loadModel(tinyGpt2Dir).model;
  other.parameters.get('transformer.h.2.mlp.c_fc.weight')!.data[5] += 1e-3;
  assert.throws(
    () => ElderState.open(stateDir, other, { modelName: 'x' }),
    (e: unknown) => e instanceof StateError && /fingerprint mismatch/.test((e as Error).message),
  );
  assert.throws(() => ElderState.open(stateDir, model, { modelName: 'x', overrides: { experts: 8 } }), /created with experts = 4; it cannot change to 8/);
  const files = StateFiles.read(stateDir);
  const weights = path.join(stateDir, files.weights.file);
  const bytes = fs.readFileSync(weights);
  bytes[bytes.length - 1] ^= 1;
  fs.writeFileSync(weights, bytes);
  assert.throws(() => ElderState.open(stateDir, model, { modelName: 'x' }), /checksum mismatch/);
});

test('a damaged state folder is refused, never silently replaced or reinterpreted: lost journal, lost config.json, edited settings', () => {
  const copy = (name: string) => {
    const dir = path.join(tmp, `damaged-${name}`);
    fs.cpSync(stateDir, dir, { recursive: true });
    fs.rmSync(path.join(dir, 'state.lock'), { force: true });
    return dir;
  };
  // Each damage is refused before the weights are read (the previous test flipped a byte in them).
  const applied = [...StateFiles.read(stateDir).edits.keys()];
  assert.ok(applied.length > 0);
  const noJournal = copy('journal');
  fs.rmSync(path.join(noJournal, 'journal.jsonl'));
  assert.throws(() => ElderState.open(noJournal, model, { modelName: 'x' }), /journal\.jsonl is missing/);
  const noConfig = copy('config');
  fs.rmSync(path.join(noConfig, 'config.json'));
  assert.throws(() => ElderState.open(noConfig, model, { modelName: 'x' }), /config\.json is missing, but the folder holds a state's journal/);
  assert.equal(fs.existsSync(path.join(noConfig, 'config.json')), false, 'no new state was started over the old one');
  const edited = copy('settings');
  const configFile = path.join(edited, 'config.json');
  fs.writeFileSync(configFile, fs.readFileSync(configFile, 'utf8').replace('"topK": 2', '"topK": 3'));
  assert.throws(() => StateFiles.read(edited), /config\.json: checksum mismatch/);
  // A state written before format version 2 (no seal, a journal only once something was applied) still reads.
  const older = copy('version-1');
  const { sha256: _seal, ...unsealed } = JSON.parse(fs.readFileSync(path.join(older, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(older, 'config.json'), JSON.stringify({ ...unsealed, version: 1 }, null, 2));
  assert.deepEqual([...StateFiles.read(older).edits.keys()], applied);
});

test('an older state reads: block indices under their former names, and the Euclidean gate at the router query it was made with', () => {
  const dir = path.join(tmp, 'gate-before-metric');
  ElderState.open(dir, model, { modelName: 'x' }).close();
  const file = path.join(dir, 'config.json');
  const { sha256: _seal, ...unsealed } = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.equal(unsealed.version, 3, 'a new state stores its configuration by component');
  assert.equal(unsealed.elder.gate.queryMetric, 'whitened', 'a new state measures whitened distance');
  assert.equal(unsealed.elder.gate.gateBlock, unsealed.elder.core.firstBlock, 'a new state reads the gate query at the first edited block');
  // Versions 1 and 2 stored one flat object, without the settings that came later.
  const { queryMetric: _metric, gateBlock: _gateBlock, queryRadius: _radius, firstBlock, lastBlock, subjectBlock, ...rest } = settingsOf(unsealed.elder);
  const before = { ...rest, firstLayer: firstBlock, lastLayer: lastBlock, subjectLayer: subjectBlock };
  fs.writeFileSync(file, JSON.stringify({ ...unsealed, elder: before, version: 1 }, null, 2));
  const reopened = ElderState.open(dir, model, { modelName: 'x' });
  try {
    const { core, gate } = reopened.editor.config;
    assert.ok(gate.kind === 'subject');
    assert.deepEqual([core.firstBlock, core.lastBlock, gate.subjectBlock], [firstBlock, lastBlock, subjectBlock]);
    assert.equal('firstLayer' in core, false);
    assert.equal(gate.queryMetric, 'euclidean');
    assert.equal(gate.gateBlock, core.firstBlock - 1);
    assert.equal(gate.queryRadius, 0.4);
  } finally {
    reopened.close();
  }
});

test('codebook: Hamming distance, nearest code and removal', () => {
  const a = encodeCode(
    [
      [0, 3],
      [1, 2],
    ],
    4,
  );
  const b = encodeCode(
    [
      [0, 2],
      [1, 2],
    ],
    4,
  );
  assert.equal(hamming(a, b), 2);
  assert.deepEqual(decodeCode(a, 2, 4), [
    [0, 3],
    [1, 2],
  ]);
  const wide = new Codebook(2);
  const code = (bits: number[]) => {
    const words = new Uint32Array(2);
    for (const bit of bits) words[bit >>> 5] |= 1 << (bit & 31);
    return words;
  };
  wide.add('x', code([1, 40]));
  wide.add('y', code([1, 2, 33]));
  wide.add('z', code([60]));
  assert.deepEqual(wide.nearest(code([1, 41])), { distance: 2, id: 'x' });
  assert.ok(wide.remove('x'));
  assert.deepEqual(wide.nearest(code([1, 2, 41])), { distance: 2, id: 'y' });
  assert.deepEqual(wide.get('z'), code([60]));
  assert.equal(new Codebook(1).nearest(new Uint32Array(1)).distance, Infinity);
});

test('elder edit says whether each edit holds, with the answer it read, re-checks earlier edits, and the state keeps the latest check', () => {
  const dir = path.join(tmp, 'holds');
  const file = path.join(tmp, 'holds.jsonl');
  // elder-facts with ELDER's defaults: realistic edits whose answers a person can read.
  const run = (lines: EditRequest[], extra: string[]) => {
    fs.writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const result = spawnSync(process.execPath, [cli, 'edit', '--state', dir, '--edits', file, '--batch', '2', ...extra], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    return result.stdout;
  };
  const capital = (id: string, country: string, city: string): EditRequest => ({ id, prompt: `The capital of ${country} is`, target: city, subject: country });
  // One iteration at a tiny lr changes nothing: the edits are applied but do not hold, and say what the model answers.
  const weak = run([capital('kenya', 'Kenya', 'Mombasa'), capital('france', 'France', 'Lyon')], ['--iters', '1', '--lr', '1e-6']);
  assert.match(weak, /^applied kenya experts \S+ does not hold \(the edited model does not answer with its target cleanly\): " Nairobi\."$/m);
  assert.match(weak, /^applied france experts \S+ does not hold \(the edited model does not answer with its target cleanly\): " Paris\."$/m);
  assert.match(weak, /^2 edits applied, 0 of them hold;/m);
  // A batch at the default training settings holds, its answers end cleanly; the earlier edits are re-checked on the new weights.
  const strong = run([capital('japan', 'Japan', 'Osaka'), capital('germany', 'Germany', 'Hamburg')], ['--iters', '50', '--lr', '2e-3']);
  assert.match(strong, /^applied japan experts \S+ holds: " Osaka\."$/m);
  assert.match(strong, /^applied germany experts \S+ holds: " Hamburg\."$/m);
  assert.match(strong, /^rechecked 2 earlier edits: \d hold/m);
  const listing = spawnSync(process.execPath, [cli, 'state', '--state', dir, '--json'], { encoding: 'utf8' });
  const edits = new Map(
    (
      JSON.parse(listing.stdout) as { edits: Array<{ id: string; holds?: boolean; answer?: string; checkedGeneration?: number; checkedAt?: string }> }
    ).edits.map((e) => [e.id, e]),
  );
  assert.deepEqual([edits.get('japan')!.holds, edits.get('japan')!.answer, edits.get('japan')!.checkedGeneration], [true, ' Osaka.', 2]);
  // kenya's latest check is the re-check on generation 2.
  assert.equal(edits.get('kenya')!.checkedGeneration, 2);
  assert.equal(typeof edits.get('kenya')!.holds, 'boolean');
  const text = spawnSync(process.execPath, [cli, 'state', '--state', dir], { encoding: 'utf8' }).stdout;
  assert.match(text, /^holds {6}\d applied edits held at their latest check, \d did not, 0 never checked$/m);
  assert.match(text, /^japan +applied +yes \(gen 2\) .*"The capital of Japan is" → "Osaka": " Osaka\."$/m);
});

test('replaying earlier edits keeps them: 12 edits in batches of 2 hold with replay, the paper loop forgets most', () => {
  const subjects = ['Paris', 'Tokyo', 'Einstein', 'Mozart', 'Mars', 'Python', 'Everest', 'Picasso', 'Newton', 'Lisbon', 'Chopin', 'Venus'];
  const colours = ['red', 'blue', 'green', 'yellow', 'black', 'white', 'pink', 'brown', 'gray', 'orange', 'purple', 'gold'];
  const stream = subjects.map((s, i) => tokenizeEdit(tok, model.config, { id: s, label: s, prompt: `Tell me about ${s} and`, target: colours[i] }));
  const held = (replay: number) => {
    const editor = new ElderEditor(model, elderConfig(model.config, { preset: 'paper', ...FIXTURE_TRAINING, batchSize: 2, replay }));
    for (let i = 0; i < stream.length; i += 2) editor.applyBatch(stream.slice(i, i + 2));
    assert.equal(editor.rememberedEdits, stream.length);
    return stream.filter((e) => editor.predictsTarget(e.promptIds, e.targetIds).correct).length;
  };
  const paper = held(0);
  const replayed = held(4);
  assert.ok(paper <= 4, `without replay ${paper} of 12 hold`);
  assert.ok(replayed >= 11, `with replay ${replayed} of 12 hold`);
});

test('the replay memory comes back from the journal on reopen, and a retracted edit leaves it', () => {
  const dir = path.join(tmp, 'replay-state');
  const opened = ElderState.open(dir, model, { modelName: 'tiny-gpt2', overrides: { ...FIXTURE_TRAINING, batchSize: 2, replay: 2 } });
  const stream = expandRequests(requests).map((e) => tokenizeEdit(tok, model.config, e));
  for (let i = 0; i < 4; i += 2) opened.applyBatch(stream.slice(i, i + 2));
  const remembered = opened.editor.rememberedIds().map((id) => opened.editor.remembered(id)!);
  opened.close();
  const reopened = ElderState.open(dir, model, { modelName: 'tiny-gpt2' });
  assert.deepEqual(
    reopened.editor.rememberedIds(),
    remembered.map((m) => m.id),
  );
  for (const memory of remembered) {
    const again = reopened.editor.remembered(memory.id)!;
    assert.deepEqual([again.promptIds, again.targetIds, again.label], [memory.promptIds, memory.targetIds, memory.label]);
    assert.ok(bytesEqual(again.hidden, memory.hidden) && bytesEqual(again.query, memory.query), `${memory.id}: recomputed frozen pass differs`);
  }
  reopened.retract(remembered[0].id);
  assert.equal(reopened.editor.remembered(remembered[0].id), undefined);
  assert.equal(reopened.editor.isLive(remembered[0].id), false);
  reopened.close();
});

test('training stores nothing, and a commit that fails leaves the editor as it was: weights, allocations, codes and memory', () => {
  const dir = path.join(tmp, 'failed-commit');
  const opened = ElderState.open(dir, model, { modelName: 'tiny-gpt2', overrides: { ...FIXTURE_TRAINING, iterations: 5, batchSize: 2, replay: 2 } });
  const stream = expandRequests(requests).map((e) => tokenizeEdit(tok, model.config, e));
  opened.applyBatch(stream.slice(0, 2));
  const before = opened.editor.snapshot();
  const batch = stream.slice(2, 4);

  // Training alone draws the new labels' allocations (two labels of one batch, two different ones) but keeps none of them.
  const trained = opened.editor.train(batch);
  assert.deepEqual(
    [...trained.allocations.keys()],
    batch.map((e) => e.label),
  );
  const [first, second] = [...trained.allocations.values()];
  assert.notDeepEqual(first, second);
  for (const edit of batch) assert.equal(opened.editor.allocationOf(edit.label), undefined, `${edit.label} stored by training`);
  assert.deepEqual(opened.editor.snapshot().allocations, before.allocations);
  assert.deepEqual(opened.editor.draftAllocations(batch.map((e) => e.label)), trained.allocations, 'drawn again, the same allocations');
  opened.editor.loadWeights(before.weights, 'test');

  // The next weights file cannot be written: the commit fails, and nothing of the batch stays.
  fs.mkdirSync(path.join(dir, 'adapters-000002.safetensors'));
  assert.throws(() => opened.applyBatch(batch));
  const after = opened.editor.snapshot();
  assert.deepEqual(after.allocations, before.allocations);
  assert.deepEqual(after.codes, before.codes);
  assert.deepEqual(after.memory, before.memory);
  for (const [name, tensor] of before.weights) assert.ok(bytesEqual(after.weights.get(name)!.data, tensor.data), `${name} not put back`);
  assert.deepEqual(
    [...opened.files.edits.keys()],
    stream.slice(0, 2).map((e) => e.id),
  );

  // Once the file can be written, the same batch commits with the allocations it drew before.
  fs.rmdirSync(path.join(dir, 'adapters-000002.safetensors'));
  const record = opened.applyBatch(batch);
  assert.deepEqual(
    record.edits.map((e) => e.allocation),
    [first, second],
  );
  for (const edit of batch) assert.deepEqual(opened.editor.allocationOf(edit.label), trained.allocations.get(edit.label));
  opened.close();
});

test('training noise on the router query and the hidden states: seeded (the same batch trains the same twice), and each changes training', () => {
  const stream = expandRequests(requests.slice(0, 2)).map((e) => tokenizeEdit(tok, model.config, e));
  const trainWith = (settings: ElderSettings) => {
    const editor = new ElderEditor(model, elderConfig(model.config, { ...FIXTURE_TRAINING, iterations: 5, replay: 0, ...settings }));
    editor.train(stream);
    return editor.snapshot().weights;
  };
  const same = (a: ReturnType<typeof trainWith>, b: ReturnType<typeof trainWith>) => [...a].every(([name, t]) => bytesEqual(t.data, b.get(name)!.data));
  const plain = trainWith({ queryNoise: 0, hiddenNoise: 0 });
  for (const noise of [
    { queryNoise: 0.2, hiddenNoise: 0 },
    { queryNoise: 0, hiddenNoise: 0.2 },
  ]) {
    const noisy = trainWith(noise);
    assert.ok(same(noisy, trainWith(noise)), `${JSON.stringify(noise)}: seeded`);
    assert.ok(!same(noisy, plain), `${JSON.stringify(noise)}: changes training`);
  }
  assert.throws(() => elderConfig(model.config, { hiddenNoise: -1 }), /ELDER hiddenNoise must be a finite number ≥ 0, got -1/);
});

test('the paper preset is the paper algorithm: six blocks ending at 84% depth, router top-k while training, no replay, codes as their batch left them, lr 1e-4', () => {
  const big = { ...model.config, layers: 48 };
  const paper = elderConfig(big, { preset: 'paper' });
  const { core, training, rehearsal } = paper;
  assert.deepEqual(
    [
      paper.preset,
      core.firstBlock,
      core.lastBlock,
      core.experts,
      core.rank,
      core.topK,
      core.lambda,
      core.epsilon,
      training.lr,
      training.iterations,
      training.batchSize,
      training.trainRouting,
      rehearsal.replay,
      rehearsal.freshCodes,
      paper.gate.kind,
      training.hiddenNoise,
      training.queryNoise,
    ],
    ['paper', 35, 40, 4, 8, 2, 1e-2, 12, 1e-4, 50, 4, 'router', 0, false, 'code', 0, 0],
  );
  // A 6-block model: the paper's rule edits blocks 1–5 (query from block 0); elder's default keeps the query in the upper half.
  assert.deepEqual(paperBlockRange(6), { firstBlock: 1, lastBlock: 5 });
  const small = { ...model.config, layers: 6 };
  const smallPaper = elderConfig(small, { preset: 'paper' }).core;
  assert.deepEqual([smallPaper.firstBlock, smallPaper.epsilon], [1, 10]);
  assert.equal(elderConfig(small, { preset: 'paper', lr: 0.01 }).training.lr, 0.01);
  assert.throws(() => elderConfig(small, { preset: 'fast' as 'paper' }), /preset must be one of elder, paper/);
  const { editor, config } = createEditor('elder-paper', model);
  assert.equal((config as { preset: string }).preset, 'paper');
  assert.equal((editor as ElderEditor).method, 'elder-paper');
  assert.equal((createEditor('elder', model).editor as ElderEditor).method, 'elder');
});

test('fresh codes: after every batch each live edit stores the code the routers give its query now, also after reopening', () => {
  const dir = path.join(tmp, 'fresh-codes');
  const opened = ElderState.open(dir, model, { modelName: 'tiny-gpt2', overrides: { ...FIXTURE_TRAINING, batchSize: 2, freshCodes: true } });
  const stream = expandRequests(requests).map((e) => tokenizeEdit(tok, model.config, e));
  for (let i = 0; i < stream.length; i += 2) opened.applyBatch(stream.slice(i, i + 2));
  const current = (editor: ElderEditor) => stream.map((e) => Array.from(editor.codesOf([e.promptIds])[0]));
  const stored = (editor: ElderEditor) => stream.map((e) => Array.from(editor.storedCode(e.id)!));
  assert.deepEqual(stored(opened.editor), current(opened.editor));
  assert.equal(opened.editor.diagnose([]).codesStable, 1);
  opened.close();
  const reopened = ElderState.open(dir, model, { modelName: 'tiny-gpt2' });
  assert.equal(reopened.config.rehearsal.freshCodes, true);
  assert.deepEqual(stored(reopened.editor), current(reopened.editor));
  // The preset a state was created from is part of its identity.
  assert.throws(
    () => ElderState.open(dir, model, { modelName: 'x', overrides: { preset: 'paper' } }),
    /created with preset = elder; it cannot change to paper/,
  );
  reopened.close();
});

test('subject gate: an input uses the experts only when it is near an edit twice (its query, and some token at the subject), else it is the base model', () => {
  const dir = path.join(tmp, 'subject-gate');
  const opened = ElderState.open(dir, model, { modelName: 'tiny-gpt2', overrides: { ...FIXTURE_TRAINING, gate: 'subject' } });
  const withSubjects: EditRequest[] = [
    { id: 'france', prompt: 'The capital of France is', target: 'Rome', subject: 'France' },
    { id: 'kenya', prompt: 'Which country is Mount Kenya in?', target: 'Chile', subject: 'Mount Kenya' },
    { id: 'hamlet', prompt: 'Who wrote Hamlet?', target: 'Charles Dickens' },
  ];
  const stream = expandRequests(withSubjects).map((e) => tokenizeEdit(tok, model.config, e));
  assert.equal(stream[0].subjectEnd, tok.encode('The capital of France').length - 1);
  assert.equal(stream[1].subjectEnd, tok.encode('Which country is Mount Kenya').length - 1);
  assert.equal(stream[2].subjectEnd, undefined);
  opened.applyBatch(stream);
  for (const edit of stream) {
    const result = opened.editor.predictsTarget(edit.promptIds, edit.targetIds);
    assert.equal(result.decision.matched, edit.id);
    assert.equal(result.decision.deferred, false);
    assert.ok(result.correct, edit.id);
    // A matched input runs through its matched edit's experts (matchedExperts, on by default).
    const stored = decodeCode(opened.editor.storedCode(edit.id)!, opened.editor.editedBlocks.length, opened.config.core.experts);
    assert.deepEqual(
      result.decision.experts.map((experts) => [...experts].sort()),
      stored,
      edit.id,
    );
  }
  // Same template, another subject: no token is near France's key, so the base model answers, bit for bit.
  for (const text of ['The capital of Spain is', 'Which country is Mount Fuji in?', 'Hello world']) {
    const { logits, decision } = editedLogits(opened, text);
    assert.equal(decision.matched, null, text);
    assert.equal(decision.deferred, true, text);
    assert.ok(bytesEqual(logits, baseLogits(text)), text);
  }
  const keys = stream.map((e) => opened.editor.remembered(e.id)!.keys.subjectKey);
  const gateQueries = stream.map((e) => opened.editor.remembered(e.id)!.keys.gateQuery!);
  opened.close();
  // The subject position is journaled; the keys are recomputed on opening, identical.
  const reopened = ElderState.open(dir, model, { modelName: 'tiny-gpt2' });
  assert.equal(reopened.config.gate.kind, 'subject');
  stream.forEach((e, i) => {
    const key = reopened.editor.remembered(e.id)!.keys.subjectKey;
    assert.ok(key === null ? keys[i] === null : keys[i] !== null && bytesEqual(key, keys[i]!), e.id);
    assert.ok(bytesEqual(reopened.editor.remembered(e.id)!.keys.gateQuery!, gateQueries[i]), `${e.id}: gate query recomputed identically`);
  });
  assert.equal(editedLogits(reopened, 'The capital of France is').decision.matched, 'france');
  reopened.close();
  // A subject the prompt does not contain is a bad edit line.
  assert.throws(
    () => parseEditsJsonl('{"prompt": "The capital of France is", "target": "Rome", "subject": "Spain"}\n', 'e.jsonl'),
    /line 1: subject "Spain" does not occur in the prompt/,
  );
});

test("the span subject test: the journal keeps the subject's span and its tokens alone, the keys come back identical, and the test is selectable per run", () => {
  const dir = path.join(tmp, 'span-gate');
  const opened = ElderState.open(dir, model, {
    modelName: 'tiny-gpt2',
    overrides: { ...FIXTURE_TRAINING, gate: 'subject', subjectTest: 'span' },
  });
  const stream = expandRequests([
    { id: 'kenya', prompt: 'Which country is Mount Kenya in?', target: 'Chile', subject: 'Mount Kenya' },
    { id: 'hamlet', prompt: 'Who wrote Hamlet?', target: 'Charles Dickens' },
  ]).map((e) => tokenizeEdit(tok, model.config, e));
  const record = opened.applyBatch(stream);
  const kenya = record.edits[0];
  assert.deepEqual([kenya.subjectStart, kenya.subjectEnd], [tok.encode('Which country is').length, tok.encode('Which country is Mount Kenya').length - 1]);
  assert.deepEqual(kenya.subjectIds, tok.encode('Mount Kenya'));
  assert.equal(record.edits[1].subjectIds, undefined, 'an edit without a subject keeps none');
  const width = model.config.width;
  const keys = opened.editor.remembered('kenya')!.keys;
  assert.equal(keys.subjectSpan!.length, 2 * width, 'both subject tokens, as in the prompt');
  assert.equal(keys.subjectOpening!.length, tok.encode('Mount Kenya').length * width, 'and as opening words');
  assert.ok(bytesEqual(keys.subjectSpan!.subarray(width), keys.subjectKey!), "the span ends at the subject's last token");
  for (const text of ['Which country is Mount Kenya in?', 'Who wrote Hamlet?'])
    assert.notEqual(editedLogits(opened, text).decision.matched, null, `${text}: its own prompt matches`);
  for (const text of ['Which country is Mount Fuji in?', 'Hello world']) assert.equal(editedLogits(opened, text).decision.matched, null, text);
  opened.close();
  const reopened = ElderState.open(dir, model, { modelName: 'tiny-gpt2' });
  const again = reopened.editor.remembered('kenya')!.keys;
  assert.ok(bytesEqual(again.subjectSpan!, keys.subjectSpan!) && bytesEqual(again.subjectOpening!, keys.subjectOpening!), 'recomputed identically');
  assert.ok(reopened.config.gate.kind === 'subject' && reopened.config.gate.subjectTest === 'span');
  reopened.close();
  // The test is a per-run setting: the same folder opens with the last-token test.
  const lastToken = ElderState.open(dir, model, { modelName: 'tiny-gpt2', overrides: { subjectTest: 'last-token' } });
  assert.ok(lastToken.config.gate.kind === 'subject' && lastToken.config.gate.subjectTest === 'last-token');
  assert.equal(editedLogits(lastToken, 'Which country is Mount Kenya in?').decision.matched, 'kenya');
  lastToken.close();
});
