/**
 * ELDER's router, one per edited block: scores s(q) = softmax(W_r·q + b_r)
 * over the block's N experts for a router query q (the last prompt token's
 * hidden state below the first edited block), and the top-k experts by score. The
 * scores are not renormalised over the k chosen: each chosen expert is
 * weighed by its own softmax score.
 */
import { linear } from '../../tensor/ops/matmul.js';
import { softmax } from '../../tensor/ops/softmax.js';
import type { Tensor } from '../../tensor/tensor.js';

export interface Router {
  /** W_r [N, in]. */
  weight: Tensor;
  /** b_r [N]. */
  bias: Tensor;
}

/** Router outputs for a batch: per edited block, logits and scores [B, N] and the top-k experts [B·k]. */
export interface Routing {
  logits: Tensor[];
  scores: Tensor[];
  selection: Int32Array[];
}

/** Routes a batch of queries [B, in] through each block's router, keeping the k best of `experts` per block. */
export function route(routers: readonly Router[], query: Tensor, experts: number, k: number): Routing {
  const routing: Routing = { logits: [], scores: [], selection: [] };
  for (const router of routers) {
    const logits = linear(query, router.weight, router.bias, 'out_in');
    const scores = softmax(logits);
    routing.logits.push(logits);
    routing.scores.push(scores);
    routing.selection.push(topK(scores.data, query.shape[0], experts, k));
  }
  return routing;
}

/** Per row of scores [rows, n], the k largest indices, largest first (ties: lower index first). */
export function topK(scores: Float32Array, rows: number, n: number, k: number): Int32Array {
  const selection = new Int32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[r * n + b] - scores[r * n + a] || a - b);
    for (let j = 0; j < k; j++) selection[r * k + j] = order[j];
  }
  return selection;
}
