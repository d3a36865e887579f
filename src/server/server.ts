/**
 * `elder serve`'s HTTP server: dispatch to the routes (one module per part of
 * the API in `routes/`), load shedding, error statuses, metrics, one log line
 * per request. Everything about edits and completions lives in {@link EditService}.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ElderError } from '../util/errors.js';
import { requireBearer } from './auth.js';
import { HttpError, sendJson } from './http.js';
import { ServiceMetrics } from './metrics.js';
import { DEFAULT_LIMITS, type ServerLimits } from './openapi.js';
import type { ServerOptions } from './options.js';
import { completionRoutes } from './routes/completions.js';
import { editRoutes } from './routes/edits.js';
import { evaluationRoutes } from './routes/evaluation.js';
import type { Route, RouteContext } from './routes/route.js';
import { statusRoutes } from './routes/status.js';
import { webRoutes } from './routes/web.js';
import { type EditService, NotFoundError, ReadOnlyError } from './service.js';
import { ConflictError } from './store.js';

export type { ServerOptions };

export interface RunningServer {
  url: string;
  port: number;
  metrics: ServiceMetrics;
  close(): Promise<void>;
}

/** The request target as a URL; a target that is not one (`//host:99999`) is the client's error, not ours. */
function requestUrl(target: string | undefined): URL {
  try {
    return new URL(target ?? '/', 'http://localhost');
  } catch {
    throw new HttpError(400, 'malformed request target');
  }
}

/** A percent-decoded path segment; a malformed escape (`%ff`, `%`) is a 400. */
function decodePathPart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new HttpError(400, `malformed percent-escape in path segment "${part.slice(0, 80)}"`);
  }
}

function statusOf(error: unknown): number {
  if (error instanceof HttpError) return error.status;
  if (error instanceof NotFoundError) return 404;
  if (error instanceof ConflictError) return 409;
  if (error instanceof ReadOnlyError) return 403;
  if (error instanceof ElderError) return 400;
  return 500;
}

/** Beyond this a refused body is cut off (the client then sees a reset, not the 413). */
const DRAIN_CAP_BYTES = 64 * 1024 * 1024;

/** Drains what remains of a refused body (up to a cap) so the client reads the answer instead of a reset. */
function drain(request: IncomingMessage, cap: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    if (request.readableEnded) return resolve();
    request.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > cap) {
        request.destroy();
        resolve();
      }
    });
    request.on('end', () => resolve());
    request.on('error', () => resolve());
    request.on('close', () => resolve());
    request.resume();
  });
}

export function startServer(service: EditService, options: ServerOptions): Promise<RunningServer> {
  const limits: ServerLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const log = options.log ?? (() => {});
  const metrics = new ServiceMetrics();
  if (!service.readOnly && options.token === null) throw new ElderError('a token is required for a writable server');

  const requireWriter = (request: IncomingMessage) => {
    if (service.readOnly) throw new ReadOnlyError('this server is read-only (started with --read-only)');
    requireBearer(request, options.token!);
  };

  const context: RouteContext = { service, options, limits, metrics, requireWriter };
  const routes: Route[] = [...webRoutes(context), ...statusRoutes(context), ...editRoutes(context), ...completionRoutes(context), ...evaluationRoutes(context)];

  let pending = 0;
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const started = performance.now();
    let url = new URL('http://localhost/');
    let template = 'unmatched';
    pending++;
    try {
      // Shed load before reading anything: a saturated server answers at once instead of queueing without bound.
      if (pending > limits.maxPendingRequests)
        throw new HttpError(503, `the server is busy (${limits.maxPendingRequests} requests in progress); retry shortly`, { 'retry-after': '1' });
      url = requestUrl(request.url);
      const matching = routes.filter((route) => route.pattern.test(url.pathname));
      if (matching.length === 0) throw new HttpError(404, `no route ${url.pathname}`);
      const route = matching.find((r) => r.method === request.method);
      if (route === undefined)
        throw new HttpError(405, `${request.method} is not allowed on ${url.pathname} (allowed: ${matching.map((r) => r.method).join(', ')})`, {
          allow: matching.map((r) => r.method).join(', '),
        });
      template = route.template;
      const params = route.pattern.exec(url.pathname)!.slice(1).map(decodePathPart);
      await route.handle(request, response, params, url);
    } catch (error) {
      const status = statusOf(error);
      if (status === 500) log(`error: ${(error as Error).stack ?? String(error)}`);
      const message = status === 500 ? 'internal error (see the server log)' : (error as Error).message;
      if (status === 413) await drain(request, DRAIN_CAP_BYTES);
      if (!response.headersSent) sendJson(response, status, { error: { status, message } }, error instanceof HttpError ? error.headers : {});
      else response.destroy();
    } finally {
      pending--;
      const seconds = (performance.now() - started) / 1000;
      metrics.observeRequest(request.method ?? '?', template, response.statusCode, seconds);
      log(`${request.method} ${url.pathname} ${response.statusCode} ${(seconds * 1000).toFixed(1)} ms`);
    }
  };

  // Slow clients must not hold sockets forever: Node checks the two timeouts every connectionsCheckingInterval.
  const server = http.createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(100, Math.min(5_000, limits.headersTimeoutMs / 4)),
    },
    (request, response) => void handle(request, response),
  );
  server.maxConnections = limits.maxConnections;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve({
        url: `http://${host}:${address.port}`,
        port: address.port,
        metrics,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
