/** Elementwise sums and scalings (residual connections, LoRA scaling). */
import { Tensor, accumulateGrad, recordGrad } from '../tensor.js';
import { ShapeError } from '../../util/errors.js';

/** a + b, same number of elements; the result takes a's shape. */
export function add(a: Tensor, b: Tensor): Tensor {
  if (a.size !== b.size) throw new ShapeError(`add: [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ in size`);
  const out = Tensor.zeros(a.shape);
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
 * Scales each of the B leading slices of x [B, ...] by its own factor from
 * `factors` [B] (a per-sequence router score); gradients reach both.
 */
export function scaleSlices(x: Tensor, factors: Tensor): Tensor {
  const slices = factors.size;
  if (x.size % slices !== 0 || x.shape[0] !== slices) {
    throw new ShapeError(`scaleSlices: ${slices} factors for leading dimension ${x.shape[0]}`);
  }
  const sliceSize = x.size / slices;
  const out = Tensor.zeros(x.shape);
  for (let s = 0; s < slices; s++) {
    const f = factors.data[s];
    for (let i = s * sliceSize; i < (s + 1) * sliceSize; i++) out.data[i] = x.data[i] * f;
  }
  recordGrad(out, [x, factors], (dy) => {
    if (x.requiresGrad) {
      const grad = x.gradBuffer();
      for (let s = 0; s < slices; s++) {
        const f = factors.data[s];
        for (let i = s * sliceSize; i < (s + 1) * sliceSize; i++) grad[i] += dy[i] * f;
      }
    }
    if (factors.requiresGrad) {
      const grad = factors.gradBuffer();
      for (let s = 0; s < slices; s++) {
        let dot = 0;
        for (let i = s * sliceSize; i < (s + 1) * sliceSize; i++) dot += dy[i] * x.data[i];
        grad[s] += dot;
      }
    }
  });
  return out;
}
