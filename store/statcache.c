/* The fingerprint stat cache in index.db (table `statcache`): prepared
 * statements only, writes batched in one transaction. */
#include "common.h"
#include "resque/statcache.h"

#include <sqlite3.h>

struct rq_statcache {
	sqlite3 *db;          /* borrowed from the ledger */
	sqlite3_stmt *get;
	sqlite3_stmt *put;
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
	int err = 0;

	*out = NULL;
	c->db = rq_ledger_db(l);
	if (!c->db) {
		err = rq_error_set(RQ_EIO, "index.db is not open");
		goto done;
	}
	if ((err = exec(c->db, "CREATE TABLE IF NOT EXISTS statcache("
				"path BLOB PRIMARY KEY, dev INTEGER NOT NULL, ino INTEGER NOT NULL,"
				" size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
				" ctime_ns INTEGER NOT NULL, written_ns INTEGER NOT NULL,"
				" hash BLOB NOT NULL) WITHOUT ROWID")))
		goto done;
	if (sqlite3_prepare_v2(c->db,
			       "SELECT dev, ino, size, mtime_ns, ctime_ns, written_ns, hash"
			       " FROM statcache WHERE path = ?1", -1, &c->get, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c->db,
			       "INSERT OR REPLACE INTO statcache(path, dev, ino, size, mtime_ns,"
			       " ctime_ns, written_ns, hash) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
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

void rq_statcache_free(rq_statcache *c)
{
	if (!c)
		return;
	sqlite3_finalize(c->get);
	sqlite3_finalize(c->put);
	free(c);
}

const rq_fp_cache *rq_statcache_iface(rq_statcache *c)
{
	return &c->iface;
}

int rq_statcache_lookup(rq_statcache *c, const char *path, rq_fp_cache_entry *out)
{
	int rc, found = 0;

	sqlite3_reset(c->get);
	if (sqlite3_bind_blob(c->get, 1, path, (int)strlen(path), SQLITE_STATIC) != SQLITE_OK)
		return db_error(c->db, "reading the stat cache");
	rc = sqlite3_step(c->get);
	if (rc == SQLITE_ROW) {
		const void *h = sqlite3_column_blob(c->get, 6);
		if (h && sqlite3_column_bytes(c->get, 6) == RQ_HASH_LEN) {
			out->path = path;
			out->st.dev = (uint64_t)sqlite3_column_int64(c->get, 0);
			out->st.ino = (uint64_t)sqlite3_column_int64(c->get, 1);
			out->st.size = (uint64_t)sqlite3_column_int64(c->get, 2);
			out->st.mtime_ns = sqlite3_column_int64(c->get, 3);
			out->st.ctime_ns = sqlite3_column_int64(c->get, 4);
			out->written_ns = sqlite3_column_int64(c->get, 5);
			memcpy(out->hash, h, RQ_HASH_LEN);
			found = 1;
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
	if ((err = exec(c->db, "BEGIN IMMEDIATE")))
		return err;
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *st = c->put;
		sqlite3_reset(st);
		if (sqlite3_bind_blob(st, 1, v[i].path, (int)strlen(v[i].path), SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 2, (sqlite3_int64)v[i].st.dev) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 3, (sqlite3_int64)v[i].st.ino) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 4, (sqlite3_int64)v[i].st.size) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 5, v[i].st.mtime_ns) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 6, v[i].st.ctime_ns) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 7, v[i].written_ns) != SQLITE_OK ||
		    sqlite3_bind_blob(st, 8, v[i].hash, RQ_HASH_LEN, SQLITE_STATIC) != SQLITE_OK ||
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
