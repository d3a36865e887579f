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
