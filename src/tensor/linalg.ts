/**
 * Dense symmetric linear algebra in float64 with no autograd (what a
 * Mahalanobis metric or a least-squares edit needs), through the active
 * backend: OpenBLAS's LAPACK, or the TypeScript fallback. Row-major n×n.
 */
import { kernels } from './backends/index.js';

export class NotPositiveDefiniteError extends Error {
  constructor(readonly column: number) {
    super(`matrix is not positive definite (pivot ${column} ≤ 0)`);
    this.name = 'NotPositiveDefiniteError';
  }
}

export class SingularMatrixError extends Error {
  constructor(readonly index: number) {
    super(`triangular matrix is singular (diagonal entry ${index} is 0)`);
    this.name = 'SingularMatrixError';
  }
}

function checkSquare(name: string, a: Float64Array, n: number): void {
  if (!Number.isInteger(n) || n < 0 || a.length !== n * n) throw new RangeError(`${name}: expected ${n}×${n} values, got ${a.length}`);
}

/** The lower-triangular L with L·Lᵀ = a, for a symmetric positive-definite n×n `a` (left unchanged). */
export function choleskyLower(a: Float64Array, n: number): Float64Array {
  checkSquare('choleskyLower', a, n);
  const l = a.slice();
  const info = kernels.choleskyLower(l, n);
  if (info !== 0) throw new NotPositiveDefiniteError(info - 1);
  return l;
}

/** The inverse of a lower-triangular n×n matrix (itself lower-triangular; `l` is left unchanged). */
export function invertLower(l: Float64Array, n: number): Float64Array {
  checkSquare('invertLower', l, n);
  const inverse = l.slice();
  const info = kernels.invertLower(inverse, n);
  if (info !== 0) throw new SingularMatrixError(info - 1);
  return inverse;
}
