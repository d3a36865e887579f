/** GeGLU's gating: gelu_tanh(gate) ⊙ up (Gemma's MLP). */

import { ShapeError } from '../../util/errors.js';
import { kernels } from '../backends/index.js';
import { accumulateGrad, recordGrad, Tensor } from '../tensor.js';

export function geglu(gate: Tensor, up: Tensor): Tensor {
  if (gate.size !== up.size) throw new ShapeError(`geglu: gate ${gate.size} and up ${up.size} differ`);
  const activated = new Float32Array(gate.size);
  kernels.geluForward(gate.data, activated, gate.size);
  const out = Tensor.forOverwrite(gate.shape);
  for (let i = 0; i < out.size; i++) out.data[i] = activated[i] * up.data[i];
  recordGrad(out, [gate, up], (dy) => {
    if (up.requiresGrad) {
      const dUp = new Float32Array(up.size);
      for (let i = 0; i < dUp.length; i++) dUp[i] = dy[i] * activated[i];
      accumulateGrad(up, dUp);
    }
    if (gate.requiresGrad) {
      const dActivated = new Float32Array(gate.size);
      for (let i = 0; i < dActivated.length; i++) dActivated[i] = dy[i] * up.data[i];
      const dGate = new Float32Array(gate.size);
      kernels.geluBackward(gate.data, dActivated, dGate, gate.size);
      accumulateGrad(gate, dGate);
    }
  });
  return out;
}
