/* Lloyd's k-means over streamed float32 row blocks (distances by sgemm,
 * matching scikit-learn's KMeans step for step), k-means++ seeding, and
 * the adjusted Rand index from a 64-bit contingency table. Used by
 * RESQUE_task (include/resque/measure.h). */
#ifndef RESQUE_KMEANS_H
#define RESQUE_KMEANS_H

#include <stddef.h>
#include <stdint.h>
#include "resque/measure.h"

/* rq_rows and rq_rows_from_f32, the row source, are public
 * (include/resque/measure.h): rq_task_compute takes them. */

/* Column means and the mean column variance in one streaming pass
 * (`mean` has d doubles). */
int rq_kmeans_column_stats(double *mean, double *mean_var, const rq_rows *x);

typedef struct rq_kmeans_result {
	int32_t *labels;   /* n cluster indices (caller-allocated) */
	float *centers;    /* k×d: in, the seeds; out, the final centres */
	size_t iterations; /* Lloyd iterations run (scikit-learn's n_iter_) */
	int strict;        /* stopped because no label changed */
} rq_kmeans_result;

/* Lloyd's algorithm from the centres in r->centers (k×d, in the
 * coordinates of x minus `shift`, a d-vector in float32 that is subtracted
 * from every row as it is read, or NULL). Stops after `max_iter`, when no
 * label changes, or when the squared centre shift summed over clusters is
 * <= `tol` (absolute). An empty cluster keeps its centre. The final
 * labels are the assignment to the final centres; ties go to the lowest
 * index. `nthreads` 0: OpenBLAS's thread count. */
int rq_kmeans_lloyd(rq_kmeans_result *r, const rq_rows *x, const float *shift, size_t k,
		    size_t max_iter, double tol, size_t nthreads);

/* Greedy k-means++ seeding (Arthur & Vassilvitskii 2007, with
 * 2 + floor(ln k) candidates per step as scikit-learn): writes k×d
 * centres (shifted like rq_kmeans_lloyd). Deterministic given `seed`
 * (xoshiro256** seeded by splitmix64). */
int rq_kmeans_plusplus(float *centers, const rq_rows *x, const float *shift, size_t k,
		       uint64_t seed);

/* Adjusted Rand index (Hubert & Arabie 1985) of two labelings of n items,
 * a[i] in [0, ka), b[i] in [0, kb); exact 64/128-bit integer pair counts
 * and the same final rounding as scikit-learn's adjusted_rand_score.
 * Both a single cluster, or both all singletons, give 1. */
int rq_ari(double *out, const int32_t *a, size_t ka, const int32_t *b, size_t kb, size_t n);

#endif
