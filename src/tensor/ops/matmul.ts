/** Dense layers: y = x·W + b, forward and backward through sgemm. */

import { ShapeError } from '../../util/errors.js';
import { kernels } from '../backends/index.js';
import { halfCode } from '../half.js';
import { gradSlot, recordGrad, Tensor } from '../tensor.js';

/**
 * How a weight matrix is stored. GPT-2's Conv1D keeps `[in, out]`;
 * `nn.Linear` (LLaMA, LoRA B in PyTorch layout) keeps `[out, in]`.
 */
export type WeightLayout = 'in_out' | 'out_in';

/** Output features of `weight` in `layout`. */
export function outFeatures(weight: Tensor, layout: WeightLayout): number {
  return layout === 'in_out' ? weight.shape[1] : weight.shape[0];
}

/** y = x·W (+ bias) for x of shape [..., in]; returns [..., out]. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null, layout: WeightLayout): Tensor {
  if (weight.rank !== 2) throw new ShapeError(`linear: weight must be 2-D, got [${weight.shape.join(', ')}]`);
  const inDim = layout === 'in_out' ? weight.shape[0] : weight.shape[1];
  const outDim = outFeatures(weight, layout);
  if (x.lastDim !== inDim) {
    throw new ShapeError(`linear: input has ${x.lastDim} features, weight [${weight.shape.join(', ')}] (${layout}) expects ${inDim}`);
  }
  if (bias !== null && bias.size !== outDim) throw new ShapeError(`linear: bias has ${bias.size} elements, expected ${outDim}`);
  const rows = x.rows;
  const outShape = [...x.shape.slice(0, -1), outDim];
  // Every element is written: the bias rows below, or sgemm with beta 0.
  const out = Tensor.forOverwrite(outShape);
  const y = out.data;
  if (bias !== null) for (let r = 0; r < rows; r++) y.set(bias.data, r * outDim);
  const transW = layout === 'out_in';
  timesWeight(transW, rows, outDim, inDim, x.data, weight, bias ? 1 : 0, y);

  recordGrad(out, bias ? [x, weight, bias] : [x, weight], (dy) => {
    if (x.requiresGrad) {
      const { grad, beta } = gradSlot(x);
      // dX = dY·Wᵀ for [in,out] weights, dY·W for [out,in] ones.
      timesWeight(!transW, rows, inDim, outDim, dy, weight, beta, grad);
    }
    if (weight.requiresGrad) {
      const { grad, beta } = gradSlot(weight);
      if (transW) kernels.sgemm(true, false, outDim, inDim, rows, 1, dy, 0, outDim, x.data, 0, inDim, beta, grad, 0, inDim);
      else kernels.sgemm(true, false, inDim, outDim, rows, 1, x.data, 0, inDim, dy, 0, outDim, beta, grad, 0, outDim);
    }
    if (bias?.requiresGrad) kernels.addColumnSums(dy, rows, outDim, bias.gradBuffer());
  });
  return out;
}

/** C [M, N] = A [M, K]·op(W) + beta·C, reading a half-precision weight as stored. */
function timesWeight(transW: boolean, M: number, N: number, K: number, A: Float32Array, weight: Tensor, beta: number, C: Float32Array): void {
  const half = weight.half;
  if (half !== null) kernels.sgemmHalfB(transW, M, N, K, A, 0, K, half.bits, 0, weight.shape[1], halfCode(half.dtype), beta, C, 0, N);
  else kernels.sgemm(false, transW, M, N, K, 1, A, 0, K, weight.data, 0, weight.shape[1], beta, C, 0, N);
}

/** a·b for a [..., K] and b [K, N]. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  return linear(a, b, null, 'in_out');
}
