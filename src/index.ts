/**
 * elder: lifelong model editing for language models.
 *
 * The public API: the tensor engine (tensors, ops with gradients, kernels),
 * Hugging Face model loading for GPT-2 and LLaMA-family checkpoints,
 * tokenization, generation and the typed errors.
 */

export type { TargetRows, TokenBatch } from './models/batch.js';
export { lmLoss, lossOnHidden, padBatch, targetRows } from './models/batch.js';
export type { Architecture, ModelConfig } from './models/config.js';
export { configToJson, parseConfig, readConfig } from './models/config.js';
export type { ForwardOptions, LinearHook, LinearWeights, WeightSource } from './models/decoder.js';
export { DecoderLM } from './models/decoder.js';
export type { GenerateOptions, Generation } from './models/generate.js';
export { argmax, generate } from './models/generate.js';
export { Gpt2Model } from './models/gpt2.js';
export { LlamaModel } from './models/llama.js';
export type { LoadedModel, SaveOptions } from './models/load.js';
export { buildModel, loadModel, randomModel, saveModel } from './models/load.js';
export type { NamedTensor, StoredDtype, TensorEntry, WriteOptions } from './models/safetensors.js';
export { encodeSafetensors, SafetensorsFile, writeSafetensors } from './models/safetensors.js';
export { TextTokenizer } from './models/tokenizer.js';
export { WeightStore } from './models/weights.js';
export * from './tensor/index.js';
export * from './util/errors.js';
export { Random } from './util/random.js';
