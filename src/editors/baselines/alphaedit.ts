/**
 * AlphaEdit (Fang et al., ICLR 2025, "AlphaEdit: Null-Space Constrained
 * Knowledge Editing for Language Models"): MEMIT's update projected onto the
 * null space of the preserved knowledge's keys, so that what the model knew
 * maps to the same values after any number of edits. P = ÛÛᵀ, Û the
 * eigenvectors of C = E[kkᵀ] whose eigenvalue is below a threshold; each
 * block's update solves
 *   Δ = Û (Ûᵀ(KᵀK + K̃ᵀK̃)Û + l2·I)⁻¹ Ûᵀ Kᵀ R,
 * K̃ the keys of every earlier edit at that block (the paper's sequential
 * form), with MEMIT's residual split over the blocks.
 *
 * What is implemented, and where it departs from the paper:
 * - The solve runs in null-space coordinates (symmetric positive definite,
 *   Cholesky) rather than the paper's non-symmetric P(…)+l2·I system; both
 *   give the same Δ, since the paper's solution lies in P's range.
 * - Threshold: an absolute 2e-2 as in the paper's GPT2-XL settings, on C of
 *   the model's own pretraining mix (`elder covariance`), not a share of C's
 *   energy (the maintainers' advice), which leaves too few directions to
 *   write an edit.
 * - C over the pretraining mix, fact sentences included (each 6 times, as
 *   pretraining saw them): over general text alone the facts the model
 *   knows lose their protection.
 * - l2 = 1, not the paper's 10: the ridge is in squared-key units, and
 *   elder-facts' keys carry little energy in the null space.
 * - Blocks, prefixes, value shift and clamp as in memit.ts.
 * The measurements behind each: docs/evaluation.md#deviations-kept-and-the-measurements-behind-them.
 */
import type { DecoderLM } from '../../models/decoder.js';
import { UsageError } from '../../util/errors.js';
import type { EditorResources } from '../common/resources.js';
import { nullSpaceBasis, projectedUpdate } from '../locate/solve.js';
import { defaultMemitConfig, type MemitConfig, SpreadEditor } from './memit.js';

export interface AlphaEditConfig extends MemitConfig {
  /** Eigenvalues of C below this span the null space (the paper: 2e-2). */
  nullSpaceThreshold: number;
  /** Ridge of the projected solve (the paper's L2: 10). */
  l2: number;
}

export function defaultAlphaEditConfig(model: DecoderLM, overrides: Partial<AlphaEditConfig> = {}): AlphaEditConfig {
  return { ...defaultMemitConfig(model), nullSpaceThreshold: 2e-2, l2: 1, ...overrides };
}

interface NullSpace {
  basis: Float32Array;
  dimension: number;
  /** Ûᵀ K̃ᵀK̃ Û over every earlier edit's keys. */
  accumulated: Float64Array;
}

export class AlphaEditEditor extends SpreadEditor {
  private readonly spaces = new Map<number, NullSpace>();

  constructor(
    model: DecoderLM,
    readonly alpha: AlphaEditConfig,
    resources: EditorResources,
  ) {
    if (!(Number.isFinite(alpha.nullSpaceThreshold) && alpha.nullSpaceThreshold > 0))
      throw new UsageError(`alphaedit.nullSpaceThreshold must be a positive number, got ${alpha.nullSpaceThreshold}`);
    if (!(Number.isFinite(alpha.l2) && alpha.l2 > 0)) throw new UsageError(`alphaedit.l2 must be a positive number, got ${alpha.l2}`);
    super(model, alpha, resources, 'alphaedit');
    for (const block of this.blocks) {
      const covariance = this.covariance(block);
      const { basis, dimension } = nullSpaceBasis(covariance.second, covariance.width, alpha.nullSpaceThreshold);
      if (dimension === 0) {
        throw new UsageError(`alphaedit: no eigenvalue of block ${block}'s key covariance is below ${alpha.nullSpaceThreshold}; raise nullSpaceThreshold`);
      }
      this.spaces.set(block, { basis, dimension, accumulated: new Float64Array(dimension * dimension) });
    }
  }

  /** Null-space dimension of each edited block. */
  nullSpaceDimensions(): Map<number, number> {
    return new Map([...this.spaces].map(([block, space]) => [block, space.dimension]));
  }

  protected solve(block: number, keys: Float32Array, residuals: Float32Array, n: number, what: string): { delta: Float32Array; commit: () => void } {
    const space = this.spaces.get(block)!;
    const { delta, gram } = projectedUpdate(space.basis, space.dimension, space.accumulated, this.alpha.l2, keys, residuals, n, what, this.note);
    return {
      delta,
      commit: () => {
        for (let i = 0; i < gram.length; i++) space.accumulated[i] += gram[i];
      },
    };
  }
}
