/* Known ledgers: verify's memory of the ledgers it has verified, under
 * $RESQUE_HOME (known_ledgers and known/ID.leaves), so a rolled-back,
 * rewritten or re-created ledger is caught without a checkpoint at hand. */
#include "common.h"
#include "ledger_int.h"
#include "resque/checkpoint.h"
#include "resque/keystore.h"
#include "resque/known.h"
#include "resque/tlog.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER "# resque known ledgers v1: repository genesis size root (base64)\n"
#define FIX "run 'resque verify --forget' in that repository to start afresh"

/* $RESQUE_HOME: the key store's directory without its "/keys", so both
 * resolve RESQUE_HOME, XDG_CONFIG_HOME and HOME the same way. */
static int home_dir(rq_buf *out)
{
	int err = rq_keystore_dir(out);
	if (!err && out->len >= 5 && strcmp(out->ptr + out->len - 5, "/keys") == 0)
		rq_buf_truncate(out, out->len - 5);
	return err;
}

int rq_known_path(rq_buf *out)
{
	int err = home_dir(out);
	if (!err)
		rq_buf_puts(out, "/known_ledgers");
	return err;
}

static bool valid_repository(const char *id)
{
	size_t len = strlen(id);
	return len >= 1 && len <= RQ_KNOWN_ID_MAX && rq_is_hex(id, len);
}

bool rq_known_id_valid(const char *repository)
{
	if (!valid_repository(repository))
		return false;
	for (const char *h = repository; *h; h++)
		if (*h >= 'A' && *h <= 'F')
			return false;
	return true;
}

static int leaves_path(rq_buf *out, const char *repository)
{
	int err = home_dir(out);
	if (!err)
		rq_buf_printf(out, "/known/%s.leaves", repository);
	return err;
}

/* One line "REPOSITORY GENESIS SIZE ROOT" (no newline); false if malformed. */
static bool parse_line(rq_known *out, const char *line, size_t len)
{
	char buf[256], *f[5];
	size_t nf = 0;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, line, len);
	buf[len] = '\0';
	/* exactly four fields separated by single spaces */
	f[nf++] = buf;
	for (char *p = buf; *p; p++) {
		if (*p == ' ') {
			*p = '\0';
			if (nf == 5)
				return false;
			f[nf++] = p + 1;
		}
	}
	if (nf != 4 || !valid_repository(f[0]) || strlen(f[1]) != 64 || !rq_is_hex(f[1], 64))
		return false;
	size_t sl = strlen(f[2]);
	if (sl == 0 || sl > 19 || strspn(f[2], "0123456789") != sl || (sl > 1 && f[2][0] == '0'))
		return false;
	uint64_t size = strtoull(f[2], NULL, 10);
	if (size > INT64_MAX)
		return false;
	if (rq_base64_decode_exact(out->root, RQ_HASH_LEN, f[3], strlen(f[3])) != 0)
		return false;
	for (const char *h = f[0]; *h; h++)
		if (*h >= 'A' && *h <= 'F')
			return false;
	for (const char *h = f[1]; *h; h++)
		if (*h >= 'A' && *h <= 'F')
			return false;
	snprintf(out->repository, sizeof(out->repository), "%s", f[0]);
	snprintf(out->genesis, sizeof(out->genesis), "%s", f[1]);
	out->size = size;
	return true;
}

static void format_line(rq_buf *out, const rq_known *k)
{
	rq_buf_printf(out, "%s %s %" PRIu64 " ", k->repository, k->genesis, k->size);
	rq_base64_encode(out, k->root, RQ_HASH_LEN);
	rq_buf_putc(out, '\n');
}

/* Walk the text file's lines: `fn` gets each non-comment line, parsed (or
 * NULL if malformed), with its 1-based number. */
typedef int (*line_fn)(const rq_known *k, const char *line, size_t len, size_t lineno, void *ctx);

static int each_line(const rq_buf *text, line_fn fn, void *ctx)
{
	size_t lineno = 0;
	for (size_t at = 0; at < text->len;) {
		const char *line = text->ptr + at;
		const char *nl = memchr(line, '\n', text->len - at);
		size_t len = nl ? (size_t)(nl - line) : text->len - at;
		at += len + (nl ? 1 : 0);
		lineno++;
		if (len == 0 || line[0] == '#')
			continue;
		rq_known k;
		memset(&k, 0, sizeof(k));
		bool ok = parse_line(&k, line, len);
		int err = fn(ok ? &k : NULL, line, len, lineno, ctx);
		if (err)
			return err;
	}
	return 0;
}

/* The text file, or empty when there is none yet. */
static int read_text(rq_buf *out, const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0 && (errno == ENOENT || errno == ENOTDIR))
		return 0; /* nothing remembered yet (or nowhere to remember) */
	int err = rq_file_read(out, path);
	if (err)
		return rq_error_set(RQ_EINVALID, "%s (%s)", rq_error_last(), FIX);
	if (memchr(out->ptr, '\0', out->len))
		return rq_error_set(RQ_EINVALID, "%s: not a text file (%s)", path, FIX);
	return 0;
}

struct find {
	const char *repository;
	const char *path;
	rq_known *out;
	bool found;
};

static int find_line(const rq_known *k, const char *line, size_t len, size_t lineno, void *ctx)
{
	struct find *f = ctx;
	(void)line;
	(void)len;
	if (!k)
		return rq_error_set(RQ_EINVALID, "%s: line %zu is malformed (%s)", f->path, lineno, FIX);
	if (strcmp(k->repository, f->repository) == 0) {
		if (f->found)
			return rq_error_set(RQ_EINVALID, "%s: line %zu: repository %s is listed twice (%s)",
					    f->path, lineno, k->repository, FIX);
		*f->out = *k;
		f->found = true;
	}
	return 0;
}

static int read_leaves(rq_hash **out, const char *path, uint64_t size, const rq_hash root)
{
	rq_buf data = RQ_BUF_INIT;
	rq_merkle_levels t;
	rq_hash got;
	size_t need;
	int err = 0;

	*out = NULL;
	rq_merkle_levels_init(&t);
	if (size > SIZE_MAX / RQ_HASH_LEN) {
		err = rq_error_set(RQ_EINVALID, "%s: %" PRIu64 " leaves cannot be held in memory", path, size);
		goto done;
	}
	need = (size_t)size * RQ_HASH_LEN;
	if (size && (err = rq_file_read(&data, path))) {
		err = rq_error_set(RQ_EINVALID, "%s (%s)", rq_error_last(), FIX);
		goto done;
	}
	if (data.len < need) {
		err = rq_error_set(RQ_EINVALID, "%s: holds %zu leaf hashes, fewer than the %" PRIu64
				   " recorded in known_ledgers (%s)", path, data.len / RQ_HASH_LEN, size, FIX);
		goto done;
	}
	/* leaves past the recorded size are from an interrupted update */
	for (uint64_t i = 0; i < size; i++)
		rq_merkle_levels_append(&t, (const uint8_t *)data.ptr + i * RQ_HASH_LEN);
	if ((err = rq_merkle_root(got, size, rq_merkle_levels_node, &t)))
		goto done;
	if (sodium_memcmp(got, root, RQ_HASH_LEN) != 0) {
		err = rq_error_set(RQ_EINVALID, "%s: the leaf hashes do not hash to the root recorded in known_ledgers (%s)",
				   path, FIX);
		goto done;
	}
	*out = rq_xmalloc(need ? need : 1);
	memcpy(*out, data.ptr, need);
done:
	rq_merkle_levels_release(&t);
	rq_buf_release(&data);
	return err;
}

int rq_known_get(rq_known *out, rq_hash **leaves, const char *repository)
{
	rq_buf path = RQ_BUF_INIT, text = RQ_BUF_INIT, lpath = RQ_BUF_INIT;
	struct find f = { repository, NULL, out, false };
	int err;

	memset(out, 0, sizeof(*out));
	if (leaves)
		*leaves = NULL;
	if (!valid_repository(repository)) {
		err = rq_error_set(RQ_EINVALID, "'%s' is not a repository id", repository);
		goto done;
	}
	if ((err = rq_known_path(&path)) || (err = read_text(&text, path.ptr)))
		goto done;
	f.path = path.ptr;
	if ((err = each_line(&text, find_line, &f)))
		goto done;
	if (!f.found) {
		err = rq_error_set(RQ_ENOTFOUND, "%s: repository %s was never verified", path.ptr, repository);
		goto done;
	}
	if (leaves) {
		leaves_path(&lpath, repository);
		err = read_leaves(leaves, lpath.ptr, out->size, out->root);
	}
done:
	rq_buf_release(&lpath);
	rq_buf_release(&text);
	rq_buf_release(&path);
	return err;
}

/* Serialise writers of the memory: a read-modify-write of the text file. */
static int lock_home(int *fd_out, const char *path)
{
	rq_buf lock = RQ_BUF_INIT;
	int fd, err = 0;

	rq_buf_printf(&lock, "%s.lock", path);
	fd = open(lock.ptr, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = rq_error_set(RQ_EIO, "%s: %s", lock.ptr, strerror(errno));
		goto done;
	}
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			err = rq_error_set(RQ_EIO, "%s: %s", lock.ptr, strerror(errno));
			close(fd);
			fd = -1;
			goto done;
		}
	}
done:
	*fd_out = fd;
	rq_buf_release(&lock);
	return err;
}

static void unlock_home(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the lock */
}

struct rewrite {
	const char *repository;
	rq_buf *out;        /* the new text */
	bool dropped;       /* a line of `repository` or a malformed one */
	bool strict;        /* malformed lines are errors rather than dropped */
	const char *path;
	rq_known *old;      /* the line of `repository`, if any */
	bool found;
};

static int keep_others(const rq_known *k, const char *line, size_t len, size_t lineno, void *ctx)
{
	struct rewrite *w = ctx;
	if (!k) {
		if (w->strict)
			return rq_error_set(RQ_EINVALID, "%s: line %zu is malformed (%s)", w->path, lineno, FIX);
		w->dropped = true;
		return 0;
	}
	if (strcmp(k->repository, w->repository) == 0) {
		w->dropped = true;
		if (w->old && !w->found)
			*w->old = *k;
		w->found = true;
		return 0;
	}
	rq_buf_put(w->out, line, len);
	rq_buf_putc(w->out, '\n');
	return 0;
}

/* Write `len` bytes at `offset` of `fd`. */
static int write_at(int fd, const void *data, size_t len, off_t offset, const char *path)
{
	const char *p = data;
	while (len) {
		ssize_t n = pwrite(fd, p, len, offset);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return rq_error_set(RQ_EIO, "%s: %s", path, strerror(errno));
		}
		p += n;
		len -= (size_t)n;
		offset += n;
	}
	return 0;
}

int rq_known_put(bool *updated, const char *repository, const char *genesis, const rq_hash *leaves,
		 uint64_t n)
{
	rq_buf home = RQ_BUF_INIT, path = RQ_BUF_INIT, lpath = RQ_BUF_INIT, text = RQ_BUF_INIT,
	       next = RQ_BUF_INIT;
	rq_known old, now;
	struct rewrite w = { repository, &next, false, true, NULL, &old, false };
	rq_merkle_levels t;
	int lock = -1, fd = -1, err;

	*updated = false;
	rq_merkle_levels_init(&t);
	memset(&old, 0, sizeof(old));
	if (!valid_repository(repository) || strlen(genesis) != 64 || !rq_is_hex(genesis, 64) || n == 0) {
		err = rq_error_set(RQ_EINVALID, "repository %s, genesis %s, %" PRIu64 " entries: nothing to remember",
				   repository, genesis, n);
		goto done;
	}
	if ((err = home_dir(&home)) || (err = rq_known_path(&path)))
		goto done;
	rq_buf_puts(&home, "/known");
	if ((err = rq_mkdir_p(home.ptr, 0700)) || (err = lock_home(&lock, path.ptr)) ||
	    (err = read_text(&text, path.ptr)))
		goto done;
	w.path = path.ptr;
	rq_buf_puts(&next, HEADER);
	if ((err = each_line(&text, keep_others, &w)))
		goto done;
	if (w.found && strcmp(old.genesis, genesis) != 0) {
		err = rq_error_set(RQ_EINTEGRITY, "%s: repository %s was first seen with genesis %s, not %s",
				   path.ptr, repository, old.genesis, genesis);
		goto done;
	}
	if (w.found && old.size >= n)
		goto done; /* nothing new */
	/* The leaves first: past the recorded size they are ignored, so the
	 * memory stays what it was until the text file names the new size. */
	uint64_t from = w.found ? old.size : 0;
	leaves_path(&lpath, repository);
	fd = open(lpath.ptr, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = rq_error_set(RQ_EIO, "%s: %s", lpath.ptr, strerror(errno));
		goto done;
	}
	if (n > (uint64_t)(INT64_MAX / RQ_HASH_LEN) || n > SIZE_MAX / RQ_HASH_LEN) {
		err = rq_error_set(RQ_EINVALID, "%s: too many leaves", lpath.ptr);
		goto done;
	}
	if (ftruncate(fd, (off_t)(from * RQ_HASH_LEN)) != 0) {
		err = rq_error_set(RQ_EIO, "%s: %s", lpath.ptr, strerror(errno));
		goto done;
	}
	if ((err = write_at(fd, leaves[from], (size_t)(n - from) * RQ_HASH_LEN, (off_t)(from * RQ_HASH_LEN),
			    lpath.ptr)))
		goto done;
	if (fsync(fd) != 0) {
		err = rq_error_set(RQ_EIO, "%s: %s", lpath.ptr, strerror(errno));
		goto done;
	}
	memset(&now, 0, sizeof(now));
	snprintf(now.repository, sizeof(now.repository), "%s", repository);
	snprintf(now.genesis, sizeof(now.genesis), "%s", genesis);
	now.size = n;
	for (uint64_t i = 0; i < n; i++)
		rq_merkle_levels_append(&t, leaves[i]);
	if ((err = rq_merkle_root(now.root, n, rq_merkle_levels_node, &t)))
		goto done;
	format_line(&next, &now);
	if ((err = rq_file_write_atomic(path.ptr, next.ptr, next.len, 0644)))
		goto done;
	*updated = true;
done:
	if (fd >= 0)
		close(fd);
	unlock_home(lock);
	rq_merkle_levels_release(&t);
	rq_buf_release(&next);
	rq_buf_release(&text);
	rq_buf_release(&lpath);
	rq_buf_release(&path);
	rq_buf_release(&home);
	return err;
}

int rq_known_forget(bool *dropped, const char *repository)
{
	rq_buf path = RQ_BUF_INIT, lpath = RQ_BUF_INIT, text = RQ_BUF_INIT, next = RQ_BUF_INIT;
	struct rewrite w = { repository, &next, false, false, NULL, NULL, false };
	int lock = -1, err;

	*dropped = false;
	if (!valid_repository(repository)) {
		err = rq_error_set(RQ_EINVALID, "'%s' is not a repository id", repository);
		goto done;
	}
	if ((err = rq_known_path(&path)))
		goto done;
	leaves_path(&lpath, repository);
	if (!rq_path_exists(path.ptr) && !rq_path_exists(lpath.ptr))
		goto done;
	if ((err = lock_home(&lock, path.ptr)))
		goto done;
	if (rq_path_exists(path.ptr)) {
		/* an unreadable file cannot be repaired line by line: start afresh */
		if (rq_file_read(&text, path.ptr) != 0 || memchr(text.ptr, '\0', text.len)) {
			rq_buf_reset(&text);
			w.dropped = true;
		}
		rq_error_clear();
		w.path = path.ptr;
		rq_buf_puts(&next, HEADER);
		if ((err = each_line(&text, keep_others, &w)))
			goto done;
		if (w.dropped && (err = rq_file_write_atomic(path.ptr, next.ptr, next.len, 0644)))
			goto done;
	}
	if (unlink(lpath.ptr) == 0) {
		w.dropped = true;
	} else if (errno != ENOENT) {
		err = rq_error_set(RQ_EIO, "%s: %s", lpath.ptr, strerror(errno));
		goto done;
	}
	*dropped = w.dropped;
done:
	unlock_home(lock);
	rq_buf_release(&next);
	rq_buf_release(&text);
	rq_buf_release(&lpath);
	rq_buf_release(&path);
	return err;
}

uint64_t rq_known_first_difference(const rq_hash *leaves, uint64_t n, const rq_hash *known, uint64_t known_n)
{
	uint64_t m = n < known_n ? n : known_n;
	for (uint64_t i = 0; i < m; i++)
		if (memcmp(leaves[i], known[i], RQ_HASH_LEN) != 0)
			return i;
	return UINT64_MAX;
}

int rq_known_read_leaves(rq_hash **out, const rq_known *k)
{
	rq_buf path = RQ_BUF_INIT, data = RQ_BUF_INIT;
	size_t need;
	int err;

	*out = NULL;
	if (!valid_repository(k->repository) || k->size > SIZE_MAX / RQ_HASH_LEN) {
		err = rq_error_set(RQ_EINVALID, "repository %s: %" PRIu64 " leaves cannot be read", k->repository,
				   k->size);
		goto done;
	}
	need = (size_t)k->size * RQ_HASH_LEN;
	if ((err = leaves_path(&path, k->repository)))
		goto done;
	if (need && (err = rq_file_read(&data, path.ptr))) {
		err = rq_error_set(RQ_EINVALID, "%s (%s)", rq_error_last(), FIX);
		goto done;
	}
	if (data.len < need) {
		err = rq_error_set(RQ_EINVALID, "%s: holds %zu leaf hashes, fewer than the %" PRIu64
				   " recorded in known_ledgers (%s)", path.ptr, data.len / RQ_HASH_LEN, k->size, FIX);
		goto done;
	}
	*out = rq_xmalloc(need ? need : 1);
	memcpy(*out, data.ptr, need);
done:
	rq_buf_release(&data);
	rq_buf_release(&path);
	return err;
}

int rq_known_compare(uint64_t *at, const rq_known *k, const rq_hash *kleaves, const char *genesis,
		     const rq_hash *leaves, uint64_t n)
{
	uint64_t diff = UINT64_MAX;
	int err = 0;

	if (strcmp(k->genesis, genesis) != 0) {
		diff = 0;
		err = rq_error_set(RQ_EINTEGRITY, "genesis entry changed: this repository id was first seen with genesis %s "
				   "(re-created ledger?)", k->genesis);
		goto done;
	}
	diff = rq_known_first_difference(leaves, n, kleaves, k->size);
	if (n < k->size)
		err = rq_error_set(RQ_EINTEGRITY, "ledger rolled back from %" PRIu64 " to %" PRIu64
				   " entries since it was last verified", k->size, n);
	else if (diff != UINT64_MAX)
		err = rq_error_set(RQ_EINTEGRITY, "history rewritten at entry %" PRIu64
				   ": it is not the entry verified there before", diff);
done:
	if (at)
		*at = diff;
	return err;
}

int rq_known_remember(bool *updated, rq_buf *warning, const rq_verify_report *r)
{
	rq_hash *kv = NULL;
	rq_known k;
	bool put = false;
	int err = 0;

	/* Only what verify itself read from git and found clean: never leaf
	 * hashes read again from index.db, which may have changed since. */
	if (r->nproblems || !r->leaves || !r->nleaves || !r->genesis[0]) {
		err = rq_error_set(RQ_EINVALID, "nothing verified to remember");
		goto done;
	}
	if (!rq_known_id_valid(r->repository)) {
		if (warning)
			rq_buf_printf(warning, "repository id '%s' cannot be remembered", r->repository);
		goto done;
	}
	err = rq_known_get(&k, &kv, r->repository);
	if (err == 0)
		err = rq_known_compare(NULL, &k, kv, r->genesis, (const rq_hash *)r->leaves, r->nleaves);
	else if (err == RQ_ENOTFOUND)
		err = 0;
	if (err)
		goto done;
	rq_error_clear();
	if (rq_known_put(&put, r->repository, r->genesis, (const rq_hash *)r->leaves, r->nleaves) != 0) {
		if (warning)
			rq_buf_printf(warning, "could not remember this ledger's state: %s", rq_error_last());
		rq_error_clear();
		put = false;
	}
done:
	if (updated)
		*updated = put;
	free(kv);
	return err;
}
