/** How `elder serve`'s HTTP server is started (the routes read it too). */
import type { ServerLimits } from './openapi.js';

export interface ServerOptions {
  /** 127.0.0.1 unless told otherwise: the API changes what a model tells everyone. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Required for writes; null only for a read-only service. */
  token: string | null;
  limits?: Partial<ServerLimits>;
  /** An `elder bench-edit` output folder whose report the page shows. */
  evalDir?: string;
  log?: (line: string) => void;
}
