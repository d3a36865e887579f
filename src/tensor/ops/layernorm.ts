/** LayerNorm over the last dimension (GPT-2), biased variance as in PyTorch. */

import { ShapeError } from '../../util/errors.js';
import { kernels } from '../backends/index.js';
import { allocate } from '../buffers.js';
import { recordGrad, Tensor, writeGrad } from '../tensor.js';

export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number): Tensor {
  const cols = x.lastDim;
  if (gamma.size !== cols || beta.size !== cols) {
    throw new ShapeError(`layerNorm: width ${cols}, gamma ${gamma.size}, beta ${beta.size}`);
  }
  const rows = x.rows;
  const out = Tensor.forOverwrite(x.shape);
  const mean = allocate(rows);
  const rstd = allocate(rows);
  kernels.layerNormForward(x.data, gamma.data, beta.data, out.data, mean, rstd, rows, cols, eps);
  recordGrad(out, [x, gamma, beta], (dy) => {
    const dGamma = gamma.requiresGrad ? gamma.gradBuffer() : null;
    const dBeta = beta.requiresGrad ? beta.gradBuffer() : null;
    if (x.requiresGrad) {
      writeGrad(x, (dx) => kernels.layerNormBackward(x.data, gamma.data, mean, rstd, dy, dx, dGamma, dBeta, rows, cols));
    } else {
      kernels.layerNormBackward(x.data, gamma.data, mean, rstd, dy, null, dGamma, dBeta, rows, cols);
    }
  });
  return out;
}
