/** Helpers for tests of `elder serve`: HTTP calls, waiting for edits, and a served fixture. */
import { type ChildProcess, spawn } from 'node:child_process';
import { cli } from './helpers.js';

export const TOKEN = 'test-token-0123456789abcdef';
export { cli };

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** One JSON request; `token` adds the bearer header. */
export async function call<T = any>(
  base: string,
  method: string,
  route: string,
  body?: unknown,
  options: { token?: string; raw?: string; contentType?: string } = {},
): Promise<Reply<T>> {
  const headers: Record<string, string> = {};
  if (body !== undefined || options.raw !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(`${base}${route}`, { method, headers, body: options.raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // metrics and pages are text
  }
  return { status: response.status, body: parsed as T, headers: response.headers };
}

/** Polls until every listed edit has one of `statuses` (or the time runs out). */
export async function waitForStatus(base: string, ids: readonly string[], statuses: readonly string[], timeoutMs = 60_000): Promise<Map<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await call(base, 'GET', '/v1/edits');
    const byId = new Map<string, any>(body.edits.map((e: any) => [e.id, e]));
    if (ids.every((id) => statuses.includes(byId.get(id)?.status))) return byId;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${statuses.join('/')}: ${ids.map((id) => `${id}=${byId.get(id)?.status}`).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Polls /healthz until a batch is training; returns that health report. */
export async function waitForTraining(base: string, timeoutMs = 60_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const health = await call(base, 'GET', '/healthz');
    if (health.body.training !== null) return health.body;
    if (Date.now() > deadline) throw new Error(`timed out waiting for a batch to train: ${JSON.stringify(health.body.edits)}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  log: () => string;
  exited: Promise<number | null>;
}

/** Starts `elder serve` in a child process on a free port and waits for its "listening on" line. */
export function spawnServer(args: string[], env: Record<string, string> = { ELDER_TOKEN: TOKEN }): Promise<ServerProcess> {
  const child = spawn(process.execPath, [cli, 'serve', '--port', '0', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve({ child, url: match[1], log: () => output, exited });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`elder serve exited with ${code} before listening:\n${output}`)));
  });
}
