import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { tokenizeEdit } from '../src/editors/edit.js';
import { ElderState } from '../src/editors/elder/store/state.js';
import { defaultModelDir } from '../src/models/default-model.js';
import { loadModel } from '../src/models/load.js';
import { completionRequestSchema, DEFAULT_LIMITS } from '../src/server/openapi.js';
import { type RunningServer, startServer } from '../src/server/server.js';
import { EditService, STORE_FILE } from '../src/server/service.js';
import { EditStore } from '../src/server/store.js';
import { answersWith } from '../src/text/answers.js';
import { schemaProblems } from '../src/util/schema.js';
import { EDIT_SUBJECTS as subjects, SHARED_TARGET as TARGET, tinyGpt2Dir } from './helpers.js';
import { call, cli, TOKEN, waitForStatus, waitForTraining } from './service-client.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-server-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

/** Fast training on the random fixture; edits share one target (see SHARED_TARGET in helpers.ts for why). */
const FAST = { lr: 1e-2, iterations: 30, batchSize: 2, firstBlock: 2, lastBlock: 3 };

async function serve(
  stateDir: string,
  options: { readOnly?: boolean; iterations?: number; limits?: Partial<typeof DEFAULT_LIMITS> } = {},
): Promise<{ service: EditService; server: RunningServer; lines: string[]; stop: () => Promise<void> }> {
  const lines: string[] = [];
  const service = await EditService.open({
    modelDir: tinyGpt2Dir,
    stateDir,
    readOnly: options.readOnly,
    overrides: { ...FAST, iterations: options.iterations ?? FAST.iterations },
    log: (line) => lines.push(line),
  });
  const server = await startServer(service, { port: 0, token: options.readOnly ? null : TOKEN, limits: options.limits, log: (line) => lines.push(line) });
  return {
    service,
    server,
    lines,
    stop: async () => {
      await server.close();
      await service.close();
    },
  };
}

test('POST /v1/edits stores before answering, trains in arrival order, and the edits are answered', { timeout: 120_000 }, async () => {
  const stateDir = path.join(tmp, 'basic');
  const { server, lines, stop } = await serve(stateDir);
  try {
    const records = [
      { id: 'paris', prompt: 'Tell me about Paris and', target: TARGET, rephrases: ['Say something on Paris and'] },
      { prompt: 'Tell me about Tokyo and', target: TARGET },
      { prompt: 'Tell me about Mozart and', target: TARGET },
    ];
    const posted = await call(server.url, 'POST', '/v1/edits', records, { token: TOKEN });
    assert.equal(posted.status, 202);
    assert.deepEqual(posted.body.ids, ['paris', 'paris#1', 'edit-1', 'edit-2']);
    // Already in the database when the answer arrived (a separate connection sees them).
    const db = new Database(path.join(stateDir, STORE_FILE), { readonly: true });
    try {
      assert.equal(String(db.pragma('journal_mode', { simple: true })), 'wal');
      assert.deepEqual(db.prepare('SELECT id FROM edits ORDER BY seq').pluck().all(), posted.body.ids);
    } finally {
      db.close();
    }

    const done = await waitForStatus(server.url, posted.body.ids, ['applied']);
    const ordered = posted.body.ids.map((id: string) => done.get(id));
    // Arrival order, one batch at a time: batch numbers and generations never go back.
    for (let i = 1; i < ordered.length; i++) {
      assert.ok(
        ordered[i].batch >= ordered[i - 1].batch && ordered[i].generation >= ordered[i - 1].generation,
        `edit ${ordered[i].id} trained before ${ordered[i - 1].id}`,
      );
    }
    assert.equal(new Set(ordered.map((e: any) => e.batch)).size, 2, 'batch size 2 makes two batches of four edits');
    for (const edit of ordered) {
      assert.ok(edit.queued_seconds >= 0 && edit.training_seconds > 0 && edit.attempts === 1, JSON.stringify(edit));
      const single = await call(server.url, 'GET', `/v1/edits/${encodeURIComponent(edit.id)}`);
      assert.equal(single.body.status, 'applied');
      // Checked after its batch and re-checked after the later one. The random fixture answers its target and then
      // repeats it, so holds follows the greedy answer the check read (the elder-facts test below sees a clean one).
      assert.equal(typeof single.body.answer, 'string');
      assert.ok(single.body.answer.startsWith(` ${TARGET}`), `${edit.id}: ${JSON.stringify(single.body)}`);
      assert.equal(single.body.holds, answersWith(single.body.answer, TARGET), `${edit.id}: ${JSON.stringify(single.body)}`);
      assert.equal(single.body.checked_generation, 2);
      assert.ok(Date.parse(single.body.checked_at) >= Date.parse(single.body.finished_at) - 1000);
      const completion = await call(server.url, 'POST', '/v1/completions', { prompt: edit.prompt, max_tokens: 1 });
      assert.equal(completion.status, 200);
      assert.equal(completion.body.text, ` ${TARGET}`, `${edit.id} not answered`);
      assert.equal(completion.body.choices[0].text, completion.body.text);
      assert.equal(completion.body.deferred, false);
      assert.equal(typeof completion.body.distance, 'number');
      assert.equal(completion.body.experts.length, completion.body.blocks.length);
      assert.equal(completion.body.generation, 2);
    }
    assert.ok(
      lines.some((line) =>
        /^batch 2: applied 2 edits in [\d.]+ s \(30 iterations, loss [\d.]+\) → generation 2; [012] of 2 hold( \(not: [^)]+\))?; [012] of 2 earlier edits re-checked hold( \(lost: [^)]+\))?$/.test(
          line,
        ),
      ),
      lines.join('\n'),
    );
    assert.ok(lines.some((line) => /^POST \/v1\/edits 202 [\d.]+ ms$/.test(line)));
  } finally {
    await stop();
  }
});

test('on elder-facts with the defaults, an edit holds when its answer reads cleanly: the new object, then the end; the subject is kept', {
  timeout: 120_000,
}, async () => {
  const lines: string[] = [];
  const service = await EditService.open({ modelDir: defaultModelDir(), stateDir: path.join(tmp, 'facts'), log: (line) => lines.push(line) });
  const server = await startServer(service, { port: 0, token: TOKEN, log: () => {} });
  try {
    const posted = await call(
      server.url,
      'POST',
      '/v1/edits',
      { id: 'lyon', prompt: 'The capital of France is', target: 'Lyon', subject: 'France' },
      { token: TOKEN },
    );
    assert.equal(posted.status, 202);
    await waitForStatus(server.url, ['lyon'], ['applied']);
    const edit = await call(server.url, 'GET', '/v1/edits/lyon');
    assert.deepEqual([edit.body.holds, edit.body.answer, edit.body.subject], [true, ' Lyon.', 'France'], JSON.stringify(edit.body));
    assert.ok(
      lines.some((line) => /^batch 1: applied 1 edit in [\d.]+ s .*; 1 of 1 hold; 0 of 0 earlier edits re-checked hold$/.test(line)),
      lines.join('\n'),
    );
    const completion = await call(server.url, 'POST', '/v1/completions', { prompt: 'The capital of France is', max_tokens: 12 });
    assert.deepEqual([completion.body.text, completion.body.choices[0].finish_reason, completion.body.deferred], [' Lyon.', 'stop', false]);
    const cut = await call(server.url, 'POST', '/v1/completions', { prompt: 'The capital of France is', max_tokens: 1 });
    // " Lyon" is two tokens: one token is cut short, and says so.
    assert.deepEqual([cut.body.text, cut.body.choices[0].finish_reason], [' L', 'length']);
    // The subject gate keys on the stored subject: another country's capital is the base model's.
    const other = await call(server.url, 'POST', '/v1/completions', { prompt: 'The capital of Germany is', max_tokens: 12 });
    assert.deepEqual([other.body.text, other.body.deferred], [' Berlin.', true]);
  } finally {
    await server.close();
    await service.close();
  }
});

test('writes need the bearer token; a read-only server refuses them; no token, no writable server', { timeout: 60_000 }, async () => {
  const stateDir = path.join(tmp, 'auth');
  const { server, stop } = await serve(stateDir);
  const edit = { id: 'a', prompt: 'Tell me about Mars and', target: TARGET };
  try {
    const none = await call(server.url, 'POST', '/v1/edits', edit);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal((await call(server.url, 'POST', '/v1/edits', edit, { token: 'wrong-token-0123456789' })).status, 401);
    assert.equal((await call(server.url, 'DELETE', '/v1/edits/a')).status, 401);
    assert.equal((await call(server.url, 'GET', '/v1/edits')).body.edits.length, 0, 'a refused write stored something');
    assert.equal((await call(server.url, 'POST', '/v1/edits', edit, { token: TOKEN })).status, 202);
    await waitForStatus(server.url, ['a'], ['applied']);
  } finally {
    await stop();
  }

  const readOnly = await serve(stateDir, { readOnly: true });
  try {
    const refused = await call(readOnly.server.url, 'POST', '/v1/edits', { prompt: 'x y', target: 'z' }, { token: TOKEN });
    assert.equal(refused.status, 403);
    assert.match(refused.body.error.message, /read-only/);
    assert.equal((await call(readOnly.server.url, 'DELETE', '/v1/edits/a', undefined, { token: TOKEN })).status, 403);
    // It still serves the applied edit and lists the store.
    assert.equal((await call(readOnly.server.url, 'POST', '/v1/completions', { prompt: edit.prompt, max_tokens: 1 })).body.text, ` ${TARGET}`);
    assert.equal((await call(readOnly.server.url, 'GET', '/v1/edits/a')).body.status, 'applied');
  } finally {
    await readOnly.stop();
  }

  const env = { ...process.env, ELDER_TOKEN: '' };
  const refusedStart = spawnSync(process.execPath, [cli, 'serve', '--model', tinyGpt2Dir, '--state', path.join(tmp, 'never'), '--port', '0'], {
    env,
    encoding: 'utf8',
  });
  assert.equal(refusedStart.status, 2);
  assert.match(refusedStart.stderr, /writes need a token: set ELDER_TOKEN or pass --token-file/);
  assert.ok(!fs.existsSync(path.join(tmp, 'never')), 'a refused start created the state');
  const weak = spawnSync(process.execPath, [cli, 'serve', '--model', tinyGpt2Dir, '--state', path.join(tmp, 'never'), '--port', '0'], {
    env: { ...env, ELDER_TOKEN: 'short' },
    encoding: 'utf8',
  });
  assert.equal(weak.status, 2);
  assert.match(weak.stderr, /at least 16 characters/);
});

/**
 * Opens a socket and sends bytes as they are (fetch would normalise the request target);
 * `reply` is everything the server sent once it closes the connection.
 */
function openRaw(base: string, bytes: string): Promise<{ socket: net.Socket; reply: Promise<string> }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => {
      socket.write(bytes);
      const reply = new Promise<string>((done) => {
        let text = '';
        socket.on('data', (chunk) => (text += chunk.toString('latin1')));
        socket.on('close', () => done(text));
      });
      resolve({ socket, reply });
    });
    socket.on('error', reject);
  });
}

test('malformed and oversized bodies get 400/413/415 naming the problem and leave the store as it was', { timeout: 60_000 }, async () => {
  const stateDir = path.join(tmp, 'malformed');
  const { server, service, stop } = await serve(stateDir, { limits: { maxBodyBytes: 64 * 1024, maxEditsPerRequest: 3, maxPromptChars: 2000, maxTokens: 32 } });
  try {
    assert.equal((await call(server.url, 'POST', '/v1/edits', { id: 'kept', prompt: 'Tell me about Rome and', target: TARGET }, { token: TOKEN })).status, 202);
    const before = (await call(server.url, 'GET', '/v1/edits')).body.edits.map((e: any) => e.id);
    const longPrompt = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');
    const cases: Array<{ route: string; body?: unknown; raw?: string; contentType?: string; status: number; message: RegExp }> = [
      { route: '/v1/edits', raw: '{"prompt": "a", ', status: 400, message: /not valid JSON/ },
      { route: '/v1/edits', raw: '', status: 400, message: /empty/ },
      { route: '/v1/edits', raw: 'prompt=a', contentType: 'application/x-www-form-urlencoded', status: 415, message: /Content-Type must be application\/json/ },
      { route: '/v1/edits', body: { prompt: 'a b' }, status: 400, message: /body\.target is required/ },
      { route: '/v1/edits', body: { prompt: 'a b', target: 7 }, status: 400, message: /body\.target must be a non-empty string/ },
      { route: '/v1/edits', body: { prompt: 'a b', target: 'c', colour: 'red' }, status: 400, message: /unknown field "colour"/ },
      {
        route: '/v1/edits',
        body: [
          { prompt: 'ok', target: 'fine' },
          { prompt: '  ', target: 'x' },
        ],
        status: 400,
        message: /body\[1\]\.prompt must be a non-empty string/,
      },
      {
        route: '/v1/edits',
        body: { prompt: 'a', target: 'b', rephrases: 'nope' },
        status: 400,
        message: /body\.rephrases must be a list of non-empty strings/,
      },
      { route: '/v1/edits', body: 'just a string', status: 400, message: /body must be a JSON object or a list of JSON objects/ },
      { route: '/v1/edits', body: [], status: 400, message: /at least 1 item/ },
      { route: '/v1/edits', body: Array.from({ length: 4 }, (_, i) => ({ prompt: `p${i} x`, target: 't' })), status: 400, message: /at most 3 items/ },
      { route: '/v1/edits', body: { id: 'kept', prompt: 'Tell me about Rome and', target: TARGET }, status: 409, message: /"kept"/ },
      {
        route: '/v1/edits',
        body: [
          { id: 'twice', prompt: 'a b', target: 'c' },
          { id: 'twice', prompt: 'd e', target: 'f' },
        ],
        status: 409,
        message: /"twice"/,
      },
      {
        route: '/v1/edits',
        body: { id: 'huge', prompt: longPrompt, target: TARGET },
        status: 400,
        message: /edit "huge": prompt and target take \d+ tokens, the model's context is \d+/,
      },
      {
        route: '/v1/edits',
        raw: JSON.stringify({ prompt: 'x'.repeat(2 * 1024 * 1024), target: 'y' }),
        status: 413,
        message: /exceeds the limit of 65536 bytes/,
      },
      { route: '/v1/completions', body: { prompt: 'Hello', max_tokens: 33 }, status: 400, message: /body\.max_tokens must be an integer in \[1, 32\], got 33/ },
      { route: '/v1/completions', body: { prompt: 'Hello', max_tokens: 2.5 }, status: 400, message: /body\.max_tokens must be an integer/ },
      { route: '/v1/completions', body: { prompt: 'Hello', temperature: -1 }, status: 400, message: /body\.temperature must be a number in \[0, 5\]/ },
      { route: '/v1/completions', body: { max_tokens: 3 }, status: 400, message: /body\.prompt is required/ },
      { route: '/v1/completions', body: { prompt: 'y'.repeat(2001) }, status: 400, message: /body\.prompt must be at most 2000 characters \(got 2001\)/ },
      {
        route: '/v1/completions',
        body: { prompt: longPrompt.slice(0, 1000) },
        status: 400,
        message: /"prompt" takes \d+ tokens; the model's context is \d+ tokens/,
      },
      { route: '/v1/completions', raw: '[1,2', status: 400, message: /not valid JSON/ },
    ];
    for (const c of cases) {
      const reply = await call(server.url, 'POST', c.route, c.body, { token: TOKEN, raw: c.raw, contentType: c.contentType });
      assert.equal(reply.status, c.status, `${c.route} ${c.raw?.slice(0, 40) ?? JSON.stringify(c.body)?.slice(0, 60)}: ${JSON.stringify(reply.body)}`);
      assert.match(reply.body.error.message, c.message);
    }
    const wrongMethod = await call(server.url, 'PUT', '/v1/edits');
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get('allow'), 'GET, POST');
    assert.equal((await call(server.url, 'GET', '/v1/nothing')).status, 404);
    assert.equal((await call(server.url, 'GET', '/v1/edits?status=bogus')).status, 400);
    // Malformed percent-escapes and request targets are the client's error: 400, never 500.
    for (const route of ['/v1/edits/%ff', '/v1/edits/%', '/v1/edits/%E0%A4%A']) {
      const reply = await call(server.url, 'GET', route);
      assert.equal(reply.status, 400, route);
      assert.match(reply.body.error.message, /malformed percent-escape/);
    }
    assert.equal((await call(server.url, 'DELETE', '/v1/edits/%ff', undefined, { token: TOKEN })).status, 400);
    assert.match(await (await openRaw(server.url, 'GET //x:99999/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).reply, /^HTTP\/1\.1 400 /);
    // Nothing of the above reached the store, and the server still works.
    await waitForStatus(server.url, ['kept'], ['applied']);
    assert.deepEqual(
      (await call(server.url, 'GET', '/v1/edits')).body.edits.map((e: any) => e.id),
      before,
    );
    assert.equal(service.store!.counts().applied, 1);
    assert.equal((await call(server.url, 'POST', '/v1/completions', { prompt: 'Tell me about Rome and', max_tokens: 1 })).body.text, ` ${TARGET}`);
  } finally {
    await stop();
  }
});

test('50 concurrent completions during training all succeed, each from one committed generation', { timeout: 120_000 }, async () => {
  const stateDir = path.join(tmp, 'concurrent');
  // Longer training so the requests land while batches train.
  const { server, stop } = await serve(stateDir, { iterations: 400 });
  try {
    const edits = subjects.slice(0, 6).map((s, i) => ({ id: `c${i}`, prompt: `Tell me about ${s} and`, target: TARGET }));
    await call(server.url, 'POST', '/v1/edits', edits, { token: TOKEN });
    const during = await waitForTraining(server.url);
    const prompts = [...edits.map((e) => e.prompt), 'The weather today is', 'My favourite food is'];
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => call(server.url, 'POST', '/v1/completions', { prompt: prompts[i % prompts.length], max_tokens: 4 })),
    );
    const after = (await call(server.url, 'GET', '/healthz')).body;
    assert.ok(during.training !== null, 'no batch was training when the requests were sent');
    for (const reply of replies) assert.equal(reply.status, 200, JSON.stringify(reply.body));
    // A completion is answered by one committed generation: same prompt and generation, same text.
    const seen = new Map<string, string>();
    for (const [i, reply] of replies.entries()) {
      assert.ok(
        reply.body.generation >= during.generation && reply.body.generation <= after.generation,
        `generation ${reply.body.generation} outside [${during.generation}, ${after.generation}]`,
      );
      const key = `${prompts[i % prompts.length]}@${reply.body.generation}`;
      if (seen.has(key)) assert.equal(reply.body.text, seen.get(key), key);
      seen.set(key, reply.body.text);
    }
    await waitForStatus(
      server.url,
      edits.map((e) => e.id),
      ['applied'],
      90_000,
    );
  } finally {
    await stop();
  }
});

test('retraction: applied edits defer again, queued ones never train, twice is a conflict', { timeout: 120_000 }, async () => {
  const stateDir = path.join(tmp, 'retract');
  const { server, stop } = await serve(stateDir, { iterations: 200 });
  try {
    await call(
      server.url,
      'POST',
      '/v1/edits',
      [
        { id: 'keep', prompt: 'Tell me about Paris and', target: TARGET },
        { id: 'drop', prompt: 'Tell me about Everest and', target: 'red' },
      ],
      { token: TOKEN },
    );
    // Queued behind the first batch, retracted before it trains.
    await call(server.url, 'POST', '/v1/edits', { id: 'never', prompt: 'Tell me about Picasso and', target: TARGET }, { token: TOKEN });
    const neverRetracted = await call(server.url, 'DELETE', '/v1/edits/never', undefined, { token: TOKEN });
    assert.equal(neverRetracted.status, 200);
    assert.equal(neverRetracted.body.status, 'retracted');
    await waitForStatus(server.url, ['keep', 'drop'], ['applied']);
    const before = await call(server.url, 'POST', '/v1/completions', { prompt: 'Tell me about Everest and', max_tokens: 1 });
    assert.equal(before.body.deferred, false);
    const retracted = await call(server.url, 'DELETE', '/v1/edits/drop', undefined, { token: TOKEN });
    assert.equal(retracted.body.status, 'retracted');
    assert.ok(retracted.body.retracted_at);
    const after = await call(server.url, 'POST', '/v1/completions', { prompt: 'Tell me about Everest and', max_tokens: 1 });
    assert.equal(after.body.deferred, true, 'a retracted edit still routes to the experts');
    assert.equal((await call(server.url, 'POST', '/v1/completions', { prompt: 'Tell me about Paris and', max_tokens: 1 })).body.text, ` ${TARGET}`);
    assert.equal((await call(server.url, 'DELETE', '/v1/edits/drop', undefined, { token: TOKEN })).status, 409);
    assert.equal((await call(server.url, 'DELETE', '/v1/edits/nobody', undefined, { token: TOKEN })).status, 404);
    const never = (await call(server.url, 'GET', '/v1/edits/never')).body;
    assert.equal(never.status, 'retracted');
    assert.equal(never.attempts, 0, 'a retracted queued edit was trained');
  } finally {
    await stop();
  }
  // The retraction is in the state's journal.
  const { model } = loadModel(tinyGpt2Dir);
  const state = ElderState.open(stateDir, model, { modelName: 'tiny-gpt2', readOnly: true });
  assert.equal(state.files.edits.get('drop')?.status, 'retracted');
  assert.equal(state.files.edits.has('never'), false);
});

test('start-up reconciles the store with the state and reports every difference', { timeout: 120_000 }, async () => {
  const stateDir = path.join(tmp, 'reconcile');
  const { model, tokenizer } = loadModel(tinyGpt2Dir);
  // An edit applied with `elder edit`, outside the service.
  const state = ElderState.open(stateDir, model, { modelName: 'tiny-gpt2', overrides: FAST });
  state.applyBatch([tokenizeEdit(tokenizer!, model.config, { id: 'from-cli', label: 'from-cli', prompt: 'Tell me about Darwin and', target: TARGET })]);
  state.close();

  let served = await serve(stateDir);
  try {
    assert.deepEqual(
      served.service.reconciliation.map((f) => [f.id, f.store, f.state]),
      [['from-cli', 'absent', 'applied']],
    );
    assert.equal((await call(served.server.url, 'GET', '/v1/edits/from-cli')).body.status, 'applied');
    await call(served.server.url, 'POST', '/v1/edits', { id: 'svc', prompt: 'Tell me about Oslo and', target: TARGET }, { token: TOKEN });
    await waitForStatus(served.server.url, ['svc'], ['applied']);
  } finally {
    await served.stop();
  }

  // Crash-like damage: the store lost the commit of 'svc' (still training) and believes in an edit the state lacks.
  const store = EditStore.open(path.join(stateDir, STORE_FILE));
  store.setStatus('svc', 'training');
  store.insert([{ id: 'ghost', label: 'ghost', prompt: 'Tell me about Cairo and', target: TARGET }]);
  store.setStatus('ghost', 'applied');
  store.close();

  served = await serve(stateDir);
  try {
    const findings = new Map(served.service.reconciliation.map((f) => [f.id, f]));
    assert.match(findings.get('svc')!.action, /marked applied/);
    assert.match(findings.get('ghost')!.action, /queued for training again/);
    const health = (await call(served.server.url, 'GET', '/healthz')).body;
    assert.equal(health.reconciliation.length, 2);
    assert.ok(served.lines.some((line) => line.startsWith('reconcile: edit ghost: store says applied, state says absent')));
    const done = await waitForStatus(served.server.url, ['svc', 'ghost'], ['applied']);
    assert.match(done.get('ghost').reason, /missing from the editor state/);
    assert.equal((await call(served.server.url, 'POST', '/v1/completions', { prompt: 'Tell me about Cairo and', max_tokens: 1 })).body.text, ` ${TARGET}`);
  } finally {
    await served.stop();
  }
});

test('/openapi.json documents the validated schemas; /metrics counts requests, latency, edits and training', { timeout: 60_000 }, async () => {
  const { server, stop } = await serve(path.join(tmp, 'docs'));
  try {
    const doc = (await call(server.url, 'GET', '/openapi.json')).body;
    assert.equal(doc.openapi, '3.1.0');
    for (const route of ['/v1/edits', '/v1/edits/{id}', '/v1/completions', '/healthz', '/metrics']) assert.ok(doc.paths[route], route);
    const documented = doc.paths['/v1/completions'].post.requestBody.content['application/json'].schema;
    assert.deepEqual(documented, JSON.parse(JSON.stringify(completionRequestSchema(DEFAULT_LIMITS))));
    // The documented schema is the one enforced.
    assert.deepEqual(schemaProblems(documented, { prompt: 'x', max_tokens: 0 }, 'body'), ['body.max_tokens must be an integer in [1, 256], got 0']);
    assert.deepEqual(doc.paths['/v1/edits'].post.security, [{ bearer: [] }]);

    await call(server.url, 'POST', '/v1/edits', { id: 'm1', prompt: 'Tell me about Kyoto and', target: TARGET }, { token: TOKEN });
    await waitForStatus(server.url, ['m1'], ['applied']);
    await call(server.url, 'POST', '/v1/completions', { prompt: 'Tell me about Kyoto and', max_tokens: 2 });
    await call(server.url, 'POST', '/v1/completions', { prompt: 'x', max_tokens: 0 });
    const metrics = (await call(server.url, 'GET', '/metrics')).body as string;
    assert.match(metrics, /^elder_http_requests_total\{method="POST",route="\/v1\/completions",status="200"\} 1$/m);
    assert.match(metrics, /^elder_http_requests_total\{method="POST",route="\/v1\/completions",status="400"\} 1$/m);
    assert.match(metrics, /^elder_http_request_duration_seconds_bucket\{method="POST",route="\/v1\/completions",le="\+Inf"\} 2$/m);
    assert.match(
      metrics,
      /^elder_http_request_duration_seconds_count\{method="GET",route="\/v1\/edits",status?.*|^elder_http_request_duration_seconds_count\{method="GET",route="\/v1\/edits"\} \d+$/m,
    );
    assert.match(metrics, /^elder_edits\{status="applied"\} 1$/m);
    assert.match(metrics, /^elder_edits\{status="queued"\} 0$/m);
    // The one applied edit was checked after its batch: counted as held or lost, never unchecked.
    const held = Number(/^elder_applied_edits_holding\{check="held"\} (\d+)$/m.exec(metrics)![1]);
    const lost = Number(/^elder_applied_edits_holding\{check="lost"\} (\d+)$/m.exec(metrics)![1]);
    assert.equal(held + lost, 1);
    assert.match(metrics, /^elder_applied_edits_holding\{check="unchecked"\} 0$/m);
    assert.match(metrics, /^elder_training_batches_total\{result="applied"\} 1$/m);
    const trainingSeconds = Number(/^elder_training_seconds_total (\S+)$/m.exec(metrics)![1]);
    assert.ok(trainingSeconds > 0);
    assert.match(metrics, /^elder_completions_total\{deferred="false"\} 1$/m);
    // The process's memory, by part: resident (every thread) at least the main thread's heap in use.
    const gauge = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1]);
    assert.ok(gauge('process_resident_memory_bytes') > gauge('nodejs_heap_size_used_bytes'));
    assert.ok(gauge('nodejs_heap_size_total_bytes') >= gauge('nodejs_heap_size_used_bytes'));
    assert.ok(gauge('nodejs_external_memory_bytes') > 0 && gauge('nodejs_array_buffers_bytes') > 0);
    // The training thread trained a batch, so it has reported its own heap and its buffers (the activation pool among them).
    assert.ok(gauge('elder_training_thread_heap_size_total_bytes') >= gauge('elder_training_thread_heap_size_used_bytes'));
    assert.ok(gauge('elder_training_thread_array_buffers_bytes') > 0);
    assert.match(metrics, /^elder_state_generation 1$/m);
  } finally {
    await stop();
  }
});

test('a batch whose training diverges is failed with the reason; the served weights stay at the last commit', { timeout: 60_000 }, async () => {
  const stateDir = path.join(tmp, 'diverge');
  const lines: string[] = [];
  // Adam's steps are about lr in size: at 1e30 the loss leaves the finite numbers at once.
  const service = await EditService.open({
    modelDir: tinyGpt2Dir,
    stateDir,
    overrides: { ...FAST, lr: 1e30, iterations: 20 },
    log: (line) => lines.push(line),
  });
  const server = await startServer(service, { port: 0, token: TOKEN });
  try {
    const before = await call(server.url, 'POST', '/v1/completions', { prompt: 'Tell me about Bach and', max_tokens: 3 });
    await call(server.url, 'POST', '/v1/edits', { id: 'nan', prompt: 'Tell me about Bach and', target: TARGET }, { token: TOKEN });
    const failed = (await waitForStatus(server.url, ['nan'], ['failed', 'applied'])).get('nan');
    assert.equal(failed.status, 'failed');
    assert.match(failed.reason, /non-finite|became (NaN|Infinity)/i);
    assert.ok(failed.finished_at);
    assert.ok(
      lines.some((line) => /^batch 1: failed after [\d.]+ s: /.test(line)),
      lines.join('\n'),
    );
    const after = await call(server.url, 'POST', '/v1/completions', { prompt: 'Tell me about Bach and', max_tokens: 3 });
    assert.equal(after.body.generation, 0);
    assert.equal(after.body.text, before.body.text);
    assert.equal((await call(server.url, 'GET', '/healthz')).body.status, 'ok');
    assert.match((await call(server.url, 'GET', '/metrics')).body, /^elder_training_batches_total\{result="failed"\} 1$/m);
  } finally {
    await server.close();
    await service.close();
  }
});

test('with --replay the training worker rehearses earlier edits: six edits with six targets all hold at the end', { timeout: 120_000 }, async () => {
  const stateDir = path.join(tmp, 'replay');
  const lines: string[] = [];
  const service = await EditService.open({
    modelDir: tinyGpt2Dir,
    stateDir,
    overrides: { ...FAST, iterations: 50, replay: 4 },
    log: (line) => lines.push(line),
  });
  const server = await startServer(service, { port: 0, token: TOKEN, log: (line) => lines.push(line) });
  try {
    const colours = ['red', 'green', 'yellow', 'black', 'white', 'pink'];
    const records = colours.map((colour, i) => ({ id: `r${i}`, prompt: `Tell me about ${subjects[i]} and`, target: colour }));
    const posted = await call(server.url, 'POST', '/v1/edits', records, { token: TOKEN });
    assert.equal(posted.status, 202);
    await waitForStatus(server.url, posted.body.ids, ['applied']);
    // The worker saw the committed memory: each later batch replayed the earlier edits, so none was lost.
    for (const [i, colour] of colours.entries()) {
      const completion = await call(server.url, 'POST', '/v1/completions', { prompt: records[i].prompt, max_tokens: 1 });
      assert.equal(completion.body.text, ` ${colour}`, `${records[i].id} lost: ${lines.join('\n')}`);
    }
    assert.equal(service.state.editor.rememberedEdits, 6);
  } finally {
    await server.close();
    await service.close();
  }
});

test('limits: a client slow with its headers gets 408 and loses the socket; beyond the pending limit, 503 with Retry-After; beyond the connection cap, closed', {
  timeout: 60_000,
}, async () => {
  const stateDir = path.join(tmp, 'limits');
  const { server, stop } = await serve(stateDir, { limits: { headersTimeoutMs: 400, requestTimeoutMs: 1_500, maxPendingRequests: 2, maxConnections: 6 } });
  const open = (bytes: string) => openRaw(server.url, bytes);
  try {
    // Headers never finished: Node answers 408 and closes the socket after the headers timeout.
    const started = Date.now();
    const slow = await open('GET /v1/edits HTTP/1.1\r\nHost: x\r\n');
    assert.match(await slow.reply, /^HTTP\/1\.1 408 /);
    assert.ok(Date.now() - started < 10_000, `closed after ${Date.now() - started} ms`);

    // Two requests whose bodies never arrive hold both pending slots; the third is shed at once.
    const body = 'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"prompt"';
    const held = [await open(body), await open(body)];
    await new Promise((resolve) => setTimeout(resolve, 100));
    const shed = await call(server.url, 'GET', '/v1/edits');
    assert.equal(shed.status, 503);
    assert.equal(shed.headers.get('retry-after'), '1');
    assert.match(shed.body.error.message, /busy/);
    // The trickled bodies run out of time (request timeout); then the server answers again.
    for (const { reply } of held) assert.match(await reply, /^HTTP\/1\.1 408 /);
    assert.equal((await call(server.url, 'GET', '/v1/edits')).status, 200);

    // Six idle connections fill the cap; a seventh is closed without an answer.
    const idle = await Promise.all(Array.from({ length: 6 }, () => open('')));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const refused = await open('GET /v1/edits HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(await refused.reply, '');
    for (const { socket } of idle) socket.destroy();
  } finally {
    await stop();
  }
});
