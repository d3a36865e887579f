/**
 * elder: lifelong model editing for language models.
 *
 * The public API: the tensor engine (tensors, ops with gradients, kernels),
 * Hugging Face model loading for GPT-2 and LLaMA-family checkpoints,
 * tokenization, generation and the typed errors.
 */
export * from './tensor/index.js';
export { loadModel, saveModel, randomModel, buildModel } from './models/load.js';
export type { LoadedModel, SaveOptions } from './models/load.js';
export { readConfig, parseConfig, configToJson } from './models/config.js';
export type { ModelConfig, Architecture } from './models/config.js';
export { DecoderLM } from './models/decoder.js';
export type { ForwardOptions, LinearHook, LinearWeights, WeightSource } from './models/decoder.js';
export { Gpt2Model } from './models/gpt2.js';
export { LlamaModel } from './models/llama.js';
export { TextTokenizer } from './models/tokenizer.js';
export { SafetensorsFile, writeSafetensors, encodeSafetensors } from './models/safetensors.js';
export type { NamedTensor, StoredDtype, TensorEntry, WriteOptions } from './models/safetensors.js';
export { WeightStore } from './models/weights.js';
export { padBatch, targetRows, lmLoss, lossOnHidden } from './models/batch.js';
export type { TokenBatch, TargetRows } from './models/batch.js';
export { generate, argmax } from './models/generate.js';
export type { GenerateOptions, Generation } from './models/generate.js';
export { Random } from './util/random.js';
export * from './util/errors.js';
