/** GELU with the tanh approximation (`gelu_new` in Hugging Face's GPT-2). */
import { kernels } from '../backends/index.js';
import { recordGrad, Tensor, writeGrad } from '../tensor.js';

export function gelu(x: Tensor): Tensor {
  const out = Tensor.forOverwrite(x.shape);
  kernels.geluForward(x.data, out.data, x.size);
  recordGrad(out, [x], (dy) => writeGrad(x, (dx) => kernels.geluBackward(x.data, dy, dx, x.size)));
  return out;
}
