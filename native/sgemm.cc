// sgemm: OpenBLAS when the build found it, else a blocked, threaded C kernel.
// The portable kernel is always compiled so benchmarks can compare the two.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <cstring>
#include <thread>
#include <vector>

#include "kernels.h"

#ifdef ELDER_OPENBLAS
#include <cblas.h>
#endif

namespace elder {

static int gThreads = 1;

void setThreads(int threads) {
  gThreads = threads < 1 ? 1 : threads;
#ifdef ELDER_OPENBLAS
  openblas_set_num_threads(gThreads);
#endif
}

int getThreads() { return gThreads; }

// OpenBLAS's thread count is process-wide, and the service runs kernels on two
// threads at once (completions on the main thread, training in a worker), so
// scopes may overlap: the count goes to 1 when the first scope opens and back
// when the last one closes. Meanwhile every sgemm in the process runs serially.
static std::mutex gSerialMutex;
static int gSerialScopes = 0;
static std::atomic<bool> gSerial{false};

SerialSgemm::SerialSgemm() {
  std::lock_guard<std::mutex> lock(gSerialMutex);
  if (gSerialScopes++ == 0) {
    gSerial = true;
#ifdef ELDER_OPENBLAS
    openblas_set_num_threads(1);
#endif
  }
}

SerialSgemm::~SerialSgemm() {
  std::lock_guard<std::mutex> lock(gSerialMutex);
  if (--gSerialScopes == 0) {
    gSerial = false;
#ifdef ELDER_OPENBLAS
    openblas_set_num_threads(gThreads);
#endif
  }
}

const char* sgemmBackendName() {
#ifdef ELDER_OPENBLAS
  return "openblas";
#else
  return "portable";
#endif
}

// Rows [rowBegin, rowEnd) of C += alpha * A * B with A [M,K] (lda) and B [K,N]
// (ldb) both untransposed. Four rows of C share each loaded row of B.
ELDER_SIMD_CLONES
static void gemmRowsNN(int rowBegin, int rowEnd, int N, int K, float alpha, const float* A, int lda,
                       const float* B, int ldb, float* C, int ldc) {
  const int kBlock = 256;
  const int nBlock = 512;
  for (int j0 = 0; j0 < N; j0 += nBlock) {
    const int j1 = std::min(N, j0 + nBlock);
    for (int k0 = 0; k0 < K; k0 += kBlock) {
      const int k1 = std::min(K, k0 + kBlock);
      int i = rowBegin;
      for (; i + 4 <= rowEnd; i += 4) {
        float* c0 = C + (size_t)i * ldc;
        float* c1 = c0 + ldc;
        float* c2 = c1 + ldc;
        float* c3 = c2 + ldc;
        for (int k = k0; k < k1; ++k) {
          const float a0 = alpha * A[(size_t)i * lda + k];
          const float a1 = alpha * A[(size_t)(i + 1) * lda + k];
          const float a2 = alpha * A[(size_t)(i + 2) * lda + k];
          const float a3 = alpha * A[(size_t)(i + 3) * lda + k];
          const float* b = B + (size_t)k * ldb;
          for (int j = j0; j < j1; ++j) {
            const float bj = b[j];
            c0[j] += a0 * bj;
            c1[j] += a1 * bj;
            c2[j] += a2 * bj;
            c3[j] += a3 * bj;
          }
        }
      }
      for (; i < rowEnd; ++i) {
        float* c = C + (size_t)i * ldc;
        for (int k = k0; k < k1; ++k) {
          const float a = alpha * A[(size_t)i * lda + k];
          const float* b = B + (size_t)k * ldb;
          for (int j = j0; j < j1; ++j) c[j] += a * b[j];
        }
      }
    }
  }
}

void sgemmPortable(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
                   int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  for (int i = 0; i < M; ++i) {
    float* c = C + (size_t)i * ldc;
    if (beta == 0.0f) {
      std::memset(c, 0, sizeof(float) * N);
    } else if (beta != 1.0f) {
      for (int j = 0; j < N; ++j) c[j] *= beta;
    }
  }
  if (K <= 0 || alpha == 0.0f) return;

  // Transposed operands are packed once so the inner loop always streams rows.
  std::vector<float> packedA, packedB;
  const float* a = A;
  int aStride = lda;
  if (transA) {
    packedA.resize((size_t)M * K);
    for (int k = 0; k < K; ++k)
      for (int i = 0; i < M; ++i) packedA[(size_t)i * K + k] = A[(size_t)k * lda + i];
    a = packedA.data();
    aStride = K;
  }
  const float* b = B;
  int bStride = ldb;
  if (transB) {
    packedB.resize((size_t)K * N);
    for (int j = 0; j < N; ++j)
      for (int k = 0; k < K; ++k) packedB[(size_t)k * N + j] = B[(size_t)j * ldb + k];
    b = packedB.data();
    bStride = N;
  }

  const double flops = 2.0 * M * N * K;
  int threads = std::min(gThreads, M);
  if (flops < 4e6 || gSerial) threads = 1;
  if (threads <= 1) {
    gemmRowsNN(0, M, N, K, alpha, a, aStride, b, bStride, C, ldc);
    return;
  }
  std::vector<std::thread> workers;
  const int rowsPerThread = (M + threads - 1) / threads;
  for (int t = 0; t < threads; ++t) {
    const int begin = t * rowsPerThread;
    const int end = std::min(M, begin + rowsPerThread);
    if (begin >= end) break;
    workers.emplace_back(gemmRowsNN, begin, end, N, K, alpha, a, aStride, b, bStride, C, ldc);
  }
  for (auto& worker : workers) worker.join();
}

void sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc) {
#ifdef ELDER_OPENBLAS
  if (M <= 0 || N <= 0) return;
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
              M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
  sgemmPortable(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

}  // namespace elder
