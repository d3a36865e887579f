/**
 * GPT-2 (Radford et al., 2019) as Hugging Face stores it: Conv1D weights
 * [in, out], learned positions, pre-norm blocks, GELU-tanh, tied LM head.
 */

import { add } from '../tensor/ops/arithmetic.js';
import { fusedAttention } from '../tensor/ops/attention.js';
import { embedding } from '../tensor/ops/embedding.js';
import { gelu } from '../tensor/ops/gelu.js';
import { layerNorm } from '../tensor/ops/layernorm.js';
import { selectRows } from '../tensor/ops/select.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ModelConfig } from './config.js';
import { DecoderLM, type ForwardOptions, type LinearWeights, type WeightSource } from './decoder.js';

interface Norm {
  weight: Tensor;
  bias: Tensor;
}

interface Gpt2Block {
  ln1: Norm;
  attnQkv: LinearWeights;
  attnOut: LinearWeights;
  ln2: Norm;
  mlpUp: LinearWeights;
  mlpDown: LinearWeights;
}

export class Gpt2Model extends DecoderLM {
  protected readonly layout = 'in_out' as const;
  readonly blockLinears = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const;
  readonly tokenEmbedding: Tensor;
  readonly positionEmbedding: Tensor;
  readonly blocks: Gpt2Block[];
  readonly lnFinal: Norm;

  constructor(config: ModelConfig, source: WeightSource) {
    super(config);
    const { vocabSize, contextLength, width, ffnWidth, layers } = config;
    const p = (name: string, shape: number[], init: 'normal' | 'ones' | 'zeros' = 'normal') => this.param(source, `transformer.${name}`, shape, init);
    const norm = (name: string): Norm => ({ weight: p(`${name}.weight`, [width], 'ones'), bias: p(`${name}.bias`, [width], 'zeros') });
    const conv1d = (name: string, inDim: number, outDim: number): LinearWeights => ({
      weight: p(`${name}.weight`, [inDim, outDim]),
      bias: p(`${name}.bias`, [outDim], 'zeros'),
    });

    this.tokenEmbedding = p('wte.weight', [vocabSize, width]);
    this.positionEmbedding = p('wpe.weight', [contextLength, width]);
    this.blocks = Array.from({ length: layers }, (_, i) => ({
      ln1: norm(`h.${i}.ln_1`),
      attnQkv: conv1d(`h.${i}.attn.c_attn`, width, 3 * width),
      attnOut: conv1d(`h.${i}.attn.c_proj`, width, width),
      ln2: norm(`h.${i}.ln_2`),
      mlpUp: conv1d(`h.${i}.mlp.c_fc`, width, ffnWidth),
      mlpDown: conv1d(`h.${i}.mlp.c_proj`, ffnWidth, width),
    }));
    this.lnFinal = norm('ln_f');
  }

  linearName(layer: number, local: string): string {
    return `transformer.h.${layer}.${local}`;
  }

  embed(ids: Int32Array, batch: number, steps: number, startPos: number): Tensor {
    const positions = new Int32Array(batch * steps);
    for (let b = 0; b < batch; b++) for (let t = 0; t < steps; t++) positions[b * steps + t] = startPos + t;
    const tokens = embedding(this.tokenEmbedding, ids, [batch, steps]);
    return add(tokens, embedding(this.positionEmbedding, positions, [batch, steps]));
  }

  block(layer: number, x: Tensor, options: ForwardOptions, rows?: Int32Array): Tensor {
    const { heads, headDim, normEps } = this.config;
    const w = this.blocks[layer];

    // Attention sub-block: x + c_proj(attention(c_attn(ln_1(x)))), q, k and v read in place from c_attn's output
    const normed = layerNorm(x, w.ln1.weight, w.ln1.bias, normEps);
    const qkv = this.project(layer, 'attn.c_attn', w.attnQkv, normed, options);
    const attended = fusedAttention(qkv, { heads, kvHeads: heads, headDim }, options.caches?.[layer]);
    // Below, only `rows` (when asked): every row was needed above as a key and value.
    const residual = rows === undefined ? x : selectRows(x, rows);
    const attendedAtRows = rows === undefined ? attended : selectRows(attended, rows);
    const afterAttention = add(residual, this.project(layer, 'attn.c_proj', w.attnOut, attendedAtRows, options));

    // MLP sub-block: x + c_proj(gelu(c_fc(ln_2(x))))
    const normed2 = layerNorm(afterAttention, w.ln2.weight, w.ln2.bias, normEps);
    const up = gelu(this.project(layer, 'mlp.c_fc', w.mlpUp, normed2, options));
    return add(afterAttention, this.project(layer, 'mlp.c_proj', w.mlpDown, up, options));
  }

  finalNorm(hidden: Tensor): Tensor {
    return layerNorm(hidden, this.lnFinal.weight, this.lnFinal.bias, this.config.normEps);
  }

  /** Tied head: logits = h · wteᵀ, wte stored [vocab, width] = [out, in]. */
  get lmHeadWeight(): Tensor {
    return this.tokenEmbedding;
  }
}
