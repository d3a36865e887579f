import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableKernels, jsKernels } from '../src/tensor/backends/index.js';
import { Random } from '../src/util/random.js';
import { maxAbsDiff } from './helpers.js';

const rng = new Random(99);
const rand = (n: number, std = 1) => Float32Array.from({ length: n }, () => rng.normal() * std);
const backends = availableKernels().filter((k) => k !== jsKernels);

test('the native addon is built and loads', () => {
  assert.ok(backends.length >= 1, 'no native backend: the addon failed to build or load');
});

for (const kernels of backends) {
  test(`${kernels.name}: sgemm matches the reference for every transpose, offsets and leading dimensions`, () => {
    for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      for (const [M, N, K] of [[1, 1, 1], [5, 7, 3], [33, 65, 17], [80, 96, 70]]) {
        const lda = (transA ? M : K) + 3;
        const ldb = (transB ? K : N) + 2;
        const ldc = N + 1;
        const A = rand(5 + (transA ? K : M) * lda);
        const B = rand(4 + (transB ? N : K) * ldb);
        const C0 = rand(2 + M * ldc);
        const expected = C0.slice();
        const actual = C0.slice();
        jsKernels.sgemm(transA, transB, M, N, K, 0.7, A, 5, lda, B, 4, ldb, 0.3, expected, 2, ldc);
        kernels.sgemm(transA, transB, M, N, K, 0.7, A, 5, lda, B, 4, ldb, 0.3, actual, 2, ldc);
        assert.ok(maxAbsDiff(actual, expected) < 1e-4, `${transA} ${transB} ${M}x${N}x${K}`);
        assert.equal(actual[0], C0[0]); // before the C offset: untouched
      }
    }
  });

  test(`${kernels.name}: sgemm refuses arrays too small for the stated shape`, () => {
    assert.throws(() => kernels.sgemm(false, false, 4, 4, 4, 1, new Float32Array(15), 0, 4, new Float32Array(16), 0, 4, 0, new Float32Array(16), 0, 4), /needs 16 elements/);
    assert.throws(() => kernels.sgemm(false, false, 4, 4, 4, 1, new Float32Array(16), 1, 4, new Float32Array(16), 0, 4, 0, new Float32Array(16), 0, 4), /needs 17 elements/);
  });

  test(`${kernels.name}: elementwise and row kernels match the TypeScript reference`, () => {
    const rows = 6;
    const cols = 37;
    const n = rows * cols;
    const x = rand(n, 2);
    const dy = rand(n);
    const gamma = rand(cols);
    const beta = rand(cols);
    const pair = (f: (k: typeof kernels, out: Float32Array) => void, size = n) => {
      const a = new Float32Array(size);
      const b = new Float32Array(size);
      f(jsKernels, a);
      f(kernels, b);
      return maxAbsDiff(b, a);
    };
    assert.ok(pair((k, y) => k.geluForward(x, y, n)) < 1e-5);
    assert.ok(pair((k, dx) => k.geluBackward(x, dy, dx, n)) < 1e-5);
    assert.ok(pair((k, y) => k.siluMulForward(x, dy, y, n)) < 1e-5);
    assert.ok(pair((k, y) => k.layerNormForward(x, gamma, beta, y, new Float32Array(rows), new Float32Array(rows), rows, cols, 1e-5)) < 1e-4);
    assert.ok(pair((k, y) => k.rmsNormForward(x, gamma, y, new Float32Array(rows), rows, cols, 1e-6)) < 1e-4);

    const mean = new Float32Array(rows);
    const rstd = new Float32Array(rows);
    jsKernels.layerNormForward(x, gamma, beta, new Float32Array(n), mean, rstd, rows, cols, 1e-5);
    assert.ok(pair((k, dx) => k.layerNormBackward(x, gamma, mean, rstd, dy, dx, null, null, rows, cols)) < 1e-4);
    assert.ok(pair((k, dg) => k.layerNormBackward(x, gamma, mean, rstd, dy, null, dg, null, rows, cols), cols) < 1e-3);
    jsKernels.rmsNormForward(x, gamma, new Float32Array(n), rstd, rows, cols, 1e-6);
    assert.ok(pair((k, dx) => k.rmsNormBackward(x, gamma, rstd, dy, dx, null, rows, cols)) < 1e-4);

    for (const offset of [-1, 0, 3]) {
      assert.ok(pair((k, y) => { y.set(x); k.softmaxRows(y, 2, 3, cols, offset); }) < 1e-6, `softmax offset ${offset}`);
    }
    const targets = Int32Array.from({ length: rows }, (_, i) => (i * 7) % cols);
    const lse = new Float32Array(rows);
    assert.ok(pair((k, losses) => k.crossEntropyForward(x, targets, losses, lse, rows, cols), rows) < 1e-4);
    const scales = rand(rows);
    assert.ok(pair((k, d) => k.crossEntropyBackward(x, targets, lse, scales, d, rows, cols)) < 1e-5);

    const param = rand(n);
    const states = [jsKernels, kernels].map((k) => {
      const p = param.slice();
      const m = new Float32Array(n);
      const v = new Float32Array(n);
      for (let step = 1; step <= 3; step++) k.adamStep(p, dy, m, v, n, 1e-2, 0.9, 0.999, 1e-8, 0.01, step);
      return p;
    });
    assert.ok(maxAbsDiff(states[1], states[0]) < 1e-5);
  });
}
