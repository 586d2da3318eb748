/* Unit tests of store/statcache.c: entries round-trip through index.db,
 * batches replace older entries, the cache serves rq_fingerprint_path, and
 * rows whose MAC does not verify (edited, or another user's key) are
 * misses. */
#include "unit.h"
#include "key_int.h"
#include "ledger_int.h"
#include "statcache.h"

#include <sodium.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh $RESQUE_HOME (where the cache's key lives) named `name`. */
static void use_home(const char *name)
{
	rq_buf h = RQ_BUF_INIT;
	rq_buf_printf(&h, "%s/%s", unit_tmpdir(), name);
	setenv("RESQUE_HOME", h.ptr, 1);
	rq_buf_release(&h);
}

static rq_ledger *new_ledger(rq_key **k)
{
	rq_buf dir = RQ_BUF_INIT;
	rq_ledger *l = NULL;
	use_home("home");
	if (sodium_init() < 0 || rq_key_generate(k) != 0)
		return NULL;
	rq_buf_printf(&dir, "%s/.resque", unit_tmpdir());
	if (rq_ledger_init(&l, dir.ptr, *k) != 0)
		unit_fail(__FILE__, __LINE__, "rq_ledger_init: %s", rq_error_last());
	rq_buf_release(&dir);
	return l;
}

TEST(statcache_roundtrip)
{
	rq_key *k = NULL;
	rq_ledger *l = new_ledger(&k);
	rq_statcache *c = NULL;
	if (!l)
		return;
	CHECK_OK(rq_statcache_open(&c, l));
	rq_fp_cache_entry v[2], got;
	memset(v, 0, sizeof(v));
	v[0].path = "/data/a";
	v[0].st = (rq_file_stat){ 1, 2, 3, -5, 7 };
	v[0].written_ns = 123456789012345678ll;
	memset(v[0].hash, 0xa5, RQ_HASH_LEN);
	v[1] = v[0];
	v[1].path = "/data/\xff-raw";
	v[1].st.ino = UINT64_MAX; /* stored as a signed integer, read back the same */
	CHECK_OK(rq_statcache_store(c, v, 2));
	memset(&got, 0, sizeof(got));
	CHECK_INT_EQ(rq_statcache_lookup(c, "/data/a", &got), 1);
	CHECK(got.st.dev == 1 && got.st.ino == 2 && got.st.size == 3);
	CHECK(got.st.mtime_ns == -5 && got.st.ctime_ns == 7);
	CHECK(got.written_ns == 123456789012345678ll);
	CHECK(got.hash[0] == 0xa5 && got.hash[31] == 0xa5);
	CHECK_INT_EQ(rq_statcache_lookup(c, "/data/\xff-raw", &got), 1);
	CHECK(got.st.ino == UINT64_MAX);
	CHECK_INT_EQ(rq_statcache_lookup(c, "/data/b", &got), 0);
	v[0].st.size = 99;
	CHECK_OK(rq_statcache_store(c, v, 1));
	CHECK_INT_EQ(rq_statcache_lookup(c, "/data/a", &got), 1);
	CHECK_INT_EQ(got.st.size, 99);
	CHECK_OK(rq_statcache_store(c, v, 0));
	rq_statcache_free(c);

	/* the table survives reopening; lookups share one read transaction,
	 * which rq_statcache_free ends without touching the last error */
	CHECK_OK(rq_statcache_open(&c, l));
	CHECK_INT_EQ(rq_statcache_lookup(c, "/data/a", &got), 1);
	CHECK_INT_EQ(rq_statcache_lookup(c, "/data/b", &got), 0);
	CHECK(!sqlite3_get_autocommit(rq_ledger_db(l)));
	rq_error_set(RQ_EINVALID, "kept");
	rq_statcache_free(c);
	CHECK(sqlite3_get_autocommit(rq_ledger_db(l)));
	CHECK_STR_EQ(rq_error_last(), "kept");
	rq_error_clear();
	rq_ledger_free(l);
	rq_key_free(k);
}

TEST(statcache_serves_fingerprints)
{
	rq_key *k = NULL;
	rq_ledger *l = new_ledger(&k);
	rq_statcache *c = NULL;
	if (!l)
		return;
	char *dir = rq_xstrdup(unit_tmpdir());
	char *f = unit_write_file(dir, "f", "payload", 7);
	/* an mtime long ago, so the entry is not racy */
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	CHECK(utimensat(AT_FDCWD, f, ts, 0) == 0);
	CHECK_OK(rq_statcache_open(&c, l));
	rq_fp_options o = { rq_statcache_iface(c), 0, false, NULL, NULL };
	rq_fp_result r;
	rq_fp_result_init(&r);
	CHECK_OK(rq_fingerprint_path(&r, dir, &o));
	CHECK_INT_EQ(r.hashed, 1);
	CHECK_OK(rq_fingerprint_path(&r, dir, &o));
	CHECK_INT_EQ(r.hashed, 0);
	CHECK_INT_EQ(r.cached, 1);
	char want[RQ_FINGERPRINT_SIZE];
	rq_fingerprint_bytes(want, "payload", 7);
	CHECK(r.manifest.n == 1);
	if (r.manifest.n == 1) {
		char got[RQ_FINGERPRINT_SIZE];
		rq_fingerprint_format(got, r.manifest.v[0].hash);
		CHECK_STR_EQ(got, want);
	}
	rq_fp_result_release(&r);
	rq_statcache_free(c);
	rq_ledger_free(l);
	rq_key_free(k);
	free(f);
	free(dir);
}

static void exec_sql(rq_ledger *l, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(rq_ledger_db(l), sql, NULL, NULL, &msg) != SQLITE_OK)
		unit_fail(__FILE__, __LINE__, "%s: %s", sql, msg ? msg : "?");
	sqlite3_free(msg);
}

static rq_fp_cache_entry sample(const char *path)
{
	rq_fp_cache_entry e;
	memset(&e, 0, sizeof(e));
	e.path = path;
	e.st = (rq_file_stat){ 11, 22, 33, 44, 55 };
	e.written_ns = 66;
	memset(e.hash, 0x5a, RQ_HASH_LEN);
	return e;
}

/* The attack: a row edited to a file's new stat while keeping the old
 * hash, or any other edit of any column, must not be served. */
TEST(statcache_edited_rows_are_misses)
{
	static const char *edits[] = {
		"UPDATE statcache2 SET dev = dev + 1",
		"UPDATE statcache2 SET ino = ino + 1",
		"UPDATE statcache2 SET size = size + 1",
		"UPDATE statcache2 SET mtime_ns = mtime_ns + 1",
		"UPDATE statcache2 SET ctime_ns = ctime_ns + 1",
		"UPDATE statcache2 SET written_ns = written_ns + 1",
		"UPDATE statcache2 SET hash = zeroblob(32)",
		"UPDATE statcache2 SET mac = zeroblob(32)",
		"UPDATE statcache2 SET mac = x'00'",
		"UPDATE statcache2 SET hash = x'00'",
		/* the path is authenticated too: a row moved to another file */
		"UPDATE statcache2 SET path = CAST('/data/b' AS BLOB) WHERE path = CAST('/data/a' AS BLOB)",
	};
	rq_key *k = NULL;
	rq_ledger *l = new_ledger(&k);
	rq_statcache *c = NULL;
	rq_fp_cache_entry e = sample("/data/a"), got;
	if (!l)
		return;
	CHECK_OK(rq_statcache_open(&c, l));
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		exec_sql(l, "DELETE FROM statcache2");
		CHECK_OK(rq_statcache_store(c, &e, 1));
		CHECK_INT_EQ(rq_statcache_lookup(c, "/data/a", &got), 1);
		exec_sql(l, edits[i]);
		if (rq_statcache_lookup(c, "/data/a", &got) != 0 ||
		    rq_statcache_lookup(c, "/data/b", &got) != 0)
			unit_fail(__FILE__, __LINE__, "served after: %s", edits[i]);
		/* a miss is rewritten, and then served again */
		CHECK_OK(rq_statcache_store(c, &e, 1));
		CHECK_INT_EQ(rq_statcache_lookup(c, "/data/a", &got), 1);
	}
	/* the untouched fields of one row do not vouch for another row */
	rq_fp_cache_entry two[2] = { sample("/data/a"), sample("/data/c") };
	two[1].hash[0] = 0;
	CHECK_OK(rq_statcache_store(c, two, 2));
	exec_sql(l, "UPDATE statcache2 SET hash = (SELECT hash FROM statcache2 WHERE path = CAST('/data/c' AS BLOB))"
		    " WHERE path = CAST('/data/a' AS BLOB)");
	CHECK_INT_EQ(rq_statcache_lookup(c, "/data/a", &got), 0);
	CHECK_INT_EQ(rq_statcache_lookup(c, "/data/c", &got), 1);
	rq_statcache_free(c);
	rq_ledger_free(l);
	rq_key_free(k);
}

/* Rows written under another user's key (another $RESQUE_HOME) are misses;
 * the key is made once, 0600, 32 bytes, and kept. */
TEST(statcache_foreign_key_rows_are_misses)
{
	rq_key *k = NULL;
	rq_ledger *l = new_ledger(&k);
	rq_statcache *c = NULL;
	rq_fp_cache_entry e = sample("/data/a"), got;
	rq_buf home_a = RQ_BUF_INIT, key = RQ_BUF_INIT, again = RQ_BUF_INIT;
	struct stat st;
	if (!l)
		return;
	rq_buf_puts(&home_a, getenv("RESQUE_HOME"));
	CHECK_OK(rq_statcache_open(&c, l));
	CHECK_OK(rq_statcache_store(c, &e, 1));
	rq_statcache_free(c);

	rq_buf_printf(&key, "%s/statcache.key", home_a.ptr);
	CHECK(stat(key.ptr, &st) == 0 && S_ISREG(st.st_mode));
	CHECK_INT_EQ(st.st_mode & 0777, 0600);
	CHECK_INT_EQ(st.st_size, 32);

	use_home("other");
	CHECK_OK(rq_statcache_open(&c, l));
	CHECK_INT_EQ(rq_statcache_lookup(c, "/data/a", &got), 0);
	CHECK_OK(rq_statcache_store(c, &e, 1)); /* rewritten with this key */
	CHECK_INT_EQ(rq_statcache_lookup(c, "/data/a", &got), 1);
	rq_statcache_free(c);

	setenv("RESQUE_HOME", home_a.ptr, 1);
	CHECK_OK(rq_statcache_open(&c, l));
	CHECK_INT_EQ(rq_statcache_lookup(c, "/data/a", &got), 0);
	CHECK_OK(rq_statcache_store(c, &e, 1));
	rq_statcache_free(c);
	/* the key is read again, not replaced */
	CHECK_OK(rq_file_read(&again, key.ptr));
	CHECK_OK(rq_statcache_open(&c, l));
	CHECK_INT_EQ(rq_statcache_lookup(c, "/data/a", &got), 1);
	rq_statcache_free(c);
	rq_buf_reset(&key);
	rq_buf_printf(&key, "%s/statcache.key", home_a.ptr);
	rq_buf_reset(&home_a);
	CHECK_OK(rq_file_read(&home_a, key.ptr));
	CHECK(home_a.len == 32 && again.len == 32 && memcmp(home_a.ptr, again.ptr, 32) == 0);
	rq_buf_release(&home_a);
	rq_buf_release(&key);
	rq_buf_release(&again);
	rq_ledger_free(l);
	rq_key_free(k);
}

/* Without a usable key there is no cache (the caller hashes every file). */
TEST(statcache_without_a_key_is_not_used)
{
	rq_key *k = NULL;
	rq_ledger *l = new_ledger(&k);
	rq_statcache *c = NULL;
	rq_buf p = RQ_BUF_INIT;
	const char *dir;
	if (!l)
		return;
	dir = unit_tmpdir();
	free(unit_write_file(dir, "file", "x", 1));
	/* a home that cannot be created */
	rq_buf_printf(&p, "%s/file/home", dir);
	setenv("RESQUE_HOME", p.ptr, 1);
	CHECK(rq_statcache_open(&c, l) < 0 && c == NULL);
	/* no home at all */
	unsetenv("RESQUE_HOME");
	char *home = getenv("HOME") ? rq_xstrdup(getenv("HOME")) : NULL;
	char *xdg = getenv("XDG_CONFIG_HOME") ? rq_xstrdup(getenv("XDG_CONFIG_HOME")) : NULL;
	unsetenv("HOME");
	unsetenv("XDG_CONFIG_HOME");
	CHECK(rq_statcache_open(&c, l) < 0 && c == NULL);
	if (home)
		setenv("HOME", home, 1);
	if (xdg)
		setenv("XDG_CONFIG_HOME", xdg, 1);
	free(home);
	free(xdg);
	/* a key others can read, of the wrong length, or a symbolic link */
	setenv("RESQUE_HOME", dir, 1);
	rq_buf_reset(&p);
	rq_buf_printf(&p, "%s/statcache.key", dir);
	CHECK_OK(rq_file_write_atomic(p.ptr, "0123456789abcdef0123456789abcdef", 32, 0644));
	CHECK(rq_statcache_open(&c, l) < 0 && c == NULL);
	CHECK(strstr(rq_error_last(), "statcache.key") != NULL);
	CHECK_OK(rq_file_write_atomic(p.ptr, "short", 5, 0600));
	CHECK(rq_statcache_open(&c, l) < 0 && c == NULL);
	CHECK(unlink(p.ptr) == 0 && symlink("file", p.ptr) == 0);
	CHECK(rq_statcache_open(&c, l) < 0 && c == NULL);
	/* a good key works */
	CHECK(unlink(p.ptr) == 0);
	CHECK_OK(rq_file_write_atomic(p.ptr, "0123456789abcdef0123456789abcdef", 32, 0600));
	CHECK_OK(rq_statcache_open(&c, l));
	rq_statcache_free(c);
	rq_buf_release(&p);
	rq_ledger_free(l);
	rq_key_free(k);
}

/* index.db from before the MAC: its table `statcache` is dropped, never an
 * error, and its rows are never served. */
TEST(statcache_old_table_is_replaced)
{
	rq_key *k = NULL;
	rq_ledger *l = new_ledger(&k);
	rq_statcache *c = NULL;
	rq_fp_cache_entry got;
	sqlite3_stmt *st = NULL;
	if (!l)
		return;
	exec_sql(l, "CREATE TABLE statcache(path BLOB PRIMARY KEY, dev INTEGER NOT NULL,"
		    " ino INTEGER NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
		    " ctime_ns INTEGER NOT NULL, written_ns INTEGER NOT NULL, hash BLOB NOT NULL) WITHOUT ROWID");
	exec_sql(l, "INSERT INTO statcache VALUES(CAST('/data/a' AS BLOB), 1, 2, 3, 4, 5, 6, zeroblob(32))");
	CHECK_OK(rq_statcache_open(&c, l));
	CHECK_INT_EQ(rq_statcache_lookup(c, "/data/a", &got), 0);
	CHECK(sqlite3_prepare_v2(rq_ledger_db(l), "SELECT count(*) FROM sqlite_master WHERE name = 'statcache'",
				 -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW);
	CHECK_INT_EQ(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	rq_statcache_free(c);
	rq_ledger_free(l);
	rq_key_free(k);
}
