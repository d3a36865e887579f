import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { tokenizeEdit } from '../src/editors/edit.js';
import { ElderEditor } from '../src/editors/elder/editor.js';
import { ElderState, StateFiles } from '../src/editors/elder/store/state.js';
import { loadModel } from '../src/models/load.js';
import { Random } from '../src/util/random.js';
import { cli, EDIT_SUBJECTS as subjects, SHARED_TARGET as TARGET, tinyGpt2Dir } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-crash-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

const BATCH = 2;

interface Run {
  acknowledged: string[];
  /** Milliseconds from spawn to each acknowledged batch. */
  batchAckMs: number[];
}

/** How long `elder edit` takes on this machine, measured by an uninterrupted run. */
interface Timing {
  firstBatchAckMs: number;
  batchMs: number;
}

/**
 * Where to kill: `fraction` of the way through the batch after the first
 * `afterBatches` are acknowledged. Timed from the run's own acknowledgements,
 * so the kill lands in the same phase however fast the machine is.
 */
interface KillPlan {
  afterBatches: number;
  fraction: number;
}

/** Runs `elder edit` and kills it with SIGKILL as planned (or lets it finish). */
function editAndKill(editsFile: string, stateDir: string, kill: { plan: KillPlan; timing: Timing } | null): Promise<Run> {
  return new Promise((resolve) => {
    const spawned = performance.now();
    const child = spawn(
      process.execPath,
      [
        cli,
        'edit',
        '--model',
        tinyGpt2Dir,
        '--state',
        stateDir,
        '--edits',
        editsFile,
        '--batch',
        String(BATCH),
        '--iters',
        '30',
        '--lr',
        '1e-2',
        '--blocks',
        '2-3',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    const batchAckMs: number[] = [];
    let timer: NodeJS.Timeout | null = null;
    const schedule = (delayMs: number) => (timer = setTimeout(() => child.kill('SIGKILL'), Math.max(0, delayMs)));
    // Inside the first batch: its training starts about one batch before its acknowledgement.
    if (kill?.plan.afterBatches === 0) schedule(kill.timing.firstBatchAckMs - kill.timing.batchMs * (1 - kill.plan.fraction));
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const batches = Math.floor([...out.matchAll(/^applied /gm)].length / BATCH);
      while (batchAckMs.length < batches) batchAckMs.push(performance.now() - spawned);
      if (kill && timer === null && batches >= kill.plan.afterBatches) schedule(kill.timing.batchMs * kill.plan.fraction);
    });
    child.stderr.resume();
    child.on('exit', () => {
      if (timer) clearTimeout(timer);
      const acknowledged = [...out.matchAll(/^applied (\S+) /gm)].map((m) => m[1]);
      resolve({ acknowledged, batchAckMs });
    });
  });
}

test('SIGKILL at random moments of `elder edit` never loses an acknowledged edit', { timeout: 120_000 }, async (t) => {
  const stateDir = path.join(tmp, 'state');
  const rng = new Random(2024);
  const { model, tokenizer } = loadModel(tinyGpt2Dir);
  const allAcknowledged: string[] = [];
  const killed: string[] = [];
  const perRun: number[] = [];
  // Run 0 is uninterrupted and times the machine; runs 1–4 are killed inside the first,
  // second and third batch (training, commit or just after) and once more inside the second.
  const afterBatches = [0, 1, 2, 1];
  let timing: Timing | null = null;
  for (let run = 0; run < 5; run++) {
    const file = path.join(tmp, `edits-${run}.jsonl`);
    const lines = Array.from({ length: 6 }, (_, i) => {
      const n = run * 6 + i;
      return JSON.stringify({ id: `r${run}-e${i}`, prompt: `Tell me about ${subjects[n % subjects.length]} and`, target: TARGET });
    });
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const plan = run === 0 ? null : { afterBatches: afterBatches[run - 1], fraction: rng.uniform() };
    const killAfter = plan === null ? 'not killed' : `killed ${(100 * plan.fraction).toFixed(0)}% into batch ${plan.afterBatches + 1}`;
    if (plan !== null) killed.push(killAfter);
    const result = await editAndKill(file, stateDir, plan && timing && { plan, timing });
    if (run === 0) {
      const gaps = result.batchAckMs.slice(1).map((ms, i) => ms - result.batchAckMs[i]);
      timing = { firstBatchAckMs: result.batchAckMs[0], batchMs: Math.min(...gaps) };
    }
    allAcknowledged.push(...result.acknowledged);
    perRun.push(result.acknowledged.length);

    // After every kill the state opens (torn journal tail dropped, checksums verified) …
    const state = ElderState.open(stateDir, model, { modelName: 'tiny-gpt2' });
    try {
      const applied = new Set([...state.files.edits.values()].filter((e) => e.status === 'applied').map((e) => e.id));
      // … every acknowledged edit is present, with its code in the codebook …
      for (const id of allAcknowledged) {
        assert.ok(applied.has(id), `run ${run} (${killAfter}): acknowledged edit ${id} lost`);
        assert.ok(state.editor.isLive(id));
      }
      // … and every acknowledged edit, from this run and all earlier ones, is answered by the reloaded weights.
      for (const id of allAcknowledged) {
        const record = state.files.edits.get(id)!;
        const edit = tokenizeEdit(tokenizer!, model.config, record);
        assert.ok(state.editor.predictsTarget(edit.promptIds, edit.targetIds).correct, `run ${run}: ${id} not answered after reload`);
      }
    } finally {
      state.close();
    }
  }
  t.diagnostic(`timing ${JSON.stringify(timing)}; ${killed.join('; ')}; edits acknowledged per run: ${perRun.join(', ')}`);
  assert.ok(
    perRun.slice(1).some((n) => n > 0 && n < 6),
    `no kill landed between two batches (acknowledged per run: ${perRun.join(', ')})`,
  );
  assert.equal(perRun[0], 6, 'the uninterrupted run applies all its edits');
  assert.ok(allAcknowledged.length >= 6, `only ${allAcknowledged.length} edits acknowledged over the runs (${killed.join('; ')})`);
  assert.ok(!fs.readdirSync(stateDir).some((name) => name.endsWith('.tmp')), 'temporary files left behind');

  // The surviving weights are exactly those of the committed batches: replaying the
  // journal's batches from the same initial weights (each batch rehearsing earlier
  // committed edits, as the state does) reproduces them bit for bit.
  const files = StateFiles.read(stateDir);
  assert.ok(files.elder.rehearsal.replay > 0, 'the default configuration rehearses earlier edits');
  const replay = new ElderEditor(model, files.elder);
  for (const record of files.records) {
    if (record.type !== 'batch') continue;
    replay.applyBatch(record.edits.map((e) => tokenizeEdit(tokenizer!, model.config, e)));
  }
  const stored = files.readWeights();
  for (const [name, tensor] of replay.weightViews()) {
    assert.ok(
      Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength).equals(Buffer.from(stored.get(name)!.data.buffer)),
      `${name} differs from a replay of the committed batches`,
    );
  }
});
