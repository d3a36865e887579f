/** Softmax over the last dimension (router scores). */
import { kernels } from '../backends/index.js';
import { recordGrad, type Tensor, writeGrad } from '../tensor.js';

export function softmax(x: Tensor): Tensor {
  const out = x.clone();
  kernels.softmaxRows(out.data, 1, x.rows, x.lastDim, -1);
  recordGrad(out, [x], (dy) => writeGrad(x, (dx) => kernels.softmaxBackwardRows(out.data, dy, dx, x.rows, x.lastDim)));
  return out;
}
