/* The repository and its ledger: a bare git repository whose branch
 * `ledger` holds one commit per entry (tree: `entry`, `sig`, and any
 * attachments under `att/`), plus index.db (SQLite, derived data) and the
 * git-config file `config` (docs/FORMATS.md). */
#ifndef RESQUE_LEDGER_H
#define RESQUE_LEDGER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "resque/buf.h"
#include "resque/entry.h"
#include "resque/key.h"
#include "resque/sizes.h"

#define RQ_LEDGER_REF "refs/heads/ledger"

typedef struct rq_ledger rq_ledger;

typedef struct rq_attachment {
	const char *name; /* a plain file name: [A-Za-z0-9._-]+ */
	const void *data;
	size_t len;
} rq_attachment;

/* Create `resque_dir` (the `.resque` directory) with the bare repository,
 * config and index.db, and write the genesis entry signed by `signer`.
 * RQ_EEXISTS if a repository is there already. */
int rq_ledger_init(rq_ledger **out, const char *resque_dir, const rq_key *signer);

/* Open an existing repository. A missing or stale index.db is rebuilt. */
int rq_ledger_open(rq_ledger **out, const char *resque_dir);
void rq_ledger_free(rq_ledger *l); /* accepts NULL */

const char *rq_ledger_dir(const rq_ledger *l);

/* Check the ledger against what this user verified of it before (verify's
 * memory under $RESQUE_HOME, resque/known.h), verifying the entries new
 * since -- or, with no memory of it yet, the whole ledger once -- and
 * remember the result. Every reader and writer below calls it first (a
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
/* Borrowed SQLite handle on index.db (a `sqlite3 *`), for store/ and for
 * the tests that damage index.db on purpose; from then on readers keep no
 * read transaction open (the holder may write). Declared with an
 * incomplete type so that this header needs no SQLite header. */
struct sqlite3;
struct sqlite3 *rq_ledger_db(rq_ledger *l);

/* The key used by rq_ledger_append; the ledger keeps a reference only
 * (the caller keeps `k` alive until rq_ledger_free). */
void rq_ledger_set_signer(rq_ledger *l, const rq_key *k);

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

/* Number of entries (the next sequence number). */
uint64_t rq_ledger_size(rq_ledger *l);

/* Read entry `seq` from git (caller frees). */
int rq_ledger_get(rq_entry **out, rq_ledger *l, uint64_t seq);

/* Find an entry by a unique hex prefix of its id (>= 4 digits) or by name
 * (body.name, the newest entry of that name). `type` restricts the search
 * (NULL: any type). RQ_ENOTFOUND / RQ_EAMBIGUOUS with a message. */
int rq_ledger_lookup(rq_entry **out, rq_ledger *l, const char *ref, const char *type);

/* Read attachment `name` of an entry, checking its recorded fingerprint
 * (RQ_EINTEGRITY on mismatch). */
int rq_ledger_attachment(rq_buf *out, rq_ledger *l, const rq_entry *e, const char *name);

/* Call `fn` for each entry (of `type`, or all if NULL) in sequence order,
 * read from index.db; entries carry root/body but no commit bytes check.
 * A non-zero return from `fn` stops and is returned. */
int rq_ledger_foreach(rq_ledger *l, const char *type,
		      int (*fn)(const rq_entry *e, void *ctx), void *ctx);

/* The public key of signer `keyid` as recorded in the ledger (init and
 * key entries); RQ_ENOTFOUND if never added. `revoked` tells whether a
 * later entry revoked it. */
int rq_ledger_signer(uint8_t pk[RQ_PUBKEY_LEN], bool *revoked, rq_ledger *l, const char *keyid);

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

/* Repository configuration (git-config syntax, e.g. "resque.region"). */
int rq_ledger_config_get(rq_buf *out, rq_ledger *l, const char *key); /* RQ_ENOTFOUND */
int rq_ledger_config_set(rq_ledger *l, const char *key, const char *value);

#endif
