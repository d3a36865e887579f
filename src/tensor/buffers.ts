/**
 * Reuse of the float buffers a training step allocates. A step of forward and
 * backward allocates the same activations, gradients and scratch arrays, of
 * the same sizes, every time; left to the garbage collector, those tens of
 * megabytes per step cost a sixth of pretraining's time in collection and
 * zero-filling. Inside {@link withBufferPool}, op outputs ({@link Tensor.zeros}),
 * intermediate gradients and op scratch come from a pool, and go back to it
 * when the scope ends, ready for the next step.
 *
 * The contract: nothing allocated inside the scope may be used after it.
 * Parameters, their gradients (leaves' gradients are never pooled), optimizer
 * moments and caches are allocated outside, or without the pool.
 */

export class BufferPool {
  private readonly free = new Map<number, Float32Array[]>();
  private lent: Float32Array[] = [];

  /** A zeroed buffer of `length` floats: a returned one when there is one, else a new one. */
  take(length: number): Float32Array {
    const buffer = this.free.get(length)?.pop()?.fill(0) ?? new Float32Array(length);
    this.lent.push(buffer);
    return buffer;
  }

  /** Takes back every buffer lent since the last reclaim. */
  reclaim(): void {
    for (const buffer of this.lent) {
      const list = this.free.get(buffer.length);
      if (list === undefined) this.free.set(buffer.length, [buffer]);
      else list.push(buffer);
    }
    this.lent = [];
  }
}

let active: BufferPool | null = null;

/** Runs `fn` with buffers from `pool`; everything it allocated through the pool is reclaimed at the end. */
export function withBufferPool<T>(pool: BufferPool, fn: () => T): T {
  const previous = active;
  active = pool;
  try {
    return fn();
  } finally {
    active = previous;
    pool.reclaim();
  }
}

/** `length` zeroed floats: pooled inside {@link withBufferPool}, fresh otherwise. */
export function allocate(length: number): Float32Array {
  return active === null ? new Float32Array(length) : active.take(length);
}
