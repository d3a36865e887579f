/** Gradient clipping by global norm (Pascanu et al., 2013), as GPT-2-style training uses it. */

import { NonFiniteError } from '../util/errors.js';
import { kernels } from './backends/index.js';
import type { Tensor } from './tensor.js';

/**
 * Scales every gradient so that their joint L2 norm is at most `maxNorm`.
 * Returns the norm before clipping; throws on a non-finite norm so that a
 * NaN never reaches the optimizer.
 */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): number {
  let sumSquares = 0;
  for (const param of params) {
    const grad = param.grad;
    if (grad === null) continue;
    sumSquares += kernels.sumSquares(grad, grad.length);
  }
  const norm = Math.sqrt(sumSquares);
  if (!Number.isFinite(norm)) throw new NonFiniteError(`gradient norm is ${norm}`);
  if (norm > maxNorm) {
    const factor = maxNorm / (norm + 1e-6);
    for (const param of params) {
      const grad = param.grad;
      if (grad === null) continue;
      kernels.scaleInPlace(grad, grad.length, factor);
    }
  }
  return norm;
}
