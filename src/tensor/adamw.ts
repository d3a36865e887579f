/** Adam / AdamW over a fixed set of parameter tensors, stepping through the native kernel. */

import { ShapeError } from '../util/errors.js';
import { kernels } from './backends/index.js';
import { assertFiniteGradients } from './gradients.js';
import type { Tensor } from './tensor.js';

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay; 0 (the default) is plain Adam. */
  weightDecay?: number;
  /** Parameters exempt from weight decay (GPT-2 practice: biases, norms, embeddings' positions). */
  noDecay?: ReadonlySet<Tensor>;
}

/** Everything needed to continue an optimisation exactly where it stopped. */
export interface AdamWState {
  steps: number;
  /** First and second moments, in parameter order. */
  moments: Array<{ m: Float32Array; v: Float32Array }>;
}

export class AdamW {
  private readonly moments: Array<{ m: Float32Array; v: Float32Array }>;
  private stepCount = 0;
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private readonly noDecay: ReadonlySet<Tensor>;

  constructor(
    readonly params: readonly Tensor[],
    options: AdamWOptions,
  ) {
    this.lr = options.lr;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    this.noDecay = options.noDecay ?? new Set();
    this.moments = params.map((p) => ({ m: new Float32Array(p.size), v: new Float32Array(p.size) }));
  }

  get steps(): number {
    return this.stepCount;
  }

  /** One update from the parameters' `.grad`; parameters without a gradient are left as they are. */
  step(): void {
    this.stepCount++;
    this.params.forEach((param, i) => {
      if (param.grad === null) return;
      const { m, v } = this.moments[i];
      kernels.adamStep(
        param.data,
        param.grad,
        m,
        v,
        param.size,
        this.lr,
        this.beta1,
        this.beta2,
        this.eps,
        this.noDecay.has(param) ? 0 : this.weightDecay,
        this.stepCount,
      );
    });
  }

  /** The moments and step count (views, not copies: save them before the next step). */
  exportState(): AdamWState {
    return { steps: this.stepCount, moments: this.moments };
  }

  /** Restores a state saved by {@link exportState} for the same parameter list. */
  importState(state: AdamWState): void {
    if (state.moments.length !== this.moments.length)
      throw new ShapeError(`optimizer state has ${state.moments.length} parameters, this optimizer ${this.moments.length}`);
    state.moments.forEach(({ m, v }, i) => {
      const size = this.params[i].size;
      if (m.length !== size || v.length !== size)
        throw new ShapeError(`optimizer state of parameter ${i} has ${m.length}/${v.length} values, the parameter ${size}`);
      this.moments[i].m.set(m);
      this.moments[i].v.set(v);
    });
    this.stepCount = state.steps;
  }

  zeroGrad(): void {
    for (const param of this.params) param.zeroGrad();
  }

  /** Throws if any gradient holds NaN or infinity (before it can poison the weights). */
  assertFiniteGradients(): void {
    assertFiniteGradients(this.params);
  }
}
