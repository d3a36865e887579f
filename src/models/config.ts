/**
 * Hugging Face `config.json` → one normalised {@link ModelConfig}, and back.
 * Supported: `gpt2`, and the LLaMA family (`llama` with plain, `linear` or
 * `llama3` RoPE, `mistral`, `qwen2`, `qwen3`: RMSNorm, RoPE, SwiGLU,
 * grouped-query attention, tied or untied head), and `phi3` (the same with
 * fused projections and partial rotary).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { RopeScaling } from '../tensor/ops/rope.js';
import { CheckpointError, quote, UnsupportedError } from '../util/errors.js';

export type Architecture = 'gpt2' | 'llama' | 'phi3' | 'gemma3';

export interface ModelConfig {
  architecture: Architecture;
  /** `model_type` as written in config.json. */
  modelType: string;
  vocabSize: number;
  /** Longest sequence the model accepts (positions). */
  contextLength: number;
  width: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ffnWidth: number;
  normEps: number;
  /** RoPE base (LLaMA only). */
  ropeTheta: number;
  /** How the RoPE frequencies are rescaled for long contexts (null: plain RoPE). */
  ropeScaling: RopeScaling | null;
  /** Leading dimensions of each head that RoPE rotates (headDim unless `partial_rotary_factor`). */
  rotaryDim: number;
  tiedEmbeddings: boolean;
  /** q/k/v/o projections carry biases (some LLaMA-style models). */
  attentionBias: boolean;
  /** q/k/v projections alone carry biases (Qwen2). */
  qkvBias: boolean;
  /** Queries and keys pass an RMSNorm over each head before RoPE (Qwen3). */
  qkNorm: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
  /** What Gemma 3 adds (absent for the other families). */
  gemma3?: Gemma3Settings;
}

/** Gemma 3's own settings. */
export interface Gemma3Settings {
  /** Attention multiplies q·kᵀ by queryPreAttnScalar^-1/2 (not headDim^-1/2). */
  queryPreAttnScalar: number;
  /** Per block: its sliding window (keys seen, its own included), or 0 for full attention. */
  windows: number[];
  /** RoPE base of the sliding blocks (full blocks use ropeTheta and ropeScaling). */
  localRopeTheta: number;
}

type RawConfig = Record<string, unknown>;

/**
 * Upper bounds far above any real checkpoint (the largest have ~10^2 layers, ~10^5
 * widths, ~10^6 vocabularies and contexts): a damaged or forged config.json that
 * exceeds them is refused before anything is allocated for it.
 */
const LIMITS: Record<string, number> = {
  n_layer: 4096,
  num_hidden_layers: 4096,
  n_head: 4096,
  num_attention_heads: 4096,
  num_key_value_heads: 4096,
};
const MAX_SIZE = 1 << 24;

function int(raw: RawConfig, key: string, file: string, fallback?: number): number {
  const value = raw[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new CheckpointError(file, `"${key}" must be a positive integer, got ${quote(JSON.stringify(raw[key]) ?? String(raw[key]))}`);
  }
  const max = LIMITS[key] ?? MAX_SIZE;
  if (value > max) throw new CheckpointError(file, `"${key}" is ${value}, beyond any real model (at most ${max}): the file is damaged`);
  return value;
}

function num(raw: RawConfig, key: string, file: string, fallback: number): number {
  const value = raw[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new CheckpointError(file, `"${key}" must be a number`);
  return value;
}

function tokenIds(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  if (Array.isArray(value)) return value.filter((v): v is number => typeof v === 'number');
  return [];
}

/** Parses a config object read from `file`. */
export function parseConfig(raw: RawConfig, file: string): ModelConfig {
  const modelType = raw.model_type;
  if (typeof modelType !== 'string') throw new CheckpointError(file, 'missing "model_type"');
  if (modelType === 'gpt2') return parseGpt2(raw, file);
  if (modelType === 'llama' || modelType === 'mistral' || modelType === 'qwen2' || modelType === 'qwen3') return parseLlama(raw, file, modelType);
  // Phi-3, Phi-3.5 and Phi-4 (mini) share the LLaMA family's settings; their model file differs (fused projections).
  if (modelType === 'phi3') return { ...parseLlama(raw, file, modelType), architecture: 'phi3' };
  if (modelType === 'gemma3_text') return parseGemma3(raw, file);
  if (modelType === 'gemma3') {
    const text = raw.text_config;
    if (text === null || typeof text !== 'object' || Array.isArray(text)) throw new CheckpointError(file, 'a gemma3 config needs a "text_config" object');
    process.stderr.write(`elder: ${file}: a multimodal Gemma 3; its language model is loaded text-only and the vision tower is ignored\n`);
    return { ...parseGemma3({ ...(text as RawConfig), model_type: 'gemma3_text' }, file), modelType: 'gemma3' };
  }
  throw new UnsupportedError(`${file}: unsupported model_type ${quote(modelType)} (supported: gpt2, llama, mistral, qwen2, qwen3, phi3, gemma3_text, gemma3)`);
}

function parseGpt2(raw: RawConfig, file: string): ModelConfig {
  const activation = raw.activation_function ?? 'gelu_new';
  if (activation !== 'gelu_new' && activation !== 'gelu_pytorch_tanh') {
    throw new UnsupportedError(`${file}: activation_function ${quote(activation)} is not supported (gelu_new only)`);
  }
  const width = int(raw, 'n_embd', file);
  const heads = int(raw, 'n_head', file);
  if (width % heads !== 0) throw new CheckpointError(file, `n_embd ${width} is not divisible by n_head ${heads}`);
  const inner = raw.n_inner === null || raw.n_inner === undefined ? 4 * width : int(raw, 'n_inner', file);
  const eos = tokenIds(raw.eos_token_id);
  return {
    architecture: 'gpt2',
    modelType: 'gpt2',
    vocabSize: int(raw, 'vocab_size', file),
    contextLength: int(raw, 'n_positions', file, raw.n_ctx as number | undefined),
    width,
    layers: int(raw, 'n_layer', file),
    heads,
    kvHeads: heads,
    headDim: width / heads,
    ffnWidth: inner,
    normEps: num(raw, 'layer_norm_epsilon', file, 1e-5),
    ropeTheta: 0,
    ropeScaling: null,
    rotaryDim: width / heads,
    tiedEmbeddings: true,
    attentionBias: true,
    qkvBias: false,
    qkNorm: false,
    bosTokenId: tokenIds(raw.bos_token_id)[0] ?? null,
    eosTokenIds: eos,
  };
}

function parseLlama(raw: RawConfig, file: string, modelType: string): ModelConfig {
  const activation = raw.hidden_act ?? 'silu';
  if (activation !== 'silu') throw new UnsupportedError(`${file}: hidden_act ${quote(activation)} is not supported (silu only)`);
  const ropeScaling = parseRopeScaling(raw.rope_scaling, file);
  const width = int(raw, 'hidden_size', file);
  const heads = int(raw, 'num_attention_heads', file);
  const kvHeads = int(raw, 'num_key_value_heads', file, heads);
  if (heads % kvHeads !== 0) throw new CheckpointError(file, `num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  const headDim = raw.head_dim === undefined || raw.head_dim === null ? width / heads : int(raw, 'head_dim', file);
  if (!Number.isInteger(headDim)) throw new CheckpointError(file, `hidden_size ${width} is not divisible by num_attention_heads ${heads}`);
  const rotaryFactor = num(raw, 'partial_rotary_factor', file, 1);
  const rotaryDim = Math.floor(headDim * rotaryFactor);
  if (!(rotaryFactor > 0 && rotaryFactor <= 1) || rotaryDim % 2 !== 0)
    throw new CheckpointError(file, `"partial_rotary_factor" ${rotaryFactor} does not give an even number of the ${headDim} head dimensions`);
  let contextLength = int(raw, 'max_position_embeddings', file);
  // Sliding-window attention (Mistral) equals full attention up to the window; beyond it we refuse rather than differ.
  if (typeof raw.sliding_window === 'number' && raw.sliding_window > 0) contextLength = Math.min(contextLength, raw.sliding_window);
  return {
    architecture: 'llama',
    modelType,
    vocabSize: int(raw, 'vocab_size', file),
    contextLength,
    width,
    layers: int(raw, 'num_hidden_layers', file),
    heads,
    kvHeads,
    headDim,
    ffnWidth: int(raw, 'intermediate_size', file),
    normEps: num(raw, 'rms_norm_eps', file, 1e-6),
    ropeTheta: num(raw, 'rope_theta', file, 10000),
    ropeScaling,
    rotaryDim,
    tiedEmbeddings: raw.tie_word_embeddings === true,
    attentionBias: raw.attention_bias === true,
    // Qwen2's q/k/v projections always carry biases, and Qwen3's queries and keys are always normalised per head (their configs have no switch).
    qkvBias: modelType === 'qwen2',
    qkNorm: modelType === 'qwen3',
    bosTokenId: tokenIds(raw.bos_token_id)[0] ?? null,
    eosTokenIds: tokenIds(raw.eos_token_id),
  };
}

/**
 * `rope_scaling` → the scaling RoPE applies: `linear` and `llama3` are
 * computed; the types that change with the sequence (`dynamic`) or rescale
 * attention (`yarn`, `longrope`) are refused, each by name.
 */
function parseRopeScaling(value: unknown, file: string): RopeScaling | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw new CheckpointError(file, '"rope_scaling" must be an object');
  const raw = value as RawConfig;
  const type = raw.rope_type ?? raw.type;
  if (type === 'default') return null;
  const field = (key: string) => num(raw, key, `${file} rope_scaling`, Number.NaN);
  if (type === 'linear') return { type, factor: field('factor') };
  if (type === 'llama3') {
    return {
      type,
      factor: field('factor'),
      lowFreqFactor: field('low_freq_factor'),
      highFreqFactor: field('high_freq_factor'),
      originalContext: field('original_max_position_embeddings'),
    };
  }
  throw new UnsupportedError(`${file}: rope_scaling type ${quote(type)} is not supported (supported: linear, llama3)`);
}

/**
 * Gemma 3 (text): the LLaMA family's sizes, plus its attention scale, sliding
 * and full blocks (`layer_types`, or every `sliding_window_pattern`-th block
 * full) with their two RoPE bases, and GeGLU. Soft-capping (Gemma 2) is
 * refused by name.
 */
function parseGemma3(raw: RawConfig, file: string): ModelConfig {
  const activation = raw.hidden_activation ?? raw.hidden_act ?? 'gelu_pytorch_tanh';
  if (activation !== 'gelu_pytorch_tanh')
    throw new UnsupportedError(`${file}: hidden_activation ${quote(activation)} is not supported (gelu_pytorch_tanh only)`);
  for (const key of ['attn_logit_softcapping', 'final_logit_softcapping'])
    if (raw[key] !== undefined && raw[key] !== null) throw new UnsupportedError(`${file}: ${key} ${quote(raw[key])} is not supported (no soft-capping)`);
  const base = parseLlama({ ...raw, hidden_act: 'silu', sliding_window: null, head_dim: raw.head_dim ?? 256 }, file, 'gemma3_text');
  const window = int(raw, 'sliding_window', file, 4096);
  let sliding: boolean[];
  if (Array.isArray(raw.layer_types)) {
    if (raw.layer_types.length !== base.layers || raw.layer_types.some((t) => t !== 'sliding_attention' && t !== 'full_attention'))
      throw new CheckpointError(file, `"layer_types" must give sliding_attention or full_attention for each of the ${base.layers} blocks`);
    sliding = raw.layer_types.map((t) => t === 'sliding_attention');
  } else {
    const pattern = int(raw, 'sliding_window_pattern', file, 6);
    sliding = Array.from({ length: base.layers }, (_, i) => (i + 1) % pattern !== 0);
  }
  return {
    ...base,
    architecture: 'gemma3',
    tiedEmbeddings: raw.tie_word_embeddings !== false,
    gemma3: {
      queryPreAttnScalar: num(raw, 'query_pre_attn_scalar', file, base.headDim),
      windows: sliding.map((s) => (s ? window : 0)),
      localRopeTheta: num(raw, 'rope_local_base_freq', file, 10000),
    },
  };
}

/** Reads and parses `dir/config.json`. */
export function readConfig(dir: string): ModelConfig {
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(dir)) throw new CheckpointError(dir, 'model folder not found');
  if (!fs.statSync(dir).isDirectory()) throw new CheckpointError(dir, 'not a folder (expected a Hugging Face model folder)');
  if (!fs.existsSync(file)) throw new CheckpointError(file, 'file not found (a model folder needs config.json)');
  const config = parseConfig(readJsonObject(file), file);
  const extra = generationEosIds(dir);
  return { ...config, eosTokenIds: [...new Set([...config.eosTokenIds, ...extra])] };
}

/** A model folder's JSON file, which must hold one object. */
function readJsonObject(file: string): RawConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new CheckpointError(file, `not valid JSON (${(error as Error).message})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new CheckpointError(file, 'not a JSON object');
  return raw as RawConfig;
}

/**
 * The end-of-text ids `generation_config.json` adds (instruction-tuned models
 * list their end-of-turn tokens there, e.g. Llama 3's `<|eot_id|>`), so that
 * generation stops at any of them as transformers' does.
 */
function generationEosIds(dir: string): number[] {
  const file = path.join(dir, 'generation_config.json');
  if (!fs.existsSync(file)) return [];
  const ids = tokenIds(readJsonObject(file).eos_token_id);
  if (ids.some((id) => !Number.isInteger(id) || id < 0)) throw new CheckpointError(file, '"eos_token_id" must be a token id or a list of them');
  return ids;
}

/** Hugging Face's model class of each LLaMA-family model_type that has its own. */
const ARCHITECTURE_CLASSES: Record<string, string> = {
  gemma3_text: 'Gemma3ForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
  phi3: 'Phi3ForCausalLM',
};

/** The config.json that Hugging Face would write for this configuration. */
export function configToJson(config: ModelConfig): RawConfig {
  const eos = config.eosTokenIds.length === 1 ? config.eosTokenIds[0] : config.eosTokenIds;
  if (config.architecture === 'gpt2') {
    return {
      model_type: 'gpt2',
      architectures: ['GPT2LMHeadModel'],
      vocab_size: config.vocabSize,
      n_positions: config.contextLength,
      n_ctx: config.contextLength,
      n_embd: config.width,
      n_layer: config.layers,
      n_head: config.heads,
      n_inner: config.ffnWidth,
      activation_function: 'gelu_new',
      layer_norm_epsilon: config.normEps,
      bos_token_id: config.bosTokenId,
      eos_token_id: eos,
      tie_word_embeddings: true,
    };
  }
  return {
    model_type: config.modelType,
    architectures: [ARCHITECTURE_CLASSES[config.modelType] ?? 'LlamaForCausalLM'],
    vocab_size: config.vocabSize,
    hidden_size: config.width,
    intermediate_size: config.ffnWidth,
    num_hidden_layers: config.layers,
    num_attention_heads: config.heads,
    num_key_value_heads: config.kvHeads,
    head_dim: config.headDim,
    max_position_embeddings: config.contextLength,
    rms_norm_eps: config.normEps,
    rope_theta: config.ropeTheta,
    ...(config.ropeScaling === null ? {} : { rope_scaling: ropeScalingToJson(config.ropeScaling) }),
    ...(config.rotaryDim === config.headDim ? {} : { partial_rotary_factor: config.rotaryDim / config.headDim }),
    ...(config.gemma3 === undefined ? {} : gemma3ToJson(config.gemma3)),
    hidden_act: 'silu',
    attention_bias: config.attentionBias,
    tie_word_embeddings: config.tiedEmbeddings,
    bos_token_id: config.bosTokenId,
    eos_token_id: eos,
  };
}

function ropeScalingToJson(scaling: RopeScaling): RawConfig {
  if (scaling.type === 'linear') return { rope_type: 'linear', factor: scaling.factor };
  return {
    rope_type: 'llama3',
    factor: scaling.factor,
    low_freq_factor: scaling.lowFreqFactor,
    high_freq_factor: scaling.highFreqFactor,
    original_max_position_embeddings: scaling.originalContext,
  };
}

function gemma3ToJson(gemma: Gemma3Settings): RawConfig {
  const window = Math.max(...gemma.windows);
  return {
    hidden_activation: 'gelu_pytorch_tanh',
    query_pre_attn_scalar: gemma.queryPreAttnScalar,
    sliding_window: window > 0 ? window : null,
    layer_types: gemma.windows.map((w) => (w > 0 ? 'sliding_attention' : 'full_attention')),
    rope_local_base_freq: gemma.localRopeTheta,
  };
}
