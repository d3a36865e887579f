/**
 * What the LLaMA-family model files (llama.ts, phi3.ts, gemma3.ts) share:
 * Hugging Face's `model.*` names, nn.Linear weights stored [out, in], a token
 * embedding, a final RMSNorm and a tied or untied head. Each file gives its
 * blocks; a family whose embedding or final norm differs overrides them.
 */

import { embedding } from '../tensor/ops/embedding.js';
import { rmsNorm } from '../tensor/ops/rmsnorm.js';
import type { Tensor } from '../tensor/tensor.js';
import { DecoderLM, type LinearWeights, type WeightSource } from './decoder.js';

/** The linears of a block with separate q, k, v and gate, up projections (LLaMA, Mistral, Qwen, Gemma). */
export const SEPARATE_PROJECTIONS = [
  'self_attn.q_proj',
  'self_attn.k_proj',
  'self_attn.v_proj',
  'self_attn.o_proj',
  'mlp.gate_proj',
  'mlp.up_proj',
  'mlp.down_proj',
] as const;

export abstract class LlamaFamilyModel extends DecoderLM {
  protected readonly layout = 'out_in' as const;
  abstract readonly tokenEmbedding: Tensor;
  /** The final norm's weight. */
  abstract readonly norm: Tensor;
  /** The untied output projection, or the token embedding when tied. */
  abstract readonly outputWeight: Tensor;

  linearName(layer: number, local: string): string {
    return `model.layers.${layer}.${local}`;
  }

  embed(ids: Int32Array, batch: number, steps: number): Tensor {
    return embedding(this.tokenEmbedding, ids, [batch, steps]);
  }

  finalNorm(hidden: Tensor): Tensor {
    return rmsNorm(hidden, this.norm, this.config.normEps);
  }

  get lmHeadWeight(): Tensor {
    return this.outputWeight;
  }

  /** An nn.Linear's parameters from `source` under `name` (`.weight` [out, in], and `.bias` where it has one). */
  protected linearWeights(source: WeightSource, name: string, inDim: number, outDim: number, bias = false): LinearWeights {
    return {
      weight: this.param(source, `${name}.weight`, [outDim, inDim]),
      bias: bias ? this.param(source, `${name}.bias`, [outDim], 'zeros') : null,
    };
  }
}
