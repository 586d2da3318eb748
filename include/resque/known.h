/* Known ledgers: verify's memory, outside any repository, of every ledger
 * it has verified (design §2.3), as ssh's known_hosts remembers host keys.
 * Per repository id it keeps the genesis entry id and the largest verified
 * tree: its size, its root, and the leaf hash of every entry in it, so that
 * a later ledger that differs can be shown where it first differs.
 *
 *   $RESQUE_HOME/known_ledgers        text, one line per repository:
 *                                     "REPOSITORY GENESIS SIZE BASE64(root)"
 *   $RESQUE_HOME/known/REPOSITORY.leaves  the leaf hashes, 32 bytes each,
 *                                     in sequence order
 *
 * The text file is replaced atomically; the leaves file only grows, and
 * leaves past the recorded size are ignored, so a crash between the two
 * writes leaves the memory as it was. Format: docs/FORMATS.md, "Known
 * ledgers". */
#ifndef RESQUE_KNOWN_H
#define RESQUE_KNOWN_H

#include <stdbool.h>
#include <stdint.h>
#include "resque/buf.h"
#include "resque/ledger.h"
#include "resque/merkle.h"

#define RQ_KNOWN_ID_MAX 64 /* hex digits of a repository id */

typedef struct rq_known {
	char repository[RQ_KNOWN_ID_MAX + 1];
	char genesis[65]; /* id of the genesis entry first seen */
	uint64_t size;    /* entries in the largest verified tree */
	rq_hash root;     /* its root */
} rq_known;

/* The text file's path ($RESQUE_HOME/known_ledgers, RESQUE_HOME resolved
 * as the key store resolves it). */
int rq_known_path(rq_buf *out);

/* What is remembered of `repository`: RQ_ENOTFOUND (with a message) when
 * it was never verified. With `leaves` non-NULL it also reads the leaf
 * hashes (*leaves gets out->size of them; the caller frees it) and checks
 * that they hash to the remembered root. A memory file that cannot be
 * read or is malformed gives RQ_EINVALID naming the file and the reason. */
int rq_known_get(rq_known *out, rq_hash **leaves, const char *repository);

/* Remember that the ledger of `repository` with genesis `genesis` and the
 * `n` leaf hashes `leaves` verified. Memory only grows: nothing is written
 * when as many entries are remembered already (*updated = false). The
 * caller has checked the ledger against the memory (rq_known_compare).
 * RQ_EIO naming the path when $RESQUE_HOME cannot be written. */
int rq_known_put(bool *updated, const char *repository, const char *genesis,
		 const rq_hash *leaves, uint64_t n);

/* Drop the memory of `repository` (and any line of the text file that
 * cannot be parsed, so this also repairs a corrupt file). *dropped tells
 * whether there was anything to drop. */
int rq_known_forget(bool *dropped, const char *repository);

/* The first index < min(n, known_n) where the two lists of leaf hashes
 * differ, or UINT64_MAX when one is a prefix of the other. */
uint64_t rq_known_first_difference(const rq_hash *leaves, uint64_t n,
				   const rq_hash *known, uint64_t known_n);

/* The first k->size remembered leaf hashes of k->repository, read as they
 * are, without rq_known_get's check that they hash to the remembered root
 * (O(n) hashing): for a caller that checks them against something else.
 * RQ_EINVALID naming the file when it holds fewer. The caller frees *out. */
int rq_known_read_leaves(rq_hash **out, const rq_known *k);

/* Whether `repository` is an id the memory can hold (1 to
 * RQ_KNOWN_ID_MAX lowercase hex digits). */
bool rq_known_id_valid(const char *repository);

/* The memory's verdict on a ledger whose genesis entry is `genesis` and
 * whose leaf hashes are `leaves` (n of them), against what `k` (with its
 * leaves `kleaves`) remembers: 0 when the ledger extends it, else
 * RQ_EINTEGRITY with the first problem as verify words it ("genesis entry
 * changed: ...", "ledger rolled back from K to N entries ...", "history
 * rewritten at entry I: ..."); *at (may be NULL) gets the first differing
 * entry, or UINT64_MAX when none is named. */
int rq_known_compare(uint64_t *at, const rq_known *k, const rq_hash *kleaves, const char *genesis,
		     const rq_hash *leaves, uint64_t n);

/* After a clean rq_ledger_verify: check what it read from git (r->leaves,
 * r->genesis, r->repository — never index.db, which may have changed
 * since) against the memory of its repository (rq_known_compare:
 * RQ_EINTEGRITY when the ledger was rolled back, rewritten or re-created
 * since; RQ_EINVALID when the memory cannot be read, or `r` is not a clean
 * verification) and remember them when they are more than is remembered.
 * A memory that cannot be written is no error: *updated stays false and
 * `warning` (may be NULL) gets why; so it does for a repository id the
 * memory cannot hold. `updated` may be NULL. This is what verify does
 * after a clean verification, and the other commands that have just
 * verified the ledger (checkpoint, report). */
int rq_known_remember(bool *updated, rq_buf *warning, const rq_verify_report *r);


#endif
