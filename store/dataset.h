/* Datasets in the ledger: fingerprinting a directory (through the stat
 * cache) and recording it as a signed `dataset` entry, and the paths such
 * entries record (docs/FORMATS.md, "Datasets"). `resque dataset add` and
 * `resque commit --data DIR` both record through rq_dataset_record. */
#ifndef RESQUE_DATASET_H
#define RESQUE_DATASET_H

#include <jansson.h>
#include "resque/buf.h"
#include "entry_int.h"
#include "resque/fingerprint.h"
#include "ledger_int.h"

/* Progress of a fingerprinting: `what` names it ("fingerprinting",
 * "fingerprinting labels", "fingerprinting embeddings"); called as
 * rq_fp_options.progress is, then once with `p` NULL when it is done. The
 * library never prints: the command draws what it likes. */
typedef void (*rq_dataset_progress_fn)(void *ctx, const char *what, const rq_fp_progress *p);

typedef struct rq_dataset_options {
	const char *name;       /* NULL: the directory's base name */
	const char *labels;     /* record the class histogram and fingerprint */
	const char *tensor;     /* the labels' tensor in a safetensors file */
	const char *embeddings; /* with labels: attach their summary.rqs */
	rq_dataset_progress_fn progress; /* may be NULL */
	void *progress_ctx;
} rq_dataset_options;

/* RQ_EINVALID "PATH: no such file or directory" / "PATH: cannot be read"
 * / "PATH: not a directory (...)" unless `path` is a directory. */
int rq_dataset_check_dir(const char *path);

/* Record the directory `path` as a `dataset` entry: its fingerprint,
 * manifest (attachment "manifest"), file count and bytes; with `labels`,
 * the class histogram and the labels' fingerprint; with `embeddings` too,
 * their representation summary (attachment "summary.rqs"). The name is
 * checked with rq_name_valid(RQ_NAME_DATASET) and must be free among
 * datasets (RQ_EEXISTS), also under the writer's lock. `*out` (caller
 * frees) is the new entry, whose body holds what a command prints. */
int rq_dataset_record(rq_entry **out, rq_ledger *l, const char *path, const rq_dataset_options *o);

/* Fingerprint `path` with the repository's stat cache, reporting progress
 * to `o` (may be NULL) under `what`. */
int rq_dataset_fingerprint(rq_fp_result *out, rq_ledger *l, const char *path, const char *what,
			   const rq_dataset_options *o);

/* `path` as the ledger records it: relative to the project root when
 * inside it ("." for the root itself), else absolute; symbolic links
 * resolved. When it cannot be resolved, rq_error_os's "PATH: reason"
 * (RQ_ENOTFOUND for a missing path, else RQ_EIO). */
int rq_dataset_relpath(rq_buf *out, rq_ledger *l, const char *path);
/* A recorded path back to one usable from here (appended to `out`). */
void rq_dataset_abspath(rq_buf *out, rq_ledger *l, const char *recorded);

/* The manifest attached to dataset entry `e` (caller releases). */
int rq_dataset_manifest(rq_manifest *out, rq_ledger *l, const rq_entry *e);

/* The samples of a dataset entry's body: the sum of its class histogram
 * (`classes`, recorded with --labels); NaN when it records none. */
double rq_dataset_samples(const json_t *body);

/* A JSON string for a path; bytes that are not UTF-8 (paths are bytes)
 * become \xHH so the document stays valid. New reference. */
json_t *rq_dataset_path_json(const char *path);

#endif
