import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel } from '../src/models/load.js';
import { tokenizeEdit } from '../src/editors/edit.js';
import { ElderState, StateFiles } from '../src/editors/elder/state.js';
import { ElderEditor } from '../src/editors/elder/editor.js';
import { Random } from '../src/util/random.js';
import { cli, EDIT_SUBJECTS as subjects, SHARED_TARGET as TARGET, tinyGpt2Dir } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-crash-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

interface Run {
  acknowledged: string[];
}

/** Runs `elder edit` and kills it with SIGKILL after `killAfterMs` (or lets it finish). */
function editAndKill(editsFile: string, stateDir: string, killAfterMs: number | null): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, 'edit', '--model', tinyGpt2Dir, '--state', stateDir, '--edits', editsFile, '--batch', '2', '--iters', '30', '--lr', '1e-2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.resume();
    const timer = killAfterMs === null ? null : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('exit', () => {
      if (timer) clearTimeout(timer);
      const acknowledged = [...out.matchAll(/^applied (\S+) /gm)].map((m) => m[1]);
      resolve({ acknowledged });
    });
  });
}

test('SIGKILL at random moments of `elder edit` never loses an acknowledged edit', { timeout: 120_000 }, async (t) => {
  const stateDir = path.join(tmp, 'state');
  const rng = new Random(2024);
  const { model, tokenizer } = loadModel(tinyGpt2Dir);
  const allAcknowledged: string[] = [];
  const killed: number[] = [];
  const perRun: number[] = [];
  for (let run = 0; run < 5; run++) {
    const file = path.join(tmp, `edits-${run}.jsonl`);
    const lines = Array.from({ length: 6 }, (_, i) => {
      const n = run * 6 + i;
      return JSON.stringify({ id: `r${run}-e${i}`, prompt: `Tell me about ${subjects[n % subjects.length]} and`, target: TARGET });
    });
    fs.writeFileSync(file, lines.join('\n') + '\n');
    // Between model load and the end of the third batch: mid-training, mid-commit, or after.
    const killAfter = run === 4 ? null : 250 + rng.int(700);
    if (killAfter !== null) killed.push(killAfter);
    const result = await editAndKill(file, stateDir, killAfter);
    allAcknowledged.push(...result.acknowledged);
    perRun.push(result.acknowledged.length);

    // After every kill the state opens (torn journal tail dropped, checksums verified) …
    const state = ElderState.open(stateDir, model, { modelName: 'tiny-gpt2' });
    try {
      const applied = new Set([...state.files.edits.values()].filter((e) => e.status === 'applied').map((e) => e.id));
      // … every acknowledged edit is present, with its code in the codebook …
      for (const id of allAcknowledged) {
        assert.ok(applied.has(id), `run ${run} (killed after ${killAfter} ms): acknowledged edit ${id} lost`);
        assert.ok(state.editor.codebook.has(id));
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
  t.diagnostic(`kills at ${killed.join(', ')} ms; edits acknowledged per run: ${perRun.join(', ')}`);
  assert.ok(perRun.slice(0, 4).some((n) => n > 0 && n < 6), `no kill landed between two batches (acknowledged per run: ${perRun.join(', ')})`);
  assert.equal(perRun[4], 6, 'the uninterrupted run applies all its edits');
  assert.ok(allAcknowledged.length >= 6, `only ${allAcknowledged.length} edits acknowledged over the runs (kills at ${killed.join(', ')} ms)`);
  assert.ok(!fs.readdirSync(stateDir).some((name) => name.endsWith('.tmp')), 'temporary files left behind');

  // The surviving weights are exactly those of the committed batches: replaying the
  // journal's batches from the same initial weights reproduces them bit for bit.
  const files = StateFiles.read(stateDir);
  const replay = new ElderEditor(model, files.config.elder);
  for (const record of files.records) {
    if (record.type !== 'batch') continue;
    replay.trainBatch(record.edits.map((e) => tokenizeEdit(tokenizer!, model.config, e)));
  }
  const stored = files.readWeights();
  for (const [name, tensor] of replay.mixture.namedParameters()) {
    assert.ok(Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength).equals(Buffer.from(stored.get(name)!.data.buffer)), `${name} differs from a replay of the committed batches`);
  }
});
