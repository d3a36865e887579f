/**
 * LoRA (Hu et al., ICLR 2022) as a lifelong-editing baseline: one adapter of
 * rank r on the edited linear of each of ELDER's blocks, trained on every
 * batch in turn. Nothing routes or defers, so later edits overwrite earlier
 * ones and unrelated inputs change too; that is the point of comparison.
 * Defaults: r = 8, α = 8, Adam lr 1e-4, 50 iterations (ELDER's own budget).
 */

import type { DecoderLM, LinearHook } from '../../models/decoder.js';
import { add } from '../../tensor/ops/arithmetic.js';
import { type LoraExpert, routedLora } from '../../tensor/ops/lora.js';
import { Tensor } from '../../tensor/tensor.js';
import { Random } from '../../util/random.js';
import { padTokenId, prepareBatch } from '../common/batch.js';
import { FixedSession } from '../common/session.js';
import { blockRange, defaultSite, type EditSite, siteShape } from '../common/sites.js';
import type { TokenizedEdit } from '../edit.js';
import { type Editor, frozenBlocks, type StepReport, trainThroughHooks } from '../editor.js';

export interface LoraConfig extends EditSite {
  rank: number;
  alpha: number;
  lr: number;
  iterations: number;
  seed: number;
}

export function defaultLoraConfig(model: DecoderLM, overrides: Partial<LoraConfig> = {}): LoraConfig {
  return { ...defaultSite(model), rank: 8, alpha: 8, lr: 1e-4, iterations: 50, seed: 0, ...overrides };
}

/** A rank-r adapter [in, r]·[r, out] with A uniform(±1/√in) and B = 0, as PEFT initialises it. */
export function newAdapter(inDim: number, outDim: number, rank: number, rng: Random, bound = 1 / Math.sqrt(inDim)): LoraExpert {
  const A = Tensor.zeros([inDim, rank], true);
  for (let i = 0; i < A.size; i++) A.data[i] = (rng.uniform() * 2 - 1) * bound;
  return { A, B: Tensor.zeros([rank, outDim], true) };
}

/** delta = scale · (x·A)·B for every sequence of a [B, T, in] input. */
export function applyAdapter(input: Tensor, output: Tensor, adapter: LoraExpert, scale: number): Tensor {
  const batch = input.shape[0];
  const gates = Tensor.zeros([batch, 1]);
  gates.data.fill(1);
  return add(output, routedLora(input, [adapter], gates, new Int32Array(batch), 1, scale));
}

export class LoraEditor implements Editor {
  readonly method = 'lora';
  readonly adapters: Map<string, LoraExpert>;

  constructor(
    readonly model: DecoderLM,
    readonly config: LoraConfig,
  ) {
    const rng = new Random(config.seed);
    this.adapters = new Map(
      blockRange(config).map((block) => {
        const { inDim, outDim } = siteShape(model, config.site, block);
        return [model.linearName(block, config.site), newAdapter(inDim, outDim, config.rank, rng)];
      }),
    );
  }

  applyBatch(edits: readonly TokenizedEdit[], onStep?: (report: StepReport) => void): { iterations: number; loss: number } {
    const prepared = prepareBatch(edits, padTokenId(this.model.config));
    const params = [...this.adapters.values()].flatMap(({ A, B }) => [A, B]);
    const prefix = frozenBlocks(this.model, prepared.tokens, this.config.firstBlock);
    return trainThroughHooks(this.model, prepared, prefix, this.config.firstBlock, params, () => this.adapterHooks(), this.config, onStep);
  }

  session(queryRows: Int32Array): FixedSession {
    return new FixedSession(queryRows, () => this.adapterHooks());
  }

  private adapterHooks(): Map<string, LinearHook> {
    const scale = this.config.alpha / this.config.rank;
    const hooks = new Map<string, LinearHook>();
    for (const [name, adapter] of this.adapters) hooks.set(name, (input, output) => applyAdapter(input, output, adapter, scale));
    return hooks;
  }

  addedParameters(): number {
    let count = 0;
    for (const { A, B } of this.adapters.values()) count += A.size + B.size;
    return count;
  }
}
