/* git2-probe: libgit2 as resque uses it, against the test servers of
 * tests/lib-remote.sh: proves each transport (git://, http://, ssh://)
 * works for a libgit2 client, with its credentials and host-key checks.
 *
 *   git2-probe clone URL DIR        git_clone (a working tree) into DIR
 *   git2-probe push DIR REFSPEC     git_remote_push of REFSPEC to origin
 *   git2-probe ls URL               the remote's refs, "OID NAME" a line
 *
 * Credentials as git users expect: ssh through the agent (when
 * SSH_AUTH_SOCK is set), then $HOME/.ssh/id_ed25519, then id_rsa; http
 * with the user and password of the URL. No certificate callback: libgit2's
 * own known_hosts check decides. Exit 0, or 1 with libgit2's message.
 */
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cred_state {
	const char *url;
	int tries;
	int agent_tried;
	int key_tried;
	int rejected; /* a push_update_reference said no */
};

/* user and password of URL's userinfo, into the buffers (empty if none) */
static void url_userinfo(const char *url, char *user, size_t user_len, char *pass, size_t pass_len)
{
	const char *p = strstr(url, "://"), *end, *at, *colon;
	size_t n;

	user[0] = '\0';
	pass[0] = '\0';
	if (!p)
		return;
	p += 3;
	end = strchr(p, '/');
	if (!end)
		end = p + strlen(p);
	at = NULL;
	for (const char *q = p; q < end; q++)
		if (*q == '@')
			at = q;
	if (!at)
		return;
	colon = memchr(p, ':', (size_t)(at - p));
	n = (size_t)((colon ? colon : at) - p);
	if (n >= user_len)
		n = user_len - 1;
	memcpy(user, p, n);
	user[n] = '\0';
	if (colon) {
		n = (size_t)(at - colon - 1);
		if (n >= pass_len)
			n = pass_len - 1;
		memcpy(pass, colon + 1, n);
		pass[n] = '\0';
	}
}

static int acquire(git_credential **out, const char *url, const char *username_from_url,
		   unsigned int allowed_types, void *payload)
{
	struct cred_state *st = payload;
	const char *home = getenv("HOME");
	char priv[4096], pub[4200], user[256], pass[256];
	static const char *const keys[] = { "id_ed25519", "id_rsa" };

	if (++st->tries > 4) {
		git_error_set_str(GIT_ERROR_NET, "authentication failed (gave up after 4 tries)");
		return GIT_EAUTH;
	}
	if (allowed_types & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, username_from_url ? username_from_url : "git");
	if (allowed_types & GIT_CREDENTIAL_SSH_KEY) {
		const char *u = username_from_url ? username_from_url : "git";
		if (!st->agent_tried && getenv("SSH_AUTH_SOCK")) {
			st->agent_tried = 1;
			return git_credential_ssh_key_from_agent(out, u);
		}
		for (size_t i = (size_t)st->key_tried; home && i < sizeof(keys) / sizeof(keys[0]); i++) {
			snprintf(priv, sizeof(priv), "%s/.ssh/%s", home, keys[i]);
			snprintf(pub, sizeof(pub), "%s.pub", priv);
			st->key_tried = (int)i + 1;
			if (access(priv, R_OK) == 0) {
				fprintf(stderr, "git2-probe: ssh key %s\n", priv);
				return git_credential_ssh_key_new(out, u,
					access(pub, R_OK) == 0 ? pub : NULL, priv, NULL);
			}
		}
		git_error_set_str(GIT_ERROR_NET, "no ssh key left to try");
		return GIT_EAUTH;
	}
	if (allowed_types & GIT_CREDENTIAL_USERPASS_PLAINTEXT) {
		url_userinfo(st->url, user, sizeof(user), pass, sizeof(pass));
		if (!user[0] || st->tries > 1) {
			git_error_set_str(GIT_ERROR_NET, "authentication failed");
			return GIT_EAUTH;
		}
		return git_credential_userpass_plaintext_new(out, user, pass);
	}
	git_error_set_str(GIT_ERROR_NET, "no credential of an allowed type");
	return GIT_EAUTH;
}

static int update_ref(const char *refname, const char *status, void *payload)
{
	struct cred_state *st = payload;

	if (status) {
		fprintf(stderr, "git2-probe: %s rejected: %s\n", refname, status);
		st->rejected = 1;
	} else {
		printf("pushed %s\n", refname);
	}
	return 0;
}

static int fail(const char *what)
{
	const git_error *e = git_error_last();

	fprintf(stderr, "git2-probe: %s: %s\n", what, e && e->message ? e->message : "unknown error");
	return 1;
}

int main(int argc, char **argv)
{
	struct cred_state st = { 0 };
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	int rc = 1;

	if (argc != 4 && !(argc == 3 && strcmp(argv[1], "ls") == 0)) {
		fprintf(stderr, "usage: git2-probe clone URL DIR | push DIR REFSPEC | ls URL\n");
		return 2;
	}
	git_libgit2_init();
	if (strcmp(argv[1], "clone") == 0) {
		git_clone_options opts = GIT_CLONE_OPTIONS_INIT;

		st.url = argv[2];
		opts.fetch_opts.callbacks.credentials = acquire;
		opts.fetch_opts.callbacks.payload = &st;
		if (git_clone(&repo, argv[2], argv[3], &opts) < 0) {
			rc = fail("clone");
			goto done;
		}
		rc = 0;
	} else if (strcmp(argv[1], "push") == 0) {
		git_push_options opts = GIT_PUSH_OPTIONS_INIT;
		char *spec = argv[3];
		git_strarray specs = { &spec, 1 };

		if (git_repository_open(&repo, argv[2]) < 0 || git_remote_lookup(&remote, repo, "origin") < 0) {
			rc = fail("push");
			goto done;
		}
		st.url = git_remote_url(remote);
		opts.callbacks.credentials = acquire;
		opts.callbacks.push_update_reference = update_ref;
		opts.callbacks.payload = &st;
		if (git_remote_push(remote, &specs, &opts) < 0) {
			rc = fail("push");
			goto done;
		}
		rc = st.rejected ? 1 : 0;
	} else if (strcmp(argv[1], "ls") == 0) {
		git_remote_callbacks cb = GIT_REMOTE_CALLBACKS_INIT;
		const git_remote_head **heads;
		size_t n;

		st.url = argv[2];
		cb.credentials = acquire;
		cb.payload = &st;
		if (git_remote_create_detached(&remote, argv[2]) < 0 ||
		    git_remote_connect(remote, GIT_DIRECTION_FETCH, &cb, NULL, NULL) < 0 ||
		    git_remote_ls(&heads, &n, remote) < 0) {
			rc = fail("ls");
			goto done;
		}
		for (size_t i = 0; i < n; i++) {
			char oid[GIT_OID_HEXSZ + 1];
			git_oid_tostr(oid, sizeof(oid), &heads[i]->oid);
			printf("%s %s\n", oid, heads[i]->name);
		}
		rc = 0;
	} else {
		fprintf(stderr, "git2-probe: unknown command %s\n", argv[1]);
		rc = 2;
	}
done:
	git_remote_free(remote);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}
