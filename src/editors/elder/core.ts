/**
 * ELDER's core (Li et al., AAAI 2025): the mixture of LoRA experts on one
 * linear per edited block and its routers. The core routes router queries to
 * codes and computes a batch's losses,
 *   L = L_model + λ · Σ_blocks −Σ_k log s[allocation]   (averaged over the batch),
 * from the frozen part of its forward pass and the allocations it is given.
 * It keeps no edits: the allocations, the codebook and the replay memory
 * belong to the editor.
 */
import { lossOnRows } from '../../models/batch.js';
import type { DecoderLM } from '../../models/decoder.js';
import { add, scale } from '../../tensor/ops/arithmetic.js';
import { noGrad, Tensor } from '../../tensor/tensor.js';
import { type PreparedBatch, padTokenId } from '../common/batch.js';
import { loadBalanceLoss } from './balance-loss.js';
import { codeWords, encodeCode } from './codebook.js';
import { type CoreConfig, editedBlocks, querySiteOf } from './core-config.js';
import { guidedLoss } from './guided-loss.js';
import { MixtureOfLora } from './mixture.js';
import type { Routing } from './router.js';

/** The frozen part of a batch: hidden state entering the first edited block, and the router query at each last prompt token. */
export interface FrozenPrefix {
  hidden: Tensor;
  query: Tensor;
  /** The first edited block's products that do not change while a batch trains (none when the batch changes per iteration, as with replay). */
  frozenOutputs?: ReadonlyMap<string, Tensor>;
}

export interface BatchLosses {
  total: Tensor;
  modelLoss: Tensor;
  /** Σ over blocks of the configured routing loss (guided, load-balancing, or 0). */
  routingLoss: Tensor;
  routing: Routing;
  /** The argmax at each target row. */
  predictions: Int32Array;
  /** The target token of each target row. */
  targets: Int32Array;
}

/** The experts one sequence was routed to in each edited block, and their packed code. */
export interface RoutedCode {
  experts: number[][];
  code: Uint32Array;
}

export class ElderCore {
  /** The edited blocks, in the order of each code's layers. */
  readonly blocks: number[];
  /** Module name of the linear whose input is the router query. */
  readonly querySite: string;
  /** 32-bit words per code. */
  readonly codeWords: number;

  constructor(
    readonly model: DecoderLM,
    readonly config: CoreConfig,
    readonly mixture: MixtureOfLora = new MixtureOfLora(config, model),
  ) {
    this.blocks = editedBlocks(config);
    this.querySite = querySiteOf(model, config);
    this.codeWords = codeWords(this.blocks.length, config.experts);
  }

  get padId(): number {
    return padTokenId(this.model.config);
  }

  /** Module names of the edited linears, in block order. */
  get editedSites(): string[] {
    return this.blocks.map((block) => this.model.linearName(block, this.config.site));
  }

  /** Routes router queries [B, in] without gradient. */
  route(query: Tensor): Routing {
    return noGrad(() => this.mixture.route(query));
  }

  /** The experts sequence `b` was routed to in each edited block, and its packed code. */
  codeOf(routing: Routing, b: number): RoutedCode {
    const k = this.config.topK;
    const experts = routing.selection.map((sel) => Array.from(sel.subarray(b * k, (b + 1) * k)));
    return { experts, code: encodeCode(experts, this.config.experts) };
  }

  /** The codes the routers give router queries now, in chunks of 256. */
  codesOfQueries(queries: readonly Float32Array[]): Uint32Array[] {
    const codes: Uint32Array[] = [];
    for (let start = 0; start < queries.length; start += 256) {
      const chunk = queries.slice(start, start + 256);
      const inDim = chunk[0].length;
      const stacked = Tensor.zeros([chunk.length, inDim]);
      chunk.forEach((q, b) => {
        stacked.data.set(q, b * inDim);
      });
      const routing = this.route(stacked);
      chunk.forEach((_, b) => {
        codes.push(this.codeOf(routing, b).code);
      });
    }
    return codes;
  }

  /**
   * One forward pass of the trainable part: model loss on the target rows,
   * the routing loss, their total. `throughPresets`: train through each
   * label's allocation (gated by the router's scores for it) instead of the
   * router's top-k.
   */
  batchLosses(prepared: PreparedBatch, prefix: FrozenPrefix, presets: Int32Array[], throughPresets: boolean): BatchLosses {
    const { model, config } = this;
    const routed = this.mixture.route(prefix.query);
    const routing = throughPresets ? { ...routed, selection: presets } : routed;
    const atTargets = model.hiddenAtRows(prefix.hidden, config.firstBlock, prepared.targets.rows, {
      hooks: this.mixture.hooks(model, routing),
      frozenOutputs: prefix.frozenOutputs,
    });
    const { loss, predictions } = lossOnRows(model, atTargets, prepared.targets.targets);
    const targets = prepared.targets.targets;
    if (config.routingLoss === 'none') return { total: loss, modelLoss: loss, routingLoss: Tensor.zeros([1]), routing, predictions, targets };
    const blockLoss = (i: number) =>
      config.routingLoss === 'guided'
        ? guidedLoss(routing.logits[i], presets[i], config.topK)
        : loadBalanceLoss(routing.scores[i], routing.selection[i], config.topK);
    let routingLoss = blockLoss(0);
    for (let i = 1; i < routing.logits.length; i++) routingLoss = add(routingLoss, blockLoss(i));
    return { total: add(loss, scale(routingLoss, config.lambda)), modelLoss: loss, routingLoss, routing, predictions, targets };
  }
}
