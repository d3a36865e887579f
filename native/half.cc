// Frozen weights kept as the checkpoint stores them (F16 or BF16 bits): the
// products convert the weight to float32 inside the kernel, panel by panel,
// so a weight is never upcast whole; a product of a few rows (one decoding
// step) streams the weight once; and a scan checks mapped tensors for
// non-finite values in place.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>
#include <vector>

#include "fast_math.h"
#include "half.h"
#include "kernels.h"
#include "parallel.h"

namespace elder {

namespace {

float f16Scalar(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000 | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    // Subnormal half: normalise into a float32 exponent.
    exponent = 113;
    while ((mantissa & 0x400) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    bits = sign | (exponent << 23) | ((mantissa & 0x3ff) << 13);
  }
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

void f16Portable(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = f16Scalar(src[i]);
}

__attribute__((target("avx2,f16c"))) void f16Avx2(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(src + i))));
  for (; i < n; ++i) dst[i] = f16Scalar(src[i]);
}

__attribute__((target("avx512f"))) void f16Avx512(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(src + i))));
  for (; i < n; ++i) dst[i] = f16Scalar(src[i]);
}

// BF16 is the top half of a float32; the shift vectorises in every clone.
ELDER_SIMD_CLONES
void bf16Convert(const uint16_t* src, float* dst, size_t n) {
  uint32_t* out = reinterpret_cast<uint32_t*>(dst);
#pragma omp simd
  for (size_t i = 0; i < n; ++i) out[i] = (uint32_t)src[i] << 16;
}

using Converter = void (*)(const uint16_t*, float*, size_t);

// The vector level the hand-written kernels use: 2 for AVX-512 (F, BW, VL),
// 1 for AVX2 with FMA and F16C, 0 for neither. The AVX2 build of the addon
// (kernels.h) stops at 1.
int simdLevel() {
  static const int level = [] {
    __builtin_cpu_init();
#ifndef ELDER_AVX2_ONLY
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) return 2;
#endif
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) return 1;
    return 0;
  }();
  return level;
}

// The F16 converter for this CPU.
Converter pickF16() {
  const int level = simdLevel();
  return level == 2 ? f16Avx512 : level == 1 ? f16Avx2 : f16Portable;
}

const Converter kF16 = pickF16();

// Rows of a few-row product handled per task, and the span of the inner
// dimension converted at a time (stays in L1 beside the rows of A).
constexpr int kRowsPerTask = 64;
constexpr int kSpan = 512;
// Panels for the sgemm path: about this many float32 values converted at once.
constexpr size_t kPanelValues = size_t(1) << 18;

// out[m] = Σ_k a[m·lda + k]·w[k] for m < M, over one converted span.
ELDER_SIMD_CLONES
void dotSpan(const float* a, int lda, int M, const float* w, int n, float* out) {
  for (int m = 0; m < M; ++m) {
    const float* row = a + (size_t)m * lda;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int k = 0; k < n; ++k) sum += row[k] * w[k];
    out[m] += sum;
  }
}

// acc[m·width + j] += a[m·lda]·w[j] for m < M.
ELDER_SIMD_CLONES
void axpySpan(const float* a, int lda, int M, const float* w, int width, float* acc) {
  for (int m = 0; m < M; ++m) {
    const float scale = a[(size_t)m * lda];
    float* out = acc + (size_t)m * width;
#pragma omp simd
    for (int j = 0; j < width; ++j) out[j] += scale * w[j];
  }
}

// total[i] += part[i] for i < n.
ELDER_SIMD_CLONES
void addInto(float* total, const float* part, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; ++i) total[i] += part[i];
}

inline void store(float* c, float value, float beta) { *c = beta == 0.0f ? value : value + beta * *c; }

// Streaming few-row kernels: out rows n0..n1 of C = A·Bᵀ for M rows of A,
// each value of B converted in registers and used for every row of A. R rows
// of B advance together, so the M·R accumulators hide the FMA latency.
template <bool BF16>
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) inline __m512 convert512(__m256i bits) {
  if constexpr (BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
  else return _mm512_cvtph_ps(bits);
}

template <bool BF16>
__attribute__((target("avx2,fma,f16c"), always_inline)) inline __m256 convert256(__m128i bits) {
  if constexpr (BF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(bits), 16));
  else return _mm256_cvtph_ps(bits);
}

template <int M, int R, bool BF16>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void streamRows512(const float* A, int lda, const uint16_t* B, int ldb,
                                                                int K, int n0, int n1, float* C, int ldc, float beta) {
  const int tail = K % 16;
  const __mmask16 tailMask = (__mmask16)((1u << tail) - 1);
  int n = n0;
  for (; n + R <= n1; n += R) {
    __m512 acc[M][R];
    for (int m = 0; m < M; ++m)
      for (int r = 0; r < R; ++r) acc[m][r] = _mm512_setzero_ps();
    int k = 0;
    for (; k + 16 <= K; k += 16) {
      __m512 w[R];
      for (int r = 0; r < R; ++r) w[r] = convert512<BF16>(_mm256_loadu_si256((const __m256i*)(B + (size_t)(n + r) * ldb + k)));
      for (int m = 0; m < M; ++m) {
        const __m512 x = _mm512_loadu_ps(A + (size_t)m * lda + k);
        for (int r = 0; r < R; ++r) acc[m][r] = _mm512_fmadd_ps(x, w[r], acc[m][r]);
      }
    }
    if (tail != 0) {
      __m512 w[R];
      for (int r = 0; r < R; ++r) w[r] = convert512<BF16>(_mm256_maskz_loadu_epi16(tailMask, B + (size_t)(n + r) * ldb + k));
      for (int m = 0; m < M; ++m) {
        const __m512 x = _mm512_maskz_loadu_ps(tailMask, A + (size_t)m * lda + k);
        for (int r = 0; r < R; ++r) acc[m][r] = _mm512_fmadd_ps(x, w[r], acc[m][r]);
      }
    }
    for (int m = 0; m < M; ++m)
      for (int r = 0; r < R; ++r) store(C + (size_t)m * ldc + n + r, _mm512_reduce_add_ps(acc[m][r]), beta);
  }
  if (n < n1) streamRows512<M, 1, BF16>(A, lda, B, ldb, K, n, n1, C, ldc, beta);
}

template <int M, int R, bool BF16>
__attribute__((target("avx2,fma,f16c"))) void streamRows256(const float* A, int lda, const uint16_t* B, int ldb,
                                                             int K, int n0, int n1, float* C, int ldc, float beta) {
  const int body = K - K % 8;
  int n = n0;
  for (; n + R <= n1; n += R) {
    __m256 acc[M][R];
    for (int m = 0; m < M; ++m)
      for (int r = 0; r < R; ++r) acc[m][r] = _mm256_setzero_ps();
    for (int k = 0; k < body; k += 8) {
      __m256 w[R];
      for (int r = 0; r < R; ++r) w[r] = convert256<BF16>(_mm_loadu_si128((const __m128i*)(B + (size_t)(n + r) * ldb + k)));
      for (int m = 0; m < M; ++m) {
        const __m256 x = _mm256_loadu_ps(A + (size_t)m * lda + k);
        for (int r = 0; r < R; ++r) acc[m][r] = _mm256_fmadd_ps(x, w[r], acc[m][r]);
      }
    }
    for (int m = 0; m < M; ++m)
      for (int r = 0; r < R; ++r) {
        __m128 half = _mm_add_ps(_mm256_castps256_ps128(acc[m][r]), _mm256_extractf128_ps(acc[m][r], 1));
        half = _mm_add_ps(half, _mm_movehl_ps(half, half));
        half = _mm_add_ss(half, _mm_shuffle_ps(half, half, 1));
        float sum = _mm_cvtss_f32(half);
        const uint16_t* row = B + (size_t)(n + r) * ldb;
        for (int k = body; k < K; ++k) {
          float w;
          halfToFloat(row + k, BF16 ? HalfDtype::BF16 : HalfDtype::F16, &w, 1);
          sum += A[(size_t)m * lda + k] * w;
        }
        store(C + (size_t)m * ldc + n + r, sum, beta);
      }
  }
  if (n < n1) streamRows256<M, 1, BF16>(A, lda, B, ldb, K, n, n1, C, ldc, beta);
}

using StreamKernel = void (*)(const float*, int, const uint16_t*, int, int, int, int, float*, int, float);

// Rows of B advanced together for M rows of A (8 accumulators for one row of A).
template <int M>
constexpr int rowsTogether() {
  return M == 1 ? 8 : M <= 2 ? 4 : 2;
}

template <bool BF16, size_t... I>
std::array<StreamKernel, sizeof...(I)> table512(std::index_sequence<I...>) {
  return {&streamRows512<I + 1, rowsTogether<I + 1>(), BF16>...};
}
template <bool BF16, size_t... I>
std::array<StreamKernel, sizeof...(I)> table256(std::index_sequence<I...>) {
  return {&streamRows256<I + 1, rowsTogether<I + 1>(), BF16>...};
}

// The streaming kernel for M rows of A, or null where this CPU (or this build) has neither AVX-512 nor AVX2.
StreamKernel streamKernel(int M, HalfDtype dtype) {
  const int level = simdLevel();
  static const auto bf512 = table512<true>(std::make_index_sequence<kMaxFewRows>());
  static const auto f512 = table512<false>(std::make_index_sequence<kMaxFewRows>());
  static const auto bf256 = table256<true>(std::make_index_sequence<kMaxFewRows>());
  static const auto f256 = table256<false>(std::make_index_sequence<kMaxFewRows>());
  const bool bf = dtype == HalfDtype::BF16;
  if (level == 2) return (bf ? bf512 : f512)[M - 1];
  if (level == 1) return (bf ? bf256 : f256)[M - 1];
  return nullptr;
}

// acc[m·width + j] += Σ_r a[m·lda + r]·float(rows[r·ldb + j]) for m < M, r < R,
// j < width: R consecutive rows of a half-precision B converted in registers
// and read once, contiguously; the sums (in L1) are loaded and stored once
// per R rows.
template <int R, bool BF16>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void accumulateRows512(const float* a, int lda, int M,
                                                                             const uint16_t* rows, int ldb, int width,
                                                                             float* acc) {
  for (int j = 0; j < width; j += 16) {
    const __mmask16 mask = width - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (width - j)) - 1);
    __m512 w[R];
    for (int r = 0; r < R; ++r) w[r] = convert512<BF16>(_mm256_maskz_loadu_epi16(mask, rows + (size_t)r * ldb + j));
    for (int m = 0; m < M; ++m) {
      float* out = acc + (size_t)m * width + j;
      __m512 sum = _mm512_maskz_loadu_ps(mask, out);
      for (int r = 0; r < R; ++r) sum = _mm512_fmadd_ps(_mm512_set1_ps(a[(size_t)m * lda + r]), w[r], sum);
      _mm512_mask_storeu_ps(out, mask, sum);
    }
  }
}

template <int R, bool BF16>
__attribute__((target("avx2,fma,f16c"))) void accumulateRows256(const float* a, int lda, int M, const uint16_t* rows,
                                                                 int ldb, int width, float* acc) {
  int j = 0;
  for (; j + 8 <= width; j += 8) {
    __m256 w[R];
    for (int r = 0; r < R; ++r) w[r] = convert256<BF16>(_mm_loadu_si128((const __m128i*)(rows + (size_t)r * ldb + j)));
    for (int m = 0; m < M; ++m) {
      float* out = acc + (size_t)m * width + j;
      __m256 sum = _mm256_loadu_ps(out);
      for (int r = 0; r < R; ++r) sum = _mm256_fmadd_ps(_mm256_set1_ps(a[(size_t)m * lda + r]), w[r], sum);
      _mm256_storeu_ps(out, sum);
    }
  }
  for (; j < width; ++j)
    for (int r = 0; r < R; ++r) {
      float w;
      halfToFloat(rows + (size_t)r * ldb + j, BF16 ? HalfDtype::BF16 : HalfDtype::F16, &w, 1);
      for (int m = 0; m < M; ++m) acc[(size_t)m * width + j] += a[(size_t)m * lda + r] * w;
    }
}

// Rows of B taken together by the fused accumulators.
constexpr int kRowsTogether = 4;

using RowAccumulator = void (*)(const float*, int, int, const uint16_t*, int, int, float*);

// The fused accumulator of kRowsTogether rows (or of one, `single`) for this CPU and build, or null: convert, then axpySpan.
RowAccumulator rowAccumulator(HalfDtype dtype, bool single) {
  const int level = simdLevel();
  const bool bf = dtype == HalfDtype::BF16;
  if (level == 0) return nullptr;
  if (level == 2)
    return single ? (bf ? accumulateRows512<1, true> : accumulateRows512<1, false>)
                  : (bf ? accumulateRows512<kRowsTogether, true> : accumulateRows512<kRowsTogether, false>);
  return single ? (bf ? accumulateRows256<1, true> : accumulateRows256<1, false>)
                : (bf ? accumulateRows256<kRowsTogether, true> : accumulateRows256<kRowsTogether, false>);
}

// C = A·Bᵀ + beta·C with B [N, K] half, for few rows of A: each task takes
// kRowsPerTask rows of B and reads each once.
void fewRowsTransB(int M, int N, int K, const float* A, int lda, const uint16_t* B, HalfDtype dtype,
                   int ldb, float beta, float* C, int ldc) {
  const int tasks = (N + kRowsPerTask - 1) / kRowsPerTask;
  if (StreamKernel kernel = streamKernel(M, dtype)) {
    parallelFor(tasks, 2.0 * M * N * (double)K, [&](int task) {
      kernel(A, lda, B, ldb, K, task * kRowsPerTask, std::min(N, (task + 1) * kRowsPerTask), C, ldc, beta);
    }, 5e5);
    return;
  }
  parallelFor(tasks, 2.0 * M * N * (double)K, [&](int task) {
    float span[kSpan];
    float sums[kMaxFewRows];
    const int end = std::min(N, (task + 1) * kRowsPerTask);
    for (int n = task * kRowsPerTask; n < end; ++n) {
      std::fill(sums, sums + M, 0.0f);
      const uint16_t* row = B + (size_t)n * ldb;
      for (int k0 = 0; k0 < K; k0 += kSpan) {
        const int width = std::min(kSpan, K - k0);
        halfToFloat(row + k0, dtype, span, width);
        dotSpan(A + k0, lda, M, span, width, sums);
      }
      for (int m = 0; m < M; ++m) store(C + (size_t)m * ldc + n, sums[m], beta);
    }
  }, 5e5);
}

// C = A·B + beta·C with B [K, N] half, for few rows of A: each task takes a
// chunk of B's rows and reads it once, contiguously, into partial sums of
// its own; the partials are added in chunk order, so the result is the same
// whatever the thread count.
void fewRowsNoTrans(int M, int N, int K, const float* A, int lda, const uint16_t* B, HalfDtype dtype,
                    int ldb, float beta, float* C, int ldc) {
  constexpr int kMaxChunks = 32;
  const int chunkRows = std::max(64, (K + kMaxChunks - 1) / kMaxChunks);
  const int chunks = (K + chunkRows - 1) / chunkRows;
  const size_t perChunk = (size_t)M * N;
  std::vector<float> partial((size_t)chunks * perChunk);
  const RowAccumulator together = rowAccumulator(dtype, false), single = rowAccumulator(dtype, true);
  parallelFor(chunks, 2.0 * M * N * (double)K, [&](int chunk) {
    float* acc = partial.data() + (size_t)chunk * perChunk;
    std::fill(acc, acc + perChunk, 0.0f);
    const int end = std::min(K, (chunk + 1) * chunkRows);
    int k = chunk * chunkRows;
    if (together != nullptr) {
      for (; k + kRowsTogether <= end; k += kRowsTogether) together(A + k, lda, M, B + (size_t)k * ldb, ldb, N, acc);
      for (; k < end; ++k) single(A + k, lda, M, B + (size_t)k * ldb, ldb, N, acc);
    }
    std::vector<float> row(k < end ? N : 0);
    for (; k < end; ++k) {
      halfToFloat(B + (size_t)k * ldb, dtype, row.data(), N);
      axpySpan(A + k, lda, M, row.data(), N, acc);
    }
  }, 5e5);
  float* total = partial.data();
  for (int chunk = 1; chunk < chunks; ++chunk) addInto(total, partial.data() + (size_t)chunk * perChunk, perChunk);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) store(C + (size_t)m * ldc + n, total[(size_t)m * N + n], beta);
}

// The sgemm path: tasks convert panels of B into their own buffer and run a
// serial sgemm on each, so conversion and product both spread over threads.
void panels(bool transB, int M, int N, int K, const float* A, int lda, const uint16_t* B, HalfDtype dtype,
            int ldb, float beta, float* C, int ldc) {
  // A panel spans `block` columns of C: rows of B when transposed, else columns.
  const int block = std::max<int>(16, (int)std::min<size_t>((size_t)N, kPanelValues / std::max(1, K)) & ~15);
  const int count = (N + block - 1) / block;
  SerialSgemm serial;
  parallelFor(count, 2.0 * M * N * (double)K, [&](int task) {
    const int n0 = task * block;
    const int width = std::min(block, N - n0);
    std::vector<float> panel((size_t)width * K);
    if (transB) {
      for (int n = 0; n < width; ++n) halfToFloat(B + (size_t)(n0 + n) * ldb, dtype, panel.data() + (size_t)n * K, K);
      sgemm(false, true, M, width, K, 1.0f, A, lda, panel.data(), K, beta, C + n0, ldc);
    } else {
      for (int k = 0; k < K; ++k) halfToFloat(B + (size_t)k * ldb + n0, dtype, panel.data() + (size_t)k * width, width);
      sgemm(false, false, M, width, K, 1.0f, A, lda, panel.data(), width, beta, C + n0, ldc);
    }
  }, 1e6);
}

// Index of the first value in [begin, end) whose exponent bits are all set
// (infinity or NaN), or -1: blocks are tested with a vectorised count first.
template <typename Bits>
ELDER_ALWAYS_INLINE int64_t scanExponent(const Bits* bits, size_t begin, size_t end, Bits mask) {
  for (size_t b = begin; b < end; b += 1024) {
    const size_t stop = std::min(end, b + 1024);
    int hits = 0;
#pragma omp simd reduction(+ : hits)
    for (size_t i = b; i < stop; ++i) hits += (bits[i] & mask) == mask;
    if (hits == 0) continue;
    for (size_t i = b; i < stop; ++i)
      if ((bits[i] & mask) == mask) return (int64_t)i;
  }
  return -1;
}

// The scan compiled per x86-64 level (a template cannot carry target_clones itself).
ELDER_SIMD_CLONES
int64_t scan16(const uint16_t* bits, size_t begin, size_t end, uint16_t mask) { return scanExponent(bits, begin, end, mask); }

ELDER_SIMD_CLONES
int64_t scan32(const uint32_t* bits, size_t begin, size_t end, uint32_t mask) { return scanExponent(bits, begin, end, mask); }

}  // namespace

void halfToFloat(const uint16_t* src, HalfDtype dtype, float* dst, size_t n) {
  if (dtype == HalfDtype::BF16) bf16Convert(src, dst, n);
  else kF16(src, dst, n);
}

void halfToFloatParallel(const uint16_t* src, HalfDtype dtype, float* dst, size_t n) {
  const size_t chunk = size_t(1) << 20;
  const int tasks = (int)((n + chunk - 1) / chunk);
  parallelFor(tasks, 4.0 * (double)n, [&](int task) {
    const size_t begin = (size_t)task * chunk;
    halfToFloat(src + begin, dtype, dst + begin, std::min(chunk, n - begin));
  });
}

void sgemmHalfB(bool transB, int M, int N, int K, const float* A, int lda, const uint16_t* B, HalfDtype dtype,
                int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (K == 0) {
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) store(C + (size_t)m * ldc + n, 0.0f, beta);
    return;
  }
  if (M <= kMaxFewRows) {
    if (transB) fewRowsTransB(M, N, K, A, lda, B, dtype, ldb, beta, C, ldc);
    else fewRowsNoTrans(M, N, K, A, lda, B, dtype, ldb, beta, C, ldc);
    return;
  }
  panels(transB, M, N, K, A, lda, B, dtype, ldb, beta, C, ldc);
}

int64_t firstNonFinite(const void* data, StoredKind kind, size_t count) {
  const size_t chunk = size_t(1) << 22;
  const int tasks = (int)((count + chunk - 1) / chunk);
  std::vector<int64_t> found(std::max(1, tasks), -1);
  parallelFor(tasks, 2.0 * (double)count, [&](int task) {
    const size_t begin = (size_t)task * chunk;
    const size_t end = std::min(count, begin + chunk);
    if (kind == StoredKind::F32) {
      const uint32_t* bits = static_cast<const uint32_t*>(data);
      found[task] = scan32(bits, begin, end, 0x7f800000u);
    } else {
      const uint16_t* bits = static_cast<const uint16_t*>(data);
      found[task] = scan16(bits, begin, end, kind == StoredKind::F16 ? (uint16_t)0x7c00 : (uint16_t)0x7f80);
    }
  });
  for (int64_t index : found)
    if (index >= 0) return index;
  return -1;
}

}  // namespace elder
