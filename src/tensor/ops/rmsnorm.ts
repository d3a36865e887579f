/** RMSNorm over the last dimension (LLaMA): y = w · x / sqrt(mean(x²) + eps). */

import { ShapeError } from '../../util/errors.js';
import { kernels } from '../backends/index.js';
import { recordGrad, Tensor, writeGrad } from '../tensor.js';

export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  const cols = x.lastDim;
  if (weight.size !== cols) throw new ShapeError(`rmsNorm: width ${cols}, weight ${weight.size}`);
  const rows = x.rows;
  const out = Tensor.zeros(x.shape);
  const rstd = new Float32Array(rows);
  kernels.rmsNormForward(x.data, weight.data, out.data, rstd, rows, cols, eps);
  recordGrad(out, [x, weight], (dy) => {
    const dWeight = weight.requiresGrad ? weight.gradBuffer() : null;
    if (x.requiresGrad) {
      writeGrad(x, (dx) => kernels.rmsNormBackward(x.data, weight.data, rstd, dy, dx, dWeight, rows, cols));
    } else {
      kernels.rmsNormBackward(x.data, weight.data, rstd, dy, null, dWeight, rows, cols);
    }
  });
  return out;
}
