/**
 * What GPT-2 and LLaMA share: embeddings → blocks → final norm → LM head, a
 * hook point on every linear layer's output, and the ability to run any
 * range of blocks on a given hidden state (so an editor can compute the
 * frozen layers below its first edited block once and reuse them).
 */

import { KVCache } from '../tensor/ops/attention.js';
import { linear, type WeightLayout } from '../tensor/ops/matmul.js';
import { selectRows } from '../tensor/ops/select.js';
import { noGrad, type Tensor } from '../tensor/tensor.js';
import { InputError, ShapeError } from '../util/errors.js';
import type { ModelConfig } from './config.js';
import { layoutOf, linearWidths, type ModelLayout } from './layout.js';

/**
 * Called with a linear layer's input and output; returns the output to use
 * (the same tensor to observe, a new one to modify). Hooks are keyed by the
 * Hugging Face module name, e.g. `transformer.h.3.mlp.c_fc`.
 */
export type LinearHook = (input: Tensor, output: Tensor) => Tensor;

export interface ForwardOptions {
  /** Position of the first token; with KV caches, the number of tokens already cached. */
  startPos?: number;
  /** One cache per layer, for incremental decoding (inference only). */
  caches?: KVCache[];
  hooks?: ReadonlyMap<string, LinearHook>;
  /**
   * Base outputs of linears (by module name) whose input and weight do not
   * change between the passes that share them ({@link DecoderLM.frozenLinearOutputs}):
   * used in place of the product, and still passed through the linear's hook.
   */
  frozenOutputs?: ReadonlyMap<string, Tensor>;
}

/** A linear layer's parameters. */
export interface LinearWeights {
  weight: Tensor;
  bias: Tensor | null;
}

/** Where weights come from: a checkpoint, or a random initialiser. */
export type WeightSource = (name: string, shape: readonly number[], init: 'normal' | 'ones' | 'zeros') => Tensor;

export abstract class DecoderLM {
  /** Every parameter under its Hugging Face name (tied weights appear once). */
  readonly parameters = new Map<string, Tensor>();

  constructor(readonly config: ModelConfig) {}

  /** How this architecture stores linear weights. */
  protected abstract readonly layout: WeightLayout;

  /** Where this architecture keeps what editors read and write ({@link ModelLayout}). */
  get modules(): ModelLayout {
    return layoutOf(this.config);
  }

  /** Input and output widths of block `layer`'s linear `local`; a ShapeError names the block's linears when it has no such one. */
  linearShape(layer: number, local: string): { inDim: number; outDim: number } {
    const weight = this.parameters.get(`${this.linearName(layer, local)}.weight`);
    if (weight === undefined) throw new ShapeError(`"${local}" is not a linear layer of block ${layer} (${this.blockLinears.join(', ')})`);
    return linearWidths(this.layout, weight.shape);
  }
  /** Token (and position) embeddings of ids [B·T] for positions startPos…startPos+T-1. */
  abstract embed(ids: Int32Array, batch: number, steps: number, startPos: number): Tensor;
  /**
   * Transformer block `layer` on hidden [B, T, width]. With `rows` (flat
   * indices into B·T) it returns only those rows' outputs, [rows, width]:
   * attention still reads every row's keys and values, but everything after
   * it runs at `rows` alone.
   */
  abstract block(layer: number, hidden: Tensor, options: ForwardOptions, rows?: Int32Array): Tensor;
  abstract finalNorm(hidden: Tensor): Tensor;
  /** The LM head's weight, [vocab, width] (GPT-2 ties it to the token embedding). */
  abstract readonly lmHeadWeight: Tensor;
  /** Hugging Face module name of a block's linear layer, e.g. (3, 'mlp.c_fc') → 'transformer.h.3.mlp.c_fc'. */
  abstract linearName(layer: number, local: string): string;
  /** Local names of each block's linear layers. */
  abstract readonly blockLinears: readonly string[];

  /** Registers and returns a parameter taken from the weight source. */
  protected param(source: WeightSource, name: string, shape: readonly number[], init: 'normal' | 'ones' | 'zeros' = 'normal'): Tensor {
    const tensor = source(name, shape, init);
    this.parameters.set(name, tensor);
    return tensor;
  }

  /** A linear layer of block `layer`, through its hook if one is registered. */
  protected project(layer: number, local: string, weights: LinearWeights, x: Tensor, options: ForwardOptions): Tensor {
    const name = this.linearName(layer, local);
    const frozen = options.frozenOutputs?.get(name);
    // A stored output stands in only for the rows it was computed at (not the top block's few rows).
    const out = frozen !== undefined && frozen.rows === x.rows ? frozen : linear(x, weights.weight, weights.bias, this.layout);
    const hook = options.hooks?.get(name);
    return hook === undefined ? out : hook(x, out);
  }

  /** Logits [N, vocab] for hidden rows [N, width] (after the final norm): rows·lmHeadWeightᵀ. */
  lmHead(rows: Tensor): Tensor {
    return linear(rows, this.lmHeadWeight, null, 'out_in');
  }

  /** Fails with a clear message when a sequence does not fit the context window. */
  checkLength(tokens: number, startPos = 0): void {
    if (startPos + tokens > this.config.contextLength) {
      throw new InputError(`input of ${startPos + tokens} tokens exceeds the model's context of ${this.config.contextLength} tokens`);
    }
  }

  /** Blocks [from, to) on a hidden state. */
  runBlocks(hidden: Tensor, from: number, to: number, options: ForwardOptions = {}): Tensor {
    let h = hidden;
    for (let layer = from; layer < to; layer++) h = this.block(layer, h, options);
    return h;
  }

  /**
   * The base outputs of block `layer`'s linears on `hidden`, up to and
   * including the first linear that `hooked` names: with frozen weights and
   * an unchanging `hidden` (the state an editor computes once below its
   * first edited block), these are the same in every iteration, and so is
   * the input of the first hooked linear. Everything after it depends on the
   * hook. Pass the result as {@link ForwardOptions.frozenOutputs}. For
   * ELDER on GPT-2 (hook on `mlp.c_fc`) that is three of the block's four
   * products; on LLaMA (hook on `mlp.down_proj`) all seven.
   */
  frozenLinearOutputs(hidden: Tensor, layer: number, hooked: ReadonlySet<string>): Map<string, Tensor> {
    const locals = this.blockLinears.map((local) => this.linearName(layer, local));
    const last = locals.findIndex((name) => hooked.has(name));
    const recorded = new Map<string, Tensor>();
    if (last < 0) return recorded;
    const recorders = new Map<string, LinearHook>(
      locals.slice(0, last + 1).map((name): [string, LinearHook] => [
        name,
        (_input, output) => {
          recorded.set(name, output);
          return output;
        },
      ]),
    );
    noGrad(() => this.block(layer, hidden, { hooks: recorders }));
    return recorded;
  }

  /**
   * Final-norm hidden states at `rows` (flat indices into B·T) after blocks
   * [from, layers) on `hidden`: what a loss on a few target rows needs. The
   * top block runs its output projection and MLP at `rows` only (a quarter
   * of its work for an edit batch's target rows), unless a hook watches one
   * of its linears, which then sees the whole batch as usual.
   */
  hiddenAtRows(hidden: Tensor, from: number, rows: Int32Array, options: ForwardOptions = {}): Tensor {
    const top = this.config.layers - 1;
    const below = this.runBlocks(hidden, from, top, options);
    const hooked = this.blockLinears.some((local) => options.hooks?.has(this.linearName(top, local)));
    if (from > top || hooked) return this.finalNorm(selectRows(this.runBlocks(below, Math.max(from, top), top + 1, options), rows));
    return this.finalNorm(this.block(top, below, options, rows));
  }

  /** Final-norm hidden states [B, T, width] for token ids [B·T]. */
  hiddenStates(ids: Int32Array, batch: number, steps: number, options: ForwardOptions = {}): Tensor {
    const startPos = options.startPos ?? 0;
    this.checkLength(steps, startPos);
    const embedded = this.embed(ids, batch, steps, startPos);
    return this.finalNorm(this.runBlocks(embedded, 0, this.config.layers, options));
  }

  /** Logits [B, T, vocab] at every position. */
  forward(ids: Int32Array, batch: number, steps: number, options: ForwardOptions = {}): Tensor {
    const hidden = this.hiddenStates(ids, batch, steps, options);
    return this.lmHead(hidden.reshape([batch * steps, this.config.width])).reshape([batch, steps, this.config.vocabSize]);
  }

  /** Empty KV caches for `batch` sequences of up to `capacity` positions. */
  createCaches(batch: number, capacity: number): KVCache[] {
    const kvWidth = this.config.kvHeads * this.config.headDim;
    return Array.from({ length: this.config.layers }, () => new KVCache(batch, capacity, kvWidth));
  }

  parameterCount(): number {
    let count = 0;
    for (const tensor of this.parameters.values()) count += tensor.size;
    return count;
  }

  /** Freezes (or unfreezes) every base weight. */
  setRequiresGrad(requiresGrad: boolean): void {
    for (const tensor of this.parameters.values()) tensor.requiresGrad = requiresGrad;
  }
}
