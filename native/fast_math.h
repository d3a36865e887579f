// A vectorisable expf. glibc only offers its SIMD expf under -ffast-math,
// which would also relax every other float rule in the addon; this one is
// plain arithmetic without calls or branches, so GCC vectorises the loops
// that use it at -O3 even for baseline x86-64 (no SSE4.1 rounding needed).
// Relative error is a few 1e-7. Inputs are clamped to [-87.3, 88.7]: below,
// the result is ~1e-38 instead of 0; above, ~3e38 instead of inf — harmless
// in softmax, sigmoid and GELU, the only places it is used.
//
// It is always inlined and calls nothing, not even std::min: the kernels that use
// it are compiled once per x86-64 level (ELDER_SIMD_CLONES), and GCC does not
// inline a baseline-target function into a clone of another arch. A call left
// in a loop keeps the loop scalar, as it did in the former Haswell clones.
#pragma once
#include <cstdint>
#include <cstring>

namespace elder {

#define ELDER_ALWAYS_INLINE __attribute__((always_inline)) inline

ELDER_ALWAYS_INLINE float vexp(float x) {
  const float kLog2e = 1.44269504088896341f;
  // ln 2 split in a high part exact in float and a low correction (Cody–Waite).
  const float kLn2Hi = 0.693359375f;
  const float kLn2Lo = -2.12194440e-4f;
  // Adding and subtracting 1.5·2^23 rounds to the nearest integer in float.
  const float kRound = 12582912.0f;
  x = x < -87.3f ? -87.3f : x;
  x = x > 88.7f ? 88.7f : x;
  const float n = (x * kLog2e + kRound) - kRound;
  const float r = (x - n * kLn2Hi) - n * kLn2Lo;  // |r| <= ln2 / 2
  // Minimax polynomial for e^r (Cephes expf coefficients).
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = ((int32_t)n + 127) << 23;  // 2^n
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

/** max(a, b) that inlines into every clone (see above). */
ELDER_ALWAYS_INLINE float vmax(float a, float b) { return a > b ? a : b; }

}  // namespace elder
