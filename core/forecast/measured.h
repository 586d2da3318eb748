/* An index measured elsewhere, as `resque plan --task-from` and `--shards`
 * read it (docs/FORMATS.md "Plan entries"): the JSON of `resque measure task
 * --json` or `resque shard result --json`, and the "shards" object
 * {count, rows, fingerprint} of a result computed on shards. Pure parsing of
 * untrusted bytes (tests/fuzz/fuzz_measured.c). */
#ifndef RESQUE_MEASURED_H
#define RESQUE_MEASURED_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The largest such file read: a shard result lists every shard. */
#define RQ_MEASURED_MAX ((size_t)64 << 20)

typedef struct rq_measured_task {
	double value;          /* RESQUE_task, finite, in [0, 2] */
	int64_t n, k, iterations; /* each >= 1, k <= n */
	json_t *shards;        /* {count, rows, fingerprint} (owned; NULL: not from shards) */
} rq_measured_task;

/* Read a task measure: a JSON object with "kind": "task", "value", "n",
 * "k", "iterations" and, optionally, "shards" (whose rows must be n; its
 * "list" is not kept). 0, or RQ_EINVALID with a message naming `name` and
 * the field. The caller releases *out with rq_measured_task_release. */
int rq_measured_task_parse(rq_measured_task *out, const char *data, size_t len, const char *name);
void rq_measured_task_release(rq_measured_task *t);

/* Read the "shards" object of a JSON object (any other keys ignored):
 * "count" and "rows" whole numbers >= 1, count <= rows, rows == `rows`
 * (the rows of `rows_what`, in messages), "fingerprint" "b2:<64 hex>".
 * *out: {count, rows, fingerprint}, a new reference. 0, or RQ_EINVALID
 * with a message naming `name` and the field. */
int rq_measured_shards_parse(json_t **out, const char *data, size_t len, const char *name, int64_t rows,
			     const char *rows_what);

#endif
