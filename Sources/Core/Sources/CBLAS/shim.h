#ifndef BORDERLINE_CBLAS_SHIM_H
#define BORDERLINE_CBLAS_SHIM_H
// OpenBLAS's CBLAS interface plus the few LAPACK routines Borderline calls (Fortran ABI:
// column-major, every argument by pointer). Debian's libopenblas-dev bundles LAPACK.
#include <cblas.h>

void ssyevd_(const char *jobz, const char *uplo, const int *n, float *a, const int *lda,
             float *w, float *work, const int *lwork, int *iwork, const int *liwork, int *info);
void sgeqrf_(const int *m, const int *n, float *a, const int *lda, float *tau,
             float *work, const int *lwork, int *info);
void sorgqr_(const int *m, const int *n, const int *k, float *a, const int *lda,
             const float *tau, float *work, const int *lwork, int *info);
void sgesdd_(const char *jobz, const int *m, const int *n, float *a, const int *lda, float *s,
             float *u, const int *ldu, float *vt, const int *ldvt, float *work,
             const int *lwork, int *iwork, int *info);
#endif
