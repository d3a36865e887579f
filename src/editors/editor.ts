/**
 * One interface for every editing method (ELDER, its ablations and the
 * baselines), so that the benchmark runner and the metrics treat them alike:
 * a method consumes the edit stream batch by batch and changes the model
 * through hooks on its linear layers, or by writing base weights through a
 * ledger ({@link BaseWeightEdits}) that restores them bit for bit. That keeps
 * one loaded base model shareable by every method of a benchmark.
 */

import { countHits, lossOnRows, type TokenBatch } from '../models/batch.js';
import type { DecoderLM, LinearHook } from '../models/decoder.js';
import { selectRows } from '../tensor/ops/select.js';
import { noGrad, type Tensor } from '../tensor/tensor.js';
import type { PreparedBatch } from './common/batch.js';
import type { InferenceSession } from './common/session.js';
import { type StepReport, type TrainLoopOptions, trainLoop } from './common/train-loop.js';
import type { BaseWeightEdits } from './common/weight-edits.js';

export type { StepReport, TrainLoopOptions };

import type { TokenizedEdit } from './edit.js';

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
  /** Number of values the method adds to the model (adapters, codebooks, deltas), or, for a method that writes base weights, the values of the weights it changed. */
  addedParameters(): number;
  /**
   * Methods that route (ELDER) report, after a batch, how stable their routing
   * is: the runner calls this after every batch with a fixed sample of
   * unrelated prompts and keeps the series.
   */
  diagnose?(unrelatedPrompts: readonly (readonly number[])[]): EditorDiagnostics;
  /**
   * Methods that write the base weights (FT-L; locate-then-edit methods)
   * keep every write here, so that the base model can be restored exactly.
   * Methods without it change the model only through hooks.
   */
  readonly baseWeightEdits?: BaseWeightEdits;
  /** Methods that route inputs by allocation codes (ELDER and its ablations): the benchmark plots their code space. */
  readonly codeRouting?: CodeRouting;
  /**
   * Methods that admit an input to its edit by a distance radius (ELDER's
   * subject gate): the radius can be set after training, so that the
   * benchmark can measure the trade-off between the rephrasings it admits and
   * the other inputs it captures on the same trained edits.
   */
  readonly gateRadius?: GateRadius;
}

/** An inference-time distance radius (relative, as the method defines it). Training does not read it. */
export interface GateRadius {
  readonly value: number;
  set(radius: number): void;
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

/**
 * Blocks [0, toBlock) on a batch, once and without gradients: below the first
 * edited block nothing changes between iterations. `hooks` may observe on the
 * way (see {@link rowCapture}).
 */
export function frozenBlocks(model: DecoderLM, tokens: TokenBatch, toBlock: number, hooks?: ReadonlyMap<string, LinearHook>): Tensor {
  return noGrad(() => model.runBlocks(model.embed(tokens.ids, tokens.batch, tokens.steps, 0), 0, toBlock, { hooks }));
}

/**
 * Adds `before` to linear `name`'s hook in `hooks`, to run on its input before
 * whatever hook the linear already has (the last added runs first).
 */
export function runBefore(hooks: Map<string, LinearHook>, name: string, before: (input: Tensor) => void): void {
  const inner = hooks.get(name);
  hooks.set(name, (input, output) => {
    before(input);
    return inner === undefined ? output : inner(input, output);
  });
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
 * The loop the hook-trained baselines share: from the frozen hidden state
 * entering block `firstBlock` ({@link frozenBlocks}), each iteration runs the
 * rest with `hooks()` and minimises the LM loss on the target tokens, through
 * the one {@link trainLoop}.
 */
export function trainThroughHooks(
  model: DecoderLM,
  prepared: PreparedBatch,
  prefix: Tensor,
  firstBlock: number,
  params: readonly Tensor[],
  hooks: () => Map<string, LinearHook>,
  options: TrainLoopOptions,
  onStep?: (report: StepReport) => void,
): { iterations: number; loss: number } {
  return trainLoop(
    params,
    options,
    () => {
      const atTargets = model.hiddenAtRows(prefix, firstBlock, prepared.targets.rows, { hooks: hooks() });
      const { loss, predictions } = lossOnRows(model, atTargets, prepared.targets.targets);
      return { loss, solved: () => countHits(predictions, prepared.targets.targets) === prepared.targets.targets.length };
    },
    onStep,
  );
}
