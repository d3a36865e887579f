/**
 * `elder serve`'s HTTP server: routes, validation, auth, metrics, one log line
 * per request. Everything about edits and completions lives in {@link EditService}.
 */
import fs from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { EditRequest } from '../editors/edit.js';
import { REPORT_FILES } from '../eval/report.js';
import type { BenchResults } from '../eval/runner.js';
import { packageRoot } from '../tensor/backends/native.js';
import { ElderError } from '../util/errors.js';
import { schemaProblems } from '../util/schema.js';
import { requireBearer } from './auth.js';
import { HttpError, readJsonBody, sendJson, sendText } from './http.js';
import { ServiceMetrics } from './metrics.js';
import { completionRequestSchema, DEFAULT_LIMITS, editsBodySchema, openApiDocument, type ServerLimits } from './openapi.js';
import { type EditCheck, type EditService, NotFoundError, ReadOnlyError } from './service.js';
import { ConflictError, EDIT_STATUSES, type EditStatus, type StoredEdit } from './store.js';

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

export interface RunningServer {
  url: string;
  port: number;
  metrics: ServiceMetrics;
  close(): Promise<void>;
}

interface Route {
  method: string;
  /** The template used as the metrics label, e.g. /v1/edits/{id}. */
  template: string;
  pattern: RegExp;
  handle(request: IncomingMessage, response: ServerResponse, params: string[], url: URL): Promise<void> | void;
}

const WEB_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

/**
 * A stored edit as the API shows it (snake_case, with durations), with its
 * latest holds check from the state: `holds` is null until checked, so an
 * applied edit that does not give its target is never shown as simply applied.
 */
export function editView(edit: StoredEdit, check: EditCheck, now = Date.now()): Record<string, unknown> {
  const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));
  const started = ms(edit.startedAt);
  const finished = ms(edit.finishedAt);
  return {
    seq: edit.seq,
    id: edit.id,
    label: edit.label,
    prompt: edit.prompt,
    target: edit.target,
    status: edit.status,
    reason: edit.reason,
    submitted_at: edit.submittedAt,
    started_at: edit.startedAt,
    finished_at: edit.finishedAt,
    retracted_at: edit.retractedAt,
    queued_seconds: started === null ? null : (started - ms(edit.submittedAt)!) / 1000,
    training_seconds: started === null ? null : ((finished ?? (edit.status === 'training' ? now : started)) - started) / 1000,
    batch: edit.batch,
    generation: edit.generation,
    loss: edit.loss,
    iterations: edit.iterations,
    attempts: edit.attempts,
    holds: edit.status === 'applied' ? (check.holds ?? null) : null,
    checked_at: edit.status === 'applied' ? (check.checkedAt ?? null) : null,
    checked_generation: edit.status === 'applied' ? (check.checkedGeneration ?? null) : null,
  };
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

function validated<T>(schema: Parameters<typeof schemaProblems>[0], body: unknown, where = 'body'): T {
  const problems = schemaProblems(schema, body, where);
  if (problems.length > 0) throw new HttpError(400, problems.slice(0, 20).join('; '));
  return body as T;
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
  const webRoot = path.join(packageRoot(), 'web');
  const version = (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  const openApi = `${JSON.stringify(openApiDocument(limits, version), null, 2)}\n`;
  const editsSchema = editsBodySchema(limits);
  const completionSchema = completionRequestSchema(limits);
  if (!service.readOnly && options.token === null) throw new ElderError('a token is required for a writable server');

  const requireWriter = (request: IncomingMessage) => {
    if (service.readOnly) throw new ReadOnlyError('this server is read-only (started with --read-only)');
    requireBearer(request, options.token!);
  };

  const evaluation = (): { results: BenchResults; plot: string | null } | null => {
    if (options.evalDir === undefined) return null;
    const resultsFile = path.join(options.evalDir, REPORT_FILES.results);
    if (!fs.existsSync(resultsFile)) return null;
    const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8')) as BenchResults;
    const plot = path.join(options.evalDir, REPORT_FILES.retention);
    return { results, plot: fs.existsSync(plot) ? plot : null };
  };

  const routes: Route[] = [
    ...Object.entries(WEB_FILES).map(
      ([urlPath, { file, type }]): Route => ({
        method: 'GET',
        template: urlPath,
        pattern: new RegExp(`^${urlPath.replace(/[.]/g, '\\.')}$`),
        handle: (_request, response) =>
          sendText(response, 200, fs.readFileSync(path.join(webRoot, file), 'utf8'), type, {
            'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'",
            'x-content-type-options': 'nosniff',
          }),
      }),
    ),
    {
      method: 'GET',
      template: '/openapi.json',
      pattern: /^\/openapi\.json$/,
      handle: (_q, response) => sendText(response, 200, openApi, 'application/json; charset=utf-8'),
    },
    {
      method: 'GET',
      template: '/healthz',
      pattern: /^\/healthz$/,
      handle: (_q, response) => {
        const training = service.training;
        sendJson(response, service.trainingError === null ? 200 : 503, {
          status: service.trainingError === null ? 'ok' : 'training stopped',
          model: service.modelName,
          read_only: service.readOnly,
          generation: service.generation,
          codes: service.state.editor.codebook.size,
          edits: service.store?.counts() ?? null,
          training: training && {
            batch: training.batch,
            ids: training.ids,
            iteration: training.iteration,
            iterations: training.iterations,
            loss: training.loss,
            seconds: (Date.now() - training.startedAt) / 1000,
          },
          training_error: service.trainingError,
          reconciliation: service.reconciliation,
          uptime_seconds: (Date.now() - metrics.startedAt) / 1000,
        });
      },
    },
    {
      method: 'GET',
      template: '/metrics',
      pattern: /^\/metrics$/,
      handle: (_q, response) => {
        const counts = service.store?.counts();
        const totals = service.store?.trainingTotals();
        const text = metrics.render([
          {
            name: 'elder_edits',
            help: 'Edits in the store, by status.',
            type: 'gauge',
            samples: EDIT_STATUSES.map((status) => ({ labels: { status }, value: counts?.[status] ?? 0 })),
          },
          {
            name: 'elder_training_seconds_total',
            help: 'Seconds spent training batches (applied or failed), over the store’s life.',
            type: 'counter',
            samples: [{ value: totals?.seconds ?? 0 }],
          },
          {
            name: 'elder_training_batches_total',
            help: 'Training batches ended, by result.',
            type: 'counter',
            samples: Object.entries(totals?.batches ?? {}).map(([result, value]) => ({ labels: { result }, value })),
          },
          { name: 'elder_training_in_progress', help: '1 while a batch trains.', type: 'gauge', samples: [{ value: service.training ? 1 : 0 }] },
          {
            name: 'elder_state_generation',
            help: 'Committed generation of the ELDER state serving completions.',
            type: 'gauge',
            samples: [{ value: service.generation }],
          },
          {
            name: 'elder_applied_edits_holding',
            help: 'Applied edits by their latest check: held (the edited model gives the target), lost (it does not), unchecked.',
            type: 'gauge',
            samples: Object.entries(service.holdCounts()).map(([check, value]) => ({ labels: { check }, value })),
          },
          {
            name: 'elder_codebook_codes',
            help: 'Allocation codes of live (applied, unretracted) edits.',
            type: 'gauge',
            samples: [{ value: service.state.editor.codebook.size }],
          },
        ]);
        sendText(response, 200, text, 'text/plain; version=0.0.4; charset=utf-8');
      },
    },
    {
      method: 'GET',
      template: '/v1/edits',
      pattern: /^\/v1\/edits$/,
      handle: (_q, response, _p, url) => {
        const status = url.searchParams.get('status');
        if (status !== null && !(EDIT_STATUSES as readonly string[]).includes(status))
          throw new HttpError(400, `query "status" must be one of ${EDIT_STATUSES.join(', ')}`);
        const integer = (name: string, min: number, max: number) => {
          const raw = url.searchParams.get(name);
          if (raw === null) return undefined;
          const value = Number(raw);
          if (!Number.isInteger(value) || value < min || value > max) throw new HttpError(400, `query "${name}" must be an integer in [${min}, ${max}]`);
          return value;
        };
        const limit = integer('limit', 1, 10_000);
        const after = integer('after', 0, Number.MAX_SAFE_INTEGER);
        const edits = service.store?.list({ status: (status ?? undefined) as EditStatus | undefined, limit, after }) ?? [];
        const now = Date.now();
        sendJson(response, 200, { edits: edits.map((edit) => editView(edit, service.holdsOf(edit.id), now)), counts: service.store?.counts() ?? null });
      },
    },
    {
      method: 'POST',
      template: '/v1/edits',
      pattern: /^\/v1\/edits$/,
      handle: async (request, response) => {
        requireWriter(request);
        const body = validated<EditRequest | EditRequest[]>(editsSchema, await readJsonBody(request, limits.maxBodyBytes));
        const stored = service.submit(Array.isArray(body) ? body : [body]);
        const now = Date.now();
        sendJson(response, 202, { ids: stored.map((e) => e.id), edits: stored.map((e) => editView(e, service.holdsOf(e.id), now)) });
      },
    },
    {
      method: 'GET',
      template: '/v1/edits/{id}',
      pattern: /^\/v1\/edits\/([^/]+)$/,
      handle: (_q, response, [id]) => sendJson(response, 200, editView(service.get(id), service.holdsOf(id))),
    },
    {
      method: 'DELETE',
      template: '/v1/edits/{id}',
      pattern: /^\/v1\/edits\/([^/]+)$/,
      handle: (request, response, [id]) => {
        requireWriter(request);
        sendJson(response, 200, editView(service.retract(id), service.holdsOf(id)));
      },
    },
    {
      method: 'POST',
      template: '/v1/completions',
      pattern: /^\/v1\/completions$/,
      handle: async (request, response) => {
        const body = validated<{ prompt: string; max_tokens?: number; temperature?: number; top_p?: number; seed?: number }>(
          completionSchema,
          await readJsonBody(request, limits.maxBodyBytes),
        );
        const completion = service.complete({
          prompt: body.prompt,
          maxTokens: body.max_tokens ?? 16,
          temperature: body.temperature,
          topP: body.top_p,
          seed: body.seed,
        });
        const { decision } = completion;
        metrics.observeCompletion(decision.deferred);
        sendJson(response, 200, {
          id: `cmpl-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`,
          object: 'text_completion',
          created: Math.floor(Date.now() / 1000),
          model: service.modelName,
          text: completion.text,
          deferred: decision.deferred,
          // null when no edit is stored: there is nothing to be near.
          distance: Number.isFinite(decision.distance) ? decision.distance : null,
          nearest_edit: decision.nearestId,
          // The subject gate's match (absent with the code gate alone).
          ...(decision.matched === undefined ? {} : { matched_edit: decision.matched }),
          experts: decision.experts,
          layers: service.state.editor.layers,
          generation: completion.generation,
          choices: [{ index: 0, text: completion.text, finish_reason: completion.finishReason }],
          usage: {
            prompt_tokens: completion.promptTokens,
            completion_tokens: completion.completionTokens,
            total_tokens: completion.promptTokens + completion.completionTokens,
          },
        });
      },
    },
    {
      method: 'GET',
      template: '/v1/evaluation',
      pattern: /^\/v1\/evaluation$/,
      handle: (_q, response) => {
        const found = evaluation();
        if (found === null)
          throw new HttpError(
            404,
            options.evalDir === undefined
              ? 'no evaluation: start the server with --eval DIR (an elder bench-edit output folder)'
              : `no evaluation in ${options.evalDir} yet`,
          );
        const { results, plot } = found;
        sendJson(response, 200, {
          created_at: results.createdAt,
          data: results.data,
          base: results.base,
          methods: results.methods.map((m) => ({
            method: m.method,
            edits: m.editsApplied,
            reliability: m.reliability,
            generalization: m.generalization,
            locality: m.locality,
            seconds_per_edit: m.secondsPerEdit,
          })),
          plot: plot === null ? null : '/v1/evaluation/reliability-vs-edits.svg',
        });
      },
    },
    {
      method: 'GET',
      template: '/v1/evaluation/reliability-vs-edits.svg',
      pattern: /^\/v1\/evaluation\/reliability-vs-edits\.svg$/,
      handle: (_q, response) => {
        const plot = evaluation()?.plot ?? null;
        if (plot === null) throw new HttpError(404, 'no reliability plot');
        sendText(response, 200, fs.readFileSync(plot, 'utf8'), 'image/svg+xml', { 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'" });
      },
    },
  ];

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
