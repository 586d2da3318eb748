/* Representation summaries (docs/METHOD.md): per-class counts and float64 sum
 * vectors of an N×D embedding matrix, optionally with the total sum and the
 * D×D Gram matrix. Summaries of disjoint shards merge exactly, and encode to
 * the .rqs format (docs/FORMATS.md) so the ledger can store them. */
#ifndef RESQUE_SUMMARY_H
#define RESQUE_SUMMARY_H

#include <stddef.h>
#include <stdint.h>
#include "resque/buf.h"
#include "resque/export.h"

RQ_BEGIN_DECLS

#define RQ_SUMMARY_MAGIC "RQSUMMRY"
#define RQ_SUMMARY_VERSION 1
#define RQ_SUMMARY_HEADER_LEN 40 /* magic 8, version 4, moments 4, d 8, k 8, n 8 */
#define RQ_SUMMARY_HASH_LEN 32   /* BLAKE2b-256 trailer */

struct rq_array;

typedef struct rq_summary {
	size_t d;         /* dimension of the embeddings */
	size_t k;         /* number of classes */
	uint64_t n;       /* rows summarised */
	int moments;      /* 1: counts and sums; 2: also total and Gram */
	int64_t *labels;  /* k labels, in order of first appearance (or ascending after decode) */
	uint64_t *counts; /* k */
	double *sums;     /* k×d, row c is the sum of class labels[c] */
	double *total;    /* d, NULL unless moments == 2 */
	double *gram;     /* d×d, upper triangle (j >= i) authoritative; NULL unless moments == 2 */
	struct rq_summary_index *index; /* private (core/measure/summary.c): finding a label's class */
} rq_summary;

/* An empty summary of dimension `d` (>= 1) with `moments` 1 or 2. On
 * success *out is new and the caller frees it with rq_summary_free; on
 * failure it is NULL. Returns 0 or RQ_EINVALID (bad d or moments, a Gram
 * matrix too large). Every pointer field of a summary is owned by it. */
RQ_EXTERN int rq_summary_new(rq_summary **out, size_t d, int moments);
RQ_EXTERN void rq_summary_free(rq_summary *s); /* frees all it holds; accepts NULL */

/* Add `n` rows of `x` (row-major n×d, float64 or float32) with their
 * labels (both borrowed for the call). Accumulation is in float64, in row
 * order. Returns 0, or RQ_EUNSUPPORTED when a summary of second moments
 * finds no BLAS library to load (libopenblas.so.0, loaded on first use);
 * the summary is then unchanged. Allocation failure aborts. */
RQ_EXTERN int rq_summary_add_f64(rq_summary *s, const double *x, const int64_t *labels, size_t n);
RQ_EXTERN int rq_summary_add_f32(rq_summary *s, const float *x, const int64_t *labels, size_t n);

/* Stream every row of `emb` with `labels` (opened together, see
 * rq_array_open_pair; borrowed for the call) into a new summary; memory
 * O(k·d + block). *out is the caller's (rq_summary_free), NULL on failure.
 * Returns 0, or RQ_EINVALID (row counts differ, a non-finite value, labels
 * not integers) with a message naming the file. */
RQ_EXTERN int rq_summary_from_arrays(rq_summary **out, const struct rq_array *emb,
			   const struct rq_array *labels, int moments);

/* Index of class `label`, or -1 when the summary has no such class. */
RQ_EXTERN long rq_summary_find(const rq_summary *s, int64_t label);

/* into += from. Refused (RQ_EINVALID) when the dimensions differ or
 * when `from` has moments 1 and `into` moments 2. `name` names `from`
 * in messages. `from` is borrowed for the call. Returns 0 or RQ_EINVALID
 * (also on a row or class count overflow); `into` is unchanged on
 * failure except after a class count overflow, which leaves it partly
 * merged (discard it). */
RQ_EXTERN int rq_summary_merge(rq_summary *into, const rq_summary *from, const char *name);

/* The class indices ordered by ascending label: a malloc'd array of k
 * values the caller frees with free(). Cannot fail (allocation failure
 * aborts). */
RQ_EXTERN size_t *rq_summary_order(const rq_summary *s);

/* The .rqs encoding (classes by ascending label), appended to the caller's
 * `out`. Returns 0 (allocation failure aborts). */
RQ_EXTERN int rq_summary_encode(rq_buf *out, const rq_summary *s);
/* Parse untrusted bytes; `name` is used in messages. Checks every length
 * against `len`, the checksum, and that labels ascend and counts add up.
 * `data` is borrowed for the call. *out is new (rq_summary_free), NULL on
 * failure. Returns 0, RQ_EINVALID (malformed), RQ_EUNSUPPORTED (another
 * format version) or RQ_EINTEGRITY (checksum mismatch), naming `name`. */
RQ_EXTERN int rq_summary_decode(rq_summary **out, const void *data, size_t len, const char *name);

/* rq_summary_decode of the file `path`; *out is NULL on failure. Errors
 * as rq_summary_decode's, and RQ_ENOTFOUND or RQ_EIO when the file cannot
 * be read. */
RQ_EXTERN int rq_summary_read(rq_summary **out, const char *path);

RQ_END_DECLS

#endif
