// Elementwise and row-wise kernels: the loops that dominate once sgemm is fast
// (GELU over the FFN width, softmax over attention rows and the vocabulary).
#include <algorithm>
#include <cmath>
#include <vector>

#include "fast_math.h"
#include "kernels.h"
#include "parallel.h"

namespace elder {

static constexpr float kGeluC = 0.7978845608028654f;  // sqrt(2 / pi)
static constexpr float kGeluA = 0.044715f;

// 0.5·(1 + tanh(u)) = σ(2u): GELU as v·σ(2u) needs one vectorisable exp and,
// unlike 1 + tanh(u), does not cancel for large negative inputs.
ELDER_SIMD_CLONES
static void geluForwardSpan(const float* x, float* y, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float u = kGeluC * (v + kGeluA * v * v * v);
    y[i] = v / (1.0f + vexp(-2.0f * u));
  }
}

// d/dv [v·σ(2u)] = σ(2u) + 2·v·σ(2u)·(1 − σ(2u))·u'(v).
ELDER_SIMD_CLONES
static void geluBackwardSpan(const float* x, const float* dy, float* dx, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float u = kGeluC * (v + kGeluA * v * v * v);
    const float s = 1.0f / (1.0f + vexp(-2.0f * u));
    const float dInner = kGeluC * (1.0f + 3.0f * kGeluA * v * v);
    dx[i] = dy[i] * (s + 2.0f * v * s * (1.0f - s) * dInner);
  }
}

ELDER_ALWAYS_INLINE float sigmoid(float v) { return 1.0f / (1.0f + vexp(-v)); }

ELDER_SIMD_CLONES
static void siluMulForwardSpan(const float* gate, const float* up, float* y, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; ++i) y[i] = gate[i] * sigmoid(gate[i]) * up[i];
}

ELDER_SIMD_CLONES
static void siluMulBackwardSpan(const float* gate, const float* up, const float* dy, float* dgate, float* dup,
                     size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; ++i) {
    const float g = gate[i];
    const float s = sigmoid(g);
    const float silu = g * s;
    dup[i] = dy[i] * silu;
    dgate[i] = dy[i] * up[i] * s * (1.0f + g * (1.0f - s));
  }
}

ELDER_SIMD_CLONES
void layerNormForward(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                      float* rstd, int rows, int cols, float eps) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + (size_t)r * cols;
    float* yr = y + (size_t)r * cols;
    // Float sums in SIMD lanes (16 or 8 partial sums, then a tree) err less than one
    // float chain, and vectorise; the double chain did neither well.
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int c = 0; c < cols; ++c) sum += xr[c];
    const float mu = sum / cols;
    float sq = 0.0f;
#pragma omp simd reduction(+ : sq)
    for (int c = 0; c < cols; ++c) {
      const float d = xr[c] - mu;
      sq += d * d;
    }
    const float rs = 1.0f / std::sqrt(sq / cols + eps);
#pragma omp simd
    for (int c = 0; c < cols; ++c) yr[c] = (xr[c] - mu) * rs * gamma[c] + beta[c];
    mean[r] = mu;
    rstd[r] = rs;
  }
}

ELDER_SIMD_CLONES
void layerNormBackward(const float* x, const float* gamma, const float* mean, const float* rstd,
                       const float* dy, float* dx, float* dgamma, float* dbeta, int rows, int cols) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + (size_t)r * cols;
    const float* dyr = dy + (size_t)r * cols;
    const float mu = mean[r];
    const float rs = rstd[r];
    float meanDxhat = 0.0f, meanDxhatXhat = 0.0f;
#pragma omp simd reduction(+ : meanDxhat, meanDxhatXhat)
    for (int c = 0; c < cols; ++c) {
      const float xhat = (xr[c] - mu) * rs;
      const float dxhat = dyr[c] * gamma[c];
      meanDxhat += dxhat;
      meanDxhatXhat += dxhat * xhat;
    }
    meanDxhat /= cols;
    meanDxhatXhat /= cols;
    if (dx) {
      float* dxr = dx + (size_t)r * cols;
#pragma omp simd
      for (int c = 0; c < cols; ++c) {
        const float xhat = (xr[c] - mu) * rs;
        const float dxhat = dyr[c] * gamma[c];
        dxr[c] = rs * (dxhat - meanDxhat - xhat * meanDxhatXhat);
      }
    }
    if (dgamma)
#pragma omp simd
      for (int c = 0; c < cols; ++c) dgamma[c] += dyr[c] * (xr[c] - mu) * rs;
    if (dbeta)
#pragma omp simd
      for (int c = 0; c < cols; ++c) dbeta[c] += dyr[c];
  }
}

ELDER_SIMD_CLONES
void rmsNormForward(const float* x, const float* weight, float* y, float* rstd, int rows, int cols,
                    float eps) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + (size_t)r * cols;
    float* yr = y + (size_t)r * cols;
    float sq = 0.0f;  // SIMD lanes, as in layerNormForward
#pragma omp simd reduction(+ : sq)
    for (int c = 0; c < cols; ++c) sq += xr[c] * xr[c];
    const float rs = 1.0f / std::sqrt(sq / cols + eps);
#pragma omp simd
    for (int c = 0; c < cols; ++c) yr[c] = weight[c] * (xr[c] * rs);
    rstd[r] = rs;
  }
}

ELDER_SIMD_CLONES
void rmsNormBackward(const float* x, const float* weight, const float* rstd, const float* dy,
                     float* dx, float* dweight, int rows, int cols) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + (size_t)r * cols;
    const float* dyr = dy + (size_t)r * cols;
    const float rs = rstd[r];
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int c = 0; c < cols; ++c) dot += dyr[c] * weight[c] * xr[c] * rs;
    const float meanDot = dot / cols;
    if (dx) {
      float* dxr = dx + (size_t)r * cols;
#pragma omp simd
      for (int c = 0; c < cols; ++c) dxr[c] = rs * (dyr[c] * weight[c] - xr[c] * rs * meanDot);
    }
    if (dweight)
#pragma omp simd
      for (int c = 0; c < cols; ++c) dweight[c] += dyr[c] * xr[c] * rs;
  }
}

ELDER_SIMD_CLONES
static void softmaxRowsSerial(float* x, int count, int rows, int cols, int causalOffset) {
  for (int m = 0; m < count; ++m) {
    for (int r = 0; r < rows; ++r) {
      float* row = x + ((size_t)m * rows + r) * cols;
      const int visible = causalOffset >= 0 && causalOffset + r + 1 < cols ? causalOffset + r + 1 : cols;
      float maxValue = row[0];
#pragma omp simd reduction(max : maxValue)
      for (int c = 1; c < visible; ++c) maxValue = vmax(maxValue, row[c]);
      float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
      for (int c = 0; c < visible; ++c) {
        row[c] = vexp(row[c] - maxValue);
        sum += row[c];
      }
      const float inv = 1.0f / sum;
      for (int c = 0; c < visible; ++c) row[c] *= inv;
      for (int c = visible; c < cols; ++c) row[c] = 0.0f;
    }
  }
}

ELDER_SIMD_CLONES
void softmaxBackwardRows(const float* p, const float* dp, float* dx, size_t rows, int cols) {
  for (size_t r = 0; r < rows; ++r) {
    const float* pr = p + r * cols;
    const float* dpr = dp + r * cols;
    float* dxr = dx + r * cols;
    float dot = 0.0f;
    for (int c = 0; c < cols; ++c) dot += pr[c] * dpr[c];
    for (int c = 0; c < cols; ++c) dxr[c] = pr[c] * (dpr[c] - dot);
  }
}

ELDER_SIMD_CLONES
static void crossEntropyForwardRows(const float* logits, const int32_t* targets, float* losses, float* lse,
                         int rows, int cols) {
  for (int r = 0; r < rows; ++r) {
    const float* row = logits + (size_t)r * cols;
    float maxValue = row[0];
#pragma omp simd reduction(max : maxValue)
    for (int c = 1; c < cols; ++c) maxValue = vmax(maxValue, row[c]);
    // float partial sums in SIMD lanes: each term is ≤ 1, so float accumulation loses nothing that matters.
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int c = 0; c < cols; ++c) sum += vexp(row[c] - maxValue);
    const float logSumExp = maxValue + std::log(sum);
    lse[r] = logSumExp;
    losses[r] = logSumExp - row[targets[r]];
  }
}

ELDER_SIMD_CLONES
static void crossEntropyBackwardRows(const float* logits, const int32_t* targets, const float* lse,
                          const float* rowScale, float* dlogits, int rows, int cols) {
  for (int r = 0; r < rows; ++r) {
    const float* row = logits + (size_t)r * cols;
    float* drow = dlogits + (size_t)r * cols;
    const float scale = rowScale[r];
    const float logSumExp = lse[r];
#pragma omp simd
    for (int c = 0; c < cols; ++c) drow[c] = scale * vexp(row[c] - logSumExp);
    drow[targets[r]] -= scale;
  }
}

ELDER_SIMD_CLONES
static void adamStepSpan(float* param, const float* grad, float* m, float* v, size_t n, float lr, float beta1,
              float beta2, float eps, float weightDecay, int step) {
  const float correction1 = 1.0f - std::pow(beta1, (float)step);
  const float correction2 = 1.0f - std::pow(beta2, (float)step);
#pragma omp simd
  for (size_t i = 0; i < n; ++i) {
    const float g = grad[i];
    m[i] = beta1 * m[i] + (1.0f - beta1) * g;
    v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
    const float mHat = m[i] / correction1;
    const float vHat = v[i] / correction2;
    // Decoupled weight decay (AdamW); weightDecay = 0 gives plain Adam.
    param[i] -= lr * (mHat / (std::sqrt(vHat) + eps) + weightDecay * param[i]);
  }
}

// Threaded entry points: each splits its elements or rows into chunks that the
// cloned loops above run on the addon's threads (the work estimates are in
// rough element-operations, for parallelFor's start-a-thread threshold).
static constexpr size_t kChunk = 1 << 14;

template <typename F>
static void parallelSpans(size_t n, double costPerElement, F&& fn) {
  const int tasks = (int)((n + kChunk - 1) / kChunk);
  parallelFor(tasks, n * costPerElement, [&](int t) {
    const size_t begin = (size_t)t * kChunk;
    fn(begin, std::min(n, begin + kChunk));
  });
}

// Rows per task so that a task holds about kChunk elements.
template <typename F>
static void parallelRows(int rows, int cols, double costPerElement, F&& fn) {
  const int perTask = std::max(1, (int)(kChunk / std::max(cols, 1)));
  const int tasks = (rows + perTask - 1) / perTask;
  parallelFor(tasks, (double)rows * cols * costPerElement, [&](int t) {
    const int begin = t * perTask;
    fn(begin, std::min(rows, begin + perTask));
  });
}

void geluForward(const float* x, float* y, size_t n) {
  parallelSpans(n, 20, [&](size_t b, size_t e) { geluForwardSpan(x + b, y + b, e - b); });
}

void geluBackward(const float* x, const float* dy, float* dx, size_t n) {
  parallelSpans(n, 25, [&](size_t b, size_t e) { geluBackwardSpan(x + b, dy + b, dx + b, e - b); });
}

void siluMulForward(const float* gate, const float* up, float* y, size_t n) {
  parallelSpans(n, 20, [&](size_t b, size_t e) { siluMulForwardSpan(gate + b, up + b, y + b, e - b); });
}

void siluMulBackward(const float* gate, const float* up, const float* dy, float* dgate, float* dup,
                     size_t n) {
  parallelSpans(n, 25, [&](size_t b, size_t e) {
    siluMulBackwardSpan(gate + b, up + b, dy + b, dgate + b, dup + b, e - b);
  });
}

void softmaxRows(float* x, int count, int rows, int cols, int causalOffset) {
  if (causalOffset >= 0) {
    // The causal offset counts from each matrix's first row, so split by matrix.
    parallelFor(count, (double)count * rows * cols * 20, [&](int m) {
      softmaxRowsSerial(x + (size_t)m * rows * cols, 1, rows, cols, causalOffset);
    });
    return;
  }
  parallelRows(count * rows, cols, 20, [&](int b, int e) {
    softmaxRowsSerial(x + (size_t)b * cols, 1, e - b, cols, -1);
  });
}

void crossEntropyForward(const float* logits, const int32_t* targets, float* losses, float* lse,
                         int rows, int cols) {
  parallelRows(rows, cols, 20, [&](int b, int e) {
    crossEntropyForwardRows(logits + (size_t)b * cols, targets + b, losses + b, lse + b, e - b, cols);
  });
}

void crossEntropyBackward(const float* logits, const int32_t* targets, const float* lse,
                          const float* rowScale, float* dlogits, int rows, int cols) {
  parallelRows(rows, cols, 20, [&](int b, int e) {
    crossEntropyBackwardRows(logits + (size_t)b * cols, targets + b, lse + b, rowScale + b,
                             dlogits + (size_t)b * cols, e - b, cols);
  });
}

void adamStep(float* param, const float* grad, float* m, float* v, size_t n, float lr, float beta1,
              float beta2, float eps, float weightDecay, int step) {
  parallelSpans(n, 15, [&](size_t b, size_t e) {
    adamStepSpan(param + b, grad + b, m + b, v + b, e - b, lr, beta1, beta2, eps, weightDecay, step);
  });
}

ELDER_SIMD_CLONES
static double sumSquaresSpan(const float* x, size_t n) {
  // Float lanes over a chunk of at most kChunk elements, then double across chunks.
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (size_t i = 0; i < n; ++i) sum += x[i] * x[i];
  return sum;
}

double sumSquares(const float* x, size_t n) {
  const int tasks = (int)((n + kChunk - 1) / kChunk);
  std::vector<double> partial(tasks, 0.0);
  parallelFor(tasks, n * 2.0, [&](int t) {
    const size_t begin = (size_t)t * kChunk;
    partial[t] = sumSquaresSpan(x + begin, std::min(n, begin + kChunk) - begin);
  });
  double sum = 0.0;
  for (double p : partial) sum += p;  // fixed order: the result does not depend on the thread count
  return sum;
}

ELDER_SIMD_CLONES
static void scaleSpan(float* x, size_t n, float factor) {
#pragma omp simd
  for (size_t i = 0; i < n; ++i) x[i] *= factor;
}

void scaleInPlace(float* x, size_t n, float factor) {
  parallelSpans(n, 2, [&](size_t b, size_t e) { scaleSpan(x + b, e - b, factor); });
}

ELDER_SIMD_CLONES
void addColumnSums(const float* x, int rows, int cols, float* sums) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + (size_t)r * cols;
#pragma omp simd
    for (int c = 0; c < cols; ++c) sums[c] += xr[c];
  }
}

}  // namespace elder

namespace elder {

// The clone the loader picks for ELDER_SIMD_CLONES on this CPU, reported by the same
// dispatch (function multi-versioning with the same targets), so `elder info` and the
// tests see what the kernels run, not what the CPU could run.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target("default"))) const char* simdVersion() { return "x86-64 baseline (SSE2)"; }
__attribute__((target("arch=x86-64-v3"))) const char* simdVersion() { return "x86-64-v3 (AVX2, FMA)"; }
#ifndef ELDER_AVX2_ONLY
__attribute__((target("arch=x86-64-v4"))) const char* simdVersion() { return "x86-64-v4 (AVX-512)"; }
#endif
#else
const char* simdVersion() { return "compiler default (no clones on this platform)"; }
#endif

// GCC dispatches a multi-versioned call only where every version is in sight: here.
const char* simdClone() { return simdVersion(); }

}  // namespace elder
