import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { availableKernels, backendInfo, jsKernels, type Kernels } from '../src/tensor/backends/index.js';
import { Random } from '../src/util/random.js';
import { maxAbsDiff } from './helpers.js';

const rng = new Random(99);
const rand = (n: number, std = 1) => Float32Array.from({ length: n }, () => rng.normal() * std);
const backends = availableKernels().filter((k) => k !== jsKernels);

/** Runs `f` writing into a fresh output on the TypeScript reference and on `kernels`; returns the largest difference. */
function againstReference(kernels: Kernels, f: (k: Kernels, out: Float32Array) => void, size: number): number {
  const expected = new Float32Array(size);
  const actual = new Float32Array(size);
  f(jsKernels, expected);
  f(kernels, actual);
  return maxAbsDiff(actual, expected);
}

test('the native addon is built and loads', () => {
  assert.ok(backends.length >= 1, 'no native backend: the addon failed to build or load');
});

// npm's preinstall step installs Debian's OpenBLAS when it may, so that a fresh machine's
// `npm install` builds the fast sgemm; it never prompts and never fails the install.
test('the install step installs OpenBLAS only where it may, and says how otherwise', () => {
  const { plan } = createRequire(import.meta.url)('../../native/ensure-openblas.cjs') as {
    plan: (facts: { env: Record<string, string>; platform: string; hasOpenblas: boolean; hasApt: boolean; isRoot: boolean; hasSudo: boolean }) => string;
  };
  const fresh = { env: {}, platform: 'linux', hasOpenblas: false, hasApt: true, isRoot: true, hasSudo: false };
  assert.equal(plan(fresh), 'apt');
  assert.equal(plan({ ...fresh, isRoot: false, hasSudo: true }), 'sudo');
  assert.equal(plan({ ...fresh, isRoot: false }), 'advise');
  assert.equal(plan({ ...fresh, hasOpenblas: true }), 'skip');
  assert.equal(plan({ ...fresh, hasApt: false }), 'skip');
  assert.equal(plan({ ...fresh, platform: 'darwin' }), 'skip');
  assert.equal(plan({ ...fresh, env: { ELDER_NO_APT: '1' } }), 'skip');
  assert.equal(plan({ ...fresh, env: { ELDER_NO_OPENBLAS: '1' } }), 'skip');
});

// The element kernels are compiled per x86-64 level and GCC's loader picks one. Clones named
// after one CPU ("arch=haswell") were never picked on AMD CPUs, which silently ran the SSE2
// baseline; this holds the loader to what the CPU supports.
test('the native kernels run the widest SIMD version this CPU supports', (t) => {
  const simd = backendInfo().simd;
  if (process.arch !== 'x64' || process.platform !== 'linux' || simd === null || simd.startsWith('compiler default')) {
    t.skip('not an x86-64 Linux build with clones');
    return;
  }
  const flags = new Set(
    readFileSync('/proc/cpuinfo', 'utf8')
      .match(/^flags\s*:(.*)$/m)?.[1]
      .trim()
      .split(/\s+/) ?? [],
  );
  const has = (...names: string[]) => names.every((name) => flags.has(name));
  // x86-64-v3 as GCC checks it (AVX, AVX2, BMI1/2, F16C, FMA, LZCNT, MOVBE, XSAVE), but for LZCNT,
  // which some virtual machines leave out of cpuinfo's flags while CPUID has it.
  const v3 = has('avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'movbe', 'xsave');
  const v4 = v3 && has('avx512f', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512vl');
  const expected = v4 ? 'x86-64-v4' : v3 ? 'x86-64-v3' : 'x86-64 baseline';
  assert.ok(simd.startsWith(expected), `kernels run "${simd}" on a CPU that has ${expected}'s instructions`);
});

for (const kernels of backends) {
  test(`${kernels.name}: sgemm matches the reference for every transpose, offsets and leading dimensions`, () => {
    for (const [transA, transB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      for (const [M, N, K] of [
        [1, 1, 1],
        [5, 7, 3],
        [33, 65, 17],
        [80, 96, 70],
      ]) {
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
    assert.throws(
      () => kernels.sgemm(false, false, 4, 4, 4, 1, new Float32Array(15), 0, 4, new Float32Array(16), 0, 4, 0, new Float32Array(16), 0, 4),
      /needs 16 elements/,
    );
    assert.throws(
      () => kernels.sgemm(false, false, 4, 4, 4, 1, new Float32Array(16), 1, 4, new Float32Array(16), 0, 4, 0, new Float32Array(16), 0, 4),
      /needs 17 elements/,
    );
  });

  test(`${kernels.name}: elementwise and row kernels match the TypeScript reference`, () => {
    const rows = 6;
    const cols = 37;
    const n = rows * cols;
    const x = rand(n, 2);
    const dy = rand(n);
    const gamma = rand(cols);
    const beta = rand(cols);
    const pair = (f: (k: Kernels, out: Float32Array) => void, size = n) => againstReference(kernels, f, size);
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
      assert.ok(
        pair((k, y) => {
          y.set(x);
          k.softmaxRows(y, 2, 3, cols, offset);
        }) < 1e-6,
        `softmax offset ${offset}`,
      );
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

for (const kernels of backends) {
  test(`${kernels.name}: threaded kernels split large inputs without changing results`, () => {
    const previous = kernels.getThreads();
    kernels.setThreads(2);
    try {
      // Above the 16,384-element chunk so that the work really is split across tasks, and
      // above parallelFor's threshold for a second thread even for the cheapest kernels
      // (sumSquares and scaleInPlace: 2 units per element against 1e6 units).
      const rows = 40;
      const cols = 15000;
      const n = rows * cols;
      const x = rand(n, 2);
      const dy = rand(n);
      const run = (f: (k: Kernels, out: Float32Array) => void, size = n) => againstReference(kernels, f, size);
      assert.ok(run((k, y) => k.geluForward(x, y, n)) < 1e-5);
      assert.ok(run((k, dx) => k.geluBackward(x, dy, dx, n)) < 1e-5);
      assert.ok(run((k, y) => k.siluMulForward(x, dy, y, n)) < 1e-5);
      assert.ok(
        run((k, y) => {
          y.set(x);
          k.softmaxRows(y, 4, 10, cols, -1);
        }) < 1e-6,
      );
      assert.ok(
        run((k, y) => {
          y.set(x);
          k.softmaxRows(y, 4, 10, cols, 2);
        }) < 1e-6,
      );
      const targets = Int32Array.from({ length: rows }, (_, i) => (i * 31) % cols);
      const lse = new Float32Array(rows);
      assert.ok(run((k, losses) => k.crossEntropyForward(x, targets, losses, lse, rows, cols), rows) < 1e-3);
      const scales = rand(rows);
      assert.ok(run((k, d) => k.crossEntropyBackward(x, targets, lse, scales, d, rows, cols)) < 1e-5);
      assert.ok(Math.abs(kernels.sumSquares(x, n) - jsKernels.sumSquares(x, n)) < 1e-6 * jsKernels.sumSquares(x, n));
      // The norm must not depend on the thread count: gradient clipping would make training irreproducible.
      kernels.setThreads(1);
      const serial = kernels.sumSquares(x, n);
      kernels.setThreads(2);
      assert.equal(kernels.sumSquares(x, n), serial);
      assert.ok(
        run((k, y) => {
          y.set(x);
          k.scaleInPlace(y, n, 0.37);
        }) < 1e-6,
      );
      assert.ok(
        run((k, sums) => {
          sums.set(x.subarray(0, cols));
          k.addColumnSums(x, rows, cols, sums);
        }, cols) < 1e-4,
      );
    } finally {
      kernels.setThreads(previous);
    }
  });

  test(`${kernels.name}: attention forward and backward match the reference (GQA, strided views, a cache)`, () => {
    for (const threads of [1, 2]) {
      const previous = kernels.getThreads();
      kernels.setThreads(threads);
      try {
        const [batch, heads, kvHeads, steps, headDim] = [3, 4, 2, 9, 8];
        const dims = { batch, heads, kvHeads, steps, headDim, scale: 1 / Math.sqrt(headDim) };
        const qWidth = heads * headDim;
        const kvWidth = kvHeads * headDim;
        // q, k and v as column ranges of one fused buffer, with a leading offset, as GPT-2's c_attn lays them out.
        const ld = qWidth + 2 * kvWidth + 3;
        const qkv = rand(5 + batch * steps * ld);
        const at = (data: Float32Array, column: number) => ({ data, offset: 5 + column, ld });
        const dOut = rand(batch * steps * qWidth);
        const results = [jsKernels, kernels].map((k) => {
          const out = new Float32Array(batch * steps * qWidth);
          const probs = new Float32Array(batch * heads * steps * steps);
          k.attentionForward(dims, at(qkv, 0), at(qkv, qWidth), at(qkv, qWidth + kvWidth), { data: out, offset: 0, ld: qWidth }, probs, 0, steps);
          const grad = rand(qkv.length, 0.1);
          const before = grad.slice();
          k.attentionBackward(
            dims,
            at(qkv, 0),
            at(qkv, qWidth),
            at(qkv, qWidth + kvWidth),
            probs,
            { data: dOut, offset: 0, ld: qWidth },
            at(grad, 0),
            at(grad, qWidth),
            at(grad, qWidth + kvWidth),
          );
          return { out, probs, grad, before };
        });
        const [ref, got] = results;
        assert.ok(maxAbsDiff(got.out, ref.out) < 1e-5, `threads ${threads}: output`);
        assert.ok(maxAbsDiff(got.probs, ref.probs) < 1e-6, `threads ${threads}: probabilities`);
        // Gradients are added to what the buffers held (the backward accumulates), and the padding column is untouched.
        assert.ok(
          maxAbsDiff(
            got.grad.map((g, i) => g - got.before[i]),
            ref.grad.map((g, i) => g - ref.before[i]),
          ) < 1e-4,
          `threads ${threads}: gradients`,
        );
        assert.equal(got.grad[5 + ld - 1], got.before[5 + ld - 1]);
        // Causal: the first query of every head sees only the first key.
        for (let bh = 0; bh < batch * heads; bh++) assert.equal(got.probs[bh * steps * steps + 1], 0);

        // With a cache: 4 past positions, room for 16, the new queries after them.
        const capacity = 16;
        const past = 4;
        const keys = rand(batch * capacity * kvWidth);
        const values = rand(batch * capacity * kvWidth);
        const q = rand(batch * 2 * qWidth);
        const cached = [jsKernels, kernels].map((k) => {
          const out = new Float32Array(batch * 2 * qWidth);
          const probs = new Float32Array(batch * heads * 2 * (past + 2));
          k.attentionForward(
            { ...dims, steps: 2 },
            { data: q, offset: 0, ld: qWidth },
            { data: keys, offset: 0, ld: kvWidth },
            { data: values, offset: 0, ld: kvWidth },
            { data: out, offset: 0, ld: qWidth },
            probs,
            past,
            capacity,
          );
          return out;
        });
        assert.ok(maxAbsDiff(cached[1], cached[0]) < 1e-5, `threads ${threads}: cached attention`);
      } finally {
        kernels.setThreads(previous);
      }
    }
  });

  test(`${kernels.name}: attention refuses views too small or a cache overrun`, () => {
    const dims = { batch: 1, heads: 2, kvHeads: 1, steps: 4, headDim: 4, scale: 0.5 };
    const view = (n: number, ld: number) => ({ data: new Float32Array(n), offset: 0, ld });
    assert.throws(() => kernels.attentionForward(dims, view(31, 8), view(16, 4), view(16, 4), view(32, 8), new Float32Array(32), 0, 4), /needs 32 elements/);
    assert.throws(() => kernels.attentionForward(dims, view(32, 8), view(16, 4), view(16, 4), view(32, 8), new Float32Array(32), 1, 4), /exceeds/);
  });
}
