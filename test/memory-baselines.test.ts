import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEditor } from '../src/editors/registry.js';
import { greedyContinuations, scoreTargets } from '../src/eval/metrics.js';
import { factsFirstRecord } from './helpers.js';

// On elder-facts and its facts benchmark: the first record's counterfactual edit, and other subjects' facts as locality.
const { model, edits, unrelated } = factsFirstRecord();

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
