/* Private to store/, cmd/ and the tests: the ledger's struct and
 * lower-level access (the public half is resque/ledger.h). */
#ifndef RESQUE_LEDGER_INT_H
#define RESQUE_LEDGER_INT_H

#include "resque/ledger.h"
#include <git2.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include "entry_int.h"
#include "key_int.h"
#include "merkle.h"

#define RQ_LEDGER_REF "refs/heads/ledger"

/* Check the ledger against what this user verified of it before (verify's
 * memory under $RESQUE_HOME, known.h), verifying the entries new
 * since -- or, with no memory of it yet, the whole ledger once -- and
 * remember the result. Every reader and writer calls it first (a
 * command calls it right after opening, to fail early); it runs once per
 * open ledger. RQ_EINTEGRITY naming the entry when the ledger's tip does
 * not descend from the verified one (rolled back or rewritten) or a new
 * entry fails verification. What readers return is then checked against
 * what was verified, never taken from index.db on trust. */
int rq_ledger_guard(rq_ledger *l);
/* Why index.db could not be used (read-only or full disk, a newer
 * schema), so that the index was built in memory from the ledger and
 * writes are refused; NULL when index.db is in use. Borrowed. The library
 * never prints: the command tells its user. */
const char *rq_ledger_index_memory(const rq_ledger *l);
/* Borrowed SQLite handle on index.db, for store/ and for the tests that
 * damage index.db on purpose; from then on readers keep no read
 * transaction open (the holder may write). */
sqlite3 *rq_ledger_db(rq_ledger *l);

/* Append an entry of `type` with `body` (ownership taken, also on error).
 * Attachments are stored in the entry's tree and recorded in
 * body.attachments as {"NAME": {"bytes": N, "fingerprint": "b2:HEX"}}.
 * Writers are serialised by a lock file (waits up to 10 s, then
 * RQ_ELOCKED) and a compare-and-swap of the ledger ref. The entry is
 * visible only once the ref is written; index.db follows. `out` may be
 * NULL; otherwise it receives the new entry (caller frees). */
int rq_ledger_append(rq_entry **out, rq_ledger *l, const char *type, json_t *body,
		     const rq_attachment *att, size_t natt);

/* A check that must hold when the entry is written, not only when the
 * command started: rq_ledger_append_if runs it under the writer's lock,
 * after the ledger's new entries (if another process appended since the
 * ledger was opened) were verified and indexed, so that lookups inside it
 * see every entry before the one being appended. It returns 0 to go on,
 * or an RQ_E* code with rq_error_set's message to refuse (the body is
 * freed and nothing is written). Uniqueness of version and dataset names
 * and of imported run ids is checked this way. */
typedef int (*rq_append_check_fn)(rq_ledger *l, void *ctx);
int rq_ledger_append_if(rq_entry **out, rq_ledger *l, const char *type, json_t *body,
			const rq_attachment *att, size_t natt, rq_append_check_fn check, void *ctx);

/* Whether the ledger's branch has moved since the ledger was opened (the
 * snapshot its readers use): another process appended, say. A ledger
 * shorter than what was remembered is then no rollback. */
bool rq_ledger_tip_moved(rq_ledger *l);

/* The public key of signer `keyid` as recorded in the ledger (init and
 * key entries); RQ_ENOTFOUND if never added. `revoked` tells whether a
 * later entry revoked it. */
int rq_ledger_signer(uint8_t pk[RQ_PUBKEY_LEN], bool *revoked, rq_ledger *l, const char *keyid);

/* Where a config entry was found (git's levels): ".resque/config" (the
 * repository's own file), "~/.gitconfig", "~/.config/git/config",
 * "/etc/gitconfig" and so on. `value` of rq_ledger_config_where as
 * rq_ledger_config_get; `fn` of rq_ledger_config_foreach is called for
 * every entry whose name matches the regular expression `regexp`, and a
 * non-zero return stops the walk and is returned. */
int rq_ledger_config_where(rq_buf *value, const char **where, rq_ledger *l, const char *key);
int rq_ledger_config_foreach(rq_ledger *l, const char *regexp,
			     int (*fn)(const char *name, const char *value, const char *where, void *ctx), void *ctx);

/* Verification (docs/FORMATS.md). */
typedef struct rq_problem {
	int64_t seq; /* -1 when it concerns no single entry (the index, the ref) */
	char id[RQ_ID_HEX_SIZE];
	char *message;
} rq_problem;

/* A change of the ledger's signers: the genesis entry and key entries. */
typedef struct rq_signer_change {
	uint64_t seq;  /* the entry that made the change */
	bool revoke;
	char id[RQ_KEY_ID_SIZE];
	uint8_t pk[RQ_PUBKEY_LEN]; /* for an add */
} rq_signer_change;

/* A named entry (body.name: versions, datasets): what look-ups by name
 * search, as verified. */
typedef struct rq_named {
	uint64_t seq;
	char type[16];
	char *name; /* owned */
} rq_named;

typedef struct rq_verify_report {
	uint64_t entries;    /* entries examined */
	uint64_t signers;    /* signers authorised at the tip */
	rq_problem *problems;
	size_t nproblems;
	char tip[RQ_ID_HEX_SIZE]; /* id of the last entry */
	bool index_rebuilt;  /* index.db was missing or stale and was rebuilt */
	/* What verify itself read from git (never from index.db), for the
	 * commands that remember or vouch for the ledger: the leaf hash of
	 * every entry (owned; NULL unless every entry could be read and
	 * parsed), the genesis entry's id, the repository id it names, its
	 * signer and public key ("" / zeros when unknown). */
	uint8_t (*leaves)[RQ_HASH_LEN];
	uint64_t nleaves;
	char genesis[RQ_ID_HEX_SIZE];
	char repository[65]; /* at most 64 characters, as the genesis entry names it */
	char genesis_signer[RQ_KEY_ID_SIZE];
	uint8_t genesis_pk[RQ_PUBKEY_LEN];
	/* Likewise the commit holding each entry (owned, nleaves of them, with
	 * the leaves) and the signer changes in order (owned). */
	uint8_t (*commits)[20];
	char (*ids)[RQ_ID_HEX_SIZE];
	rq_named *named;       /* the named entries, in order (owned) */
	size_t nnamed;
	rq_signer_change *signer_changes;
	size_t nsigner_changes;
	/* Problems with index.db only (the ledger itself may be sound): the
	 * last `index_problems` of `problems` concern index.db. */
	size_t index_problems;
	/* The capacities of problems, named and signer_changes (the report's
	 * own bookkeeping: a zeroed report is empty). */
	size_t problems_alloc, named_alloc, signer_changes_alloc;
} rq_verify_report;

/* Check every entry; 0 when clean, RQ_EINTEGRITY when problems were found
 * (listed in `out`), another code when the check itself failed. */
int rq_ledger_verify(rq_verify_report *out, rq_ledger *l);
void rq_verify_report_release(rq_verify_report *r);
/* Add a problem to the report (seq -1 and id NULL when it concerns no
 * single entry); rq_verify_report_release frees it. */
void rq_verify_report_add(rq_verify_report *r, int64_t seq, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Rebuild index.db's ledger tables from the ledger. */
int rq_ledger_reindex(rq_ledger *l);

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
	/* A verification of the entries after the first `preverified_from`
	 * up to commit `preverified_tip` that the caller has just done (a
	 * pull, store/sync.c): the guard's next check of exactly those takes
	 * it (emptying it) instead of verifying them again. */
	bool index_unbuilt; /* rq_ledger__open_unindexed: verify compares nothing with index.db */
	rq_verify_report *preverified;
	uint64_t preverified_from;
	git_oid preverified_tip;
	/* rq_ledger__batch: appends are remembered (store/known.c) together
	 * when the batch ends, not one by one */
	bool batch;
	/* rq_index_insert's statements, prepared on its first call and
	 * finalized by rq_index_close (store/index.c) */
	struct rq_index_inserter *inserter;
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
	/* The tip to walk down from: NULL for the snapshot's (l->tip); a
	 * fetched tip for sync (store/sync.c), which needs no ledger ref. */
	const git_oid *tip;
};
/* r->leaves and r->commits then hold the new entries only. */
int rq_ledger__verify_from(rq_verify_report *r, rq_ledger *l, const struct rq_verify_from *from);

/* Write entry `e` (its tree `tree_oid`) as a commit on `parent` (NULL
 * for the genesis), dated by the entry, without moving any ref. */
int rq_ledger__commit(git_oid *out, rq_ledger *l, const rq_entry *e, const git_oid *tree_oid, const git_oid *parent);

/* rq_ledger_open without bringing index.db to the ledger (a clone fills
 * it from the entries it has just verified): only for a repository that
 * nobody else uses yet. */
int rq_ledger__open_unindexed(rq_ledger **out, const char *resque_dir);

/* Remove what killed inits and clones left beside `resque_dir`
 * (RESQUE_DIR.tmp-PID of processes that are gone). */
void rq_ledger__clean_init_leftovers(const char *resque_dir);

/* Take the writers' lock (.resque/ledger.lock; waits up to 10 s, then
 * RQ_ELOCKED); closing *fd releases it. */
int rq_ledger__lock(int *fd, rq_ledger *l);

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
/* Remember the entries this process appended without remembering them
 * (a batch): 0, or the error (they stay in RAM, verified). */
int rq_guard_remember_appended(rq_ledger *l);
/* Appends from now on (on) are remembered together when the batch ends
 * (off): for bulk writers (a benchmark's ledger, a large import), which
 * then pay one update of the memory instead of one per entry. */
int rq_ledger__batch(rq_ledger *l, bool on);
/* Under the writer's lock: pack the loose entries once there are enough of
 * them (all of them with `force`), then merge packs geometrically
 * (store/pack.c). 0, or the error (nothing is lost either way). */
int rq_ledger__pack(rq_ledger *l, bool force);
/* The newest verified entry named `name` (of `type`, or any when NULL),
 * before the snapshot's tip; *seq = -1 when none. */
int rq_guard_find_name(int64_t *seq, rq_ledger *l, const char *name, const char *type);
/* A writer under its lock found the tip moved to `tip`: verify what is
 * new (as rq_ledger_guard) and take it as the snapshot. */
int rq_guard_advance(rq_ledger *l, const git_oid *tip);

/* index.db (store/index.c) */
int rq_index_open(rq_ledger *l);
/* index.db deleted (with its -wal and -shm) and made again, empty. */
int rq_index_recreate(rq_ledger *l);
/* The last SQLite error says index.db is damaged (corrupt, not a database). */
bool rq_index_damaged(rq_ledger *l);
/* An empty index in memory, for readers when index.db cannot be used. */
int rq_index_open_memory(rq_ledger *l);
int rq_index_tip(rq_buf *out_commit_hex, rq_ledger *l);
int rq_index_insert(rq_ledger *l, const rq_entry *e, const char *commit_hex);
/* Finalize the cached statements and close index.db (l->db NULL after). */
void rq_index_close(rq_ledger *l);
/* A large page cache on (a rebuild) or back to SQLite's default. */
void rq_index_bulk(rq_ledger *l, bool on);
/* Many inserts with their statements prepared once (reindex, pull). */
typedef struct rq_index_inserter {
	rq_ledger *l;
	sqlite3_stmt *entry, *put, *get;
} rq_index_inserter;
int rq_index_inserter_open(rq_index_inserter *w, rq_ledger *l);
int rq_index_inserter_put(rq_index_inserter *w, const rq_entry *e, const char *commit_hex);
/* The same with the entry's summary (rq_entry_summary) made beforehand,
 * e.g. on another thread (reindex). */
int rq_index_inserter_put_summary(rq_index_inserter *w, const rq_entry *e, const char *commit_hex,
				  const rq_buf *summary);
void rq_index_inserter_close(rq_index_inserter *w); /* before the transaction ends */
int rq_index_set_tip(rq_ledger *l, const char *commit_hex);
int rq_index_begin(rq_ledger *l); /* a write transaction (ends a read one) */
void rq_index_read_begin(rq_ledger *l);
void rq_index_read_end(rq_ledger *l);
int rq_index_commit(rq_ledger *l);
void rq_index_rollback(rq_ledger *l);
int rq_index_clear(rq_ledger *l);
/* Drop the rows of entries `keep` and after (and the Merkle nodes over
 * them), in the caller's write transaction. */
int rq_index_truncate(rq_ledger *l, uint64_t keep);
/* The queries readers run on index.db, in one table so that a test can
 * check every one's plan (tests/unit/test_query_plans.c: none scans
 * `entries`). */
enum rq_index_query {
	RQ_Q_ROWS,      /* ?1 <= seq < ?2: seq, entry, oldest first */
	RQ_Q_ROWS_DESC, /* the same, newest first */
	RQ_Q_BY_ID,     /* id = ?1: seq */
	RQ_Q_GENESIS,   /* seq 0: entry */
	RQ_Q_COUNT
};
extern const char *const rq_index_queries[RQ_Q_COUNT];

/* Reading entries from index.db, each checked against the leaf hash the
 * guard verified for its sequence number (store/ledger.c). */
typedef struct rq_scan {
	const char *const *types; /* only entries of these types (parsed, not */
	size_t ntypes;            /* index.db's column); none: every type */
	bool newest_first;
	uint64_t limit;           /* at most this many entries; 0: all */
} rq_scan;
/* `fn` gets each entry (its commit filled in) and may keep it by taking
 * *e (setting it to NULL); a positive return stops the scan (returned as 0). */
typedef int (*rq_scan_fn)(rq_entry **e, void *ctx);
int rq_ledger__scan(rq_ledger *l, const rq_scan *s, rq_scan_fn fn, void *ctx);
/* The rows themselves, checked likewise: `fn` gets each entry's canonical
 * bytes (borrowed for the call), for a reader that parses only some. */
typedef int (*rq_row_fn)(uint64_t seq, const void *bytes, size_t len, void *ctx);
int rq_ledger__scan_rows(rq_ledger *l, bool newest_first, rq_row_fn fn, void *ctx);
/* Whether canonical entry bytes may hold `"key":"value"` (false: surely
 * not, so the entry need not be parsed to know). */
bool rq_ledger__may_hold(const void *bytes, size_t len, const char *key, const char *value);

/* "git error: ..." from libgit2's last error. */
int rq_git_error(int code, const char *what);

#endif
