import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../src/models/config.js';
import { randomModel } from '../src/models/load.js';
import { lineChart, ticks } from '../src/plot/svg.js';
import { clipGradNorm } from '../src/tensor/clip.js';
import { Tensor } from '../src/tensor/tensor.js';
import { parseFortunes, parseWordnetData } from '../src/train/corpus.js';
import { type PretrainConfig, pretrain, readCheckpoint, sampleWindows, type TokenSplit, validationLoss } from '../src/train/pretrain.js';
import { cosineLearningRate } from '../src/train/schedule.js';
import { NonFiniteError } from '../src/util/errors.js';
import { repoRoot } from './helpers.js';

const MODEL_JSON = { model_type: 'gpt2', vocab_size: 32, n_positions: 16, n_embd: 16, n_layer: 2, n_head: 2, n_inner: 32, activation_function: 'gelu_new' };
const modelConfig = parseConfig(MODEL_JSON, 'test config');

/** A stream with structure to learn: a fixed 7-token cycle (next token determined by the current one). */
function cyclicTokens(length: number, offset: number): Int32Array {
  const out = new Int32Array(length);
  for (let i = 0; i < length; i++) out[i] = (((i + offset) * 3) % 7) + 5;
  return out;
}

const data: TokenSplit = { train: cyclicTokens(3000, 0), validation: cyclicTokens(400, 3) };

function trainingConfig(totalSteps: number): PretrainConfig {
  return {
    totalSteps,
    warmupSteps: 2,
    maxLr: 1e-2,
    minLr: 1e-3,
    batchSize: 4,
    windowLength: 16,
    weightDecay: 0.1,
    clipNorm: 1,
    seed: 5,
    evalEvery: 10,
    evalWindows: 8,
    checkpointSeconds: 3600,
  };
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'elder-pretrain-'));
}

test('pretraining lowers the validation loss of a learnable stream well below chance', async () => {
  const dir = tempDir();
  const config = trainingConfig(60);
  const untrained = randomModel(modelConfig, 3);
  const before = validationLoss(untrained, data.validation, config);
  const result = await pretrain(() => randomModel(modelConfig, 3), data, config, { checkpointDir: dir });
  assert.equal(result.finished, true);
  const after = result.state.validation[result.state.validation.length - 1].loss;
  assert.ok(before > Math.log(32) - 0.5, `untrained loss ${before} should be near chance ${Math.log(32)}`);
  assert.ok(after < 1.0, `validation loss after training: ${after}`);
  assert.equal(result.state.history.length, 60);
});

test('a stopped run resumes from its checkpoint to the exact weights of an uninterrupted run', async () => {
  const config = trainingConfig(12);
  const straight = await pretrain(() => randomModel(modelConfig, 9), data, config, { checkpointDir: tempDir() });

  const dir = tempDir();
  let steps = 0;
  const first = await pretrain(() => randomModel(modelConfig, 9), data, config, {
    checkpointDir: dir,
    shouldStop: () => steps >= 5,
    onProgress: () => steps++,
  });
  assert.equal(first.finished, false);
  assert.equal(first.state.step, 5);
  // The fresh-model factory must not be used once a checkpoint exists: give it a different seed.
  const resumed = await pretrain(() => randomModel(modelConfig, 999), data, config, { checkpointDir: dir });
  assert.equal(resumed.resumedFrom, 5);
  assert.equal(resumed.finished, true);
  for (const [name, tensor] of straight.model.parameters) {
    assert.deepEqual(resumed.model.parameters.get(name)!.data, tensor.data, `parameter ${name} differs after resume`);
  }
  assert.deepEqual(
    resumed.state.history.map((r) => r.loss),
    straight.state.history.map((r) => r.loss),
  );
});

test('a checkpoint swap cut short falls back to the previous checkpoint', async () => {
  const dir = tempDir();
  await pretrain(() => randomModel(modelConfig, 1), data, trainingConfig(3), { checkpointDir: dir });
  // A kill between "live → old" and "next → live" leaves only checkpoint.old.
  fs.renameSync(path.join(dir, 'checkpoint'), path.join(dir, 'checkpoint.old'));
  const restored = readCheckpoint(dir);
  assert.ok(restored !== null);
  assert.equal(restored.state.step, 3);
  assert.equal(readCheckpoint(tempDir()), null);
});

test('windows depend only on seed and step, and stay inside the stream', () => {
  const config = { batchSize: 3, windowLength: 16, seed: 2 };
  assert.deepEqual(sampleWindows(data.train, config, 7), sampleWindows(data.train, config, 7));
  assert.notDeepEqual(sampleWindows(data.train, config, 7), sampleWindows(data.train, config, 8));
  const short = Int32Array.from({ length: 17 }, (_, i) => i);
  assert.deepEqual(sampleWindows(short, config, 0), Int32Array.from([...short, ...short, ...short]));
});

test('cosine schedule: linear warm-up, peak, decay to the floor', () => {
  const schedule = { maxLr: 1, minLr: 0.1, warmupSteps: 10, totalSteps: 110 };
  assert.equal(cosineLearningRate(0, schedule), 0.1);
  assert.equal(cosineLearningRate(9, schedule), 1);
  assert.ok(Math.abs(cosineLearningRate(60, schedule) - 0.55) < 1e-12);
  assert.ok(Math.abs(cosineLearningRate(109, schedule) - 0.1) < 1e-3);
  assert.equal(cosineLearningRate(500, schedule), 0.1);
});

test('gradient clipping bounds the global norm and refuses NaN', () => {
  const a = Tensor.from([0, 0], [2], true);
  const b = Tensor.from([0], [1], true);
  a.grad = Float32Array.from([3, 0]);
  b.grad = Float32Array.from([4]);
  assert.equal(clipGradNorm([a, b], 1), 5);
  assert.ok(Math.abs(Math.hypot(a.grad[0], a.grad[1], b.grad[0]) - 1) < 1e-5);
  assert.ok(Math.abs(a.grad[0] / b.grad[0] - 0.75) < 1e-6, 'direction is kept');
  b.grad[0] = NaN;
  assert.throws(() => clipGradNorm([a, b], 1), NonFiniteError);
});

test('WordNet and fortune files become clean sentences', () => {
  const wordnet = [
    '  1 This software and database is being provided to you, the LICENSEE, by',
    '00217499 04 n 01 disaster 0 001 @ 00217014 n 0000 | an act that has disastrous consequences  ',
    '00217593 04 n 02 kill 1 ice_age 0 002 @ 00217014 n 0000 | the destruction of an enemy plane; "the pilot reported two kills during the mission"  ',
    '00100905 29 v 01 warm_up 1 004 @ 00100551 v 0000 | cause to do preliminary exercises; "The coach warmed up the players"  ',
  ].join('\n');
  assert.deepEqual(parseWordnetData(wordnet, 'data.noun'), [
    'A disaster is an act that has disastrous consequences.',
    'A kill is the destruction of an enemy plane. The pilot reported two kills during the mission.',
    'Warm up: cause to do preliminary exercises. The coach warmed up the players.',
  ]);
  assert.deepEqual(parseWordnetData(wordnet.split('\n')[3], 'data.verb'), [
    'To warm up is to cause to do preliminary exercises. The coach warmed up the players.',
  ]);
  assert.deepEqual(parseFortunes('A is for Apple.\n\t\t-- Hester Pryne\n%\nSecond\none.\n%\n'), ['A is for Apple. -- Hester Pryne', 'Second one.']);
});

test('line charts place points inside the plot and escape labels', () => {
  const svg = lineChart(
    [
      {
        name: 'a<b',
        points: [
          { x: 0, y: 0 },
          { x: 10, y: 1 },
        ],
      },
    ],
    { title: 'T & U', xLabel: 'x', yLabel: 'y', yRange: [0, 1] },
  );
  assert.match(svg, /<title>T &amp; U<\/title>/);
  assert.match(svg, />a&lt;b</);
  assert.match(svg, /d="M64\.0,372\.0 L570\.0,36\.0"/);
  assert.deepEqual(ticks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
});

test('a line chart of more series than colours draws no two alike, in the plot or in the legend', () => {
  const series = Array.from({ length: 15 }, (_, i) => ({
    name: `method ${i}`,
    points: [
      { x: 0, y: i / 15 },
      { x: 1, y: i / 15 },
    ],
  }));
  const svg = lineChart(series, { title: 't', xLabel: 'x', yLabel: 'y' });
  const paths = [...svg.matchAll(/<path d="[^"]*" fill="none" stroke="([^"]+)" stroke-width="2"(?: stroke-dasharray="([^"]+)")?>/g)].map(
    (m) => `${m[1]}|${m[2] ?? ''}`,
  );
  assert.equal(paths.length, 15);
  assert.equal(new Set(paths).size, 15, `styles repeat: ${paths.join(', ')}`);
  const keys = [
    ...svg.matchAll(/<line x1="[\d.]+" y1="[\d.]+" x2="[\d.]+" y2="[\d.]+" stroke="([^"]+)" stroke-width="2.5"(?: stroke-dasharray="([^"]+)")?\/>/g),
  ].map((m) => `${m[1]}|${m[2] ?? ''}`);
  assert.deepEqual(keys, paths, 'each legend key is drawn like its line');
});

test('SIGINT during a long run stops it after the current step, with a checkpoint of that step', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  // A child that would train for a million steps, stopping on SIGINT as train:facts does.
  const script = `
    import { pretrain } from ${JSON.stringify(path.join(repoRoot, 'dist/src/train/pretrain.js'))};
    import { randomModel } from ${JSON.stringify(path.join(repoRoot, 'dist/src/models/load.js'))};
    import { parseConfig } from ${JSON.stringify(path.join(repoRoot, 'dist/src/models/config.js'))};
    const modelConfig = parseConfig(${JSON.stringify(MODEL_JSON)}, 'child');
    const tokens = Int32Array.from({ length: 3000 }, (_, i) => i % 32);
    let stop = false;
    process.on('SIGINT', () => { stop = true; });
    const config = ${JSON.stringify({ ...trainingConfig(1_000_000), evalEvery: 1_000_000 })};
    const result = await pretrain(() => randomModel(modelConfig, 1), { train: tokens, validation: tokens.slice(0, 400) }, config, {
      checkpointDir: ${JSON.stringify(dir)},
      shouldStop: () => stop,
      onProgress: (p) => { if (p.step % 5 === 0) process.stdout.write('step ' + p.step + '\\n'); },
    });
    process.stdout.write('stopped at ' + result.state.step + ' finished ' + result.finished + '\\n');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (chunk) => (err += chunk));
  await new Promise<void>((resolve) => {
    let sent = false;
    child.stdout.on('data', (chunk) => {
      out += chunk;
      // One interrupt only: a second one arriving while the child exits would kill it outright.
      if (!sent && /step 10\n/.test(out)) {
        sent = true;
        child.kill('SIGINT');
        resolve();
      }
    });
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, err);
  const stopped = Number(/stopped at (\d+) finished false/.exec(out)?.[1]);
  assert.ok(stopped >= 10 && stopped < 100, `stopped at ${stopped}:\n${out}`);
  // The checkpoint holds exactly the step it stopped at: nothing after the last step is lost.
  assert.equal(readCheckpoint(dir)!.state.step, stopped);
});
