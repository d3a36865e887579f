/** ReLU, max(0, x): exactly zero for x ≤ 0 (T-Patcher's patch neurons stay silent, bit for bit). */
import { recordGrad, Tensor, writeGrad } from '../tensor.js';

export function relu(x: Tensor): Tensor {
  const out = Tensor.zeros(x.shape);
  const y = out.data;
  const v = x.data;
  for (let i = 0; i < v.length; i++) y[i] = Math.max(v[i], 0);
  recordGrad(out, [x], (dy) =>
    writeGrad(x, (dx) => {
      for (let i = 0; i < v.length; i++) dx[i] = v[i] > 0 ? dy[i] : 0;
    }),
  );
  return out;
}
