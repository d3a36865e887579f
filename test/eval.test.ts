import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { GraceEditor } from '../src/editors/baselines/grace.js';
import { scoreTargets } from '../src/editors/common/scoring.js';
import { type TokenizedEdit, tokenizeEdit } from '../src/editors/edit.js';
import { EditFileError } from '../src/editors/edits-file.js';
import { loadBalanceLoss } from '../src/editors/elder/balance-loss.js';
import type { ElderConfig } from '../src/editors/elder/config.js';
import { createEditor, type MethodName } from '../src/editors/registry.js';
import { readDataset } from '../src/eval/datasets.js';
import { greedyContinuations } from '../src/eval/metrics.js';
import { buildStream } from '../src/eval/protocol.js';
import { distanceChart } from '../src/eval/report.js';
import { type BenchOptions, runBenchmark } from '../src/eval/runner.js';
import { loadModel } from '../src/models/load.js';
import { softmax } from '../src/tensor/ops/softmax.js';
import { noGrad, Tensor } from '../src/tensor/tensor.js';
import { UsageError } from '../src/util/errors.js';
import { Random } from '../src/util/random.js';
import { gradCheck, hasShared, repoRoot, tinyGpt2Dir } from './helpers.js';

function tempFile(name: string, content: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-eval-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

test('ZsRE records (string and list rephrasings) and COUNTERFACT records read into one shape', () => {
  const zsre = tempFile(
    'zsre.json',
    JSON.stringify([
      {
        case_id: 7,
        src: 'What is the capital of X?',
        alt: 'Y',
        answers: ['Z'],
        rephrase: 'Capital of X?',
        loc: 'nq question: who wrote it',
        loc_ans: 'someone',
      },
      { src: 'Q2?', answers: ['A2'], rephrase: ['R1', 'R2'] },
    ]),
  );
  const { format, records } = readDataset(zsre);
  assert.equal(format, 'zsre');
  assert.deepEqual(records[0], {
    id: 'zsre-7',
    prompt: 'What is the capital of X?',
    target: 'Y',
    rephrases: ['Capital of X?'],
    locality: [{ prompt: 'who wrote it', answer: 'someone' }],
  });
  assert.deepEqual(records[1], { id: 'zsre-2', prompt: 'Q2?', target: 'A2', rephrases: ['R1', 'R2'], locality: [] });

  const counterfact = tempFile(
    'cf.json',
    JSON.stringify([
      {
        case_id: 0,
        requested_rewrite: {
          prompt: 'The mother tongue of {} is',
          subject: 'Danielle Darrieux',
          target_new: { str: 'English' },
          target_true: { str: 'French' },
        },
        paraphrase_prompts: ['Danielle Darrieux spoke'],
        neighborhood_prompts: ['The native language of Léon Blum is'],
      },
    ]),
  );
  assert.deepEqual(readDataset(counterfact).records[0], {
    id: 'cf-0',
    prompt: 'The mother tongue of Danielle Darrieux is',
    target: 'English',
    rephrases: ['Danielle Darrieux spoke'],
    locality: [{ prompt: 'The native language of Léon Blum is', answer: 'French' }],
    trueTarget: 'French',
    subject: 'Danielle Darrieux',
  });
});

test('bad dataset records are named by their position', () => {
  assert.throws(
    () => readDataset(tempFile('a.jsonl', '{"prompt": "p", "target": "t"}\n{"prompt": "p2", "target": 3}\n')),
    (e: Error) => e instanceof EditFileError && /record 2: "target" must be a non-empty string/.test(e.message),
  );
  assert.throws(
    () => readDataset(tempFile('b.jsonl', '{"prompt": "p", "target": "t"}\nnot json\n')),
    (e: Error) => e instanceof EditFileError && /b\.jsonl:2: not valid JSON/.test(e.message),
  );
  assert.throws(
    () => readDataset(tempFile('c.json', JSON.stringify([{ requested_rewrite: { prompt: 'no slot', subject: 's', target_new: { str: 'x' } } }]))),
    /record 1: requested_rewrite.prompt has no "\{\}"/,
  );
  assert.throws(() => readDataset(tempFile('d.json', JSON.stringify([{ src: 'q' }]))), /record 1: needs "alt" or a non-empty "answers"/);
  assert.throws(() => readDataset(tempFile('e.json', JSON.stringify([{ foo: 1 }]))), /cannot tell the format/);
});

test('protocol: first ⌈n/2⌉ prompts are edited, the rest held out; records without rephrasings are skipped', () => {
  const records = [
    { id: 'a', prompt: 'pa', target: 't', rephrases: [], locality: [] },
    { id: 'b', prompt: 'pb', target: 't', rephrases: ['b1'], locality: [] },
    { id: 'c', prompt: 'pc', target: 't', rephrases: ['c1', 'c2', 'c3'], locality: [] },
    { id: 'd', prompt: 'pd', target: 't', rephrases: ['d1', 'd2'], locality: [] },
  ];
  const { stream, skipped } = buildStream(records, 2);
  assert.equal(skipped, 1);
  assert.deepEqual(
    stream.map((r) => [r.edits.map((e) => e.prompt), r.heldOut]),
    [
      [['pb'], ['b1']],
      [
        ['pc', 'c1'],
        ['c2', 'c3'],
      ],
    ],
  );
  assert.deepEqual(
    stream[1].edits.map((e) => [e.id, e.label]),
    [
      ['c', 'c'],
      ['c#1', 'c'],
    ],
  );
  assert.equal(buildStream(records, 10).stream[2].edits.length, 2);
});

test('the load-balancing loss has the gradient finite differences give', () => {
  const rng = new Random(3);
  const logits = Tensor.from(
    Array.from({ length: 12 }, () => rng.normal()),
    [3, 4],
    true,
  );
  const selection = Int32Array.from([0, 1, 0, 2, 3, 1]);
  const worst = gradCheck(([x]) => loadBalanceLoss(softmax(x), selection, 2), [logits], { eps: 1e-3 });
  assert.ok(worst <= 1, `gradient mismatch ${worst}`);
  // Uniform load and uniform scores give the minimum N·Σ (1/N)(1/N) = 1.
  const uniform = Tensor.from(new Array(8).fill(0.25), [2, 4]);
  assert.ok(Math.abs(loadBalanceLoss(uniform, Int32Array.from([0, 1, 2, 3]), 2).item() - 1) < 1e-6);
});

test('every method edits the fixture, writes base weights only through its ledger, and keeps its own invariant', { skip: !hasShared }, () => {
  const { model, tokenizer } = loadModel(tinyGpt2Dir);
  const baseWeights = new Map([...model.parameters].map(([name, t]) => [name, t.data.slice()]));
  const edit = (id: string, prompt: string, target: string): TokenizedEdit => tokenizeEdit(tokenizer!, model.config, { id, label: id, prompt, target });
  const edits = [edit('a', 'The Eiffel Tower is in', 'Rome'), edit('b', 'Lionel Messi plays', 'cricket')];
  const unrelated = edit('u', 'A completely different question about rivers:', 'water');
  const fast = { lr: 1e-2, iterations: 40 };
  const settings = {
    elder: fast,
    'elder-noguide': fast,
    'elder-balance': fast,
    lora: fast,
    melo: fast,
    'ft-l': fast,
    't-patcher': { lr: 0.1, iterations: 60 },
    grace: { lr: 0.1, iterations: 60 },
  };
  const baseUnrelated = noGrad(() => model.forward(Int32Array.from(unrelated.promptIds), 1, unrelated.promptIds.length).data.slice());

  for (const method of ['elder', 'grace', 'melo', 'ft-l', 'lora', 't-patcher', 'elder-noguide', 'elder-balance'] as MethodName[]) {
    const { editor } = createEditor(method, model, settings);
    const before = scoreTargets(model, editor, edits);
    editor.applyBatch(edits);
    const after = scoreTargets(model, editor, edits);
    assert.ok(after.tokenAccuracy.reduce((a, b) => a + b) > before.tokenAccuracy.reduce((a, b) => a + b), `${method} changed nothing`);
    assert.ok(after.correct.every(Boolean), `${method}: edited prompts not all answered (${after.tokenAccuracy})`);
    assert.ok(editor.addedParameters() > 0);
    // A method writes base weights only through its ledger, which puts them back bit for bit.
    const written = editor.baseWeightEdits?.written ?? [];
    assert.equal(written.length > 0, method === 'ft-l', `${method} wrote base weights ${written.join(', ')}`);
    for (const name of written) assert.notDeepEqual(model.parameters.get(name)!.data, baseWeights.get(name), `${method} lists ${name} but left it as it was`);
    editor.baseWeightEdits?.restore();
    for (const [name, data] of baseWeights) assert.deepEqual(model.parameters.get(name)!.data, data, `${method} changed base weight ${name} for good`);

    if (method === 'grace' || method === 'melo' || method === 't-patcher') {
      // Key–value methods (and T-Patcher's neurons, when none fires): an input outside every radius runs the untouched model, bit for bit.
      const hooks = editor.session(Int32Array.of(unrelated.promptIds.length - 1)).hooks('prompt');
      const logits = noGrad(() => model.forward(Int32Array.from(unrelated.promptIds), 1, unrelated.promptIds.length, { hooks }).data);
      assert.deepEqual(logits, baseUnrelated, `${method} changed an input outside its radius`);
    }
  }
});

test('GRACE splits radii when a conflicting label lands inside an entry and expands them for the same label', { skip: !hasShared }, () => {
  const { model, tokenizer } = loadModel(tinyGpt2Dir);
  const { editor } = createEditor('grace', model, { grace: { epsInit: 1000, iterations: 2 } });
  const grace = editor as GraceEditor;
  const edit = (id: string, prompt: string, target: string) => tokenizeEdit(tokenizer!, model.config, { id, label: id, prompt, target });
  grace.applyBatch([edit('a', 'The Eiffel Tower is in', 'Rome')]);
  assert.equal(grace.entries.length, 1);
  assert.equal(grace.entries[0].radius, 1000);
  grace.applyBatch([edit('b', 'The Eiffel Tower stands in', 'Rome')]);
  assert.equal(grace.entries.length, 1, 'same label inside the radius: no new entry');
  grace.applyBatch([edit('c', 'The Eiffel Tower lies in', 'Paris')]);
  assert.equal(grace.entries.length, 2, 'conflicting label: a new entry');
  assert.ok(Math.abs(grace.entries[0].radius - grace.entries[1].radius) < 1e-9 && grace.entries[0].radius < 1000, 'both radii become half the distance');
});

test('bench-edit: complete report, resume keeps finished methods, bad data and changed settings refused', { skip: !hasShared }, () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-bench-'));
  const data = path.join(repoRoot, 'bench/data/edits-small.jsonl');
  const options: BenchOptions = {
    modelDir: tinyGpt2Dir,
    dataFile: data,
    edits: 3,
    methods: ['lora'],
    seed: 1,
    outDir: out,
    batchSize: 4,
    evalEvery: 2,
    settings: { lora: { lr: 1e-2, iterations: 5 }, 'ft-l': { lr: 1e-2, iterations: 5 }, elder: { lr: 1e-2, iterations: 5 } },
    localityTokens: 4,
  };
  const lines: string[] = [];
  const first = runBenchmark(options, (line) => lines.push(line));
  assert.equal(first.methods[0].method, 'lora');
  assert.equal(first.data.editPrompts, 5); // eiffel 2 of 3 prompts, hamlet 1 of 2, messi 2 of 3
  assert.equal(first.data.heldOutPrompts, 3);
  assert.deepEqual(
    first.methods[0].retention.map((p) => p.edits),
    [4, 5],
  );

  const second = runBenchmark({ ...options, methods: ['lora', 'ft-l', 'elder'] }, (line) => lines.push(line));
  assert.ok(lines.some((l) => /lora: finished in an earlier run/.test(l)));
  assert.deepEqual(second.methods[0], JSON.parse(JSON.stringify(first.methods[0])));
  assert.deepEqual(
    second.methods.map((m) => m.method),
    ['lora', 'ft-l', 'elder'],
  );
  const saved = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
  assert.equal(saved.complete, true);
  assert.ok(saved.methods[2].codeEmbedding.points.length > 0);
  // ELDER reports its routing after every batch (2 batches), and its final code distances.
  const elder = saved.methods[2];
  assert.deepEqual(
    elder.diagnostics.map((d: { edits: number }) => d.edits),
    [4, 5],
  );
  for (const d of elder.diagnostics) assert.ok(d.codesStable >= 0 && d.codesStable <= 1 && d.unrelatedDeferred >= 0 && d.unrelatedDeferred <= 1);
  assert.equal(elder.codeDistances.heldOut.length, 3);
  assert.equal(elder.codeDistances.epsilon, elder.config.core.epsilon);
  assert.equal(saved.methods[0].diagnostics, undefined, 'LoRA does not route');
  // Retention on held-out general text: every method has a perplexity; FT-L, which rewrites a base weight, moves it.
  assert.ok(Number.isFinite(saved.base.perplexity) && saved.base.perplexity > 1, `base perplexity ${saved.base.perplexity}`);
  assert.equal(saved.retentionData.generalTextTokens, 64 * 64, '64 windows of the fixture context (64 tokens)');
  for (const m of saved.methods) assert.ok(Number.isFinite(m.perplexity) && m.perplexity > 1, `${m.method} perplexity ${m.perplexity}`);
  assert.notEqual(saved.methods[1].perplexity, saved.base.perplexity);
  // Early retention follows the first records' edits (here all of them).
  for (const point of saved.methods[0].retention) assert.ok(point.early >= 0 && point.early <= 1);
  assert.match(fs.readFileSync(path.join(out, 'early-edits-retention.svg'), 'utf8'), /<path d="M/);
  assert.match(fs.readFileSync(path.join(out, 'code-distances.svg'), 'utf8'), /ε = \d+/);
  assert.match(fs.readFileSync(path.join(out, 'report.md'), 'utf8'), /\| elder \| [\d.]+ \| [\d.]+ \| \d+ \|/);
  const report = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
  assert.match(report, /\| ft-l \| \d+\.\d \|/);
  assert.match(report, /\| ft-l \| [\d.–]+ \| [-+\d.%–]+ \| \d+\.\d\d \| [-+]\d+\.\d% \|/);
  assert.match(fs.readFileSync(path.join(out, 'reliability-vs-edits.svg'), 'utf8'), /<path d="M/);
  assert.match(fs.readFileSync(path.join(out, 'code-embedding.svg'), 'utf8'), /<circle/);
  // Every method, and the base model, carries what its greedy generations read like; the report has a row for each.
  for (const scores of [saved.base.generation, ...saved.methods.map((m: { generation: Record<string, number> }) => m.generation)] as Record<string, number>[]) {
    for (const key of ['answerRate', 'heldOutAnswerRate', 'fluency', 'repetition'])
      assert.ok(scores[key] >= 0 && (key === 'fluency' || scores[key] <= 1), `${key} ${JSON.stringify(scores)}`);
  }
  assert.match(report, /\| Generation \(greedy, 32 tokens\) \| Answers, edited prompts \|/);
  for (const method of ['base model \\(no edit\\)', 'lora', 'ft-l', 'elder'])
    assert.match(
      report,
      new RegExp(`^\\| ${method} \\| [\\d.]+ \\| [\\d.]+ \\| \\d\\.\\d{3} \\| [-+\\d.%–]+ \\| [\\d.–]+ \\| [-+\\d.%–]+ \\| [\\d.]+ \\|$`, 'm'),
    );

  assert.throws(
    () => runBenchmark({ ...options, seed: 2 }),
    (e: Error) => e instanceof UsageError && /holds a run with other data or settings/.test(e.message),
  );

  const badOut = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-bench-bad-'));
  const bad = tempFile('bad.jsonl', '{"prompt": "p", "target": "t", "rephrases": ["r"]}\n{"prompt": "", "target": "t"}\n');
  assert.throws(() => runBenchmark({ ...options, dataFile: bad, outDir: badOut }), /record 2: "prompt" must be a non-empty string/);
  assert.deepEqual(fs.readdirSync(badOut), []);
  // A locate-then-edit method among the methods refuses the stream's subject-less edits before any method trains.
  assert.throws(
    () => runBenchmark({ ...options, methods: ['lora', 'rome'], outDir: badOut }),
    (e: Error) =>
      e instanceof UsageError && /^edit "eiffel" has no "subject" found in its prompt .*: rome writes an edit at the subject's last token/.test(e.message),
  );
  assert.deepEqual(fs.readdirSync(badOut), []);
});

test('the code-distance plot draws every coded method, one ε line per value naming its methods, and widens to fit the legend', () => {
  const svg = distanceChart([
    { method: 'elder', distances: { epsilon: 4, heldOut: [0, 0, 1], unrelated: [4, 5] } },
    { method: 'elder-paper', distances: { epsilon: 12, heldOut: [2, 2], unrelated: [2, 4, 6] } },
    { method: 'elder-noguide', distances: { epsilon: 4, heldOut: [0], unrelated: [0] } },
  ]);
  for (const name of ['elder: held-out (3)', 'elder-paper: unrelated (3)', 'ε = 4 (elder, elder-noguide)', 'ε = 12 (elder-paper)'])
    assert.ok(svg.includes(`>${name}</text>`), name);
  // The longest legend name (28 characters) fits: 64 + 506 for the axes and plot, 40 + 7 a character for the legend.
  assert.match(svg, /<svg [^>]*width="806"/);
  const single = distanceChart([{ method: 'elder', distances: { epsilon: 4, heldOut: [0], unrelated: [4] } }]);
  assert.ok(single.includes('>elder: distance to the nearest stored code</text>') && single.includes('>ε = 4</text>'));
});

test('bench-edit --merge takes finished methods from runs of the same command side by side; another run or a folder without progress is refused', {
  skip: !hasShared,
}, () => {
  const options = (outDir: string, methods: MethodName[]): BenchOptions => ({
    modelDir: tinyGpt2Dir,
    dataFile: path.join(repoRoot, 'bench/data/edits-small.jsonl'),
    edits: 3,
    methods,
    seed: 1,
    outDir,
    batchSize: 4,
    evalEvery: 4,
    settings: { lora: { lr: 1e-2, iterations: 3 }, 'ft-l': { lr: 1e-2, iterations: 3 } },
    localityTokens: 4,
  });
  const dirs = ['lora', 'ft-l', 'merged'].map((name) => fs.mkdtempSync(path.join(os.tmpdir(), `elder-bench-merge-${name}-`)));
  const lora = runBenchmark(options(dirs[0], ['lora']), () => {}).methods[0];
  const ftl = runBenchmark(options(dirs[1], ['ft-l']), () => {}).methods[0];
  const lines: string[] = [];
  const merged = runBenchmark({ ...options(dirs[2], ['ft-l', 'lora']), mergeFrom: [dirs[0], dirs[1]] }, (line) => lines.push(line));
  // Nothing ran again: both rows are the side-by-side runs' own (timings included), in the order asked for.
  assert.deepEqual(
    merged.methods.map((m) => m.method),
    ['ft-l', 'lora'],
  );
  assert.deepEqual(merged.methods[0], JSON.parse(JSON.stringify(ftl)));
  assert.deepEqual(merged.methods[1], JSON.parse(JSON.stringify(lora)));
  assert.ok(lines.some((l) => l.includes(`lora: taken from ${dirs[0]}`)));
  assert.match(fs.readFileSync(path.join(dirs[2], 'report.md'), 'utf8'), /\| lora \|/);
  // The merged progress is kept, so the merged folder resumes without its sources.
  fs.rmSync(dirs[0], { recursive: true });
  assert.deepEqual(runBenchmark(options(dirs[2], ['lora']), () => {}).methods[0], JSON.parse(JSON.stringify(lora)));
  // A run of other settings, or a folder with no run, is refused before any work.
  const fresh = () => fs.mkdtempSync(path.join(os.tmpdir(), 'elder-bench-merge-fresh-'));
  assert.throws(
    () => runBenchmark({ ...options(fresh(), ['ft-l']), seed: 2, mergeFrom: [dirs[1]] }),
    (e: Error) => e instanceof UsageError && /holds a run with other data or settings; its methods cannot be merged/.test(e.message),
  );
  const empty = fresh();
  assert.throws(
    () => runBenchmark({ ...options(fresh(), ['lora']), mergeFrom: [empty] }),
    (e: Error) => e instanceof UsageError && e.message.includes(`--merge ${empty}: no progress.json`),
  );
});

test('bench-edit splits generalization by whether the base model states the true object in each rephrasing', { skip: !hasShared }, () => {
  const { model, tokenizer } = loadModel(tinyGpt2Dir);
  // One record whose true object is what the fixture itself says after the held-out rephrasing, one whose true object it does not say.
  // (A continuation that opens a word, so that it reads as an answer after the prompt's space.)
  const { knownRephrasing, saidText } = ['The Eiffel Tower stands in the city of', 'The Eiffel Tower is the pride of', 'Paris is the capital of']
    .map((prompt) => ({ knownRephrasing: prompt, saidText: tokenizer!.decode(greedyContinuations(model, null, [tokenizer!.encode(prompt)], 1)[0]) }))
    .find(({ saidText }) => /^ \w/.test(saidText))!;
  const record = (id: number, subject: string, paraphrase: string, targetTrue: string) => ({
    case_id: id,
    requested_rewrite: { prompt: '{} is in', subject, target_new: { str: 'Rome' }, target_true: { str: targetTrue } },
    paraphrase_prompts: [paraphrase],
    neighborhood_prompts: ['The native language of Léon Blum is'],
  });
  const data = tempFile(
    'cf.json',
    JSON.stringify([
      record(0, 'The Eiffel Tower', knownRephrasing, saidText.trim()),
      record(1, 'Big Ben', 'Big Ben stands in the city of', 'Zanzibar Quixotic'),
    ]),
  );
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-bench-split-'));
  const results = runBenchmark(
    {
      modelDir: tinyGpt2Dir,
      dataFile: data,
      edits: 2,
      methods: ['lora'],
      seed: 1,
      outDir: out,
      batchSize: 2,
      evalEvery: 2,
      settings: { lora: { lr: 1e-2, iterations: 3 } },
      localityTokens: 2,
    },
    () => {},
  );
  assert.deepEqual(results.base.heldOutTrue, { prompts: 2, known: 0.5 }, `the fixture says "${saidText}" after the first rephrasing`);
  const lora = results.methods[0];
  // The split's halves average to the whole (one rephrasing each).
  assert.ok(lora.generalizationByBase !== undefined);
  assert.equal((lora.generalizationByBase.known + lora.generalizationByBase.unknown) / 2, lora.generalization);
  assert.match(fs.readFileSync(path.join(out, 'report.md'), 'utf8'), /Rephrasings it answers with the true object \(1\) \| Rephrasings it does not \(1\)/);
});

test('bench-edit --gate-radii measures each radius of ELDER subject gate on the same trained edits; the radius moves only to a positive value', {
  skip: !hasShared,
}, () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-bench-gate-'));
  const options: BenchOptions = {
    modelDir: tinyGpt2Dir,
    dataFile: path.join(repoRoot, 'bench/data/edits-small.jsonl'),
    edits: 3,
    methods: ['lora', 'elder'],
    seed: 1,
    outDir: out,
    batchSize: 4,
    evalEvery: 4,
    settings: { lora: { lr: 1e-2, iterations: 3 }, elder: { lr: 1e-2, iterations: 5 } },
    localityTokens: 4,
    // A radius that admits nothing but the stored queries themselves, and one that admits everything near a subject.
    gateRadii: [1e-9, 1e9],
  };
  const results = runBenchmark(options, () => {});
  const [lora, elder] = results.methods;
  assert.equal(lora.gateSweep, undefined, 'LoRA has no gate');
  assert.deepEqual(
    elder.gateSweep?.map((p) => p.radius),
    [1e-9, 1e9],
  );
  const ranWith = (elder.config as ElderConfig).gate;
  assert.ok(ranWith.kind === 'subject');
  assert.equal(elder.gateRadius, ranWith.queryRadius, 'the radius the method ran with is recorded');
  const [closed] = elder.gateSweep!;
  // Closed: no rephrasing or unrelated prompt reaches an expert, so they read as the base model does.
  assert.equal(closed.locality, 1);
  assert.equal(closed.generalization, results.base.generalization);
  assert.equal(closed.uneditedFacts, results.base.uneditedFacts);
  const report = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
  assert.match(report, /\| elder: gate radius, after the stream \| Rel\. \| Gen\. \| Gen\., understood \| Loc\. \| Unedited facts \| Change \|/);
  // These records name no true object, so the understood split is not measured.
  assert.match(report, /\| 1e-9 \| [\d.]+ \| [\d.]+ \| – \| 100\.0 \|/);
  assert.match(fs.readFileSync(path.join(out, 'gate-tradeoff.svg'), 'utf8'), /generalization/);
  // Changing the radii is another run; bad radii are refused before any work.
  assert.throws(() => runBenchmark({ ...options, gateRadii: [0.5] }), /holds a run with other data or settings/);
  assert.throws(() => runBenchmark({ ...options, outDir: fs.mkdtempSync(path.join(os.tmpdir(), 'elder-bench-gate-bad-')), gateRadii: [0] }), /--gate-radii/);

  const { model } = loadModel(tinyGpt2Dir);
  const { editor, config } = createEditor('elder', model, { elder: { iterations: 1 } }, {});
  const radius = editor.gateRadius!;
  const gate = (config as ElderConfig).gate;
  assert.ok(gate.kind === 'subject');
  assert.equal(radius.value, gate.queryRadius);
  radius.set(0.7);
  assert.equal(editor.gateRadius!.value, 0.7);
  assert.throws(
    () => radius.set(Number.NaN),
    (e: Error) => e instanceof UsageError && /queryRadius/.test(e.message),
  );
  assert.equal(createEditor('elder', model, { elder: { gate: 'code' } }, {}).editor.gateRadius, undefined, 'the code gate has no radius');
});
