// Fused LM head and cross-entropy for a few rows against a large vocabulary,
// when the head's weight is frozen (editing). With 20 target rows and GPT-2's
// 50,257 × 768 head, the two products (logits = x·Wᵀ, then dx = dlogits·W)
// are bound by reading W's 154 MB twice, at a third of sgemm's rate. Here W is
// read once: each task walks a range of the vocabulary in chunks small enough
// to stay in cache, computes the chunk's logits, and folds them into an online
// softmax (as flash attention does over keys) that also accumulates
// Σ_v exp(l_v − m)·W_v. At the end, per row r:
//   loss_r = m + log s − l_target,  d loss_r / d x_r = acc / s − W_target.
// The logits are never materialised. Tasks split the vocabulary; their
// partial (m, s, acc) merge exactly.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "fast_math.h"
#include "half.h"
#include "kernels.h"
#include "parallel.h"

namespace elder {

namespace {

constexpr int kChunk = 256;  // vocabulary rows per product: 256 × 768 floats = 768 KB

struct Partial {
  std::vector<float> max, sum, acc, best;
  std::vector<int32_t> bestIndex;
  Partial(int rows, int width)
      : max(rows, -std::numeric_limits<float>::infinity()),
        sum(rows, 0.0f),
        acc((size_t)rows * width, 0.0f),
        best(rows, -std::numeric_limits<float>::infinity()),
        bestIndex(rows, -1) {}
};

// Folds one chunk of logits [rows, n] (overwritten by exp(l − m_new)) into
// the running max and sum; scales each row of acc by exp(m_old − m_new).
ELDER_SIMD_CLONES
void foldChunk(float* logits, int rows, int n, int first, Partial& p, int width) {
  for (int r = 0; r < rows; ++r) {
    float* row = logits + (size_t)r * n;
    float chunkMax = row[0];
    int chunkArg = 0;
    for (int c = 1; c < n; ++c)
      if (row[c] > chunkMax) {
        chunkMax = row[c];
        chunkArg = c;
      }
    if (chunkMax > p.best[r]) {
      p.best[r] = chunkMax;
      p.bestIndex[r] = first + chunkArg;
    }
    const float newMax = vmax(p.max[r], chunkMax);
    if (newMax > p.max[r]) {
      const float factor = p.sum[r] == 0.0f ? 0.0f : vexp(p.max[r] - newMax);
      p.sum[r] *= factor;
      float* a = p.acc.data() + (size_t)r * width;
#pragma omp simd
      for (int i = 0; i < width; ++i) a[i] *= factor;
      p.max[r] = newMax;
    }
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int c = 0; c < n; ++c) {
      row[c] = vexp(row[c] - newMax);
      sum += row[c];
    }
    p.sum[r] += sum;
  }
}

// The head's rows as float32: in place for a float32 head, converted into the
// caller's buffer for a half-precision one (so it is never upcast whole).
struct HeadRows {
  const float* f32;
  const uint16_t* half;
  HalfDtype dtype;
  int width;
  const float* rows(int first, int n, std::vector<float>& buffer) const {
    if (f32 != nullptr) return f32 + (size_t)first * width;
    buffer.resize((size_t)n * width);
    halfToFloat(half + (size_t)first * width, dtype, buffer.data(), (size_t)n * width);
    return buffer.data();
  }
};

void fusedHead(const float* x, int rows, int width, const HeadRows& head, int vocab, const int32_t* targets,
               float* losses, int32_t* argmax, float* dx);

}  // namespace

void linearCrossEntropy(const float* x, int rows, int width, const float* weight, int vocab,
                        const int32_t* targets, float* losses, int32_t* argmax, float* dx) {
  fusedHead(x, rows, width, HeadRows{weight, nullptr, HalfDtype::BF16, width}, vocab, targets, losses, argmax, dx);
}

void linearCrossEntropyHalf(const float* x, int rows, int width, const uint16_t* weight, HalfDtype dtype,
                            int vocab, const int32_t* targets, float* losses, int32_t* argmax, float* dx) {
  fusedHead(x, rows, width, HeadRows{nullptr, weight, dtype, width}, vocab, targets, losses, argmax, dx);
}

namespace {

void fusedHead(const float* x, int rows, int width, const HeadRows& head, int vocab, const int32_t* targets,
               float* losses, int32_t* argmax, float* dx) {
  const int chunks = (vocab + kChunk - 1) / kChunk;
  // Enough tasks to balance two or more threads; each keeps its own partial, whose
  // accumulator is rows × width floats: at most 16 M floats (64 MB) of them in all, so a
  // wide model's many rows (a 4,096-wide head, 1,000 rows) run in fewer tasks, not out of memory.
  const int64_t perTask = std::max<int64_t>(1, (int64_t)rows * width);
  const int byMemory = (int)std::max<int64_t>(1, (int64_t(1) << 24) / perTask);
  const int tasks = std::max(1, std::min({chunks, std::max(1, getThreads()) * 4, byMemory}));
  std::vector<Partial> partials(tasks, Partial(rows, width));
  {
    SerialSgemm serial;
    parallelFor(tasks, 4.0 * rows * width * (double)vocab, [&](int task) {
      const int firstChunk = (int)((int64_t)chunks * task / tasks);
      const int endChunk = (int)((int64_t)chunks * (task + 1) / tasks);
      std::vector<float> logits((size_t)rows * kChunk);
      std::vector<float> converted;
      Partial& p = partials[task];
      for (int chunk = firstChunk; chunk < endChunk; ++chunk) {
        const int first = chunk * kChunk;
        const int n = std::min(kChunk, vocab - first);
        const float* w = head.rows(first, n, converted);
        sgemm(false, true, rows, n, width, 1.0f, x, width, w, width, 0.0f, logits.data(), n);
        foldChunk(logits.data(), rows, n, first, p, width);
        sgemm(false, false, rows, width, n, 1.0f, logits.data(), n, w, width, 1.0f, p.acc.data(), width);
      }
    });
  }
  for (int r = 0; r < rows; ++r) {
    float max = -std::numeric_limits<float>::infinity();
    float best = -std::numeric_limits<float>::infinity();
    int32_t bestIndex = -1;
    for (const Partial& p : partials) {
      max = std::max(max, p.max[r]);
      if (p.best[r] > best || (p.best[r] == best && p.bestIndex[r] < bestIndex)) {
        best = p.best[r];
        bestIndex = p.bestIndex[r];
      }
    }
    double sum = 0.0;
    float* d = dx + (size_t)r * width;
    for (int i = 0; i < width; ++i) d[i] = 0.0f;
    for (const Partial& p : partials) {
      if (p.sum[r] == 0.0f) continue;
      const float factor = vexp(p.max[r] - max);
      sum += (double)p.sum[r] * factor;
      const float* a = p.acc.data() + (size_t)r * width;
      for (int i = 0; i < width; ++i) d[i] += factor * a[i];
    }
    std::vector<float> converted;
    const float* target = head.rows(targets[r], 1, converted);
    float targetLogit = 0.0f;
    const float* xr = x + (size_t)r * width;
    for (int i = 0; i < width; ++i) targetLogit += xr[i] * target[i];
    const float inverse = (float)(1.0 / sum);
    for (int i = 0; i < width; ++i) d[i] = d[i] * inverse - target[i];
    losses[r] = max + (float)std::log(sum) - targetLogit;
    argmax[r] = bestIndex;
  }
}

}  // namespace

}  // namespace elder
