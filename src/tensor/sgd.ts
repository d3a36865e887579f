/**
 * Plain stochastic gradient descent: w ← w − lr·∇w. WISE edits its side
 * memory with it: the step is the gradient itself, so an edit changes the
 * weights along its own activations only, where Adam's per-entry
 * normalisation moves every entry by about lr.
 */
import { assertFiniteGradients } from './gradients.js';
import type { Tensor } from './tensor.js';

export class Sgd {
  constructor(
    readonly params: readonly Tensor[],
    public lr: number,
  ) {}

  /** One update from the parameters' `.grad`; parameters without a gradient are left as they are. */
  step(): void {
    for (const param of this.params) {
      const grad = param.grad;
      if (grad === null) continue;
      const data = param.data;
      for (let i = 0; i < data.length; i++) data[i] -= this.lr * grad[i];
    }
  }

  zeroGrad(): void {
    for (const param of this.params) param.zeroGrad();
  }

  /** Throws if any gradient holds NaN or infinity (before it can poison the weights). */
  assertFiniteGradients(): void {
    assertFiniteGradients(this.params);
  }
}
