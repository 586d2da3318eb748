/* Known ledgers: verify's memory of the ledgers it has verified, under
 * $RESQUE_HOME (known_ledgers and known/ID.leaves), so a rolled-back,
 * rewritten or re-created ledger is caught without a checkpoint at hand. */
#include "common.h"
#include "ledger_int.h"
#include "checkpoint.h"
#include "resque/keystore.h"
#include "known.h"
#include "lines.h"
#include "tlog.h"

#include <dirent.h>
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

static int side_path(rq_buf *out, const char *repository, const char *ext);

static int leaves_path(rq_buf *out, const char *repository)
{
	int err = home_dir(out);
	if (!err)
		rq_buf_printf(out, "/known/%s.leaves", repository);
	return err;
}

/* Split a line (no newline) into `buf` as fields separated by single
 * spaces: their number, or 0 when empty, too long or with more than `max`. */
static size_t split_fields(char *buf, size_t size, char **f, size_t max, const char *line, size_t len)
{
	size_t nf = 0;
	if (len == 0 || len >= size)
		return 0;
	memcpy(buf, line, len);
	buf[len] = '\0';
	f[nf++] = buf;
	for (char *p = buf; *p; p++) {
		if (*p == ' ') {
			*p = '\0';
			if (nf == max)
				return 0;
			f[nf++] = p + 1;
		}
	}
	return nf;
}

/* One line "REPOSITORY GENESIS SIZE ROOT" (no newline); false if malformed. */
static bool parse_line(rq_known *out, const char *line, size_t len)
{
	char buf[256], *f[4];
	size_t nf = split_fields(buf, sizeof(buf), f, 4, line, len);

	if (nf != 4 || !valid_repository(f[0]) || strlen(f[1]) != 2 * RQ_HASH_LEN || !rq_is_hex(f[1], 2 * RQ_HASH_LEN))
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
	rq_lines it;
	const char *line;
	size_t len;

	rq_lines_init(&it, text->ptr, text->len);
	while (rq_lines_next(&it, &line, &len)) {
		if (len == 0 || line[0] == '#')
			continue;
		rq_known k;
		memset(&k, 0, sizeof(k));
		bool ok = parse_line(&k, line, len);
		int err = fn(ok ? &k : NULL, line, len, it.lineno, ctx);
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

/* The first `size` leaf hashes of the leaves file at `path` (`size` is
 * known to fit in memory); with `root`, they must hash to it. */
static int read_leaves(rq_hash **out, const char *path, uint64_t size, const uint8_t *root)
{
	rq_buf data = RQ_BUF_INIT;
	rq_merkle_levels t;
	rq_hash got;
	size_t need = (size_t)size * RQ_HASH_LEN;
	int err = 0;

	*out = NULL;
	rq_merkle_levels_init(&t);
	if (need && (err = rq_file_read(&data, path))) {
		err = rq_error_set(RQ_EINVALID, "%s (%s)", rq_error_last(), FIX);
		goto done;
	}
	if (data.len < need) {
		err = rq_error_set(RQ_EINVALID, "%s: holds %zu leaf hashes, fewer than the %" PRIu64
				   " recorded in known_ledgers (%s)", path, data.len / RQ_HASH_LEN, size, FIX);
		goto done;
	}
	/* leaves past the recorded size are from an interrupted update */
	for (uint64_t i = 0; root && i < size; i++)
		rq_merkle_levels_append(&t, (const uint8_t *)data.ptr + i * RQ_HASH_LEN);
	if (root && (err = rq_merkle_root(got, size, rq_merkle_levels_node, &t)))
		goto done;
	if (root && sodium_memcmp(got, root, RQ_HASH_LEN) != 0) {
		err = rq_error_set(RQ_EINVALID, "%s: the leaf hashes do not hash to the root recorded in known_ledgers (%s)",
				   path, FIX);
		goto done;
	}
	*out = rq_xmallocarray(size ? (size_t)size : 1, sizeof(**out));
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
		if (out->size > SIZE_MAX / RQ_HASH_LEN)
			err = rq_error_set(RQ_EINVALID, "%s: %" PRIu64 " leaves cannot be held in memory", lpath.ptr,
					   out->size);
		else
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
		err = rq_error_os("%s", lock.ptr);
		goto done;
	}
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			err = rq_error_os("%s", lock.ptr);
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
			return rq_error_os("%s", path);
		}
		p += n;
		len -= (size_t)n;
		offset += n;
	}
	return 0;
}

static int put(bool *updated, const char *repository, const char *genesis, const rq_hash *leaves, uint64_t n,
	       bool locked);
static int extend_records(const char *path, const void *tail, size_t size, uint64_t base, uint64_t from, uint64_t n);

int rq_known_put(bool *updated, const char *repository, const char *genesis, const rq_hash *leaves,
		 uint64_t n)
{
	return put(updated, repository, genesis, leaves, n, false);
}

/* Make $RESQUE_HOME/known (its path in `dir`) and take the memory's lock
 * when `take_lock`; `path` gets known_ledgers' path. */
static int enter_home(rq_buf *dir, rq_buf *path, int *lock, bool take_lock)
{
	int err;
	if ((err = home_dir(dir)) || (err = rq_known_path(path)))
		return err;
	rq_buf_puts(dir, "/known");
	if ((err = rq_mkdir_p(dir->ptr, 0700)) || !take_lock)
		return err;
	return lock_home(lock, path->ptr);
}

/* The leaf hashes [at, n) of `repository` to its leaves file, from `tail`
 * holding leaves [from, n) (from <= at). */
static int write_leaves(const char *repository, const rq_hash *tail, uint64_t from, uint64_t at, uint64_t n)
{
	rq_buf lpath = RQ_BUF_INIT;
	int err;

	leaves_path(&lpath, repository);
	if (n > (uint64_t)(INT64_MAX / RQ_HASH_LEN) || n > SIZE_MAX / RQ_HASH_LEN)
		err = rq_error_set(RQ_EINVALID, "%s: too many leaves", lpath.ptr);
	else
		err = extend_records(lpath.ptr, tail, RQ_HASH_LEN, from, at, n);
	rq_buf_release(&lpath);
	return err;
}

/* The known_ledgers line of `repository` holding `n` leaves. */
static int known_of(rq_known *out, const char *repository, const char *genesis, const rq_hash *leaves,
		    uint64_t n)
{
	rq_merkle_levels t;
	int err;

	memset(out, 0, sizeof(*out));
	snprintf(out->repository, sizeof(out->repository), "%s", repository);
	snprintf(out->genesis, sizeof(out->genesis), "%s", genesis);
	out->size = n;
	rq_merkle_levels_init(&t);
	for (uint64_t i = 0; i < n; i++)
		rq_merkle_levels_append(&t, leaves[i]);
	err = rq_merkle_root(out->root, n, rq_merkle_levels_node, &t);
	rq_merkle_levels_release(&t);
	return err;
}

/* REPOSITORY.frontier: the roots of the perfect subtrees that make up the
 * Merkle tree of the first `size` leaves (RFC 9162 splits a tree of `size`
 * leaves into one perfect subtree per set bit of `size`), so that
 * remembering k more leaves costs O(k log n) hashes instead of a pass over
 * every leaf. It is a cache, trusted only when its root is the one
 * known_ledgers records for its size; otherwise the root is computed from
 * the leaves file. "RQFRONT1", the size (8 bytes, little-endian), then 64
 * hashes, that of level L at L (only the set bits of size count). */
#define FRONTIER_MAGIC "RQFRONT1"
struct frontier {
	uint64_t size;
	rq_hash h[64];
};

static void frontier_append(struct frontier *f, const rq_hash leaf)
{
	rq_hash carry;
	unsigned level = 0;
	memcpy(carry, leaf, RQ_HASH_LEN);
	while (level < 63 && (f->size >> level & 1)) {
		rq_merkle_node_hash(carry, f->h[level], carry);
		level++;
	}
	memcpy(f->h[level], carry, RQ_HASH_LEN);
	f->size++;
}

static int frontier_node(rq_hash out, unsigned level, uint64_t index, void *ctx)
{
	const struct frontier *f = ctx;
	if (level >= 64 || !(f->size >> level & 1) || index != (f->size >> level) - 1)
		return rq_error_set(RQ_EINVALID, "the Merkle frontier lacks node %u/%" PRIu64, level, index);
	memcpy(out, f->h[level], RQ_HASH_LEN);
	return 0;
}

static int frontier_root(rq_hash out, const struct frontier *f)
{
	return rq_merkle_root(out, f->size, frontier_node, (void *)(uintptr_t)f);
}

/* The frontier of `repository` if it is that of the tree of `size` leaves
 * whose root is `root`. */
static bool frontier_read(struct frontier *f, const char *repository, uint64_t size, const uint8_t *root)
{
	rq_buf path = RQ_BUF_INIT, data = RQ_BUF_INIT;
	rq_hash got;
	bool ok = false;

	memset(f, 0, sizeof(*f));
	if (side_path(&path, repository, "frontier") == 0 && rq_path_exists(path.ptr) &&
	    rq_file_read(&data, path.ptr) == 0 && data.len == 8 + 8 + sizeof(f->h) &&
	    memcmp(data.ptr, FRONTIER_MAGIC, 8) == 0) {
		for (int i = 0; i < 8; i++)
			f->size |= (uint64_t)(uint8_t)data.ptr[8 + i] << (8 * i);
		memcpy(f->h, data.ptr + 16, sizeof(f->h));
		ok = f->size == size && frontier_root(got, f) == 0 && sodium_memcmp(got, root, RQ_HASH_LEN) == 0;
	}
	rq_error_clear();
	rq_buf_release(&data);
	rq_buf_release(&path);
	return ok;
}

/* Best effort, without fsync: a frontier lost in a crash is recomputed. */
static void frontier_write(const char *repository, const struct frontier *f)
{
	rq_buf path = RQ_BUF_INIT, tmp = RQ_BUF_INIT, data = RQ_BUF_INIT;
	rq_buf_put(&data, FRONTIER_MAGIC, 8);
	for (int i = 0; i < 8; i++)
		rq_buf_putc(&data, (char)(f->size >> (8 * i) & 0xff));
	rq_buf_put(&data, (const char *)f->h, sizeof(f->h));
	if (side_path(&path, repository, "frontier") == 0) {
		rq_buf_printf(&tmp, "%s.tmp.%ld", path.ptr, (long)getpid());
		int fd = open(tmp.ptr, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		bool ok = fd >= 0 && write_at(fd, data.ptr, data.len, 0, tmp.ptr) == 0;
		if (fd >= 0)
			close(fd);
		if (!ok || rename(tmp.ptr, path.ptr) != 0)
			unlink(tmp.ptr);
	}
	rq_error_clear();
	rq_buf_release(&data);
	rq_buf_release(&tmp);
	rq_buf_release(&path);
}

static void frontier_drop(const char *repository)
{
	rq_buf path = RQ_BUF_INIT;
	if (side_path(&path, repository, "frontier") == 0)
		unlink(path.ptr);
	rq_buf_release(&path);
}

/* The known_ledgers line of `repository` holding `n` leaves, of which the
 * caller has [from, n) in `tail` (tail[0] is leaf `from`); the memory's
 * `old` line (old->size == 0: none) holds at least the first `from`. The
 * root comes from the frontier of old->size when it is there and agrees
 * with old->root, else from every leaf (those before `from` read from the
 * leaves file, which the caller has just extended). */
static int known_of_tail(rq_known *out, const char *repository, const char *genesis, const rq_hash *tail,
			 uint64_t from, uint64_t n, const rq_known *old)
{
	struct frontier f;
	int err;

	if (old->size >= from && old->size <= n && old->size &&
	    frontier_read(&f, repository, old->size, old->root)) {
		for (uint64_t i = old->size; i < n; i++)
			frontier_append(&f, tail[i - from]);
	} else {
		rq_hash *head = NULL;
		memset(&f, 0, sizeof(f));
		if (from && (head = rq_xmallocarray((size_t)from, sizeof(*head))) &&
		    (err = rq_known_read_leaf_range(head, repository, 0, from))) {
			free(head);
			return err;
		}
		for (uint64_t i = 0; i < from; i++)
			frontier_append(&f, head[i]);
		free(head);
		for (uint64_t i = from; i < n; i++)
			frontier_append(&f, tail[i - from]);
	}
	memset(out, 0, sizeof(*out));
	snprintf(out->repository, sizeof(out->repository), "%s", repository);
	snprintf(out->genesis, sizeof(out->genesis), "%s", genesis);
	out->size = n;
	if ((err = frontier_root(out->root, &f)))
		return err;
	frontier_write(repository, &f);
	return 0;
}

/* `locked`: the caller holds the memory's lock already. The leaves are
 * [from, n) in `tail`; RQ_ENOTFOUND when the memory holds fewer than `from`
 * (the caller then gives them all). */
static int put_tail(bool *updated, const char *repository, const char *genesis, const rq_hash *tail,
		    uint64_t from, uint64_t n, bool locked)
{
	rq_buf home = RQ_BUF_INIT, path = RQ_BUF_INIT, text = RQ_BUF_INIT, next = RQ_BUF_INIT;
	rq_known old, now;
	struct rewrite w = { repository, &next, false, true, NULL, &old, false };
	int lock = -1, err;

	*updated = false;
	memset(&old, 0, sizeof(old));
	if (!valid_repository(repository) || strlen(genesis) != 2 * RQ_HASH_LEN || !rq_is_hex(genesis, 2 * RQ_HASH_LEN) || n == 0) {
		err = rq_error_set(RQ_EINVALID, "repository %s, genesis %s, %" PRIu64 " entries: nothing to remember",
				   repository, genesis, n);
		goto done;
	}
	if ((err = enter_home(&home, &path, &lock, !locked)) || (err = read_text(&text, path.ptr)))
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
	if (!w.found)
		old.size = 0;
	if (old.size < from) {
		err = rq_error_set(RQ_ENOTFOUND, "%s: holds %" PRIu64 " entries of %s, not the %" PRIu64 " expected",
				   path.ptr, old.size, repository, from);
		goto done;
	}
	/* The leaves first: past the recorded size they are ignored, so the
	 * memory stays what it was until the text file names the new size. */
	if ((err = write_leaves(repository, tail, from, old.size, n)) ||
	    (err = known_of_tail(&now, repository, genesis, tail, from, n, &old)))
		goto done;
	format_line(&next, &now);
	if ((err = rq_file_write_atomic(path.ptr, next.ptr, next.len, 0644)))
		goto done;
	*updated = true;
done:
	unlock_home(lock);
	rq_buf_release(&next);
	rq_buf_release(&text);
	rq_buf_release(&path);
	rq_buf_release(&home);
	return err;
}

static int put(bool *updated, const char *repository, const char *genesis, const rq_hash *leaves, uint64_t n,
	       bool locked)
{
	return put_tail(updated, repository, genesis, leaves, 0, n, locked);
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
	for (int i = 0; i < 6; i++) {
		static const char *const ext[] = { "leaves", "commits", "state", "names", "ids", "frontier" };
		rq_buf_reset(&lpath);
		side_path(&lpath, repository, ext[i]);
		if (unlink(lpath.ptr) == 0) {
			w.dropped = true;
		} else if (errno != ENOENT) {
			err = rq_error_os("%s", lpath.ptr);
			goto done;
		}
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
	rq_buf path = RQ_BUF_INIT;
	int err;

	*out = NULL;
	if (!valid_repository(k->repository) || k->size > SIZE_MAX / RQ_HASH_LEN)
		err = rq_error_set(RQ_EINVALID, "repository %s: %" PRIu64 " leaves cannot be read", k->repository,
				   k->size);
	else if (!(err = leaves_path(&path, k->repository)))
		err = read_leaves(out, path.ptr, k->size, NULL);
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
	if ((r->commits && r->ids ? rq_known_put_all(&put, r->repository, r->genesis, (const rq_hash *)r->leaves,
					   (const uint8_t (*)[20])r->commits, r->nleaves, r->signer_changes,
					   r->nsigner_changes, r->named, r->nnamed, (const char (*)[RQ_ID_HEX_SIZE])r->ids, 0, NULL)
			: rq_known_put(&put, r->repository, r->genesis, (const rq_hash *)r->leaves, r->nleaves)) != 0) {
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

/* ---- the guard's memory: commits, signer changes and places ---- */

#define STATE_HEADER "# resque verified state v1\n"

static int side_path(rq_buf *out, const char *repository, const char *ext)
{
	int err = home_dir(out);
	if (!err)
		rq_buf_printf(out, "/known/%s.%s", repository, ext);
	return err;
}

/* A place is a repository directory, named by the BLAKE2b-128 of its real
 * path (a path may hold any byte; the hash is one word). */
static void place_name(char out[33], const char *dir)
{
	char *real = realpath(dir, NULL);
	uint8_t h[16];
	const char *p = real ? real : dir;
	crypto_generichash(h, sizeof(h), (const unsigned char *)p, strlen(p), NULL, 0);
	rq_hex_encode(out, h, sizeof(h));
	free(real);
}

static bool parse_u64(uint64_t *out, const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > 19 || strspn(s, "0123456789") != len || (len > 1 && s[0] == '0'))
		return false;
	*out = strtoull(s, NULL, 10);
	return *out <= INT64_MAX;
}

/* Parse the state file's text into `out`; the lines of places other than
 * `want` (NULL: every place) are copied to `others` (may be NULL). */
static int parse_state(rq_known_state *out, rq_buf *others, const rq_buf *text, const char *path,
		       const char *want)
{
	rq_lines it;
	const char *line;
	size_t len, signers_alloc = out->nsigners;

	rq_lines_init(&it, text->ptr, text->len);
	while (rq_lines_next(&it, &line, &len)) {
		char buf[256], *f[5];
		size_t nf;

		if (len == 0 || line[0] == '#')
			continue;
		nf = split_fields(buf, sizeof(buf), f, 5, line, len);
		if (nf == 2 && strcmp(f[0], "verified") == 0) {
			if (!parse_u64(&out->verified, f[1]))
				goto bad;
		} else if ((nf == 5 || nf == 4) && strcmp(f[0], "signer") == 0) {
			rq_signer_change c;
			memset(&c, 0, sizeof(c));
			c.revoke = strcmp(f[2], "revoke") == 0;
			if (!parse_u64(&c.seq, f[1]) || strlen(f[3]) != RQ_KEY_ID_HEX || !rq_is_hex(f[3], RQ_KEY_ID_HEX) ||
			    (c.revoke ? nf != 4 : (nf != 5 || strcmp(f[2], "add") != 0 || rq_hex_decode(c.pk, 32, f[4]))))
				goto bad;
			memcpy(c.id, f[3], RQ_KEY_ID_HEX + 1);
			RQ_ALLOC_GROW(out->signers, out->nsigners + 1, signers_alloc);
			out->signers[out->nsigners++] = c;
		} else if (nf == 3 && strcmp(f[0], "place") == 0 && strlen(f[1]) == 32 && rq_is_hex(f[1], 32)) {
			uint64_t size;
			if (!parse_u64(&size, f[2]))
				goto bad;
			if (want && strcmp(f[1], want) == 0) {
				out->place_size = size;
			} else if (others) {
				rq_buf_put(others, line, len);
				rq_buf_putc(others, '\n');
			}
		} else {
			goto bad;
		}
		continue;
bad:
		return rq_error_set(RQ_EINVALID, "%s: line %zu is malformed (%s)", path, it.lineno, FIX);
	}
	return 0;
}

void rq_known_state_release(rq_known_state *s)
{
	free(s->signers);
	memset(s, 0, sizeof(*s));
}

static int state_read(rq_known_state *out, rq_buf *others, const char *repository, const char *dir)
{
	rq_buf path = RQ_BUF_INIT, text = RQ_BUF_INIT;
	char place[33] = "";
	int err;

	memset(out, 0, sizeof(*out));
	if (!valid_repository(repository)) {
		err = rq_error_set(RQ_EINVALID, "'%s' is not a repository id", repository);
		goto done;
	}
	if (dir)
		place_name(place, dir);
	if ((err = side_path(&path, repository, "state")) || (err = read_text(&text, path.ptr)))
		goto done;
	err = parse_state(out, others, &text, path.ptr, dir ? place : NULL);
done:
	if (err)
		rq_known_state_release(out);
	rq_buf_release(&text);
	rq_buf_release(&path);
	return err;
}

int rq_known_state_get(rq_known_state *out, const char *repository, const char *dir)
{
	return state_read(out, NULL, repository, dir);
}

static void format_state(rq_buf *out, uint64_t verified, const rq_signer_change *v, size_t n,
			 const rq_buf *others, const char *place, uint64_t place_size)
{
	rq_buf_puts(out, STATE_HEADER);
	rq_buf_printf(out, "verified %" PRIu64 "\n", verified);
	for (size_t i = 0; i < n; i++) {
		if (v[i].revoke) {
			rq_buf_printf(out, "signer %" PRIu64 " revoke %s\n", v[i].seq, v[i].id);
		} else {
			char hex[RQ_PUBKEY_HEX_SIZE];
			rq_hex_encode(hex, v[i].pk, RQ_PUBKEY_LEN);
			rq_buf_printf(out, "signer %" PRIu64 " add %s %s\n", v[i].seq, v[i].id, hex);
		}
	}
	rq_buf_put(out, others->ptr, others->len);
	if (place)
		rq_buf_printf(out, "place %s %" PRIu64 "\n", place, place_size);
}

/* Temporary files of atomic writes (NAME.tmp.PID) left in DIR by killed
 * processes; called under the memory's lock. */
static void clean_leftovers(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		const char *t = strstr(de->d_name, ".tmp.");
		struct stat st;
		rq_buf path = RQ_BUF_INIT;
		if (!t)
			continue;
		rq_buf_printf(&path, "%s/%s", dir, de->d_name);
		if (lstat(path.ptr, &st) == 0 && S_ISREG(st.st_mode) && rq_pid_file_stale(t + 5, st.st_mtime))
			unlink(path.ptr);
		rq_buf_release(&path);
	}
	if (d)
		closedir(d);
}

/* Extend a fixed-record file to `n` records from record `from`, taken
 * from `tail`, which holds records [base, n) (base <= from). */
static int extend_records(const char *path, const void *tail, size_t size, uint64_t base, uint64_t from, uint64_t n)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600), err = 0;
	if (fd < 0)
		return rq_error_os("%s", path);
	if (ftruncate(fd, (off_t)(from * size)) != 0)
		err = rq_error_os("%s", path);
	if (!err)
		err = write_at(fd, (const char *)tail + (from - base) * size, (size_t)(n - from) * size,
			       (off_t)(from * size), path);
	if (!err && fdatasync(fd) != 0)
		err = rq_error_os("%s", path);
	close(fd);
	return err;
}

/* In `buf` (bytes [base, base + n) of a names file; whole: base == 0),
 * the end of the last complete line of an entry before `from`: lines are
 * in sequence order, so they are looked at from the end. False when every
 * complete line of `buf` is of `from` or later and the file has more
 * before `buf`. A last line without its newline (an interrupted append)
 * is dropped with those of `from` on. */
static bool names_scan_back(off_t *keep, const char *buf, size_t n, off_t base, uint64_t from)
{
	size_t first = 0, i = n;
	if (base > 0) { /* the block's first line may start before it */
		while (first < n && buf[first] != '\n')
			first++;
		first++;
	}
	while (i > 0 && buf[i - 1] != '\n')
		i--;
	while (i > first) {
		size_t ls = i - 1;
		while (ls > first && buf[ls - 1] != '\n')
			ls--;
		if (strtoull(buf + ls, NULL, 10) < from) {
			*keep = base + (off_t)i;
			return true;
		}
		i = ls;
	}
	*keep = 0;
	return base == 0;
}

/* REPOSITORY.names: "SEQ TYPE HEX(NAME)" lines in sequence order. Keep the
 * lines of entries before `from` (an interrupted update may have left
 * later ones), then append those of `named` from `from` on: the last block
 * of the file is read, not all of it, and only the new lines written. */
static int write_names(const char *path, const rq_named *named, size_t nnamed, uint64_t from)
{
	rq_buf next = RQ_BUF_INIT, all = RQ_BUF_INIT;
	char block[65536];
	off_t keep = 0;
	struct stat st;
	int err = 0, fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return rq_error_os("%s", path);
	if (fstat(fd, &st) != 0) {
		err = rq_error_os("%s", path);
		goto done;
	}
	if (from && st.st_size > 0) {
		off_t base = st.st_size > (off_t)sizeof(block) ? st.st_size - (off_t)sizeof(block) : 0;
		ssize_t got = pread(fd, block, (size_t)(st.st_size - base), base);
		if (got != st.st_size - base) {
			err = got < 0 ? rq_error_os("%s", path) : rq_error_set(RQ_EIO, "%s: short read", path);
			goto done;
		}
		if (!names_scan_back(&keep, block, (size_t)got, base, from)) {
			if ((err = rq_file_read(&all, path)))
				goto done;
			names_scan_back(&keep, all.ptr, all.len, 0, from);
		}
	}
	for (size_t i = 0; i < nnamed; i++) {
		if (named[i].seq < from)
			continue;
		size_t nlen = strlen(named[i].name);
		char *hex = rq_xmallocarray(nlen + 1, 2);
		rq_hex_encode(hex, (const uint8_t *)named[i].name, nlen);
		rq_buf_printf(&next, "%" PRIu64 " %s %s\n", named[i].seq, named[i].type, hex);
		free(hex);
	}
	if (keep == st.st_size && next.len == 0)
		goto done; /* nothing to change */
	if (ftruncate(fd, keep) != 0 || (err = write_at(fd, next.ptr, next.len, keep, path)) != 0 ||
	    fdatasync(fd) != 0)
		err = err ? err : rq_error_os("%s", path);
done:
	close(fd);
	rq_buf_release(&all);
	rq_buf_release(&next);
	return err;
}

int rq_known_read_names(rq_named **out, size_t *n, const char *repository, uint64_t below)
{
	rq_buf path = RQ_BUF_INIT, text = RQ_BUF_INIT;
	rq_lines it;
	const char *line;
	size_t len, alloc = 0;
	int err;

	*out = NULL;
	*n = 0;
	if ((err = side_path(&path, repository, "names")))
		goto done;
	if (!rq_path_exists(path.ptr))
		goto done;
	if ((err = rq_file_read(&text, path.ptr))) {
		err = rq_error_set(RQ_EINVALID, "%s (%s)", rq_error_last(), FIX);
		goto done;
	}
	rq_lines_init(&it, text.ptr, text.len);
	while (rq_lines_next(&it, &line, &len)) {
		char buf[1200], *f[3];
		uint64_t seq;
		if (!it.newline)
			break; /* an interrupted append: of entries not yet remembered */
		size_t nf = split_fields(buf, sizeof(buf), f, 3, line, len);
		size_t hl = nf == 3 ? strlen(f[2]) : 0;
		if (nf != 3 || !parse_u64(&seq, f[0]) || strlen(f[1]) >= sizeof((*out)->type) || hl % 2 ||
		    !rq_is_hex(f[2], hl)) {
			err = rq_error_set(RQ_EINVALID, "%s: line %zu is malformed (%s)", path.ptr, it.lineno, FIX);
			goto done;
		}
		if (seq >= below)
			break;
		RQ_ALLOC_GROW(*out, *n + 1, alloc);
		rq_named *nm = &(*out)[(*n)++];
		nm->seq = seq;
		snprintf(nm->type, sizeof(nm->type), "%s", f[1]);
		nm->name = rq_xcalloc(hl / 2 + 1, 1);
		rq_hex_decode((uint8_t *)nm->name, hl / 2, f[2]);
	}
done:
	if (err) {
		rq_known_names_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	rq_buf_release(&text);
	rq_buf_release(&path);
	return err;
}

void rq_known_names_free(rq_named *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* Write REPOSITORY.state: what was verified, its signer changes, the
 * other places' lines and this place's (none when `place` is NULL). */
static int write_state(const char *repository, uint64_t verified, const rq_signer_change *v, size_t n,
		       const rq_buf *others, const char *place, uint64_t place_size)
{
	rq_buf spath = RQ_BUF_INIT, text = RQ_BUF_INIT;
	int err;

	side_path(&spath, repository, "state");
	format_state(&text, verified, v, n, others, place, place_size);
	err = rq_file_write_atomic(spath.ptr, text.ptr, text.len, 0600);
	rq_buf_release(&text);
	rq_buf_release(&spath);
	return err;
}

/* The fixed records of entries [from, n) -- commits, entry ids -- and the
 * names file. */
static int write_side_files(const char *repository, const uint8_t (*commits)[20], const char (*ids)[RQ_ID_HEX_SIZE],
			    const rq_named *named, size_t nnamed, uint64_t base, uint64_t from, uint64_t n)
{
	rq_buf path = RQ_BUF_INIT;
	uint8_t (*raw)[RQ_HASH_LEN] = rq_xcalloc((size_t)(n - from) + 1, sizeof(*raw));
	int err;

	side_path(&path, repository, "commits");
	if ((err = extend_records(path.ptr, commits, 20, base, from, n)))
		goto done;
	for (uint64_t i = from; i < n; i++)
		if (rq_hex_decode(raw[i - from], RQ_HASH_LEN, ids[i - base]) != 0)
			err = rq_error_set(RQ_EINVALID, "entry %" PRIu64 ": '%s' is not an entry id", i, ids[i - base]);
	rq_buf_reset(&path);
	side_path(&path, repository, "ids");
	if (err || (err = extend_records(path.ptr, raw, RQ_HASH_LEN, from, from, n)))
		goto done;
	rq_buf_reset(&path);
	side_path(&path, repository, "names");
	err = write_names(path.ptr, named, nnamed, from);
done:
	free(raw);
	rq_buf_release(&path);
	return err;
}

int rq_known_put_all(bool *updated, const char *repository, const char *genesis, const rq_hash *leaves,
		     const uint8_t (*commits)[20], uint64_t n, const rq_signer_change *signers,
		     size_t nsigners, const rq_named *named, size_t nnamed, const char (*ids)[RQ_ID_HEX_SIZE], uint64_t keep,
		     const char *dir)
{
	rq_buf home = RQ_BUF_INIT, path = RQ_BUF_INIT, others = RQ_BUF_INIT;
	rq_known_state old;
	rq_known k;
	char place[33];
	const char *here = NULL;
	int lock = -1, err, gerr;

	*updated = false;
	memset(&old, 0, sizeof(old));
	if (!valid_repository(repository) || n == 0 || n > (uint64_t)(INT64_MAX / RQ_HASH_LEN)) {
		err = rq_error_set(RQ_EINVALID, "repository %s, %" PRIu64 " entries: nothing to remember", repository, n);
		goto done;
	}
	if ((err = enter_home(&home, &path, &lock, true)) || (err = state_read(&old, &others, repository, dir)))
		goto done;
	clean_leftovers(home.ptr);
	gerr = rq_known_get(&k, NULL, repository);
	if (gerr && gerr != RQ_ENOTFOUND) {
		err = gerr;
		goto done;
	}
	rq_error_clear();
	if (dir) {
		place_name(place, dir);
		here = place;
	}
	if (gerr == 0 && k.size >= n && old.verified >= n) {
		/* Nothing new to the memory (a copy behind the ledger it
		 * remembers): only this place's size, which never shrinks. */
		err = write_state(repository, old.verified, old.signers, old.nsigners, &others, here,
				  old.place_size > n ? old.place_size : n);
		goto done;
	}
	/* The records already remembered are the caller's (it checked the
	 * ledger extends the memory): write the rest, then the state, then
	 * (rq_known_put) the leaves and the line that makes them count. */
	uint64_t from = gerr == 0 && keep <= old.verified && keep <= k.size && keep < n ? keep : 0;
	if (from < keep) {
		/* the caller gave only the records from `keep` on */
		err = rq_error_set(RQ_ENOTFOUND, "the memory of %s holds fewer than %" PRIu64 " entries", repository, keep);
		goto done;
	}
	if ((err = write_side_files(repository, commits, ids, named, nnamed, keep, from, n)) ||
	    (err = write_state(repository, n, signers, nsigners, &others, here, n)))
		goto done;
	err = put_tail(updated, repository, genesis, leaves, keep, n, true);
done:
	unlock_home(lock);
	rq_known_state_release(&old);
	rq_buf_release(&others);
	rq_buf_release(&path);
	rq_buf_release(&home);
	return err;
}

int rq_known_set_place(const char *repository, const char *dir, uint64_t size)
{
	rq_buf path = RQ_BUF_INIT, others = RQ_BUF_INIT;
	rq_known_state old;
	char place[33];
	int lock = -1, err;

	memset(&old, 0, sizeof(old));
	if ((err = rq_known_path(&path)) || (err = lock_home(&lock, path.ptr)) ||
	    (err = state_read(&old, &others, repository, dir)))
		goto done;
	if (old.place_size >= size)
		goto done; /* another command saw as many here: never shrinks */
	place_name(place, dir);
	err = write_state(repository, old.verified, old.signers, old.nsigners, &others, place, size);
done:
	unlock_home(lock);
	rq_known_state_release(&old);
	rq_buf_release(&others);
	rq_buf_release(&path);
	return err;
}

static int read_records(void *out, const char *repository, const char *ext, size_t size, uint64_t from,
			uint64_t n)
{
	rq_buf path = RQ_BUF_INIT;
	int fd = -1, err = 0;

	if (!valid_repository(repository)) {
		err = rq_error_set(RQ_EINVALID, "'%s' is not a repository id", repository);
		goto done;
	}
	if ((err = side_path(&path, repository, ext)))
		goto done;
	fd = open(path.ptr, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rq_error_os("%s", path.ptr);
		err = rq_error_set(RQ_EINVALID, "%s (%s)", rq_error_last(), FIX);
		goto done;
	}
	size_t len = (size_t)n * size, got = 0;
	while (got < len) {
		ssize_t r = pread(fd, (char *)out + got, len - got, (off_t)(from * size + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = rq_error_set(RQ_EINVALID, "%s: holds fewer than %" PRIu64 " records (%s)", path.ptr,
					   from + n, FIX);
			goto done;
		}
		got += (size_t)r;
	}
done:
	if (fd >= 0)
		close(fd);
	rq_buf_release(&path);
	return err;
}

int rq_known_read_commits(uint8_t (*out)[20], const char *repository, uint64_t from, uint64_t n)
{
	return read_records(out, repository, "commits", 20, from, n);
}

int rq_known_read_ids(uint8_t (*out)[RQ_HASH_LEN], const char *repository, uint64_t from, uint64_t n)
{
	return read_records(out, repository, "ids", 32, from, n);
}

int rq_known_read_leaf_range(rq_hash *out, const char *repository, uint64_t from, uint64_t n)
{
	return read_records(out, repository, "leaves", RQ_HASH_LEN, from, n);
}

/* Forget what was verified of `repository` from entry `size` on, keeping
 * the first `size` entries and every place (store/sync.c, after a rebase
 * replaced this user's own entries past `size`). The state goes first, so
 * that a crash between the two writes leaves a state that claims less than
 * known_ledgers (the guard then verifies afresh what it lacks). */
int rq_known_rewind(const char *repository, uint64_t size)
{
	rq_buf home = RQ_BUF_INIT, path = RQ_BUF_INIT, text = RQ_BUF_INIT, next = RQ_BUF_INIT,
	       others = RQ_BUF_INIT;
	rq_known old, now;
	rq_known_state st;
	rq_hash *leaves = NULL;
	struct rewrite w = { repository, &next, false, true, NULL, &old, false };
	int lock = -1, err;

	memset(&old, 0, sizeof(old));
	memset(&st, 0, sizeof(st));
	if (!valid_repository(repository) || size == 0) {
		err = rq_error_set(RQ_EINVALID, "repository %s, %" PRIu64 " entries: nothing to keep", repository, size);
		goto done;
	}
	if ((err = enter_home(&home, &path, &lock, true)) || (err = read_text(&text, path.ptr)))
		goto done;
	w.path = path.ptr;
	rq_buf_puts(&next, HEADER);
	if ((err = each_line(&text, keep_others, &w)))
		goto done;
	if (!w.found || old.size <= size)
		goto done; /* nothing remembered past `size` */
	if ((err = state_read(&st, &others, repository, NULL)))
		goto done;
	size_t keep = 0;
	for (size_t i = 0; i < st.nsigners; i++)
		if (st.signers[i].seq < size)
			st.signers[keep++] = st.signers[i];
	/* Every place that held more now holds `size` as far as the memory
	 * can vouch: a remote or a copy that kept the replaced entries is
	 * then diverged, not rewritten. */
	rq_buf capped = RQ_BUF_INIT;
	rq_lines it;
	const char *line;
	size_t len;
	rq_lines_init(&it, others.ptr, others.len);
	while (rq_lines_next(&it, &line, &len)) {
		char buf[256], *f[3];
		uint64_t ps;
		if (split_fields(buf, sizeof(buf), f, 3, line, len) == 3 && parse_u64(&ps, f[2]) && ps > size) {
			rq_buf_printf(&capped, "place %s %" PRIu64 "\n", f[1], size);
		} else {
			rq_buf_put(&capped, line, len);
			rq_buf_putc(&capped, '\n');
		}
	}
	err = write_state(repository, st.verified < size ? st.verified : size, st.signers, keep, &capped, NULL, 0);
	rq_buf_release(&capped);
	if (err)
		goto done;
	old.size = size;
	frontier_drop(repository);
	if ((err = rq_known_read_leaves(&leaves, &old)) || (err = known_of(&now, repository, old.genesis, leaves, size)))
		goto done;
	format_line(&next, &now);
	err = rq_file_write_atomic(path.ptr, next.ptr, next.len, 0644);
done:
	unlock_home(lock);
	free(leaves);
	rq_known_state_release(&st);
	rq_buf_release(&others);
	rq_buf_release(&next);
	rq_buf_release(&text);
	rq_buf_release(&path);
	rq_buf_release(&home);
	return err;
}
