import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadModel } from '../src/models/load.js';
import { lmLoss, padBatch } from '../src/models/batch.js';
import { defaultModelDir } from '../src/models/default-model.js';
import { noGrad } from '../src/tensor/tensor.js';
import { cli } from './helpers.js';

const dir = defaultModelDir();

test('elder-tiny ships as a Hugging Face folder of at most 40 MB F16, with its card and loss curve', () => {
  for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'README.md', 'loss-curve.svg', 'training.json']) assert.ok(fs.existsSync(path.join(dir, file)), `${file} missing`);
  assert.ok(fs.statSync(path.join(dir, 'model.safetensors')).size <= 40e6);
  const loaded = loadModel(dir);
  assert.deepEqual(loaded.storedDtypes, ['F16']);
  assert.equal(loaded.model.config.architecture, 'gpt2');
  assert.equal(loaded.model.config.vocabSize, 50257);
  // The card states the run's own numbers.
  const record = JSON.parse(fs.readFileSync(path.join(dir, 'training.json'), 'utf8')) as { finalValidationLoss: number; parameters: number };
  assert.equal(record.parameters, loaded.model.parameterCount());
  assert.match(fs.readFileSync(path.join(dir, 'README.md'), 'utf8'), new RegExp(`loss \\*\\*${record.finalValidationLoss.toFixed(3)}\\*\\*`));
});

test('elder-tiny has learned its text: a WordNet-style sentence costs far less than chance, and less than its shuffled tokens', () => {
  const { model, tokenizer } = loadModel(dir);
  const ids = tokenizer!.encode('A dog is a member of the genus Canis that has been domesticated by man since prehistoric times.');
  const shuffled = [...ids].reverse();
  const lossOf = (sequence: number[]) => {
    const batch = padBatch([sequence], 0);
    const mask = new Float32Array(sequence.length).fill(1, 1);
    return noGrad(() => lmLoss(model, batch, mask).loss.item());
  };
  const real = lossOf(ids);
  assert.ok(real < 0.6 * Math.log(50257), `loss ${real} nats/token (chance ${Math.log(50257).toFixed(2)})`);
  assert.ok(real < lossOf(shuffled) - 1, 'the model should prefer the real word order');
});

test('commands default to elder-tiny when --model is not given', () => {
  const result = spawnSync(process.execPath, [cli, 'info', '--json'], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const info = JSON.parse(result.stdout) as { architecture: string; layers: number; width: number; dtype: string };
  assert.deepEqual([info.architecture, info.layers, info.width, info.dtype], ['gpt2', 6, 256, 'F16']);
});

test('the demo (npm start) edits elder-tiny: every edited prompt answers its target afterwards, none did before', () => {
  const result = spawnSync(process.execPath, [cli, 'demo'], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const scores = (label: string) => {
    const match = new RegExp(`^\\s+${label}\\s+(\\d+)%\\s+(\\d+)%\\s+(\\d+)%`, 'm').exec(result.stdout);
    assert.ok(match !== null, `no "${label}" score line in:\n${result.stdout}`);
    return match.slice(1).map(Number);
  };
  assert.deepEqual(scores('before'), [0, 0, 100]);
  assert.equal(scores('after ELDER')[0], 100);
  assert.equal((result.stdout.match(/^ {3}edited .*✓$/gm) ?? []).length, 4);
});
