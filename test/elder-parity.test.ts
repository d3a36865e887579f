import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { PreparedBatch } from '../src/editors/common/batch.js';
import { elderConfig } from '../src/editors/elder/config.js';
import { ElderCore } from '../src/editors/elder/core.js';
import { frozenPass } from '../src/editors/elder/frozen.js';
import { MixtureOfLora } from '../src/editors/elder/mixture.js';
import { targetRows } from '../src/models/batch.js';
import { loadModel } from '../src/models/load.js';
import { SafetensorsFile } from '../src/models/safetensors.js';
import { backward } from '../src/tensor/tensor.js';
import { maxRelativeToScale, tinyGpt2Dir } from './helpers.js';

interface ElderReference {
  ids: number[][];
  target_mask: number[][];
  num_experts: number;
  rank: number;
  lora_alpha: number;
  top_k: number;
  lambda: number;
  edit_layers_c_fc: number[];
  preset_allocation: Record<string, number[][]>;
  topk_indices: Record<string, number[][]>;
  model_loss: number;
  guided_loss: number;
  total_loss: number;
}

test('ELDER forward, guided loss and every gradient match the PyTorch reference', () => {
  const reference = (JSON.parse(fs.readFileSync(path.join(tinyGpt2Dir, 'reference.json'), 'utf8')) as { elder: ElderReference }).elder;
  const { model } = loadModel(tinyGpt2Dir);
  const [firstBlock, lastBlock] = [reference.edit_layers_c_fc[0], reference.edit_layers_c_fc.at(-1)!];
  const { core: config } = elderConfig(model.config, {
    preset: 'paper',
    firstBlock,
    lastBlock,
    experts: reference.num_experts,
    rank: reference.rank,
    alpha: reference.lora_alpha,
    topK: reference.top_k,
    lambda: reference.lambda,
  });
  assert.equal(config.site, 'mlp.c_fc');
  const mixture = new MixtureOfLora(config, model);
  const params = SafetensorsFile.open(path.join(tinyGpt2Dir, 'reference-elder-params.safetensors'));
  mixture.loadValues(new Map([...params.entries.keys()].map((name) => [name, params.read(name)])), 'reference-elder-params');
  params.close();
  const core = new ElderCore(model, config, mixture);

  const steps = reference.ids[0].length;
  const tokens = { ids: Int32Array.from(reference.ids.flat()), batch: reference.ids.length, steps };
  const mask = Float32Array.from(reference.target_mask.flat());
  const queryRows = Int32Array.from(reference.target_mask.map((row, b) => b * steps + row.indexOf(1) - 1));
  const prepared: PreparedBatch = { tokens, mask, targets: targetRows(tokens, mask), queryRows };
  const prefix = frozenPass(core, tokens, queryRows, new Map());
  const presets = reference.edit_layers_c_fc.map((layer) => Int32Array.from(reference.preset_allocation[String(layer)].flat()));
  const losses = core.batchLosses(prepared, prefix, presets, false);

  reference.edit_layers_c_fc.forEach((layer, i) => {
    assert.deepEqual(Array.from(losses.routing.selection[i]), reference.topk_indices[String(layer)].flat(), `top-k experts of layer ${layer}`);
  });
  const close = (actual: number, expected: number, what: string) =>
    assert.ok(Math.abs(actual - expected) <= 1e-5 * Math.abs(expected), `${what}: ${actual} vs ${expected}`);
  close(losses.modelLoss.item(), reference.model_loss, 'model loss');
  close(losses.routingLoss.item(), reference.guided_loss, 'guided loss');
  close(losses.total.item(), reference.total_loss, 'total loss');

  backward(losses.total);
  const grads = SafetensorsFile.open(path.join(tinyGpt2Dir, 'reference-elder-grads.safetensors'));
  const named = mixture.namedParameters();
  assert.equal(grads.entries.size, named.size);
  for (const [name, tensor] of named) {
    const expected = grads.read(name).data;
    const actual = tensor.grad ?? new Float32Array(tensor.size);
    const allZero = expected.every((v) => v === 0);
    if (allZero)
      assert.ok(
        actual.every((v) => v === 0),
        `${name}: expected zero gradient`,
      );
    else assert.ok(maxRelativeToScale(actual, expected) < 1e-4, `${name}: ${maxRelativeToScale(actual, expected)}`);
  }
  grads.close();
});
