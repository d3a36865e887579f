/**
 * ROME (Meng et al., NeurIPS 2022, "Locating and Editing Factual
 * Associations in GPT"): each edit is a rank-one update of one block's MLP
 * output projection, W ← W + C⁻¹k ⊗ δ / (kᵀC⁻¹k). k is the projection's input
 * at the subject's last token, averaged over random prefixes; δ moves the
 * projection's output there so that the model emits the new object (v* = v + δ),
 * fitted by Adam with ROME's KL term on "{subject} is a" and weight decay,
 * its norm clamped; C = E[kkᵀ] over the model's training text.
 *
 * What is implemented, and where it departs from the paper:
 * - The block: chosen by causal tracing on elder-facts (`elder trace`: the
 *   indirect effect of restoring the MLP output at the subject's last token,
 *   averaged over facts), recorded in the README (see defaultRomeBlock).
 * - Prefixes: 5 sampled texts of 5 tokens each, closed by end-of-text, and
 *   none (ROME: 10 of 5 and 10 of 10 tokens, joined by ". "): an editor holds
 *   token ids, not text.
 * - The key and the value shift are both averaged over the prefixes, and the
 *   update maps the averaged key (ROME inserts at the unprefixed prompt's key).
 * - C comes from the model's own pretraining mix (`elder covariance`), not
 *   Wikipedia; it is used whole (ROME's `mom2_adjustment`).
 * - Edits apply one at a time, in stream order; nothing is revisited.
 * - The weight decay is ‖δ‖² / ‖v‖² (ROME's code: ‖δ‖ / ‖v‖², at the same
 *   0.5): it kept more edits and more of the other facts.
 * - An edit whose prompt does not contain its subject is refused before
 *   anything is written (locate/subjects.ts).
 * The measurements behind each: docs/evaluation.md#deviations-kept-and-the-measurements-behind-them.
 */
import type { DecoderLM } from '../../models/decoder.js';
import type { EditorResources } from '../common/resources.js';
import { eachEditAlone } from '../common/train-loop.js';
import type { TokenizedEdit } from '../edit.js';
import type { StepReport } from '../editor.js';
import { LocateEditor, type LocateSettings, ROME_SETTINGS, rowNorms } from '../locate/editor.js';
import { fitValueShift, subjectKeys } from '../locate/key-value.js';
import { factorRegularised, rankOneUpdate } from '../locate/solve.js';

export interface RomeConfig extends LocateSettings {
  block: number;
}

/**
 * ROME's block on a model of `layers` blocks. On elder-facts (8 blocks)
 * causal tracing puts the largest indirect effect of the MLP at the
 * subject's last token in block 0 (`elder trace`), and ROME's edits there
 * hold best (docs/evaluation.md#choosing-romes-block-causal-tracing-on-elder-facts).
 * So small models (≤ 12 blocks) default to block 0; deeper ones to ROME's
 * relative depth on GPT-2 XL (17 of 48). Run `elder trace` on another model
 * and pass its block as the `block` setting.
 */
export function defaultRomeBlock(layers: number): number {
  return layers <= 12 ? 0 : Math.round((17 / 48) * layers);
}

export function defaultRomeConfig(model: DecoderLM, overrides: Partial<RomeConfig> = {}): RomeConfig {
  return { ...ROME_SETTINGS, block: defaultRomeBlock(model.config.layers), ...overrides };
}

export class RomeEditor extends LocateEditor {
  private readonly factors = new Map<number, Float64Array>();

  constructor(
    model: DecoderLM,
    readonly config: RomeConfig,
    resources: EditorResources,
    readonly method: string = 'rome',
  ) {
    super(model, config, [config.block], resources, method);
  }

  protected applyEdits(edits: readonly TokenizedEdit[], onStep?: (report: StepReport) => void): { iterations: number; loss: number } {
    return eachEditAlone(edits, (edit) => this.applyAt(edit, this.config.block, onStep));
  }

  /** One edit at `block`: its key, its value shift, the rank-one write. */
  protected applyAt(edit: TokenizedEdit, block: number, onStep?: (report: StepReport) => void): { iterations: number; loss: number } {
    const fitted = this.fit(edit, block, onStep);
    this.writeRankOne(edit, block, fitted.key, fitted.shift);
    return fitted;
  }

  /** The edit's key and fitted value shift at `block`. */
  protected fit(edit: TokenizedEdit, block: number, onStep?: (report: StepReport) => void, iterations = this.config.iterations) {
    const { batch, essence } = this.contexts([edit]);
    const { keys, values } = subjectKeys(this.model, batch, 1, block);
    const fitted = fitValueShift(this.model, batch, essence, 1, block, rowNorms(values, 1), { ...this.config, iterations }, onStep);
    return { key: keys, ...fitted };
  }

  /** The Cholesky factor of block `block`'s key covariance, factored on first use. */
  private covarianceFactor(block: number): Float64Array {
    let factor = this.factors.get(block);
    if (factor === undefined) {
      const { second, width } = this.covariance(block);
      factor = factorRegularised(second, width, `${this.method}: the key covariance of block ${block}`, this.note);
      this.factors.set(block, factor);
    }
    return factor;
  }

  protected writeRankOne(edit: TokenizedEdit, block: number, key: Float32Array, shift: Float32Array): void {
    const delta = rankOneUpdate(this.covarianceFactor(block), key, shift, `${this.method} edit ${edit.id} at block ${block}`);
    this.baseWeightEdits.atomically(() => this.write(block, delta));
  }
}
