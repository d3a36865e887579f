/**
 * The closed-form weight updates of the locate-then-edit methods, in
 * float64 through LAPACK (src/tensor/linalg.ts). Keys are rows [n, d] (the
 * MLP output projection's input width d), residuals rows [n, out]; every
 * update is laid out [d, out], as BaseWeightEdits adds it.
 *
 * - ROME: Δ = C⁻¹k ⊗ δ / (kᵀC⁻¹k), which maps the key k to its value shift δ
 *   exactly and changes other keys' values in proportion to their C⁻¹ overlap.
 * - MEMIT: Δ = (λC + KᵀK)⁻¹ Kᵀ R, least squares on the batch's keys against
 *   λ pretraining keys' worth of "leave the rest alone".
 * - AlphaEdit: the same solve restricted to the null space of C (eigenvectors
 *   whose eigenvalue is below a threshold), with the keys of earlier edits
 *   held in place: Δ = Û (Ûᵀ(KᵀK + K̃ᵀK̃)Û + l2·I)⁻¹ Ûᵀ Kᵀ R.
 */
import { kernels } from '../../tensor/backends/index.js';
import { choleskyLower, choleskySolve, NotPositiveDefiniteError, symmetricEigen } from '../../tensor/linalg.js';
import { ElderError, NonFiniteError } from '../../util/errors.js';

/** A system that stayed singular after regularisation. */
export class SingularSystemError extends ElderError {}

/** Largest ridge tried, relative to the mean diagonal, before a system is called singular. */
const MAX_RIDGE = 1e-1;

/**
 * The Cholesky factor of the symmetric `a` (n×n), adding a ridge (1e-8 of
 * the mean diagonal, growing tenfold) when it is not positive definite;
 * `note` is told, in one line naming `what`, which ridge it took.
 */
export function factorRegularised(a: Float64Array, n: number, what: string, note?: (line: string) => void): Float64Array {
  if (!a.every(Number.isFinite)) throw new NonFiniteError(`${what}: the system holds a non-finite value; nothing was written`);
  try {
    return choleskyLower(a, n);
  } catch (error) {
    if (!(error instanceof NotPositiveDefiniteError)) throw error;
  }
  let meanDiagonal = 0;
  for (let i = 0; i < n; i++) meanDiagonal += a[i * n + i] / n;
  const scaleOf = meanDiagonal > 0 ? meanDiagonal : 1;
  for (let relative = 1e-8; relative <= MAX_RIDGE; relative *= 10) {
    const ridged = a.slice();
    for (let i = 0; i < n; i++) ridged[i * n + i] += relative * scaleOf;
    try {
      const factor = choleskyLower(ridged, n);
      note?.(`${what}: not positive definite; regularised with a ridge of ${relative.toExponential(0)} × its mean diagonal`);
      return factor;
    } catch (error) {
      if (!(error instanceof NotPositiveDefiniteError)) throw error;
    }
  }
  throw new SingularSystemError(`${what}: singular even with a ridge of ${MAX_RIDGE} × its mean diagonal; nothing was written`);
}

/**
 * ROME's rank-one update that maps `key` [d] to `shift` [out], given the
 * Cholesky factor of the covariance ({@link factorRegularised}: one per
 * block, shared by every edit there).
 */
export function rankOneUpdate(factor: Float64Array, key: Float32Array, shift: Float32Array, what: string): Float32Array {
  const d = key.length;
  const u = choleskySolve(factor, d, Float64Array.from(key));
  let denominator = 0;
  for (let i = 0; i < d; i++) denominator += u[i] * key[i];
  if (!(Math.abs(denominator) > 0)) throw new SingularSystemError(`${what}: the key is orthogonal to its own C⁻¹ direction; nothing was written`);
  const out = shift.length;
  const delta = new Float32Array(d * out);
  for (let i = 0; i < d; i++) {
    const ui = u[i] / denominator;
    for (let o = 0; o < out; o++) delta[i * out + o] = ui * shift[o];
  }
  return finite(delta, what);
}

/** MEMIT's update (λC + KᵀK)⁻¹ Kᵀ R for keys [n, d] and residuals [n, out]. */
export function spreadUpdate(
  second: Float64Array,
  lambda: number,
  keys: Float32Array,
  residuals: Float32Array,
  n: number,
  what: string,
  note?: (line: string) => void,
): Float32Array {
  const d = keys.length / n;
  const out = residuals.length / n;
  const a = new Float64Array(d * d);
  for (let i = 0; i < a.length; i++) a[i] = lambda * second[i];
  addGram(a, keys, n, d);
  // A is symmetric, so A⁻¹Kᵀ R = (K A⁻¹)ᵀ R: solve the n key rows, not the out columns.
  const solved = choleskySolve(factorRegularised(a, d, what, note), d, Float64Array.from(keys));
  return finite(transposedProduct(solved, residuals, n, d, out), what);
}

/** Eigenvectors (rows [m, d]) of `second` whose eigenvalue is below `threshold`: the directions pretraining keys leave (nearly) empty. */
export function nullSpaceBasis(second: Float64Array, d: number, threshold: number): { basis: Float32Array; dimension: number; values: Float64Array } {
  const { values, vectors } = symmetricEigen(second, d);
  let m = 0;
  while (m < d && values[m] < threshold) m++;
  return { basis: Float32Array.from(vectors.subarray(0, m * d)), dimension: m, values };
}

/**
 * AlphaEdit's update in null-space coordinates. `accumulated` (m×m) is
 * Ûᵀ K̃ᵀ K̃ Û over the keys K̃ of earlier edits; returns the update and the
 * batch's own Ûᵀ KᵀK Û, for the caller to add once the update is written.
 */
export function projectedUpdate(
  basis: Float32Array,
  m: number,
  accumulated: Float64Array,
  l2: number,
  keys: Float32Array,
  residuals: Float32Array,
  n: number,
  what: string,
  note?: (line: string) => void,
): { delta: Float32Array; gram: Float64Array } {
  const d = keys.length / n;
  const out = residuals.length / n;
  if (m === 0) throw new SingularSystemError(`${what}: the null space is empty (no eigenvalue below the threshold); raise nullSpaceThreshold`);
  // Keys in null-space coordinates: KU [n, m].
  const projected = new Float32Array(n * m);
  kernels.sgemm(false, true, n, m, d, 1, keys, 0, d, basis, 0, d, 0, projected, 0, m);
  const gram = new Float64Array(m * m);
  addGram(gram, projected, n, m);
  const a = new Float64Array(m * m);
  for (let i = 0; i < a.length; i++) a[i] = gram[i] + accumulated[i];
  for (let i = 0; i < m; i++) a[i * m + i] += l2;
  const solved = choleskySolve(factorRegularised(a, m, what, note), m, Float64Array.from(projected));
  const z = Float32Array.from(transposedProduct(solved, residuals, n, m, out));
  const delta = new Float32Array(d * out);
  kernels.sgemm(true, false, d, out, m, 1, basis, 0, d, z, 0, out, 0, delta, 0, out);
  return { delta: finite(delta, what), gram };
}

/** a += XᵀX for rows X [n, d]. */
function addGram(a: Float64Array, rows: ArrayLike<number>, n: number, d: number): void {
  for (let r = 0; r < n; r++) {
    const off = r * d;
    for (let i = 0; i < d; i++) {
      const xi = rows[off + i];
      if (xi === 0) continue;
      for (let j = 0; j < d; j++) a[i * d + j] += xi * rows[off + j];
    }
  }
}

/** Xᵀ R for X [n, d] and R [n, out]: [d, out]. */
function transposedProduct(x: Float64Array, r: Float32Array, n: number, d: number, out: number): Float32Array {
  const result = new Float32Array(d * out);
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < d; i++) {
      const xi = x[k * d + i];
      for (let o = 0; o < out; o++) result[i * out + o] += xi * r[k * out + o];
    }
  }
  return result;
}

function finite(delta: Float32Array, what: string): Float32Array {
  if (!delta.every(Number.isFinite)) throw new NonFiniteError(`${what}: the update is not finite; nothing was written`);
  return delta;
}
