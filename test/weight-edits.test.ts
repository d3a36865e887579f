import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BaseWeightEdits } from '../src/editors/common/weight-edits.js';
import { loadModel } from '../src/models/load.js';
import { linear } from '../src/tensor/ops/matmul.js';
import { Tensor } from '../src/tensor/tensor.js';
import { ShapeError } from '../src/util/errors.js';
import { Random } from '../src/util/random.js';
import { hasShared, tinyGpt2Dir, tinyLlamaDir } from './helpers.js';

const random = (shape: number[], rng: Random) =>
  Tensor.from(
    Float32Array.from({ length: shape[0] * shape[1] }, () => rng.uniform() - 0.5),
    shape,
  );

for (const [label, dir, site, layout] of [
  ['GPT-2 (weights stored [in, out])', tinyGpt2Dir, 'mlp.c_fc', 'in_out'],
  ['LLaMA (weights stored [out, in])', tinyLlamaDir, 'mlp.down_proj', 'out_in'],
] as const) {
  test(`base-weight edits on ${label}: the linear computes W x + ΔW x, and restore puts every weight back bit for bit`, { skip: !hasShared }, () => {
    const { model } = loadModel(dir);
    const name = model.linearName(1, site);
    const weight = model.parameters.get(`${name}.weight`)!;
    const original = weight.data.slice();
    const [inDim, outDim] = layout === 'in_out' ? weight.shape : [weight.shape[1], weight.shape[0]];
    const rng = new Random(7);
    const x = random([3, inDim], rng);
    const before = linear(x, weight, null, layout).data.slice();
    const delta = random([inDim, outDim], rng);
    const edits = new BaseWeightEdits(model);
    edits.addToLinear(name, delta);
    edits.addToLinear(name, delta);
    assert.deepEqual(edits.written, [`${name}.weight`]);
    const after = linear(x, weight, null, layout).data;
    const added = linear(x, delta, null, 'in_out').data;
    for (let i = 0; i < after.length; i++) assert.ok(Math.abs(after[i] - (before[i] + 2 * added[i])) < 1e-4, `row value ${i}`);
    assert.throws(() => edits.addToLinear(name, random([outDim, inDim + 1], rng)), ShapeError);
    edits.restore();
    assert.deepEqual(weight.data, original);
    assert.deepEqual(edits.written, []);
  });
}
