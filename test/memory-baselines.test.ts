import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { defaultSeracConfig, scopeConfigOf } from '../src/editors/baselines/serac.js';
import { ScopeClassifier, ScopeClassifierError } from '../src/editors/baselines/serac-scope.js';
import type { WiseEditor } from '../src/editors/baselines/wise.js';
import type { EditorResources } from '../src/editors/common/resources.js';
import { scoreTargets } from '../src/editors/common/scoring.js';
import { createEditor } from '../src/editors/registry.js';
import { readDataset } from '../src/eval/datasets.js';
import { greedyContinuations } from '../src/eval/metrics.js';
import { UsageError } from '../src/util/errors.js';
import { factsFirstRecord, repoRoot } from './helpers.js';

// On elder-facts and its facts benchmark: the first record's counterfactual edit, and other subjects' facts as locality.
const { model, tok, edits, unrelated } = factsFirstRecord();

test('T-Patcher on elder-facts: one edit holds in its phrasings, and other facts (same relation, other subjects) keep their answers', () => {
  const { editor } = createEditor('t-patcher', model);
  assert.ok(!scoreTargets(model, editor, edits).correct.some(Boolean), 'the base model already gives the counterfactual target');
  const baseAnswers = greedyContinuations(model, null, unrelated, 4);
  editor.applyBatch(edits);
  assert.equal(editor.addedParameters(), edits.length * (2 * model.config.width + 1));
  const after = scoreTargets(model, editor, edits);
  assert.ok(after.correct.every(Boolean), `edit not held: token accuracy ${after.tokenAccuracy.join(', ')}`);
  assert.deepEqual(greedyContinuations(model, editor, unrelated, 4), baseAnswers, 'an unrelated fact changed');
});

// SERAC's training split: phrasings of 200 records the tests never edit or score.
const trainingPhrasings = (() => {
  const { records } = readDataset(path.join(repoRoot, 'bench', 'data', 'facts', 'counterfact.json'), 'counterfact');
  return records.slice(1000, 1200).map((r) => [r.prompt, ...r.rephrases].map((text) => tok.encode(text)));
})();
const resources: EditorResources = { trainingPhrasings };

// Each takes the record's two edits (prompt and rephrasing) into one SERAC memory or one WISE shard.
for (const [method, taken] of [
  ['serac', edits.length],
  ['wise', edits.length],
] as const) {
  test(`${method} on elder-facts: ${taken === 1 ? 'one edit holds' : "one record's edits hold in their phrasings"}, and other facts (same relation, other subjects) keep their answers`, () => {
    const before = new Map([...model.parameters].map(([name, t]) => [name, t.data.slice()]));
    const { editor } = createEditor(method, model, {}, resources);
    const applied = edits.slice(0, taken);
    assert.ok(!scoreTargets(model, editor, applied).correct.some(Boolean), 'the base model already gives the counterfactual target');
    const baseAnswers = greedyContinuations(model, null, unrelated, 4);
    editor.applyBatch(applied);
    const after = scoreTargets(model, editor, applied);
    assert.ok(after.correct.every(Boolean), `edit not held: token accuracy ${after.tokenAccuracy.join(', ')}`);
    assert.deepEqual(greedyContinuations(model, editor, unrelated, 4), baseAnswers, 'an unrelated fact changed');
    assert.ok(editor.addedParameters() > 0);
    for (const [name, data] of before)
      assert.deepEqual(model.parameters.get(name)!.data, data, `${name} was written: ${method} keeps its edits beside the model`);
  });
}

test('SERAC refuses an untrained scope classifier, and edits once the weights differ from those it was trained on', () => {
  const untrained = new ScopeClassifier(model, scopeConfigOf(defaultSeracConfig(model)));
  assert.throws(
    () => untrained.embed(new Float32Array(untrained.featureWidth)),
    (e: Error) => e instanceof ScopeClassifierError && /untrained/.test(e.message),
  );
  assert.throws(() => untrained.assertCurrent(model), /untrained/);
  const { editor } = createEditor('serac', model, {}, resources);
  const weight = model.parameters.get(`${model.linearName(0, 'mlp.c_fc')}.weight`)!;
  const kept = weight.data[0];
  weight.data[0] += 0.5;
  try {
    assert.throws(
      () => editor.applyBatch(edits),
      (e: Error) => e instanceof ScopeClassifierError && /trained on other weights/.test(e.message),
    );
  } finally {
    weight.data[0] = kept;
  }
  assert.throws(
    () => createEditor('serac', model, {}, {}),
    (e: Error) => e instanceof UsageError && /serac needs phrasings of facts outside the edited ones/.test(e.message),
  );
});

test('SERAC and WISE refuse settings that cannot work before training, each in one line naming the setting', () => {
  assert.throws(
    () => createEditor('serac', model, { serac: { scopeBlock: 7, block: 6 } }, resources),
    /serac\.scopeBlock \(7\) must not exceed serac\.block \(6\)/,
  );
  assert.throws(() => createEditor('serac', model, { serac: { scopeWidth: 0 } }, resources), /serac\.scopeWidth must be a positive integer, got 0/);
  // NaN is refused by the registry's check, before WISE's own: every method's numbers must be finite.
  assert.throws(() => createEditor('wise', model, { wise: { actRatio: Number.NaN } }, resources), /setting wise\.actRatio must be a finite number, got NaN$/);
  assert.throws(() => createEditor('wise', model, { wise: { actRatio: -1 } }, resources), /wise\.actRatio must be a finite non-negative number, got -1/);
  assert.throws(
    () => createEditor('wise', model, { wise: { shardsPerMerge: 10_000_000 } }, resources),
    /wise\.shardsPerMerge 10000000 exceeds the 262144 entries/,
  );
  assert.throws(() => createEditor('wise', model, { wise: { maskRatio: 1.5 } }, resources), /wise\.maskRatio must be in \(0, 1\], got 1\.5/);
  assert.throws(() => createEditor('wise', model, { wise: { block: 9 } }, resources), /wise\.block 9 is not a block of this model/);
});

test('WISE routes an input to the side memory only when its activation distance reaches the threshold; before any edit, none', () => {
  const { editor } = createEditor('wise', model, {}, resources);
  const wise = editor as WiseEditor;
  assert.equal(wise.threshold, Infinity);
  editor.applyBatch(edits.slice(0, 1));
  assert.ok(Number.isFinite(wise.threshold) && wise.threshold > 0);
  assert.equal(wise.threshold, wise.config.actRatio * wise.editActivations[0]);
  const session = editor.session(Int32Array.of(edits[0].promptIds.length - 1));
  model.hiddenStates(Int32Array.from(edits[0].promptIds), 1, edits[0].promptIds.length, { hooks: session.hooks('prompt') });
  assert.deepEqual(session.decision, ['live']);
});

test('WISE serves a saved shard through the merged memory and the live shard untrimmed, each edit by the memory that moves it most', () => {
  const { editor } = createEditor('wise', model, { wise: { shardEdits: 1 } }, resources);
  editor.applyBatch(edits.slice(0, 2));
  const routeOf = (ids: readonly number[]) => {
    const session = editor.session(Int32Array.of(ids.length - 1)) as ReturnType<WiseEditor['session']>;
    model.hiddenStates(Int32Array.from(ids), 1, ids.length, { hooks: session.hooks('prompt') });
    return session.decision[0];
  };
  assert.equal(routeOf(edits[0].promptIds), 'merged', 'the first edit, in the saved shard');
  assert.equal(routeOf(edits[1].promptIds), 'live', 'the second edit, in the live shard');
  assert.ok(scoreTargets(model, editor, edits.slice(0, 2)).correct.every(Boolean), 'both edits hold');
  assert.equal(routeOf(unrelated[0]), 'main', 'an unrelated fact runs the model');
});
