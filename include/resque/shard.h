/* RESQUE_task over shards (docs/METHOD.md, "Shards"): the map steps a worker
 * runs on one shard (column and class statistics, one Lloyd step, the final
 * contingency table) and the reduce steps a driver runs (merge, init,
 * update, result), exchanged as checksummed .rqp partial files
 * (docs/FORMATS.md). The update and the stopping rule are the single-machine
 * k-means code (core/measure/kmeans.c); one shard gives the single-machine
 * result. */
#ifndef RESQUE_SHARD_H
#define RESQUE_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "resque/buf.h"
#include "resque/export.h"

RQ_BEGIN_DECLS

#define RQ_PARTIAL_MAGIC "RQPARTL" /* and a NUL: 8 bytes */
#define RQ_PARTIAL_VERSION 1
#define RQ_PARTIAL_HEADER_LEN 40 /* magic 8, version 4, kind 4, d 8, k 8, n 8 */
#define RQ_PARTIAL_HASH_LEN 32   /* BLAKE2b-256 trailer */
#define RQ_PARTIAL_CHANGED_UNKNOWN UINT64_MAX
/* The most rows a sharded RESQUE_task takes: the ARI's exact integer
 * arithmetic needs n² in an int64 (core/measure/ari.c). */
#define RQ_SHARD_MAX_ROWS 3037000499u

typedef enum {
	RQ_PARTIAL_STATS = 1, /* one or more shards' column and class statistics */
	RQ_PARTIAL_STATE = 2, /* the driver's k-means state */
	RQ_PARTIAL_STEP = 3,  /* per-cluster sums and counts of one Lloyd step */
	RQ_PARTIAL_FINAL = 4  /* the class × cluster contingency table */
} rq_partial_kind;

/* One non-zero cell of a contingency table: `count` rows of class `cls`
 * (the rank of the label) in cluster `cluster`. */
typedef struct rq_partial_cell {
	uint64_t cls, cluster, count;
} rq_partial_cell;

/* One shard as the partials list it. */
typedef struct rq_shard_ref {
	uint8_t id[32];         /* identity: BLAKE2b-256 of n, d, the labels, first and last row */
	uint64_t rows;
	uint64_t checksum;      /* content: the wrapping sum of the embeddings' float32 bit
				 * patterns as read (not cryptographic; every kind) */
	uint8_t embeddings[32]; /* content fingerprints (stats, state, final; zero in a step) */
	uint8_t labels[32];
} rq_shard_ref;

/* A decoded partial. Every pointer is owned; the fields a kind does not
 * use are NULL or 0. */
typedef struct rq_partial {
	rq_partial_kind kind;
	size_t d, k;
	uint64_t n;
	rq_shard_ref *shards; /* in shard order */
	size_t nshards;
	/* stats: origin = the first row (d); Σ(x − origin) and Σ(x − origin)² per column */
	float *origin;
	double *colsum, *colsq;
	/* stats and state: the k labels, ascending */
	int64_t *labels;
	/* stats and state: per label (the state's are the merged stats'); step:
	 * per cluster. sums is k×d float64 (stats, step). */
	uint64_t *counts;
	double *sums;
	/* state */
	float *shift;   /* d */
	float *centers; /* k×d, centred by shift */
	double tol, last_shift;
	double rel_tol; /* the relative tolerance given to init (tol = rel_tol × mean variance) */
	uint64_t max_iter, iteration, last_changed;
	bool done, strict;
	/* step and final: the state they were computed against */
	uint8_t state_id[32];
	uint64_t state_iteration;
	uint64_t changed;  /* step: rows whose cluster changed, or RQ_PARTIAL_CHANGED_UNKNOWN */
	/* final: the non-zero cells of the class × cluster table, sorted by
	 * (cls, cluster); at most n of them */
	rq_partial_cell *cells;
	size_t ncells;
} rq_partial;

RQ_EXTERN void rq_partial_free(rq_partial *p); /* accepts NULL */
/* "stats", "state", "step", "final" (static). */
RQ_EXTERN const char *rq_partial_kind_name(rq_partial_kind kind);

/* The .rqp encoding, appended to the caller's `out`. Cannot fail. */
RQ_EXTERN void rq_partial_encode(rq_buf *out, const rq_partial *p);
/* Parse untrusted bytes (`name` in messages; `data` borrowed): every
 * length checked against `len`, the checksum, labels strictly ascending,
 * counts adding up to n, finite floats. *out is new (rq_partial_free), NULL
 * on failure. Returns 0, RQ_EINVALID, RQ_EUNSUPPORTED (another version) or
 * RQ_EINTEGRITY (checksum mismatch). */
RQ_EXTERN int rq_partial_decode(rq_partial **out, const void *data, size_t len, const char *name);
/* rq_partial_decode of the file `path`; with `id` non-NULL, also the
 * BLAKE2b-256 of the file's bytes (a state's id). Errors as decode's, and
 * RQ_ENOTFOUND or RQ_EIO when it cannot be read. */
RQ_EXTERN int rq_partial_read(rq_partial **out, uint8_t id[32], const char *path);
/* Encode and write atomically. 0 or RQ_EIO. */
RQ_EXTERN int rq_partial_write(const char *path, const rq_partial *p);

struct rq_array;

/* Map: the stats of one shard (`emb` and `labels` opened together, see
 * rq_array_open_pair; borrowed), with the content fingerprints given as
 * "b2:<hex>" (what `resque fingerprint` prints). One pass over the rows.
 * Returns 0 or RQ_EINVALID (no rows, too many rows, unreadable values),
 * naming the file. */
RQ_EXTERN int rq_shard_stats(rq_partial **out, const struct rq_array *emb,
			     const struct rq_array *labels, const char *emb_fp, const char *lab_fp);

/* Map: one Lloyd step of a shard against `state` (whose id is `state_id`,
 * named `state_name` in messages).
 * `previous` (n cluster indices or NULL) is the shard's previous
 * assignment, for the count of changed rows (refused against a state of
 * iteration 0, which has none); `assignment` (room for n, may be NULL)
 * receives this step's. With `final`, the partial is the contingency
 * table (kind final, its non-zero cells) instead of the sums, and records
 * the content fingerprints `emb_fp` and `lab_fp` ("b2:<hex>", required)
 * of the files read, for `result` to compare with the stats'. Returns 0
 * or RQ_EINVALID (dimension differs, a label the state does not know, a
 * previous cluster out of range, a done/not-done state), naming the file. */
RQ_EXTERN int rq_shard_step(rq_partial **out, const rq_partial *state, const uint8_t state_id[32],
			    const char *state_name, const struct rq_array *emb, const struct rq_array *labels,
			    const int32_t *previous, int32_t *assignment, bool final,
			    const char *emb_fp, const char *lab_fp, size_t nthreads);

/* Reduce: into += from (same kind; stats re-based to into's origin; step
 * and final need the same state; final tables are sort-merged). The shard
 * lists are concatenated: the same shard, or shards of the same identity
 * or content, may appear more than once (real data have identical shards).
 * `name` names `from`. 0 or RQ_EINVALID; `into` is unchanged on failure. */
RQ_EXTERN int rq_partial_merge(rq_partial *into, const rq_partial *from, const char *name);

/* Reduce: state iteration 0 from merged stats (`name` names them in
 * messages): shift = the column means in float32, tol = (tol or 1e-4) ×
 * the mean column variance, centres = the class centroids (max_iter 0:
 * 300). 0 or RQ_EINVALID (more than RQ_SHARD_MAX_ROWS rows, means outside
 * float32's range). */
RQ_EXTERN int rq_shard_init(rq_partial **out, const rq_partial *stats, size_t max_iter, double tol,
			    const char *name);

/* Check that `parts` (names in `names`) are partials of kind `want`
 * computed against `state` (id `state_id`, named `state_name`, and its
 * iteration) and that their shard records, as a multiset, are the state's:
 * of (identity, rows, content checksum) for steps, and also of the
 * embeddings and labels fingerprints for final partials, so that one
 * shard's step in place of another's of the same identity, or a final
 * partial of files other than the stats read, is refused. 0 or RQ_EINVALID naming the file and what
 * is wrong (another state, a shard missing, one too many, changed). In the
 * messages "shard P of M (R rows)" is always the state's shard P (1-based,
 * in shard order) of its M; a record of a partial is "FILE, entry S of T". */
RQ_EXTERN int rq_shard_check(const rq_partial *state, const uint8_t state_id[32],
			     const char *state_name, rq_partial *const *parts,
			     const char *const *names, size_t n, rq_partial_kind want);

/* Reduce: one iteration's update of `state` from the merged, checked step
 * (the body of the single-machine Lloyd loop). RQ_EINVALID, the state
 * unchanged, when the state is done or when the steps count no changed
 * row while the centres moved (a --previous that was not the shard's
 * previous assignment). */
RQ_EXTERN int rq_shard_update(rq_partial *state, const rq_partial *step, const char *state_name);

/* Reduce: the ARI from a done state's merged, checked final partial
 * (named `final_name` in messages), whose table's per-class totals must be
 * the state's class counts (RQ_EINVALID otherwise: a forged or
 * inconsistent table). */
RQ_EXTERN int rq_shard_ari(double *out, const rq_partial *state, const rq_partial *final,
			   const char *state_name, const char *final_name);

/* "b2:<hex>" over the lines "EMBFP LABFP ROWS\n" of the state's shards, in
 * order (into the caller's `out`, RQ_FINGERPRINT_SIZE bytes). */
RQ_EXTERN void rq_shard_list_fingerprint(char *out, const rq_partial *state);

RQ_END_DECLS

#endif
