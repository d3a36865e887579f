import assert from 'node:assert/strict';
import { test } from 'node:test';
import { availableKernels, useKernels } from '../src/tensor/backends/index.js';
import { choleskyLower, choleskySolve, invertLower, NotPositiveDefiniteError, SingularMatrixError, symmetricEigen } from '../src/tensor/linalg.js';
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

test('choleskySolve and symmetricEigen agree with their definitions on every backend', () => {
  const n = 23;
  const rng = new Random(9);
  const b = Float64Array.from({ length: n * n }, () => rng.normal());
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) a[i * n + j] += b[i * n + k] * b[j * n + k];
  for (let i = 0; i < n; i++) a[i * n + i] += 1;
  const rhs = Float64Array.from({ length: 3 * n }, () => rng.normal());
  const eigen: Float64Array[] = [];
  for (const backend of availableKernels()) {
    const previous = useKernels(backend);
    try {
      const x = choleskySolve(choleskyLower(a, n), n, rhs);
      for (let r = 0; r < 3; r++)
        for (let i = 0; i < n; i++) {
          let ax = 0;
          for (let k = 0; k < n; k++) ax += a[i * n + k] * x[r * n + k];
          assert.ok(Math.abs(ax - rhs[r * n + i]) < 1e-8, `${backend.name}: residual of system ${r} row ${i}`);
        }
      const { values, vectors } = symmetricEigen(a, n);
      eigen.push(values);
      for (let i = 1; i < n; i++) assert.ok(values[i] >= values[i - 1], `${backend.name}: eigenvalues ascend`);
      for (let e = 0; e < n; e++) {
        for (let i = 0; i < n; i++) {
          let av = 0;
          for (let k = 0; k < n; k++) av += a[i * n + k] * vectors[e * n + k];
          assert.ok(Math.abs(av - values[e] * vectors[e * n + i]) < 1e-8 * (1 + Math.abs(values[e])), `${backend.name}: A·v = λ·v for eigenvalue ${e}`);
        }
        for (let f = e; f < n; f++) {
          let dot = 0;
          for (let k = 0; k < n; k++) dot += vectors[e * n + k] * vectors[f * n + k];
          assert.ok(Math.abs(dot - (e === f ? 1 : 0)) < 1e-10, `${backend.name}: eigenvectors ${e}, ${f} orthonormal`);
        }
      }
    } finally {
      useKernels(previous);
    }
  }
  for (const values of eigen.slice(1)) for (let i = 0; i < n; i++) assert.ok(Math.abs(values[i] - eigen[0][i]) < 1e-8 * (1 + Math.abs(values[i])));
  assert.throws(() => choleskySolve(Float64Array.of(2, 0, 1, 3), 2, Float64Array.of(1, 2, 3)), RangeError);
});
