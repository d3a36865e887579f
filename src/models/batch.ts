/**
 * Token batches and the language-model loss on target tokens only: the
 * target at position t is predicted from the hidden state at t−1, and the LM
 * head runs only on those rows.
 */

import { crossEntropy, linearCrossEntropy } from '../tensor/ops/crossentropy.js';
import { selectRows } from '../tensor/ops/select.js';
import type { Tensor } from '../tensor/tensor.js';
import { ShapeError } from '../util/errors.js';
import type { DecoderLM, ForwardOptions } from './decoder.js';
import { argmax } from './generate.js';

/** Right-padded token ids [batch, steps], row-major. */
export interface TokenBatch {
  ids: Int32Array;
  batch: number;
  steps: number;
}

/** Pads sequences on the right to a common length. */
export function padBatch(sequences: readonly (readonly number[])[], padId: number): TokenBatch {
  const steps = Math.max(...sequences.map((s) => s.length));
  const ids = new Int32Array(sequences.length * steps).fill(padId);
  sequences.forEach((seq, b) => {
    ids.set(seq, b * steps);
  });
  return { ids, batch: sequences.length, steps };
}

/** Rows of the flattened [B·T] hidden states that predict a target, and the target ids. */
export interface TargetRows {
  rows: Int32Array;
  targets: Int32Array;
}

/** From a 0/1 mask over [B·T] positions (1 = target token) to predicting rows and targets. */
export function targetRows(batch: TokenBatch, mask: ArrayLike<number>): TargetRows {
  const { ids, batch: B, steps: T } = batch;
  if (mask.length !== B * T) throw new ShapeError(`target mask has ${mask.length} entries, batch has ${B * T} positions`);
  const rows: number[] = [];
  const targets: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      if (!mask[b * T + t]) continue;
      if (t === 0) throw new ShapeError(`sequence ${b}: the first token cannot be a target (nothing precedes it)`);
      rows.push(b * T + t - 1);
      targets.push(ids[b * T + t]);
    }
  }
  return { rows: Int32Array.from(rows), targets: Int32Array.from(targets) };
}

/**
 * LM head and mean cross-entropy on the target rows of final-norm hidden
 * states [B, T, width], with each row's argmax (`predictions`). A frozen head
 * (every editor) goes through the fused {@link linearCrossEntropy}, which
 * reads the head once and never materialises the logits; a trained one
 * through the plain head and {@link crossEntropy}.
 */
export function lossOnHidden(model: DecoderLM, hidden: Tensor, target: TargetRows): { loss: Tensor; rowLosses: Float32Array; predictions: Int32Array } {
  return lossOnRows(model, selectRows(hidden, target.rows), target.targets);
}

/** {@link lossOnHidden} on final-norm states already taken at the target rows, [targets, width]. */
export function lossOnRows(model: DecoderLM, rows: Tensor, targets: Int32Array): { loss: Tensor; rowLosses: Float32Array; predictions: Int32Array } {
  const head = model.lmHeadWeight;
  if (!head.requiresGrad) return linearCrossEntropy(rows, head, targets);
  const logits = model.lmHead(rows);
  const vocab = logits.lastDim;
  const predictions = Int32Array.from(targets, (_, r) => argmax(logits.data, r * vocab, vocab));
  return { ...crossEntropy(logits, targets), predictions };
}

/** Mean negative log-likelihood of the masked target tokens. */
export function lmLoss(model: DecoderLM, batch: TokenBatch, mask: ArrayLike<number>, options: ForwardOptions = {}) {
  const hidden = model.hiddenStates(batch.ids, batch.batch, batch.steps, options);
  return lossOnHidden(model, hidden, targetRows(batch, mask));
}

/** Per row of logits [rows, vocab]: 1 where the target is the argmax (teacher-forced accuracy), else 0. */
export function argmaxHits(logits: Tensor, targets: Int32Array): Uint8Array {
  const vocab = logits.lastDim;
  if (logits.rows !== targets.length) throw new ShapeError(`argmaxHits: ${targets.length} targets for ${logits.rows} rows`);
  return Uint8Array.from(targets, (target, r) => (argmax(logits.data, r * vocab, vocab) === target ? 1 : 0));
}

/** Number of rows whose prediction (argmax) is the target. */
export function countHits(predictions: Int32Array, targets: Int32Array): number {
  let hits = 0;
  for (let r = 0; r < targets.length; r++) if (predictions[r] === targets[r]) hits++;
  return hits;
}

/** Number of rows whose target is the argmax. */
export function countArgmaxHits(logits: Tensor, targets: Int32Array): number {
  return argmaxHits(logits, targets).reduce((sum, hit) => sum + hit, 0);
}
