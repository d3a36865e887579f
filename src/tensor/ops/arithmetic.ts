/** Elementwise sums and scalings (residual connections, loss weighting). */

import { ShapeError } from '../../util/errors.js';
import { accumulateGrad, recordGrad, Tensor } from '../tensor.js';

/** a + b, same number of elements; the result takes a's shape. */
export function add(a: Tensor, b: Tensor): Tensor {
  if (a.size !== b.size) throw new ShapeError(`add: [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ in size`);
  const out = Tensor.forOverwrite(a.shape);
  const y = out.data;
  const x1 = a.data;
  const x2 = b.data;
  for (let i = 0; i < y.length; i++) y[i] = x1[i] + x2[i];
  recordGrad(out, [a, b], (dy) => {
    accumulateGrad(a, dy);
    accumulateGrad(b, dy);
  });
  return out;
}

/** a · factor for a constant factor. */
export function scale(a: Tensor, factor: number): Tensor {
  const out = Tensor.zeros(a.shape);
  for (let i = 0; i < a.size; i++) out.data[i] = a.data[i] * factor;
  recordGrad(out, [a], (dy) => {
    const grad = a.gradBuffer();
    for (let i = 0; i < grad.length; i++) grad[i] += dy[i] * factor;
  });
  return out;
}

/**
 * a with the entries where `keep` is 0 set to 0, and no gradient through
 * them: a parameter trained in a fixed random subspace (WISE's shards).
 */
export function masked(a: Tensor, keep: Uint8Array): Tensor {
  if (keep.length !== a.size) throw new ShapeError(`masked: mask of ${keep.length} for [${a.shape.join(', ')}]`);
  const out = Tensor.zeros(a.shape);
  for (let i = 0; i < a.size; i++) out.data[i] = keep[i] === 0 ? 0 : a.data[i];
  recordGrad(out, [a], (dy) => {
    const grad = a.gradBuffer();
    for (let i = 0; i < grad.length; i++) if (keep[i] !== 0) grad[i] += dy[i];
  });
  return out;
}

/** a + c for a constant c (Gemma's norms scale by 1 + weight). */
export function addScalar(a: Tensor, c: number): Tensor {
  const out = Tensor.forOverwrite(a.shape);
  for (let i = 0; i < a.size; i++) out.data[i] = a.data[i] + c;
  recordGrad(out, [a], (dy) => accumulateGrad(a, dy));
  return out;
}
