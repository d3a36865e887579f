/** The tensor engine: tensors with autograd, ops with their backward, and the kernel backends beneath. */

export type { AdamWOptions } from './adamw.js';
export { AdamW } from './adamw.js';
export type { BackendInfo, Kernels } from './backends/index.js';
export { availableKernels, backendInfo, kernels, useKernels } from './backends/index.js';
export { add, masked, scale } from './ops/arithmetic.js';
export type { AttentionShape } from './ops/attention.js';
export { attention, KVCache } from './ops/attention.js';
export { crossEntropy, linearCrossEntropy, softCrossEntropy } from './ops/crossentropy.js';
export { embedding } from './ops/embedding.js';
export { gelu } from './ops/gelu.js';
export { layerNorm } from './ops/layernorm.js';
export type { LoraExpert } from './ops/lora.js';
export { routedLora } from './ops/lora.js';
export type { WeightLayout } from './ops/matmul.js';
export { linear, matmul, outFeatures } from './ops/matmul.js';
export { meanOf, rowL2Norms, rowWeightedSquares } from './ops/reduce.js';
export { relu } from './ops/relu.js';
export { rmsNorm } from './ops/rmsnorm.js';
export { RopeTable, rope } from './ops/rope.js';
export { addToRows, replaceRows, selectRows, splitColumns } from './ops/select.js';
export { softmax } from './ops/softmax.js';
export { swiglu } from './ops/swiglu.js';
export type { GradNode } from './tensor.js';
export { backward, isGradEnabled, noGrad, shapeSize, Tensor } from './tensor.js';
