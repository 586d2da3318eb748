/* Fingerprints of files and directories (docs/FORMATS.md): BLAKE2b-256 of a
 * file's bytes, printed "b2:<hex>" exactly as `b2sum -l 256` prints the hex;
 * for a directory, BLAKE2b-256 of its canonical manifest (one line per file:
 * kind, size, fingerprint, path; sorted by path bytes; docs/FORMATS.md).
 *
 * Files are hashed in parallel by a pool of one thread per online core.
 * A stat cache (an interface of function pointers, so this module stays free
 * of SQLite; store/statcache.c implements it over index.db) spares re-reading
 * unchanged files, with git's racily-clean rule. Pure computation otherwise:
 * no printing, progress goes through a callback. */
#ifndef RESQUE_FINGERPRINT_H
#define RESQUE_FINGERPRINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "resque/buf.h"
#include "resque/export.h"
#include "resque/sizes.h"

RQ_BEGIN_DECLS

#define RQ_MANIFEST_HEADER "resque-manifest v1\n"

/* "b2:<hex>" of `len` bytes, NUL-terminated in the caller's `out`; `data`
 * is borrowed for the call. Cannot fail. */
RQ_EXTERN void rq_fingerprint_bytes(char out[RQ_FINGERPRINT_SIZE], const void *data, size_t len);
/* "b2:<hex>" of a 32-byte hash, into the caller's `out`. Cannot fail. */
RQ_EXTERN void rq_fingerprint_format(char out[RQ_FINGERPRINT_SIZE], const uint8_t hash[RQ_HASH_LEN]);
/* Parse "b2:<64 lower-case hex>" into the caller's `out`: 0, or
 * RQ_EINVALID with a message otherwise. */
RQ_EXTERN int rq_fingerprint_parse(uint8_t out[RQ_HASH_LEN], const char *s);

/* ---- Manifests ---------------------------------------------------------- */

typedef struct rq_manifest_entry {
	char *path;    /* relative, '/'-separated, raw bytes (owned) */
	uint64_t size; /* bytes of the file; of the target string for a link */
	uint8_t hash[RQ_HASH_LEN];
	bool link;     /* a symbolic link: hash of its target string, not followed */
} rq_manifest_entry;

typedef struct rq_manifest {
	rq_manifest_entry *v; /* sorted by path bytes, no duplicates */
	size_t n, alloc;
	uint64_t bytes;       /* sum of `size` */
} rq_manifest;

/* An empty manifest (no allocation). rq_manifest_release frees the
 * entries and their paths and leaves it empty. */
RQ_EXTERN void rq_manifest_init(rq_manifest *m);
RQ_EXTERN void rq_manifest_release(rq_manifest *m);

/* The canonical text: RQ_MANIFEST_HEADER, then per entry
 * "f|l SIZE HEX PATH\n" with PATH escaped (`\\`, `\n`, `\xHH` for the other
 * control bytes). Appended to the caller's `out`. Cannot fail (allocation
 * failure aborts). */
RQ_EXTERN void rq_manifest_encode(rq_buf *out, const rq_manifest *m);
/* "b2:<hex>" of the canonical text: the directory's fingerprint, into the
 * caller's `out`. Cannot fail. */
RQ_EXTERN void rq_manifest_fingerprint(char out[RQ_FINGERPRINT_SIZE], const rq_manifest *m);

/* Parse untrusted bytes (an attachment read back; borrowed for the call);
 * only the canonical encoding is accepted. `name` is used in messages.
 * `out` must be initialised; on success its previous contents are released
 * and replaced (the caller releases it), on failure it is unchanged.
 * Returns 0 or RQ_EINVALID with the line at fault in rq_error_last(). */
RQ_EXTERN int rq_manifest_parse(rq_manifest *out, const void *data, size_t len, const char *name);

/* The differences from `old` to `cur`, in path order. Paths are borrowed
 * from the manifests. */
typedef enum { RQ_CHANGE_ADDED = 'A', RQ_CHANGE_REMOVED = 'D', RQ_CHANGE_CHANGED = 'M' } rq_change_kind;
typedef struct rq_manifest_change {
	rq_change_kind kind;
	const char *path;
} rq_manifest_change;
/* `out` receives a malloc'd array (caller frees; NULL when n == 0); its
 * paths are borrowed from `old` and `cur`, which must outlive it. */
RQ_EXTERN void rq_manifest_diff(rq_manifest_change **out, size_t *n, const rq_manifest *old,
		      const rq_manifest *cur);

/* ---- The stat cache interface ------------------------------------------- */

typedef struct rq_file_stat {
	uint64_t dev, ino, size;
	int64_t mtime_ns, ctime_ns;
} rq_file_stat;

typedef struct rq_fp_cache_entry {
	const char *path;   /* absolute path of the file (the key) */
	rq_file_stat st;    /* the file's stat when it was hashed */
	int64_t written_ns; /* when the entry was made (a time before the read) */
	uint8_t hash[RQ_HASH_LEN];
} rq_fp_cache_entry;

/* A cache is an optimisation: failures of either function are ignored (the
 * file is simply hashed). */
typedef struct rq_fp_cache {
	void *ctx;
	/* 1 and `out` filled (out->path borrowed, may be left alone) when `path`
	 * has an entry, 0 when not, negative on error. */
	int (*lookup)(void *ctx, const char *path, rq_fp_cache_entry *out);
	/* Record `n` entries at once (one transaction). */
	int (*store)(void *ctx, const rq_fp_cache_entry *v, size_t n);
} rq_fp_cache;

/* ---- Fingerprinting a path ---------------------------------------------- */

typedef struct rq_fp_progress {
	uint64_t files_done, files_total; /* files to hash (cache misses) */
	uint64_t bytes_done, bytes_total;
} rq_fp_progress;

typedef struct rq_fp_options {
	const rq_fp_cache *cache; /* NULL: hash everything */
	unsigned threads;         /* 0: one per online core */
	bool rehash;              /* hash every file; the cache is only updated */
	/* Called from the calling thread about ten times a second while files
	 * are hashed, and once at the end. */
	void (*progress)(void *ctx, const rq_fp_progress *p);
	void *progress_ctx;
} rq_fp_options;

typedef struct rq_fp_result {
	char fingerprint[RQ_FINGERPRINT_SIZE];
	bool is_dir;
	uint64_t files;       /* manifest entries (1 for a file) */
	uint64_t bytes;       /* total size */
	rq_manifest manifest; /* a directory's manifest (empty for a file) */
	uint64_t hashed;      /* files read and hashed */
	uint64_t cached;      /* files whose hash came from the cache */
} rq_fp_result;

/* An empty result (no allocation). rq_fp_result_release frees its
 * manifest and leaves it empty. */
RQ_EXTERN void rq_fp_result_init(rq_fp_result *r);
RQ_EXTERN void rq_fp_result_release(rq_fp_result *r);

/* Fingerprint a regular file (a symbolic link given as `path` is
 * followed) or a directory tree (links inside are recorded, not followed;
 * directories named `.resque` are skipped; empty directories leave no
 * trace). FIFOs, sockets and devices are refused with a message naming
 * them. `opts` may be NULL; it, its cache and `path` are borrowed for the
 * call. `out` must be initialised; it is filled only on success (the
 * caller releases it with rq_fp_result_release). Returns 0, RQ_ENOTFOUND
 * (no such path), RQ_EINVALID (a FIFO, socket or device; a link target
 * too long; directories nested too deeply), RQ_EIO (a read or stat
 * failed) or RQ_ERROR (no hashing thread could start), naming the file in
 * rq_error_last(). */
RQ_EXTERN int rq_fingerprint_path(rq_fp_result *out, const char *path, const rq_fp_options *opts);

RQ_END_DECLS

#endif
