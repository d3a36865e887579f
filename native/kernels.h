// Hot kernels of elder. Conventions shared by every kernel here:
// - matrices are row-major float32 with an explicit leading dimension;
// - forward kernels write their outputs;
// - backward kernels write the gradient of their data input and ADD into
//   parameter gradients (gamma, beta, weight), so a caller can accumulate
//   over several uses of one parameter without a temporary.
#pragma once
#include <cstddef>
#include <cstdint>

// Hot loops are compiled three times, for baseline x86-64 and for the x86-64-v3
// (AVX2+FMA) and v4 (AVX-512) levels, and the loader picks the best clone the CPU
// supports (GCC function multi-versioning), so one build is both portable and
// fast. The levels are chosen by feature; a named CPU ("arch=haswell", as here
// before) is chosen only on that very CPU model, so AMD machines ran the baseline
// clone: 4-wide SSE loops, 2.8× slower than v3's on a vectorised exp.
//
// The second build of the addon (ELDER_AVX2_ONLY, loaded when ELDER_SIMD=x86-64-v3) has no
// v4 clones, so that one AVX-512 machine can measure the AVX2 path as well.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(ELDER_AVX2_ONLY)
#define ELDER_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#elif defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ELDER_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ELDER_SIMD_CLONES
#endif

namespace elder {

// Which compiled version of the ELDER_SIMD_CLONES loops this CPU runs.
const char* simdClone();

// C = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T.
void sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc);
void sgemmPortable(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
                   int lda, const float* B, int ldb, float beta, float* C, int ldc);
void setThreads(int threads);
int getThreads();
// While any is alive (on any thread), every sgemm runs on its calling thread
// only, so that callers may run several small products in parallel on their
// own threads.
class SerialSgemm {
 public:
  SerialSgemm();
  ~SerialSgemm();
  SerialSgemm(const SerialSgemm&) = delete;
  SerialSgemm& operator=(const SerialSgemm&) = delete;
};
const char* sgemmBackendName();

void geluForward(const float* x, float* y, size_t n);
void geluBackward(const float* x, const float* dy, float* dx, size_t n);

void siluMulForward(const float* gate, const float* up, float* y, size_t n);
void siluMulBackward(const float* gate, const float* up, const float* dy, float* dgate, float* dup,
                     size_t n);

void layerNormForward(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                      float* rstd, int rows, int cols, float eps);
void layerNormBackward(const float* x, const float* gamma, const float* mean, const float* rstd,
                       const float* dy, float* dx, float* dgamma, float* dbeta, int rows, int cols);

void rmsNormForward(const float* x, const float* weight, float* y, float* rstd, int rows, int cols,
                    float eps);
void rmsNormBackward(const float* x, const float* weight, const float* rstd, const float* dy,
                     float* dx, float* dweight, int rows, int cols);

// In place over `count` stacked [rows, cols] matrices. With causalOffset >= 0,
// row r may see columns c <= causalOffset + r; the rest become exactly 0.
void softmaxRows(float* x, int count, int rows, int cols, int causalOffset);
void softmaxBackwardRows(const float* p, const float* dp, float* dx, size_t rows, int cols);

// Per row: loss = logsumexp(row) - row[target]; lse is kept for the backward.
void crossEntropyForward(const float* logits, const int32_t* targets, float* losses, float* lse,
                         int rows, int cols);
// dlogits[row] = rowScale[row] * (softmax(row) - onehot(target)).
void crossEntropyBackward(const float* logits, const int32_t* targets, const float* lse,
                          const float* rowScale, float* dlogits, int rows, int cols);

// For rows x [rows, width] and a frozen LM head W [vocab, width], per row:
// losses = logsumexp(x·Wᵀ) − (x·Wᵀ)[target], argmax of x·Wᵀ (first on ties),
// and dx = d loss_r / d x_r = softmax(x·Wᵀ)·W − W[target], reading W once and
// never materialising the logits (linear_cross_entropy.cc).
void linearCrossEntropy(const float* x, int rows, int width, const float* weight, int vocab,
                        const int32_t* targets, float* losses, int32_t* argmax, float* dx);

// Causal attention over heads addressed in place: row t of batch b, head h
// starts at q + (b·steps + t)·ldq + h·headDim (k, v: kv head h / (heads /
// kvHeads), rows b·keyStride + j). probs holds softmax(q·kᵀ·scale) per
// (b, h) as [steps, past + steps] for the backward.
struct AttentionDims {
  int batch, heads, kvHeads, steps, headDim;
  float scale;
};
struct AttentionViews {
  AttentionDims dims;
  const float* q;
  int ldq;
  const float* k;
  int ldk;
  const float* v;
  int ldv;
  float* out;  // forward output; its ld also describes dOut in the backward
  int ldo;
};
// Gradients are ADDED into dq, dk, dv (null: not wanted). No cache: past = 0.
struct AttentionGrads {
  const float* dOut;
  float* dq;
  int ldq;
  float* dk;
  int ldk;
  float* dv;
  int ldv;
};
// With window > 0, query t (at position past + t) sees only keys past + t - window + 1 … past + t.
void attentionForward(const AttentionViews& in, float* probs, int past, int keyStride, int window);
void attentionBackward(const AttentionViews& in, const float* probs, const AttentionGrads& grads);

// Σ x², accumulated in a fixed order whatever the thread count.
double sumSquares(const float* x, size_t n);
void scaleInPlace(float* x, size_t n, float factor);
// sums[c] += Σ_r x[r, c] (a bias gradient).
void addColumnSums(const float* x, int rows, int cols, float* sums);

void adamStep(float* param, const float* grad, float* m, float* v, size_t n, float lr, float beta1,
              float beta2, float eps, float weightDecay, int step);

// LAPACK (OpenBLAS) on row-major float64 n×n matrices, in place; false from
// hasLapack() when built without OpenBLAS. choleskyLower overwrites a symmetric
// positive-definite matrix with L (L·Lᵀ = a, zeros above) and invertLower a
// lower-triangular matrix with its inverse; both return 0, or LAPACK's info
// (k > 0: the k-th pivot was not positive, or the k-th diagonal entry is zero).
bool hasLapack();
int choleskyLower(double* a, int n);
int invertLower(double* l, int n);
// Solves L·Lᵀ·x = r for each of m right-hand sides r, stored as the rows of rhs [m, n].
int choleskySolveRows(const double* l, int n, double* rhs, int m);
// Eigenvalues ascending into values[n]; a is overwritten with the eigenvectors as its rows.
int symmetricEigen(double* a, int n, double* values);

}  // namespace elder
