/**
 * Batches of edits as every editor trains and measures them: prompt and
 * target padded into one batch, the rows that predict target tokens, and
 * each sequence's last prompt token (where routers and key–value methods
 * read their query).
 */

import { padBatch, type TargetRows, type TokenBatch, targetRows } from '../../models/batch.js';
import type { ModelConfig } from '../../models/config.js';
import type { TokenizedEdit } from '../edit.js';

/** The id that pads batches: the model's end-of-text token (padding sits after every real token, so causal attention never reads it). */
export function padTokenId(config: ModelConfig): number {
  return config.eosTokenIds[0] ?? 0;
}

/** A padded batch of edits with its target rows and query rows. */
export interface PreparedBatch {
  tokens: TokenBatch;
  mask: Float32Array;
  targets: TargetRows;
  /** Flattened row (b·T + t) of each sequence's last prompt token. */
  queryRows: Int32Array;
}

export function prepareBatch(edits: readonly Pick<TokenizedEdit, 'promptIds' | 'targetIds'>[], padId: number): PreparedBatch {
  const tokens = padBatch(
    edits.map((e) => [...e.promptIds, ...e.targetIds]),
    padId,
  );
  const mask = new Float32Array(tokens.batch * tokens.steps);
  const queryRows = new Int32Array(edits.length);
  edits.forEach((edit, b) => {
    const start = b * tokens.steps + edit.promptIds.length;
    mask.fill(1, start, start + edit.targetIds.length);
    queryRows[b] = start - 1;
  });
  return { tokens, mask, targets: targetRows(tokens, mask), queryRows };
}
