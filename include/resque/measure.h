/* The RESQUE indices (Sangarya & Kim, AAAI 2025; docs/METHOD.md):
 * RESQUE_dist, the mean angle between old and new class sum vectors, and
 * RESQUE_task, 1 − ARI between the labels and a k-means clustering seeded
 * with the class centroids (or k-means++). */
#ifndef RESQUE_MEASURE_H
#define RESQUE_MEASURE_H

#include <stddef.h>
#include <stdint.h>
#include "resque/export.h"
#include "resque/summary.h"

RQ_BEGIN_DECLS

/* A source of n×d rows for RESQUE_task: `read` converts rows [row0, row0+n)
 * to row-major float32 in `out` (n×d values), returning 0 or an RQ_E* code
 * with a message; it must be safe to call from several threads at once.
 * When `read` is NULL the rows are the in-memory matrix `mem` (borrowed).
 * Nothing in it is owned: `ctx` and `mem` must outlive its use. */
typedef struct rq_rows {
	size_t n, d;
	int (*read)(const void *ctx, size_t row0, size_t n, float *out);
	const void *ctx;
	const float *mem;
} rq_rows;

/* An rq_rows over an in-memory n×d float32 matrix `x` (borrowed: it must
 * outlive `out`'s use). Cannot fail. */
RQ_EXTERN void rq_rows_from_f32(rq_rows *out, const float *x, size_t n, size_t d);

typedef struct rq_dist_class {
	int64_t label;
	double angle;   /* θ_c in [0, 1] (radians / π) */
	uint64_t n_old, n_new;
} rq_dist_class;

typedef struct rq_dist {
	double value;           /* RESQUE_dist: unweighted mean of the angles */
	rq_dist_class *classes; /* classes in both with non-zero sums, largest angle first */
	size_t nclasses;
	int64_t *old_only;      /* classes of the old side only, ascending */
	size_t nold_only;
	int64_t *new_only;      /* classes of the new side only, ascending */
	size_t nnew_only;
	int64_t *zero;          /* shared classes excluded for a zero sum vector, ascending */
	size_t nzero;
} rq_dist;

/* An empty result (no allocation). rq_dist_release frees the arrays a
 * computation filled and leaves it empty; both accept a released one. */
RQ_EXTERN void rq_dist_init(rq_dist *d);
RQ_EXTERN void rq_dist_release(rq_dist *d);

/* RESQUE_dist between two summaries (borrowed for the call). `out` is
 * initialised here; on success it owns its arrays (rq_dist_release frees
 * them), on failure it is left empty. Returns 0, or RQ_EINVALID (message in
 * rq_error_last()) when the dimensions differ or when no class with
 * non-zero sums is shared. */
RQ_EXTERN int rq_dist_compute(rq_dist *out, const rq_summary *old_s, const rq_summary *new_s);

typedef enum { RQ_INIT_CENTROIDS = 0, RQ_INIT_KMEANSPP = 1 } rq_task_init;

typedef struct rq_task_opts {
	rq_task_init init;
	uint64_t seed;     /* for k-means++ */
	size_t max_iter;   /* 0: 300 */
	double tol;        /* relative tolerance; 0: 1e-4 */
	size_t nthreads;   /* 0: OpenBLAS's thread count */
} rq_task_opts;

typedef struct rq_task {
	double value;      /* RESQUE_task = 1 − ari */
	double ari;
	size_t iterations;
	size_t k;          /* distinct labels */
	size_t n;
	int32_t *assignment; /* n cluster indices (owned) */
	int32_t *classes;    /* n class indices, labels ranked ascending (owned) */
} rq_task;

/* An empty result (no allocation); rq_task_release frees `assignment` and
 * `classes` and leaves it empty. */
RQ_EXTERN void rq_task_init_result(rq_task *t);
RQ_EXTERN void rq_task_release(rq_task *t);

/* RESQUE_task of rows `x` with labels `y` (n values); `x`, `y`, `opts` and
 * `name` are borrowed for the call, `name` names the data in messages.
 * `out` is initialised here; on success it owns its arrays (rq_task_release
 * frees them), on failure it is left empty. Returns 0, RQ_EINVALID (no
 * rows, more rows or classes than supported) or the code returned by
 * x->read; the message is in rq_error_last(). */
RQ_EXTERN int rq_task_compute(rq_task *out, const rq_rows *x, const int64_t *y,
		    const rq_task_opts *opts, const char *name);

/* Reading inputs (core/measure/measure.c, over include/resque/array.h). */
struct rq_array;
/* Rows of `a` as float32, read on demand (`a` is borrowed and must
 * outlive `out`'s use). Cannot fail; read errors surface from the
 * computation (RQ_EINVALID for a non-finite value, with the file named). */
RQ_EXTERN void rq_rows_from_array(rq_rows *out, const struct rq_array *a);
/* Every label of `labels`: *out is a malloc'd array of its rows' int64
 * labels (the caller frees it), NULL on failure. Returns 0 or the code of
 * rq_array_read_labels (RQ_EINVALID for a float array or a value outside
 * int64). */
RQ_EXTERN int rq_labels_read_all(int64_t **out, const struct rq_array *labels);

RQ_END_DECLS

#endif
