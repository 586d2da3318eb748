/* Private to store/ and to tests: lower-level ledger access. */
#ifndef RESQUE_LEDGER_INT_H
#define RESQUE_LEDGER_INT_H

#include "resque/ledger.h"
#include <git2.h>
#include <sqlite3.h>
#include "merkle.h"

struct rq_ledger {
	char *dir;          /* absolute path of .resque */
	git_repository *repo;
	sqlite3 *db;
	const rq_key *signer;
	bool index_rebuilt; /* the last open found index.db missing or stale */
	char *index_memory; /* why the index lives in memory (index.db unusable), or NULL */
	int index_memory_code; /* the RQ_E* code writers refuse with then */
	/* The snapshot: the ledger's tip, read once when it was opened (and
	 * again by a writer under its lock); readers ignore what comes after. */
	bool has_tip;
	git_oid tip;
	uint64_t size;      /* entries up to the tip */
	/* The guard (store/guard.c): what of the ledger has been verified. */
	struct rq_guard *guard;
	bool reading;       /* a read transaction on index.db is open */
	bool shared_db;     /* rq_ledger_db handed the connection out: no more */
	rq_append_check_fn check; /* rq_ledger_append_if's check, during the call */
	void *check_ctx;
};

#define RQ_APPEND_UNCHECKED 1u /* skip the signer authorisation check (tests) */

int rq_ledger__append(rq_entry **out, rq_ledger *l, const char *type, json_t *body,
		      const rq_attachment *att, size_t natt, const rq_key *signer,
		      unsigned flags);

/* Verification of the entries after `size` verified ones (store/verify.c). */
struct rq_verify_from {
	uint64_t size;      /* entries [0, size) were verified */
	git_oid commit;     /* the commit of entry size - 1 */
	char id[RQ_ID_HEX_SIZE]; /* its id */
	const rq_signer_change *signers; /* the changes among them */
	size_t nsigners;
};
/* r->leaves and r->commits then hold the new entries only. */
int rq_ledger__verify_from(rq_verify_report *r, rq_ledger *l, const struct rq_verify_from *from);

/* Tell the command's user (rq_tlog_set_notice's function; store/tlog.c). */
void rq_ledger__notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Take the ledger's tip again as the snapshot (and bring the index to it). */
int rq_ledger__resnapshot(rq_ledger *l);

/* Read and parse the entry stored in commit `oid` (store/ledger.c). */
int rq_ledger__entry_at(rq_entry **out, rq_ledger *l, const git_oid *oid);

/* The guard (store/guard.c). The leaf hash and commit of entry `seq`
 * (< l->size) as verified; the signer changes of the verified ledger. */
int rq_guard_leaf(rq_hash leaf, uint8_t commit[20], rq_ledger *l, uint64_t seq);
/* Load every verified leaf and commit at once, for a scan of them all. */
int rq_guard_load_all(rq_ledger *l);
void rq_guard_signers(const rq_signer_change **v, size_t *n, rq_ledger *l);
/* The index row `seq` was checked against the ledger in this read
 * transaction (a bitmap reset when the transaction ends). */
bool rq_guard_row_ok(rq_ledger *l, uint64_t seq);
void rq_guard_set_row_ok(rq_ledger *l, uint64_t seq);
void rq_guard_rows_reset(rq_ledger *l);
void rq_guard_free(struct rq_guard *g);
/* The verified entries whose id starts with `low` (lower-case hex, `len`
 * digits): how many, and the last one's seq. */
int rq_guard_find_id(int64_t *seq, size_t *matches, rq_ledger *l, const char *low, size_t len);
/* Entries of this repository that the memory holds (0 if none). */
uint64_t rq_guard_known(rq_ledger *l);
/* This process appended the entry with `leaf` in commit `tip`. */
void rq_guard_appended(rq_ledger *l, const rq_entry *e, const rq_hash leaf, const git_oid *tip, bool remember);
/* The newest verified entry named `name` (of `type`, or any when NULL),
 * before the snapshot's tip; *seq = -1 when none. */
int rq_guard_find_name(int64_t *seq, rq_ledger *l, const char *name, const char *type);
/* A writer under its lock found the tip moved to `tip`: verify what is
 * new (as rq_ledger_guard) and take it as the snapshot. */
int rq_guard_advance(rq_ledger *l, const git_oid *tip);

/* index.db (store/index.c) */
int rq_index_open(rq_ledger *l);
/* An empty index in memory, for readers when index.db cannot be used. */
int rq_index_open_memory(rq_ledger *l);
int rq_index_tip(rq_buf *out_commit_hex, rq_ledger *l);
int rq_index_insert(rq_ledger *l, const rq_entry *e, const char *commit_hex);
int rq_index_set_tip(rq_ledger *l, const char *commit_hex);
int rq_index_begin(rq_ledger *l); /* a write transaction (ends a read one) */
void rq_index_read_begin(rq_ledger *l);
void rq_index_read_end(rq_ledger *l);
int rq_index_commit(rq_ledger *l);
void rq_index_rollback(rq_ledger *l);
int rq_index_clear(rq_ledger *l);

/* "git error: ..." from libgit2's last error. */
int rq_git_error(int code, const char *what);

#endif
