/** Opening and saving Hugging Face-layout model folders, and building random models for tests and benchmarks. */
import fs from 'node:fs';
import path from 'node:path';
import { Tensor } from '../tensor/tensor.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { CheckpointError } from '../util/errors.js';
import { Random } from '../util/random.js';
import { configToJson, type ModelConfig, readConfig } from './config.js';
import type { DecoderLM, WeightSource } from './decoder.js';
import { Gpt2Model } from './gpt2.js';
import { LlamaModel } from './llama.js';
import { type StoredDtype, writeSafetensors } from './safetensors.js';
import { TextTokenizer, TOKENIZER_FILES } from './tokenizer.js';
import { WeightStore } from './weights.js';

export interface LoadedModel {
  model: DecoderLM;
  /** Null for folders without `tokenizer.json` (ids only). */
  tokenizer: TextTokenizer | null;
  dir: string;
  /** Dtypes found in the checkpoint (weights are always computed in float32). */
  storedDtypes: StoredDtype[];
}

/** Builds the model class for a configuration from any weight source. */
export function buildModel(config: ModelConfig, source: WeightSource): DecoderLM {
  return config.architecture === 'gpt2' ? new Gpt2Model(config, source) : new LlamaModel(config, source);
}

export interface LoadOptions {
  /**
   * Keep every weight in a SharedArrayBuffer, so that worker threads can build
   * the same model over the same memory ({@link modelFromSharedWeights})
   * instead of holding a copy each.
   */
  sharedMemory?: boolean;
}

/** Loads `config.json`, the safetensors weights and (if present) the tokenizer of a model folder. */
export function loadModel(dir: string, options: LoadOptions = {}): LoadedModel {
  const config = readConfig(dir);
  const store = WeightStore.open(dir);
  try {
    // GPT-2 checkpoints exist both with and without the `transformer.` prefix.
    const take: WeightSource = (name, shape) => store.take([name, name.replace(/^transformer\./, '')], shape);
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

function toSharedMemory(tensor: Tensor): Tensor {
  const data = new Float32Array(new SharedArrayBuffer(tensor.data.byteLength));
  data.set(tensor.data);
  return new Tensor(data, tensor.shape);
}

/** A model's weights by name, as posted to a worker thread (shared, not copied, when loaded with `sharedMemory`). */
export interface SharedWeights {
  config: ModelConfig;
  tensors: Map<string, { data: Float32Array; shape: readonly number[] }>;
}

export function sharedWeights(model: DecoderLM): SharedWeights {
  const tensors = new Map([...model.parameters].map(([name, tensor]) => [name, { data: tensor.data, shape: tensor.shape }]));
  return { config: model.config, tensors };
}

/** Builds a model over weights received from another thread. */
export function modelFromSharedWeights(weights: SharedWeights): DecoderLM {
  return buildModel(weights.config, (name, shape) => {
    const stored = weights.tensors.get(name);
    if (stored === undefined || stored.shape.join('x') !== shape.join('x'))
      throw new CheckpointError(name, 'shared weights do not match the model configuration');
    return new Tensor(stored.data, shape);
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
