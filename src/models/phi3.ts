/**
 * Phi-3, Phi-3.5 and Phi-4 (mini) as Hugging Face stores them: a LLaMA-family
 * block with fused projections, `self_attn.qkv_proj` (queries, keys, values in
 * that order) and `mlp.gate_up_proj` (the gate's half first), and RoPE over
 * the first `partial_rotary_factor` of each head.
 */

import { add } from '../tensor/ops/arithmetic.js';
import { attention } from '../tensor/ops/attention.js';
import { rmsNorm } from '../tensor/ops/rmsnorm.js';
import { RopeTable, rope } from '../tensor/ops/rope.js';
import { selectRows, splitColumns } from '../tensor/ops/select.js';
import { swiglu } from '../tensor/ops/swiglu.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ModelConfig } from './config.js';
import type { ForwardOptions, LinearWeights, WeightSource } from './decoder.js';
import { LlamaFamilyModel } from './llama-family.js';

interface Phi3Block {
  inputNorm: Tensor;
  qkv: LinearWeights;
  o: LinearWeights;
  postAttentionNorm: Tensor;
  gateUp: LinearWeights;
  down: LinearWeights;
}

export class Phi3Model extends LlamaFamilyModel {
  readonly blockLinears = ['self_attn.qkv_proj', 'self_attn.o_proj', 'mlp.gate_up_proj', 'mlp.down_proj'] as const;
  readonly tokenEmbedding: Tensor;
  readonly blocks: Phi3Block[];
  readonly norm: Tensor;
  readonly outputWeight: Tensor;
  readonly rope: RopeTable;

  constructor(config: ModelConfig, source: WeightSource) {
    super(config);
    const { vocabSize, width, ffnWidth, layers, heads, kvHeads, headDim } = config;
    const p = (name: string, shape: number[], init: 'normal' | 'ones' | 'zeros' = 'normal') => this.param(source, name, shape, init);
    const proj = (name: string, inDim: number, outDim: number) => this.linearWeights(source, name, inDim, outDim);

    this.tokenEmbedding = p('model.embed_tokens.weight', [vocabSize, width]);
    this.blocks = Array.from({ length: layers }, (_, i) => {
      const prefix = `model.layers.${i}`;
      return {
        inputNorm: p(`${prefix}.input_layernorm.weight`, [width], 'ones'),
        qkv: proj(`${prefix}.self_attn.qkv_proj`, width, (heads + 2 * kvHeads) * headDim),
        o: proj(`${prefix}.self_attn.o_proj`, heads * headDim, width),
        postAttentionNorm: p(`${prefix}.post_attention_layernorm.weight`, [width], 'ones'),
        gateUp: proj(`${prefix}.mlp.gate_up_proj`, width, 2 * ffnWidth),
        down: proj(`${prefix}.mlp.down_proj`, ffnWidth, width),
      };
    });
    this.norm = p('model.norm.weight', [width], 'ones');
    this.outputWeight = config.tiedEmbeddings ? this.tokenEmbedding : p('lm_head.weight', [vocabSize, width]);
    this.rope = new RopeTable(headDim, config.ropeTheta, config.contextLength, config.ropeScaling, config.rotaryDim);
  }

  block(layer: number, x: Tensor, options: ForwardOptions, rows?: Int32Array): Tensor {
    const { heads, kvHeads, headDim, ffnWidth, normEps } = this.config;
    const w = this.blocks[layer];
    const startPos = options.startPos ?? 0;

    // Attention: x + o_proj(attention(rope(q), rope(k), v)), q, k, v from one product on rmsnorm(x)
    const qkv = this.project(layer, 'self_attn.qkv_proj', w.qkv, rmsNorm(x, w.inputNorm, normEps), options);
    const [q, k, v] = splitColumns(qkv, [heads * headDim, kvHeads * headDim, kvHeads * headDim]);
    const attended = attention(
      rope(q, this.rope, heads, startPos),
      rope(k, this.rope, kvHeads, startPos),
      v,
      { heads, kvHeads, headDim },
      options.caches?.[layer],
    );
    // Below, only `rows` (when asked): every row was needed above as a key and value.
    const residual = rows === undefined ? x : selectRows(x, rows);
    const attendedAtRows = rows === undefined ? attended : selectRows(attended, rows);
    const afterAttention = add(residual, this.project(layer, 'self_attn.o_proj', w.o, attendedAtRows, options));

    // SwiGLU MLP: x + down_proj(silu(gate) ⊙ up), gate and up from one product on rmsnorm(x)
    const gateUp = this.project(layer, 'mlp.gate_up_proj', w.gateUp, rmsNorm(afterAttention, w.postAttentionNorm, normEps), options);
    const [gate, up] = splitColumns(gateUp, [ffnWidth, ffnWidth]);
    return add(afterAttention, this.project(layer, 'mlp.down_proj', w.down, swiglu(gate, up), options));
  }
}
