import os from 'node:os';
import path from 'node:path';

/** elder's cache folder for `kind`: under `$ELDER_CACHE_DIR`, else `$XDG_CACHE_HOME/elder`, else `~/.cache/elder`. */
export function elderCacheDir(kind: string): string {
  const root = process.env.ELDER_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'elder');
  return path.join(root, kind);
}
