/* The repository and its ledger: a bare git repository whose branch
 * `ledger` holds one commit per entry (tree: `entry`, `sig`, and any
 * attachments under `att/`), plus index.db (SQLite, derived data) and the
 * git-config file `config` (docs/FORMATS.md).
 *
 * rq_ledger is opaque. Every reader and writer first checks the ledger
 * against what this user verified of it before (verify's memory under
 * $RESQUE_HOME), once per open ledger: RQ_EINTEGRITY when it was rolled
 * back, rewritten, or a new entry fails verification. */
#ifndef RESQUE_LEDGER_H
#define RESQUE_LEDGER_H

#include <stddef.h>
#include <stdint.h>
#include "resque/buf.h"
#include "resque/entry.h"
#include "resque/export.h"
#include "resque/key.h"
#include "resque/sizes.h"

RQ_BEGIN_DECLS

typedef struct rq_ledger rq_ledger;

/* A file to store with an entry. Borrowed for the call only. */
typedef struct rq_attachment {
	const char *name; /* a plain file name: [A-Za-z0-9._-]+ */
	const void *data;
	size_t len;
} rq_attachment;

/* Create `resque_dir` (the `.resque` directory) with the bare repository,
 * config and index.db, and write the genesis entry signed by `signer`
 * (borrowed for the call). *out receives the open ledger (the caller
 * frees it with rq_ledger_free). RQ_EEXISTS if a repository is there
 * already; RQ_EIO when it cannot be written. */
RQ_EXTERN int rq_ledger_init(rq_ledger **out, const char *resque_dir, const rq_key *signer);

/* Open an existing repository (`resque_dir` as rq_repo_discover finds
 * it). A missing or stale index.db is rebuilt. *out receives the ledger
 * (the caller frees it with rq_ledger_free). RQ_ENOTFOUND when there is no
 * repository there; RQ_EINTEGRITY when its tip is missing or corrupt. */
RQ_EXTERN int rq_ledger_open(rq_ledger **out, const char *resque_dir);
/* Close the ledger and free it; accepts NULL. */
RQ_EXTERN void rq_ledger_free(rq_ledger *l);

/* The absolute path of its `.resque` directory. Borrowed: lives as long
 * as the ledger. */
RQ_EXTERN const char *rq_ledger_dir(const rq_ledger *l);

/* The key that signs what this ledger appends. The ledger keeps a
 * reference only: the caller keeps `k` alive until rq_ledger_free. */
RQ_EXTERN void rq_ledger_set_signer(rq_ledger *l, const rq_key *k);

/* Append an entry of `type` whose body is `body_json`, the text of a JSON
 * object (parsed here: the caller keeps its string), signed by the key of
 * rq_ledger_set_signer, which must be authorised in the ledger.
 * Attachments (borrowed for the call) are stored in the entry's tree and
 * recorded in body.attachments as {"NAME": {"bytes": N, "fingerprint":
 * "b2:HEX"}}. Writers are serialised by a lock file (waiting up to 10 s)
 * and a compare-and-swap of the ledger ref; the entry is visible once the
 * ref is written. `out` may be NULL; otherwise it receives the new entry
 * (the caller frees it). What the library's own verifier or look-ups
 * would trip over is refused, never written: `type` is one of "dataset",
 * "version", "plan", "actual", "note" (signer changes are `resque key`'s);
 * the body has no "attachments" member (the library records it); a
 * version or dataset has a valid "name" not yet in use (checked under the
 * writer's lock); attachment names are [A-Za-z0-9._-]+, not starting with
 * a dot, each once; the entry must parse back (no body nested too deep).
 * 0; RQ_EINVALID (with a message saying which rule), RQ_EEXISTS (the name
 * is in use), RQ_ELOCKED, RQ_EINTEGRITY, RQ_EIO. On error nothing is
 * written. */
RQ_EXTERN int rq_ledger_append_json(rq_entry **out, rq_ledger *l, const char *type,
				    const char *body_json, const rq_attachment *att, size_t natt);

/* Number of entries (the next sequence number) up to the tip the ledger
 * had when it was opened (or after this process last appended). Cannot
 * fail. */
RQ_EXTERN uint64_t rq_ledger_size(rq_ledger *l);

/* Read entry `seq` from git into *out (the caller frees it). RQ_ENOTFOUND
 * when seq >= rq_ledger_size; RQ_EINTEGRITY when it is corrupt. */
RQ_EXTERN int rq_ledger_get(rq_entry **out, rq_ledger *l, uint64_t seq);

/* Find an entry by a unique hex prefix of its id (>= 4 digits) or by name
 * (body.name, the newest entry of that name) into *out (the caller frees
 * it). `type` restricts the search (NULL: any type). RQ_ENOTFOUND /
 * RQ_EAMBIGUOUS with a message. */
RQ_EXTERN int rq_ledger_lookup(rq_entry **out, rq_ledger *l, const char *ref, const char *type);

/* Append attachment `name` of an entry to `out` (the caller's buffer),
 * checking its recorded fingerprint. RQ_ENOTFOUND when the entry has no
 * such attachment; RQ_EINTEGRITY on a mismatch. */
RQ_EXTERN int rq_ledger_attachment(rq_buf *out, rq_ledger *l, const rq_entry *e, const char *name);

/* Call `fn` for each entry (of `type`, or all if NULL) in sequence order;
 * `e` is borrowed for the call. A non-zero return from `fn` stops the walk
 * and is returned; otherwise 0 or an RQ_E* code. */
RQ_EXTERN int rq_ledger_foreach(rq_ledger *l, const char *type,
				int (*fn)(const rq_entry *e, void *ctx), void *ctx);

/* A problem that rq_ledger_check found: `seq` is the entry concerned, or -1
 * when it concerns no single entry (the index, the ref); `id` that entry's
 * id or ""; `message` says what is wrong. All borrowed for the call. */
typedef void (*rq_problem_fn)(int64_t seq, const char *id, const char *message, void *ctx);

/* Verify the whole ledger as git holds it (docs/FORMATS.md): every entry
 * canonical, chained, in sequence, signed by an authorised key, its
 * attachments matching; index.db matching the ledger; and, as every reader
 * does first, the ledger against what this user verified of it before
 * (verify's memory under $RESQUE_HOME, which it then remembers): a ledger
 * rolled back or rewritten since is a problem with seq -1. Each problem is
 * passed to `fn` (may be NULL) in order, and the number of entries
 * examined is stored in *entries (may be NULL). 0 when clean,
 * RQ_EINTEGRITY when problems were found, another code when the check
 * itself failed. */
RQ_EXTERN int rq_ledger_check(uint64_t *entries, rq_ledger *l, rq_problem_fn fn, void *ctx);

/* Repository configuration (git-config syntax, e.g. "resque.region"):
 * the value of `key` appended to `out` (the caller's buffer);
 * RQ_ENOTFOUND when it is not set. */
RQ_EXTERN int rq_ledger_config_get(rq_buf *out, rq_ledger *l, const char *key);
/* Set `key` to `value` in the repository's config. RQ_EINVALID for a bad
 * key; RQ_EIO when it cannot be written. */
RQ_EXTERN int rq_ledger_config_set(rq_ledger *l, const char *key, const char *value);

RQ_END_DECLS

#endif
