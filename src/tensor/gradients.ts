/** Checks an optimiser runs on its parameters' gradients before a step. */
import { NonFiniteError } from '../util/errors.js';
import type { Tensor } from './tensor.js';

/** Throws if any gradient holds NaN or infinity (before it can poison the weights). */
export function assertFiniteGradients(params: readonly Tensor[]): void {
  for (const param of params) {
    const grad = param.grad;
    if (grad === null) continue;
    for (let i = 0; i < grad.length; i++) {
      if (!Number.isFinite(grad[i])) throw new NonFiniteError(`non-finite gradient in a parameter of shape [${param.shape.join(', ')}]`);
    }
  }
}
