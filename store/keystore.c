/* The key store: secret keys outside the repository, in
 * $RESQUE_HOME/keys (default ~/.config/resque/keys), mode 0600. */
#include "common.h"
#include "resque/keystore.h"
#include "key_int.h"

#include <dirent.h>
#include <sodium.h>
#include <sys/stat.h>

int rq_keystore_dir(rq_buf *out)
{
	const char *home = getenv("RESQUE_HOME");
	if (home && *home) {
		rq_buf_printf(out, "%s/keys", home);
		return 0;
	}
	const char *xdg = getenv("XDG_CONFIG_HOME");
	if (xdg && *xdg) {
		rq_buf_printf(out, "%s/resque/keys", xdg);
		return 0;
	}
	home = getenv("HOME");
	if (!home || !*home)
		return rq_error_set(RQ_ENOTFOUND, "neither RESQUE_HOME nor HOME is set: nowhere to keep keys");
	rq_buf_printf(out, "%s/.config/resque/keys", home);
	return 0;
}

static int key_path(rq_buf *out, const char *id, const char *ext)
{
	int err = rq_keystore_dir(out);
	if (!err)
		rq_buf_printf(out, "/%s.%s", id, ext);
	return err;
}

int rq_keystore_save(const rq_key *k, const char *passphrase)
{
	rq_buf dir = RQ_BUF_INIT, path = RQ_BUF_INIT, text = RQ_BUF_INIT;
	int err;

	if ((err = rq_keystore_dir(&dir)) || (err = rq_mkdir_p(dir.ptr, 0700)))
		goto done;
	chmod(dir.ptr, 0700);
	key_path(&path, k->id, "key");
	if (rq_path_exists(path.ptr)) {
		err = rq_error_set(RQ_EEXISTS, "%s: key exists already", path.ptr);
		goto done;
	}
	if ((err = rq_key_encode_secret(&text, k, passphrase)) ||
	    (err = rq_file_write_atomic(path.ptr, text.ptr, text.len, 0600)))
		goto done;
	rq_buf_reset(&text);
	rq_buf_reset(&path);
	key_path(&path, k->id, "pub");
	rq_key_encode_public(&text, k);
	err = rq_file_write_atomic(path.ptr, text.ptr, text.len, 0644);
done:
	if (text.alloc)
		sodium_memzero(text.ptr, text.alloc);
	rq_buf_release(&text);
	rq_buf_release(&path);
	rq_buf_release(&dir);
	return err;
}

int rq_keystore_list(char ***out, size_t *n)
{
	rq_buf dir = RQ_BUF_INIT;
	char **ids = NULL;
	size_t count = 0, alloc = 0;
	int err;
	DIR *d;

	*out = NULL;
	*n = 0;
	if ((err = rq_keystore_dir(&dir)))
		return err;
	d = opendir(dir.ptr);
	rq_buf_release(&dir);
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l == RQ_KEY_ID_HEX + 4 && strcmp(de->d_name + RQ_KEY_ID_HEX, ".key") == 0 &&
		    rq_is_hex(de->d_name, RQ_KEY_ID_HEX)) {
			RQ_ALLOC_GROW(ids, count + 1, alloc);
			ids[count++] = rq_xstrndup(de->d_name, RQ_KEY_ID_HEX);
		}
	}
	closedir(d);
	for (size_t i = 1; i < count; i++)
		for (size_t j = i; j > 0 && strcmp(ids[j - 1], ids[j]) > 0; j--) {
			char *t = ids[j];
			ids[j] = ids[j - 1];
			ids[j - 1] = t;
		}
	*out = ids;
	*n = count;
	return 0;
}

static void free_list(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

int rq_keystore_resolve(char out[RQ_KEY_ID_HEX + 1], const char *id)
{
	rq_buf p = RQ_BUF_INIT;
	char **ids;
	size_t n, found = 0;
	int err;

	if (!id) {
		if ((err = rq_keystore_dir(&p)))
			return err;
		rq_buf_puts(&p, "/default");
		rq_buf text = RQ_BUF_INIT;
		err = rq_file_read(&text, p.ptr);
		if (err == RQ_ENOTFOUND) {
			/* no default recorded: the only key, if there is exactly one */
			err = rq_keystore_list(&ids, &n);
			if (!err && n == 1)
				snprintf(out, RQ_KEY_ID_HEX + 1, "%s", ids[0]);
			else if (!err)
				err = rq_error_set(RQ_ENOTFOUND, n ? "several keys in %s and no default: run 'resque key gen --default' or set resque.signingkey"
							: "no signing key in %s: run 'resque key gen'",
						   p.ptr);
			if (!err)
				free_list(ids, n);
			else if (n)
				free_list(ids, n);
		} else if (!err) {
			rq_buf_truncate(&text, strcspn(text.ptr, "\r\n"));
			if (text.len != RQ_KEY_ID_HEX || !rq_is_hex(text.ptr, text.len))
				err = rq_error_set(RQ_EINVALID, "%s: not a key id", p.ptr);
			else
				memcpy(out, text.ptr, RQ_KEY_ID_HEX + 1);
		}
		rq_buf_release(&text);
		rq_buf_release(&p);
		return err;
	}
	if ((err = rq_keystore_list(&ids, &n)))
		return err;
	for (size_t i = 0; i < n; i++)
		if (strncmp(ids[i], id, strlen(id)) == 0) {
			if (!found++)
				snprintf(out, RQ_KEY_ID_HEX + 1, "%s", ids[i]);
		}
	free_list(ids, n);
	if (!found)
		return rq_error_set(RQ_ENOTFOUND, "no secret key %s in the key store", id);
	if (found > 1)
		return rq_error_set(RQ_EAMBIGUOUS, "key id %s is ambiguous", id);
	return 0;
}

bool rq_keystore_is_encrypted(const char *id)
{
	char full[RQ_KEY_ID_HEX + 1];
	rq_buf p = RQ_BUF_INIT, text = RQ_BUF_INIT;
	bool enc = false;
	if (rq_keystore_resolve(full, id) == 0) {
		key_path(&p, full, "key");
		if (rq_file_read(&text, p.ptr) == 0)
			enc = rq_key_file_is_encrypted(text.ptr, text.len);
	}
	rq_buf_release(&p);
	rq_buf_release(&text);
	return enc;
}

int rq_keystore_load(rq_key **out, const char *id, const char *passphrase)
{
	char full[RQ_KEY_ID_HEX + 1];
	rq_buf p = RQ_BUF_INIT, text = RQ_BUF_INIT;
	struct stat st;
	int err;

	*out = NULL;
	if ((err = rq_keystore_resolve(full, id)))
		return err;
	/* as ssh does: a key others can read or replace is refused, with the
	 * command that fixes it */
	if ((err = rq_keystore_dir(&p)))
		goto done;
	if (stat(p.ptr, &st) == 0 && (st.st_mode & 077)) {
		err = rq_error_set(RQ_EINVALID, "%s: key directory is accessible by group or others (mode %03o); run: chmod 700 %s",
				   p.ptr, (unsigned)(st.st_mode & 0777), p.ptr);
		goto done;
	}
	rq_buf_reset(&p);
	key_path(&p, full, "key");
	if (stat(p.ptr, &st) == 0 && (st.st_mode & 077)) {
		err = rq_error_set(RQ_EINVALID, "%s: secret key is readable by others or writable by them (mode %03o); run: chmod 600 %s",
				   p.ptr, (unsigned)(st.st_mode & 0777), p.ptr);
		goto done;
	}
	if ((err = rq_file_read(&text, p.ptr)))
		goto done;
	err = rq_key_decode_secret(out, text.ptr, text.len, passphrase, p.ptr);
done:
	if (text.alloc)
		sodium_memzero(text.ptr, text.alloc);
	rq_buf_release(&text);
	rq_buf_release(&p);
	return err;
}

int rq_keystore_set_default(const char *id)
{
	rq_buf p = RQ_BUF_INIT, text = RQ_BUF_INIT;
	int err = rq_keystore_dir(&p);
	if (!err) {
		rq_buf_puts(&p, "/default");
		rq_buf_printf(&text, "%s\n", id);
		err = rq_file_write_atomic(p.ptr, text.ptr, text.len, 0600);
	}
	rq_buf_release(&p);
	rq_buf_release(&text);
	return err;
}
