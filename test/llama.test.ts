import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { lmLoss } from '../src/models/batch.js';
import { generate } from '../src/models/generate.js';
import { loadModel, randomModel, saveModel } from '../src/models/load.js';
import { SafetensorsFile, writeSafetensors } from '../src/models/safetensors.js';
import { backward, noGrad } from '../src/tensor/tensor.js';
import { maxAbsDiff, maxRelativeToScale, smallLlama, tinyLlamaDir } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-llama-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

test('LLaMA fixture: logits, loss and gradients match PyTorch (GQA, untied head, rotate-half RoPE)', () => {
  const reference = JSON.parse(fs.readFileSync(path.join(tinyLlamaDir, 'reference.json'), 'utf8')) as {
    ids: number[][];
    target_mask: number[][];
    loss: number;
  };
  const { model, tokenizer } = loadModel(tinyLlamaDir);
  assert.equal(tokenizer, null);
  const batch = { ids: Int32Array.from(reference.ids.flat()), batch: 2, steps: 9 };
  const bytes = fs.readFileSync(path.join(tinyLlamaDir, 'reference-logits.bin'));
  const expected = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const logits = noGrad(() => model.forward(batch.ids, 2, 9));
  assert.ok(maxAbsDiff(logits.data, expected) < 1e-4, `max |Δ| ${maxAbsDiff(logits.data, expected)}`);

  const grads = SafetensorsFile.open(path.join(tinyLlamaDir, 'reference-grads.safetensors'));
  const names = [...grads.entries.keys()];
  for (const name of names) model.parameters.get(name)!.requiresGrad = true;
  const { loss } = lmLoss(model, batch, reference.target_mask.flat());
  assert.ok(Math.abs(loss.item() - reference.loss) < 1e-4 * reference.loss);
  backward(loss);
  for (const name of names) {
    const error = maxRelativeToScale(model.parameters.get(name)!.grad!, grads.read(name).data);
    assert.ok(error < 1e-4, `${name}: ${error}`);
  }
  grads.close();
});

test('a random LLaMA written by elder reloads with the same shapes and outputs (F32, F16, BF16, sharded)', () => {
  const model = randomModel(smallLlama, 3, 0.2);
  const ids = Int32Array.from([5, 9, 13, 7, 1, 44]);
  const reference = noGrad(() => model.forward(ids, 1, ids.length)).data;

  const f32Dir = path.join(tmp, 'f32');
  saveModel(f32Dir, model);
  const reloaded = loadModel(f32Dir);
  assert.deepEqual(reloaded.model.config, model.config);
  for (const [name, tensor] of model.parameters) {
    assert.deepEqual(reloaded.model.parameters.get(name)!.shape, tensor.shape, name);
  }
  assert.ok(!reloaded.model.parameters.has('lm_head.weight'), 'tied head is stored once');
  assert.deepEqual(Array.from(noGrad(() => reloaded.model.forward(ids, 1, ids.length)).data), Array.from(reference));

  for (const dtype of ['F16', 'BF16'] as const) {
    const dir = path.join(tmp, dtype);
    saveModel(dir, model, { dtype });
    const half = loadModel(dir);
    assert.deepEqual(half.storedDtypes, [dtype]);
    // Half precision keeps ~11 (F16) or ~8 (BF16) mantissa bits of each weight.
    const tolerance = dtype === 'F16' ? 3e-3 : 2e-2;
    const out = noGrad(() => half.model.forward(ids, 1, ids.length)).data;
    assert.ok(maxRelativeToScale(out, reference) < tolerance, `${dtype}: ${maxRelativeToScale(out, reference)}`);
  }

  // Shard the F32 checkpoint in two files with an index, as large Hugging Face checkpoints are.
  const shardDir = path.join(tmp, 'sharded');
  fs.mkdirSync(shardDir);
  fs.copyFileSync(path.join(f32Dir, 'config.json'), path.join(shardDir, 'config.json'));
  const names = [...model.parameters.keys()];
  const weightMap: Record<string, string> = {};
  [names.slice(0, 7), names.slice(7)].forEach((part, i) => {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    writeSafetensors(path.join(shardDir, file), new Map(part.map((n) => [n, model.parameters.get(n)!])));
    for (const n of part) weightMap[n] = file;
  });
  fs.writeFileSync(path.join(shardDir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  const sharded = loadModel(shardDir);
  assert.deepEqual(Array.from(noGrad(() => sharded.model.forward(ids, 1, ids.length)).data), Array.from(reference));
});

test('LLaMA loss gradients through every block match finite differences', () => {
  const model = randomModel({ ...smallLlama, tiedEmbeddings: false }, 4, 0.3);
  const batch = { ids: Int32Array.from([3, 8, 21, 34, 11, 2, 9, 17]), batch: 2, steps: 4 };
  const mask = [0, 1, 1, 1, 0, 0, 1, 1];
  const names = [
    'model.layers.0.self_attn.q_proj.weight',
    'model.layers.0.self_attn.k_proj.weight',
    'model.layers.1.mlp.down_proj.weight',
    'model.layers.0.input_layernorm.weight',
    'lm_head.weight',
  ];
  for (const name of names) model.parameters.get(name)!.requiresGrad = true;
  const { loss } = lmLoss(model, batch, mask);
  backward(loss);
  const lossValue = () => noGrad(() => lmLoss(model, batch, mask).loss.item());
  for (const name of names) {
    const param = model.parameters.get(name)!;
    const analytic = param.grad!;
    for (const index of [0, 7, param.size - 1, Math.floor(param.size / 2)]) {
      const original = param.data[index];
      const eps = 1e-2;
      param.data[index] = original + eps;
      const plus = lossValue();
      param.data[index] = original - eps;
      const minus = lossValue();
      param.data[index] = original;
      const numeric = (plus - minus) / (2 * eps);
      assert.ok(Math.abs(numeric - analytic[index]) <= 2e-3 + 3e-2 * Math.abs(numeric), `${name}[${index}]: ${analytic[index]} vs ${numeric}`);
    }
  }
});

test('greedy generation with the KV cache equals step-by-step full recomputation', () => {
  const model = randomModel(smallLlama, 5, 0.5);
  const prompt = [4, 10, 22];
  const { ids } = generate(model, prompt, { maxTokens: 6, stopIds: [] });
  assert.equal(ids.length, 6);
  const sequence = [...prompt];
  for (let i = 0; i < 6; i++) {
    const logits = noGrad(() => model.forward(Int32Array.from(sequence), 1, sequence.length)).data;
    const last = logits.subarray((sequence.length - 1) * 50);
    sequence.push(last.indexOf(Math.max(...last)));
  }
  assert.deepEqual(ids, sequence.slice(prompt.length));
});

test('generation stops at EOS, and sampling is reproducible by seed', () => {
  const model = randomModel(smallLlama, 6, 0.5);
  const greedy = generate(model, [4, 10], { maxTokens: 5, stopIds: [] });
  const stopAt = greedy.ids[1];
  const stopped = generate(model, [4, 10], { maxTokens: 5, stopIds: [stopAt] });
  assert.equal(stopped.stoppedBy, 'eos');
  assert.deepEqual(stopped.ids, greedy.ids.slice(0, greedy.ids.indexOf(stopAt) + 1));
  const a = generate(model, [4, 10], { maxTokens: 8, temperature: 1.5, seed: 11, stopIds: [] });
  const b = generate(model, [4, 10], { maxTokens: 8, temperature: 1.5, seed: 11, stopIds: [] });
  const c = generate(model, [4, 10], { maxTokens: 8, temperature: 1.5, seed: 12, stopIds: [] });
  assert.deepEqual(a.ids, b.ids);
  assert.notDeepEqual(a.ids, c.ids);
  const nucleus = generate(model, [4, 10], { maxTokens: 8, temperature: 1, topP: 1e-6, seed: 3, stopIds: [] });
  assert.deepEqual(nucleus.ids, generate(model, [4, 10], { maxTokens: 8, stopIds: [] }).ids, 'a tiny nucleus is greedy');
});
