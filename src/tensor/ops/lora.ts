/**
 * Routed low-rank adapters: for each sequence b and each expert i it selected,
 *   delta_b += gate[b,i] · scale · (v_b·A_i)·B_i
 * with v [B, T, in], A_i [in, r], B_i [r, out], gate [B, N] (router scores).
 * Gradients reach v, the chosen experts' A_i and B_i, and the chosen gate
 * entries (unselected scores get none: top-k is not differentiable). A plain
 * LoRA is one expert with a constant gate of 1. Training computes the experts
 * side by side in a few products over all rows; without a gradient each
 * sequence's chosen experts are computed alone (the same sums, fewer copies).
 */

import { ShapeError } from '../../util/errors.js';
import { kernels } from '../backends/index.js';
import { allocate, allocateForOverwrite } from '../buffers.js';
import { gradSlot, needsGrad, recordGrad, Tensor } from '../tensor.js';

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
  for (const expert of selection) if (!(expert >= 0 && expert < experts.length)) throw new ShapeError(`routedLora: expert index ${expert} out of range`);

  const count = experts.length;
  const inputs: Tensor[] = [v, gates];
  for (const { A, B } of experts) inputs.push(A, B);
  // Without a gradient (serving, decoding one token at a time), each sequence's chosen experts
  // directly: stacking every expert's weights would cost more than these few rows' products.
  if (!needsGrad(inputs)) return perSequence(v, experts, gates, selection, k, scale);
  const rows = batch * steps;
  const width = count * rank;
  // Which experts any sequence chose, and each sequence's gate per expert (0 where not chosen).
  const used = new Uint8Array(count);
  const rowGates = new Float32Array(batch * count);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < k; j++) {
      const expert = selection[b * k + j];
      used[expert] = 1;
      rowGates[b * count + expert] += gates.data[b * count + expert] * scale;
    }
  }
  // The experts side by side, as few large products instead of one small one per (sequence, expert):
  // hidden [rows, N·r] = v·[A_0 … A_N-1] (columns of unused experts stay 0); gated, the same
  // masked by each row's gates; out = gated·[B_0; …; B_N-1].
  const sideA = allocate(inDim * width);
  const stackedB = allocate(width * outDim);
  experts.forEach(({ A, B }, i) => {
    if (!used[i]) return;
    const a = A.data;
    for (let row = 0; row < inDim; row++) for (let c = 0; c < rank; c++) sideA[row * width + i * rank + c] = a[row * rank + c];
    stackedB.set(B.data, i * rank * outDim);
  });
  const hidden = allocateForOverwrite(rows * width);
  kernels.sgemm(false, false, rows, width, inDim, 1, v.data, 0, inDim, sideA, 0, width, 0, hidden, 0, width);
  const gated = allocateForOverwrite(rows * width);
  gateRows(hidden, rowGates, gated, batch, steps, count, rank);
  const out = Tensor.forOverwrite([batch, steps, outDim]);
  kernels.sgemm(false, false, rows, outDim, width, 1, gated, 0, width, stackedB, 0, outDim, 0, out.data, 0, outDim);

  recordGrad(out, inputs, (dOut) => {
    // dGated = dOut·[B_i]ᵀ, shared by the gates (before gating) and, gated, by A and v.
    const dGated = allocateForOverwrite(rows * width);
    kernels.sgemm(false, true, rows, width, outDim, 1, dOut, 0, outDim, stackedB, 0, outDim, 0, dGated, 0, width);
    if (gates.requiresGrad) {
      const dGates = gates.gradBuffer();
      for (let b = 0; b < batch; b++) {
        for (let j = 0; j < k; j++) {
          const i = selection[b * k + j];
          let dot = 0;
          for (let t = 0; t < steps; t++) {
            const offset = (b * steps + t) * width + i * rank;
            for (let c = 0; c < rank; c++) dot += dGated[offset + c] * hidden[offset + c];
          }
          dGates[b * count + i] += dot * scale;
        }
      }
    }
    const anyB = experts.some(({ B }, i) => used[i] && B.requiresGrad);
    if (anyB) {
      const dStacked = allocateForOverwrite(width * outDim);
      kernels.sgemm(true, false, width, outDim, rows, 1, gated, 0, width, dOut, 0, outDim, 0, dStacked, 0, outDim);
      experts.forEach(({ B }, i) => {
        if (!used[i] || !B.requiresGrad) return;
        const dB = B.gradBuffer();
        const from = i * rank * outDim;
        for (let e = 0; e < dB.length; e++) dB[e] += dStacked[from + e];
      });
    }
    // dHidden = dGated masked by each row's gates: what reaches A and v.
    const dHidden = allocateForOverwrite(rows * width);
    gateRows(dGated, rowGates, dHidden, batch, steps, count, rank);
    if (experts.some(({ A }, i) => used[i] && A.requiresGrad)) {
      const dSideA = allocateForOverwrite(inDim * width);
      kernels.sgemm(true, false, inDim, width, rows, 1, v.data, 0, inDim, dHidden, 0, width, 0, dSideA, 0, width);
      experts.forEach(({ A }, i) => {
        if (!used[i] || !A.requiresGrad) return;
        const dA = A.gradBuffer();
        for (let row = 0; row < inDim; row++) {
          const from = row * width + i * rank;
          for (let c = 0; c < rank; c++) dA[row * rank + c] += dSideA[from + c];
        }
      });
    }
    if (v.requiresGrad) {
      // Unused experts' columns of sideA are 0, so they add nothing.
      const { grad, beta } = gradSlot(v);
      kernels.sgemm(false, true, rows, inDim, width, 1, dHidden, 0, width, sideA, 0, width, beta, grad, 0, inDim);
    }
  });
  return out;
}

/** dst[row, i·r + c] = src[row, i·r + c] · gates[b, i] for each row of sequence b. */
function gateRows(src: Float32Array, gates: Float32Array, dst: Float32Array, batch: number, steps: number, count: number, rank: number): void {
  const width = count * rank;
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < steps; t++) {
      const row = (b * steps + t) * width;
      for (let i = 0; i < count; i++) {
        const g = gates[b * count + i];
        const offset = row + i * rank;
        for (let c = 0; c < rank; c++) dst[offset + c] = src[offset + c] * g;
      }
    }
  }
}

/** The forward alone, one pair of products per (sequence, chosen expert). */
function perSequence(v: Tensor, experts: readonly LoraExpert[], gates: Tensor, selection: Int32Array, k: number, scale: number): Tensor {
  const [batch, steps, inDim] = v.shape;
  const rank = experts[0].A.shape[1];
  const outDim = experts[0].B.shape[1];
  const out = Tensor.zeros([batch, steps, outDim]);
  const hidden = allocateForOverwrite(steps * rank);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < k; j++) {
      const expert = selection[b * k + j];
      const { A, B } = experts[expert];
      const g = gates.data[b * experts.length + expert] * scale;
      kernels.sgemm(false, false, steps, rank, inDim, 1, v.data, b * steps * inDim, inDim, A.data, 0, rank, 0, hidden, 0, rank);
      kernels.sgemm(false, false, steps, outDim, rank, g, hidden, 0, rank, B.data, 0, outDim, 1, out.data, b * steps * outDim, outDim);
    }
  }
  return out;
}
