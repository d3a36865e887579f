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

/**
 * The capacity of the buffer that holds `length` floats: lengths are rounded
 * up to one of eight classes per power of two (at most 12.5% spare). Replay
 * and mixed batches change sequence lengths every iteration; keyed by exact
 * length, a pool would keep one set of buffers per shape it ever saw (the
 * ELDER loop held ~250 MB of them by the end of a batch), where rounded
 * classes let the next iteration reuse the last one's buffers.
 */
export function capacityClass(length: number): number {
  if (length <= 16) return 16;
  const step = 2 ** (Math.floor(Math.log2(length)) - 3);
  return Math.ceil(length / step) * step;
}

export class BufferPool {
  private readonly free = new Map<number, Float32Array[]>();
  private lent: Float32Array[] = [];

  /**
   * A zeroed view of `length` floats, on the smallest returned buffer whose
   * capacity is at least its class and at most twice it, else on a new one.
   * Taking from larger classes matters as much as the classes: an iteration's
   * buffers of each class vary in number with the lengths it sees, and a pool
   * that only reused its own class would keep the largest count of each.
   */
  take(length: number, zeroed = true): Float32Array {
    const capacity = capacityClass(length);
    const buffer = this.takeFree(capacity) ?? new Float32Array(capacity);
    this.lent.push(buffer);
    const view = buffer.subarray(0, length);
    return zeroed ? view.fill(0) : view;
  }

  private takeFree(capacity: number): Float32Array | undefined {
    for (let c = capacity; c <= 2 * capacity; c = capacityClass(c + 1)) {
      const buffer = this.free.get(c)?.pop();
      if (buffer !== undefined) return buffer;
    }
    return undefined;
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

  /** Floats held, lent or free (what the pool costs in memory, ×4 bytes). */
  get heldFloats(): number {
    let total = 0;
    for (const buffer of this.lent) total += buffer.length;
    for (const list of this.free.values()) for (const buffer of list) total += buffer.length;
    return total;
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

/**
 * `length` floats for a caller that writes every one before reading any (an
 * op's output, an overwritten gradient): a pooled buffer keeps what the last
 * iteration left in it. Zero-filling those was a tenth of an ELDER iteration.
 */
export function allocateForOverwrite(length: number): Float32Array {
  return active === null ? new Float32Array(length) : active.take(length, false);
}
