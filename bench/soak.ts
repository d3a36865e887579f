/**
 * `npm run soak -- --minutes N`: `elder serve` on elder-facts under mixed load
 * (concurrent completions, edit submissions, retractions and reads), killed
 * with SIGKILL and restarted every few minutes, with its invariants checked
 * throughout:
 * - no 5xx;
 * - the generation a client is served never goes back, across restarts too;
 * - every acknowledged edit ends applied, retracted or failed with a reason;
 * - resident memory grows by less than 10% after warm-up, in each lifetime.
 * Prints p50/p99 latency and requests per second per route; exits non-zero
 * when an invariant broke.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readDataset } from '../src/eval/datasets.js';
import { Random } from '../src/util/random.js';
import { machineLine, median, printTable } from './harness.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = path.join(root, 'dist/src/cli/main.js');
const TOKEN = 'soak-token-0123456789abcdef';

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

const minutes = option('minutes', 10);
const killEveryMinutes = option('kill-every', Math.min(3, Math.max(minutes / 2, 0.5)));
const warmupSeconds = option('warmup', Math.min(60, minutes * 15));
const completionClients = option('clients', 4);
/** The /metrics gauges that say where the server's memory is, in MiB. */
const MEMORY_GAUGES = [
  'process_resident_memory_bytes',
  'nodejs_heap_size_used_bytes',
  'nodejs_heap_size_total_bytes',
  'nodejs_external_memory_bytes',
  'nodejs_array_buffers_bytes',
  'elder_training_thread_heap_size_used_bytes',
  'elder_training_thread_heap_size_total_bytes',
  'elder_training_thread_array_buffers_bytes',
] as const;

/** `--memory-log FILE`: the server's memory gauges once a second, as CSV, for tracing a spike to the part that made it. */
const memoryLogIndex = process.argv.indexOf('--memory-log');
const memoryLog = memoryLogIndex >= 0 ? process.argv[memoryLogIndex + 1] : undefined;
const soakStart = Date.now();
if (memoryLog !== undefined) fs.writeFileSync(memoryLog, `${['seconds', 'lifetime_s', 'rss', ...MEMORY_GAUGES].join(',')}\n`);

interface Server {
  child: ChildProcess;
  url: string;
  exited: Promise<void>;
  startedAt: number;
  rss: number[];
}

async function startServer(stateDir: string): Promise<Server> {
  const child = spawn(process.execPath, [cli, 'serve', '--state', stateDir, '--port', '0'], {
    env: { ...process.env, ELDER_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let tail = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      // Keep only the end of the log: the soak must not grow its own memory with the server's.
      tail = (tail + chunk.toString()).slice(-4000);
      const match = /listening on (http:\/\/\S+)/.exec(tail);
      if (match) resolve(match[1]);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(() => reject(new Error(`elder serve exited before listening:\n${tail}`)));
  });
  child.stdout!.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
  });
  return { child, url, exited, startedAt: Date.now(), rss: [] };
}

function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

interface Sample {
  route: string;
  ms: number;
  status: number;
}

const samples: Sample[] = [];
const violations: string[] = [];
let unavailable = 0;

async function request(
  server: Server | null,
  route: string,
  method: string,
  pathname: string,
  body?: unknown,
  auth = false,
): Promise<{ status: number; body: any } | null> {
  if (server === null) {
    unavailable++;
    return null;
  }
  const started = performance.now();
  try {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (auth) headers.authorization = `Bearer ${TOKEN}`;
    const response = await fetch(`${server.url}${pathname}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    samples.push({ route, ms: performance.now() - started, status: response.status });
    if (response.status >= 500 && !(route === 'GET /healthz' && response.status === 503))
      violations.push(`${method} ${pathname} → ${response.status}: ${text.slice(0, 200)}`);
    return { status: response.status, body: text.startsWith('{') ? JSON.parse(text) : text };
  } catch {
    // Refused or reset: the server is being killed or restarted. Not a 5xx; counted apart.
    unavailable++;
    return null;
  }
}

const { records } = readDataset(path.join(root, 'bench/data/facts/counterfact.json'), 'counterfact');
const rng = new Random(2026);
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-soak-'));
const deadline = Date.now() + minutes * 60_000;
let server: Server | null = await startServer(stateDir);
/**
 * Resident memory of each server lifetime after its warm-up: the level at
 * its start and at its end (medians over a window of up to a minute of
 * per-second samples), and the peak. Growth is judged on the levels: a
 * leak raises them, while a single sample swings by ±5% with when the two
 * threads' garbage collectors last ran (the first, peak-over-one-sample,
 * version of this check measured those swings).
 */
const lifetimes: Array<{ start: number; end: number; peak: number; seconds: number; perMinute: number[] }> = [];
const acknowledged = new Set<string>();
let restarts = 0;
let editCounter = 0;

const running = () => Date.now() < deadline;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function completions(client: number): Promise<void> {
  let lastGeneration = -1;
  while (running()) {
    const record = records[rng.int(records.length)];
    const reply = await request(server, 'POST /v1/completions', 'POST', '/v1/completions', { prompt: record.prompt, max_tokens: 8 });
    if (reply?.status === 200) {
      const generation = reply.body.generation as number;
      if (generation < lastGeneration) violations.push(`client ${client}: served generation went back from ${lastGeneration} to ${generation}`);
      lastGeneration = Math.max(lastGeneration, generation);
    } else if (reply === null) await pause(200);
  }
}

async function submissions(): Promise<void> {
  while (running()) {
    const batch = Array.from({ length: 1 + rng.int(4) }, () => {
      const record = records[editCounter % records.length];
      return { id: `soak-${editCounter++}`, prompt: record.prompt, target: record.target, ...(record.subject ? { subject: record.subject } : {}) };
    });
    const reply = await request(server, 'POST /v1/edits', 'POST', '/v1/edits', batch, true);
    if (reply?.status === 202) for (const edit of batch) acknowledged.add(edit.id);
    await pause(reply === null ? 200 : 1500 + rng.int(1500));
  }
}

async function retractions(): Promise<void> {
  while (running()) {
    await pause(4000 + rng.int(4000));
    const ids = [...acknowledged];
    if (ids.length === 0) continue;
    const reply = await request(server, 'DELETE /v1/edits/{id}', 'DELETE', `/v1/edits/${encodeURIComponent(ids[rng.int(ids.length)])}`, undefined, true);
    if (reply !== null && reply.status !== 200 && reply.status !== 409)
      violations.push(`DELETE answered ${reply.status}: ${JSON.stringify(reply.body).slice(0, 200)}`);
  }
}

async function reads(): Promise<void> {
  while (running()) {
    const choice = rng.int(4);
    if (choice === 0) await request(server, 'GET /healthz', 'GET', '/healthz');
    else if (choice === 1) await request(server, 'GET /v1/edits', 'GET', '/v1/edits?limit=50');
    else if (choice === 2) await request(server, 'GET /metrics', 'GET', '/metrics');
    else {
      const ids = [...acknowledged];
      if (ids.length > 0) await request(server, 'GET /v1/edits/{id}', 'GET', `/v1/edits/${encodeURIComponent(ids[rng.int(ids.length)])}`);
    }
    await pause(100);
  }
}

/** Samples the server's memory; kills and restarts it every few minutes. */
async function chaos(): Promise<void> {
  let nextKill = Date.now() + killEveryMinutes * 60_000;
  while (running()) {
    await pause(1000);
    if (server === null) continue;
    try {
      server.rss.push(rssOf(server.child.pid!));
    } catch {
      // The process is gone between the check and the read.
    }
    if (server.rss.length % 60 === 0 || memoryLog !== undefined) void logMemory(server, server.rss.length % 60 === 0);
    // No kill in the last 15 s: the restarted server must serve a while before the final checks.
    if (Date.now() >= nextKill && deadline - Date.now() >= 15_000) {
      const victim = server;
      server = null;
      endLifetime(victim);
      victim.child.kill('SIGKILL');
      await victim.exited;
      restarts++;
      server = await startServer(stateDir);
      nextKill = Date.now() + killEveryMinutes * 60_000;
    }
  }
}

/** Where the server's memory is (its /metrics gauges): on stderr once a minute, into `--memory-log` every second. */
async function logMemory(s: Server, minute: boolean): Promise<void> {
  try {
    const text = await (await fetch(`${s.url}/metrics`)).text();
    const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
    if (memoryLog !== undefined) {
      const row = [
        ((Date.now() - soakStart) / 1000).toFixed(0),
        s.rss.length,
        ((s.rss.at(-1) ?? 0) / 2 ** 20).toFixed(1),
        ...MEMORY_GAUGES.map((g) => gauge(g).toFixed(1)),
      ];
      fs.appendFileSync(memoryLog, `${row.join(',')}\n`);
    }
    if (!minute) return;
    process.stderr.write(
      `memory at ${s.rss.length} s of this lifetime: resident ${gauge('process_resident_memory_bytes').toFixed(0)} MiB; main thread: heap ${gauge('nodejs_heap_size_used_bytes').toFixed(0)} of ${gauge('nodejs_heap_size_total_bytes').toFixed(0)} MiB, array buffers ${gauge('nodejs_array_buffers_bytes').toFixed(0)}; training thread: heap ${gauge('elder_training_thread_heap_size_used_bytes').toFixed(0)} of ${gauge('elder_training_thread_heap_size_total_bytes').toFixed(0)} MiB, array buffers ${gauge('elder_training_thread_array_buffers_bytes').toFixed(0)}\n`,
    );
  } catch {
    // A server killed meanwhile: no line this time.
  }
}

function endLifetime(s: Server): void {
  const seconds = (Date.now() - s.startedAt) / 1000;
  const warmSamples = s.rss.slice(Math.min(s.rss.length - 1, Math.floor(warmupSeconds)));
  if (seconds < warmupSeconds + 30 || warmSamples.length === 0) return;
  const window = Math.max(1, Math.min(60, Math.floor(warmSamples.length / 2)));
  lifetimes.push({
    start: median(warmSamples.slice(0, window)),
    end: median(warmSamples.slice(-window)),
    peak: Math.max(...warmSamples),
    seconds,
    perMinute: s.rss.filter((_, i) => i % 60 === 59),
  });
}

process.stderr.write(
  `soak: ${minutes} min on elder-facts, ${completionClients} completion clients, SIGKILL every ${killEveryMinutes} min; state ${stateDir}\n`,
);
const progress = setInterval(() => {
  const left = Math.max(0, (deadline - Date.now()) / 1000);
  process.stderr.write(
    `soak: ${samples.length} requests, ${acknowledged.size} edits acknowledged, ${restarts} restarts, ${violations.length} violations, ${left.toFixed(0)} s left\n`,
  );
}, 30_000);
await Promise.all([...Array.from({ length: completionClients }, (_, i) => completions(i)), submissions(), retractions(), reads(), chaos()]);
clearInterval(progress);

// Drain: every acknowledged edit must reach a final status.
const final = server as Server | null;
if (final === null) throw new Error('no server at the end of the soak');
endLifetime(final);
const drainDeadline = Date.now() + 10 * 60_000;
let statuses = new Map<string, any>();
for (;;) {
  const listed = await request(final, 'GET /v1/edits', 'GET', '/v1/edits?limit=10000');
  statuses = new Map((listed?.body.edits ?? []).map((e: any) => [e.id, e]));
  const pending = [...acknowledged].filter((id) => ['queued', 'training'].includes(statuses.get(id)?.status));
  if (pending.length === 0 || Date.now() > drainDeadline) break;
  await pause(2000);
}
for (const id of acknowledged) {
  const edit = statuses.get(id);
  if (edit === undefined) violations.push(`acknowledged edit ${id} is missing`);
  else if (!['applied', 'retracted', 'failed'].includes(edit.status)) violations.push(`acknowledged edit ${id} is still ${edit.status}`);
  else if (edit.status === 'failed' && !edit.error) violations.push(`edit ${id} failed without a reason`);
}
final.child.kill('SIGTERM');
await final.exited;
fs.rmSync(stateDir, { recursive: true, force: true });

const seconds = minutes * 60;
const routes = [...new Set(samples.map((s) => s.route))].sort();
const quantile = (values: number[], q: number) => values.sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))];
console.log(`# elder soak\n\n${machineLine()}\n`);
printTable(
  `${minutes} min, ${completionClients} completion clients + edits + retractions + reads, SIGKILL and restart every ${killEveryMinutes} min (${restarts} restarts)`,
  ['route', 'requests', 'per second', 'p50 ms', 'p99 ms', '4xx', '5xx'],
  routes.map((route) => {
    const of = samples.filter((s) => s.route === route);
    const ms = of.map((s) => s.ms);
    return [
      route,
      String(of.length),
      (of.length / seconds).toFixed(2),
      median(ms).toFixed(1),
      quantile(ms, 0.99).toFixed(1),
      String(of.filter((s) => s.status >= 400 && s.status < 500).length),
      String(of.filter((s) => s.status >= 500).length),
    ];
  }),
);
const counts = [...acknowledged].reduce<Record<string, number>>((acc, id) => {
  const status = statuses.get(id)?.status ?? 'missing';
  acc[status] = (acc[status] ?? 0) + 1;
  return acc;
}, {});
const growth = lifetimes.map((l) => (l.end - l.start) / l.start);
console.log(
  `\nacknowledged edits: ${acknowledged.size} (${Object.entries(counts)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ')})`,
);
console.log(`requests refused while the server restarted: ${unavailable}`);
console.log(
  `resident memory after warm-up (${warmupSeconds} s), per lifetime, median of the first → last minute (peak): ${
    lifetimes
      .map(
        (l) =>
          `${(l.start / 2 ** 20).toFixed(0)} → ${(l.end / 2 ** 20).toFixed(0)} MiB, ${(((l.end - l.start) / l.start) * 100).toFixed(1)}% (peak ${(l.peak / 2 ** 20).toFixed(0)}) over ${l.seconds.toFixed(0)} s`,
      )
      .join('; ') || 'no lifetime long enough'
  }`,
);
for (const [i, l] of lifetimes.entries())
  console.log(`  lifetime ${i + 1}, resident MiB at the end of each minute: ${l.perMinute.map((b) => (b / 2 ** 20).toFixed(0)).join(', ')}`);
if (growth.some((g) => g >= 0.1)) violations.push(`resident memory grew by ${(100 * Math.max(...growth)).toFixed(1)}% after warm-up`);
const memoryVerdict = lifetimes.length === 0 ? 'memory not judged (no lifetime outlasted the warm-up by 30 s)' : 'memory growth under 10%';
console.log(
  violations.length === 0
    ? `\ninvariants held: no 5xx, generations only forward, every acknowledged edit final, ${memoryVerdict}.`
    : `\n${violations.length} violations:\n${violations
        .slice(0, 20)
        .map((v) => `- ${v}`)
        .join('\n')}`,
);
process.exitCode = violations.length === 0 ? 0 : 1;
