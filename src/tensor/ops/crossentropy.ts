/** Mean cross-entropy of rows of logits against target ids. */

import { ShapeError } from '../../util/errors.js';
import { kernels } from '../backends/index.js';
import { allocate } from '../buffers.js';
import { recordGrad, Tensor, writeGrad } from '../tensor.js';

/** Per-row losses (detached) and their mean as a scalar tensor with gradient. */
export function crossEntropy(logits: Tensor, targets: Int32Array): { loss: Tensor; rowLosses: Float32Array } {
  const rows = logits.rows;
  const cols = logits.lastDim;
  if (targets.length !== rows) throw new ShapeError(`crossEntropy: ${targets.length} targets for ${rows} rows`);
  if (rows === 0) throw new ShapeError('crossEntropy: no rows (no target tokens)');
  const rowLosses = new Float32Array(rows);
  const lse = allocate(rows);
  kernels.crossEntropyForward(logits.data, targets, rowLosses, lse, rows, cols);
  let sum = 0;
  for (let r = 0; r < rows; r++) sum += rowLosses[r];
  const loss = Tensor.from([sum / rows], [1]);
  recordGrad(loss, [logits], (dLoss) => {
    const rowScale = allocate(rows).fill(dLoss[0] / rows);
    writeGrad(logits, (dLogits) => kernels.crossEntropyBackward(logits.data, targets, lse, rowScale, dLogits, rows, cols));
  });
  return { loss, rowLosses };
}

/**
 * Mean over rows of −Σ_v p_v log softmax(logits)_v against fixed
 * distributions `probs` [rows, vocab] (each row summing to 1): with p the
 * unedited model's distribution this is KL(p‖q) plus p's entropy, a constant,
 * so its gradient is KL's (ROME's essence-preserving term). Returns the KL
 * itself (entropy subtracted) as the loss value.
 */
export function softCrossEntropy(logits: Tensor, probs: Float32Array): Tensor {
  const rows = logits.rows;
  const cols = logits.lastDim;
  if (probs.length !== rows * cols) throw new ShapeError(`softCrossEntropy: ${probs.length} probabilities for ${rows}×${cols} logits`);
  if (rows === 0) throw new ShapeError('softCrossEntropy: no rows');
  const softmaxed = new Float32Array(rows * cols);
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, logits.data[off + c]);
    let total = 0;
    for (let c = 0; c < cols; c++) total += Math.exp(logits.data[off + c] - max);
    const lse = max + Math.log(total);
    for (let c = 0; c < cols; c++) {
      const logQ = logits.data[off + c] - lse;
      softmaxed[off + c] = Math.exp(logQ);
      const p = probs[off + c];
      if (p > 0) sum += p * (Math.log(p) - logQ);
    }
  }
  const loss = Tensor.from([sum / rows], [1]);
  recordGrad(loss, [logits], (dLoss) => {
    const factor = dLoss[0] / rows;
    const grad = logits.gradBuffer();
    for (let i = 0; i < softmaxed.length; i++) grad[i] += factor * (softmaxed[i] - probs[i]);
  });
  return loss;
}
