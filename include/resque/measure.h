/* The RESQUE indices (Sangarya & Kim, AAAI 2025; docs/METHOD.md):
 * RESQUE_dist, the mean angle between old and new class sum vectors, and
 * RESQUE_task, 1 − ARI between the labels and a k-means clustering seeded
 * with the class centroids (or k-means++). */
#ifndef RESQUE_MEASURE_H
#define RESQUE_MEASURE_H

#include <stddef.h>
#include <stdint.h>
#include "kmeans.h"
#include "resque/summary.h"

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

void rq_dist_init(rq_dist *d);
void rq_dist_release(rq_dist *d);

/* RESQUE_dist between two summaries. RQ_EINVALID when the dimensions
 * differ or when no class with non-zero sums is shared. */
int rq_dist_compute(rq_dist *out, const rq_summary *old_s, const rq_summary *new_s);

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

void rq_task_init_result(rq_task *t);
void rq_task_release(rq_task *t);

/* RESQUE_task of rows `x` with labels `y` (n values). `name` names the
 * data in messages. */
int rq_task_compute(rq_task *out, const rq_rows *x, const int64_t *y,
		    const rq_task_opts *opts, const char *name);

/* Reading inputs (core/measure/measure.c, over include/resque/array.h). */
struct rq_array;
/* Rows of `a` as float32 (borrowed; `a` must outlive `out`). */
void rq_rows_from_array(rq_rows *out, const struct rq_array *a);
/* Every label of `labels` (n int64; caller frees). */
int rq_labels_read_all(int64_t **out, const struct rq_array *labels);

#endif
