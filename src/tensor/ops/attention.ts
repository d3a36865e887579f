/**
 * Causal multi-head attention with grouped-query heads and an optional KV
 * cache. Heads are addressed in place inside [B, T, heads·headDim] buffers
 * through sgemm's leading dimensions, so no head is ever copied out.
 */

import { ShapeError } from '../../util/errors.js';
import { kernels } from '../backends/index.js';
import { allocate } from '../buffers.js';
import { recordGrad, Tensor } from '../tensor.js';

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
  /** Multiplies q·kᵀ (default 1/√headDim; Gemma's query_pre_attn_scalar^-1/2). */
  scale?: number;
  /** Sliding-window attention: each query sees the keys at most window − 1 positions back (default: all earlier keys). */
  window?: number;
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
  const column = (t: Tensor, width: number): Column => ({ tensor: t, offset: 0, ld: width });
  return attend(column(q, qWidth), column(k, kvWidth), column(v, kvWidth), [batch, steps], shape, [q, k, v], cache);
}

/**
 * {@link attention} over a fused projection qkv [B, T, (heads + 2·kvHeads)·d]
 * (GPT-2's c_attn): q, k and v are read in place as column ranges and their
 * gradients written straight into qkv's, so nothing is split or copied.
 */
export function fusedAttention(qkv: Tensor, shape: AttentionShape, cache?: KVCache): Tensor {
  const { heads, kvHeads, headDim } = shape;
  if (qkv.rank !== 3) throw new ShapeError(`attention: qkv must be [B, T, width], got [${qkv.shape.join(', ')}]`);
  const [batch, steps, width] = qkv.shape;
  const qWidth = heads * headDim;
  const kvWidth = kvHeads * headDim;
  if (width !== qWidth + 2 * kvWidth) throw new ShapeError(`attention: qkv width ${width} != (${heads} + 2·${kvHeads})×${headDim}`);
  const at = (offset: number): Column => ({ tensor: qkv, offset, ld: width });
  return attend(at(0), at(qWidth), at(qWidth + kvWidth), [batch, steps], shape, [qkv], cache);
}

/** Columns [offset, offset + width) of every row of a [B, T, ld] tensor. */
interface Column {
  tensor: Tensor;
  offset: number;
  ld: number;
}

function attend(q: Column, k: Column, v: Column, [batch, steps]: [number, number], shape: AttentionShape, inputs: Tensor[], cache?: KVCache): Tensor {
  const { heads, kvHeads, headDim } = shape;
  if (heads % kvHeads !== 0) throw new ShapeError(`attention: ${heads} heads not divisible into ${kvHeads} kv heads`);
  const qWidth = heads * headDim;
  const kvWidth = kvHeads * headDim;
  const dims = { batch, heads, kvHeads, steps, headDim, scale: shape.scale ?? 1 / Math.sqrt(headDim), window: shape.window ?? 0 };
  const view = (c: Column, data = c.tensor.data) => ({ data, offset: c.offset, ld: c.ld });

  // Keys/values to attend over: the fresh ones, or the cache after appending them.
  let keys = view(k);
  let values = view(v);
  let keyStride = steps; // positions per batch element in `keys`
  let pastLength = 0;
  if (cache !== undefined) {
    if (cache.batch !== batch || cache.kvWidth !== kvWidth) throw new ShapeError('attention: cache shape does not match');
    if (cache.length + steps > cache.capacity) {
      throw new ShapeError(`attention: cache holds ${cache.capacity} positions, ${cache.length + steps} needed`);
    }
    pastLength = cache.length;
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < steps; t++) {
        const src = (b * steps + t) * k.ld;
        const dst = (b * cache.capacity + pastLength + t) * kvWidth;
        cache.keys.set(k.tensor.data.subarray(src + k.offset, src + k.offset + kvWidth), dst);
        cache.values.set(v.tensor.data.subarray(src + v.offset, src + v.offset + kvWidth), dst);
      }
    }
    cache.length += steps;
    keys = { data: cache.keys, offset: 0, ld: kvWidth };
    values = { data: cache.values, offset: 0, ld: kvWidth };
    keyStride = cache.capacity;
  }

  const probs = allocate(batch * heads * steps * (pastLength + steps));
  const out = Tensor.zeros([batch, steps, qWidth]);
  const outView = { data: out.data, offset: 0, ld: qWidth };
  kernels.attentionForward(dims, view(q), keys, values, outView, probs, pastLength, keyStride);

  if (cache === undefined) {
    recordGrad(out, inputs, (dOut) => {
      const gradOf = (c: Column) => (c.tensor.requiresGrad ? view(c, c.tensor.gradBuffer()) : null);
      kernels.attentionBackward(dims, view(q), keys, values, probs, { data: dOut, offset: 0, ld: qWidth }, gradOf(q), gradOf(k), gradOf(v));
    });
  }
  return out;
}
