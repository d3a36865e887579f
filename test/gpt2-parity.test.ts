import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { lmLoss } from '../src/models/batch.js';
import { loadModel } from '../src/models/load.js';
import { SafetensorsFile } from '../src/models/safetensors.js';
import { backward, noGrad } from '../src/tensor/tensor.js';
import { maxAbsDiff, maxRelativeToScale, tinyGpt2Dir } from './helpers.js';

interface Reference {
  prompts: Array<{ text: string; ids: number[]; T: number; argmax_last: number }>;
  base_grads: { ids: number[][]; target_mask: number[][]; loss: number; tensors: string[] };
}
const reference = JSON.parse(fs.readFileSync(path.join(tinyGpt2Dir, 'reference.json'), 'utf8')) as Reference;
const { model, tokenizer } = loadModel(tinyGpt2Dir);
const vocab = model.config.vocabSize;

test('GPT-2 tokenizer reproduces the fixture token ids', () => {
  assert.ok(tokenizer);
  for (const prompt of reference.prompts) assert.deepEqual(tokenizer.encode(prompt.text), prompt.ids, prompt.text);
  assert.equal(tokenizer.decode(reference.prompts[1].ids), reference.prompts[1].text);
});

test('GPT-2 logits match PyTorch at every position within 1e-4', () => {
  const bytes = fs.readFileSync(path.join(tinyGpt2Dir, 'reference-logits.bin'));
  const expectedAll = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  let offset = 0;
  for (const prompt of reference.prompts) {
    const logits = noGrad(() => model.forward(Int32Array.from(prompt.ids), 1, prompt.T));
    const expected = expectedAll.subarray(offset, offset + prompt.T * vocab);
    offset += prompt.T * vocab;
    const diff = maxAbsDiff(logits.data, expected);
    assert.ok(diff < 1e-4, `${prompt.text}: max |Δ| = ${diff}`);
    let best = 0;
    const last = (prompt.T - 1) * vocab;
    for (let v = 1; v < vocab; v++) if (logits.data[last + v] > logits.data[last + best]) best = v;
    assert.equal(best, prompt.argmax_last);
  }
  assert.equal(offset, expectedAll.length);
});

test('GPT-2 target-token loss and weight gradients match PyTorch within 1e-4', () => {
  const { ids, target_mask: mask, loss: expectedLoss, tensors } = reference.base_grads;
  const steps = ids[0].length;
  const batch = { ids: Int32Array.from(ids.flat()), batch: ids.length, steps };
  for (const name of tensors) {
    const param = model.parameters.get(name)!;
    param.requiresGrad = true;
    param.grad = null;
  }
  const { loss } = lmLoss(model, batch, mask.flat());
  assert.ok(Math.abs(loss.item() - expectedLoss) < 1e-4 * Math.abs(expectedLoss), `loss ${loss.item()} vs ${expectedLoss}`);
  backward(loss);
  const grads = SafetensorsFile.open(path.join(tinyGpt2Dir, 'reference-base-grads.safetensors'));
  for (const name of tensors) {
    const expected = grads.read(name).data;
    const actual = model.parameters.get(name)!.grad!;
    const error = maxRelativeToScale(actual, expected);
    assert.ok(error < 1e-4, `${name}: error ${error} relative to max |grad|`);
    model.parameters.get(name)!.requiresGrad = false;
  }
  grads.close();
});
