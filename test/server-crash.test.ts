import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Random } from '../src/util/random.js';
import { EDIT_SUBJECTS as subjects, SHARED_TARGET as TARGET, tinyGpt2Dir } from './helpers.js';
import { call, spawnServer, TOKEN, waitForStatus, waitForTraining } from './service-client.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-serve-crash-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

const SERVE_ARGS = ['--model', tinyGpt2Dir, '--lr', '1e-2', '--iters', '150', '--batch', '2', '--blocks', '2-3'];

test('SIGKILL of elder serve during training, several times: every acknowledged edit survives and, retrained, is answered', { timeout: 240_000 }, async (t) => {
  const stateDir = path.join(tmp, 'state');
  const rng = new Random(7);
  const acknowledged: Array<{ id: string; prompt: string }> = [];
  const kills: string[] = [];
  const logs: string[] = [];
  for (let run = 0; run < 4; run++) {
    const server = await spawnServer([...SERVE_ARGS, '--state', stateDir]);
    try {
      // Everything acknowledged before this start is still there, whatever its status.
      const listed = new Set((await call(server.url, 'GET', '/v1/edits')).body.edits.map((e: any) => e.id));
      for (const { id } of acknowledged) assert.ok(listed.has(id), `run ${run}: acknowledged edit ${id} lost`);

      const edits = Array.from({ length: 4 }, (_, i) => ({
        id: `r${run}-e${i}`,
        prompt: `Tell me about ${subjects[(run * 4 + i) % subjects.length]} and`,
        target: TARGET,
      }));
      const posted = await call(server.url, 'POST', '/v1/edits', edits, { token: TOKEN });
      assert.equal(posted.status, 202);
      acknowledged.push(...edits);

      // Wait for a batch in training, then kill at a random moment within it (or within the next).
      await waitForTraining(server.url);
      const delay = rng.int(900);
      await new Promise((resolve) => setTimeout(resolve, delay));
      const health = (await call(server.url, 'GET', '/healthz')).body;
      kills.push(
        `run ${run}: +${delay} ms, ${health.training ? `batch ${health.training.batch} at iteration ${health.training.iteration}` : 'between batches'}`,
      );
    } finally {
      server.child.kill('SIGKILL');
      await server.exited;
      logs.push(server.log());
    }
  }

  const server = await spawnServer([...SERVE_ARGS, '--state', stateDir]);
  try {
    const done = await waitForStatus(
      server.url,
      acknowledged.map((e) => e.id),
      ['applied'],
      120_000,
    );
    assert.ok(
      [...done.values()].some((e) => e.attempts > 1),
      'no kill interrupted a batch (no edit was trained twice)',
    );
    for (const edit of acknowledged) {
      const completion = await call(server.url, 'POST', '/v1/completions', { prompt: edit.prompt, max_tokens: 1 });
      assert.equal(completion.body.text, ` ${TARGET}`, `${edit.id} not answered after the restarts`);
    }
    const health = (await call(server.url, 'GET', '/healthz')).body;
    assert.equal(health.codes, acknowledged.length);
    assert.equal(health.edits.failed, 0);
    t.diagnostic(`kills: ${kills.join('; ')}; retrained: ${[...done.values()].filter((e) => e.attempts > 1).length} edits`);
    // Restarts after kills mid-batch put the interrupted edits back in the queue, and say so.
    assert.match([...logs, server.log()].join('\n'), /requeued \d+ edits? interrupted in training/);
  } finally {
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
  }
  assert.ok(!fs.existsSync(path.join(stateDir, 'state.lock')), 'SIGTERM left the state locked');
});
