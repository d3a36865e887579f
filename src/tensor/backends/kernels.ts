/**
 * The kernel contract every backend implements. Matrices are row-major
 * float32 with explicit offsets and leading dimensions so that ops can hand
 * views (one attention head, one position) to a kernel without copying.
 *
 * Forward kernels write their outputs. Backward kernels write the gradient of
 * their data input and ADD into parameter gradients.
 */
export interface Kernels {
  /** Backend name shown by `elder info`: `openblas`, `portable` or `js`. */
  readonly name: 'openblas' | 'portable' | 'js';
  /** C = alpha·op(A)·op(B) + beta·C. */
  sgemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: Float32Array, aOffset: number, lda: number,
    B: Float32Array, bOffset: number, ldb: number,
    beta: number, C: Float32Array, cOffset: number, ldc: number,
  ): void;
  setThreads(threads: number): void;
  getThreads(): number;
  geluForward(x: Float32Array, y: Float32Array, n: number): void;
  geluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array, n: number): void;
  siluMulForward(gate: Float32Array, up: Float32Array, y: Float32Array, n: number): void;
  siluMulBackward(
    gate: Float32Array, up: Float32Array, dy: Float32Array, dgate: Float32Array, dup: Float32Array, n: number,
  ): void;
  layerNormForward(
    x: Float32Array, gamma: Float32Array, beta: Float32Array, y: Float32Array,
    mean: Float32Array, rstd: Float32Array, rows: number, cols: number, eps: number,
  ): void;
  layerNormBackward(
    x: Float32Array, gamma: Float32Array, mean: Float32Array, rstd: Float32Array, dy: Float32Array,
    dx: Float32Array | null, dgamma: Float32Array | null, dbeta: Float32Array | null, rows: number, cols: number,
  ): void;
  rmsNormForward(
    x: Float32Array, weight: Float32Array, y: Float32Array, rstd: Float32Array, rows: number, cols: number, eps: number,
  ): void;
  rmsNormBackward(
    x: Float32Array, weight: Float32Array, rstd: Float32Array, dy: Float32Array,
    dx: Float32Array | null, dweight: Float32Array | null, rows: number, cols: number,
  ): void;
  /** In place over `count` stacked [rows, cols] matrices; causalOffset < 0 disables the mask. */
  softmaxRows(x: Float32Array, count: number, rows: number, cols: number, causalOffset: number): void;
  softmaxBackwardRows(p: Float32Array, dp: Float32Array, dx: Float32Array, rows: number, cols: number): void;
  crossEntropyForward(
    logits: Float32Array, targets: Int32Array, losses: Float32Array, lse: Float32Array, rows: number, cols: number,
  ): void;
  crossEntropyBackward(
    logits: Float32Array, targets: Int32Array, lse: Float32Array, rowScale: Float32Array,
    dlogits: Float32Array, rows: number, cols: number,
  ): void;
  adamStep(
    param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number,
    lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number,
  ): void;
}
