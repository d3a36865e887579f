/**
 * Where a workload's time goes: every kernel call timed through a wrapping
 * backend (sgemm apart, with its FLOPs, so its rate shows), garbage
 * collection from V8's GC events, and the rest — TypeScript ops and
 * autograd bookkeeping, allocation, copies — as what remains of the wall
 * time. Timing a kernel costs two `performance.now()` calls (~0.1 µs), far
 * below the shortest kernel it wraps.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { kernels, useKernels } from '../src/tensor/backends/index.js';
import type { Kernels } from '../src/tensor/backends/kernels.js';

/** One product shape a workload ran, with how often: sgemm's arguments, or the fused head's sizes. */
export interface ProductShape {
  kind: 'sgemm' | 'linearCrossEntropy';
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  calls: number;
}

export interface Breakdown {
  /** Wall time of the workload, ms. */
  totalMs: number;
  sgemmMs: number;
  sgemmCalls: number;
  sgemmFlops: number;
  /** The products it ran, by shape: sgemm calls, and the fused LM head (rows M, vocabulary N, width K). */
  products: ProductShape[];
  /** Other kernels by name, ms. */
  kernelMs: Map<string, number>;
  gcMs: number;
}

/** Runs `workload` once with every kernel timed. */
export function profile(workload: () => void): Breakdown {
  const timed = new Map<string, number>();
  let sgemmCalls = 0;
  let sgemmFlops = 0;
  const products = new Map<string, ProductShape>();
  const count = (shape: Omit<ProductShape, 'calls'>) => {
    const key = JSON.stringify(shape);
    const known = products.get(key);
    if (known === undefined) products.set(key, { ...shape, calls: 1 });
    else known.calls++;
  };
  const inner = kernels;
  const wrapper = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || property === 'setThreads' || property === 'getThreads') return value;
      const name = String(property);
      return (...args: unknown[]) => {
        const t0 = performance.now();
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        timed.set(name, (timed.get(name) ?? 0) + performance.now() - t0);
        if (name === 'sgemm') {
          sgemmCalls++;
          sgemmFlops += 2 * (args[2] as number) * (args[3] as number) * (args[4] as number);
          count({ kind: 'sgemm', transA: args[0] as boolean, transB: args[1] as boolean, M: args[2] as number, N: args[3] as number, K: args[4] as number });
        } else if (name === 'linearCrossEntropy') {
          count({ kind: 'linearCrossEntropy', transA: false, transB: true, M: args[1] as number, N: args[4] as number, K: args[2] as number });
        }
        return result;
      };
    },
  }) as Kernels;
  const gc = new PerformanceObserver(() => {});
  gc.observe({ entryTypes: ['gc'] });
  const previous = useKernels(wrapper);
  const start = performance.now();
  try {
    workload();
  } finally {
    useKernels(previous);
  }
  const totalMs = performance.now() - start;
  const gcMs = gc.takeRecords().reduce((sum, entry) => sum + entry.duration, 0);
  gc.disconnect();
  const sgemmMs = timed.get('sgemm') ?? 0;
  timed.delete('sgemm');
  return { totalMs, sgemmMs, sgemmCalls, sgemmFlops, products: [...products.values()], kernelMs: timed, gcMs };
}

/** FLOPs of one call of a product shape (the fused head computes two products: logits, then dx). */
export function productFlops(shape: ProductShape): number {
  return (shape.kind === 'sgemm' ? 2 : 4) * shape.M * shape.N * shape.K;
}

/**
 * Seconds the products of a workload take when each shape runs alone at
 * sgemm's own rate (the median of repeated calls, after a warm-up; the fused
 * head as its two plain products): what the workload's products cost at the
 * machine's sgemm peak for those very shapes.
 */
export function peakSeconds(products: readonly ProductShape[]): number {
  let total = 0;
  for (const shape of products) {
    const calls: Array<() => void> = [];
    if (shape.kind === 'sgemm') calls.push(sgemmCall(shape.transA, shape.transB, shape.M, shape.N, shape.K));
    else calls.push(sgemmCall(false, true, shape.M, shape.N, shape.K), sgemmCall(false, false, shape.M, shape.K, shape.N));
    for (const call of calls) total += shape.calls * medianOf(call);
  }
  return total;
}

function sgemmCall(transA: boolean, transB: boolean, M: number, N: number, K: number): () => void {
  const A = new Float32Array(M * K).fill(0.5);
  const B = new Float32Array(K * N).fill(0.25);
  const C = new Float32Array(M * N);
  return () => kernels.sgemm(transA, transB, M, N, K, 1, A, 0, transA ? M : K, B, 0, transB ? K : N, 0, C, 0, N);
}

function medianOf(call: () => void): number {
  call();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 5 || (times.length < 50 && performance.now() - start < 50)) {
    const t0 = performance.now();
    call();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

/** Table rows (part, ms per unit, share) of a breakdown, `units` being what the workload ran (iterations). */
export function breakdownRows(b: Breakdown, units: number): string[][] {
  const per = (ms: number) => (ms / units).toFixed(1);
  const share = (ms: number) => `${((100 * ms) / b.totalMs).toFixed(0)}%`;
  const others = [...b.kernelMs].sort((x, y) => y[1] - x[1]);
  const othersMs = others.reduce((sum, [, ms]) => sum + ms, 0);
  const rest = b.totalMs - b.sgemmMs - othersMs - b.gcMs;
  const top = others
    .slice(0, 4)
    .map(([name]) => name)
    .join(', ');
  return [
    [`sgemm (${Math.round(b.sgemmCalls / units)} calls, ${((b.sgemmFlops / b.sgemmMs) * 1e-6).toFixed(0)} GFLOP/s)`, per(b.sgemmMs), share(b.sgemmMs)],
    [`other kernels (${top})`, per(othersMs), share(othersMs)],
    ['garbage collection', per(b.gcMs), share(b.gcMs)],
    ['TypeScript: ops, autograd, allocation, copies', per(rest), share(rest)],
    ['total', per(b.totalMs), '100%'],
  ];
}
