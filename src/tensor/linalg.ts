/**
 * Dense symmetric linear algebra in float64 with no autograd (what a
 * Mahalanobis metric, a least-squares edit or a null-space projection
 * needs), through the active backend: OpenBLAS's LAPACK, or the TypeScript
 * fallback. Row-major n×n.
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

/**
 * Solves a·x = b for a symmetric positive-definite `a` given its factor
 * `l` from {@link choleskyLower}, for each right-hand side: the rows of
 * `rhs` [m, n]. Returns the solutions as rows.
 */
export function choleskySolve(l: Float64Array, n: number, rhs: Float64Array): Float64Array {
  checkSquare('choleskySolve', l, n);
  if (n === 0 ? rhs.length !== 0 : rhs.length % n !== 0) throw new RangeError(`choleskySolve: right-hand sides of ${rhs.length} values are not rows of ${n}`);
  const solution = rhs.slice();
  const info = kernels.choleskySolveRows(l, n, solution, n === 0 ? 0 : rhs.length / n);
  if (info !== 0) throw new SingularMatrixError(info - 1);
  return solution;
}

export class EigenConvergenceError extends Error {
  constructor(readonly info: number) {
    super(`symmetric eigendecomposition did not converge (info ${info})`);
    this.name = 'EigenConvergenceError';
  }
}

/** Eigenvalues (ascending) and unit eigenvectors (row i belongs to value i) of a symmetric n×n matrix (left unchanged). */
export function symmetricEigen(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  checkSquare('symmetricEigen', a, n);
  const vectors = a.slice();
  const values = new Float64Array(n);
  const info = kernels.symmetricEigen(vectors, n, values);
  if (info !== 0) throw new EigenConvergenceError(info);
  return { values, vectors };
}
