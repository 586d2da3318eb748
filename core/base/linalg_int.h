/* Private to core/: BLAS and LAPACKE, loaded with dlopen on first use
 * (core/base/linalg.c). resque is not linked with OpenBLAS or LAPACKE, so
 * that commands which never do linear algebra (the ledger, hashing: most
 * of them) do not pay the dynamic linker's time for the two libraries and
 * what they pull in (libgfortran, reference LAPACK, ...); see
 * docs/PERFORMANCE.md, "Start-up". The prototypes are the libraries' own
 * headers', so a call through the tables is checked as a direct call is. */
#ifndef RESQUE_LINALG_INT_H
#define RESQUE_LINALG_INT_H

#include <cblas.h>
#include <lapacke.h>

/* The BLAS functions resque calls, from libopenblas.so.0 (or the file
 * named by $RESQUE_BLAS_LIB). */
struct rq_blas {
	__typeof__(cblas_sgemm) *sgemm;
	__typeof__(cblas_dsyrk) *dsyrk;
	__typeof__(openblas_get_num_threads) *get_num_threads;
	__typeof__(openblas_set_num_threads) *set_num_threads;
};

/* The LAPACKE functions resque calls, from liblapacke.so.3 (or the file
 * named by $RESQUE_LAPACKE_LIB). */
struct rq_lapack {
	__typeof__(LAPACKE_dposv) *dposv;
	__typeof__(LAPACKE_dpotrf) *dpotrf;
	__typeof__(LAPACKE_dpotri) *dpotri;
};

/* Load the library the first time (thread-safe) and point *out at its
 * table, which stays valid until the process ends. 0, or RQ_EUNSUPPORTED
 * with a message naming the library and the Debian package that holds it
 * when it cannot be loaded or lacks a function; *out is then NULL. */
int rq_blas_load(const struct rq_blas **out);
int rq_lapack_load(const struct rq_lapack **out);

#endif
