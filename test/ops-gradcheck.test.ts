import assert from 'node:assert/strict';
import { test } from 'node:test';
import { availableKernels, useKernels } from '../src/tensor/backends/index.js';
import {
  add,
  addToRows,
  attention,
  crossEntropy,
  embedding,
  gelu,
  KVCache,
  layerNorm,
  linear,
  linearCrossEntropy,
  masked,
  meanOf,
  RopeTable,
  relu,
  rmsNorm,
  rope,
  routedLora,
  rowL2Norms,
  rowWeightedSquares,
  scale,
  selectRows,
  softCrossEntropy,
  softmax,
  splitColumns,
  swiglu,
} from '../src/tensor/index.js';
import { backward, noGrad, Tensor } from '../src/tensor/tensor.js';
import { Random } from '../src/util/random.js';
import { gradCheck, maxAbsDiff, randomTensor } from './helpers.js';

const rng = new Random(1234);
const input = (shape: number[], std = 1) => randomTensor(shape, rng, std, true);

test('linear (both weight layouts) matches finite differences for x, W and b', () => {
  const x = input([2, 3, 5]);
  for (const layout of ['in_out', 'out_in'] as const) {
    const w = input(layout === 'in_out' ? [5, 4] : [4, 5]);
    const b = input([4]);
    assert.ok(gradCheck(([a, c, d]) => linear(a, c, d, layout), [x, w, b]) <= 1, layout);
  }
});

test('embedding scatter-adds repeated ids', () => {
  const table = input([6, 4]);
  const ids = Int32Array.from([1, 3, 1, 5]);
  assert.ok(gradCheck(([t]) => embedding(t, ids, [2, 2]), [table]) <= 1);
  table.grad = null;
  const out = embedding(table, ids, [4]);
  backward(out, new Float32Array(16).fill(1));
  assert.deepEqual(Array.from(table.grad!.subarray(4, 8)), [2, 2, 2, 2]); // id 1 used twice
  assert.deepEqual(Array.from(table.grad!.subarray(0, 4)), [0, 0, 0, 0]);
});

test('relu and meanOf (the auxiliary losses) match finite differences', () => {
  const x = input([3, 5], 2);
  // Keep points away from relu's kink, where finite differences straddle it.
  for (let i = 0; i < x.size; i++) if (Math.abs(x.data[i]) < 0.05) x.data[i] = 0.5;
  assert.ok(gradCheck(([a]) => relu(a), [x]) <= 1);
  assert.ok(
    gradCheck(
      ([a]) =>
        meanOf(
          a,
          (z) => Math.exp(-z),
          (z) => -Math.exp(-z),
        ),
      [x],
    ) <= 1,
  );
  const silent = noGrad(() => relu(Tensor.from([-1, -0.5, 0, 2], [4])));
  assert.deepEqual(Array.from(silent.data), [0, 0, 0, 2]);
  assert.equal(noGrad(() => meanOf(Tensor.zeros([0]), Math.exp, Math.exp)).data[0], 0);
});

test('add and scale', () => {
  const a = input([3, 4]);
  const b = input([3, 4]);
  assert.ok(gradCheck(([p, q]) => add(p, q), [a, b]) <= 1);
  assert.ok(gradCheck(([p]) => scale(p, -1.7), [a]) <= 1);
});

test('layerNorm and rmsNorm gradients for input and parameters', () => {
  const x = input([4, 8], 2);
  const gamma = input([8]);
  const beta = input([8]);
  assert.ok(gradCheck(([a, g, c]) => layerNorm(a, g, c, 1e-5), [x, gamma, beta]) <= 1);
  assert.ok(gradCheck(([a, g]) => rmsNorm(a, g, 1e-6), [x, gamma]) <= 1);
});

test('gelu, swiglu and softmax', () => {
  const x = input([3, 7], 2);
  const up = input([3, 7]);
  assert.ok(gradCheck(([a]) => gelu(a), [x]) <= 1);
  assert.ok(gradCheck(([a, b]) => swiglu(a, b), [x, up]) <= 1);
  assert.ok(gradCheck(([a]) => softmax(a), [x]) <= 1);
});

test('causal attention with grouped-query heads', () => {
  const shape = { heads: 4, kvHeads: 2, headDim: 3 };
  const q = input([2, 5, 12]);
  const k = input([2, 5, 6]);
  const v = input([2, 5, 6]);
  assert.ok(gradCheck(([a, b, c]) => attention(a, b, c, shape), [q, k, v], { samples: 40 }) <= 1);
});

test('attention is causal: changing a later key leaves earlier outputs unchanged', () => {
  const shape = { heads: 2, kvHeads: 2, headDim: 4 };
  const q = randomTensor([1, 4, 8], rng);
  const k = randomTensor([1, 4, 8], rng);
  const v = randomTensor([1, 4, 8], rng);
  const before = attention(q, k, v, shape).data.slice();
  k.data[3 * 8 + 1] += 5;
  v.data[3 * 8 + 2] += 5;
  const after = attention(q, k, v, shape).data;
  assert.deepEqual(Array.from(after.subarray(0, 3 * 8)), Array.from(before.subarray(0, 3 * 8)));
  assert.notDeepEqual(Array.from(after.subarray(3 * 8)), Array.from(before.subarray(3 * 8)));
});

test('attention through a KV cache, one step at a time, equals full attention', () => {
  const shape = { heads: 4, kvHeads: 2, headDim: 3 };
  const steps = 5;
  const q = randomTensor([2, steps, 12], rng);
  const k = randomTensor([2, steps, 6], rng);
  const v = randomTensor([2, steps, 6], rng);
  const full = attention(q, k, v, shape);
  const cache = new KVCache(2, 8, 6);
  const slice = (t: Tensor, s: number, width: number) => {
    const out = Tensor.zeros([2, 1, width]);
    for (let b = 0; b < 2; b++) out.data.set(t.data.subarray((b * steps + s) * width, (b * steps + s + 1) * width), b * width);
    return out;
  };
  noGrad(() => {
    for (let s = 0; s < steps; s++) {
      const out = attention(slice(q, s, 12), slice(k, s, 6), slice(v, s, 6), shape, cache);
      for (let b = 0; b < 2; b++) {
        for (let c = 0; c < 12; c++) {
          assert.ok(Math.abs(out.data[b * 12 + c] - full.data[(b * steps + s) * 12 + c]) < 1e-5);
        }
      }
    }
  });
  assert.equal(cache.length, steps);
});

test('rope: gradient, norm preservation and a known answer', () => {
  const table = new RopeTable(4, 10000, 16);
  const x = input([2, 3, 8]);
  assert.ok(gradCheck(([a]) => rope(a, table, 2, 5), [x]) <= 1);

  // Position p turns the pair (x_i, x_{i+d/2}) by p·θ_i with θ_0 = 1 and θ_1 = 10000^(-1/2) = 0.01.
  const unit = Tensor.from([1, 0, 0, 1], [1, 1, 4]);
  const rotated = rope(unit, table, 1, 3).data;
  // Pairs are (x0, x2) = (1, 0) turned by 3 rad and (x1, x3) = (0, 1) turned by 0.03 rad.
  const expected = [Math.cos(3), -Math.sin(0.03), Math.sin(3), Math.cos(0.03)];
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(rotated[i] - expected[i]) < 1e-6, `element ${i}: ${rotated[i]} vs ${expected[i]}`);

  const norm = (a: ArrayLike<number>) => Math.hypot(...Array.from(a));
  const y = rope(x, table, 2, 1);
  assert.ok(Math.abs(norm(y.data) - norm(x.data)) < 1e-4);
});

test('crossEntropy: gradient and value against a direct computation', () => {
  const logits = input([3, 6], 2);
  const targets = Int32Array.from([0, 5, 2]);
  assert.ok(gradCheck(([a]) => crossEntropy(a, targets).loss, [logits]) <= 1);
  const { loss } = crossEntropy(logits, targets);
  let expected = 0;
  for (let r = 0; r < 3; r++) {
    const row = Array.from(logits.data.subarray(r * 6, r * 6 + 6));
    const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
    expected += lse - row[targets[r]];
  }
  assert.ok(Math.abs(loss.item() - expected / 3) < 1e-5);
});

test('linearCrossEntropy: loss, argmax and row gradients equal the LM head followed by crossEntropy, on every backend', () => {
  // 1,000 words: several chunks of the kernel's 256, the last one partial.
  const head = randomTensor([1000, 24], rng, 0.5);
  const targets = Int32Array.from([0, 999, 256, 511, 17]);
  for (const backend of availableKernels()) {
    const previous = useKernels(backend);
    try {
      const rows = input([5, 24]);
      const fused = linearCrossEntropy(rows, head, targets);
      backward(fused.loss);
      const fusedGrad = rows.grad!.slice();
      rows.grad = null;
      const logits = linear(rows, head, null, 'out_in');
      const plain = crossEntropy(logits, targets);
      backward(plain.loss);
      assert.ok(Math.abs(fused.loss.item() - plain.loss.item()) < 1e-5 * Math.abs(plain.loss.item()), backend.name);
      assert.ok(maxAbsDiff(fused.rowLosses, plain.rowLosses) < 1e-4, backend.name);
      assert.ok(maxAbsDiff(fusedGrad, rows.grad!) < 1e-5, backend.name);
      const argmaxes = Array.from({ length: 5 }, (_, r) => {
        const row = Array.from(logits.data.subarray(r * 1000, (r + 1) * 1000));
        return row.indexOf(Math.max(...row));
      });
      assert.deepEqual(Array.from(fused.predictions), argmaxes, backend.name);
    } finally {
      useKernels(previous);
    }
  }
});

test('linearCrossEntropy: gradient against finite differences; ties go to the first word; a trained head and NaN are not hidden', () => {
  const head = randomTensor([300, 6], rng, 1);
  assert.ok(gradCheck(([a]) => linearCrossEntropy(a, head, Int32Array.from([3, 290])).loss, [input([2, 6])]) <= 1);
  // Two identical words, the second in a later chunk: the earlier one is the argmax.
  const tied = new Tensor(new Float32Array(300 * 6), [300, 6]);
  tied.data.fill(1, 40 * 6, 41 * 6);
  tied.data.fill(1, 280 * 6, 281 * 6);
  assert.deepEqual(Array.from(linearCrossEntropy(Tensor.from([1, 1, 1, 1, 1, 1], [1, 6]), tied, Int32Array.from([0])).predictions), [40]);
  assert.throws(() => linearCrossEntropy(input([1, 6]), randomTensor([300, 6], rng, 1, true), Int32Array.from([0])), /requires a gradient/);
  assert.throws(() => linearCrossEntropy(input([1, 5]), head, Int32Array.from([0])), /does not take rows of width 5/);
  assert.throws(() => linearCrossEntropy(input([1, 6]), head, Int32Array.from([300])), /outside the vocabulary/);
  const poisoned = input([1, 6]);
  poisoned.data[2] = NaN;
  assert.ok(Number.isNaN(linearCrossEntropy(poisoned, head, Int32Array.from([0])).loss.item()));
});

test('softCrossEntropy: KL(p‖softmax(z)) in value, and its gradient against finite differences', () => {
  const logits = input([2, 5], 2);
  const probs = new Float32Array(10);
  for (let r = 0; r < 2; r++) {
    const raw = Array.from({ length: 5 }, () => Math.exp(rng.normal()));
    const total = raw.reduce((a, b) => a + b, 0);
    raw.forEach((v, c) => {
      probs[r * 5 + c] = v / total;
    });
  }
  assert.ok(gradCheck(([a]) => softCrossEntropy(a, probs), [logits]) <= 1);
  let expected = 0;
  for (let r = 0; r < 2; r++) {
    const row = Array.from(logits.data.subarray(r * 5, r * 5 + 5));
    const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
    for (let c = 0; c < 5; c++) expected += probs[r * 5 + c] * (Math.log(probs[r * 5 + c]) - (row[c] - lse));
  }
  assert.ok(Math.abs(softCrossEntropy(logits, probs).item() - expected / 2) < 1e-5);
  // Against itself, the divergence is zero.
  const same = new Float32Array(10);
  for (let r = 0; r < 2; r++) {
    const row = Array.from(logits.data.subarray(r * 5, r * 5 + 5));
    const total = row.reduce((s, v) => s + Math.exp(v), 0);
    row.forEach((v, c) => {
      same[r * 5 + c] = Math.exp(v) / total;
    });
  }
  assert.ok(Math.abs(softCrossEntropy(logits, same).item()) < 1e-5);
});

test('rowWeightedSquares: Σ w_r‖x_r‖², and its gradient against finite differences', () => {
  const x = input([3, 4]);
  const weights = [0.5, 2, 1];
  assert.ok(gradCheck(([a]) => rowWeightedSquares(a, weights), [x]) <= 1);
  let expected = 0;
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) expected += weights[r] * x.data[r * 4 + c] ** 2;
  assert.ok(Math.abs(rowWeightedSquares(x, weights).item() - expected) < 1e-4);
});

test('addToRows adds value rows at chosen rows, and routes gradients to both', () => {
  const x = input([2, 3, 4]);
  const values = input([2, 4]);
  const rows = Int32Array.from([1, 4, 5]);
  const which = Int32Array.from([0, 1, 1]);
  assert.ok(gradCheck(([a, v]) => addToRows(a, rows, v, which), [x, values]) <= 1);
  const out = addToRows(x, rows, values, which);
  assert.ok(Math.abs(out.data[4 * 4 + 2] - (x.data[4 * 4 + 2] + values.data[4 + 2])) < 1e-6);
  assert.equal(out.data[0], x.data[0]);
  assert.throws(() => addToRows(x, Int32Array.from([6]), values, Int32Array.from([0])), /row 6 outside/);
});

test('selectRows, splitColumns and reshape route gradients back', () => {
  const x = input([2, 3, 6]);
  assert.ok(gradCheck(([a]) => selectRows(a, [5, 0, 5]), [x]) <= 1);
  assert.ok(gradCheck(([a]) => splitColumns(a, [2, 4])[1], [x]) <= 1);
  assert.ok(gradCheck(([a]) => gelu(a.reshape([6, 6])), [x]) <= 1);
});

test('a composed block (norm → linear → gelu → residual) matches finite differences', () => {
  const x = input([2, 4, 6]);
  const gamma = input([6]);
  const beta = input([6]);
  const w1 = input([6, 10], 0.5);
  const w2 = input([6, 10], 0.5);
  const f = ([a, g, c, p, q]: Tensor[]) => add(a, linear(gelu(linear(layerNorm(a, g, c, 1e-5), p, null, 'in_out')), q, null, 'out_in'));
  assert.ok(gradCheck(f, [x, gamma, beta, w1, w2], { samples: 30 }) <= 1);
});

test('no gradient is recorded for frozen inputs or under noGrad', () => {
  const frozen = randomTensor([2, 3], rng);
  assert.equal(gelu(frozen).gradNode, null);
  const live = input([2, 3]);
  assert.equal(noGrad(() => gelu(live)).gradNode, null);
  assert.notEqual(gelu(live).gradNode, null);
});

test('routedLora: gradients for input, selected gates and every expert; unselected experts get none', () => {
  const experts = Array.from({ length: 3 }, () => ({ A: input([5, 2]), B: input([2, 4]) }));
  const v = input([2, 3, 5]);
  const gates = input([2, 3]);
  const selection = Int32Array.from([0, 2, 2, 0]); // sequence 0: experts 0, 2; sequence 1: experts 2, 0
  const f = ([x, g, ...params]: Tensor[]) =>
    routedLora(
      x,
      [0, 1, 2].map((i) => ({ A: params[2 * i], B: params[2 * i + 1] })),
      g,
      selection,
      2,
      1.5,
    );
  const params = experts.flatMap(({ A, B }) => [A, B]);
  assert.ok(gradCheck(f, [v, gates, ...params], { samples: 30 }) <= 1);
  assert.ok(experts[1].A.grad === null || experts[1].A.grad.every((x) => x === 0));
  assert.equal(gates.grad![1], 0); // expert 1 of sequence 0 was not selected
  // Without a gradient the sequences' experts are computed one by one: the same output.
  const trained = f([v, gates, ...params]).data;
  const served = noGrad(() => f([v, gates, ...params])).data;
  assert.ok(maxAbsDiff(served, trained) < 1e-5);
  // An expert no sequence chose changes nothing on either path.
  experts[1].B.data.fill(100);
  assert.ok(maxAbsDiff(f([v, gates, ...params]).data, trained) < 1e-5);
  assert.ok(maxAbsDiff(noGrad(() => f([v, gates, ...params])).data, trained) < 1e-5);
});

test("rowL2Norms: each row's norm, its gradient against finite differences, and 0 at a zero row", () => {
  const x = input([3, 5]);
  assert.ok(gradCheck(([a]) => rowL2Norms(a), [x]) <= 1);
  const norms = rowL2Norms(x).data;
  for (let r = 0; r < 3; r++) assert.ok(Math.abs(norms[r] - Math.hypot(...x.data.subarray(r * 5, r * 5 + 5))) < 1e-5);
  const zero = Tensor.zeros([1, 4], true);
  backward(rowL2Norms(zero), new Float32Array([1]));
  assert.deepEqual(Array.from(zero.grad!), [0, 0, 0, 0]);
});

test('masked zeroes the dropped entries and passes no gradient to them', () => {
  const x = input([2, 3]);
  const keep = Uint8Array.from([1, 0, 1, 1, 0, 0]);
  assert.ok(gradCheck(([a]) => masked(a, keep), [x]) <= 1);
  const out = masked(x, keep);
  assert.deepEqual(
    Array.from(out.data),
    Array.from(x.data, (v, i) => (keep[i] ? v : 0)),
  );
  x.grad = null;
  backward(out, new Float32Array(6).fill(1));
  assert.deepEqual(Array.from(x.grad!), [1, 0, 1, 1, 0, 0]);
  assert.throws(() => masked(x, new Uint8Array(5)), /mask of 5/);
});
