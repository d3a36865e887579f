/**
 * FT-L (the fine-tuning baseline of ROME, Meng et al., NeurIPS 2022, used
 * unconstrained as in ELDER's comparison): fine-tunes one FFN weight on each
 * batch in turn. Each batch trains a dense ΔW through a hook (only ΔW needs
 * gradients), then writes it into the base weight through
 * {@link BaseWeightEdits}, which keeps the original so the benchmark can
 * restore the shared model exactly.
 * Defaults: the last of ELDER's blocks, Adam lr 5e-4, 25 iterations
 * (EasyEdit's FT-L settings).
 */

import type { DecoderLM, LinearHook } from '../../models/decoder.js';
import { add } from '../../tensor/ops/arithmetic.js';
import { linear } from '../../tensor/ops/matmul.js';
import { Tensor } from '../../tensor/tensor.js';
import { padTokenId, prepareBatch } from '../common/batch.js';
import { FixedSession } from '../common/session.js';
import { defaultSite, siteShape } from '../common/sites.js';
import { BaseWeightEdits } from '../common/weight-edits.js';
import type { TokenizedEdit } from '../edit.js';
import { type Editor, frozenBlocks, type StepReport, trainThroughHooks } from '../editor.js';

export interface FtlConfig {
  site: string;
  block: number;
  lr: number;
  iterations: number;
}

export function defaultFtlConfig(model: DecoderLM, overrides: Partial<FtlConfig> = {}): FtlConfig {
  const { site, lastBlock } = defaultSite(model);
  return { site, block: lastBlock, lr: 5e-4, iterations: 25, ...overrides };
}

export class FtlEditor implements Editor {
  readonly method = 'ft-l';
  /** The batch being trained: ΔW [in, out], zero between batches (each batch's ΔW is written into the base weight). */
  readonly delta: Tensor;
  readonly baseWeightEdits: BaseWeightEdits;
  private readonly name: string;

  constructor(
    readonly model: DecoderLM,
    readonly config: FtlConfig,
  ) {
    const { inDim, outDim } = siteShape(model, config.site, config.block);
    this.delta = Tensor.zeros([inDim, outDim], true);
    this.name = model.linearName(config.block, config.site);
    this.baseWeightEdits = new BaseWeightEdits(model);
  }

  applyBatch(edits: readonly TokenizedEdit[], onStep?: (report: StepReport) => void): { iterations: number; loss: number } {
    const prepared = prepareBatch(edits, padTokenId(this.model.config));
    const prefix = frozenBlocks(this.model, prepared.tokens, this.config.block);
    const result = trainThroughHooks(this.model, prepared, prefix, this.config.block, [this.delta], () => this.deltaHooks(), this.config, onStep);
    this.baseWeightEdits.addToLinear(this.name, this.delta);
    this.delta.data.fill(0);
    return result;
  }

  /** The edits live in the base weights: inference runs the model as it now is. */
  session(queryRows: Int32Array): FixedSession {
    return new FixedSession(queryRows, () => new Map());
  }

  private deltaHooks(): Map<string, LinearHook> {
    return new Map([[this.name, (input: Tensor, output: Tensor) => add(output, linear(input, this.delta, null, 'in_out'))]]);
  }

  /** The base-weight values it changes (one dense weight), though it adds none beside them. */
  addedParameters(): number {
    return this.delta.size;
  }
}
