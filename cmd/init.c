/* resque init: create .resque/ (bare git repository, config, index.db),
 * a signing key when the user has none, and the signed genesis entry. */
#include "common.h"
#include "cmd.h"
#include "resque/keystore.h"
#include "ledger_int.h"

#include <limits.h>

static const struct cmd_help help = {
	"init", "create a repository and its signed genesis entry",
	"Creates DIR/.resque (DIR defaults to the current directory): a bare git\n"
	"repository whose branch 'ledger' holds the signed ledger, its config and\n"
	"index.db. The genesis entry is signed with your default key, which is\n"
	"created in $RESQUE_HOME/keys (default ~/.config/resque/keys) if you have\n"
	"none; with RESQUE_PASSPHRASE set, a new key is encrypted with it.\n"
	"Re-initialising an existing repository is refused.",
};

/* DIR/.resque as an absolute path (DIR made if need be), where no
 * repository is yet. */
static int target_dir(rq_buf *path, const char *dir)
{
	char abs[PATH_MAX];
	int err;

	if (!dir)
		dir = cmd_dir_option ? cmd_dir_option : ".";
	else if (cmd_dir_option && dir[0] != '/')
		rq_buf_printf(path, "%s/", cmd_dir_option);
	rq_buf_puts(path, dir);
	if ((err = rq_mkdir_p(path->ptr, 0777)))
		return cmd_fail_code(err);
	if (!realpath(path->ptr, abs))
		return cmd_fail_code(rq_error_os("%s", path->ptr));
	rq_buf_reset(path);
	rq_buf_printf(path, "%s/.resque", strcmp(abs, "/") ? abs : "");
	if (rq_path_exists(path->ptr))
		return cmd_error("%s: a repository exists already; not re-initialising it", path->ptr);
	return 0;
}

/* The signing key: the one named, the default one, or a new one. */
static int signing_key(rq_key **k, bool *created, char **pass, const char *keyid)
{
	char full[RQ_KEY_ID_SIZE];
	int err = rq_keystore_resolve(full, keyid);

	if (err == RQ_ENOTFOUND && !keyid) {
		const char *env = getenv("RESQUE_PASSPHRASE");
		rq_key_generate(k);
		if ((err = rq_keystore_save(*k, env && *env ? env : NULL)) || (err = rq_keystore_set_default((*k)->id)))
			return cmd_fail_code(err);
		*created = true;
	} else if (err) {
		return cmd_fail_code(err);
	} else {
		if (rq_keystore_is_encrypted(full) && !(*pass = cmd_passphrase("passphrase for the signing key: ")))
			return cmd_error("key %s is encrypted: set RESQUE_PASSPHRASE or run in a terminal", full);
		if ((err = rq_keystore_load(k, full, *pass)))
			return cmd_fail_code(err);
	}
	rq_error_clear();
	return 0;
}

int cmd_init(int argc, char **argv)
{
	const char *dir = NULL, *keyid = NULL;
	const struct opt opts[] = {
		{ OPT_STRING, 0, "key", &keyid, "ID", "sign the genesis entry with this key of the key store" },
		{ OPT_ARG, 0, "DIR", &dir, NULL, "where to create the repository (default: here)" },
		{ OPT_END },
	};
	rq_buf path = RQ_BUF_INIT, kdir = RQ_BUF_INIT;
	rq_key *k = NULL;
	rq_ledger *l = NULL;
	bool created_key = false;
	char *pass = NULL;
	int rc = EXIT_OK, err;

	OPT_PARSE(&help, opts, argc, argv);
	if ((rc = target_dir(&path, dir)) || (rc = signing_key(&k, &created_key, &pass, keyid)))
		goto done;
	if ((err = rq_ledger_init(&l, path.ptr, k))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	rq_keystore_dir(&kdir);
	printf("Initialised resque repository in %s\n", path.ptr);
	printf("signing key %s%s (%s/%s.key)\n", k->id, created_key ? " created" : "", kdir.ptr, k->id);
	if (keyid) {
		/* remember which key signs this repository */
		rq_ledger_config_set(l, "resque.signingkey", k->id);
	}
done:
	cmd_passphrase_free(pass);
	rq_ledger_free(l);
	rq_key_free(k);
	rq_buf_release(&path);
	rq_buf_release(&kdir);
	return rc;
}
