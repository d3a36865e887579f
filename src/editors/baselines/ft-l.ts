/**
 * FT-L (the fine-tuning baseline of ROME, Meng et al., NeurIPS 2022, used
 * unconstrained as in ELDER's comparison): fine-tunes one FFN weight on each
 * batch in turn. The change is kept as a dense ΔW added through a hook, which
 * is exactly fine-tuning W (W + ΔW) without writing the shared base weights.
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
import type { TokenizedEdit } from '../edit.js';
import { type Editor, frozenBlocks, type StepReport, trainThroughHooks } from '../editor.js';

export interface FtlConfig {
  site: string;
  layer: number;
  lr: number;
  iterations: number;
}

export function defaultFtlConfig(model: DecoderLM, overrides: Partial<FtlConfig> = {}): FtlConfig {
  const { site, lastLayer } = defaultSite(model);
  return { site, layer: lastLayer, lr: 5e-4, iterations: 25, ...overrides };
}

export class FtlEditor implements Editor {
  readonly method = 'ft-l';
  /** ΔW [in, out]. */
  readonly delta: Tensor;
  private readonly name: string;

  constructor(
    readonly model: DecoderLM,
    readonly config: FtlConfig,
  ) {
    const { inDim, outDim } = siteShape(model, config.site, config.layer);
    this.delta = Tensor.zeros([inDim, outDim], true);
    this.name = model.linearName(config.layer, config.site);
  }

  applyBatch(edits: readonly TokenizedEdit[], onStep?: (report: StepReport) => void): { iterations: number; loss: number } {
    const prepared = prepareBatch(edits, padTokenId(this.model.config));
    const prefix = frozenBlocks(this.model, prepared.tokens, this.config.layer);
    return trainThroughHooks(this.model, prepared, prefix, this.config.layer, [this.delta], () => this.deltaHooks(), this.config, onStep);
  }

  session(queryRows: Int32Array): FixedSession {
    return new FixedSession(queryRows, () => this.deltaHooks());
  }

  private deltaHooks(): Map<string, LinearHook> {
    return new Map([[this.name, (input: Tensor, output: Tensor) => add(output, linear(input, this.delta, null, 'in_out'))]]);
  }

  addedParameters(): number {
    return this.delta.size;
  }
}
