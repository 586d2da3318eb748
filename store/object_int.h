/* Private to store/ and to tests: guarded reads of git objects.
 *
 * libgit2 1.5 spins forever inflating a truncated loose object, and reports
 * a corrupt pack as an ordinary error. Every object the ledger needs is
 * read through these functions instead: a loose object is inflated here
 * (bounded, every length checked, its SHA-1 compared with its id) before
 * libgit2 sees it; a packed object is read by libgit2 (whose pack reader
 * stops on a stream that makes no progress), and any failure to read an
 * object is corruption. Errors: RQ_EINTEGRITY with "object 1a2b3c4d5e6f is
 * corrupt: REASON" (or "... is missing", "... is a blob, not a tree"),
 * RQ_EIO when the operating system refused to read the file. */
#ifndef RESQUE_OBJECT_INT_H
#define RESQUE_OBJECT_INT_H

#include "resque/buf.h"
#include <git2.h>

/* Parse the bytes of a loose object file (a zlib stream of "TYPE SIZE\0"
 * then SIZE bytes). The body is appended to `out` and its type stored in
 * *type. When `id` is not NULL, the object's SHA-1 must be `id`. Untrusted
 * input: never reads outside data[0..len), never allocates more than the
 * header's SIZE plus a little, always ends. RQ_EINTEGRITY "object ID is
 * corrupt: REASON" (ID: the first 12 hex digits of `id`, or "?"). */
int rq_object_parse_loose(rq_buf *out, git_object_t *type, const void *data, size_t len,
			  const git_oid *id);

/* Check object `id` of `repo` without keeping it: a loose object is read
 * and checked as above; a packed one is read by libgit2. */
int rq_object_check(git_repository *repo, const git_oid *id, git_object_t want);

/* The object's body (appended to `out`) and type. */
int rq_object_read(rq_buf *out, git_object_t *type, git_repository *repo, const git_oid *id);

/* A blob's content, appended to `out`. */
int rq_object_blob(rq_buf *out, git_repository *repo, const git_oid *id);

/* libgit2 handles, once the object is checked; the caller frees them
 * (git_commit_free, git_tree_free). *out is NULL on error. */
int rq_object_commit(git_commit **out, git_repository *repo, const git_oid *id);
int rq_object_tree(git_tree **out, git_repository *repo, const git_oid *id);

/* The packs of a repository alone, for one thread that reads many objects
 * (verify): no loose object file is looked for, and a miss costs no re-scan
 * of the pack folder. rq_packs_read appends the body of object `id` to
 * `out` (0) when it is packed, of type `want` and hashes to its id;
 * otherwise it returns 1 and leaves `out` as it was: the caller reads the
 * object through the functions above, which find a loose one and name
 * what is wrong. The handle holds libgit2's pack backend: one per thread. */
typedef struct rq_packs rq_packs;
int rq_packs_open(rq_packs **out, git_repository *repo);
void rq_packs_free(rq_packs *p); /* accepts NULL */
int rq_packs_read(rq_buf *out, rq_packs *p, const git_oid *id, git_object_t want);

/* What rq_packs_read does first, on one pack's index and pack bytes: for
 * tests/fuzz/fuzz_packread.c. 0 with the object appended to out; 1 when
 * these bytes do not give it whole (rq_packs_read then asks libgit2). */
int rq_packs__read_bytes(rq_buf *out, const void *idx, size_t idx_len, const void *pack, size_t pack_len,
			 const git_oid *id, git_object_t want);

#endif
