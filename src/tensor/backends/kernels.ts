/**
 * The kernel contract every backend implements. Matrices are row-major
 * float32 with explicit offsets and leading dimensions so that ops can hand
 * views (one attention head, one position) to a kernel without copying.
 *
 * Forward kernels write their outputs. Backward kernels write the gradient of
 * their data input and ADD into parameter gradients.
 */
/** A row-major matrix inside a larger buffer: element (r, c) is `data[offset + r·ld + c]`. */
export interface StridedView {
  data: Float32Array;
  offset: number;
  ld: number;
}

/**
 * Sizes of one causal attention call. Row t of batch b, head h of q starts at
 * `(b·steps + t)·ld + h·headDim`; k and v rows are `b·keyStride + j`, kv head
 * `h / (heads / kvHeads)`.
 */
export interface AttentionDims {
  batch: number;
  heads: number;
  kvHeads: number;
  steps: number;
  headDim: number;
  /** Multiplies q·kᵀ before the softmax (1/√headDim unless the family sets its own). */
  scale: number;
  /** A sliding window: each query sees only the keys at most window − 1 positions back (0 or absent: all earlier keys). */
  window?: number;
}

export interface Kernels {
  /** Backend name shown by `elder info`: `openblas`, `portable` or `js`. */
  readonly name: 'openblas' | 'portable' | 'js';
  /** C = alpha·op(A)·op(B) + beta·C. */
  sgemm(
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    alpha: number,
    A: Float32Array,
    aOffset: number,
    lda: number,
    B: Float32Array,
    bOffset: number,
    ldb: number,
    beta: number,
    C: Float32Array,
    cOffset: number,
    ldc: number,
  ): void;
  /**
   * C = op(A)·op(B) + beta·C where B holds half-precision bits (code 1: F16,
   * 2: BF16) converted inside the kernel: A [M, K] float32, B [N, K] when
   * transB, else [K, N].
   */
  sgemmHalfB(
    transB: boolean,
    M: number,
    N: number,
    K: number,
    A: Float32Array,
    aOffset: number,
    lda: number,
    B: Uint16Array,
    bOffset: number,
    ldb: number,
    dtype: 1 | 2,
    beta: number,
    C: Float32Array,
    cOffset: number,
    ldc: number,
  ): void;
  /** dst[i] = value of src[srcOffset + i] (code 1: F16, 2: BF16) for i < n. */
  halfToFloat(src: Uint16Array, srcOffset: number, dtype: 1 | 2, dst: Float32Array, n: number): void;
  /** Index of the first infinity or NaN among stored values (F32 as float32, F16 or BF16 as bits with their code), or -1. */
  firstNonFinite(data: Float32Array | Uint16Array, kind: 0 | 1 | 2): number;
  setThreads(threads: number): void;
  getThreads(): number;
  geluForward(x: Float32Array, y: Float32Array, n: number): void;
  geluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array, n: number): void;
  siluMulForward(gate: Float32Array, up: Float32Array, y: Float32Array, n: number): void;
  siluMulBackward(gate: Float32Array, up: Float32Array, dy: Float32Array, dgate: Float32Array, dup: Float32Array, n: number): void;
  layerNormForward(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  layerNormBackward(
    x: Float32Array,
    gamma: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    dy: Float32Array,
    dx: Float32Array | null,
    dgamma: Float32Array | null,
    dbeta: Float32Array | null,
    rows: number,
    cols: number,
  ): void;
  rmsNormForward(x: Float32Array, weight: Float32Array, y: Float32Array, rstd: Float32Array, rows: number, cols: number, eps: number): void;
  rmsNormBackward(
    x: Float32Array,
    weight: Float32Array,
    rstd: Float32Array,
    dy: Float32Array,
    dx: Float32Array | null,
    dweight: Float32Array | null,
    rows: number,
    cols: number,
  ): void;
  /** In place over `count` stacked [rows, cols] matrices; causalOffset < 0 disables the mask. */
  softmaxRows(x: Float32Array, count: number, rows: number, cols: number, causalOffset: number): void;
  softmaxBackwardRows(p: Float32Array, dp: Float32Array, dx: Float32Array, rows: number, cols: number): void;
  crossEntropyForward(logits: Float32Array, targets: Int32Array, losses: Float32Array, lse: Float32Array, rows: number, cols: number): void;
  crossEntropyBackward(
    logits: Float32Array,
    targets: Int32Array,
    lse: Float32Array,
    rowScale: Float32Array,
    dlogits: Float32Array,
    rows: number,
    cols: number,
  ): void;
  /**
   * The LM head and cross-entropy in one pass over a frozen head `weight`
   * [vocab, width], for rows `x` [rows, width]: per row the loss
   * logsumexp(x·Wᵀ) − (x·Wᵀ)[target], the argmax (first on ties), and
   * dx = d loss_r / d x_r = softmax(x·Wᵀ)·W − W[target]. The logits are never
   * materialised, so W is read once instead of twice (forward, backward).
   */
  linearCrossEntropy(
    x: Float32Array,
    rows: number,
    width: number,
    weight: Float32Array,
    vocab: number,
    targets: Int32Array,
    losses: Float32Array,
    argmax: Int32Array,
    dx: Float32Array,
  ): void;
  /** {@link Kernels.linearCrossEntropy} over a head stored as half-precision bits (code 1: F16, 2: BF16). */
  linearCrossEntropyHalf(
    x: Float32Array,
    rows: number,
    width: number,
    weight: Uint16Array,
    dtype: 1 | 2,
    vocab: number,
    targets: Int32Array,
    losses: Float32Array,
    argmax: Int32Array,
    dx: Float32Array,
  ): void;
  /**
   * Causal attention: for each (b, h), probs = softmax(scale·q·kᵀ) over keys
   * 0 … past + t (the rest 0), stored as [batch, heads, steps, past + steps];
   * out = probs·v. Keys and values have `keyStride` rows per batch element.
   */
  attentionForward(
    dims: AttentionDims,
    q: StridedView,
    k: StridedView,
    v: StridedView,
    out: StridedView,
    probs: Float32Array,
    past: number,
    keyStride: number,
  ): void;
  /** Backward of {@link Kernels.attentionForward} without a cache (past 0); ADDS into dq, dk, dv. */
  attentionBackward(
    dims: AttentionDims,
    q: StridedView,
    k: StridedView,
    v: StridedView,
    probs: Float32Array,
    dOut: StridedView,
    dq: StridedView | null,
    dk: StridedView | null,
    dv: StridedView | null,
  ): void;
  /** Σ x² over the first n elements, in double, in an order fixed whatever the thread count. */
  sumSquares(x: Float32Array, n: number): number;
  scaleInPlace(x: Float32Array, n: number, factor: number): void;
  /** sums[c] += Σ_r x[r, c]: a bias's gradient from its output's. */
  addColumnSums(x: Float32Array, rows: number, cols: number, sums: Float32Array): void;
  adamStep(
    param: Float32Array,
    grad: Float32Array,
    m: Float32Array,
    v: Float32Array,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    step: number,
  ): void;
  /**
   * LAPACK's dpotrf: overwrites a symmetric positive-definite n×n matrix
   * (row-major float64) with its lower Cholesky factor L (L·Lᵀ = a, zeros
   * above). Returns 0, or k > 0 when the k-th pivot is not positive.
   */
  choleskyLower(a: Float64Array, n: number): number;
  /** LAPACK's dtrtri: overwrites a lower-triangular n×n matrix with its inverse. Returns 0, or k > 0 when the k-th diagonal entry is zero. */
  invertLower(l: Float64Array, n: number): number;
  /** LAPACK's dpotrs: given L from {@link choleskyLower}, solves L·Lᵀ·x = r in place for each of m right-hand sides, the rows of `rhs` [m, n]. Returns 0. */
  choleskySolveRows(l: Float64Array, n: number, rhs: Float64Array, m: number): number;
  /**
   * LAPACK's dsyevd: eigenvalues of a symmetric n×n matrix, ascending, into
   * `values`; `a` is overwritten with the unit eigenvectors as its rows.
   * Returns 0, or k > 0 when the iteration failed to converge.
   */
  symmetricEigen(a: Float64Array, n: number, values: Float64Array): number;
}
