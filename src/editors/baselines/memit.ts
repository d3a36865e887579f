/**
 * MEMIT (Meng et al., ICLR 2023, "Mass-Editing Memory in a Transformer"): a
 * batch of edits written into the MLP output projections of a range of
 * blocks. The value shift δ is fitted once, at the range's last block (the
 * target hidden state z = h + δ at each subject's last token); then, block
 * by block from the lowest, the keys K are read under the weights as edited
 * so far, the residual z − h is split evenly over the blocks left, and
 * Δ = (λC + KᵀK)⁻¹ Kᵀ R is written.
 *
 * What is implemented, and where it departs from the paper:
 * - The range: four blocks from ROME's causally traced block up, 0–3 on
 *   elder-facts (MEMIT: five blocks, GPT-2 XL 13–17 ending at ROME's 17,
 *   GPT-J 3–8).
 * - δ, prefixes, KL term and covariance as in rome.ts, with MEMIT's clamp
 *   (0.75 of the hidden state's norm).
 * - λ scales with the key width d: a typical key has kᵀC⁻¹k ≈ d, so the share
 *   of the residual a block writes depends on λ/d. GPT-J's 15000 at d = 16384
 *   becomes 15000·d/16384 (938 on elder-facts); unscaled, it writes nothing
 *   that holds there.
 * - Sequential editing: each batch is solved against C alone; earlier edits'
 *   keys are not held (that is AlphaEdit's addition).
 * - A failed solve puts back every block written in the batch.
 * The measurements behind the range and λ: docs/evaluation.md#deviations-kept-and-the-measurements-behind-them.
 */
import type { DecoderLM } from '../../models/decoder.js';
import { UsageError } from '../../util/errors.js';
import type { EditorResources } from '../common/resources.js';
import type { TokenizedEdit } from '../edit.js';
import type { StepReport } from '../editor.js';
import { LocateEditor, type LocateSettings, ROME_SETTINGS, rowNorms } from '../locate/editor.js';
import { fitValueShift, subjectHidden, subjectKeys } from '../locate/key-value.js';
import { spreadUpdate } from '../locate/solve.js';
import { defaultRomeBlock } from './rome.js';

export interface MemitConfig extends LocateSettings {
  firstBlock: number;
  lastBlock: number;
  /** Weight of the covariance against the batch's keys (MEMIT's `mom2_update_weight`). */
  lambda: number;
}

/** MEMIT's blocks: four from ROME's block up (at most the last block but one). */
export function defaultMemitBlocks(layers: number): { firstBlock: number; lastBlock: number } {
  const rome = defaultRomeBlock(layers);
  return { firstBlock: rome, lastBlock: Math.max(rome, Math.min(layers - 2, rome + 3)) };
}

/** GPT-J's `mom2_update_weight` 15000 at its key width 16384, at key width `keyWidth`. */
export function scaledLambda(keyWidth: number): number {
  return Math.round((15000 * keyWidth) / 16384);
}

export function defaultMemitConfig(model: DecoderLM, overrides: Partial<MemitConfig> = {}): MemitConfig {
  return { ...ROME_SETTINGS, clampFactor: 0.75, lambda: scaledLambda(model.config.ffnWidth), ...defaultMemitBlocks(model.config.layers), ...overrides };
}

/** MEMIT's loop over the range; `solve` writes one block's update (MEMIT's least squares, or AlphaEdit's projected one). */
export abstract class SpreadEditor extends LocateEditor {
  readonly blocks: number[];

  constructor(
    model: DecoderLM,
    readonly config: MemitConfig,
    resources: EditorResources,
    readonly method: string,
  ) {
    if (!(config.firstBlock <= config.lastBlock))
      throw new UsageError(`${method}.firstBlock (${config.firstBlock}) must not exceed ${method}.lastBlock (${config.lastBlock})`);
    const blocks = Array.from({ length: config.lastBlock - config.firstBlock + 1 }, (_, i) => config.firstBlock + i);
    super(model, config, blocks, resources, method);
    this.blocks = blocks;
  }

  protected applyEdits(edits: readonly TokenizedEdit[], onStep?: (report: StepReport) => void): { iterations: number; loss: number } {
    const n = edits.length;
    const top = this.config.lastBlock;
    const { batch, essence } = this.contexts(edits);
    const hidden = subjectHidden(this.model, batch, n, top);
    const fitted = fitValueShift(this.model, batch, essence, n, top, rowNorms(hidden, n), this.config, onStep);
    const target = hidden.map((h, i) => h + fitted.shift[i]);
    const commits: Array<() => void> = [];
    this.baseWeightEdits.atomically(() => {
      this.blocks.forEach((block, i) => {
        const { keys } = subjectKeys(this.model, batch, n, block);
        const now = subjectHidden(this.model, batch, n, top);
        const left = this.blocks.length - i;
        const residuals = target.map((z, j) => (z - now[j]) / left);
        const { delta, commit } = this.solve(block, keys, residuals, n, `${this.method} batch at block ${block}`);
        this.write(block, delta);
        if (commit !== undefined) commits.push(commit);
      });
    });
    // Only a batch written whole changes what later batches solve against.
    for (const commit of commits) commit();
    return fitted;
  }

  /** One block's update for keys [n, d] and residuals [n, width]; `commit` (if any) records the batch once every block is written. */
  protected abstract solve(block: number, keys: Float32Array, residuals: Float32Array, n: number, what: string): { delta: Float32Array; commit?: () => void };
}

export class MemitEditor extends SpreadEditor {
  constructor(model: DecoderLM, config: MemitConfig, resources: EditorResources) {
    if (!(Number.isFinite(config.lambda) && config.lambda >= 0)) throw new UsageError(`memit.lambda must be a number ≥ 0, got ${config.lambda}`);
    super(model, config, resources, 'memit');
  }

  protected solve(block: number, keys: Float32Array, residuals: Float32Array, n: number, what: string): { delta: Float32Array } {
    return { delta: spreadUpdate(this.covariance(block).second, this.config.lambda, keys, residuals, n, what, this.note) };
  }
}
