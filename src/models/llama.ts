/**
 * The LLaMA family (LLaMA 1–3, TinyLlama, SmolLM, Mistral-style configs,
 * Qwen2/2.5) as Hugging Face stores it: nn.Linear weights [out, in], RMSNorm,
 * rotary positions (rotate-half, optionally rescaled), grouped-query
 * attention, SwiGLU MLP; Qwen2 adds biases to the q, k and v projections,
 * Qwen3 an RMSNorm over each head of the queries and keys before RoPE.
 */

import { add } from '../tensor/ops/arithmetic.js';
import { attention } from '../tensor/ops/attention.js';
import { rmsNorm } from '../tensor/ops/rmsnorm.js';
import { RopeTable, rope } from '../tensor/ops/rope.js';
import { selectRows } from '../tensor/ops/select.js';
import { swiglu } from '../tensor/ops/swiglu.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ModelConfig } from './config.js';
import type { ForwardOptions, LinearWeights, WeightSource } from './decoder.js';
import { LlamaFamilyModel, SEPARATE_PROJECTIONS } from './llama-family.js';

interface LlamaBlock {
  inputNorm: Tensor;
  q: LinearWeights;
  k: LinearWeights;
  /** Per-head norms of queries and keys (Qwen3), or null. */
  qNorm: Tensor | null;
  kNorm: Tensor | null;
  v: LinearWeights;
  o: LinearWeights;
  postAttentionNorm: Tensor;
  gate: LinearWeights;
  up: LinearWeights;
  down: LinearWeights;
}

export class LlamaModel extends LlamaFamilyModel {
  readonly blockLinears = SEPARATE_PROJECTIONS;
  readonly tokenEmbedding: Tensor;
  readonly blocks: LlamaBlock[];
  readonly norm: Tensor;
  readonly outputWeight: Tensor;
  readonly rope: RopeTable;

  constructor(config: ModelConfig, source: WeightSource) {
    super(config);
    const { vocabSize, width, ffnWidth, layers, heads, kvHeads, headDim, attentionBias } = config;
    const qkvBias = attentionBias || config.qkvBias;
    const p = (name: string, shape: number[], init: 'normal' | 'ones' | 'zeros' = 'normal') => this.param(source, name, shape, init);
    const proj = (name: string, inDim: number, outDim: number, bias = false) => this.linearWeights(source, name, inDim, outDim, bias);

    this.tokenEmbedding = p('model.embed_tokens.weight', [vocabSize, width]);
    this.blocks = Array.from({ length: layers }, (_, i) => {
      const prefix = `model.layers.${i}`;
      return {
        inputNorm: p(`${prefix}.input_layernorm.weight`, [width], 'ones'),
        q: proj(`${prefix}.self_attn.q_proj`, width, heads * headDim, qkvBias),
        k: proj(`${prefix}.self_attn.k_proj`, width, kvHeads * headDim, qkvBias),
        v: proj(`${prefix}.self_attn.v_proj`, width, kvHeads * headDim, qkvBias),
        qNorm: config.qkNorm ? p(`${prefix}.self_attn.q_norm.weight`, [headDim], 'ones') : null,
        kNorm: config.qkNorm ? p(`${prefix}.self_attn.k_norm.weight`, [headDim], 'ones') : null,
        o: proj(`${prefix}.self_attn.o_proj`, heads * headDim, width, attentionBias),
        postAttentionNorm: p(`${prefix}.post_attention_layernorm.weight`, [width], 'ones'),
        gate: proj(`${prefix}.mlp.gate_proj`, width, ffnWidth),
        up: proj(`${prefix}.mlp.up_proj`, width, ffnWidth),
        down: proj(`${prefix}.mlp.down_proj`, ffnWidth, width),
      };
    });
    this.norm = p('model.norm.weight', [width], 'ones');
    this.outputWeight = config.tiedEmbeddings ? this.tokenEmbedding : p('lm_head.weight', [vocabSize, width]);
    this.rope = new RopeTable(headDim, config.ropeTheta, config.contextLength, config.ropeScaling, config.rotaryDim);
  }

  block(layer: number, x: Tensor, options: ForwardOptions, rows?: Int32Array): Tensor {
    const { heads, kvHeads, headDim, normEps } = this.config;
    const w = this.blocks[layer];
    const startPos = options.startPos ?? 0;

    // Attention: x + o_proj(attention(rope(q), rope(k), v)) on rmsnorm(x)
    const normed = rmsNorm(x, w.inputNorm, normEps);
    const q = rope(this.perHead(this.project(layer, 'self_attn.q_proj', w.q, normed, options), w.qNorm), this.rope, heads, startPos);
    const k = rope(this.perHead(this.project(layer, 'self_attn.k_proj', w.k, normed, options), w.kNorm), this.rope, kvHeads, startPos);
    const v = this.project(layer, 'self_attn.v_proj', w.v, normed, options);
    const attended = attention(q, k, v, { heads, kvHeads, headDim }, options.caches?.[layer]);
    // Below, only `rows` (when asked): every row was needed above as a key and value.
    const residual = rows === undefined ? x : selectRows(x, rows);
    const attendedAtRows = rows === undefined ? attended : selectRows(attended, rows);
    const afterAttention = add(residual, this.project(layer, 'self_attn.o_proj', w.o, attendedAtRows, options));

    // SwiGLU MLP: x + down_proj(silu(gate_proj(h)) ⊙ up_proj(h)) on rmsnorm(x)
    const normed2 = rmsNorm(afterAttention, w.postAttentionNorm, normEps);
    const gate = this.project(layer, 'mlp.gate_proj', w.gate, normed2, options);
    const up = this.project(layer, 'mlp.up_proj', w.up, normed2, options);
    return add(afterAttention, this.project(layer, 'mlp.down_proj', w.down, swiglu(gate, up), options));
  }

  /** Projected queries or keys [..., heads · headDim] through an RMSNorm over each head, where the family has one. */
  private perHead(x: Tensor, norm: Tensor | null): Tensor {
    if (norm === null) return x;
    return rmsNorm(x.reshape([-1, this.config.headDim]), norm, this.config.normEps).reshape(x.shape);
  }
}
