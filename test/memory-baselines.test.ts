import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { tokenizeEdit } from '../src/editors/edit.js';
import { createEditor } from '../src/editors/registry.js';
import { readDataset } from '../src/eval/datasets.js';
import { greedyContinuations, scoreTargets } from '../src/eval/metrics.js';
import { buildStream } from '../src/eval/protocol.js';
import { defaultModelDir } from '../src/models/default-model.js';
import { loadModel } from '../src/models/load.js';
import { repoRoot } from './helpers.js';

// On elder-facts and its facts benchmark: the first record's counterfactual edit, and other subjects' facts as locality.
const { model, tokenizer } = loadModel(defaultModelDir());
const tok = tokenizer!;
const dataset = readDataset(path.join(repoRoot, 'bench', 'data', 'facts', 'counterfact.json'), 'counterfact');
const { stream } = buildStream(dataset.records, 1);
const record = stream[0];
const edits = record.edits.map((e) => tokenizeEdit(tok, model.config, e));
const unrelated = record.locality.map((item) => tok.encode(item.prompt));

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
