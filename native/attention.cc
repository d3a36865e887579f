// Causal multi-head attention, forward and backward, one (batch, kv head)
// group per task. Heads are read in place from [B, T, ·] buffers through
// leading dimensions, so q, k and v may be separate tensors or column ranges
// of one fused qkv projection. Per head the work is a few 128×128×64 products:
// threaded inside sgemm they ran slower on two threads than on one, so here
// each head's products run serially and the heads run in parallel.
#include <limits>
#include <vector>

#include "kernels.h"
#include "parallel.h"

namespace elder {

void attentionForward(const AttentionViews& in, float* probs, int past, int keyStride, int window) {
  const AttentionDims& d = in.dims;
  const int span = past + d.steps;
  const int group = d.heads / d.kvHeads;
  const double work = 2.0 * d.batch * d.heads * d.steps * span * d.headDim;
  SerialSgemm serial;
  parallelFor(d.batch * d.kvHeads, work, [&](int task) {
    const int b = task / d.kvHeads, g = task % d.kvHeads;
    const float* keys = in.k + (size_t)b * keyStride * in.ldk + (size_t)g * d.headDim;
    const float* values = in.v + (size_t)b * keyStride * in.ldv + (size_t)g * d.headDim;
    for (int h = g * group; h < (g + 1) * group; ++h) {
      const float* q = in.q + (size_t)b * d.steps * in.ldq + (size_t)h * d.headDim;
      float* p = probs + ((size_t)b * d.heads + h) * d.steps * span;
      float* out = in.out + (size_t)b * d.steps * in.ldo + (size_t)h * d.headDim;
      sgemm(false, true, d.steps, span, d.headDim, d.scale, q, in.ldq, keys, in.ldk, 0.0f, p, span);
      // A sliding window hides keys more than window - 1 positions back: out of the softmax, then exactly 0.
      // Row t hides keys j < past + t + 1 - window.
      const int hidden = past + 1 - window;
      if (window > 0)
        for (int t = 0; t < d.steps; ++t)
          for (int j = 0; j < hidden + t; ++j) p[(size_t)t * span + j] = -std::numeric_limits<float>::infinity();
      softmaxRows(p, 1, d.steps, span, past);
      if (window > 0)
        for (int t = 0; t < d.steps; ++t)
          for (int j = 0; j < hidden + t; ++j) p[(size_t)t * span + j] = 0.0f;
      sgemm(false, false, d.steps, d.headDim, span, 1.0f, p, span, values, in.ldv, 0.0f, out, in.ldo);
    }
  });
}

void attentionBackward(const AttentionViews& in, const float* probs, const AttentionGrads& grads) {
  const AttentionDims& d = in.dims;
  const int steps = d.steps;
  const int group = d.heads / d.kvHeads;
  const double work = 4.0 * d.batch * d.heads * steps * steps * d.headDim;
  SerialSgemm serial;
  parallelFor(d.batch * d.kvHeads, work, [&](int task) {
    const int b = task / d.kvHeads, g = task % d.kvHeads;
    std::vector<float> dProbs((size_t)steps * steps), dScores((size_t)steps * steps);
    const size_t kvColumn = (size_t)g * d.headDim;
    const float* keys = in.k + (size_t)b * steps * in.ldk + kvColumn;
    const float* values = in.v + (size_t)b * steps * in.ldv + kvColumn;
    float* dk = grads.dk ? grads.dk + (size_t)b * steps * grads.ldk + kvColumn : nullptr;
    float* dv = grads.dv ? grads.dv + (size_t)b * steps * grads.ldv + kvColumn : nullptr;
    for (int h = g * group; h < (g + 1) * group; ++h) {
      const size_t qColumn = (size_t)h * d.headDim;
      const float* q = in.q + (size_t)b * steps * in.ldq + qColumn;
      const float* dOut = grads.dOut + (size_t)b * steps * in.ldo + qColumn;
      const float* p = probs + ((size_t)b * d.heads + h) * steps * steps;
      // dP = dO·Vᵀ ; dV += Pᵀ·dO ; dS = softmax'(dP) ; dQ += s·dS·K ; dK += s·dSᵀ·Q
      sgemm(false, true, steps, steps, d.headDim, 1.0f, dOut, in.ldo, values, in.ldv, 0.0f, dProbs.data(), steps);
      if (dv) sgemm(true, false, steps, d.headDim, steps, 1.0f, p, steps, dOut, in.ldo, 1.0f, dv, grads.ldv);
      softmaxBackwardRows(p, dProbs.data(), dScores.data(), (size_t)steps, steps);
      if (grads.dq) {
        float* dq = grads.dq + (size_t)b * steps * grads.ldq + qColumn;
        sgemm(false, false, steps, d.headDim, steps, d.scale, dScores.data(), steps, keys, in.ldk, 1.0f, dq, grads.ldq);
      }
      if (dk) sgemm(true, false, steps, d.headDim, steps, d.scale, dScores.data(), steps, q, in.ldq, 1.0f, dk, grads.ldk);
    }
  });
}

}  // namespace elder
