/**
 * Teacher-forced scoring of targets, the paper's reliability and
 * generalization: an item is correct when every target token is the argmax
 * after the prompt and the target tokens before it; its token accuracy is
 * the fraction of target tokens that are. The benchmark, the state's holds
 * check and the knowledge report all score through this one function.
 */
import { argmaxHits } from '../../models/batch.js';
import type { DecoderLM } from '../../models/decoder.js';
import { selectRows } from '../../tensor/ops/select.js';
import { noGrad } from '../../tensor/tensor.js';
import type { Editor } from '../editor.js';
import { padTokenId, prepareBatch } from './batch.js';

export interface TargetItem {
  promptIds: number[];
  targetIds: number[];
}

export interface TargetScores {
  /** Per item: every target token is the argmax. */
  correct: boolean[];
  /** Per item: fraction of target tokens that are the argmax. */
  tokenAccuracy: number[];
}

/** Teacher-forced scores of items under `editor` (null: the base model), in batches. */
export function scoreTargets(model: DecoderLM, editor: Editor | null, items: readonly TargetItem[], batchSize = 8): TargetScores {
  const scores: TargetScores = { correct: [], tokenAccuracy: [] };
  const padId = padTokenId(model.config);
  for (let start = 0; start < items.length; start += batchSize) {
    const chunk = items.slice(start, start + batchSize);
    const prepared = prepareBatch(chunk, padId);
    const hooks = editor?.session(prepared.queryRows).hooks('prompt');
    const logits = noGrad(() => {
      const hidden = model.hiddenStates(prepared.tokens.ids, prepared.tokens.batch, prepared.tokens.steps, { hooks });
      return model.lmHead(selectRows(hidden, prepared.targets.rows));
    });
    const rowHits = argmaxHits(logits, prepared.targets.targets);
    let row = 0;
    for (const item of chunk) {
      let hits = 0;
      for (let t = 0; t < item.targetIds.length; t++, row++) hits += rowHits[row];
      scores.correct.push(hits === item.targetIds.length);
      scores.tokenAccuracy.push(hits / item.targetIds.length);
    }
  }
  return scores;
}
