// Elementwise and row-wise kernels: the loops that dominate once sgemm is fast
// (GELU over the FFN width, softmax over attention rows and the vocabulary).
#include <algorithm>
#include <cmath>

#include "fast_math.h"
#include "kernels.h"

namespace elder {

static constexpr float kGeluC = 0.7978845608028654f;  // sqrt(2 / pi)
static constexpr float kGeluA = 0.044715f;

// 0.5·(1 + tanh(u)) = σ(2u): GELU as v·σ(2u) needs one vectorisable exp and,
// unlike 1 + tanh(u), does not cancel for large negative inputs.
ELDER_SIMD_CLONES
void geluForward(const float* x, float* y, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float u = kGeluC * (v + kGeluA * v * v * v);
    y[i] = v / (1.0f + vexp(-2.0f * u));
  }
}

// d/dv [v·σ(2u)] = σ(2u) + 2·v·σ(2u)·(1 − σ(2u))·u'(v).
ELDER_SIMD_CLONES
void geluBackward(const float* x, const float* dy, float* dx, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float u = kGeluC * (v + kGeluA * v * v * v);
    const float s = 1.0f / (1.0f + vexp(-2.0f * u));
    const float dInner = kGeluC * (1.0f + 3.0f * kGeluA * v * v);
    dx[i] = dy[i] * (s + 2.0f * v * s * (1.0f - s) * dInner);
  }
}

static inline float sigmoid(float v) { return 1.0f / (1.0f + vexp(-v)); }

ELDER_SIMD_CLONES
void siluMulForward(const float* gate, const float* up, float* y, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; ++i) y[i] = gate[i] * sigmoid(gate[i]) * up[i];
}

ELDER_SIMD_CLONES
void siluMulBackward(const float* gate, const float* up, const float* dy, float* dgate, float* dup,
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
    double sum = 0.0;
    for (int c = 0; c < cols; ++c) sum += xr[c];
    const float mu = (float)(sum / cols);
    double sq = 0.0;
    for (int c = 0; c < cols; ++c) {
      const float d = xr[c] - mu;
      sq += (double)d * d;
    }
    const float rs = 1.0f / std::sqrt((float)(sq / cols) + eps);
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
    double meanDxhat = 0.0, meanDxhatXhat = 0.0;
    for (int c = 0; c < cols; ++c) {
      const float xhat = (xr[c] - mu) * rs;
      const float dxhat = dyr[c] * gamma[c];
      meanDxhat += dxhat;
      meanDxhatXhat += (double)dxhat * xhat;
    }
    meanDxhat /= cols;
    meanDxhatXhat /= cols;
    if (dx) {
      float* dxr = dx + (size_t)r * cols;
      for (int c = 0; c < cols; ++c) {
        const float xhat = (xr[c] - mu) * rs;
        const float dxhat = dyr[c] * gamma[c];
        dxr[c] = rs * (dxhat - (float)meanDxhat - xhat * (float)meanDxhatXhat);
      }
    }
    if (dgamma)
      for (int c = 0; c < cols; ++c) dgamma[c] += dyr[c] * (xr[c] - mu) * rs;
    if (dbeta)
      for (int c = 0; c < cols; ++c) dbeta[c] += dyr[c];
  }
}

ELDER_SIMD_CLONES
void rmsNormForward(const float* x, const float* weight, float* y, float* rstd, int rows, int cols,
                    float eps) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + (size_t)r * cols;
    float* yr = y + (size_t)r * cols;
    double sq = 0.0;
    for (int c = 0; c < cols; ++c) sq += (double)xr[c] * xr[c];
    const float rs = 1.0f / std::sqrt((float)(sq / cols) + eps);
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
    double dot = 0.0;
    for (int c = 0; c < cols; ++c) dot += (double)dyr[c] * weight[c] * xr[c] * rs;
    const float meanDot = (float)(dot / cols);
    if (dx) {
      float* dxr = dx + (size_t)r * cols;
      for (int c = 0; c < cols; ++c) dxr[c] = rs * (dyr[c] * weight[c] - xr[c] * rs * meanDot);
    }
    if (dweight)
      for (int c = 0; c < cols; ++c) dweight[c] += dyr[c] * xr[c] * rs;
  }
}

ELDER_SIMD_CLONES
void softmaxRows(float* x, int count, int rows, int cols, int causalOffset) {
  for (int m = 0; m < count; ++m) {
    for (int r = 0; r < rows; ++r) {
      float* row = x + ((size_t)m * rows + r) * cols;
      const int visible = causalOffset >= 0 ? std::min(cols, causalOffset + r + 1) : cols;
      float maxValue = row[0];
      for (int c = 1; c < visible; ++c) maxValue = std::max(maxValue, row[c]);
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
void crossEntropyForward(const float* logits, const int32_t* targets, float* losses, float* lse,
                         int rows, int cols) {
  for (int r = 0; r < rows; ++r) {
    const float* row = logits + (size_t)r * cols;
    float maxValue = row[0];
    for (int c = 1; c < cols; ++c) maxValue = std::max(maxValue, row[c]);
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
void crossEntropyBackward(const float* logits, const int32_t* targets, const float* lse,
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
void adamStep(float* param, const float* grad, float* m, float* v, size_t n, float lr, float beta1,
              float beta2, float eps, float weightDecay, int step) {
  const float correction1 = 1.0f - std::pow(beta1, (float)step);
  const float correction2 = 1.0f - std::pow(beta2, (float)step);
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

}  // namespace elder
