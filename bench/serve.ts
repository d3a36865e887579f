/**
 * `npm run bench -- --only=serve`: the service on the default model (elder-facts) over loopback.
 * Completion latency idle and while a batch trains in the worker (the ratio is
 * what training costs the readers), concurrent completion throughput, the
 * time to acknowledge a POST, and training time per batch.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultModelDir } from '../src/models/default-model.js';
import { startServer } from '../src/server/server.js';
import { EditService } from '../src/server/service.js';
import { median, printTable } from './harness.js';

const TOKEN = 'bench-token-0123456789abcdef';

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

export async function serveTable(quick: boolean): Promise<void> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-bench-serve-'));
  const iterations = 50;
  const batchSize = 4;
  const service = await EditService.open({ modelDir: defaultModelDir(), stateDir, overrides: { lr: 1e-2, iterations, batchSize } });
  const server = await startServer(service, { port: 0, token: TOKEN });
  const post = (route: string, body: unknown, token?: string) =>
    fetch(`${server.url}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    }).then(async (r) => {
      if (!r.ok) throw new Error(`${route}: ${r.status} ${await r.text()}`);
      return r.json();
    });
  const complete = () => post('/v1/completions', { prompt: 'The history of the city of Paris begins with', max_tokens: 8 });
  const samples = quick ? 8 : 20;
  try {
    await complete();
    const idle: number[] = [];
    for (let i = 0; i < samples; i++) idle.push(await timed(complete));
    const concurrent = 16;
    const idleBurst = await timed(() => Promise.all(Array.from({ length: concurrent }, complete)));

    const edits = Array.from({ length: quick ? 8 : 16 }, (_, i) => ({
      id: `bench-${i}`,
      prompt: `Fact number ${i} says that the answer is`,
      target: `value${i}`,
    }));
    const acks: number[] = [];
    for (let i = 0; i < edits.length; i += batchSize) acks.push(await timed(() => post('/v1/edits', edits.slice(i, i + batchSize), TOKEN)));
    const during: number[] = [];
    while (service.training !== null && during.length < samples * 4) during.push(await timed(complete));
    const trainingBurst = service.training !== null ? await timed(() => Promise.all(Array.from({ length: concurrent }, complete))) : NaN;
    await service.whenIdle();
    const batches = service.store!.list({ status: 'applied' });
    const batchSeconds = new Map<number, number>();
    for (const edit of batches)
      if (edit.batch !== null && edit.startedAt && edit.finishedAt)
        batchSeconds.set(edit.batch, (Date.parse(edit.finishedAt) - Date.parse(edit.startedAt)) / 1000);

    const ms = (s: number) => (Number.isNaN(s) ? '–' : (s * 1e3).toFixed(1));
    const idleMedian = median(idle);
    const duringMedian = during.length > 0 ? median(during) : NaN;
    printTable(
      `elder serve on elder-facts (loopback; completions of 8 tokens; batches of ${batchSize} edits × ${iterations} iterations in the worker)`,
      ['measure', 'median', 'vs idle'],
      [
        ['completion latency, idle, ms', ms(idleMedian), '1.00×'],
        [`completion latency while training, ms (${during.length} samples)`, ms(duringMedian), `${(duringMedian / idleMedian).toFixed(2)}×`],
        [`${concurrent} concurrent completions, idle, completions/s`, (concurrent / idleBurst).toFixed(1), ''],
        [
          `${concurrent} concurrent completions while training, completions/s`,
          Number.isNaN(trainingBurst) ? '–' : (concurrent / trainingBurst).toFixed(1),
          Number.isNaN(trainingBurst) ? '' : `${(idleBurst / trainingBurst).toFixed(2)}×`,
        ],
        [`POST /v1/edits of ${batchSize} edits, acknowledged in, ms`, ms(median(acks)), ''],
        [`training batch of ${batchSize} (start to commit), s`, median([...batchSeconds.values()]).toFixed(2), ''],
      ],
    );
  } finally {
    await server.close();
    await service.close();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}
