/* Remotes of a ledger (store/sync.h): their names and URLs as git keeps
 * them in .resque/config, the URL checks and spellings, and the
 * credentials a transfer needs (the URL's user:password, ssh keys, the
 * git credential helper), with libgit2's callbacks and its errors put as
 * the user should read them. The transfers themselves are in sync.c. */
#include "common.h"
#include "sync_int.h"
#include <pwd.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>
#include "process.h"

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
char *rq_sync__redacted(const char *url)
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
		char *shown = rq_sync__redacted(git_remote_url(r) ? git_remote_url(r) : "");
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
		char *shown = rq_sync__redacted(url);
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

void rq_sync__link_release(struct link *k)
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
			if (k->password)
				sodium_memzero(k->password, strlen(k->password));
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

void rq_sync__callbacks(git_remote_callbacks *cb, struct link *k)
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
int rq_sync__net_error(const struct link *k, const char *doing)
{
	const git_error *e = git_error_last();
	const char *msg = e && e->message ? e->message : "git error";
	if (k->auth_failed || (e && e->klass == GIT_ERROR_SSH && strstr(msg, "auth")))
		return rq_error_set(RQ_ERROR, "remote '%s' (%s): authentication failed: %s", k->remote, k->shown, msg);
	return rq_error_set(RQ_ERROR, "remote '%s' (%s): %s: %s", k->remote, k->shown, doing, msg);
}

/* ---- opening a remote ---- */

/* git's setting `name` (http.sslcainfo) from the user's and the
 * system's git configuration, if any (owned by `buf`). */
static const char *git_setting(git_buf *buf, git_config *cfg, const char *name)
{
	if (cfg && git_config_get_path(buf, cfg, name) == 0 && buf->ptr && *buf->ptr)
		return buf->ptr;
	git_error_clear();
	return NULL;
}

void rq_sync__tls(void)
{
	static bool done;
	const char *file = getenv("GIT_SSL_CAINFO"), *path = getenv("GIT_SSL_CAPATH");
	git_config *cfg = NULL;
	git_buf fb = { 0 }, pb = { 0 };

	if (done)
		return;
	done = true;
	if ((!file || !*file || !path || !*path) && git_config_open_default(&cfg) != 0)
		cfg = NULL;
	if (!file || !*file)
		file = git_setting(&fb, cfg, "http.sslcainfo");
	if (!path || !*path)
		path = git_setting(&pb, cfg, "http.sslcapath");
	if ((file && *file) || (path && *path))
		(void)git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, file && *file ? file : NULL,
				       path && *path ? path : NULL);
	git_error_clear();
	git_buf_dispose(&fb);
	git_buf_dispose(&pb);
	git_config_free(cfg);
}

int rq_sync__open_remote(git_remote **out, struct link *k, rq_ledger *l, const char *name)
{
	int err;
	rq_sync__tls();
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
	k->shown = rq_sync__redacted(k->url);
	git_remote_free(*out);
	*out = NULL;
	if (git_remote_create_anonymous(&anon, l->repo, k->url) != 0)
		return rq_error_set(RQ_EINVALID, "remote '%s': '%s' is not a URL resque can use: %s", name, k->shown,
				    git_error_last() ? git_error_last()->message : "git error");
	*out = anon;
	return 0;
}
