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
void dpotrs_(const char* uplo, const int* n, const int* nrhs, const double* a, const int* lda,
             double* b, const int* ldb, int* info, size_t);
void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w,
             double* work, const int* lwork, int* iwork, const int* liwork, int* info, size_t,
             size_t);
}

#include <vector>

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

int choleskySolveRows(const double* l, int n, double* rhs, int m) {
  if (n == 0 || m == 0) return 0;
  // Row-major lower L is column-major upper U with UᵀU = A; m right-hand sides stored as rows
  // of length n are the columns of a column-major n×m matrix.
  const char upper = 'U';
  int info = 0;
  dpotrs_(&upper, &n, &m, l, &n, rhs, &n, &info, 1);
  return info;
}

int symmetricEigen(double* a, int n, double* values) {
  if (n == 0) return 0;
  const char vectors = 'V', upper = 'U';
  int info = 0, lwork = -1, liwork = -1, iworkSize = 0;
  double workSize = 0;
  dsyevd_(&vectors, &upper, &n, a, &n, values, &workSize, &lwork, &iworkSize, &liwork, &info, 1, 1);
  if (info != 0) return info;
  lwork = (int)workSize;
  liwork = iworkSize;
  std::vector<double> work((size_t)lwork);
  std::vector<int> iwork((size_t)liwork);
  dsyevd_(&vectors, &upper, &n, a, &n, values, work.data(), &lwork, iwork.data(), &liwork, &info,
          1, 1);
  // Column j of the column-major result is eigenvector j: row j of the row-major array.
  return info;
}

}  // namespace elder

#else

namespace elder {
// Without OpenBLAS the TypeScript backend's routines serve (see backends/native.ts).
bool hasLapack() { return false; }
int choleskyLower(double*, int) { return -1; }
int invertLower(double*, int) { return -1; }
int choleskySolveRows(const double*, int, double*, int) { return -1; }
int symmetricEigen(double*, int, double*) { return -1; }
}  // namespace elder

#endif
