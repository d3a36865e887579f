/**
 * `elder serve` over raw sockets (fetch would normalise what we want to send
 * malformed): methods, request targets with odd escapes and lengths, headers,
 * bodies of JSON junk, deep nesting, huge arrays, wrong types, prototype keys
 * and invalid UTF-8. Every answer must be below 500 and arrive in time; after
 * the run the service must still be healthy, with every acknowledged edit
 * stored.
 */
import net from 'node:net';
import path from 'node:path';
import fc from 'fast-check';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { EditService } from '../../src/server/service.js';
import type { CaseResult, Surface } from '../harness.js';
import { damagedJson } from '../mutate.js';
import type { Workspace } from '../workspace.js';

const TOKEN = 'fuzz-token-0123456789';

interface HttpCase {
  method: string;
  target: string;
  headers: Array<[string, string]>;
  body: Uint8Array;
  /** A client that hangs up after this many bytes of its request. */
  cut?: number;
}

const EDIT = { id: 'e', prompt: 'The capital of Norway is', target: 'Bergen', subject: 'Norway', rephrases: ['Norway — capital:'] };
const COMPLETION = { prompt: 'The capital of Norway is', max_tokens: 4, temperature: 0.5, top_p: 0.9, seed: 3 };

const escapes = fc
  .array(
    fc.oneof(
      fc.constantFrom('%', '%f', '%ff', '%00', '%2F', '%25', '%E0%A4%A', '%C0%AF', '..', '/', '?', '#', ';', '&', '='),
      fc.string({ maxLength: 6 }),
      fc.integer({ min: 0, max: 255 }).map((b) => `%${b.toString(16).padStart(2, '0')}`),
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''));

const targetArbitrary: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '/healthz',
    '/metrics',
    '/openapi.json',
    '/v1/edits',
    '/v1/completions',
    '/v1/evaluation',
    '/v1/evaluation/reliability-vs-edits.svg',
    '/',
    '*',
    '//x:99999/',
    'http://evil/v1/edits',
    '/v1/edits?status=applied&limit=5&after=0',
  ),
  escapes.map((s) => `/v1/edits/${s}`),
  fc.tuple(fc.constantFrom('/v1/edits', '/v1/completions', '/healthz'), escapes).map(([route, s]) => `${route}${s}`),
  fc
    .record({
      status: fc.string({ maxLength: 10 }),
      limit: fc.oneof(fc.integer(), fc.string({ maxLength: 6 })),
      after: fc.oneof(fc.bigInt(), fc.string({ maxLength: 6 })),
    })
    .map((q) => `/v1/edits?status=${encodeURIComponent(q.status)}&limit=${encodeURIComponent(String(q.limit))}&after=${encodeURIComponent(String(q.after))}`),
  fc.integer({ min: 1, max: 12_000 }).map((n) => `/v1/edits/${'a'.repeat(n)}`),
);

const headerArbitrary: fc.Arbitrary<Array<[string, string]>> = fc
  .tuple(
    fc.option(
      fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'APPLICATION/JSON',
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        '',
        ';;;',
      ),
      { nil: undefined },
    ),
    fc.option(
      fc.constantFrom(`Bearer ${TOKEN}`, 'Bearer wrong', 'Bearer', 'Basic Zm9vOmJhcg==', `bearer ${TOKEN}`, `Bearer ${TOKEN} extra`, 'x'.repeat(5000)),
      { nil: undefined },
    ),
    fc.array(
      fc.tuple(
        fc.constantFrom('X-Junk', 'Accept', 'Accept-Encoding', 'Expect', 'Transfer-Encoding', 'Range', 'If-None-Match', 'Origin'),
        fc.string({ maxLength: 40 }).map((v) => v.replace(/[\r\n]/g, '')),
      ),
      { maxLength: 3 },
    ),
  )
  .map(([type, auth, extra]) => [
    ...(type === undefined ? [] : [['Content-Type', type] as [string, string]]),
    ...(auth === undefined ? [] : [['Authorization', auth] as [string, string]]),
    ...extra,
  ]);

const bodyArbitrary: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc
    .record({ id: fc.string({ minLength: 1, maxLength: 12 }), prompt: fc.string({ maxLength: 40 }), target: fc.string({ maxLength: 10 }) })
    .map((e) => Buffer.from(JSON.stringify({ ...EDIT, ...e }))),
  fc
    .array(fc.record({ prompt: fc.constantFrom('The capital of Chile is', 'A beagle is a kind of', 'x'), target: fc.constantFrom('Lima', 'cat', 'y') }), {
      minLength: 1,
      maxLength: 5,
    })
    .map((edits) => Buffer.from(JSON.stringify(edits))),
  damagedJson(EDIT, { serialize: (v) => JSON.stringify(v) }).map((d) => d.bytes),
  damagedJson(COMPLETION, { serialize: (v) => JSON.stringify(v) }).map((d) => d.bytes),
  fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  fc.integer({ min: 1, max: 100_000 }).map((depth) => Buffer.from('['.repeat(depth) + ']'.repeat(depth))),
  fc.integer({ min: 1, max: 200_000 }).map((n) => Buffer.from(JSON.stringify(Array.from({ length: n }, (_, i) => i % 7)))),
  fc
    .constantFrom(
      '{"__proto__":{"admin":true},"prompt":"a b","target":"c"}',
      '{"constructor":{"prototype":{"x":1}},"prompt":"a b","target":"c"}',
      '{"prompt":"a b","target":"c","prompt":"dup"}',
    )
    .map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 64 }).map((junk) => Buffer.concat([Buffer.from('{"prompt":"'), junk, Buffer.from('","target":"x"}')])),
);

/** Anything at all on the wire. */
const anyCase: fc.Arbitrary<HttpCase> = fc.record({
  method: fc.constantFrom('GET', 'GET', 'POST', 'POST', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'FOO'),
  target: targetArbitrary,
  headers: headerArbitrary,
  body: bodyArbitrary,
});

/** A well-formed call of a real route (right method, JSON, the token) with a generated body or id: reaches the handlers. */
const routedCase: fc.Arbitrary<HttpCase> = fc.oneof(
  bodyArbitrary.map((body) => ({
    method: 'POST',
    target: '/v1/edits',
    headers: [
      ['Content-Type', 'application/json'],
      ['Authorization', `Bearer ${TOKEN}`],
    ] as Array<[string, string]>,
    body,
  })),
  bodyArbitrary.map((body) => ({
    method: 'POST',
    target: '/v1/completions',
    headers: [['Content-Type', 'application/json']] as Array<[string, string]>,
    body,
  })),
  fc.oneof(escapes, fc.constantFrom('e', 'x', '0')).map((id) => ({
    method: 'DELETE',
    target: `/v1/edits/${id}`,
    headers: [['Authorization', `Bearer ${TOKEN}`]] as Array<[string, string]>,
    body: new Uint8Array(0),
  })),
  fc.oneof(escapes, fc.constantFrom('e', 'x')).map((id) => ({ method: 'GET', target: `/v1/edits/${id}`, headers: [], body: new Uint8Array(0) })),
);

/** A client that sends part of a request and hangs up. */
const partialCase: fc.Arbitrary<HttpCase> = fc.tuple(fc.oneof(anyCase, routedCase), fc.nat()).map(([c, cut]) => ({ ...c, cut }));

const caseArbitrary: fc.Arbitrary<HttpCase> = fc.oneof(
  { weight: 4, arbitrary: anyCase },
  { weight: 4, arbitrary: routedCase },
  { weight: 1, arbitrary: partialCase },
);

/** Sends one request as raw bytes and returns the status code (0: the connection closed without an answer). */
function send(url: string, c: HttpCase, timeoutMs: number): Promise<number | 'timeout'> {
  const { hostname, port } = new URL(url);
  const head = [`${c.method} ${c.target} HTTP/1.1`, 'Host: fuzz', 'Connection: close', ...c.headers.map(([k, v]) => `${k}: ${v}`)];
  if (c.body.length > 0 && !c.headers.some(([k]) => k.toLowerCase() === 'transfer-encoding')) head.push(`Content-Length: ${c.body.length}`);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('timeout');
    }, timeoutMs);
    socket.on('connect', () => {
      const bytes = Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), c.body]);
      if (c.cut === undefined) {
        socket.end(bytes);
        return;
      }
      // Hang up mid-request: whatever the server makes of it, it must not fall over.
      socket.write(bytes.subarray(0, c.cut % bytes.length), () => setTimeout(() => socket.destroy(), 5));
    });
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(reply);
      if (match) {
        clearTimeout(timer);
        socket.destroy();
        resolve(Number(match[1]));
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(/^HTTP\/1\.[01] (\d{3})/.test(reply) ? Number(/^HTTP\/1\.[01] (\d{3})/.exec(reply)![1]) : 0);
    });
  });
}

export async function httpSurface(ws: Workspace): Promise<Surface<HttpCase>> {
  const service = await EditService.open({
    modelDir: ws.modelDir,
    stateDir: path.join(ws.root, 'http-state'),
    overrides: { iterations: 2, batchSize: 4, replay: 0 },
    log: () => {},
  });
  let server: RunningServer;
  try {
    server = await startServer(service, { port: 0, token: TOKEN, limits: { maxBodyBytes: 256 * 1024, maxTokens: 8 }, log: () => {} });
  } catch (error) {
    await service.close();
    throw error;
  }
  return {
    name: 'HTTP',
    arbitrary: caseArbitrary,
    hangSeconds: 20,
    async run(c): Promise<CaseResult> {
      const status = await send(server.url, c, 15_000);
      if (status === 'timeout') return { outcome: 'hang', detail: `${c.method} ${c.target.slice(0, 60)}: no answer in 15 s` };
      // 0: no answer because the client hung up, or Node's HTTP parser refused bytes that were not HTTP.
      if (status === 0) return { outcome: 'client error (4xx)' };
      if (status >= 500) return { outcome: 'server error (5xx)', detail: `${c.method} ${c.target.slice(0, 60)} → ${status}` };
      return { outcome: status >= 400 ? 'client error (4xx)' : 'accepted' };
    },
    async close() {
      try {
        const health = await send(server.url, { method: 'GET', target: '/healthz', headers: [], body: new Uint8Array(0) }, 15_000);
        if (health !== 200) throw new Error(`after the run, /healthz answered ${health}`);
      } finally {
        await server.close();
        await service.close();
      }
    },
  };
}
