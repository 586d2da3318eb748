/* Private to the three files of sync (store/sync.h): store/remote.c
 * (remote names, URLs, credentials), store/sync.c (fetch, push, pull,
 * clone) and store/rebase.c (pull --rebase). Nobody else includes it. */
#ifndef RESQUE_SYNC_INT_H
#define RESQUE_SYNC_INT_H

#include "sync.h"

/* One transfer with a remote: who it is, the credentials tried so far,
 * progress, and what a push expects and hears back. */
struct link {
	const char *remote;  /* its name */
	const char *url;     /* as configured (may carry user:password) */
	int ssh_tries;       /* 0 the agent, 1 id_ed25519, 2 id_rsa */
	bool url_tried, helper_tried, auth_failed;
	char *user, *password; /* from the URL or the credential helper */
	rq_sync_progress_fn progress;
	void *progress_ctx;
	/* push: the remote ref must still be what was verified */
	bool expect_set, expect_none;
	git_oid expect;
	char *rejected;      /* the remote refused the update: why (owned) */
	char *url_owned;
	char *shown;         /* the URL without its password, for messages */
};

/* remote.c */

/* `url` with the password of its user:password@ (if any) replaced by
 * "***": what messages and --json show. The caller frees it. */
char *rq_sync__redacted(const char *url);
/* Free what `k` owns (the password wiped first). */
void rq_sync__link_release(struct link *k);
/* Fill `cb` with the credential, progress and push callbacks on `k`. */
void rq_sync__callbacks(git_remote_callbacks *cb, struct link *k);
/* A transport's error as the user should read it, set and returned. */
int rq_sync__net_error(const struct link *k, const char *doing);
/* The certificates https trusts, as git users set them: GIT_SSL_CAINFO
 * and GIT_SSL_CAPATH, else git's http.sslCAInfo and http.sslCAPath; the
 * system's otherwise. Verification is never turned off. Once a process. */
void rq_sync__tls(void);
/* The remote `name` of `l` as an anonymous remote of its URL, `k` set
 * up for it; RQ_ENOTFOUND when there is no such remote. */
int rq_sync__open_remote(git_remote **out, struct link *k, rq_ledger *l, const char *name);

/* sync.c */

/* Move the ledger branch from our tip to `to` (compare-and-swap) and
 * take it as the snapshot; `rewind_to` (when not 0) is the first entry
 * replaced, `verified` what verify_incoming checked of the new ones. */
int rq_sync__move_ledger(rq_ledger *l, const git_oid *to, uint64_t rewind_to, rq_verify_report *verified);

/* rebase.c */

/* The remote's ledger (tip `rtip`, `rsize` entries, its new ones `r`)
 * diverged from ours after entry `base_seq` (commit `base`, id
 * `base_id`): RQ_EINVALID explaining, or with o->rebase our entries
 * replayed on the remote's and the ledger moved there. */
int rq_sync__diverged(rq_sync_result *out, rq_ledger *l, const struct link *k, const git_oid *base,
		      uint64_t base_seq, const char *base_id, const git_oid *rtip, uint64_t rsize,
		      const rq_verify_report *r, const rq_sync_options *o);

#endif
