/**
 * Causal multi-head attention with grouped-query heads and an optional KV
 * cache. Heads are addressed in place inside [B, T, heads·headDim] buffers
 * through sgemm's leading dimensions, so no head is ever copied out.
 */
import { allocate } from '../buffers.js';
import { kernels } from '../backends/index.js';
import { Tensor, gradSlot, recordGrad } from '../tensor.js';
import { ShapeError } from '../../util/errors.js';

/** Keys and values of earlier positions, per layer, for incremental decoding. */
export class KVCache {
  readonly keys: Float32Array;
  readonly values: Float32Array;
  /** Positions already stored. */
  length = 0;

  constructor(
    readonly batch: number,
    readonly capacity: number,
    readonly kvWidth: number,
  ) {
    this.keys = new Float32Array(batch * capacity * kvWidth);
    this.values = new Float32Array(batch * capacity * kvWidth);
  }
}

export interface AttentionShape {
  heads: number;
  kvHeads: number;
  headDim: number;
}

/**
 * softmax(q·kᵀ/√d + causal mask)·v for q [B, T, heads·d], k and v [B, T, kvHeads·d].
 * With a cache, k and v are appended to it and queries sit at positions
 * cache.length … cache.length+T-1 (inference only: no gradient through the cache).
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, shape: AttentionShape, cache?: KVCache): Tensor {
  const { heads, kvHeads, headDim } = shape;
  if (q.rank !== 3) throw new ShapeError(`attention: q must be [B, T, width], got [${q.shape.join(', ')}]`);
  const [batch, steps, qWidth] = q.shape;
  const kvWidth = kvHeads * headDim;
  if (qWidth !== heads * headDim) throw new ShapeError(`attention: q width ${qWidth} != ${heads}×${headDim}`);
  if (k.size !== batch * steps * kvWidth || v.size !== k.size) {
    throw new ShapeError(`attention: k/v must be [${batch}, ${steps}, ${kvWidth}]`);
  }
  if (heads % kvHeads !== 0) throw new ShapeError(`attention: ${heads} heads not divisible into ${kvHeads} kv heads`);
  const group = heads / kvHeads;
  const scaleFactor = 1 / Math.sqrt(headDim);

  // Keys/values to attend over: the fresh ones, or the cache after appending them.
  let keys = k.data;
  let values = v.data;
  let keyStride = steps; // positions per batch element in `keys`
  let pastLength = 0;
  if (cache !== undefined) {
    if (cache.batch !== batch || cache.kvWidth !== kvWidth) throw new ShapeError('attention: cache shape does not match');
    if (cache.length + steps > cache.capacity) {
      throw new ShapeError(`attention: cache holds ${cache.capacity} positions, ${cache.length + steps} needed`);
    }
    pastLength = cache.length;
    for (let b = 0; b < batch; b++) {
      const src = b * steps * kvWidth;
      const dst = (b * cache.capacity + pastLength) * kvWidth;
      cache.keys.set(k.data.subarray(src, src + steps * kvWidth), dst);
      cache.values.set(v.data.subarray(src, src + steps * kvWidth), dst);
    }
    cache.length += steps;
    keys = cache.keys;
    values = cache.values;
    keyStride = cache.capacity;
  }
  const span = pastLength + steps; // keys visible to the last query

  const probs = allocate(batch * heads * steps * span);
  const out = Tensor.zeros([batch, steps, qWidth]);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const qOffset = b * steps * qWidth + h * headDim;
      const kvOffset = b * keyStride * kvWidth + Math.floor(h / group) * headDim;
      const pOffset = (b * heads + h) * steps * span;
      kernels.sgemm(false, true, steps, span, headDim, scaleFactor, q.data, qOffset, qWidth, keys, kvOffset, kvWidth, 0, probs, pOffset, span);
    }
  }
  kernels.softmaxRows(probs, batch * heads, steps, span, pastLength);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const outOffset = b * steps * qWidth + h * headDim;
      const kvOffset = b * keyStride * kvWidth + Math.floor(h / group) * headDim;
      const pOffset = (b * heads + h) * steps * span;
      kernels.sgemm(false, false, steps, headDim, span, 1, probs, pOffset, span, values, kvOffset, kvWidth, 0, out.data, outOffset, qWidth);
    }
  }

  if (cache === undefined) {
    recordGrad(out, [q, k, v], (dOut) => {
      const dq = q.requiresGrad ? gradSlot(q) : null;
      const dk = k.requiresGrad ? gradSlot(k) : null;
      const dv = v.requiresGrad ? gradSlot(v) : null;
      // Several query heads share a kv head: fresh kv gradients are zeroed once, then every head accumulates.
      if (dk && dk.beta === 0) dk.grad.fill(0);
      if (dv && dv.beta === 0) dv.grad.fill(0);
      const dProbs = allocate(steps * span);
      const dScores = allocate(steps * span);
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < heads; h++) {
          const qOffset = b * steps * qWidth + h * headDim;
          const kvOffset = b * steps * kvWidth + Math.floor(h / group) * headDim;
          const pOffset = (b * heads + h) * steps * span;
          // dP = dO·Vᵀ ; dV += Pᵀ·dO
          kernels.sgemm(false, true, steps, span, headDim, 1, dOut, qOffset, qWidth, v.data, kvOffset, kvWidth, 0, dProbs, 0, span);
          if (dv) kernels.sgemm(true, false, span, headDim, steps, 1, probs, pOffset, span, dOut, qOffset, qWidth, 1, dv.grad, kvOffset, kvWidth);
          kernels.softmaxBackwardRows(probs.subarray(pOffset, pOffset + steps * span), dProbs, dScores, steps, span);
          // dQ = s·dS·K ; dK += s·dSᵀ·Q
          if (dq) kernels.sgemm(false, false, steps, headDim, span, scaleFactor, dScores, 0, span, k.data, kvOffset, kvWidth, dq.beta, dq.grad, qOffset, qWidth);
          if (dk) kernels.sgemm(true, false, span, headDim, steps, scaleFactor, dScores, 0, span, q.data, qOffset, qWidth, 1, dk.grad, kvOffset, kvWidth);
        }
      }
    });
  }
  return out;
}
