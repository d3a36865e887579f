/**
 * One interface for every editing method (ELDER, its ablations and the
 * baselines), so that the benchmark runner and the metrics treat them alike:
 * a method consumes the edit stream batch by batch and changes the model only
 * through hooks on its linear layers, never by writing the base weights. That
 * keeps one loaded base model shareable by every method of a benchmark and
 * makes "the untouched model" always available for locality.
 */

import { countArgmaxHits, lossOnHidden, type TokenBatch } from '../models/batch.js';
import type { DecoderLM, LinearHook } from '../models/decoder.js';
import { AdamW } from '../tensor/adamw.js';
import { BufferPool, withBufferPool } from '../tensor/buffers.js';
import { selectRows } from '../tensor/ops/select.js';
import { backward, noGrad, type Tensor } from '../tensor/tensor.js';
import { NonFiniteError } from '../util/errors.js';
import type { PreparedBatch } from './common/batch.js';
import type { InferenceSession } from './common/session.js';
import type { TokenizedEdit } from './edit.js';

/** One optimisation step of a batch, for progress displays. */
export interface StepReport {
  iteration: number;
  loss: number;
}

export interface Editor {
  /** Method name as the runner and reports spell it (`elder`, `grace`, …). */
  readonly method: string;
  /** Applies the next batch of the edit stream; earlier batches are not revisited. */
  applyBatch(edits: readonly TokenizedEdit[], onStep?: (report: StepReport) => void): { iterations: number; loss: number };
  /**
   * A new inference session for a batch of sequences whose last prompt token
   * sits at `queryRows` (flattened b·T + t): its prompt pass decides whatever
   * the method decides per input (routing, deferral, a key's entry), and its
   * decoding steps reuse that decision. One session per batch of inputs.
   */
  session(queryRows: Int32Array): InferenceSession;
  /** Number of values the method adds to the model (adapters, codebooks, deltas). */
  addedParameters(): number;
  /**
   * Methods that route (ELDER) report, after a batch, how stable their routing
   * is: the runner calls this after every batch with a fixed sample of
   * unrelated prompts and keeps the series.
   */
  diagnose?(unrelatedPrompts: readonly (readonly number[])[]): EditorDiagnostics;
  /** Methods that route inputs by allocation codes (ELDER and its ablations): the benchmark plots their code space. */
  readonly codeRouting?: CodeRouting;
}

/** What a method that routes by allocation codes lets the benchmark see. */
export interface CodeRouting {
  /** The allocation code the routers give each prompt now. */
  codesOf(prompts: readonly (readonly number[])[]): Uint32Array[];
  /** Hamming distance from each prompt's code to the nearest stored code (Infinity with none stored). */
  codeDistancesOf(prompts: readonly (readonly number[])[]): number[];
  /** The deferral threshold ε on that distance. */
  readonly epsilon: number;
  /** A code as stored and reported (hex digits). */
  codeText(code: Uint32Array): string;
}

export interface EditorDiagnostics {
  /** Share of live edits whose stored code still equals the code their routers give them now. */
  codesStable: number;
  /** Share of the unrelated prompts that defer to the base model. */
  unrelatedDeferred: number;
  /** Nearest stored-code distance of each unrelated prompt. */
  unrelatedDistances: number[];
}

export interface TrainLoopOptions {
  lr: number;
  iterations: number;
  /** Stop once every target token of the batch is the argmax. */
  earlyStop?: boolean;
}

/**
 * Blocks [0, toLayer) on a batch, once and without gradients: below the first
 * edited block nothing changes between iterations. `hooks` may observe on the
 * way (see {@link rowCapture}).
 */
export function frozenBlocks(model: DecoderLM, tokens: TokenBatch, toLayer: number, hooks?: ReadonlyMap<string, LinearHook>): Tensor {
  return noGrad(() => model.runBlocks(model.embed(tokens.ids, tokens.batch, tokens.steps, 0), 0, toLayer, { hooks }));
}

/** A hook on linear `name` that keeps rows `rows` of its input and output (router queries, keys, warm-start values). */
export function rowCapture(name: string, rows: Int32Array): { hooks: Map<string, LinearHook>; captured: { input: Tensor | null; output: Tensor | null } } {
  const captured: { input: Tensor | null; output: Tensor | null } = { input: null, output: null };
  const hook: LinearHook = (input, output) => {
    captured.input = selectRows(input, rows);
    captured.output = selectRows(output, rows);
    return output;
  };
  return { hooks: new Map([[name, hook]]), captured };
}

/**
 * The training loop the gradient-based baselines share: from the frozen
 * hidden state entering block `firstLayer` ({@link frozenBlocks}), each
 * iteration runs the rest with `hooks()` and minimises the LM loss on the
 * target tokens.
 */
export function trainThroughHooks(
  model: DecoderLM,
  prepared: PreparedBatch,
  prefix: Tensor,
  firstLayer: number,
  params: readonly Tensor[],
  hooks: () => Map<string, LinearHook>,
  options: TrainLoopOptions,
  onStep?: (report: StepReport) => void,
): { iterations: number; loss: number } {
  const optimizer = new AdamW(params, { lr: options.lr });
  let loss = NaN;
  let iterations = 0;
  // The iterations allocate the same activations each time: one pool serves them all.
  const pool = new BufferPool();
  for (let iteration = 1; iteration <= options.iterations; iteration++) {
    optimizer.zeroGrad();
    const stop = withBufferPool(pool, () => {
      const hidden = model.finalNorm(model.runBlocks(prefix, firstLayer, model.config.layers, { hooks: hooks() }));
      const result = lossOnHidden(model, hidden, prepared.targets);
      loss = result.loss.item();
      if (!Number.isFinite(loss)) throw new NonFiniteError(`loss became ${loss} at iteration ${iteration}`);
      onStep?.({ iteration, loss });
      if (options.earlyStop === true && countArgmaxHits(result.logits, prepared.targets.targets) === prepared.targets.targets.length) return true;
      backward(result.loss);
      optimizer.assertFiniteGradients();
      optimizer.step();
      return false;
    });
    if (stop) break;
    iterations = iteration;
  }
  return { iterations, loss };
}
