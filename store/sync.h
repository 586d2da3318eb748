/* Sharing a ledger through git remotes (store/remote.c, store/sync.c,
 * store/rebase.c; what they share is in store/sync_int.h): remotes, clone,
 * push and pull, over every transport libgit2 has (a path, file://,
 * git://, ssh:// and scp-like, http:// and https://). Nothing received
 * moves the local ledger before it verified (docs/SYNC.md). */
#ifndef RESQUE_SYNC_H
#define RESQUE_SYNC_H

#include <stdbool.h>
#include <stdint.h>
#include "ledger_int.h"

#define RQ_REMOTE_LEDGER "refs/heads/ledger" /* the branch every remote holds */

/* What a clone, push or pull did, for the command's report and --json. */
typedef struct rq_sync_result {
	char *remote;          /* the remote's name (owned) */
	char *url;             /* its URL (owned) */
	uint64_t before_size, after_size; /* entries of the local ledger */
	char before_tip[RQ_ID_HEX_SIZE], after_tip[RQ_ID_HEX_SIZE]; /* "" when empty */
	uint64_t received;     /* entries new here */
	uint64_t sent;         /* entries new on the remote */
	uint64_t rebased;      /* our entries replayed on the remote's */
	uint64_t remote_size;  /* the remote's ledger as last seen */
	bool up_to_date;       /* nothing moved */
} rq_sync_result;

void rq_sync_result_release(rq_sync_result *r);

/* Progress of a transfer (objects), for a bar on the command's terminal. */
typedef void (*rq_sync_progress_fn)(void *ctx, const char *what, uint64_t done, uint64_t total);

typedef struct rq_sync_options {
	bool rebase;                  /* pull: replay our entries on the remote's */
	/* pull --rebase: "OLD=NEW", replay our version or dataset OLD as NEW
	 * (references to it by name follow) */
	const char *const *renames;
	size_t nrenames;
	rq_sync_progress_fn progress; /* may be NULL */
	void *progress_ctx;
} rq_sync_options;

/* Remotes as git keeps them, in .resque/config. */
bool rq_remote_name_valid(const char *name);
int rq_remote_add(rq_ledger *l, const char *name, const char *url);
int rq_remote_remove(rq_ledger *l, const char *name);
/* `fn` for each remote, in config order; its non-zero return stops. */
int rq_remote_each(rq_ledger *l, int (*fn)(const char *name, const char *url, void *ctx), void *ctx);
/* 0 for a URL resque may use: not empty, and without control characters
 * as written or %XX-decoded (a credential helper must never see one). */
int rq_remote_url_check(const char *url);
/* The directory of a remote on this machine (a path, or a file:// URL
 * decoded), or NULL for a network URL; the caller frees it. */
char *rq_remote_local_path(const char *url);
/* `url` as a remote keeps it: a local path made absolute (a project
 * directory standing for its .resque), anything else as given. */
int rq_remote_url_normalise(rq_buf *out, const char *url);
/* The remote to use when none is named: "origin", or the only one. */
int rq_remote_default(rq_buf *out, rq_ledger *l);

/* Make the repository `resque_dir` (which must not exist) from the ledger
 * at `url`, verified whole before it is moved into place; its remote
 * "origin" is `url`. */
int rq_sync_clone(rq_sync_result *out, const char *url, const char *resque_dir, const rq_sync_options *o);

/* Move the remote's ledger branch forward to ours. RQ_EINVALID when the
 * remote's is not an ancestor of ours (pull first). */
int rq_sync_push(rq_sync_result *out, rq_ledger *l, const char *remote, const rq_sync_options *o);

/* Fetch the remote's ledger, verify what is new, move ours forward to it
 * (or, with o->rebase, replay our own entries on top of it, signed again
 * with l's signer). RQ_EINTEGRITY when what the remote serves fails
 * verification or goes back on what it served before; RQ_EINVALID when
 * the ledgers diverged (without rebase) or a rebase cannot be done. */
int rq_sync_pull(rq_sync_result *out, rq_ledger *l, const char *remote, const rq_sync_options *o);

#endif
