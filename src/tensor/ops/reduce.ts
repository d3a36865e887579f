/** Scalar reductions used as auxiliary losses. */
import { ShapeError } from '../../util/errors.js';
import { recordGrad, Tensor, writeGrad } from '../tensor.js';

/**
 * mean_i f(x_i) as a [1] tensor, for an elementwise `f` with derivative `df`
 * (T-Patcher's activation and memory losses: exp(−z) and max(0, z + margin)).
 * The mean of an empty tensor is 0.
 */
export function meanOf(x: Tensor, f: (v: number) => number, df: (v: number) => number): Tensor {
  const out = Tensor.zeros([1]);
  const v = x.data;
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += f(v[i]);
  out.data[0] = v.length === 0 ? 0 : sum / v.length;
  recordGrad(out, [x], (dy) =>
    writeGrad(x, (dx) => {
      const g = dy[0] / Math.max(1, v.length);
      for (let i = 0; i < v.length; i++) dx[i] = g * df(v[i]);
    }),
  );
  return out;
}

/**
 * Σ_r w_r ‖x_r‖² over the rows of x [rows, lastDim] as a [1] tensor: a
 * weight decay whose strength differs per row (ROME's ‖δ‖² / ‖v‖², each
 * edit's shift against its own value's norm).
 */
export function rowWeightedSquares(x: Tensor, rowWeights: ArrayLike<number>): Tensor {
  const width = x.lastDim;
  if (rowWeights.length !== x.rows) throw new ShapeError(`rowWeightedSquares: ${rowWeights.length} weights for ${x.rows} rows`);
  const v = x.data;
  let sum = 0;
  for (let r = 0; r < x.rows; r++) {
    let rowSum = 0;
    for (let c = 0; c < width; c++) rowSum += v[r * width + c] * v[r * width + c];
    sum += rowWeights[r] * rowSum;
  }
  const out = Tensor.from([sum], [1]);
  recordGrad(out, [x], (dy) =>
    writeGrad(x, (dx) => {
      for (let r = 0; r < x.rows; r++) {
        const g = 2 * dy[0] * rowWeights[r];
        for (let c = 0; c < width; c++) dx[r * width + c] = g * v[r * width + c];
      }
    }),
  );
  return out;
}

/**
 * ‖x_r‖ of each row of x [rows, lastDim], as a [rows] tensor (WISE's
 * activation distance: the norm of a side memory's change to each token's
 * output). The gradient at a zero row is taken as zero.
 */
export function rowL2Norms(x: Tensor): Tensor {
  const width = x.lastDim;
  const rows = x.rows;
  const v = x.data;
  const out = Tensor.zeros([rows]);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let c = 0; c < width; c++) sum += v[r * width + c] * v[r * width + c];
    out.data[r] = Math.sqrt(sum);
  }
  recordGrad(out, [x], (dy) =>
    writeGrad(x, (dx) => {
      for (let r = 0; r < rows; r++) {
        const norm = out.data[r];
        const g = norm > 0 ? dy[r] / norm : 0;
        for (let c = 0; c < width; c++) dx[r * width + c] = g * v[r * width + c];
      }
    }),
  );
  return out;
}
