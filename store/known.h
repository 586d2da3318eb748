/* Known ledgers: verify's memory, outside any repository, of every ledger
 * it has verified (docs/FORMATS.md), as ssh's known_hosts remembers host keys.
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
#include "ledger_int.h"
#include "merkle.h"

#define RQ_KNOWN_ID_MAX 64 /* hex digits of a repository id */

typedef struct rq_known {
	char repository[RQ_KNOWN_ID_MAX + 1];
	char genesis[RQ_ID_HEX_SIZE]; /* id of the genesis entry first seen */
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

/* What the guard (store/guard.c) needs beside the leaf hashes, so that a
 * command checks only the entries new since the last verification:
 *
 *   $RESQUE_HOME/known/REPOSITORY.commits  the git commit holding each
 *                                     entry, 20 bytes each, in sequence
 *                                     order (grows like the leaves)
 *   $RESQUE_HOME/known/REPOSITORY.state    text: "verified N" (the commits
 *                                     and signer lines are complete for the
 *                                     first N entries), "signer SEQ add ID
 *                                     PUBLIC" / "signer SEQ revoke ID" (the
 *                                     signer changes), "place HASH SIZE"
 *                                     (a repository directory on this
 *                                     machine, by the BLAKE2b of its path,
 *                                     and how many entries it held when a
 *                                     command last checked it)
 *
 * Both are written before known_ledgers names the new size, so a crash in
 * between leaves what known_ledgers says true. */
typedef struct rq_known_state {
	uint64_t verified;        /* commits and signers known for this many entries */
	rq_signer_change *signers; /* owned */
	size_t nsigners;
	uint64_t place_size;      /* the asked-for place's size; 0 when never seen */
} rq_known_state;

/* The state of `repository` and what it remembers of the repository
 * directory `dir` (may be NULL). No state file: all zero, no error.
 * RQ_EINVALID naming the file when it is malformed. */
int rq_known_state_get(rq_known_state *out, const char *repository, const char *dir);
void rq_known_state_release(rq_known_state *s);

/* Remember `n` verified entries at once: the leaves (as rq_known_put),
 * `commits` (20 bytes each) and the signer changes among them, and that
 * `dir` (may be NULL) holds `n` entries, the named entries among them
 * (those from `keep` on are written) and their `ids` (hex; stored raw).
 * `leaves`, `commits` and `ids` hold the records [keep, n) only (element
 * 0 is entry `keep`): the first `keep` are those the memory holds already;
 * RQ_ENOTFOUND when it holds fewer (keep = 0 with every record then). The
 * cost is O(n - keep) (a cached Merkle frontier, REPOSITORY.frontier,
 * spares a pass over every leaf). *updated as rq_known_put's. */
int rq_known_put_all(bool *updated, const char *repository, const char *genesis, const rq_hash *leaves,
		     const uint8_t (*commits)[20], uint64_t n, const rq_signer_change *signers,
		     size_t nsigners, const rq_named *named, size_t nnamed, const char (*ids)[RQ_ID_HEX_SIZE], uint64_t keep,
		     const char *dir);
/* Read entry ids [from, from + n) (32 bytes each, REPOSITORY.ids). */
int rq_known_read_ids(uint8_t (*out)[RQ_HASH_LEN], const char *repository, uint64_t from, uint64_t n);

/* The named entries remembered (REPOSITORY.names: "SEQ TYPE HEX(NAME)"
 * lines), those before `below`; none when there is no file. */
int rq_known_read_names(rq_named **out, size_t *n, const char *repository, uint64_t below);
void rq_known_names_free(rq_named *v, size_t n);

/* Remember only that `dir` holds `size` entries of `repository`. */
int rq_known_set_place(const char *repository, const char *dir, uint64_t size);

/* Read commit ids [from, from + n) of `repository` (20 bytes each) into
 * `out`; RQ_EINVALID naming the file when it holds fewer. */
int rq_known_read_commits(uint8_t (*out)[20], const char *repository, uint64_t from, uint64_t n);
/* Read leaf hashes [from, from + n) likewise (unchecked against the root). */
int rq_known_read_leaf_range(rq_hash *out, const char *repository, uint64_t from, uint64_t n);


/* Forget what was verified of `repository` past its first `size` entries
 * (their leaves, commits, signer changes), keeping the places: for a
 * rebase (store/sync.c) that replaced this user's unpublished entries.
 * Nothing to do when no more than `size` are remembered. */
int rq_known_rewind(const char *repository, uint64_t size);

#endif
