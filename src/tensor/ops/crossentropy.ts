/** Mean cross-entropy of rows of logits against target ids. */

import { ShapeError } from '../../util/errors.js';
import { kernels } from '../backends/index.js';
import { allocate, allocateForOverwrite } from '../buffers.js';
import { halfCode } from '../half.js';
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

/**
 * The LM head and mean cross-entropy fused, for a frozen head: logits would
 * be `rows`·`weight`ᵀ with `weight` [vocab, width] (`out_in`), but they are
 * never materialised (see the kernel). Besides the loss it returns each row's
 * argmax, which is all the logits were kept for (early stopping, accuracy).
 * Gradients reach `rows` only: a head that requires grad is refused (use
 * `linear` and {@link crossEntropy}).
 */
export function linearCrossEntropy(rows: Tensor, weight: Tensor, targets: Int32Array): { loss: Tensor; rowLosses: Float32Array; predictions: Int32Array } {
  const count = rows.rows;
  const width = rows.lastDim;
  if (weight.rank !== 2 || weight.shape[1] !== width) {
    throw new ShapeError(`linearCrossEntropy: head [${weight.shape.join(', ')}] does not take rows of width ${width}`);
  }
  if (weight.requiresGrad) throw new ShapeError('linearCrossEntropy: the head requires a gradient; this fused op gives the rows theirs only');
  if (targets.length !== count) throw new ShapeError(`linearCrossEntropy: ${targets.length} targets for ${count} rows`);
  if (count === 0) throw new ShapeError('linearCrossEntropy: no rows (no target tokens)');
  const vocab = weight.shape[0];
  const rowLosses = new Float32Array(count);
  const predictions = new Int32Array(count);
  // d loss_r / d row_r for every row, computed in the same pass; the backward only scales it.
  const rowGrads = allocateForOverwrite(count * width);
  const half = weight.half;
  if (half !== null) kernels.linearCrossEntropyHalf(rows.data, count, width, half.bits, halfCode(half.dtype), vocab, targets, rowLosses, predictions, rowGrads);
  else kernels.linearCrossEntropy(rows.data, count, width, weight.data, vocab, targets, rowLosses, predictions, rowGrads);
  let sum = 0;
  for (let r = 0; r < count; r++) sum += rowLosses[r];
  const loss = Tensor.from([sum / count], [1]);
  recordGrad(loss, [rows], (dLoss) => {
    const factor = dLoss[0] / count;
    writeGrad(rows, (dRows) => {
      for (let i = 0; i < dRows.length; i++) dRows[i] = factor * rowGrads[i];
    });
  });
  return { loss, rowLosses, predictions };
}
