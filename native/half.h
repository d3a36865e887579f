// Weights kept in their stored precision (half.cc): conversion to float32
// inside the kernels, products with a half-precision B, and scans of mapped
// checkpoint data.
#pragma once
#include <cstddef>
#include <cstdint>

namespace elder {

enum class HalfDtype : int { F16 = 1, BF16 = 2 };
enum class StoredKind : int { F32 = 0, F16 = 1, BF16 = 2 };

// Products with at most this many rows of A take the streaming path (each
// weight value read once, converted in registers' reach); more take panels
// converted for sgemm.
constexpr int kMaxFewRows = 8;

// dst[i] = float(src[i]) for i < n, vectorised for the CPU.
void halfToFloat(const uint16_t* src, HalfDtype dtype, float* dst, size_t n);
// The same split over the addon's threads (materialising a whole weight).
void halfToFloatParallel(const uint16_t* src, HalfDtype dtype, float* dst, size_t n);

// C = A·op(B) + beta·C, A [M, K] float32, B half-precision row-major, [N, K]
// when transB, else [K, N].
void sgemmHalfB(bool transB, int M, int N, int K, const float* A, int lda, const uint16_t* B, HalfDtype dtype,
                int ldb, float beta, float* C, int ldc);

// Index of the first infinity or NaN among `count` stored values, or -1.
int64_t firstNonFinite(const void* data, StoredKind kind, size_t count);

// linearCrossEntropy (kernels.h) over a half-precision head W [vocab, width].
void linearCrossEntropyHalf(const float* x, int rows, int width, const uint16_t* weight, HalfDtype dtype,
                            int vocab, const int32_t* targets, float* losses, int32_t* argmax, float* dx);

}  // namespace elder
