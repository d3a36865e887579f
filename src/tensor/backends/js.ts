/**
 * Pure TypeScript kernels: the last resort when the native addon cannot be
 * loaded (`ELDER_BACKEND=js` forces it). Slow, but numerically equivalent to
 * the native ones, which the kernel tests check.
 */
import { decodeHalf, type HalfDtype } from '../half.js';
import type { Kernels } from './kernels.js';

const HALF_DTYPES: Record<1 | 2, HalfDtype> = { 1: 'F16', 2: 'BF16' };

/** Rows [first, first + rows) of a half-precision matrix with `cols` columns, as float32. */
function halfRows(bits: Uint16Array, code: 1 | 2, offset: number, rows: number, cols: number, ld: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) decodeHalf(bits, HALF_DTYPES[code], offset + r * ld, cols, out, r * cols);
  return out;
}

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

export const jsKernels: Kernels = {
  name: 'js',

  sgemm(transA, transB, M, N, K, alpha, A, aOffset, lda, B, bOffset, ldb, beta, C, cOffset, ldc) {
    for (let i = 0; i < M; i++) {
      const cRow = cOffset + i * ldc;
      for (let j = 0; j < N; j++) C[cRow + j] = beta === 0 ? 0 : C[cRow + j] * beta;
    }
    if (alpha === 0) return;
    for (let i = 0; i < M; i++) {
      const cRow = cOffset + i * ldc;
      for (let k = 0; k < K; k++) {
        const a = alpha * (transA ? A[aOffset + k * lda + i] : A[aOffset + i * lda + k]);
        if (a === 0) continue;
        if (transB) {
          for (let j = 0; j < N; j++) C[cRow + j] += a * B[bOffset + j * ldb + k];
        } else {
          const bRow = bOffset + k * ldb;
          for (let j = 0; j < N; j++) C[cRow + j] += a * B[bRow + j];
        }
      }
    }
  },

  sgemmHalfB(transB, M, N, K, A, aOffset, lda, B, bOffset, ldb, dtype, beta, C, cOffset, ldc) {
    const [rows, cols] = transB ? [N, K] : [K, N];
    const values = halfRows(B, dtype, bOffset, rows, cols, ldb);
    jsKernels.sgemm(false, transB, M, N, K, 1, A, aOffset, lda, values, 0, cols, beta, C, cOffset, ldc);
  },

  halfToFloat(src, srcOffset, dtype, dst, n) {
    decodeHalf(src, HALF_DTYPES[dtype], srcOffset, n, dst);
  },

  firstNonFinite(data, kind) {
    if (data instanceof Float32Array) {
      for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
      return -1;
    }
    const mask = kind === 1 ? 0x7c00 : 0x7f80;
    for (let i = 0; i < data.length; i++) if ((data[i] & mask) === mask) return i;
    return -1;
  },

  setThreads() {},
  getThreads() {
    return 1;
  },

  geluForward(x, y, n) {
    for (let i = 0; i < n; i++) {
      const v = x[i];
      y[i] = 0.5 * v * (1 + Math.tanh(GELU_C * (v + GELU_A * v * v * v)));
    }
  },

  geluBackward(x, dy, dx, n) {
    for (let i = 0; i < n; i++) {
      const v = x[i];
      const t = Math.tanh(GELU_C * (v + GELU_A * v * v * v));
      dx[i] = dy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * GELU_C * (1 + 3 * GELU_A * v * v));
    }
  },

  siluMulForward(gate, up, y, n) {
    for (let i = 0; i < n; i++) y[i] = gate[i] * sigmoid(gate[i]) * up[i];
  },

  siluMulBackward(gate, up, dy, dgate, dup, n) {
    for (let i = 0; i < n; i++) {
      const g = gate[i];
      const s = sigmoid(g);
      dup[i] = dy[i] * g * s;
      dgate[i] = dy[i] * up[i] * s * (1 + g * (1 - s));
    }
  },

  layerNormForward(x, gamma, beta, y, mean, rstd, rows, cols, eps) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let sum = 0;
      for (let c = 0; c < cols; c++) sum += x[o + c];
      const mu = sum / cols;
      let sq = 0;
      for (let c = 0; c < cols; c++) sq += (x[o + c] - mu) ** 2;
      const rs = 1 / Math.sqrt(sq / cols + eps);
      for (let c = 0; c < cols; c++) y[o + c] = (x[o + c] - mu) * rs * gamma[c] + beta[c];
      mean[r] = mu;
      rstd[r] = rs;
    }
  },

  layerNormBackward(x, gamma, mean, rstd, dy, dx, dgamma, dbeta, rows, cols) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      const mu = mean[r];
      const rs = rstd[r];
      let meanDxhat = 0;
      let meanDxhatXhat = 0;
      for (let c = 0; c < cols; c++) {
        const dxhat = dy[o + c] * gamma[c];
        meanDxhat += dxhat;
        meanDxhatXhat += dxhat * (x[o + c] - mu) * rs;
      }
      meanDxhat /= cols;
      meanDxhatXhat /= cols;
      for (let c = 0; c < cols; c++) {
        const xhat = (x[o + c] - mu) * rs;
        if (dx) dx[o + c] = rs * (dy[o + c] * gamma[c] - meanDxhat - xhat * meanDxhatXhat);
        if (dgamma) dgamma[c] += dy[o + c] * xhat;
        if (dbeta) dbeta[c] += dy[o + c];
      }
    }
  },

  rmsNormForward(x, weight, y, rstd, rows, cols, eps) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let sq = 0;
      for (let c = 0; c < cols; c++) sq += x[o + c] * x[o + c];
      const rs = 1 / Math.sqrt(sq / cols + eps);
      for (let c = 0; c < cols; c++) y[o + c] = weight[c] * (x[o + c] * rs);
      rstd[r] = rs;
    }
  },

  rmsNormBackward(x, weight, rstd, dy, dx, dweight, rows, cols) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      const rs = rstd[r];
      let dot = 0;
      for (let c = 0; c < cols; c++) dot += dy[o + c] * weight[c] * x[o + c] * rs;
      const meanDot = dot / cols;
      for (let c = 0; c < cols; c++) {
        if (dx) dx[o + c] = rs * (dy[o + c] * weight[c] - x[o + c] * rs * meanDot);
        if (dweight) dweight[c] += dy[o + c] * x[o + c] * rs;
      }
    }
  },

  softmaxRows(x, count, rows, cols, causalOffset) {
    for (let m = 0; m < count; m++) {
      for (let r = 0; r < rows; r++) {
        const o = (m * rows + r) * cols;
        const visible = causalOffset >= 0 ? Math.min(cols, causalOffset + r + 1) : cols;
        let max = -Infinity;
        for (let c = 0; c < visible; c++) if (x[o + c] > max) max = x[o + c];
        let sum = 0;
        for (let c = 0; c < visible; c++) {
          x[o + c] = Math.exp(x[o + c] - max);
          sum += x[o + c];
        }
        for (let c = 0; c < visible; c++) x[o + c] /= sum;
        for (let c = visible; c < cols; c++) x[o + c] = 0;
      }
    }
  },

  softmaxBackwardRows(p, dp, dx, rows, cols) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let dot = 0;
      for (let c = 0; c < cols; c++) dot += p[o + c] * dp[o + c];
      for (let c = 0; c < cols; c++) dx[o + c] = p[o + c] * (dp[o + c] - dot);
    }
  },

  crossEntropyForward(logits, targets, losses, lse, rows, cols) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      const target = targets[r];
      if (target < 0 || target >= cols) throw new RangeError(`crossEntropy: target ${target} outside the vocabulary`);
      let max = -Infinity;
      for (let c = 0; c < cols; c++) if (logits[o + c] > max) max = logits[o + c];
      let sum = 0;
      for (let c = 0; c < cols; c++) sum += Math.exp(logits[o + c] - max);
      lse[r] = max + Math.log(sum);
      losses[r] = lse[r] - logits[o + target];
    }
  },

  crossEntropyBackward(logits, targets, lse, rowScale, dlogits, rows, cols) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      for (let c = 0; c < cols; c++) dlogits[o + c] = rowScale[r] * Math.exp(logits[o + c] - lse[r]);
      dlogits[o + targets[r]] -= rowScale[r];
    }
  },

  linearCrossEntropy(x, rows, width, weight, vocab, targets, losses, argmax, dx) {
    const logits = new Float32Array(vocab);
    for (let r = 0; r < rows; r++) {
      const target = targets[r];
      if (target < 0 || target >= vocab) throw new RangeError(`linearCrossEntropy: target ${target} outside the vocabulary`);
      jsKernels.sgemm(false, true, 1, vocab, width, 1, x, r * width, width, weight, 0, width, 0, logits, 0, vocab);
      let max = -Infinity;
      let best = 0;
      for (let c = 0; c < vocab; c++)
        if (logits[c] > max) {
          max = logits[c];
          best = c;
        }
      let sum = 0;
      for (let c = 0; c < vocab; c++) {
        logits[c] = Math.exp(logits[c] - max);
        sum += logits[c];
      }
      for (let c = 0; c < vocab; c++) logits[c] /= sum;
      // dx_r = softmax·W − W[target]
      jsKernels.sgemm(false, false, 1, width, vocab, 1, logits, 0, vocab, weight, 0, width, 0, dx, r * width, width);
      let targetLogit = 0;
      for (let i = 0; i < width; i++) {
        targetLogit += x[r * width + i] * weight[target * width + i];
        dx[r * width + i] -= weight[target * width + i];
      }
      losses[r] = max + Math.log(sum) - targetLogit;
      argmax[r] = best;
    }
  },

  linearCrossEntropyHalf(x, rows, width, weight, dtype, vocab, targets, losses, argmax, dx) {
    jsKernels.linearCrossEntropy(x, rows, width, halfRows(weight, dtype, 0, vocab, width, width), vocab, targets, losses, argmax, dx);
  },

  attentionForward(dims, q, k, v, out, probs, past, keyStride) {
    const { batch, heads, kvHeads, steps, headDim, scale } = dims;
    const span = past + steps;
    const group = heads / kvHeads;
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < heads; h++) {
        const kvColumn = Math.floor(h / group) * headDim;
        const block = (b * heads + h) * steps * span;
        const window = dims.window ?? 0;
        for (let i = 0; i < steps; i++) {
          const qi = q.offset + (b * steps + i) * q.ld + h * headDim;
          const first = window > 0 ? Math.max(0, past + i + 1 - window) : 0;
          for (let j = 0; j < past + i + 1; j++) {
            const kj = k.offset + (b * keyStride + j) * k.ld + kvColumn;
            let s = 0;
            for (let c = 0; c < headDim; c++) s += q.data[qi + c] * k.data[kj + c];
            probs[block + i * span + j] = j < first ? Number.NEGATIVE_INFINITY : s * scale;
          }
        }
        jsKernels.softmaxRows(probs.subarray(block, block + steps * span), 1, steps, span, past);
        for (let i = 0; i < steps; i++) {
          const oi = out.offset + (b * steps + i) * out.ld + h * headDim;
          for (let c = 0; c < headDim; c++) out.data[oi + c] = 0;
          for (let j = 0; j < past + i + 1; j++) {
            const p = probs[block + i * span + j];
            const vj = v.offset + (b * keyStride + j) * v.ld + kvColumn;
            for (let c = 0; c < headDim; c++) out.data[oi + c] += p * v.data[vj + c];
          }
        }
      }
    }
  },

  attentionBackward(dims, q, k, v, probs, dOut, dq, dk, dv) {
    const { batch, heads, kvHeads, steps, headDim, scale } = dims;
    const group = heads / kvHeads;
    const dScores = new Float64Array(steps);
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < heads; h++) {
        const kvColumn = Math.floor(h / group) * headDim;
        for (let i = 0; i < steps; i++) {
          const qRow = b * steps + i;
          const row = ((b * heads + h) * steps + i) * steps;
          const dOi = dOut.offset + qRow * dOut.ld + h * headDim;
          let weighted = 0;
          for (let j = 0; j <= i; j++) {
            const vj = v.offset + (b * steps + j) * v.ld + kvColumn;
            let dp = 0;
            for (let c = 0; c < headDim; c++) dp += dOut.data[dOi + c] * v.data[vj + c];
            dScores[j] = dp;
            weighted += probs[row + j] * dp;
          }
          for (let j = 0; j <= i; j++) {
            const kvRow = b * steps + j;
            const p = probs[row + j];
            if (dv) for (let c = 0; c < headDim; c++) dv.data[dv.offset + kvRow * dv.ld + kvColumn + c] += p * dOut.data[dOi + c];
            const ds = scale * p * (dScores[j] - weighted);
            if (dq)
              for (let c = 0; c < headDim; c++) dq.data[dq.offset + qRow * dq.ld + h * headDim + c] += ds * k.data[k.offset + kvRow * k.ld + kvColumn + c];
            if (dk)
              for (let c = 0; c < headDim; c++) dk.data[dk.offset + kvRow * dk.ld + kvColumn + c] += ds * q.data[q.offset + qRow * q.ld + h * headDim + c];
          }
        }
      }
    }
  },

  sumSquares(x, n) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += x[i] * x[i];
    return sum;
  },

  scaleInPlace(x, n, factor) {
    for (let i = 0; i < n; i++) x[i] *= factor;
  },

  addColumnSums(x, rows, cols, sums) {
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) sums[c] += x[r * cols + c];
  },

  // Column by column (Cholesky–Banachiewicz by rows would read the same values); what LAPACK's unblocked dpotf2 does.
  choleskyLower(a, n) {
    for (let j = 0; j < n; j++) {
      let pivot = a[j * n + j];
      for (let k = 0; k < j; k++) pivot -= a[j * n + k] * a[j * n + k];
      if (!(pivot > 0)) return j + 1;
      const diagonal = Math.sqrt(pivot);
      a[j * n + j] = diagonal;
      for (let i = j + 1; i < n; i++) {
        let sum = a[i * n + j];
        for (let k = 0; k < j; k++) sum -= a[i * n + k] * a[j * n + k];
        a[i * n + j] = sum / diagonal;
      }
      for (let i = 0; i < j; i++) a[i * n + j] = 0;
    }
    return 0;
  },

  choleskySolveRows(l, n, rhs, m) {
    for (let r = 0; r < m; r++) {
      const x = rhs.subarray(r * n, (r + 1) * n);
      // L·y = b, then Lᵀ·x = y.
      for (let i = 0; i < n; i++) {
        let sum = x[i];
        for (let k = 0; k < i; k++) sum -= l[i * n + k] * x[k];
        x[i] = sum / l[i * n + i];
      }
      for (let i = n - 1; i >= 0; i--) {
        let sum = x[i];
        for (let k = i + 1; k < n; k++) sum -= l[k * n + i] * x[k];
        x[i] = sum / l[i * n + i];
      }
    }
    return 0;
  },

  // Cyclic Jacobi rotations: slow (O(n³) per sweep) but plain and accurate, for machines without LAPACK.
  symmetricEigen(a, n, values) {
    const v = new Float64Array(n * n);
    for (let i = 0; i < n; i++) v[i * n + i] = 1;
    let converged = n < 2;
    for (let sweep = 0; sweep < 100 && !converged; sweep++) {
      let off = 0;
      let total = 0;
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          total += a[i * n + j] ** 2;
          if (i !== j) off += a[i * n + j] ** 2;
        }
      if (off <= 1e-30 * total) {
        converged = true;
        break;
      }
      for (let p = 0; p < n - 1; p++) {
        for (let q = p + 1; q < n; q++) {
          const apq = a[p * n + q];
          if (apq === 0) continue;
          const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
          const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
          const c = 1 / Math.sqrt(t * t + 1);
          const s = t * c;
          for (let k = 0; k < n; k++) {
            const akp = a[k * n + p];
            const akq = a[k * n + q];
            a[k * n + p] = c * akp - s * akq;
            a[k * n + q] = s * akp + c * akq;
          }
          for (let k = 0; k < n; k++) {
            const apk = a[p * n + k];
            const aqk = a[q * n + k];
            a[p * n + k] = c * apk - s * aqk;
            a[q * n + k] = s * apk + c * aqk;
          }
          for (let k = 0; k < n; k++) {
            const vkp = v[k * n + p];
            const vkq = v[k * n + q];
            v[k * n + p] = c * vkp - s * vkq;
            v[k * n + q] = s * vkp + c * vkq;
          }
        }
      }
    }
    if (!converged) return 1;
    // Ascending eigenvalues; eigenvector j is column j of v, written out as row j.
    const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => a[x * n + x] - a[y * n + y]);
    const diagonal = Float64Array.from({ length: n }, (_, i) => a[i * n + i]);
    order.forEach((column, row) => {
      values[row] = diagonal[column];
      for (let k = 0; k < n; k++) a[row * n + k] = v[k * n + column];
    });
    return 0;
  },

  invertLower(l, n) {
    for (let j = 0; j < n; j++) if (l[j * n + j] === 0) return j + 1;
    // Row by row: row i of L⁻¹ needs rows < i of L⁻¹ only, so it can overwrite row i of L once read.
    const row = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < i; j++) {
        let sum = 0;
        for (let k = j; k < i; k++) sum += l[i * n + k] * l[k * n + j];
        row[j] = -sum / l[i * n + i];
      }
      row[i] = 1 / l[i * n + i];
      for (let j = 0; j <= i; j++) l[i * n + j] = row[j];
    }
    return 0;
  },

  adamStep(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step) {
    const correction1 = 1 - beta1 ** step;
    const correction2 = 1 - beta2 ** step;
    for (let i = 0; i < n; i++) {
      m[i] = beta1 * m[i] + (1 - beta1) * grad[i];
      v[i] = beta2 * v[i] + (1 - beta2) * grad[i] * grad[i];
      param[i] -= lr * (m[i] / correction1 / (Math.sqrt(v[i] / correction2) + eps) + weightDecay * param[i]);
    }
  },
};
