/**
 * ELDER's guided loss for one layer: −(1/B) Σ_b Σ_j log softmax(z_b)[preset_bj],
 * computed from router logits z [B, N] with a stable log-softmax.
 * d/dz_b = −(1/B)·(Σ_j onehot(preset_bj) − k·softmax(z_b)).
 */
import { recordGrad, Tensor } from '../../tensor/tensor.js';
import { ShapeError } from '../../util/errors.js';

export function guidedLoss(routerLogits: Tensor, preset: Int32Array, k: number): Tensor {
  const [batch, experts] = routerLogits.shape;
  if (preset.length !== batch * k) throw new ShapeError(`guidedLoss: preset must hold ${batch}×${k} experts`);
  const probs = new Float64Array(batch * experts);
  let total = 0;
  for (let b = 0; b < batch; b++) {
    const row = routerLogits.data.subarray(b * experts, (b + 1) * experts);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (let i = 0; i < experts; i++) sum += Math.exp(row[i] - max);
    const logSum = max + Math.log(sum);
    for (let i = 0; i < experts; i++) probs[b * experts + i] = Math.exp(row[i] - logSum);
    for (let j = 0; j < k; j++) total -= row[preset[b * k + j]] - logSum;
  }
  const loss = Tensor.from([total / batch], [1]);
  recordGrad(loss, [routerLogits], (dLoss) => {
    const grad = routerLogits.gradBuffer();
    const factor = dLoss[0] / batch;
    for (let b = 0; b < batch; b++) {
      for (let i = 0; i < experts; i++) grad[b * experts + i] += factor * k * probs[b * experts + i];
      for (let j = 0; j < k; j++) grad[b * experts + preset[b * k + j]] -= factor;
    }
  });
  return loss;
}
