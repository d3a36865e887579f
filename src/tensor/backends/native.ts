/** Loads the N-API addon built by node-gyp (`build/Release/elder_native.node`). */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsKernels } from './js.js';
import type { AttentionDims, Kernels, StridedView } from './kernels.js';

type Positional = (...args: Array<Float32Array | number | null>) => void;

type LapackKernel = 'choleskyLower' | 'invertLower' | 'choleskySolveRows' | 'symmetricEigen';

interface NativeAddon extends Omit<Kernels, 'name' | 'attentionForward' | 'attentionBackward' | LapackKernel> {
  readonly sgemmBackend: 'openblas' | 'portable';
  /** Which compiled version of the element and row kernels this CPU runs (GCC's dispatch, as the kernels see it). */
  readonly simdClone: string;
  /** Present when the addon was built with OpenBLAS (its LAPACK). */
  choleskyLower?: Kernels['choleskyLower'];
  invertLower?: Kernels['invertLower'];
  choleskySolveRows?: Kernels['choleskySolveRows'];
  symmetricEigen?: Kernels['symmetricEigen'];
  sgemmPortable: Kernels['sgemm'];
  attentionForward: Positional;
  attentionBackward: Positional;
  /** Maps bytes [offset, offset + length) of an open file copy-on-write (never written back). */
  mapRange(fd: number, offset: number, length: number): ArrayBuffer;
}

/** The package root, found from this file whether it runs from `src` or `dist/src`. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('elder: cannot find the package root');
    dir = parent;
  }
  return dir;
}

/**
 * The raw addon, or the reason it could not be loaded. `ELDER_SIMD=x86-64-v3`
 * loads the build without AVX-512 code paths and asks OpenBLAS for its
 * Haswell kernels, so that an AVX-512 machine measures what an AVX2 CPU runs.
 */
export function loadNativeAddon(): NativeAddon | Error {
  const simd = process.env.ELDER_SIMD;
  if (simd !== undefined && simd !== '' && simd !== 'x86-64-v3' && simd !== 'x86-64-v4')
    return new Error(`ELDER_SIMD must be x86-64-v3 or x86-64-v4, got "${simd}"`);
  const avx2 = simd === 'x86-64-v3';
  if (avx2) process.env.OPENBLAS_CORETYPE ??= 'Haswell';
  const file = path.join(packageRoot(), 'build', 'Release', avx2 ? 'elder_native_avx2.node' : 'elder_native.node');
  if (!existsSync(file)) return new Error(`native addon not built (${file} missing; run npm run build:native)`);
  // OpenBLAS reads this as the addon loads it. By default its idle workers spin (sched_yield) for
  // 2^28 cycles after every call, holding a core that elder's own threaded kernels need between
  // sgemm calls; at 2^4 they sleep at once. A value the user set is kept.
  process.env.OPENBLAS_THREAD_TIMEOUT ??= '4';
  try {
    return createRequire(import.meta.url)(file) as NativeAddon;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/**
 * Wraps the addon as a Kernels backend; `portableSgemm` swaps in the C
 * fallback sgemm, and with it the TypeScript linear algebra (as without OpenBLAS).
 */
export function nativeKernels(addon: NativeAddon, portableSgemm = false): Kernels {
  const name = portableSgemm ? 'portable' : addon.sgemmBackend;
  const lapack = !portableSgemm && addon.choleskyLower !== undefined && addon.symmetricEigen !== undefined;
  return {
    ...addon,
    name,
    sgemm: portableSgemm ? addon.sgemmPortable : addon.sgemm,
    choleskyLower: lapack ? addon.choleskyLower! : jsKernels.choleskyLower,
    invertLower: lapack ? addon.invertLower! : jsKernels.invertLower,
    choleskySolveRows: lapack ? addon.choleskySolveRows! : jsKernels.choleskySolveRows,
    symmetricEigen: lapack ? addon.symmetricEigen! : jsKernels.symmetricEigen,
    // The addon takes views flat (array, offset, ld) so that N-API reads numbers, not objects.
    attentionForward(dims, q, k, v, out, probs, past, keyStride) {
      addon.attentionForward(...flat(q), ...flat(k), ...flat(v), ...flat(out), probs, ...sizes(dims), past, keyStride, dims.window ?? 0);
    },
    attentionBackward(dims, q, k, v, probs, dOut, dq, dk, dv) {
      addon.attentionBackward(...flat(q), ...flat(k), ...flat(v), probs, ...flat(dOut), ...flat(dq), ...flat(dk), ...flat(dv), ...sizes(dims));
    },
  };
}

/** A view as the addon's three arguments; a missing one (a gradient not wanted) as (null, 0, 1). */
function flat(view: StridedView | null | undefined): [Float32Array | null, number, number] {
  return view == null ? [null, 0, 1] : [view.data, view.offset, view.ld];
}

/** An attention call's sizes as the addon's six arguments. */
function sizes(dims: AttentionDims): [number, number, number, number, number, number] {
  return [dims.batch, dims.heads, dims.kvHeads, dims.steps, dims.headDim, dims.scale];
}
