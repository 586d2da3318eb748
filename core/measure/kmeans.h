/* Lloyd's k-means over streamed float32 row blocks (distances by sgemm,
 * matching scikit-learn's KMeans step for step), k-means++ seeding, and
 * the adjusted Rand index from a 64-bit contingency table. Used by
 * RESQUE_task (include/resque/measure.h). */
#ifndef RESQUE_KMEANS_H
#define RESQUE_KMEANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "resque/measure.h"
#include "resque/shard.h"

/* rq_rows and rq_rows_from_f32, the row source, are public
 * (include/resque/measure.h): rq_task_compute takes them. */

/* Column means and the mean column variance in one streaming pass
 * (`mean` has d doubles). It is rq_kmeans_column_sums then
 * rq_kmeans_column_finish; `resque shard` runs the first per shard and the
 * second on the sums merged across shards (core/measure/shard.c). */
int rq_kmeans_column_stats(double *mean, double *mean_var, const rq_rows *x);
/* origin (d floats) = the first row; s and ss (d doubles each) = the sums
 * of (x − origin) and of its square per column, in float64, in row order;
 * with `checksum` non-NULL, the wrapping uint64 sum of the float32 bit
 * patterns of every value read (a shard's content checksum). */
int rq_kmeans_column_sums(float *origin, double *s, double *ss, uint64_t *checksum,
			  const rq_rows *x);
/* mean (d doubles, may be NULL) and the mean column variance from the sums
 * of rq_kmeans_column_sums over n rows. Cannot fail. */
void rq_kmeans_column_finish(double *mean, double *mean_var, const float *origin, const double *s,
			     const double *ss, uint64_t n, size_t d);

/* Each row's class (`classes`, n values): the rank of its label among the
 * distinct labels in ascending order, which go to `uniq` (room for n).
 * Returns the number of classes k. */
size_t rq_kmeans_rank_labels(int32_t *classes, int64_t *uniq, const int64_t *y, size_t n);
/* Adds each row to its class's float64 sum (k×d) and count, in row order. */
int rq_kmeans_class_sums(double *sums, uint64_t *counts, const rq_rows *x, const int32_t *cls);
/* The class-centroid seeds: (float)(sum/count) − shift, in float32. */
void rq_kmeans_seed_centroids(float *centers, const double *sums, const uint64_t *counts,
			      const float *shift, size_t k, size_t d);

/* One Lloyd assignment pass of x (minus `shift`) against `centers` (k×d):
 * labels[i] becomes the nearest centre (ties to the lowest index),
 * *changed counts the rows whose label changed; with `sums` non-NULL,
 * sums (k×d float64) and counts (k) are set to each cluster's sum and size
 * (summed per thread range, then in thread order); with `checksum`
 * non-NULL, *checksum is the content checksum of rq_kmeans_column_sums of
 * the rows as read, before `shift` (an integer sum over the threads: the
 * same whatever the thread count). */
int rq_kmeans_pass(size_t *changed, double *sums, uint64_t *counts, int32_t *labels,
		   const rq_rows *x, const float *shift, const float *centers, size_t k,
		   size_t nthreads, uint64_t *checksum);
/* The update of one iteration: each non-empty cluster's centre becomes
 * (float)(sum/count); an empty one keeps its centre. Returns the squared
 * shift of the centres summed over clusters, in float64. */
double rq_kmeans_update(float *centers, const double *sums, const uint64_t *counts, size_t k,
			size_t d);
/* The stopping rule after `iterations` iterations: true when no label
 * changed (*strict = 1; `changed` UINT64_MAX means unknown), when the
 * shift is <= tol, or when max_iter is reached. */
bool rq_kmeans_stop(int *strict, uint64_t changed, double shift2, double tol, size_t iterations,
		    size_t max_iter);

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
 * Both a single cluster, or both all singletons, give 1. It is
 * rq_ari_count_cells then rq_ari_cells. */
#define RQ_ARI_MAX_ITEMS 3037000499u /* n² must fit in an int64 */
int rq_ari(double *out, const int32_t *a, size_t ka, const int32_t *b, size_t kb, size_t n);
/* The non-zero cells of the ka×kb contingency table of a and b (n items),
 * sorted by (a, b): *out new (free), *m of them (at most n). O(n) memory
 * whatever ka·kb. RQ_EINVALID when a value is out of range. */
int rq_ari_count_cells(rq_partial_cell **out, size_t *m, const int32_t *a, size_t ka,
		       const int32_t *b, size_t kb, size_t n);
/* The ARI from the m non-zero cells of a ka×kb contingency table (any
 * order); memory O(ka + kb). RQ_EINVALID when a cell is outside the table
 * or the cells add up to more than RQ_ARI_MAX_ITEMS items. */
int rq_ari_cells(double *out, const rq_partial_cell *cells, size_t m, size_t ka, size_t kb);

#endif
