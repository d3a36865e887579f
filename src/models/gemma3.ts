/**
 * Gemma 3 (text) as Hugging Face stores it: the LLaMA family's projections,
 * with embeddings scaled by √width, RMSNorms that scale by (1 + weight), four
 * norms per block (the attention's and the MLP's outputs are normed before
 * their residual add), per-head q/k norms before RoPE, attention scaled by
 * query_pre_attn_scalar^-1/2, sliding blocks (a window of keys, a local RoPE
 * base) between full ones, and a GeGLU (tanh) MLP.
 */

import { add, addScalar, scale } from '../tensor/ops/arithmetic.js';
import { attention } from '../tensor/ops/attention.js';
import { geglu } from '../tensor/ops/geglu.js';
import { rmsNorm } from '../tensor/ops/rmsnorm.js';
import { RopeTable, rope } from '../tensor/ops/rope.js';
import { selectRows } from '../tensor/ops/select.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Gemma3Settings, ModelConfig } from './config.js';
import type { ForwardOptions, LinearWeights, WeightSource } from './decoder.js';
import { LlamaFamilyModel, SEPARATE_PROJECTIONS } from './llama-family.js';

interface Gemma3Block {
  inputNorm: Tensor;
  q: LinearWeights;
  k: LinearWeights;
  v: LinearWeights;
  o: LinearWeights;
  qNorm: Tensor;
  kNorm: Tensor;
  postAttentionNorm: Tensor;
  preFeedforwardNorm: Tensor;
  postFeedforwardNorm: Tensor;
  gate: LinearWeights;
  up: LinearWeights;
  down: LinearWeights;
}

export class Gemma3Model extends LlamaFamilyModel {
  readonly blockLinears = SEPARATE_PROJECTIONS;
  readonly tokenEmbedding: Tensor;
  readonly blocks: Gemma3Block[];
  readonly norm: Tensor;
  readonly outputWeight: Tensor;
  /** RoPE of the full blocks (rope_theta, with its scaling) and of the sliding ones (the local base). */
  readonly globalRope: RopeTable;
  readonly localRope: RopeTable;
  private readonly gemma: Gemma3Settings;

  constructor(config: ModelConfig, source: WeightSource) {
    super(config);
    const { vocabSize, width, ffnWidth, layers, heads, kvHeads, headDim } = config;
    this.gemma = config.gemma3!;
    // Gemma's norms scale by (1 + weight): a fresh model's weights start at 0.
    const p = (name: string, shape: number[], init: 'normal' | 'ones' | 'zeros' = 'normal') => this.param(source, name, shape, init);
    const proj = (name: string, inDim: number, outDim: number) => this.linearWeights(source, name, inDim, outDim);

    this.tokenEmbedding = p('model.embed_tokens.weight', [vocabSize, width]);
    this.blocks = Array.from({ length: layers }, (_, i) => {
      const prefix = `model.layers.${i}`;
      return {
        inputNorm: p(`${prefix}.input_layernorm.weight`, [width], 'zeros'),
        q: proj(`${prefix}.self_attn.q_proj`, width, heads * headDim),
        k: proj(`${prefix}.self_attn.k_proj`, width, kvHeads * headDim),
        v: proj(`${prefix}.self_attn.v_proj`, width, kvHeads * headDim),
        o: proj(`${prefix}.self_attn.o_proj`, heads * headDim, width),
        qNorm: p(`${prefix}.self_attn.q_norm.weight`, [headDim], 'zeros'),
        kNorm: p(`${prefix}.self_attn.k_norm.weight`, [headDim], 'zeros'),
        postAttentionNorm: p(`${prefix}.post_attention_layernorm.weight`, [width], 'zeros'),
        preFeedforwardNorm: p(`${prefix}.pre_feedforward_layernorm.weight`, [width], 'zeros'),
        postFeedforwardNorm: p(`${prefix}.post_feedforward_layernorm.weight`, [width], 'zeros'),
        gate: proj(`${prefix}.mlp.gate_proj`, width, ffnWidth),
        up: proj(`${prefix}.mlp.up_proj`, width, ffnWidth),
        down: proj(`${prefix}.mlp.down_proj`, ffnWidth, width),
      };
    });
    this.norm = p('model.norm.weight', [width], 'zeros');
    this.outputWeight = config.tiedEmbeddings ? this.tokenEmbedding : p('lm_head.weight', [vocabSize, width]);
    this.globalRope = new RopeTable(headDim, config.ropeTheta, config.contextLength, config.ropeScaling);
    this.localRope = new RopeTable(headDim, this.gemma.localRopeTheta, config.contextLength);
  }

  /** Token embeddings times √width (rounded to float32, as Gemma computes the factor). */
  override embed(ids: Int32Array, batch: number, steps: number): Tensor {
    return scale(super.embed(ids, batch, steps), Math.fround(Math.sqrt(this.config.width)));
  }

  block(layer: number, x: Tensor, options: ForwardOptions, rows?: Int32Array): Tensor {
    const { heads, kvHeads, headDim } = this.config;
    const w = this.blocks[layer];
    const startPos = options.startPos ?? 0;
    const window = this.gemma.windows[layer];
    const table = window > 0 ? this.localRope : this.globalRope;

    // Attention: x + norm(o_proj(attention(rope(norm(q)), rope(norm(k)), v))) on norm(x)
    const normed = this.norm1p(x, w.inputNorm);
    const q = rope(this.perHead(this.project(layer, 'self_attn.q_proj', w.q, normed, options), w.qNorm), table, heads, startPos);
    const k = rope(this.perHead(this.project(layer, 'self_attn.k_proj', w.k, normed, options), w.kNorm), table, kvHeads, startPos);
    const v = this.project(layer, 'self_attn.v_proj', w.v, normed, options);
    const shape = { heads, kvHeads, headDim, scale: this.gemma.queryPreAttnScalar ** -0.5, window };
    const attended = attention(q, k, v, shape, options.caches?.[layer]);
    // Below, only `rows` (when asked): every row was needed above as a key and value.
    const residual = rows === undefined ? x : selectRows(x, rows);
    const attendedAtRows = rows === undefined ? attended : selectRows(attended, rows);
    const afterAttention = add(residual, this.norm1p(this.project(layer, 'self_attn.o_proj', w.o, attendedAtRows, options), w.postAttentionNorm));

    // GeGLU MLP: x + norm(down_proj(gelu_tanh(gate_proj(h)) ⊙ up_proj(h))) on h = norm(x)
    const normed2 = this.norm1p(afterAttention, w.preFeedforwardNorm);
    const gate = this.project(layer, 'mlp.gate_proj', w.gate, normed2, options);
    const up = this.project(layer, 'mlp.up_proj', w.up, normed2, options);
    const mlp = this.project(layer, 'mlp.down_proj', w.down, geglu(gate, up), options);
    return add(afterAttention, this.norm1p(mlp, w.postFeedforwardNorm));
  }

  /** Gemma's RMSNorm: x / rms(x) · (1 + weight). */
  private norm1p(x: Tensor, weight: Tensor): Tensor {
    return rmsNorm(x, addScalar(weight, 1), this.config.normEps);
  }

  /** Queries or keys [..., heads · headDim] through Gemma's RMSNorm over each head. */
  private perHead(x: Tensor, weight: Tensor): Tensor {
    return this.norm1p(x.reshape([-1, this.config.headDim]), weight).reshape(x.shape);
  }

  override finalNorm(hidden: Tensor): Tensor {
    return this.norm1p(hidden, this.norm);
  }
}
