/**
 * Where things are in a model of each architecture: how its linear weights
 * are stored and the Hugging Face names of the modules editors read and
 * write. Editors ask this, never the architecture, so that a new
 * architecture is described here and in its model file alone.
 */

import type { WeightLayout } from '../tensor/ops/matmul.js';
import type { ModelConfig } from './config.js';

export interface ModelLayout {
  /** How linear weights are stored: `in_out` (GPT-2's Conv1D) or `out_in` (nn.Linear). */
  weights: WeightLayout;
  /** Local name of the linear whose input is the FFN's input (GPT-2 `mlp.c_fc`, LLaMA `mlp.up_proj`). */
  mlpInput: string;
  /** Local name of the FFN's output projection (GPT-2 `mlp.c_proj`, LLaMA `mlp.down_proj`). */
  mlpOutput: string;
  /** Local name of the attention's output projection. */
  attentionOutput: string;
  /** Parameter name of the token embedding table. */
  tokenEmbedding: string;
  /** Local name of the linear the ELDER paper edits (GPT-2 `mlp.c_fc`, LLaMA `mlp.down_proj`). */
  paperSite: string;
}

const GPT2: ModelLayout = {
  weights: 'in_out',
  mlpInput: 'mlp.c_fc',
  mlpOutput: 'mlp.c_proj',
  attentionOutput: 'attn.c_proj',
  tokenEmbedding: 'transformer.wte.weight',
  paperSite: 'mlp.c_fc',
};

const LLAMA: ModelLayout = {
  weights: 'out_in',
  mlpInput: 'mlp.up_proj',
  mlpOutput: 'mlp.down_proj',
  attentionOutput: 'self_attn.o_proj',
  tokenEmbedding: 'model.embed_tokens.weight',
  paperSite: 'mlp.down_proj',
};

/** Phi-3's FFN input is its fused gate and up projection (its input is the FFN's input, as up_proj's is in LLaMA). */
const PHI3: ModelLayout = { ...LLAMA, mlpInput: 'mlp.gate_up_proj' };

const LAYOUTS: Record<ModelConfig['architecture'], ModelLayout> = { gpt2: GPT2, llama: LLAMA, phi3: PHI3, gemma3: LLAMA };

/** The layout of a configuration's architecture (the LLaMA family shares one). */
export function layoutOf(config: Pick<ModelConfig, 'architecture'>): ModelLayout {
  return LAYOUTS[config.architecture];
}

/** Input and output widths of a linear weight stored in `layout` with `shape`. */
export function linearWidths(layout: WeightLayout, shape: readonly number[]): { inDim: number; outDim: number } {
  return layout === 'in_out' ? { inDim: shape[0], outDim: shape[1] } : { inDim: shape[1], outDim: shape[0] };
}
