/**
 * WilKE (Hu et al., ACL Findings 2024, "WilKE: Wise-Layer Knowledge Editor
 * for Lifelong Knowledge Editing"): ROME, with the block chosen per edit by
 * how well the edit's pattern matches each block. For every candidate block
 * l it fits ROME's value shift δ_l and reads the key k_l, and edits the block
 * that minimises ‖δ_l‖ · ‖W_l‖² / ‖k_l‖² (W_l the MLP output projection):
 * the block where a small change to a small weight, driven by a strongly
 * activated key, suffices.
 *
 * What is implemented, and where it departs from the paper:
 * - ROME as in rome.ts (its prefixes, KL term, covariance and rank-one write).
 * - Candidates: every block from `firstBlock` to `lastBlock` (default all but
 *   the last: the last block's MLP output at the subject reaches no later
 *   position, so its δ stays 0 and would win the argmin while editing
 *   nothing). A candidate whose fitted δ is 0 is skipped for the same reason.
 * - ‖W_l‖ is the Frobenius norm.
 * - Scoring fits run `scoreIterations` steps (default 5), and only the chosen
 *   block's fit runs ROME's full 20: a full fit per candidate made an edit
 *   cost eight ROME edits on elder-facts.
 */
import type { DecoderLM } from '../../models/decoder.js';
import { kernels } from '../../tensor/backends/index.js';
import { UsageError } from '../../util/errors.js';
import type { EditorResources } from '../common/resources.js';
import { checkBlock } from '../common/sites.js';
import { eachEditAlone } from '../common/train-loop.js';
import type { TokenizedEdit } from '../edit.js';
import type { StepReport } from '../editor.js';
import { ROME_SETTINGS } from '../locate/editor.js';
import { type RomeConfig, RomeEditor } from './rome.js';

export interface WilkeConfig extends Omit<RomeConfig, 'block'> {
  firstBlock: number;
  lastBlock: number;
  /** Steps of the value fit that scores a candidate block. */
  scoreIterations: number;
}

export function defaultWilkeConfig(model: DecoderLM, overrides: Partial<WilkeConfig> = {}): WilkeConfig {
  return { ...ROME_SETTINGS, firstBlock: 0, lastBlock: Math.max(0, model.config.layers - 2), scoreIterations: 5, ...overrides };
}

export class WilkeEditor extends RomeEditor {
  /** The block each edit went to, in stream order. */
  readonly chosenBlocks: number[] = [];
  private readonly candidates: number[];
  private readonly scoreIterations: number;

  constructor(model: DecoderLM, wilke: WilkeConfig, resources: EditorResources) {
    checkBlock(model.config, wilke.firstBlock, 'wilke.firstBlock');
    checkBlock(model.config, wilke.lastBlock, 'wilke.lastBlock');
    if (!Number.isInteger(wilke.scoreIterations) || wilke.scoreIterations < 1)
      throw new UsageError(`wilke.scoreIterations must be a positive integer, got ${wilke.scoreIterations}`);
    if (!(wilke.firstBlock <= wilke.lastBlock))
      throw new UsageError(`wilke.firstBlock (${wilke.firstBlock}) must not exceed wilke.lastBlock (${wilke.lastBlock})`);
    const candidates = Array.from({ length: wilke.lastBlock - wilke.firstBlock + 1 }, (_, i) => wilke.firstBlock + i);
    // The covariances of every candidate block are fetched (measured) once, up front.
    const all = resources.keyCovariances?.(candidates);
    super(model, { ...wilke, block: wilke.firstBlock }, { ...resources, keyCovariances: all && (() => all) }, 'wilke');
    this.candidates = candidates;
    this.scoreIterations = wilke.scoreIterations;
  }

  protected override applyEdits(edits: readonly TokenizedEdit[], onStep?: (report: StepReport) => void): { iterations: number; loss: number } {
    return eachEditAlone(edits, (edit) => {
      let best = { block: this.candidates[0], score: Infinity };
      for (const block of this.candidates) {
        const scored = this.fit(edit, block, onStep, this.scoreIterations);
        const shiftNorm = Math.sqrt(kernels.sumSquares(scored.shift, scored.shift.length));
        if (shiftNorm === 0) continue;
        const score = (shiftNorm * this.weightNormSquared(block)) / Math.max(kernels.sumSquares(scored.key, scored.key.length), 1e-30);
        if (score < best.score) best = { block, score };
      }
      const fitted = this.fit(edit, best.block, onStep);
      this.writeRankOne(edit, best.block, fitted.key, fitted.shift);
      this.chosenBlocks.push(best.block);
      return fitted;
    });
  }

  private weightNormSquared(block: number): number {
    const weight = this.model.parameters.get(`${this.linear(block)}.weight`)!.data;
    return kernels.sumSquares(weight, weight.length);
  }
}
