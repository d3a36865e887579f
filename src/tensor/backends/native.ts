/** Loads the N-API addon built by node-gyp (`build/Release/elder_native.node`). */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Kernels } from './kernels.js';

interface NativeAddon extends Omit<Kernels, 'name'> {
  readonly sgemmBackend: 'openblas' | 'portable';
  sgemmPortable: Kernels['sgemm'];
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

/** The raw addon, or the reason it could not be loaded. */
export function loadNativeAddon(): NativeAddon | Error {
  const file = path.join(packageRoot(), 'build', 'Release', 'elder_native.node');
  if (!existsSync(file)) return new Error(`native addon not built (${file} missing; run npm run build:native)`);
  try {
    return createRequire(import.meta.url)(file) as NativeAddon;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** Wraps the addon as a Kernels backend; `portableSgemm` swaps in the C fallback sgemm. */
export function nativeKernels(addon: NativeAddon, portableSgemm = false): Kernels {
  const name = portableSgemm ? 'portable' : addon.sgemmBackend;
  return {
    ...addon,
    name,
    sgemm: portableSgemm ? addon.sgemmPortable : addon.sgemm,
  };
}
