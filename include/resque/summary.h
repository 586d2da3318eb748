/* Representation summaries (docs/METHOD.md): per-class counts and float64 sum
 * vectors of an N×D embedding matrix, optionally with the total sum and the
 * D×D Gram matrix. Summaries of disjoint shards merge exactly, and encode to
 * the .rqs format (docs/FORMATS.md) so the ledger can store them. */
#ifndef RESQUE_SUMMARY_H
#define RESQUE_SUMMARY_H

#include <stddef.h>
#include <stdint.h>
#include "resque/buf.h"

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

/* An empty summary of dimension `d` (>= 1) with `moments` 1 or 2. */
int rq_summary_new(rq_summary **out, size_t d, int moments);
void rq_summary_free(rq_summary *s); /* accepts NULL */

/* Add `n` rows of `x` (row-major n×d, float64 or float32) with their
 * labels. Accumulation is in float64, in row order. */
int rq_summary_add_f64(rq_summary *s, const double *x, const int64_t *labels, size_t n);
int rq_summary_add_f32(rq_summary *s, const float *x, const int64_t *labels, size_t n);

/* Stream every row of `emb` with `labels` (opened together, see
 * rq_array_open_pair) into a new summary; memory O(k·d + block). */
int rq_summary_from_arrays(rq_summary **out, const struct rq_array *emb,
			   const struct rq_array *labels, int moments);

/* Index of class `label`, or -1 when the summary has no such class. */
long rq_summary_find(const rq_summary *s, int64_t label);

/* into += from. Refused (RQ_EINVALID) when the dimensions differ or
 * when `from` has moments 1 and `into` moments 2. `name` names `from`
 * in messages. */
int rq_summary_merge(rq_summary *into, const rq_summary *from, const char *name);

/* The class indices ordered by ascending label (caller frees). */
size_t *rq_summary_order(const rq_summary *s);

/* The .rqs encoding (classes by ascending label), appended to `out`. */
int rq_summary_encode(rq_buf *out, const rq_summary *s);
/* Parse untrusted bytes; `name` is used in messages. Checks every length
 * against `len`, the checksum, and that labels ascend and counts add up. */
int rq_summary_decode(rq_summary **out, const void *data, size_t len, const char *name);

/* rq_summary_decode of the file `path`; *out is NULL on failure. */
int rq_summary_read(rq_summary **out, const char *path);

#endif
