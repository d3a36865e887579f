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
  /** Buffers handed out in total and how many were reused, for benchmarks. */
  readonly stats = { taken: 0, reused: 0 };

  /** A buffer of `length` floats, zeroed unless `zeroed` is false (the caller overwrites every element). */
  take(length: number, zeroed: boolean): Float32Array {
    this.stats.taken++;
    const buffer = this.free.get(length)?.pop();
    let result: Float32Array;
    if (buffer === undefined) {
      result = new Float32Array(length);
    } else {
      this.stats.reused++;
      if (zeroed) buffer.fill(0);
      result = buffer;
    }
    this.lent.push(result);
    return result;
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

  /** Drops every pooled buffer (memory goes back to the collector). */
  clear(): void {
    this.free.clear();
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
  return active === null ? new Float32Array(length) : active.take(length, true);
}

/** `length` floats whose every element the caller will overwrite (not zeroed when reused). */
export function allocateUninitialised(length: number): Float32Array {
  return active === null ? new Float32Array(length) : active.take(length, false);
}
