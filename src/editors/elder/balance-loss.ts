/**
 * The Switch Transformer load-balancing loss (Fedus et al., 2022), the
 * alternative routing loss in ELDER's ablation (Table 4):
 *   L_bal = N · Σ_i f_i · P_i,
 * f_i the fraction of top-k slots of the batch routed to expert i (a
 * constant), P_i the mean router probability of expert i. Minimal (= k when
 * normalised per slot) when load is uniform.
 */
import { recordGrad, Tensor } from '../../tensor/tensor.js';
import { ShapeError } from '../../util/errors.js';

/** @param scores router probabilities [B, N]; @param selection top-k experts [B·k] */
export function loadBalanceLoss(scores: Tensor, selection: Int32Array, k: number): Tensor {
  const [batch, experts] = scores.shape;
  if (selection.length !== batch * k) throw new ShapeError(`loadBalanceLoss: selection must hold ${batch}×${k} experts`);
  const fraction = new Float64Array(experts);
  for (const expert of selection) fraction[expert] += 1 / (batch * k);
  let total = 0;
  for (let b = 0; b < batch; b++) for (let i = 0; i < experts; i++) total += fraction[i] * scores.data[b * experts + i];
  const loss = Tensor.from([(experts * total) / batch], [1]);
  recordGrad(loss, [scores], (dLoss) => {
    const grad = scores.gradBuffer();
    for (let b = 0; b < batch; b++) for (let i = 0; i < experts; i++) grad[b * experts + i] += (dLoss[0] * experts * fraction[i]) / batch;
  });
  return loss;
}
