/** SwiGLU's gating: silu(gate) ⊙ up (LLaMA's MLP). */

import { ShapeError } from '../../util/errors.js';
import { kernels } from '../backends/index.js';
import { accumulateGrad, recordGrad, Tensor } from '../tensor.js';

export function swiglu(gate: Tensor, up: Tensor): Tensor {
  if (gate.size !== up.size) throw new ShapeError(`swiglu: gate ${gate.size} and up ${up.size} differ`);
  const out = Tensor.zeros(gate.shape);
  kernels.siluMulForward(gate.data, up.data, out.data, gate.size);
  recordGrad(out, [gate, up], (dy) => {
    const dGate = new Float32Array(gate.size);
    const dUp = new Float32Array(up.size);
    kernels.siluMulBackward(gate.data, up.data, dy, dGate, dUp, gate.size);
    accumulateGrad(gate, dGate);
    accumulateGrad(up, dUp);
  });
  return out;
}
