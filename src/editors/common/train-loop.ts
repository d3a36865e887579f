/**
 * The one training loop every gradient-based editor runs (ELDER, its
 * ablations, FT-L, LoRA, MELO, GRACE's value fitting): a fresh Adam over the
 * method's parameters, a fixed number of iterations, optional early stopping
 * once every target token is the argmax, and a typed error as soon as a loss
 * or a gradient stops being finite. What a method trains, and on what loss,
 * is its `iterate` function (and, for WISE, plain SGD instead of Adam).
 */
import { AdamW } from '../../tensor/adamw.js';
import { BufferPool, withBufferPool } from '../../tensor/buffers.js';
import { Sgd } from '../../tensor/sgd.js';
import { backward, type Tensor } from '../../tensor/tensor.js';
import { NonFiniteError } from '../../util/errors.js';

export interface TrainLoopOptions {
  lr: number;
  iterations: number;
  /** Stop once every target token of the batch is the argmax. */
  earlyStop?: boolean;
  /** Adam (the default) or plain SGD (WISE). */
  optimizer?: 'adam' | 'sgd';
  /** PyTorch's StepLR: the learning rate is multiplied by `factor` after every `every` steps (MELO). */
  stepDecay?: { every: number; factor: number };
  /**
   * Where the iterations' activations come from. A pool kept by the caller
   * across batches (ELDER's editor, the service's training thread) allocates
   * nothing once warm; the default, a pool per call, leaves a batch's buffers
   * to the garbage collector when it ends.
   */
  pool?: BufferPool;
}

/** One iteration's forward pass, as the method computes it. */
export interface LoopIteration {
  /** The loss minimised. */
  loss: Tensor;
  /** Whether every target token is already the argmax (read only with early stopping). */
  solved(): boolean;
  /** The loss's parts, for progress reports (ELDER: model and routing loss). */
  parts?: Record<string, number>;
}

/** One optimisation step of a batch, for progress displays. */
export interface StepReport {
  iteration: number;
  loss: number;
  parts?: Record<string, number>;
}

/**
 * Minimises `iterate`'s loss over `params`. Each iteration runs inside one
 * buffer pool (its activations are the same shapes every time, and none
 * escapes an iteration). Returns the iterations that stepped and the last loss.
 * `what` names the method in the error a non-finite loss raises.
 */
export function trainLoop(
  params: readonly Tensor[],
  options: TrainLoopOptions,
  iterate: (iteration: number) => LoopIteration,
  onStep?: (report: StepReport) => void,
  what = 'the',
): { iterations: number; loss: number } {
  const optimizer = options.optimizer === 'sgd' ? new Sgd(params, options.lr) : new AdamW(params, { lr: options.lr });
  let loss = NaN;
  let iterations = 0;
  const pool = options.pool ?? new BufferPool();
  for (let iteration = 1; iteration <= options.iterations; iteration++) {
    optimizer.zeroGrad();
    const stop = withBufferPool(pool, () => {
      const step = iterate(iteration);
      loss = step.loss.item();
      if (!Number.isFinite(loss)) throw new NonFiniteError(`${what} loss became ${loss} at iteration ${iteration}; nothing from this batch is kept`);
      onStep?.({ iteration, loss, parts: step.parts });
      if (options.earlyStop === true && step.solved()) return true;
      backward(step.loss);
      optimizer.assertFiniteGradients();
      if (options.stepDecay !== undefined) optimizer.lr = options.lr * options.stepDecay.factor ** Math.floor((iteration - 1) / options.stepDecay.every);
      optimizer.step();
      return false;
    });
    if (stop) break;
    iterations = iteration;
  }
  return { iterations, loss };
}

/** A batch applied one edit at a time (GRACE, T-Patcher): the iterations summed, and the last edit's loss. */
export function eachEditAlone<E>(edits: readonly E[], applyOne: (edit: E) => { iterations: number; loss: number }): { iterations: number; loss: number } {
  let iterations = 0;
  let loss = NaN;
  for (const edit of edits) {
    const result = applyOne(edit);
    iterations += result.iterations;
    loss = result.loss;
  }
  return { iterations, loss };
}
