// Dense symmetric linear algebra through OpenBLAS's LAPACK (Fortran
// interface). A row-major symmetric matrix is the same matrix column-major,
// and a row-major lower triangle is a column-major upper one, so each call
// asks LAPACK for the upper factor and reads it back as the lower.
#include "kernels.h"

#ifdef ELDER_OPENBLAS
#include <cstddef>

extern "C" {
// Trailing size_t arguments: the hidden lengths gfortran passes for CHARACTER arguments.
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info, size_t);
void dtrtri_(const char* uplo, const char* diag, const int* n, double* a, const int* lda, int* info,
             size_t, size_t);
}

namespace elder {

namespace {
// LAPACK leaves the other triangle as it found it.
void zeroStrictUpper(double* a, int n) {
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++) a[(size_t)i * n + j] = 0;
}
}  // namespace

bool hasLapack() { return true; }

int choleskyLower(double* a, int n) {
  if (n == 0) return 0;
  const char upper = 'U';
  int info = 0;
  dpotrf_(&upper, &n, a, &n, &info, 1);
  if (info != 0) return info;
  zeroStrictUpper(a, n);
  return 0;
}

int invertLower(double* l, int n) {
  if (n == 0) return 0;
  const char upper = 'U', nonUnit = 'N';
  int info = 0;
  dtrtri_(&upper, &nonUnit, &n, l, &n, &info, 1, 1);
  if (info != 0) return info;
  zeroStrictUpper(l, n);
  return 0;
}

}  // namespace elder

#else

namespace elder {
// Without OpenBLAS the TypeScript backend's routines serve (see backends/native.ts).
bool hasLapack() { return false; }
int choleskyLower(double*, int) { return -1; }
int invertLower(double*, int) { return -1; }
}  // namespace elder

#endif
