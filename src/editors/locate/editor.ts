/**
 * What ROME, WilKE, MEMIT and AlphaEdit share as editors: the prefixes they
 * average over, the essence prompts of ROME's KL term, the key covariances,
 * the ledger their base-weight writes go through (so the benchmark can
 * restore the model bit for bit), and an inference session that adds
 * nothing (the edits are in the weights).
 */
import type { DecoderLM } from '../../models/decoder.js';
import { kernels } from '../../tensor/backends/index.js';
import { Tensor } from '../../tensor/tensor.js';
import { UsageError } from '../../util/errors.js';
import type { EditorResources, KeyCovariance } from '../common/resources.js';
import { FixedSession } from '../common/session.js';
import { checkBlock, mlpOutputSite, siteShape } from '../common/sites.js';
import { BaseWeightEdits } from '../common/weight-edits.js';
import type { TokenizedEdit } from '../edit.js';
import type { Editor, StepReport } from '../editor.js';
import { type ContextBatch, contextBatch, type EssenceBatch, essenceBatch, samplePrefixes } from './contexts.js';
import type { ValueShiftOptions } from './key-value.js';
import { requireSubjects } from './subjects.js';

/** Settings every locate-then-edit method takes (defaults: ROME's GPT-2 XL hyperparameters). */
export interface LocateSettings extends ValueShiftOptions {
  /** Random prefixes the keys are averaged and the value fitted over (ROME: 10 of 5 tokens and 10 of 10), besides none. */
  prefixes: number;
  prefixTokens: number;
  /** What follows the subject in the KL term's prompts (ROME: "{subject} is a"). */
  essenceSuffix: string;
  seed: number;
}

/**
 * ROME's `v_*` settings for GPT-2 XL (rome/hparams/ROME/gpt2-xl.json), with 5
 * prefixes of 5 tokens (ROME: 20 of 5 and 10): on elder-facts 5 and 10 gave
 * the same edits, 5 in less time (docs/evaluation.md#deviations-kept-and-the-measurements-behind-them).
 */
export const ROME_SETTINGS: LocateSettings = {
  lr: 0.5,
  iterations: 20,
  klFactor: 0.0625,
  weightDecay: 0.5,
  clampFactor: 4,
  prefixes: 5,
  prefixTokens: 5,
  essenceSuffix: ' is a',
  seed: 0,
};

/** Checks the settings every locate method shares, one line naming the first that cannot work. */
export function checkLocateSettings(method: string, settings: LocateSettings): void {
  const positive: Array<keyof LocateSettings> = ['lr', 'clampFactor'];
  for (const key of positive) {
    const value = settings[key] as number;
    if (!(Number.isFinite(value) && value > 0)) throw new UsageError(`${method}.${key} must be a positive number, got ${value}`);
  }
  for (const key of ['klFactor', 'weightDecay'] as const) {
    if (!(Number.isFinite(settings[key]) && settings[key] >= 0)) throw new UsageError(`${method}.${key} must be a number ≥ 0, got ${settings[key]}`);
  }
  for (const key of ['iterations', 'prefixTokens'] as const) {
    if (!Number.isInteger(settings[key]) || settings[key] < 1) throw new UsageError(`${method}.${key} must be a positive integer, got ${settings[key]}`);
  }
  if (!Number.isInteger(settings.prefixes) || settings.prefixes < 0)
    throw new UsageError(`${method}.prefixes must be an integer ≥ 0, got ${settings.prefixes}`);
}

export abstract class LocateEditor implements Editor {
  abstract readonly method: string;
  readonly baseWeightEdits: BaseWeightEdits;
  protected readonly site: string;
  private prefixCache: number[][] | null = null;
  private readonly essenceSuffix: number[] | null;
  private readonly covariances: Map<number, KeyCovariance>;
  protected readonly note: (line: string) => void;

  constructor(
    readonly model: DecoderLM,
    private readonly settings: LocateSettings,
    blocks: readonly number[],
    resources: EditorResources,
    method: string,
  ) {
    checkLocateSettings(method, settings);
    for (const block of blocks) checkBlock(model.config, block, `${method} block`);
    if (resources.keyCovariances === undefined) {
      throw new UsageError(`${method} needs key covariances of blocks ${blocks.join(', ')}: measure them with elder covariance, or pass keyCovariances`);
    }
    this.site = mlpOutputSite(model.config);
    this.covariances = new Map(resources.keyCovariances(blocks).map((c) => [c.block, c]));
    for (const block of blocks) {
      const covariance = this.covariances.get(block);
      const { inDim } = siteShape(model, this.site, block);
      if (covariance === undefined || covariance.width !== inDim) {
        throw new UsageError(
          `${method}: the key covariance of block ${block} is ${covariance === undefined ? 'missing' : `${covariance.width} wide, the keys ${inDim}`}`,
        );
      }
    }
    // Without a tokenizer the KL term has no prompt to read; it is then left out, as a setting of 0 would.
    this.essenceSuffix = resources.encode === undefined || settings.klFactor === 0 ? null : resources.encode(settings.essenceSuffix);
    this.baseWeightEdits = new BaseWeightEdits(model);
    this.note = resources.note ?? (() => {});
  }

  /** Applies the batch once every edit in it names a subject its prompt contains; otherwise refuses it whole, before writing anything. */
  applyBatch(edits: readonly TokenizedEdit[], onStep?: (report: StepReport) => void): { iterations: number; loss: number } {
    requireSubjects(this.method, edits);
    return this.applyEdits(edits, onStep);
  }

  /** Writes the batch's edits into the base weights. */
  protected abstract applyEdits(edits: readonly TokenizedEdit[], onStep?: (report: StepReport) => void): { iterations: number; loss: number };

  /** The edits live in the base weights: inference runs the model as it now is. */
  session(queryRows: Int32Array): FixedSession {
    return new FixedSession(queryRows, () => new Map());
  }

  /** Base-weight values the method has changed (every entry of each weight it wrote). */
  addedParameters(): number {
    return this.baseWeightEdits.written.reduce((sum, name) => sum + this.model.parameters.get(name)!.size, 0);
  }

  protected covariance(block: number): KeyCovariance {
    return this.covariances.get(block)!;
  }

  protected linear(block: number): string {
    return this.model.linearName(block, this.site);
  }

  /** The edits behind the prefixes (sampled from the unedited model on first use) and their essence prompts. */
  protected contexts(edits: readonly TokenizedEdit[]): { batch: ContextBatch; essence: EssenceBatch | null } {
    this.prefixCache ??= samplePrefixes(this.model, this.settings.prefixes, this.settings.prefixTokens, this.settings.seed);
    return {
      batch: contextBatch(this.model, edits, this.prefixCache),
      essence: this.essenceSuffix === null ? null : essenceBatch(this.model, edits, this.essenceSuffix),
    };
  }

  /** Writes `delta` [in, out] into block `block`'s MLP output projection. */
  protected write(block: number, delta: Float32Array): void {
    const { inDim, outDim } = siteShape(this.model, this.site, block);
    this.baseWeightEdits.addToLinear(this.linear(block), new Tensor(delta, [inDim, outDim]));
  }
}

/** Euclidean norms of the rows of `rows` [n, width]. */
export function rowNorms(rows: Float32Array, n: number): Float32Array {
  const width = rows.length / n;
  return Float32Array.from({ length: n }, (_, r) => Math.sqrt(kernels.sumSquares(rows.subarray(r * width, (r + 1) * width), width)));
}
