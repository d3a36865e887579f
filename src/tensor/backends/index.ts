/**
 * Chooses the kernel backend once per process: the native addon (OpenBLAS or
 * portable C sgemm, fixed at build time) unless `ELDER_BACKEND=js`, or when the
 * addon cannot load, in which case elder still works on the TypeScript kernels.
 */
import os from 'node:os';
import { jsKernels } from './js.js';
import type { Kernels } from './kernels.js';
import { loadNativeAddon, nativeKernels } from './native.js';

export { jsKernels } from './js.js';
export type { Kernels } from './kernels.js';

type MapRange = (fd: number, offset: number, length: number) => ArrayBuffer;

function chooseKernels(): { kernels: Kernels; fallbackReason: string | null; simd: string | null; mapRange: MapRange | null } {
  const requested = process.env.ELDER_BACKEND;
  if (requested === 'js') return { kernels: jsKernels, fallbackReason: 'ELDER_BACKEND=js', simd: null, mapRange: null };
  const addon = loadNativeAddon();
  if (addon instanceof Error) return { kernels: jsKernels, fallbackReason: addon.message, simd: null, mapRange: null };
  return { kernels: nativeKernels(addon, requested === 'portable'), fallbackReason: null, simd: addon.simdClone, mapRange: addon.mapRange };
}

const chosen = chooseKernels();

// The slower paths say so once, with the command that gives the fast one (not when asked for).
if (chosen.kernels.name === 'portable' && process.env.ELDER_BACKEND !== 'portable') {
  process.stderr.write(
    'elder: the native addon was built without OpenBLAS, so sgemm runs the portable kernels (about 3× slower); for the fast ones: sudo apt-get install libopenblas-dev && npm run build:native\n',
  );
} else if (chosen.kernels === jsKernels && process.env.ELDER_BACKEND !== 'js') {
  process.stderr.write(`elder: running on the TypeScript kernels (${chosen.fallbackReason}); build the native ones with: npm run build:native\n`);
}

/** The active backend (a live binding: {@link useKernels} swaps it for every op). */
export let kernels: Kernels = chosen.kernels;

/** Makes `next` the backend of every op; returns the previous one. For benchmarks and tests. */
export function useKernels(next: Kernels): Kernels {
  const previous = kernels;
  kernels = next;
  return previous;
}

/** Threads from `ELDER_THREADS`, default all cores. */
function configuredThreads(): number {
  const raw = process.env.ELDER_THREADS;
  if (raw === undefined || raw === '') return os.availableParallelism();
  const threads = Number(raw);
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(`ELDER_THREADS must be a positive integer, got "${raw}"`);
  }
  return threads;
}
kernels.setThreads(configuredThreads());

/**
 * Maps bytes [offset, offset + length) of an open file into memory,
 * copy-on-write, or null where the native addon is not in use (weights are
 * then read into memory instead).
 */
export function fileMapper(): MapRange | null {
  return chosen.mapRange;
}

/** What `elder info` reports about the compute backend. */
export interface BackendInfo {
  backend: Kernels['name'];
  threads: number;
  /** Why the native addon is not in use, when it is not. */
  fallbackReason: string | null;
  /** The instruction set the native element and row kernels run with on this CPU (null without the addon). */
  simd: string | null;
}

export function backendInfo(): BackendInfo {
  return { backend: kernels.name, threads: kernels.getThreads(), fallbackReason: chosen.fallbackReason, simd: chosen.simd };
}

/** Every backend this process can run, for tests and benchmarks that compare them. */
export function availableKernels(): Kernels[] {
  const all: Kernels[] = [jsKernels];
  const addon = loadNativeAddon();
  if (!(addon instanceof Error)) {
    all.push(nativeKernels(addon, true));
    if (addon.sgemmBackend === 'openblas') all.push(nativeKernels(addon, false));
  }
  return all;
}
