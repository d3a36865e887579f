import assert from 'node:assert/strict';
import { test } from 'node:test';
import { availableKernels, useKernels } from '../src/tensor/backends/index.js';
import { choleskyLower, invertLower, NotPositiveDefiniteError, SingularMatrixError } from '../src/tensor/linalg.js';
import { Random } from '../src/util/random.js';

test('choleskyLower factors a symmetric positive-definite matrix and invertLower inverts the factor, on every backend', () => {
  const n = 37;
  const rng = new Random(3);
  const b = Float64Array.from({ length: n * n }, () => rng.normal());
  // a = b·bᵀ + n·I is symmetric positive definite.
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) a[i * n + j] += b[i * n + k] * b[j * n + k];
  for (let i = 0; i < n; i++) a[i * n + i] += n;
  const original = a.slice();
  const backends = availableKernels();
  for (const backend of backends) {
    const previous = useKernels(backend);
    try {
      const l = choleskyLower(a, n);
      const inverse = invertLower(l, n);
      assert.deepEqual(a, original, `${backend.name}: the input is left unchanged`);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          let product = 0;
          let identity = 0;
          for (let k = 0; k < n; k++) {
            product += l[i * n + k] * l[j * n + k];
            identity += l[i * n + k] * inverse[k * n + j];
          }
          assert.ok(Math.abs(product - a[i * n + j]) < 1e-9 * n, `${backend.name}: L·Lᵀ differs from a at ${i},${j}`);
          assert.ok(Math.abs(identity - (i === j ? 1 : 0)) < 1e-12 * n, `${backend.name}: L·L⁻¹ differs from I at ${i},${j}`);
          if (j > i) assert.equal(l[i * n + j], 0, `${backend.name}: L has zeros above the diagonal`);
          if (j > i) assert.equal(inverse[i * n + j], 0, `${backend.name}: L⁻¹ has zeros above the diagonal`);
        }
      }
      assert.throws(
        () => choleskyLower(Float64Array.of(1, 2, 2, 1), 2),
        (e: unknown) => e instanceof NotPositiveDefiniteError && e.column === 1,
      );
      assert.throws(() => invertLower(Float64Array.of(1, 0, 3, 0), 2), SingularMatrixError);
      assert.throws(() => choleskyLower(Float64Array.of(1, 0, 0), 2), RangeError);
    } finally {
      useKernels(previous);
    }
  }
  assert.ok(backends.some((k) => k.name === 'js'));
});
