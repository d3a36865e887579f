/** Opening and saving Hugging Face-layout model folders, and building random models for tests and benchmarks. */
import fs from 'node:fs';
import path from 'node:path';
import { Tensor } from '../tensor/tensor.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { CheckpointError } from '../util/errors.js';
import { Random } from '../util/random.js';
import { configToJson, type ModelConfig, readConfig } from './config.js';
import type { DecoderLM, WeightSource } from './decoder.js';
import { Gemma3Model } from './gemma3.js';
import { Gpt2Model } from './gpt2.js';
import { LlamaModel } from './llama.js';
import { checkFits, estimateMemory } from './memory.js';
import { Phi3Model } from './phi3.js';
import { canMap, type MappedRange, mappedRangeOf, mapRange, type StoredDtype, writeSafetensors } from './safetensors.js';
import { TextTokenizer, TOKENIZER_FILES } from './tokenizer.js';
import { WeightStore } from './weights.js';

export interface LoadedModel {
  model: DecoderLM;
  /** Null for folders without `tokenizer.json` (ids only). */
  tokenizer: TextTokenizer | null;
  dir: string;
  /** Dtypes found in the checkpoint (F16/BF16 matrices are kept as stored and computed in float32). */
  storedDtypes: StoredDtype[];
}

/** Builds the model class for a configuration from any weight source. */
export function buildModel(config: ModelConfig, source: WeightSource): DecoderLM {
  if (config.architecture === 'gpt2') return new Gpt2Model(config, source);
  if (config.architecture === 'gemma3') return new Gemma3Model(config, source);
  return config.architecture === 'phi3' ? new Phi3Model(config, source) : new LlamaModel(config, source);
}

export interface LoadOptions {
  /**
   * Let worker threads build the same model over the same memory
   * ({@link modelFromSharedWeights}) instead of holding a copy each: mapped
   * weights are mapped again by the worker (the page cache holds them once),
   * and weights read into memory are kept in SharedArrayBuffers.
   */
  sharedMemory?: boolean;
}

/**
 * Loads `config.json`, the safetensors weights and (if present) the
 * tokenizer of a model folder. A checkpoint that will not fit in the memory
 * available is refused before any tensor is mapped or read.
 */
export function loadModel(dir: string, options: LoadOptions = {}): LoadedModel {
  const config = readConfig(dir);
  const store = WeightStore.open(dir);
  try {
    checkFits(dir, estimateMemory(store.entries(), canMap()));
    // GPT-2 checkpoints exist both with and without the `transformer.` prefix; a multimodal Gemma 3 keeps its language model under `language_model.`.
    const take: WeightSource = (name, shape) => store.take([name, name.replace(/^transformer\./, ''), `language_model.${name}`], shape);
    const source: WeightSource = options.sharedMemory ? (name, shape, init) => toSharedMemory(take(name, shape, init)) : take;
    const model = buildModel(config, source);
    return { model, tokenizer: matchingTokenizer(dir, config), dir, storedDtypes: [...store.dtypes] };
  } finally {
    store.close();
  }
}

/** The folder's tokenizer, refused when it can emit ids the model has no embedding row for. */
function matchingTokenizer(dir: string, config: ModelConfig): TextTokenizer | null {
  const tokenizer = TextTokenizer.load(dir);
  if (tokenizer !== null && tokenizer.vocabSize() > config.vocabSize) {
    throw new CheckpointError(
      path.join(dir, 'tokenizer.json'),
      `the tokenizer emits ids up to ${tokenizer.vocabSize() - 1}, but config.json gives the model ${config.vocabSize} embedding rows: tokenizer and model do not belong together`,
    );
  }
  return tokenizer;
}

/** A tensor read into memory, moved into a SharedArrayBuffer; a mapped one is left as it is (a worker maps its file range again). */
function toSharedMemory(tensor: Tensor): Tensor {
  if (tensor.half !== null || mappedRangeOf(tensor.data.buffer) !== undefined) return tensor;
  const data = new Float32Array(new SharedArrayBuffer(tensor.data.byteLength));
  data.set(tensor.data);
  return new Tensor(data, tensor.shape);
}

/** One weight as posted to a worker: values in shared memory, or the file range it maps. */
type SharedTensor = { data: Float32Array; shape: readonly number[] } | { mapped: MappedRange; shape: readonly number[] };

/**
 * A model's weights by name, as posted to a worker thread (shared, not
 * copied, when loaded with `sharedMemory`). A mapped weight is sent as its
 * file range: the worker sees the file's values, not writes made here.
 */
export interface SharedWeights {
  config: ModelConfig;
  tensors: Map<string, SharedTensor>;
}

export function sharedWeights(model: DecoderLM): SharedWeights {
  const tensors = new Map<string, SharedTensor>();
  for (const [name, tensor] of model.parameters) {
    const range = mappedRangeOf(tensor.half?.bits.buffer ?? tensor.data.buffer);
    tensors.set(name, range === undefined ? { data: tensor.data, shape: tensor.shape } : { mapped: range, shape: tensor.shape });
  }
  return { config: model.config, tensors };
}

/** Builds a model over weights received from another thread. */
export function modelFromSharedWeights(weights: SharedWeights): DecoderLM {
  return buildModel(weights.config, (name, shape) => {
    const stored = weights.tensors.get(name);
    if (stored === undefined || stored.shape.join('x') !== shape.join('x'))
      throw new CheckpointError(name, 'shared weights do not match the model configuration');
    if ('data' in stored) return new Tensor(stored.data, shape);
    const values = mapRange(stored.mapped);
    if (values === null) throw new CheckpointError(stored.mapped.file, 'this thread cannot map the weights its model was loaded from');
    if (values instanceof Float32Array) return new Tensor(values, shape);
    return new Tensor({ bits: values, dtype: stored.mapped.dtype as 'F16' | 'BF16' }, shape);
  });
}

/** A model with freshly initialised weights (normal, std 0.02, as GPT-2 and LLaMA initialise). */
export function randomModel(config: ModelConfig, seed = 0, std = 0.02): DecoderLM {
  const rng = new Random(seed);
  const source: WeightSource = (_name, shape, init) => {
    const tensor = Tensor.zeros(shape);
    if (init === 'ones') tensor.data.fill(1);
    else if (init === 'normal') for (let i = 0; i < tensor.size; i++) tensor.data[i] = rng.normal() * std;
    return tensor;
  };
  return buildModel(config, source);
}

export interface SaveOptions {
  dtype?: 'F32' | 'F16' | 'BF16';
  /** A folder whose tokenizer files are copied next to the weights. */
  tokenizerFrom?: string;
  metadata?: Record<string, string>;
}

/** Writes a Hugging Face-layout folder (config.json, model.safetensors, tokenizer files) that {@link loadModel} reads back. */
export function saveModel(dir: string, model: DecoderLM, options: SaveOptions = {}): void {
  fs.mkdirSync(dir, { recursive: true });
  writeSafetensors(path.join(dir, 'model.safetensors'), model.parameters, {
    dtype: options.dtype ?? 'F32',
    metadata: { format: 'pt', ...options.metadata },
  });
  writeFileAtomic(path.join(dir, 'config.json'), [Buffer.from(`${JSON.stringify(configToJson(model.config), null, 2)}\n`)]);
  if (options.tokenizerFrom !== undefined) {
    for (const name of TOKENIZER_FILES) {
      const src = path.join(options.tokenizerFrom, name);
      if (fs.existsSync(src)) fs.copyFileSync(src, path.join(dir, name));
    }
  }
}
