/* resque key gen|list|add|revoke|export: signing keys in the key store and the
 * ledger's signers. */
#include "common.h"
#include "cmd.h"
#include "checkpoint.h"
#include "json.h"
#include "resque/keystore.h"
#include "ledger_int.h"
#include "resque/repo.h"

static int key_gen(int argc, char **argv)
{
	static const struct cmd_help help = {
		"key gen", "create a new Ed25519 signing key in the key store",
		"The key is written to $RESQUE_HOME/keys/ID.key (mode 0600) and ID.pub.\n"
		"With --encrypt it is encrypted with a passphrase (Argon2id + secretbox)\n"
		"taken from RESQUE_PASSPHRASE or asked on the terminal. The first key\n"
		"becomes the default; --default makes this one the default.",
	};
	bool encrypt = false, def = false, json = false;
	const struct opt opts[] = {
		{ OPT_BOOL, 0, "encrypt", &encrypt, NULL, "protect the key with a passphrase" },
		{ OPT_BOOL, 0, "default", &def, NULL, "make it the default signing key" },
		{ OPT_BOOL, 0, "json", &json, NULL, "print id, public key and paths as JSON" },
		{ OPT_END },
	};
	rq_key *k = NULL;
	char *pass = NULL, existing[RQ_KEY_ID_SIZE];
	rq_buf dir = RQ_BUF_INIT;
	int rc = EXIT_OK, err;

	OPT_PARSE(&help, opts, argc, argv);
	if (encrypt) {
		pass = cmd_passphrase("passphrase for the new key: ");
		if (!pass || !*pass) {
			rc = cmd_error("--encrypt needs a passphrase: set RESQUE_PASSPHRASE or run in a terminal");
			goto done;
		}
	}
	if (rq_keystore_resolve(existing, NULL) != 0)
		def = true;
	rq_error_clear();
	rq_key_generate(&k);
	if ((err = rq_keystore_save(k, pass)) || (def && (err = rq_keystore_set_default(k->id)))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	rq_keystore_dir(&dir);
	char pk[RQ_PUBKEY_HEX_SIZE];
	rq_hex_encode(pk, k->pk, RQ_PUBKEY_LEN);
	if (json) {
		rq_buf path = RQ_BUF_INIT, pub = RQ_BUF_INIT;
		rq_buf_printf(&path, "%s/%s.key", dir.ptr, k->id);
		rq_buf_printf(&pub, "%s/%s.pub", dir.ptr, k->id);
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "id", k->id, "public", pk, "secret_file",
				      path.ptr, "public_file", pub.ptr, "encrypted", encrypt, "default", def);
		rc = cmd_print_json(j);
		json_decref(j);
		rq_buf_release(&path);
		rq_buf_release(&pub);
	} else {
		printf("key %s%s%s\npublic %s\nsecret file %s/%s.key\npublic file %s/%s.pub\n", k->id,
		       encrypt ? " (encrypted)" : "", def ? " (default)" : "", pk, dir.ptr, k->id, dir.ptr, k->id);
	}
done:
	cmd_passphrase_free(pass);
	rq_key_free(k);
	rq_buf_release(&dir);
	return rc;
}

struct signer_row {
	char id[RQ_KEY_ID_SIZE];
	char public[RQ_PUBKEY_HEX_SIZE];
	char added[RQ_TIME_SIZE];
	bool revoked;
	char *name;
};

struct signers {
	struct signer_row *v;
	size_t n, alloc;
};

static struct signer_row *find_row(struct signers *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].id, id) == 0)
			return &s->v[i];
	return NULL;
}

static int collect_signers(const rq_entry *e, void *ctx)
{
	struct signers *s = ctx;
	bool init = strcmp(e->type, "init") == 0;
	if (!init && strcmp(e->type, "key") != 0)
		return 0;
	const json_t *k = init ? json_object_get(e->body, "key") : e->body;
	const char *action = init ? "add" : rq_json_str(k, "action", "");
	const char *id = rq_json_str(k, "id", "");
	struct signer_row *r = find_row(s, id);
	if (strcmp(action, "add") == 0) {
		if (!r) {
			RQ_ALLOC_GROW(s->v, s->n + 1, s->alloc);
			r = &s->v[s->n++];
			memset(r, 0, sizeof(*r));
		}
		snprintf(r->id, sizeof(r->id), "%s", id);
		snprintf(r->public, sizeof(r->public), "%s", rq_json_str(k, "public", ""));
		snprintf(r->added, sizeof(r->added), "%s", e->time);
		free(r->name);
		r->name = rq_json_str(k, "name", NULL) ? rq_xstrdup(rq_json_str(k, "name", NULL)) : NULL;
		r->revoked = false;
	} else if (strcmp(action, "revoke") == 0 && r) {
		r->revoked = true;
	}
	return 0;
}

static int key_list(int argc, char **argv)
{
	static const struct cmd_help help = {
		"key list", "list the key store's keys and the ledger's signers",
		"--json prints {\"keys\": [{\"id\", \"default\", \"encrypted\"}], \"signers\":\n"
		"[{\"id\", \"public\", \"added\", \"revoked\", \"name\"}]} (signers only inside a\n"
		"repository; otherwise null).",
	};
	bool json = false;
	const struct opt opts[] = {
		{ OPT_BOOL, 0, "json", &json, NULL, "print as JSON" },
		{ OPT_END },
	};
	char **ids = NULL, def[RQ_KEY_ID_SIZE] = "";
	size_t n = 0;
	struct signers s = { NULL, 0, 0 };
	rq_ledger *l = NULL;
	rq_buf dir = RQ_BUF_INIT;
	int rc = EXIT_OK, err;
	bool in_repo;

	OPT_PARSE(&help, opts, argc, argv);
	if ((err = rq_keystore_list(&ids, &n)))
		return cmd_fail_code(err);
	if (rq_keystore_resolve(def, NULL) != 0)
		def[0] = '\0';
	in_repo = rq_repo_discover(&dir, cmd_dir_option) == 0;
	rq_error_clear();
	if (in_repo) {
		if ((rc = cmd_open_ledger(&l, NULL)))
			goto done;
		if ((err = rq_ledger_foreach(l, NULL, collect_signers, &s))) {
			rc = cmd_fail_code(err);
			goto done;
		}
	}
	if (json) {
		json_t *keys = json_array(), *sig = in_repo ? json_array() : json_null();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(keys, json_pack("{s:s, s:b, s:b}", "id", ids[i], "default",
							      strcmp(ids[i], def) == 0, "encrypted",
							      rq_keystore_is_encrypted(ids[i])));
		for (size_t i = 0; i < s.n; i++) {
			json_t *r = json_pack("{s:s, s:s, s:s, s:b}", "id", s.v[i].id, "public", s.v[i].public,
					      "added", s.v[i].added, "revoked", s.v[i].revoked);
			json_object_set_new(r, "name", s.v[i].name ? json_string(s.v[i].name) : json_null());
			json_array_append_new(sig, r);
		}
		json_t *j = json_pack("{s:o, s:o}", "keys", keys, "signers", sig);
		rc = cmd_print_json(j);
		json_decref(j);
	} else {
		printf("key store:\n");
		if (!n)
			printf("  (no keys; 'resque key gen' creates one)\n");
		for (size_t i = 0; i < n; i++)
			printf("  %s%s%s\n", ids[i], strcmp(ids[i], def) == 0 ? "  default" : "",
			       rq_keystore_is_encrypted(ids[i]) ? "  encrypted" : "");
		if (in_repo) {
			printf("signers of this ledger:\n");
			for (size_t i = 0; i < s.n; i++)
				printf("  %s  %s  added %s%s%s\n", s.v[i].id, s.v[i].revoked ? "revoked" : "active ",
				       s.v[i].added, s.v[i].name ? "  " : "", s.v[i].name ? s.v[i].name : "");
		}
	}
done:
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	for (size_t i = 0; i < s.n; i++)
		free(s.v[i].name);
	free(s.v);
	rq_buf_release(&dir);
	cmd_close_ledger(l, NULL);
	return rc;
}

static int key_add(int argc, char **argv)
{
	static const struct cmd_help help = {
		"key add", "authorise another signer of this ledger",
		"KEY is a public key file (ID.pub from 'resque key gen'), the line that\n"
		"'resque key export' prints, or the key's 64 hex digits. Writes a 'key'\n"
		"entry; only a current signer may.",
	};
	const char *keyarg = NULL, *name = NULL;
	const struct opt opts[] = {
		{ OPT_STRING, 0, "name", &name, "NAME", "who holds the key (recorded in the entry)" },
		{ OPT_ARG, 0, "KEY", &keyarg, NULL, "public key file or hex", OPT_REQUIRED },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	rq_key *k = NULL, *pub = NULL;
	rq_entry *e = NULL;
	rq_buf text = RQ_BUF_INIT;
	int rc, err;

	OPT_PARSE(&help, opts, argc, argv);
	if (rq_path_exists(keyarg)) {
		if ((err = rq_file_read(&text, keyarg)))
			return cmd_fail_code(err);
	} else {
		rq_buf_puts(&text, keyarg);
	}
	err = rq_key_decode_public(&pub, text.ptr, text.len, keyarg);
	if (err) {
		/* the one line 'resque key export' prints, which a colleague
		 * is most likely to send */
		rq_verifier v;
		int e2 = rq_verifier_parse(&v, text.ptr, text.len, keyarg);
		if (e2 == 0) {
			char hexpk[RQ_PUBKEY_HEX_SIZE];
			rq_hex_encode(hexpk, v.pk, RQ_PUBKEY_LEN);
			rq_error_clear();
			err = rq_key_decode_public(&pub, hexpk, strlen(hexpk), keyarg);
		} else {
			rq_error_set(err, "%s: not a public key (a resque .pub file, the line of 'resque key export', or 64 hex digits)",
				     keyarg);
		}
	}
	rq_buf_release(&text);
	if (err)
		return cmd_fail_code(err);
	if ((rc = cmd_open_ledger(&l, &k)))
		goto done;
	uint8_t pk[RQ_PUBKEY_LEN];
	bool revoked;
	if (rq_ledger_signer(pk, &revoked, l, pub->id) == 0 && !revoked) {
		rc = cmd_error("key %s is already a signer of this ledger", pub->id);
		goto done;
	}
	rq_error_clear();
	char hex[RQ_PUBKEY_HEX_SIZE];
	rq_hex_encode(hex, pub->pk, RQ_PUBKEY_LEN);
	json_t *body = json_pack("{s:s, s:s, s:s}", "action", "add", "id", pub->id, "public", hex);
	if (name)
		json_object_set_new(body, "name", json_string(name));
	if ((err = rq_ledger_append(&e, l, "key", body, NULL, 0))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	printf("%.12s key %" PRIu64 ": added signer %s\n", e->id, e->seq, pub->id);
done:
	rq_entry_free(e);
	rq_key_free(pub);
	cmd_close_ledger(l, k);
	return rc;
}

static int count_active(const rq_entry *e, void *ctx)
{
	return collect_signers(e, ctx);
}

static int key_revoke(int argc, char **argv)
{
	static const struct cmd_help help = {
		"key revoke", "withdraw a signer's authority over this ledger",
		"Writes a 'key' entry revoking ID (a signer's key id or a unique prefix).\n"
		"Entries it signed before stay valid; later ones are rejected by verify.\n"
		"The last active signer cannot be revoked.",
	};
	const char *id = NULL, *reason = NULL;
	const struct opt opts[] = {
		{ OPT_STRING, 0, "reason", &reason, "TEXT", "why (recorded in the entry)" },
		{ OPT_ARG, 0, "ID", &id, NULL, "the signer's key id", OPT_REQUIRED },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	rq_key *k = NULL;
	rq_entry *e = NULL;
	struct signers s = { NULL, 0, 0 };
	int rc, err;

	OPT_PARSE(&help, opts, argc, argv);
	if ((rc = cmd_open_ledger(&l, &k)))
		return rc;
	if ((err = rq_ledger_foreach(l, NULL, count_active, &s))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	struct signer_row *target = NULL;
	size_t active = 0, matches = 0;
	for (size_t i = 0; i < s.n; i++) {
		if (!s.v[i].revoked)
			active++;
		if (strncmp(s.v[i].id, id, strlen(id)) == 0 && strlen(id) >= 4) {
			target = &s.v[i];
			matches++;
		}
	}
	if (matches > 1) {
		rc = cmd_error("key id %s is ambiguous", id);
		goto done;
	}
	if (!target) {
		rc = cmd_error("key %s is not a signer of this ledger", id);
		goto done;
	}
	if (target->revoked) {
		rc = cmd_error("key %s was revoked already", target->id);
		goto done;
	}
	if (active <= 1) {
		rc = cmd_error("key %s is the last active signer; add another before revoking it", target->id);
		goto done;
	}
	json_t *body = json_pack("{s:s, s:s}", "action", "revoke", "id", target->id);
	if (reason)
		json_object_set_new(body, "reason", json_string(reason));
	if ((err = rq_ledger_append(&e, l, "key", body, NULL, 0))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	printf("%.12s key %" PRIu64 ": revoked signer %s\n", e->id, e->seq, target->id);
done:
	for (size_t i = 0; i < s.n; i++)
		free(s.v[i].name);
	free(s.v);
	rq_entry_free(e);
	cmd_close_ledger(l, k);
	return rc;
}

/* The public key of `id` from the key store (NULL: its default). */
static int store_public(rq_key **out, const char *id)
{
	char full[RQ_KEY_ID_SIZE];
	rq_buf path = RQ_BUF_INIT, text = RQ_BUF_INIT;
	int err;

	*out = NULL;
	if ((err = rq_keystore_resolve(full, id)) || (err = rq_keystore_dir(&path)))
		goto done;
	rq_buf_printf(&path, "/%s.pub", full);
	if (rq_path_exists(path.ptr)) {
		if (!(err = rq_file_read(&text, path.ptr)))
			err = rq_key_decode_public(out, text.ptr, text.len, path.ptr);
	} else if (!rq_keystore_is_encrypted(full)) {
		err = rq_keystore_load(out, full, NULL); /* the .pub was lost; the secret key has it */
	} else {
		err = rq_error_set(RQ_ENOTFOUND, "%s: missing, and the secret key is encrypted", path.ptr);
	}
done:
	rq_buf_release(&path);
	rq_buf_release(&text);
	return err;
}

/* A signer recorded in the ledger, by a unique prefix of its id. */
static int ledger_public(rq_key **out, rq_ledger *l, const char *id)
{
	struct signers s = { NULL, 0, 0 };
	struct signer_row *hit = NULL;
	size_t matches = 0;
	int err;

	*out = NULL;
	if ((err = rq_ledger_foreach(l, NULL, collect_signers, &s)))
		goto done;
	for (size_t i = 0; i < s.n; i++)
		if (strlen(id) >= 4 && strncmp(s.v[i].id, id, strlen(id)) == 0) {
			hit = &s.v[i];
			matches++;
		}
	if (matches > 1) {
		err = rq_error_set(RQ_EAMBIGUOUS, "key id %s is ambiguous among this ledger's signers", id);
	} else if (!hit) {
		err = rq_error_set(RQ_ENOTFOUND, "no key %s in the key store nor among this ledger's signers", id);
	} else {
		rq_key *k = rq_xcalloc(1, sizeof(*k));
		if (rq_hex_decode(k->pk, RQ_PUBKEY_LEN, hit->public) != 0) {
			free(k);
			err = rq_error_set(RQ_EINTEGRITY, "signer %s has no valid public key in the ledger", hit->id);
			goto done;
		}
		rq_key_id_of(k->id, k->pk);
		*out = k;
	}
done:
	for (size_t i = 0; i < s.n; i++)
		free(s.v[i].name);
	free(s.v);
	return err;
}

static int key_export(int argc, char **argv)
{
	static const struct cmd_help help = {
		"key export", "print a signer's public key in one line, for --key",
		"Prints the public key of KEYID (default: the signing key: this\n"
		"repository's resque.signingkey, else the key store's default) as one\n"
		"line in the C2SP verifier-key form NAME+HEX8+BASE64(0x01 || key), which\n"
		"--key accepts ('resque verify --key', 'resque audit check --key'). KEYID\n"
		"is a key in the key store or, inside a repository, a signer recorded in\n"
		"its ledger; a unique prefix of at least 4 digits works. Hand the line to\n"
		"whoever audits the ledger: it pins the key that signed it.",
	};
	const char *id = NULL;
	const struct opt opts[] = {
		{ OPT_ARG, 0, "KEYID", &id, NULL, "the key's id (default: the signing key)" },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	rq_key *k = NULL;
	rq_buf dir = RQ_BUF_INIT, cfg = RQ_BUF_INIT, line = RQ_BUF_INIT;
	rq_verifier v;
	int rc = EXIT_OK, err;

	OPT_PARSE(&help, opts, argc, argv);
	if (rq_repo_discover(&dir, cmd_dir_option) == 0) {
		if ((rc = cmd_open_ledger(&l, NULL)))
			goto done;
		if (!id && rq_ledger_config_get(&cfg, l, "resque.signingkey") == 0)
			id = cfg.ptr;
	}
	rq_error_clear();
	err = store_public(&k, id);
	if (err == RQ_ENOTFOUND && id && l)
		err = ledger_public(&k, l, id);
	if (err) {
		rc = cmd_fail_code(err);
		goto done;
	}
	rq_verifier_of(&v, k);
	rq_verifier_format(&line, &v);
	printf("%s\n", line.ptr);
done:
	rq_key_free(k);
	rq_buf_release(&line);
	rq_buf_release(&cfg);
	rq_buf_release(&dir);
	cmd_close_ledger(l, NULL);
	return rc;
}

int cmd_key(int argc, char **argv)
{
	static const struct subcmd subs[] = {
		{ "gen", key_gen, "create a new signing key in the key store" },
		{ "list", key_list, "list keys and the ledger's signers" },
		{ "add", key_add, "authorise another signer (writes a key entry)" },
		{ "revoke", key_revoke, "revoke a signer (writes a key entry)" },
		{ "export", key_export, "print a signer's public key in one line, for --key" },
		{ NULL, NULL, NULL },
	};
	return cmd_dispatch_sub("key", subs, argc, argv);
}
