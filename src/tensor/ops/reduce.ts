/** Scalar reductions used as auxiliary losses. */
import { recordGrad, Tensor, writeGrad } from '../tensor.js';

/**
 * mean_i f(x_i) as a [1] tensor, for an elementwise `f` with derivative `df`
 * (T-Patcher's activation and memory losses: exp(−z) and max(0, z + margin)).
 * The mean of an empty tensor is 0.
 */
export function meanOf(x: Tensor, f: (v: number) => number, df: (v: number) => number): Tensor {
  const out = Tensor.zeros([1]);
  const v = x.data;
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += f(v[i]);
  out.data[0] = v.length === 0 ? 0 : sum / v.length;
  recordGrad(out, [x], (dy) =>
    writeGrad(x, (dx) => {
      const g = dy[0] / Math.max(1, v.length);
      for (let i = 0; i < v.length; i++) dx[i] = g * df(v[i]);
    }),
  );
  return out;
}
