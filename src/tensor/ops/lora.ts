/**
 * Routed low-rank adapters: for each sequence b and each expert i it selected,
 *   delta_b += gate[b,i] · scale · (v_b·A_i)·B_i
 * with v [B, T, in], A_i [in, r], B_i [r, out], gate [B, N] (router scores).
 * Only the selected experts are computed. Gradients reach v, every A_i and B_i,
 * and the selected gate entries (unselected scores get none: top-k is not
 * differentiable). A plain LoRA is one expert with a constant gate of 1.
 */

import { ShapeError } from '../../util/errors.js';
import { kernels } from '../backends/index.js';
import { gradSlot, recordGrad, Tensor } from '../tensor.js';

export interface LoraExpert {
  /** Down projection [in, rank]. */
  A: Tensor;
  /** Up projection [rank, out]. */
  B: Tensor;
}

/**
 * @param selection per sequence, the `k` chosen expert indices: Int32Array [B·k]
 * @returns delta [B, T, out]
 */
export function routedLora(v: Tensor, experts: readonly LoraExpert[], gates: Tensor, selection: Int32Array, k: number, scale: number): Tensor {
  if (v.rank !== 3) throw new ShapeError(`routedLora: input must be [B, T, in], got [${v.shape.join(', ')}]`);
  const [batch, steps, inDim] = v.shape;
  const rank = experts[0].A.shape[1];
  const outDim = experts[0].B.shape[1];
  for (const { A, B } of experts) {
    if (A.shape[0] !== inDim || A.shape[1] !== rank || B.shape[0] !== rank || B.shape[1] !== outDim) {
      throw new ShapeError(
        `routedLora: expert shapes A [${A.shape.join(', ')}], B [${B.shape.join(', ')}] do not fit input ${inDim}, rank ${rank}, output ${outDim}`,
      );
    }
  }
  if (gates.shape[0] !== batch || gates.shape[1] !== experts.length) throw new ShapeError(`routedLora: gates must be [${batch}, ${experts.length}]`);
  if (selection.length !== batch * k) throw new ShapeError(`routedLora: selection must hold ${batch}×${k} indices`);

  const rowsPerSeq = steps;
  const out = Tensor.zeros([batch, steps, outDim]);
  // hidden[b][j] = v_b·A_i for the j-th selected expert of sequence b, kept for the backward.
  const hidden = new Float32Array(batch * k * steps * rank);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < k; j++) {
      const expert = selection[b * k + j];
      if (!(expert >= 0 && expert < experts.length)) throw new ShapeError(`routedLora: expert index ${expert} out of range`);
      const { A, B } = experts[expert];
      const hOffset = (b * k + j) * steps * rank;
      const g = gates.data[b * experts.length + expert] * scale;
      kernels.sgemm(false, false, rowsPerSeq, rank, inDim, 1, v.data, b * steps * inDim, inDim, A.data, 0, rank, 0, hidden, hOffset, rank);
      kernels.sgemm(false, false, rowsPerSeq, outDim, rank, g, hidden, hOffset, rank, B.data, 0, outDim, 1, out.data, b * steps * outDim, outDim);
    }
  }

  const inputs: Tensor[] = [v, gates];
  for (const { A, B } of experts) inputs.push(A, B);
  recordGrad(out, inputs, (dOut) => {
    const dHidden = new Float32Array(steps * rank);
    const dv = v.requiresGrad ? gradSlot(v) : null;
    if (dv && dv.beta === 0) dv.grad.fill(0);
    for (let b = 0; b < batch; b++) {
      for (let j = 0; j < k; j++) {
        const expert = selection[b * k + j];
        const { A, B } = experts[expert];
        const hOffset = (b * k + j) * steps * rank;
        const gate = gates.data[b * experts.length + expert];
        const g = gate * scale;
        // gradOfHidden = dOut_b·B_iᵀ (before the gate), shared by the gate, A and v gradients.
        kernels.sgemm(false, true, rowsPerSeq, rank, outDim, 1, dOut, b * steps * outDim, outDim, B.data, 0, outDim, 0, dHidden, 0, rank);
        if (gates.requiresGrad) {
          let dot = 0;
          for (let i = 0; i < steps * rank; i++) dot += dHidden[i] * hidden[hOffset + i];
          gates.gradBuffer()[b * experts.length + expert] += dot * scale;
        }
        if (B.requiresGrad) {
          const dB = B.gradBuffer();
          kernels.sgemm(true, false, rank, outDim, rowsPerSeq, g, hidden, hOffset, rank, dOut, b * steps * outDim, outDim, 1, dB, 0, outDim);
        }
        if (A.requiresGrad) {
          const dA = A.gradBuffer();
          kernels.sgemm(true, false, inDim, rank, rowsPerSeq, g, v.data, b * steps * inDim, inDim, dHidden, 0, rank, 1, dA, 0, rank);
        }
        if (dv) kernels.sgemm(false, true, rowsPerSeq, inDim, rank, g, dHidden, 0, rank, A.data, 0, rank, 1, dv.grad, b * steps * inDim, inDim);
      }
    }
  });
  return out;
}
