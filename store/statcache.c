/* The fingerprint stat cache in index.db (table `statcache2`): prepared
 * statements only, writes batched in one transaction. Each row carries a
 * MAC keyed by a secret outside the repository ($RESQUE_HOME/statcache.key),
 * so whoever can write index.db cannot make a stale hash pass for a file. */
#include "common.h"
#include "ledger_int.h"
#include "resque/keystore.h"
#include "statcache.h"

#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_LEN 32
#define MAC_LEN 32
/* Domain separation: a MAC of this table is never a MAC of anything else. */
#define MAC_TAG "resque statcache v1\n"

struct rq_statcache {
	sqlite3 *db;          /* borrowed from the ledger */
	sqlite3_stmt *get;
	sqlite3_stmt *put;
	bool reading;         /* in the read transaction begun by a lookup */
	uint8_t *key;         /* KEY_LEN bytes in sodium_malloc memory */
	rq_fp_cache iface;
};

static int db_error(sqlite3 *db, const char *what)
{
	return rq_error_set(RQ_EIO, "index.db: %s: %s", what, sqlite3_errmsg(db));
}

static int exec(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK)
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			;
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_OK ? 0 : db_error(db, sql);
}

/* 1 when table `name` exists, 0 when not, negative on error. */
static int has_table(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
				    -1, &st, NULL);
	if (rc == SQLITE_OK && sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) == SQLITE_OK)
		rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : db_error(db, "reading the schema");
}

/* $RESQUE_HOME: the key store's directory without its "/keys", as
 * store/known.c resolves it. */
static int home_dir(rq_buf *out)
{
	int err = rq_keystore_dir(out);
	if (!err && out->len >= 5 && strcmp(out->ptr + out->len - 5, "/keys") == 0)
		rq_buf_truncate(out, out->len - 5);
	return err;
}

/* Read the key at `path` into `key`: RQ_ENOTFOUND when there is none,
 * RQ_EINVALID when it is not a 0600 regular file of this user holding
 * exactly KEY_LEN bytes (then nobody else may have read or chosen it). */
static int read_key(uint8_t *key, const char *path)
{
	struct stat st;
	ssize_t n;
	int err = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		err = rq_error_os("%s", path);
		goto done;
	}
	if (fstat(fd, &st) < 0) {
		err = rq_error_os("%s", path);
		goto done;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
		err = rq_error_set(RQ_EINVALID, "%s: not a file of yours that only you can read", path);
		goto done;
	}
	if (st.st_size != KEY_LEN) {
		err = rq_error_set(RQ_EINVALID, "%s: not a %d-byte key", path, KEY_LEN);
		goto done;
	}
	do
		n = read(fd, key, KEY_LEN);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		err = rq_error_os("%s", path);
	else if (n != KEY_LEN)
		err = rq_error_set(RQ_EIO, "%s: short read", path);
done:
	if (fd >= 0)
		close(fd);
	return err;
}

/* Create the key at `path` without ever replacing one: written to a
 * temporary file, then hard-linked into place, so of two processes racing
 * here one key wins and both read it. */
static int create_key(const char *path)
{
	uint8_t key[KEY_LEN];
	rq_buf tmp = RQ_BUF_INIT;
	int err = 0, fd;

	rq_buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
	unlink(tmp.ptr); /* left by a killed process of the same pid */
	fd = open(tmp.ptr, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		err = rq_error_os("%s", tmp.ptr);
		goto done;
	}
	randombytes_buf(key, sizeof(key));
	if (write(fd, key, sizeof(key)) != (ssize_t)sizeof(key) || fsync(fd) < 0) {
		err = rq_error_os("%s", tmp.ptr);
		close(fd);
		goto done;
	}
	if (close(fd) < 0) {
		err = rq_error_os("%s", tmp.ptr);
		goto done;
	}
	if (link(tmp.ptr, path) < 0 && errno != EEXIST)
		err = rq_error_os("%s", path);
done:
	sodium_memzero(key, sizeof(key));
	if (tmp.len)
		unlink(tmp.ptr);
	rq_buf_release(&tmp);
	return err;
}

/* This user's stat-cache key, created on first use. A key that exists but
 * is unsafe is not used, and said so; a home that cannot hold one (none,
 * read-only) only means that there is no cache. */
static int load_key(uint8_t *key)
{
	rq_buf path = RQ_BUF_INIT;
	int err;

	if ((err = home_dir(&path)))
		goto done;
	rq_buf_puts(&path, "/statcache.key");
	err = read_key(key, path.ptr);
	if (err == RQ_ENOTFOUND) {
		rq_buf dir = RQ_BUF_INIT;
		err = home_dir(&dir);
		if (!err && !(err = rq_mkdir_p(dir.ptr, 0700)) && !(err = create_key(path.ptr)))
			err = read_key(key, path.ptr);
		rq_buf_release(&dir);
	}
	if (err == RQ_EINVALID)
		rq_ledger__notice("%s; the stat cache is not used (remove the file to make a new key)",
				  rq_error_last());
done:
	rq_buf_release(&path);
	return err;
}

static void put_u64(uint8_t **p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		(*p)[i] = (uint8_t)(v >> (8 * i));
	*p += 8;
}

/* mac = BLAKE2b-256 keyed with the key, over MAC_TAG, then little-endian
 * u64 path length, the path, u64 dev, ino, size, i64 mtime_ns, ctime_ns,
 * written_ns, then the 32-byte hash. */
static void row_mac(uint8_t mac[MAC_LEN], const uint8_t *key, const char *path, size_t path_len,
		    const rq_fp_cache_entry *e)
{
	crypto_generichash_state s;
	uint8_t fixed[sizeof(MAC_TAG) - 1 + 8], nums[6 * 8], *p;

	memcpy(fixed, MAC_TAG, sizeof(MAC_TAG) - 1);
	p = fixed + sizeof(MAC_TAG) - 1;
	put_u64(&p, path_len);
	p = nums;
	put_u64(&p, e->st.dev);
	put_u64(&p, e->st.ino);
	put_u64(&p, e->st.size);
	put_u64(&p, (uint64_t)e->st.mtime_ns);
	put_u64(&p, (uint64_t)e->st.ctime_ns);
	put_u64(&p, (uint64_t)e->written_ns);
	crypto_generichash_init(&s, key, KEY_LEN, MAC_LEN);
	crypto_generichash_update(&s, fixed, sizeof(fixed));
	crypto_generichash_update(&s, (const uint8_t *)path, path_len);
	crypto_generichash_update(&s, nums, sizeof(nums));
	crypto_generichash_update(&s, e->hash, RQ_HASH_LEN);
	crypto_generichash_final(&s, mac, MAC_LEN);
	sodium_memzero(&s, sizeof(s));
}

static int iface_lookup(void *ctx, const char *path, rq_fp_cache_entry *out)
{
	return rq_statcache_lookup(ctx, path, out);
}

static int iface_store(void *ctx, const rq_fp_cache_entry *v, size_t n)
{
	return rq_statcache_store(ctx, v, n);
}

int rq_statcache_open(rq_statcache **out, rq_ledger *l)
{
	rq_statcache *c = rq_xcalloc(1, sizeof(*c));
	int err = 0, have;

	*out = NULL;
	if (sodium_init() < 0) {
		err = rq_error_set(RQ_ERROR, "libsodium could not be initialised");
		goto done;
	}
	if (!(c->key = sodium_malloc(KEY_LEN))) {
		err = rq_error_set(RQ_ENOMEM, "out of secure memory");
		goto done;
	}
	if ((err = load_key(c->key)))
		goto done;
	c->db = rq_ledger_db(l);
	if (!c->db) {
		err = rq_error_set(RQ_EIO, "index.db is not open");
		goto done;
	}
	/* `statcache` (no MAC) was the table before version 2: its rows are
	 * worthless now, and a CREATE IF NOT EXISTS would keep its schema. */
	if ((have = has_table(c->db, "statcache")) < 0 ||
	    (have && (err = exec(c->db, "DROP TABLE statcache")))) {
		err = have < 0 ? have : err;
		goto done;
	}
	if ((have = has_table(c->db, "statcache2")) < 0 ||
	    (!have && (err = exec(c->db, "CREATE TABLE IF NOT EXISTS statcache2("
				  "path BLOB PRIMARY KEY, dev INTEGER NOT NULL, ino INTEGER NOT NULL,"
				  " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
				  " ctime_ns INTEGER NOT NULL, written_ns INTEGER NOT NULL,"
				  " hash BLOB NOT NULL, mac BLOB NOT NULL) WITHOUT ROWID")))) {
		err = have < 0 ? have : err;
		goto done;
	}
	if (sqlite3_prepare_v2(c->db,
			       "SELECT dev, ino, size, mtime_ns, ctime_ns, written_ns, hash, mac"
			       " FROM statcache2 WHERE path = ?1", -1, &c->get, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c->db,
			       "INSERT OR REPLACE INTO statcache2(path, dev, ino, size, mtime_ns,"
			       " ctime_ns, written_ns, hash, mac) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
			       -1, &c->put, NULL) != SQLITE_OK) {
		err = db_error(c->db, "preparing the stat cache");
		goto done;
	}
	c->iface.ctx = c;
	c->iface.lookup = iface_lookup;
	c->iface.store = iface_store;
	*out = c;
	c = NULL;
done:
	rq_statcache_free(c);
	return err;
}

/* Lookups share one read transaction, begun by the first of them and
 * ended before a store or by rq_statcache_free: a re-scan of N unchanged
 * files then takes SQLite's locks once, not N times (each autocommit
 * SELECT locks and unlocks the database and its WAL). A transaction the
 * ledger already has open is left alone. */
static void read_begin(rq_statcache *c)
{
	if (c->reading || !sqlite3_get_autocommit(c->db))
		return;
	/* sqlite3_exec, not exec(): neither may touch the last error */
	c->reading = sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
}

static void read_end(rq_statcache *c)
{
	if (!c->reading)
		return;
	sqlite3_reset(c->get);
	if (sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	c->reading = false;
}

void rq_statcache_free(rq_statcache *c)
{
	if (!c)
		return;
	if (c->db)
		read_end(c);
	sqlite3_finalize(c->get);
	sqlite3_finalize(c->put);
	sodium_free(c->key); /* zeroes it; accepts NULL */
	free(c);
}

const rq_fp_cache *rq_statcache_iface(rq_statcache *c)
{
	return &c->iface;
}

int rq_statcache_lookup(rq_statcache *c, const char *path, rq_fp_cache_entry *out)
{
	int rc, found = 0;
	size_t len = strlen(path);

	read_begin(c);
	sqlite3_reset(c->get);
	if (sqlite3_bind_blob(c->get, 1, path, (int)len, SQLITE_STATIC) != SQLITE_OK)
		return db_error(c->db, "reading the stat cache");
	rc = sqlite3_step(c->get);
	if (rc == SQLITE_ROW) {
		const void *h = sqlite3_column_blob(c->get, 6);
		const void *m = sqlite3_column_blob(c->get, 7);
		rq_fp_cache_entry e;
		uint8_t want[MAC_LEN];
		if (h && sqlite3_column_bytes(c->get, 6) == RQ_HASH_LEN &&
		    m && sqlite3_column_bytes(c->get, 7) == MAC_LEN) {
			e.path = path;
			e.st.dev = (uint64_t)sqlite3_column_int64(c->get, 0);
			e.st.ino = (uint64_t)sqlite3_column_int64(c->get, 1);
			e.st.size = (uint64_t)sqlite3_column_int64(c->get, 2);
			e.st.mtime_ns = sqlite3_column_int64(c->get, 3);
			e.st.ctime_ns = sqlite3_column_int64(c->get, 4);
			e.written_ns = sqlite3_column_int64(c->get, 5);
			memcpy(e.hash, h, RQ_HASH_LEN);
			/* A row that does not verify (edited, or another user's)
			 * is a miss: the file is hashed and the row rewritten. */
			row_mac(want, c->key, path, len, &e);
			if (sodium_memcmp(want, m, MAC_LEN) == 0) {
				*out = e;
				found = 1;
			}
		}
	} else if (rc != SQLITE_DONE) {
		found = db_error(c->db, "reading the stat cache");
	}
	sqlite3_reset(c->get);
	sqlite3_clear_bindings(c->get);
	return found;
}

int rq_statcache_store(rq_statcache *c, const rq_fp_cache_entry *v, size_t n)
{
	int err = 0;

	if (n == 0)
		return 0;
	read_end(c);
	if ((err = exec(c->db, "BEGIN IMMEDIATE")))
		return err;
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *st = c->put;
		size_t len = strlen(v[i].path);
		uint8_t mac[MAC_LEN];
		row_mac(mac, c->key, v[i].path, len, &v[i]);
		sqlite3_reset(st);
		if (sqlite3_bind_blob(st, 1, v[i].path, (int)len, SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 2, (sqlite3_int64)v[i].st.dev) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 3, (sqlite3_int64)v[i].st.ino) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 4, (sqlite3_int64)v[i].st.size) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 5, v[i].st.mtime_ns) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 6, v[i].st.ctime_ns) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 7, v[i].written_ns) != SQLITE_OK ||
		    sqlite3_bind_blob(st, 8, v[i].hash, RQ_HASH_LEN, SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_blob(st, 9, mac, MAC_LEN, SQLITE_TRANSIENT) != SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_DONE) {
			err = db_error(c->db, "writing the stat cache");
			break;
		}
	}
	sqlite3_reset(c->put);
	sqlite3_clear_bindings(c->put);
	if (err)
		exec(c->db, "ROLLBACK");
	else
		err = exec(c->db, "COMMIT");
	return err;
}
