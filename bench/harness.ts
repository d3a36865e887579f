/** Timing and table helpers for `npm run bench`: medians over repeats, printed as aligned tables. */

import fs from 'node:fs';
import os from 'node:os';
import { backendInfo, kernels } from '../src/tensor/backends/index.js';

/** The median of a list of numbers (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median seconds of `fn` over at least `minRuns` runs (and up to `budgetSeconds` of repeats), after one warm-up. */
export function medianSeconds(fn: () => void, { minRuns = 3, maxRuns = 15, budgetSeconds = 2, warmup = true } = {}): number {
  if (warmup) fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minRuns || (times.length < maxRuns && (performance.now() - start) / 1000 < budgetSeconds)) {
    const t0 = performance.now();
    fn();
    times.push((performance.now() - t0) / 1000);
  }
  return median(times);
}

export function printTable(title: string, header: string[], rows: Array<Array<string | number>>): void {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((row) => row[c]?.length ?? 0)));
  console.log(`\n### ${title}\n`);
  cells.forEach((row, i) => {
    console.log(`| ${row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(' | ')} |`);
    if (i === 0) console.log(`|${widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  });
}

/** CPU model, cores, threads and backend, printed above every benchmark. */
export function machineLine(): string {
  let cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  try {
    const flags = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '';
    const simd = ['avx512f', 'avx2', 'fma'].filter((f) => flags.split(' ').includes(f));
    if (simd.length) cpu += ` (${simd.join(', ')})`;
  } catch {
    // not Linux: the model name is enough
  }
  const backend = backendInfo();
  return `machine: ${cpu}, ${os.availableParallelism()} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB; node ${process.version}; backend ${backend.backend}${backend.simd ? ` (kernels ${backend.simd})` : ''}, ${backend.threads} threads`;
}

/**
 * Medians of several workloads measured in alternation (A, B, A, B, …) after
 * one warm-up round, so drift in the machine's state affects all of them alike.
 */
export function interleavedMedians(fns: ReadonlyArray<() => void>, rounds: number): number[] {
  for (const fn of fns) fn();
  const times = fns.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    fns.forEach((fn, i) => {
      const t0 = performance.now();
      fn();
      times[i].push((performance.now() - t0) / 1000);
    });
  }
  return times.map(median);
}

/** The machine's read bandwidth in GB/s: the native NaN scan over 1 GiB of float32 (a pure, vectorised read), as many threads as elder uses, median of 5 after a warm-up. */
export function readBandwidth(): number {
  const data = new Float32Array(2 ** 28).fill(0.5);
  return 2 ** 30 / medianSeconds(() => kernels.firstNonFinite(data, 0), { minRuns: 5, maxRuns: 5 }) / 1e9;
}
