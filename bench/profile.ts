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

export interface Breakdown {
  /** Wall time of the workload, ms. */
  totalMs: number;
  sgemmMs: number;
  sgemmCalls: number;
  sgemmFlops: number;
  /** Other kernels by name, ms. */
  kernelMs: Map<string, number>;
  gcMs: number;
}

/** Runs `workload` once with every kernel timed. */
export function profile(workload: () => void): Breakdown {
  const timed = new Map<string, number>();
  let sgemmCalls = 0;
  let sgemmFlops = 0;
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
  return { totalMs, sgemmMs, sgemmCalls, sgemmFlops, kernelMs: timed, gcMs };
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
