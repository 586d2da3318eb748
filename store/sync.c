/* Sharing a ledger through git remotes: remotes, clone, push, pull and
 * pull --rebase (docs/SYNC.md). libgit2 does the transport; what it
 * brings is held under a quarantine ref (refs/resque/incoming/NAME) and
 * verified as `resque verify` would before the ledger branch moves to it,
 * by one compare-and-swap. */
#include "common.h"
#include "sync.h"
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>
#include "json.h"
#include "known.h"
#include "object_int.h"
#include "process.h"
#include "lineage.h"
#include "tlog.h"

#define INCOMING "refs/resque/incoming/"

void rq_sync_result_release(rq_sync_result *r)
{
	free(r->remote);
	free(r->url);
	memset(r, 0, sizeof(*r));
}

/* ---- remotes ---- */

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static char *percent_decode(const char *s, size_t len)
{
	char *out = rq_xcalloc(len + 1, 1), *o = out;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			*o++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	return out;
}


/* `url` with the password of its user:password@ (if any) replaced by
 * "***": what messages and --json show. */
static char *redacted(const char *url)
{
	rq_buf b = RQ_BUF_INIT;
	const char *p = strstr(url, "://");
	const char *host = p ? p + 3 : NULL;
	const char *end = host ? host + strcspn(host, "/?#") : NULL, *at = NULL, *colon = NULL;
	for (const char *q = host; q && q < end; q++)
		if (*q == '@')
			at = q;
	if (at)
		colon = memchr(host, ':', (size_t)(at - host));
	if (colon) {
		rq_buf_put(&b, url, (size_t)(colon - url));
		rq_buf_puts(&b, ":***");
		rq_buf_puts(&b, at);
	} else {
		rq_buf_puts(&b, url);
	}
	return rq_buf_detach(&b, NULL);
}

/* A remote's name: what git accepts in a ref name, kept simple. */
bool rq_remote_name_valid(const char *name)
{
	if (!name || !*name || strlen(name) > 64 || name[0] == '-' || name[0] == '.')
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		      *p == '_' || *p == '-'))
			return false;
	size_t len = strlen(name);
	return strstr(name, "..") == NULL && name[len - 1] != '.' && (len < 5 || strcmp(name + len - 5, ".lock") != 0);
}

static int check_name(const char *name)
{
	if (!rq_remote_name_valid(name))
		return rq_error_set(RQ_EINVALID, "'%s' is not a valid remote name (letters, digits, '.', '_', '-')",
				    name ? name : "");
	return 0;
}

int rq_remote_add(rq_ledger *l, const char *name, const char *url)
{
	git_remote *r = NULL;
	int err;

	if ((err = check_name(name)) || (err = rq_remote_url_check(url)))
		return err;
	if (git_remote_lookup(&r, l->repo, name) == 0) {
		char *shown = redacted(git_remote_url(r) ? git_remote_url(r) : "");
		err = rq_error_set(RQ_EEXISTS, "remote '%s' exists already (%s)", name, shown);
		free(shown);
		git_remote_free(r);
		return err;
	}
	/* The ledger branch only: a remote may hold code branches too. */
	if (git_remote_create_with_fetchspec(&r, l->repo, name, url, "+" RQ_REMOTE_LEDGER ":refs/remotes/%s/ledger")) {
		rq_git_error(RQ_EINVALID, "");
		return rq_error_set(RQ_EINVALID, "remote '%s': %s", name,
				    git_error_last() ? git_error_last()->message : "git error");
	}
	git_remote_free(r);
	return 0;
}

int rq_remote_remove(rq_ledger *l, const char *name)
{
	git_remote *r = NULL;
	int err;

	if ((err = check_name(name)))
		return err;
	if (git_remote_lookup(&r, l->repo, name) != 0)
		return rq_error_set(RQ_ENOTFOUND, "no remote named '%s'", name);
	git_remote_free(r);
	if (git_remote_delete(l->repo, name))
		return rq_git_error(RQ_EIO, "removing the remote");
	return 0;
}

int rq_remote_each(rq_ledger *l, int (*fn)(const char *name, const char *url, void *ctx), void *ctx)
{
	git_strarray names = { 0 };
	int err = 0;

	if (git_remote_list(&names, l->repo))
		return rq_git_error(RQ_EIO, "reading the remotes");
	for (size_t i = 0; i < names.count && !err; i++) {
		git_remote *r = NULL;
		if (git_remote_lookup(&r, l->repo, names.strings[i]) != 0) {
			rq_error_clear();
			continue;
		}
		err = fn(names.strings[i], git_remote_url(r) ? git_remote_url(r) : "", ctx);
		git_remote_free(r);
	}
	git_strarray_dispose(&names);
	return err;
}

int rq_remote_default(rq_buf *out, rq_ledger *l)
{
	git_strarray names = { 0 };
	int err = 0;

	if (git_remote_list(&names, l->repo))
		return rq_git_error(RQ_EIO, "reading the remotes");
	for (size_t i = 0; i < names.count; i++)
		if (strcmp(names.strings[i], "origin") == 0) {
			rq_buf_puts(out, "origin");
			goto done;
		}
	if (names.count == 1)
		rq_buf_puts(out, names.strings[0]);
	else if (names.count == 0)
		err = rq_error_set(RQ_ENOTFOUND, "no remote: add one with 'resque remote add NAME URL'");
	else
		err = rq_error_set(RQ_EINVALID, "%zu remotes and none is 'origin': name the one to use", names.count);
done:
	git_strarray_dispose(&names);
	return err;
}

/* A URL is refused when it is empty or holds a control character, as
 * written or once its %XX escapes are decoded: git's credential protocol
 * is line-based, and a decoded newline would let a URL ask the helpers
 * for another host's password (as git's CVE-2020-5260). */
int rq_remote_url_check(const char *url)
{
	if (!url || !*url)
		return rq_error_set(RQ_EINVALID, "the URL is empty");
	char *dec = percent_decode(url, strlen(url));
	size_t dlen = strlen(url); /* a decoded NUL ends dec early: compare lengths */
	bool bad = false;
	for (const char *p = url; *p; p++)
		bad |= (unsigned char)*p < 0x20 || *p == 0x7f;
	for (const char *p = dec; *p; p++)
		bad |= (unsigned char)*p < 0x20 || *p == 0x7f;
	for (size_t i = 0; i + 2 < dlen; i++)
		bad |= url[i] == '%' && url[i + 1] == '0' && url[i + 2] == '0';
	free(dec);
	if (bad) {
		char *shown = redacted(url);
		rq_buf b = RQ_BUF_INIT;
		for (const char *p = shown; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				rq_buf_printf(&b, "\\x%02x", (unsigned char)*p);
			else
				rq_buf_putc(&b, *p);
		int err = rq_error_set(RQ_EINVALID, "'%s' is not a URL resque uses: it holds a control character", b.ptr);
		rq_buf_release(&b);
		free(shown);
		return err;
	}
	return 0;
}

/* The directory of a remote on this machine (a path or file:// URL), or
 * NULL for a network URL. Owned by the caller. */
char *rq_remote_local_path(const char *url)
{
	if (strncmp(url, "file://localhost/", 17) == 0)
		return percent_decode(url + 16, strlen(url + 16));
	if (strncmp(url, "file://", 7) == 0)
		return percent_decode(url + 7, strlen(url + 7));
	if (strstr(url, "://"))
		return NULL;
	/* git's rule: "host:path" is scp-like ssh when a ':' comes before
	 * any '/' */
	const char *colon = strchr(url, ':'), *slash = strchr(url, '/');
	if (colon && (!slash || colon < slash))
		return NULL;
	return rq_xstrdup(url);
}


int rq_remote_url_normalise(rq_buf *out, const char *url)
{
	char *path = rq_remote_local_path(url);
	if (!path || strncmp(url, "file://", 7) == 0) {
		/* a network URL, or file:// (absolute by definition) */
		rq_buf_puts(out, url);
		free(path);
		return 0;
	}
	/* a path is taken from where the command runs, as git's clone does,
	 * and stored whole so that it means the same from anywhere */
	rq_buf sub = RQ_BUF_INIT;
	struct stat st;
	rq_buf_printf(&sub, "%s/.resque", path);
	const char *target = stat(path, &st) == 0 && S_ISDIR(st.st_mode) && stat(sub.ptr, &st) == 0 &&
				     S_ISDIR(st.st_mode) ? sub.ptr : path;
	char *real = realpath(target, NULL);
	int err = 0;
	if (real) {
		rq_buf_puts(out, real);
	} else if (path[0] == '/') {
		rq_buf_puts(out, path); /* not there (yet): the fetch will say */
	} else {
		char *cwd = getcwd(NULL, 0);
		if (cwd)
			rq_buf_printf(out, "%s/%s", cwd, path);
		else
			err = rq_error_os("the current directory");
		free(cwd);
	}
	free(real);
	free(path);
	rq_buf_release(&sub);
	return err;
}

/* ---- credentials ---- */

struct link {
	const char *remote;  /* its name */
	const char *url;     /* as configured (may carry user:password) */
	int ssh_tries;       /* 0 the agent, 1 id_ed25519, 2 id_rsa */
	bool url_tried, helper_tried, auth_failed;
	char *user, *password; /* from the URL or the credential helper */
	rq_sync_progress_fn progress;
	void *progress_ctx;
	const char *what;    /* "receiving" / "sending" */
	/* push: the remote ref must still be what was verified */
	bool expect_set, expect_none;
	git_oid expect;
	char *rejected;      /* the remote refused the update: why (owned) */
	char *url_owned;
	char *shown;         /* the URL without its password, for messages */
};

static void link_release(struct link *k)
{
	if (k->password)
		sodium_memzero(k->password, strlen(k->password));
	free(k->user);
	free(k->password);
	free(k->rejected);
	free(k->url_owned);
	free(k->shown);
}

static const char *local_user(void)
{
	const char *u = getenv("USER");
	if (u && *u)
		return u;
	struct passwd *pw = getpwuid(getuid());
	return pw && pw->pw_name ? pw->pw_name : "git";
}

/* user:password@ of an http(s) URL, if it has both. */
static bool url_userpass(struct link *k)
{
	const char *p = strstr(k->url, "://");
	if (!p)
		return false;
	p += 3;
	const char *end = p + strcspn(p, "/?#"), *at = NULL;
	for (const char *q = p; q < end; q++)
		if (*q == '@')
			at = q;
	if (!at)
		return false;
	const char *colon = memchr(p, ':', (size_t)(at - p));
	if (!colon)
		return false;
	k->user = percent_decode(p, (size_t)(colon - p));
	k->password = percent_decode(colon + 1, (size_t)(at - colon - 1));
	return true;
}

/* `git credential fill` for `url`, as git itself asks its helpers; never
 * a prompt unless stdin is a terminal. */
static bool helper_userpass(struct link *k, const char *url)
{
	static const char *const argv[] = { "git", "credential", "fill", NULL };
	/* no terminal: no prompt of any kind, askpass programs included
	 * (GIT_ASKPASS overrides core.askPass) */
	static const char *const quiet[] = { "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=true", "SSH_ASKPASS", NULL };
	rq_buf req = RQ_BUF_INIT, resp = RQ_BUF_INIT;
	int status = -1;
	bool ok = false;

	/* the URL goes to a line-based protocol: never one that could hold a
	 * line of its own */
	if (rq_remote_url_check(url) != 0) {
		rq_error_clear();
		return false;
	}
	rq_buf_printf(&req, "url=%s\n\n", url);
	if (rq_process_capture(&resp, &status, argv, isatty(0) ? NULL : quiet, req.ptr, 65536) != 0 || status != 0) {
		rq_error_clear();
		goto done;
	}
	for (char *line = resp.ptr, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (strncmp(line, "username=", 9) == 0 && !k->user)
			k->user = rq_xstrdup(line + 9);
		else if (strncmp(line, "password=", 9) == 0 && !k->password)
			k->password = rq_xstrdup(line + 9);
	}
	ok = k->user && k->password;
done:
	if (resp.ptr)
		sodium_memzero(resp.ptr, resp.len);
	rq_buf_release(&resp);
	rq_buf_release(&req);
	return ok;
}

static int credentials(git_credential **out, const char *url, const char *user_from_url, unsigned int allowed,
		       void *payload)
{
	struct link *k = payload;
	const char *user = user_from_url && *user_from_url ? user_from_url : local_user();
	const char *home = getenv("HOME");

	if (allowed & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, user);
	if (allowed & GIT_CREDENTIAL_SSH_KEY) {
		while (k->ssh_tries < 3) {
			int t = k->ssh_tries++;
			if (t == 0) {
				const char *sock = getenv("SSH_AUTH_SOCK");
				if (sock && *sock)
					return git_credential_ssh_key_from_agent(out, user);
				continue;
			}
			rq_buf key = RQ_BUF_INIT, pub = RQ_BUF_INIT;
			rq_buf_printf(&key, "%s/.ssh/%s", home ? home : "", t == 1 ? "id_ed25519" : "id_rsa");
			rq_buf_printf(&pub, "%s.pub", key.ptr);
			int rc = 1;
			if (home && access(key.ptr, R_OK) == 0)
				rc = git_credential_ssh_key_new(out, user, access(pub.ptr, R_OK) == 0 ? pub.ptr : NULL,
								key.ptr, NULL);
			rq_buf_release(&key);
			rq_buf_release(&pub);
			if (rc != 1)
				return rc;
		}
	}
	if (allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) {
		if (!k->url_tried) {
			k->url_tried = true;
			if (url_userpass(k))
				return git_credential_userpass_plaintext_new(out, k->user, k->password);
		}
		if (!k->helper_tried) {
			k->helper_tried = true;
			free(k->user);
			free(k->password);
			k->user = k->password = NULL;
			if (helper_userpass(k, url))
				return git_credential_userpass_plaintext_new(out, k->user, k->password);
		}
	}
	k->auth_failed = true;
	git_error_set_str(GIT_ERROR_NET, "authentication failed (no more credentials to try)");
	return GIT_EAUTH;
}

static int transfer_progress(const git_indexer_progress *st, void *payload)
{
	struct link *k = payload;
	if (k->progress)
		k->progress(k->progress_ctx, "receiving", st->received_objects, st->total_objects);
	return 0;
}

static int push_progress(unsigned int current, unsigned int total, size_t bytes, void *payload)
{
	struct link *k = payload;
	(void)bytes;
	if (k->progress)
		k->progress(k->progress_ctx, "sending", current, total);
	return 0;
}

/* The compare-and-swap of a push: the remote's ledger must still be the
 * one this push checked; git's receive-pack then applies the update only
 * if the ref still holds it. */
static int push_negotiation(const git_push_update **updates, size_t len, void *payload)
{
	struct link *k = payload;
	for (size_t i = 0; i < len; i++) {
		const git_push_update *u = updates[i];
		if (strcmp(u->dst_refname, RQ_REMOTE_LEDGER) != 0)
			continue;
		bool none = git_oid_is_zero(&u->src);
		if (!k->expect_set || none != k->expect_none || (!none && !git_oid_equal(&u->src, &k->expect))) {
			git_error_set_str(GIT_ERROR_REFERENCE, "the remote's ledger moved while pushing");
			return -1;
		}
	}
	return 0;
}

static int push_update(const char *refname, const char *status, void *payload)
{
	struct link *k = payload;
	if (status && !k->rejected) {
		rq_buf b = RQ_BUF_INIT;
		rq_buf_printf(&b, "%s: %s", refname, status);
		k->rejected = rq_buf_detach(&b, NULL);
	}
	return 0;
}

static void callbacks(git_remote_callbacks *cb, struct link *k)
{
	/* every connection tries the credentials afresh */
	k->ssh_tries = 0;
	k->url_tried = k->helper_tried = k->auth_failed = false;
	cb->credentials = credentials;
	cb->transfer_progress = transfer_progress;
	cb->push_transfer_progress = push_progress;
	cb->push_negotiation = push_negotiation;
	cb->push_update_reference = push_update;
	cb->payload = k;
}

/* A transport's error as the user should read it. */
static int net_error(const struct link *k, const char *doing)
{
	const git_error *e = git_error_last();
	const char *msg = e && e->message ? e->message : "git error";
	if (k->auth_failed || (e && e->klass == GIT_ERROR_SSH && strstr(msg, "auth")))
		return rq_error_set(RQ_ERROR, "remote '%s' (%s): authentication failed: %s", k->remote, k->shown, msg);
	return rq_error_set(RQ_ERROR, "remote '%s' (%s): %s: %s", k->remote, k->shown, doing, msg);
}

/* ---- reading chains ---- */

/* The entry at commit `c` (parsed; verification comes separately). */
static int seq_at(uint64_t *seq, char id[RQ_ID_HEX_SIZE], rq_ledger *l, const git_oid *c)
{
	rq_entry *e = NULL;
	int err = rq_ledger__entry_at(&e, l, c);
	if (!err) {
		*seq = e->seq;
		if (id)
			memcpy(id, e->id, RQ_ID_HEX_SIZE);
	}
	rq_entry_free(e);
	return err;
}

/* A local remote that is not there: said plainly (libgit2 would take the
 * path for an unknown protocol). */
static int local_exists(const struct link *k)
{
	char *lp = rq_remote_local_path(k->url);
	struct stat st;
	int err = 0;
	if (lp && stat(lp, &st) != 0)
		err = rq_error_set(RQ_ERROR, "remote '%s' (%s): no such directory", k->remote, k->shown);
	else if (lp && !S_ISDIR(st.st_mode))
		err = rq_error_set(RQ_ERROR, "remote '%s' (%s): not a directory, so not a git repository", k->remote,
				   k->shown);
	free(lp);
	return err;
}

/* Fetch the remote's ledger branch into its quarantine ref; *found false
 * when the remote has no ledger (yet). */
static int fetch(git_oid *tip, bool *found, rq_ledger *l, git_remote *remote, struct link *k)
{
	git_fetch_options fo = GIT_FETCH_OPTIONS_INIT;
	rq_buf spec = RQ_BUF_INIT, ref = RQ_BUF_INIT;
	int err = 0;

	*found = false;
	rq_buf_printf(&ref, INCOMING "%s", k->remote);
	rq_buf_printf(&spec, "+" RQ_REMOTE_LEDGER ":%s", ref.ptr);
	char *specs[] = { spec.ptr };
	git_strarray refspecs = { specs, 1 };
	git_reference *old = NULL;
	if (git_reference_lookup(&old, l->repo, ref.ptr) == 0) {
		git_reference_delete(old);
		git_reference_free(old);
	}
	callbacks(&fo.callbacks, k);
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.update_fetchhead = 0;
	fo.prune = GIT_FETCH_NO_PRUNE;
	k->what = "receiving";
	if ((err = local_exists(k)))
		goto done;
	if (git_remote_fetch(remote, &refspecs, &fo, NULL)) {
		err = net_error(k, "fetching its ledger");
		goto done;
	}
	if (git_reference_name_to_id(tip, l->repo, ref.ptr) == 0)
		*found = true;
	rq_error_clear();
	if (*found && rq_object_check(l->repo, tip, GIT_OBJECT_COMMIT) != 0) {
		rq_error_clear();
		err = rq_error_set(RQ_EINTEGRITY, "remote '%s' (%s): its ledger branch does not point at a commit",
				   k->remote, k->shown);
	}
done:
	rq_buf_release(&spec);
	rq_buf_release(&ref);
	return err;
}

static void drop_incoming(rq_ledger *l, const char *remote)
{
	rq_buf ref = RQ_BUF_INIT;
	git_reference *r = NULL;
	rq_buf_printf(&ref, INCOMING "%s", remote);
	if (git_reference_lookup(&r, l->repo, ref.ptr) == 0)
		git_reference_delete(r);
	git_reference_free(r);
	rq_buf_release(&ref);
	git_error_clear();
}

/* refs/remotes/NAME/ledger, as git users expect to find it. */
static void set_tracking(rq_ledger *l, const char *remote, const git_oid *tip)
{
	rq_buf ref = RQ_BUF_INIT;
	git_reference *r = NULL;
	rq_buf_printf(&ref, "refs/remotes/%s/ledger", remote);
	if (git_reference_create(&r, l->repo, ref.ptr, tip, 1, "resque sync") != 0)
		git_error_clear();
	git_reference_free(r);
	rq_buf_release(&ref);
}

/* The memory of each remote (known.h's places, keyed by "remote URL"):
 * how many entries it served, so that one serving fewer is caught. */
static void remote_place(rq_buf *out, const char *url)
{
	/* one key however the URL is spelt: a directory by its real path,
	 * never a password, no trailing slashes */
	char *lp = rq_remote_local_path(url), *real = lp ? realpath(lp, NULL) : NULL;
	char *shown = redacted(real ? real : lp ? lp : url);
	size_t len = strlen(shown);
	while (len > 1 && shown[len - 1] == '/')
		len--;
	char *colon = strstr(shown, ":***@");
	rq_buf_puts(out, "remote ");
	if (colon && (size_t)(colon - shown) < len) {
		rq_buf_put(out, shown, (size_t)(colon - shown));
		rq_buf_put(out, colon + 4, len - (size_t)(colon + 4 - shown));
	} else {
		rq_buf_put(out, shown, len);
	}
	free(shown);
	free(real);
	free(lp);
}

/* Check a remote's ledger of `size` entries whose entry `at` (when at <
 * size) has leaf `leaf_at` against what it served before: RQ_EINTEGRITY
 * when it serves fewer entries, or other ones. `leaf_of` reads the leaf
 * of its entry `seq` (ctx). */
typedef int (*leaf_fn)(rq_hash out, uint64_t seq, void *ctx);
static int check_memory_of(uint64_t *seen, const char *repository, const struct link *k, uint64_t size,
			   leaf_fn leaf_of, void *ctx)
{
	rq_buf place = RQ_BUF_INIT;
	rq_known_state st;
	int err = 0;

	*seen = 0;
	memset(&st, 0, sizeof(st));
	remote_place(&place, k->url);
	if (rq_known_state_get(&st, repository, place.ptr) != 0) {
		rq_error_clear(); /* a damaged memory: the guard reports it */
		goto done;
	}
	*seen = st.place_size;
	if (st.place_size == 0)
		goto done;
	if (size < st.place_size) {
		err = rq_error_set(RQ_EINTEGRITY,
				   "remote '%s' (%s) rolled back: it served %" PRIu64 " entries before, now %" PRIu64,
				   k->remote, k->shown, st.place_size, size);
		goto done;
	}
	rq_hash want, got;
	if (rq_known_read_leaf_range(&want, repository, st.place_size - 1, 1) != 0) {
		rq_error_clear();
		goto done;
	}
	if ((err = leaf_of(got, st.place_size - 1, ctx)))
		goto done;
	if (sodium_memcmp(want, got, RQ_HASH_LEN) != 0)
		err = rq_error_set(RQ_EINTEGRITY,
				   "remote '%s' (%s) rewrote its history: entry %" PRIu64
				   " is not the one it served before",
				   k->remote, k->shown, st.place_size - 1);
done:
	rq_known_state_release(&st);
	rq_buf_release(&place);
	return err;
}

/* The same for the ledger `l` (its repository id read from it). */
static int check_remote_memory(uint64_t *seen, rq_ledger *l, const struct link *k, uint64_t size, leaf_fn leaf_of,
			       void *ctx)
{
	rq_buf repo = RQ_BUF_INIT;
	int err = rq_ledger_repository_id(&repo, l);
	*seen = 0;
	if (!err)
		err = check_memory_of(seen, repo.ptr, k, size, leaf_of, ctx);
	rq_buf_release(&repo);
	return err;
}

static void remember_remote(rq_ledger *l, const struct link *k, uint64_t size)
{
	rq_buf repo = RQ_BUF_INIT, place = RQ_BUF_INIT;
	remote_place(&place, k->url);
	if (size && rq_ledger_repository_id(&repo, l) == 0 && rq_known_set_place(repo.ptr, place.ptr, size) != 0)
		rq_ledger__notice("could not remember what remote '%s' served: %s", k->remote, rq_error_last());
	rq_error_clear();
	rq_buf_release(&repo);
	rq_buf_release(&place);
}

/* The leaf of entry `seq` of a chain whose entries [0, base) are the
 * local ledger's (verified) and [base, base + r->nleaves) are r's. */
struct chain_leaves {
	rq_ledger *l;
	uint64_t base;
	const rq_verify_report *r;
};

static int chain_leaf(rq_hash out, uint64_t seq, void *ctx)
{
	struct chain_leaves *c = ctx;
	uint8_t commit[20];
	if (seq < c->base)
		return rq_guard_leaf(out, commit, c->l, seq);
	if (seq - c->base >= c->r->nleaves || !c->r->leaves)
		return rq_error_set(RQ_EINTEGRITY, "entry %" PRIu64 " is missing", seq);
	memcpy(out, c->r->leaves[seq - c->base], RQ_HASH_LEN);
	return 0;
}

/* Verify the remote's entries after the local verified entry `base_seq`
 * (commit `base`, id `base_id`) up to `tip`. Problems: RQ_EINTEGRITY
 * naming the first. */
static int verify_incoming(rq_verify_report *r, rq_ledger *l, const struct link *k, const git_oid *base,
			   uint64_t base_seq, const char *base_id, const git_oid *tip)
{
	struct rq_verify_from from;
	const rq_signer_change *sv;
	size_t ns, n = 0;
	int err;

	memset(&from, 0, sizeof(from));
	if ((err = rq_guard_load_all(l)))
		return err;
	rq_guard_signers(&sv, &ns, l);
	while (n < ns && sv[n].seq <= base_seq)
		n++;
	from.size = base_seq + 1;
	git_oid_cpy(&from.commit, base);
	memcpy(from.id, base_id, RQ_ID_HEX_SIZE);
	from.signers = sv;
	from.nsigners = n;
	from.tip = tip;
	err = rq_ledger__verify_from(r, l, &from);
	if (err && err != RQ_EINTEGRITY)
		return err;
	if (r->nproblems) {
		const rq_problem *p = &r->problems[0];
		if (p->seq >= 0)
			return rq_error_set(RQ_EINTEGRITY, "remote '%s' (%s): entry %" PRId64 " (%.12s): %s%s", k->remote,
					    k->url, p->seq, p->id, p->message,
					    r->nproblems > 1 ? " (and more problems)" : "");
		return rq_error_set(RQ_EINTEGRITY, "remote '%s' (%s): %s", k->remote, k->shown, p->message);
	}
	if (!r->leaves && r->entries)
		return rq_error_set(RQ_EINTEGRITY, "remote '%s' (%s): not every entry could be read", k->remote, k->shown);
	rq_error_clear();
	return 0;
}

/* ---- opening a remote ---- */

static int open_remote(git_remote **out, struct link *k, rq_ledger *l, const char *name)
{
	int err;
	if ((err = check_name(name)))
		return err;
	if (git_remote_lookup(out, l->repo, name) != 0) {
		git_error_clear();
		return rq_error_set(RQ_ENOTFOUND, "no remote named '%s' (add it with 'resque remote add %s URL')", name,
				    name);
	}
	/* Transfers go through an anonymous remote of the same URL, so that
	 * only the refspecs given here apply (nothing else moves on fetch). */
	git_remote *anon = NULL;
	k->remote = name;
	k->url_owned = rq_xstrdup(git_remote_url(*out) ? git_remote_url(*out) : "");
	k->url = k->url_owned;
	k->shown = redacted(k->url);
	git_remote_free(*out);
	*out = NULL;
	if (git_remote_create_anonymous(&anon, l->repo, k->url) != 0)
		return rq_error_set(RQ_EINVALID, "remote '%s': '%s' is not a URL resque can use: %s", name, k->shown,
				    git_error_last() ? git_error_last()->message : "git error");
	*out = anon;
	return 0;
}

static void result_start(rq_sync_result *out, rq_ledger *l, const struct link *k)
{
	rq_entry *e = NULL;
	memset(out, 0, sizeof(*out));
	out->remote = rq_xstrdup(k->remote);
	out->url = rq_xstrdup(k->shown);
	out->before_size = rq_ledger_size(l);
	if (l->has_tip && rq_ledger__entry_at(&e, l, &l->tip) == 0)
		memcpy(out->before_tip, e->id, RQ_ID_HEX_SIZE);
	rq_error_clear();
	rq_entry_free(e);
}

static void result_end(rq_sync_result *out, rq_ledger *l)
{
	rq_entry *e = NULL;
	out->after_size = rq_ledger_size(l);
	if (l->has_tip && rq_ledger__entry_at(&e, l, &l->tip) == 0)
		memcpy(out->after_tip, e->id, RQ_ID_HEX_SIZE);
	rq_error_clear();
	rq_entry_free(e);
	out->up_to_date = out->after_size == out->before_size && strcmp(out->after_tip, out->before_tip) == 0 &&
			  out->sent == 0;
}

/* ---- push ---- */

/* Push to a repository on this machine: libgit2's local transport moves
 * the remote ref without comparing it to what it was, so the pack is
 * written into the remote's object store here and its ref moved by a
 * compare-and-swap (git's ref lock), as receive-pack does. */
static int local_push(rq_ledger *l, const struct link *k, const char *path, uint64_t count)
{
	git_repository *rr = NULL;
	git_revwalk *walk = NULL;
	git_packbuilder *pb = NULL;
	git_reference *ref = NULL;
	rq_buf pack = RQ_BUF_INIT;
	int err = 0, rc;

	if (git_repository_open_ext(&rr, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL)) {
		err = rq_error_set(RQ_ERROR, "remote '%s' (%s): %s", k->remote, k->shown,
				   git_error_last() ? git_error_last()->message : "cannot open it");
		goto done;
	}
	rq_buf_printf(&pack, "%s/objects/pack", git_repository_path(rr));
	if (git_revwalk_new(&walk, l->repo) || git_revwalk_push(walk, &l->tip) ||
	    (!k->expect_none && git_revwalk_hide(walk, &k->expect)) || git_packbuilder_new(&pb, l->repo) ||
	    git_packbuilder_insert_walk(pb, walk) || git_packbuilder_write(pb, pack.ptr, 0, NULL, NULL)) {
		err = net_error(k, "sending the ledger's objects");
		goto done;
	}
	if (k->progress)
		k->progress(k->progress_ctx, "sending", count, count);
	rc = k->expect_none ? git_reference_create(&ref, rr, RQ_REMOTE_LEDGER, &l->tip, 0, "resque push")
			    : git_reference_create_matching(&ref, rr, RQ_REMOTE_LEDGER, &l->tip, 1, &k->expect,
							    "resque push");
	if (rc == GIT_EMODIFIED || rc == GIT_EEXISTS || rc == GIT_ELOCKED)
		err = rq_error_set(RQ_EINVALID,
				   "remote '%s' (%s) moved while pushing (another push?): nothing was changed there; "
				   "pull and push again",
				   k->remote, k->shown);
	else if (rc)
		err = net_error(k, "updating its ledger branch");
done:
	git_reference_free(ref);
	git_packbuilder_free(pb);
	git_revwalk_free(walk);
	git_repository_free(rr);
	rq_buf_release(&pack);
	return err;
}

int rq_sync_push(rq_sync_result *out, rq_ledger *l, const char *name, const rq_sync_options *o)
{
	struct link k;
	git_remote *remote = NULL;
	git_oid rtip;
	bool found = false;
	uint64_t rsize = 0, seen = 0;
	int err;

	memset(&k, 0, sizeof(k));
	memset(out, 0, sizeof(*out));
	k.progress = o ? o->progress : NULL;
	k.progress_ctx = o ? o->progress_ctx : NULL;
	if ((err = open_remote(&remote, &k, l, name)) || (err = rq_ledger_guard(l)))
		goto done;
	result_start(out, l, &k);
	if (!l->has_tip) {
		err = rq_error_set(RQ_EINVALID, "%s: the ledger is empty", l->dir);
		goto done;
	}
	if ((err = fetch(&rtip, &found, l, remote, &k)))
		goto done;
	if (found) {
		char rid[RQ_ID_HEX_SIZE];
		if (!git_oid_equal(&rtip, &l->tip) && git_graph_descendant_of(l->repo, &l->tip, &rtip) != 1) {
			git_error_clear();
			err = rq_error_set(RQ_EINVALID,
					   "remote '%s' (%s) has entries this ledger does not: pull first "
					   "('resque pull --rebase %s'), then push",
					   k.remote, k.shown, k.remote);
			goto done;
		}
		/* an ancestor of our verified tip: part of what we verified */
		if ((err = seq_at(&rsize, rid, l, &rtip)))
			goto done;
		rsize++;
		struct chain_leaves cl = { l, l->size, NULL };
		if ((err = check_remote_memory(&seen, l, &k, rsize, chain_leaf, &cl)))
			goto done;
		k.expect_set = true;
		git_oid_cpy(&k.expect, &rtip);
	} else {
		struct chain_leaves cl = { l, l->size, NULL };
		if ((err = check_remote_memory(&seen, l, &k, 0, chain_leaf, &cl)))
			goto done;
		k.expect_set = true;
		k.expect_none = true;
	}
	out->remote_size = rsize;
	if (found && git_oid_equal(&rtip, &l->tip)) {
		set_tracking(l, k.remote, &rtip);
		remember_remote(l, &k, rsize);
		goto finish;
	}
	char *lp = rq_remote_local_path(k.url);
	if (lp) {
		err = local_push(l, &k, lp, l->size - rsize);
		free(lp);
		if (err)
			goto done;
		goto pushed;
	}
	git_push_options po = GIT_PUSH_OPTIONS_INIT;
	char spec[] = RQ_LEDGER_REF ":" RQ_REMOTE_LEDGER;
	char *specs[] = { spec };
	git_strarray refspecs = { specs, 1 };
	callbacks(&po.callbacks, &k);
	k.what = "sending";
	if (git_remote_push(remote, &refspecs, &po)) {
		net_error(&k, "pushing");
		err = rq_error_set(RQ_ERROR, "%s (if another push landed first: 'resque pull --rebase %s', then push again)",
				   rq_error_last(), k.remote);
		goto done;
	}
	if (k.rejected) {
		err = rq_error_set(RQ_EINVALID,
				   "remote '%s' (%s) refused the push: %s (if another push landed first: 'resque pull "
				   "--rebase %s', then push again)",
				   k.remote, k.shown, k.rejected, k.remote);
		goto done;
	}
pushed:
	out->sent = l->size - rsize;
	out->remote_size = l->size;
	set_tracking(l, k.remote, &l->tip);
	remember_remote(l, &k, l->size);
finish:
	result_end(out, l);
done:
	if (l)
		drop_incoming(l, name);
	link_release(&k);
	git_remote_free(remote);
	return err;
}

/* ---- pull ---- */

/* The commits of our entries after `base` up to our tip, oldest first. */
static int ours_since(git_oid **out, size_t *n, rq_ledger *l, const git_oid *base)
{
	git_oid cur = l->tip;
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	while (!git_oid_equal(&cur, base)) {
		git_commit *c = NULL;
		if (rq_object_commit(&c, l->repo, &cur) != 0 || git_commit_parentcount(c) != 1) {
			git_commit_free(c);
			free(*out);
			*out = NULL;
			return rq_error_set(RQ_EINTEGRITY, "ledger commit %.12s cannot be read", git_oid_tostr_s(&cur));
		}
		RQ_ALLOC_GROW(*out, *n + 1, cap);
		(*out)[(*n)++] = cur;
		git_oid_cpy(&cur, git_commit_parent_id(c, 0));
		git_commit_free(c);
	}
	for (size_t i = 0; i < *n / 2; i++) {
		git_oid t = (*out)[i];
		(*out)[i] = (*out)[*n - 1 - i];
		(*out)[*n - 1 - i] = t;
	}
	return 0;
}

/* ---- rebase ---- */

struct idmap {
	char (*old)[RQ_ID_HEX_SIZE];
	char (*now)[RQ_ID_HEX_SIZE];
	char **old_name;       /* set for a renamed entry (owned) */
	const char **new_name; /* likewise (borrowed from the options) */
	size_t n;
};

static ssize_t map_find(const struct idmap *m, const char *s)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->old[i], s) == 0)
			return (ssize_t)i;
	return -1;
}

/* A string that is an old id, or ends with ":" and one ("actual:ID"),
 * rewritten to the new id; NULL when it is no such reference. *at gets
 * the replayed entry's index. */
static json_t *rewrite_ref(json_t *v, const struct idmap *m, ssize_t *at)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (len < RQ_ID_HEX_SIZE - 1 || (len != RQ_ID_HEX_SIZE - 1 && s[len - RQ_ID_HEX_SIZE] != ':'))
		return NULL;
	const char *tail = s + len - (RQ_ID_HEX_SIZE - 1);
	if ((*at = map_find(m, tail)) < 0)
		return NULL;
	rq_buf b = RQ_BUF_INIT;
	rq_buf_put(&b, s, (size_t)(tail - s));
	rq_buf_puts(&b, m->now[*at]);
	json_t *r = json_stringn(b.ptr, b.len);
	rq_buf_release(&b);
	return r;
}

/* References to replayed entries, wherever a body holds them, rewritten
 * to their new ids; and beside a reference to a renamed entry, the name
 * that goes with it ("parent" and "parent_name", "id" and "name"). */
static json_t *rewrite_refs(json_t *v, const struct idmap *m)
{
	if (json_is_object(v)) {
		json_t *o = json_object(), *val;
		const char *key;
		json_object_foreach(v, key, val) {
			ssize_t at = -1;
			json_t *r = json_is_string(val) ? rewrite_ref(val, m, &at) : NULL;
			json_object_set_new(o, key, r ? r : rewrite_refs(val, m));
		}
		/* then the names beside references to renamed entries */
		json_object_foreach(v, key, val) {
			ssize_t at = -1;
			json_t *r = json_is_string(val) ? rewrite_ref(val, m, &at) : NULL;
			json_decref(r);
			if (!r || !m->new_name[at])
				continue;
			rq_buf nk = RQ_BUF_INIT;
			if (strcmp(key, "id") == 0)
				rq_buf_puts(&nk, "name");
			else
				rq_buf_printf(&nk, "%s_name", key);
			const char *was = json_string_value(json_object_get(v, nk.ptr));
			if (was && strcmp(was, m->old_name[at]) == 0)
				json_object_set_new(o, nk.ptr, json_string(m->new_name[at]));
			rq_buf_release(&nk);
		}
		return o;
	}
	if (json_is_array(v)) {
		json_t *a = json_array(), *val;
		size_t i;
		json_array_foreach(v, i, val) {
			ssize_t at = -1;
			json_t *r = json_is_string(val) ? rewrite_ref(val, m, &at) : NULL;
			json_array_append_new(a, r ? r : rewrite_refs(val, m));
		}
		return a;
	}
	ssize_t at = -1;
	json_t *r = json_is_string(v) ? rewrite_ref(v, m, &at) : NULL;
	return r ? r : json_deep_copy(v);
}

/* The remote's new entry of `type` named `name`, if any. */
static const rq_named *name_taken(const char *type, const char *name, const rq_verify_report *r)
{
	for (size_t i = 0; name && i < r->nnamed; i++)
		if (strcmp(r->named[i].type, type) == 0 && strcmp(r->named[i].name, name) == 0)
			return &r->named[i];
	return NULL;
}

/* Write entry `e` (signature `sig`, attachments tree `att` or NULL) as a
 * commit on `parent`, without moving any ref. */
static int write_commit(git_oid *out, rq_ledger *l, const rq_entry *e, const rq_buf *sig, const git_oid *att,
			const git_oid *parent)
{
	git_treebuilder *tb = NULL;
	git_tree *tree = NULL;
	git_commit *pc = NULL;
	git_signature *who = NULL;
	git_oid oid;
	rq_buf msg = RQ_BUF_INIT, summary = RQ_BUF_INIT;
	int64_t t = 0;
	int err = 0;

	rq_time_parse(&t, e->time);
	rq_entry_summary(&summary, e);
	rq_buf_printf(&msg, "%" PRIu64 " %s %.12s\n\n%s\n", e->seq, e->type, e->id, summary.ptr);
	if (git_treebuilder_new(&tb, l->repo, NULL) ||
	    git_blob_create_from_buffer(&oid, l->repo, e->bytes.ptr, e->bytes.len) ||
	    git_treebuilder_insert(NULL, tb, "entry", &oid, GIT_FILEMODE_BLOB) ||
	    git_blob_create_from_buffer(&oid, l->repo, sig->ptr, sig->len) ||
	    git_treebuilder_insert(NULL, tb, "sig", &oid, GIT_FILEMODE_BLOB) ||
	    (att && git_treebuilder_insert(NULL, tb, "att", att, GIT_FILEMODE_TREE)) || git_treebuilder_write(&oid, tb) ||
	    git_tree_lookup(&tree, l->repo, &oid) || git_commit_lookup(&pc, l->repo, parent) ||
	    git_signature_new(&who, "resque", "resque@localhost", (git_time_t)t, 0)) {
		err = rq_git_error(RQ_EIO, "writing the rebased entry to git");
		goto done;
	}
	const git_commit *parents[1] = { pc };
	if (git_commit_create(out, l->repo, NULL, who, who, NULL, msg.ptr, tree, 1, parents))
		err = rq_git_error(RQ_EIO, "writing the rebased entry to git");
done:
	git_signature_free(who);
	git_commit_free(pc);
	git_tree_free(tree);
	git_treebuilder_free(tb);
	rq_buf_release(&msg);
	rq_buf_release(&summary);
	return err;
}

/* The attachments subtree of the entry in commit `c`, if any. */
static int att_tree_of(git_oid *out, bool *has, rq_ledger *l, const git_oid *c)
{
	git_commit *cm = NULL;
	git_tree *t = NULL;
	*has = false;
	if (rq_object_commit(&cm, l->repo, c) || git_commit_tree(&t, cm)) {
		git_commit_free(cm);
		return rq_git_error(RQ_EINTEGRITY, "reading a ledger commit");
	}
	const git_tree_entry *te = git_tree_entry_byname(t, "att");
	if (te && git_tree_entry_type(te) == GIT_OBJECT_TREE) {
		git_oid_cpy(out, git_tree_entry_id(te));
		*has = true;
	}
	git_tree_free(t);
	git_commit_free(cm);
	return 0;
}

/* The name entry `e` is replayed under: its own, or the NEW of a
 * --rename OLD=NEW (checked: a valid name, free here and on the remote);
 * `used` marks the renames that applied. */
static int replay_name(const char **out, rq_ledger *l, const rq_entry *e, const rq_verify_report *r,
		       const rq_sync_options *o, bool *used)
{
	const char *name = rq_entry_name(e);
	bool version = strcmp(e->type, "version") == 0, dataset = strcmp(e->type, "dataset") == 0;
	enum rq_name_kind kind = dataset ? RQ_NAME_DATASET : RQ_NAME_VERSION;
	const rq_named *taken;
	int err;

	*out = name;
	if (!name || (!version && !dataset))
		return 0;
	for (size_t j = 0; o && j < o->nrenames; j++) {
		size_t ol = strcspn(o->renames[j], "=");
		if (o->renames[j][ol] != '=' || strlen(name) != ol || strncmp(o->renames[j], name, ol) != 0)
			continue;
		const char *to = o->renames[j] + ol + 1;
		used[j] = true;
		if (!rq_name_valid(to, kind))
			return rq_error_set(RQ_EINVALID, "--rename %s: '%s' is not a valid %s name; nothing was changed",
					    o->renames[j], to, e->type);
		if ((err = rq_name_free(l, to, kind)))
			return rq_error_prefix(RQ_EINVALID, "--rename %s: ", o->renames[j]);
		*out = to;
		break;
	}
	if ((taken = name_taken(e->type, *out, r)))
		return rq_error_set(RQ_EINVALID,
				    "the remote has a %s named '%s' since (entry %" PRIu64 "); yours (entry %" PRIu64
				    ", %.12s) cannot be replayed under that name (give it another with --rename "
				    "%s=NEW); nothing was changed",
				    e->type, taken->name, taken->seq, e->seq, e->id, name);
	return 0;
}

/* The identity of an imported run, which `resque import` records once:
 * "codecarbon RUN_ID" or "nvidia-smi FINGERPRINT"; false for any other
 * entry. */
static bool import_key(rq_buf *out, const rq_entry *e)
{
	if (strcmp(e->type, "actual") != 0)
		return false;
	const char *meter = rq_json_str(e->body, "meter", "");
	const json_t *src = json_object_get(e->body, "source");
	const char *v = strcmp(meter, "codecarbon") == 0   ? rq_json_str(src, "run_id", "")
			: strcmp(meter, "nvidia-smi") == 0 ? rq_json_str(src, "fingerprint", "")
							   : "";
	if (!*v)
		return false;
	rq_buf_printf(out, "%s %s", meter, v);
	return true;
}

/* The imports among the remote's new entries: keys and ids, in pairs. */
struct imports {
	char **key;
	char (*id)[RQ_ID_HEX_SIZE];
	uint64_t *seq;
	size_t n, alloc;
};

static void imports_release(struct imports *im)
{
	for (size_t i = 0; i < im->n; i++)
		free(im->key[i]);
	free(im->key);
	free(im->id);
	free(im->seq);
}

static int imports_of(struct imports *im, rq_ledger *l, const rq_verify_report *r)
{
	memset(im, 0, sizeof(*im));
	for (uint64_t i = 0; r->commits && i < r->nleaves; i++) {
		rq_entry *e = NULL;
		rq_buf key = RQ_BUF_INIT;
		git_oid c;
		git_oid_fromraw(&c, r->commits[i]);
		int err = rq_ledger__entry_at(&e, l, &c);
		if (err) {
			rq_buf_release(&key);
			return err;
		}
		if (import_key(&key, e)) {
			if (im->n == im->alloc) {
				im->alloc = im->alloc ? 2 * im->alloc : 8;
				im->key = rq_xreallocarray(im->key, im->alloc, sizeof(*im->key));
				im->id = rq_xreallocarray(im->id, im->alloc, sizeof(*im->id));
				im->seq = rq_xreallocarray(im->seq, im->alloc, sizeof(*im->seq));
			}
			im->key[im->n] = rq_buf_detach(&key, NULL);
			memcpy(im->id[im->n], e->id, RQ_ID_HEX_SIZE);
			im->seq[im->n] = e->seq;
			im->n++;
		}
		rq_buf_release(&key);
		rq_entry_free(e);
	}
	return 0;
}

/* Our entry `e` is a run the remote imported too: its index there, or -1. */
static ssize_t same_import(const struct imports *im, const rq_entry *e)
{
	rq_buf key = RQ_BUF_INIT;
	ssize_t at = -1;
	if (import_key(&key, e))
		for (size_t i = 0; i < im->n && at < 0; i++)
			if (strcmp(im->key[i], key.ptr) == 0)
				at = (ssize_t)i;
	rq_buf_release(&key);
	return at;
}

/* Replay our entries `mine` (commits, oldest first) on the remote's tip
 * `rtip` (entry `rseq`, id `rid`), each rebuilt with its new sequence
 * number and previous id, references to replayed entries rewritten, the
 * renames of `o` applied, and signed again with l->signer. *new_tip gets
 * the last commit written. No ref moves; RQ_EINVALID naming the entry
 * when one cannot be replayed. */
static int replay(git_oid *new_tip, size_t *replayed, rq_ledger *l, const git_oid *mine, size_t n,
		  const git_oid *rtip, uint64_t rseq, const char *rid, const rq_verify_report *r,
		  const rq_sync_options *o)
{
	struct idmap m;
	struct imports im = { 0 };
	size_t nren = o ? o->nrenames : 0;
	bool *used = rq_xcalloc(nren + 1, sizeof(*used));
	char prev[RQ_ID_HEX_SIZE];
	git_oid parent = *rtip;
	int err = 0;

	m.old = rq_xcalloc(n + 1, RQ_ID_HEX_SIZE);
	m.now = rq_xcalloc(n + 1, RQ_ID_HEX_SIZE);
	m.old_name = rq_xcalloc(n + 1, sizeof(*m.old_name));
	m.new_name = rq_xcalloc(n + 1, sizeof(*m.new_name));
	m.n = 0;
	memcpy(prev, rid, RQ_ID_HEX_SIZE);
	*replayed = 0;
	if ((err = imports_of(&im, l, r)))
		goto done;
	if (!l->signer) {
		err = rq_error_set(RQ_EINVALID, "no signing key loaded: a rebase signs the replayed entries again");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		rq_entry *e = NULL, *ne = NULL;
		rq_buf sig = RQ_BUF_INIT;
		git_oid att;
		bool has_att = false;
		const char *name = NULL;

		if ((err = rq_ledger__entry_at(&e, l, &mine[i])))
			goto next;
		if (strcmp(e->signer, l->signer->id) != 0) {
			err = rq_error_set(RQ_EINVALID,
					   "entry %" PRIu64 " (%.12s, %s) is signed by key %s, not by your key %s: only "
					   "your own entries can be replayed; nothing was changed",
					   e->seq, e->id, e->type, e->signer, l->signer->id);
			goto next;
		}
		ssize_t dup = same_import(&im, e);
		if (dup >= 0) {
			/* the same run, imported on both sides: recorded once,
			 * and what referred to ours refers to the remote's */
			rq_ledger__notice("entry %" PRIu64 " (%.12s) imports the run the remote imported as entry %" PRIu64
					  " (%.12s): not replayed",
					  e->seq, e->id, im.seq[dup], im.id[dup]);
			memcpy(m.old[m.n], e->id, RQ_ID_HEX_SIZE);
			memcpy(m.now[m.n], im.id[dup], RQ_ID_HEX_SIZE);
			m.old_name[m.n] = NULL;
			m.new_name[m.n] = NULL;
			m.n++;
			goto next;
		}
		if ((err = replay_name(&name, l, e, r, o, used)) || (err = att_tree_of(&att, &has_att, l, &mine[i])))
			goto next;
		json_t *body = rewrite_refs(e->body, &m);
		bool renamed = name && rq_entry_name(e) && strcmp(name, rq_entry_name(e)) != 0;
		if (renamed)
			json_object_set_new(body, "name", json_string(name));
		err = rq_entry_build(&ne, rseq + 1 + *replayed, prev, e->type, e->time, e->signer, body);
		if (!err)
			err = rq_entry_sign(&sig, ne, l->signer);
		if (!err)
			err = write_commit(&parent, l, ne, &sig, has_att ? &att : NULL, &parent);
		if (!err) {
			memcpy(m.old[m.n], e->id, RQ_ID_HEX_SIZE);
			memcpy(m.now[m.n], ne->id, RQ_ID_HEX_SIZE);
			m.old_name[m.n] = renamed ? rq_xstrdup(rq_entry_name(e)) : NULL;
			m.new_name[m.n] = renamed ? name : NULL;
			m.n++;
			(*replayed)++;
			memcpy(prev, ne->id, RQ_ID_HEX_SIZE);
		}
next:
		rq_entry_free(e);
		rq_entry_free(ne);
		rq_buf_release(&sig);
		if (err)
			goto done;
	}
	for (size_t j = 0; j < nren; j++)
		if (!used[j]) {
			err = rq_error_set(RQ_EINVALID,
					   "--rename %s: none of the entries to replay is a version or dataset of that name; "
					   "nothing was changed",
					   o->renames[j]);
			goto done;
		}
	git_oid_cpy(new_tip, &parent);
done:
	for (size_t i = 0; i < m.n; i++)
		free(m.old_name[i]);
	imports_release(&im);
	free(m.old_name);
	free(m.new_name);
	free(m.old);
	free(m.now);
	free(used);
	return err;
}

/* index.db from entry `keep` on, brought to the ledger's new snapshot
 * (l->tip) without reading the entries before `keep` again; on any
 * failure the whole index is rebuilt, as every command would do. */
static int index_follow(rq_ledger *l, uint64_t keep, const git_oid *old_tip, uint64_t old_size)
{
	rq_index_inserter ins = { 0 };
	git_oid *v = NULL;
	size_t n = 0, cap = 0;
	rq_buf itip = RQ_BUF_INIT;
	char hex[GIT_OID_HEXSZ + 1];
	int err = 0;

	/* only when index.db was at our old tip */
	git_oid_tostr(hex, sizeof(hex), old_tip);
	if (rq_index_tip(&itip, l) != 0 || strcmp(itip.ptr, hex) != 0 || keep > old_size)
		goto full;
	for (git_oid cur = l->tip; n < l->size - keep;) {
		git_commit *c = NULL;
		if (rq_object_commit(&c, l->repo, &cur) != 0 || git_commit_parentcount(c) != 1) {
			git_commit_free(c);
			goto full;
		}
		RQ_ALLOC_GROW(v, n + 1, cap);
		v[n++] = cur;
		git_oid_cpy(&cur, git_commit_parent_id(c, 0));
		git_commit_free(c);
	}
	if (rq_index_begin(l) || (keep < old_size && rq_index_truncate(l, keep)) || rq_index_inserter_open(&ins, l))
		goto rollback;
	for (size_t i = n; i-- > 0;) {
		rq_entry *e = NULL;
		git_oid_tostr(hex, sizeof(hex), &v[i]);
		int e2 = rq_ledger__entry_at(&e, l, &v[i]);
		if (!e2)
			e2 = rq_index_inserter_put(&ins, e, hex);
		rq_entry_free(e);
		if (e2)
			goto rollback;
	}
	rq_index_inserter_close(&ins);
	git_oid_tostr(hex, sizeof(hex), &l->tip);
	if (rq_index_set_tip(l, hex) || rq_index_commit(l))
		goto rollback;
	goto done;
rollback:
	rq_index_inserter_close(&ins);
	rq_index_rollback(l);
full:
	rq_error_clear();
	err = rq_ledger__resnapshot(l);
done:
	free(v);
	rq_buf_release(&itip);
	return err;
}

/* Move the ledger branch from our tip to `to` (compare-and-swap), under
 * the writer's lock, and take it as the snapshot (verifying what is new
 * and remembering it, then bringing index.db along). */
static int move_ledger(rq_ledger *l, const git_oid *to, uint64_t rewind_to, rq_verify_report *verified)
{
	git_reference *ref = NULL;
	rq_buf repo = RQ_BUF_INIT;
	int fd = -1, err;

	if ((err = rq_ledger__lock(&fd, l)))
		goto done;
	git_oid now;
	if (git_reference_name_to_id(&now, l->repo, RQ_LEDGER_REF) != 0 || !git_oid_equal(&now, &l->tip)) {
		err = rq_error_set(RQ_ELOCKED, "%s: the ledger changed while pulling (another writer?); try again", l->dir);
		goto done;
	}
	if (rewind_to && (err = rq_ledger_repository_id(&repo, l)) == 0 && (err = rq_known_rewind(repo.ptr, rewind_to))) {
		rq_error_prefix(err, "forgetting the replaced entries: ");
		goto done;
	}
	int rc = git_reference_create_matching(&ref, l->repo, RQ_LEDGER_REF, to, 1, &l->tip, "resque pull");
	if (rc == GIT_EMODIFIED || rc == GIT_ELOCKED) {
		err = rq_git_error(RQ_ELOCKED, "updating the ledger branch (another writer?)");
		goto done;
	}
	if (rc) {
		err = rq_git_error(RQ_EIO, "updating the ledger branch");
		goto done;
	}
	git_oid old_tip = l->tip;
	uint64_t old_size = l->size;
	/* what verify_incoming checked of the new entries counts */
	if (verified && !rewind_to) {
		l->preverified = verified;
		l->preverified_from = old_size;
		git_oid_cpy(&l->preverified_tip, to);
	}
	err = rq_guard_advance(l, to);
	l->preverified = NULL;
	if (!err)
		err = index_follow(l, rewind_to ? rewind_to : old_size, &old_tip, old_size);
done:
	if (fd >= 0)
		close(fd);
	git_reference_free(ref);
	rq_buf_release(&repo);
	return err;
}

/* The remote's ledger diverged from ours at `base_seq`: explain, or
 * rebase when asked. */
static int diverged(rq_sync_result *out, rq_ledger *l, const struct link *k, const git_oid *base, uint64_t base_seq,
		    const char *base_id, const git_oid *rtip, uint64_t rsize, const rq_verify_report *r,
		    const rq_sync_options *o)
{
	git_oid *mine = NULL, new_tip;
	size_t n = 0;
	int err;
	uint64_t theirs = rsize - base_seq - 1;
	char rid[RQ_ID_HEX_SIZE];

	if ((err = ours_since(&mine, &n, l, base)))
		goto done;
	if (!o || !o->rebase) {
		err = rq_error_set(RQ_EINVALID,
				   "the ledgers diverged: both have entries since entry %" PRIu64
				   " (%.12s): %zu here, %" PRIu64 " on remote '%s'. A ledger is linear, so they cannot "
				   "be merged; 'resque pull --rebase %s' replays the %zu entr%s here on top of the "
				   "remote's (each must be yours: it is signed again with your key), then 'resque push %s'",
				   base_seq, base_id, n, theirs, k->remote, k->remote, n, n == 1 ? "y" : "ies", k->remote);
		goto done;
	}
	memcpy(rid, r->ids[r->nleaves - 1], RQ_ID_HEX_SIZE);
	size_t replayed = 0;
	if ((err = replay(&new_tip, &replayed, l, mine, n, rtip, rsize - 1, rid, r, o)))
		goto done;
	/* The rebuilt chain must verify before it becomes the ledger. */
	{
		rq_verify_report vr;
		struct rq_verify_from from;
		const rq_signer_change *sv;
		size_t ns;
		rq_signer_change *all;
		memset(&from, 0, sizeof(from));
		rq_guard_signers(&sv, &ns, l);
		size_t nb = 0;
		while (nb < ns && sv[nb].seq <= base_seq)
			nb++;
		all = rq_xcalloc(nb + r->nsigner_changes + 1, sizeof(*all));
		if (nb)
			memcpy(all, sv, nb * sizeof(*all));
		if (r->nsigner_changes)
			memcpy(all + nb, r->signer_changes, r->nsigner_changes * sizeof(*all));
		from.size = rsize;
		git_oid_cpy(&from.commit, rtip);
		memcpy(from.id, rid, RQ_ID_HEX_SIZE);
		from.signers = all;
		from.nsigners = nb + r->nsigner_changes;
		from.tip = &new_tip;
		err = rq_ledger__verify_from(&vr, l, &from);
		if (err == RQ_EINTEGRITY && vr.nproblems)
			err = rq_error_set(RQ_EINVALID, "the rebased ledger would not verify (entry %" PRId64 ": %s); nothing was changed",
					   vr.problems[0].seq, vr.problems[0].message);
		rq_verify_report_release(&vr);
		free(all);
		if (err)
			goto done;
	}
	if ((err = move_ledger(l, &new_tip, base_seq + 1, NULL)))
		goto done;
	out->rebased = replayed;
	out->received = theirs;
done:
	free(mine);
	return err;
}

int rq_sync_pull(rq_sync_result *out, rq_ledger *l, const char *name, const rq_sync_options *o)
{
	struct link k;
	git_remote *remote = NULL;
	git_oid rtip, base;
	rq_verify_report r;
	bool found = false;
	uint64_t base_seq = 0, seen = 0;
	char base_id[RQ_ID_HEX_SIZE];
	int err;

	memset(&k, 0, sizeof(k));
	memset(&r, 0, sizeof(r));
	memset(out, 0, sizeof(*out));
	k.progress = o ? o->progress : NULL;
	k.progress_ctx = o ? o->progress_ctx : NULL;
	if ((err = open_remote(&remote, &k, l, name)) || (err = rq_ledger_guard(l)))
		goto done;
	result_start(out, l, &k);
	if (!l->has_tip) {
		err = rq_error_set(RQ_EINVALID, "%s: the ledger is empty", l->dir);
		goto done;
	}
	if (l->index_memory) {
		err = rq_error_set(l->index_memory_code, "%s", l->index_memory);
		goto done;
	}
	if ((err = fetch(&rtip, &found, l, remote, &k)))
		goto done;
	if (!found) {
		struct chain_leaves cl = { l, l->size, NULL };
		if ((err = check_remote_memory(&seen, l, &k, 0, chain_leaf, &cl)))
			goto done;
		out->remote_size = 0;
		goto finish;
	}
	if (git_merge_base(&base, l->repo, &l->tip, &rtip) != 0) {
		git_error_clear();
		err = rq_error_set(RQ_EINVALID, "remote '%s' (%s) holds another ledger: it shares no entry with this one",
				   k.remote, k.shown);
		goto done;
	}
	if ((err = seq_at(&base_seq, base_id, l, &base)))
		goto done;
	if (base_seq >= l->size) {
		err = rq_error_set(RQ_EINTEGRITY, "remote '%s': the common entry is past the ledger's tip", k.remote);
		goto done;
	}
	/* What the remote has beyond the common entry must verify. */
	if ((err = verify_incoming(&r, l, &k, &base, base_seq, base_id, &rtip)))
		goto done;
	uint64_t rsize = base_seq + 1 + r.nleaves;
	struct chain_leaves cl = { l, base_seq + 1, &r };
	if ((err = check_remote_memory(&seen, l, &k, rsize, chain_leaf, &cl)))
		goto done;
	out->remote_size = rsize;
	if (r.nleaves == 0) /* the remote is behind, or level */
		goto track;
	if (git_oid_equal(&base, &l->tip)) {
		out->received = r.nleaves;
		if ((err = move_ledger(l, &rtip, 0, &r)))
			goto done;
		goto track;
	}
	if ((err = diverged(out, l, &k, &base, base_seq, base_id, &rtip, rsize, &r, o)))
		goto done;
track:
	set_tracking(l, k.remote, &rtip);
	remember_remote(l, &k, rsize);
finish:
	result_end(out, l);
done:
	if (l && remote)
		drop_incoming(l, name);
	rq_verify_report_release(&r);
	link_release(&k);
	git_remote_free(remote);
	return err;
}

/* ---- clone ---- */

/* Copy the file `from` to `to` (created, mode 0444 as git keeps objects). */
static int copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC), outfd = -1, err = 0;
	if (in < 0)
		return rq_error_os("%s", from);
	outfd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (outfd < 0) {
		err = rq_error_os("%s", to);
		goto done;
	}
	char buf[1 << 16];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = rq_error_os("%s", from);
			break;
		}
		if (n == 0)
			break;
		for (ssize_t w = 0; w < n;) {
			ssize_t m = write(outfd, buf + w, (size_t)(n - w));
			if (m < 0 && errno == EINTR)
				continue;
			if (m < 0) {
				err = rq_error_os("%s", to);
				goto done;
			}
			w += m;
		}
	}
done:
	if (outfd >= 0 && close(outfd) != 0 && !err)
		err = rq_error_os("%s", to);
	close(in);
	return err;
}

/* Copy the object store of the repository at `src` (its packs and loose
 * objects) into `dst` (an objects directory), as `git clone --local
 * --no-hardlinks` does: much faster than building a pack, and what is
 * copied is verified like anything fetched. RQ_EUNSUPPORTED when the store
 * borrows objects from elsewhere (alternates): then the caller fetches. */
static int copy_objects(const char *src, const char *dst)
{
	rq_buf alt = RQ_BUF_INIT, a = RQ_BUF_INIT, b = RQ_BUF_INIT;
	DIR *d = NULL;
	struct dirent *de;
	int err = 0;

	rq_buf_printf(&alt, "%s/info/alternates", src);
	if (rq_path_exists(alt.ptr)) {
		err = RQ_EUNSUPPORTED;
		goto done;
	}
	if (!(d = opendir(src))) {
		err = rq_error_os("%s", src);
		goto done;
	}
	while (!err && (de = readdir(d))) {
		const char *n = de->d_name;
		bool pack = strcmp(n, "pack") == 0;
		bool fan = strlen(n) == 2 && rq_is_hex(n, 2);
		if (!pack && !fan)
			continue;
		rq_buf_reset(&a);
		rq_buf_reset(&b);
		rq_buf_printf(&a, "%s/%s", src, n);
		rq_buf_printf(&b, "%s/%s", dst, n);
		DIR *sd = opendir(a.ptr);
		if (!sd)
			continue;
		if ((err = rq_mkdir_p(b.ptr, 0755)) == 0) {
			struct dirent *fe;
			size_t al = a.len, bl = b.len;
			while (!err && (fe = readdir(sd))) {
				const char *f = fe->d_name;
				size_t fl = strlen(f);
				bool want = pack ? (fl > 5 && (strcmp(f + fl - 5, ".pack") == 0 || strcmp(f + fl - 4, ".idx") == 0))
						 : (fl == 38 && rq_is_hex(f, 38));
				if (!want)
					continue;
				rq_buf_truncate(&a, al);
				rq_buf_truncate(&b, bl);
				rq_buf_printf(&a, "/%s", f);
				rq_buf_printf(&b, "/%s", f);
				err = copy_file(a.ptr, b.ptr);
			}
		}
		closedir(sd);
	}
done:
	if (d)
		closedir(d);
	rq_buf_release(&alt);
	rq_buf_release(&a);
	rq_buf_release(&b);
	return err;
}

/* A clone from a repository on this machine: its object store copied,
 * its ledger branch read. *tip gets the branch's commit; RQ_EUNSUPPORTED
 * when the copy cannot be made this way (the caller fetches instead). */
static int local_clone(git_oid *tip, git_repository *repo, const char *path, const struct link *k)
{
	git_repository *rr = NULL;
	rq_buf objs = RQ_BUF_INIT, mine = RQ_BUF_INIT;
	int err = 0;

	if (git_repository_open_ext(&rr, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL)) {
		err = rq_error_set(RQ_ERROR, "remote '%s' (%s): %s", k->remote, k->shown,
				   git_error_last() ? git_error_last()->message : "not a git repository");
		goto done;
	}
	if (git_reference_name_to_id(tip, rr, RQ_REMOTE_LEDGER) != 0) {
		git_error_clear();
		err = rq_error_set(RQ_ENOTFOUND, "remote '%s' has no ledger (no branch 'ledger')", k->shown);
		goto done;
	}
	rq_buf_printf(&objs, "%s/objects", git_repository_path(rr));
	rq_buf_printf(&mine, "%s/objects", git_repository_path(repo));
	err = copy_objects(objs.ptr, mine.ptr);
	if (k->progress && !err)
		k->progress(k->progress_ctx, "receiving", 1, 1);
done:
	git_repository_free(rr);
	rq_buf_release(&objs);
	rq_buf_release(&mine);
	return err;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

int rq_sync_clone(rq_sync_result *out, const char *url, const char *resque_dir, const rq_sync_options *o)
{
	rq_buf tmp = RQ_BUF_INIT;
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	git_repository_init_options io = GIT_REPOSITORY_INIT_OPTIONS_INIT;
	git_config *cfg = NULL;
	rq_ledger *l = NULL;
	rq_verify_report r;
	struct link k;
	git_oid tip;
	int err = 0;

	memset(&k, 0, sizeof(k));
	memset(&r, 0, sizeof(r));
	memset(out, 0, sizeof(*out));
	k.remote = "origin";
	k.url = url;
	k.shown = redacted(url);
	k.progress = o ? o->progress : NULL;
	k.progress_ctx = o ? o->progress_ctx : NULL;
	out->remote = rq_xstrdup("origin");
	out->url = rq_xstrdup(k.shown);
	git_libgit2_init();
	if ((err = rq_remote_url_check(url)))
		return err;
	if (rq_path_exists(resque_dir))
		return rq_error_set(RQ_EEXISTS, "%s: a repository exists already", resque_dir);
	rq_ledger__clean_init_leftovers(resque_dir); /* of killed clones and inits */
	/* Built beside its final place, verified, then renamed into it. */
	rq_buf_printf(&tmp, "%s.tmp-%ld", resque_dir, (long)getpid());
	io.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT;
	io.initial_head = "ledger";
	io.description = "resque ledger: one commit per signed entry; see docs/FORMATS.md";
	if (git_repository_init_ext(&repo, tmp.ptr, &io)) {
		err = rq_git_error(RQ_EIO, resque_dir);
		goto done;
	}
	if (git_remote_create_with_fetchspec(&remote, repo, "origin", url, "+" RQ_REMOTE_LEDGER ":refs/remotes/origin/ledger")) {
		err = rq_error_set(RQ_EINVALID, "'%s' is not a URL resque can use: %s", k.shown,
				   git_error_last() ? git_error_last()->message : "git error");
		goto done;
	}
	git_remote_free(remote);
	remote = NULL;
	git_fetch_options fo = GIT_FETCH_OPTIONS_INIT;
	char spec[] = "+" RQ_REMOTE_LEDGER ":refs/remotes/origin/ledger";
	char *specs[] = { spec };
	git_strarray refspecs = { specs, 1 };
	callbacks(&fo.callbacks, &k);
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.update_fetchhead = 0;
	if (git_remote_create_anonymous(&remote, repo, url)) {
		err = rq_git_error(RQ_EINVALID, k.shown);
		goto done;
	}
	if ((err = local_exists(&k)))
		goto done;
	char *lp = rq_remote_local_path(url);
	err = lp ? local_clone(&tip, repo, lp, &k) : RQ_EUNSUPPORTED;
	free(lp);
	if (err == RQ_EUNSUPPORTED) {
		rq_error_clear();
		err = 0;
		if (git_remote_fetch(remote, &refspecs, &fo, NULL)) {
			err = net_error(&k, "fetching its ledger");
			goto done;
		}
		if (git_reference_name_to_id(&tip, repo, "refs/remotes/origin/ledger") != 0) {
			git_error_clear();
			err = rq_error_set(RQ_ENOTFOUND, "remote '%s' has no ledger (no branch 'ledger')", k.shown);
			goto done;
		}
	}
	if (err)
		goto done;
	git_reference *track = NULL, *ref = NULL;
	int rc = git_reference_create(&track, repo, "refs/remotes/origin/ledger", &tip, 1, "resque clone");
	if (!rc)
		rc = git_reference_create(&ref, repo, RQ_LEDGER_REF, &tip, 0, "resque clone");
	git_reference_free(track);
	git_reference_free(ref);
	if (rc) {
		err = rq_git_error(RQ_EIO, "creating the ledger branch");
		goto done;
	}
	git_remote_free(remote);
	remote = NULL;
	git_repository_free(repo);
	repo = NULL;
	/* Everything received is verified before the repository exists. */
	if ((err = rq_ledger_open(&l, tmp.ptr)))
		goto done;
	err = rq_ledger_verify(&r, l);
	if (err && err != RQ_EINTEGRITY)
		goto done;
	if (r.nproblems > r.index_problems) {
		const rq_problem *p = &r.problems[0];
		err = p->seq >= 0 ? rq_error_set(RQ_EINTEGRITY, "%s: entry %" PRId64 " (%.12s): %s%s", k.shown, p->seq,
						 p->id, p->message, r.nproblems > 1 ? " (and more problems)" : "")
				  : rq_error_set(RQ_EINTEGRITY, "%s: %s", k.shown, p->message);
		goto done;
	}
	err = 0;
	/* Against what this machine saw of the same ledger before. */
	{
		rq_known km;
		rq_hash *kv = NULL;
		uint64_t at = UINT64_MAX;
		int e2 = rq_known_get(&km, &kv, r.repository);
		if (e2 == 0)
			e2 = rq_known_compare(&at, &km, kv, r.genesis, (const rq_hash *)r.leaves, r.nleaves);
		free(kv);
		if (e2 == RQ_EINTEGRITY && at == UINT64_MAX && r.nleaves < km.size)
			e2 = 0; /* behind another copy here: no rollback by itself */
		if (e2 == RQ_EINTEGRITY) {
			err = rq_error_set(RQ_EINTEGRITY, "%s: %s", k.shown, rq_error_last());
			goto done;
		}
		rq_error_clear();
		uint64_t seen;
		struct chain_leaves cl = { l, 0, &r };
		if ((err = check_memory_of(&seen, r.repository, &k, r.nleaves, chain_leaf, &cl)))
			goto done;
	}
	if ((err = rq_ledger_config_set(l, "resque.formatversion", "1")) ||
	    (err = rq_ledger_config_set(l, "resque.id", r.repository)))
		goto done;
	rq_ledger_free(l);
	l = NULL;
	if (rename(tmp.ptr, resque_dir) < 0) {
		err = rq_error_set(errno == EEXIST || errno == ENOTEMPTY ? RQ_EEXISTS : RQ_EIO, "%s: %s", resque_dir,
				   strerror(errno));
		goto done;
	}
	rq_buf_reset(&tmp);
	/* Remember what was verified (as verify does), then open it. */
	rq_buf warning = RQ_BUF_INIT;
	if (rq_known_remember(NULL, &warning, &r) != 0)
		rq_error_clear();
	rq_buf_release(&warning);
	if ((err = rq_ledger_open(&l, resque_dir)) || (err = rq_ledger_guard(l)))
		goto done;
	out->received = r.nleaves;
	out->remote_size = r.nleaves;
	remember_remote(l, &k, r.nleaves);
	result_end(out, l);
done:
	rq_ledger_free(l);
	rq_verify_report_release(&r);
	git_config_free(cfg);
	git_remote_free(remote);
	git_repository_free(repo);
	if (tmp.len && rq_path_exists(tmp.ptr))
		nftw(tmp.ptr, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	rq_buf_release(&tmp);
	link_release(&k);
	return err;
}
