/**
 * Whether edits hold: after its batch is committed, an edit holds when the
 * edited model (routing and deferral included) gives its whole target as the
 * teacher-forced argmax after its prompt — the paper's reliability, per edit —
 * and its greedy answer reads as the target: it starts with it, then ends or
 * goes on without repeating it (what a person asking the prompt sees).
 * Training a batch can end with an edit that does not hold, and later batches
 * can undo earlier edits, so each batch is checked and a sample of earlier
 * edits is checked again.
 */

import { answerIds } from '../../../models/generate.js';
import { answersWith } from '../../../text/answers.js';
import { Random } from '../../../util/random.js';
import { scoreTargets } from '../../common/scoring.js';
import type { TokenizedEdit } from '../../edit.js';
import type { ElderEditor } from '../editor.js';
import type { HoldsCheck } from './journal.js';

/** Earlier edits re-checked after each batch. */
export const RECHECK_SAMPLE = 16;

/** New tokens of the greedy answer a check reads. */
export const ANSWER_TOKENS = 16;

export type CheckableEdit = Pick<TokenizedEdit, 'id' | 'promptIds' | 'targetIds' | 'target'>;

/** Checks `edits` on the editor's current weights; `decode` turns the greedy answer's ids into text. */
export function checkEdits(editor: ElderEditor, edits: readonly CheckableEdit[], decode: (ids: readonly number[]) => string): HoldsCheck[] {
  if (edits.length === 0) return [];
  const { correct } = scoreTargets(editor.model, editor, edits, 16);
  return edits.map((edit, i) => {
    const answer = decode(answerIds(editor.answer(edit.promptIds, ANSWER_TOKENS)));
    return { id: edit.id, holds: correct[i] && answersWith(answer, edit.target), answer };
  });
}

/** Up to {@link RECHECK_SAMPLE} of `edits`, drawn with a seed of the generation (reproducible). */
export function recheckSample<T>(edits: readonly T[], generation: number, count = RECHECK_SAMPLE): T[] {
  if (edits.length <= count) return [...edits];
  return new Random(0x5eed ^ generation).shuffle([...edits]).slice(0, count);
}
