import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tiesMerge } from '../src/editors/common/ties.js';

test('TIES: trims each delta to its largest entries, elects the sign of the sum, and averages the agreeing entries', () => {
  const a = Float32Array.from([4, -1, 0, 2, 0.5, 0]);
  const b = Float32Array.from([2, 3, 0, -6, 0, 0]);
  const c = Float32Array.from([0, 1, -2, 4, 0, 0]);
  // density 2/3: a keeps 4, 2, −1 (drops 0.5); b keeps 3, −6 (of 3 nonzero: ceil(2) = 2); c keeps 4, −2.
  const merged = tiesMerge([a, b, c], 2 / 3);
  // entry 0: a 4 (b's 2 trimmed) → 4. entry 1: −1, 3 → sum +2, agreeing {3} → 3.
  // entry 2: −2 → −2. entry 3: 2, −6, 4 → sum 0 → 0. entry 4: trimmed → 0. entry 5: nothing → 0.
  assert.deepEqual(Array.from(merged), [4, 3, -2, 0, 0, 0]);
});

test('TIES of disjoint deltas at density 1 is their sum, and of one delta at density 1 the delta itself', () => {
  const a = Float32Array.from([1, 0, -2, 0]);
  const b = Float32Array.from([0, 3, 0, 0.5]);
  assert.deepEqual(Array.from(tiesMerge([a, b], 1)), [1, 3, -2, 0.5]);
  assert.deepEqual(Array.from(tiesMerge([a], 1)), Array.from(a));
});

test('TIES refuses no deltas, deltas of different sizes and a density outside (0, 1]', () => {
  assert.throws(() => tiesMerge([], 0.5), /no deltas/);
  assert.throws(() => tiesMerge([new Float32Array(2), new Float32Array(3)], 0.5), /differ in size \(2, 3\)/);
  assert.throws(() => tiesMerge([new Float32Array(2)], 0), /density must be in \(0, 1\], got 0/);
  assert.throws(() => tiesMerge([new Float32Array(2)], Number.NaN), /density must be in \(0, 1\], got NaN/);
});
