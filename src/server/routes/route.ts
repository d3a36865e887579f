/** A route of `elder serve`'s HTTP API, and what its handler may use. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { schemaProblems } from '../../util/schema.js';
import { HttpError } from '../http.js';
import type { ServiceMetrics } from '../metrics.js';
import type { ServerLimits } from '../openapi.js';
import type { ServerOptions } from '../options.js';
import type { EditService } from '../service.js';

export interface Route {
  method: string;
  /** The template used as the metrics label, e.g. /v1/edits/{id}. */
  template: string;
  pattern: RegExp;
  handle(request: IncomingMessage, response: ServerResponse, params: string[], url: URL): Promise<void> | void;
}

/** What every route module builds its routes from. */
export interface RouteContext {
  service: EditService;
  options: ServerOptions;
  limits: ServerLimits;
  metrics: ServiceMetrics;
  /** Throws unless the request may write: a writable server, and the bearer token. */
  requireWriter(request: IncomingMessage): void;
}

/** `body` checked against `schema`; a 400 naming the first problems otherwise. */
export function validated<T>(schema: Parameters<typeof schemaProblems>[0], body: unknown, where = 'body'): T {
  const problems = schemaProblems(schema, body, where);
  if (problems.length > 0) throw new HttpError(400, problems.slice(0, 20).join('; '));
  return body as T;
}
