/* index.db: the SQLite index of the ledger (derived data: rebuilt from the
 * ledger whenever it is missing, stale or unreadable). WAL mode, prepared
 * statements only, schema version in PRAGMA user_version. */
#include "common.h"
#include "ledger_int.h"

#include <unistd.h>

#define SCHEMA_VERSION 1

static const char *const schema[] = {
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
	"CREATE TABLE IF NOT EXISTS entries("
	" seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, commit_oid TEXT NOT NULL,"
	" type TEXT NOT NULL, time TEXT NOT NULL, signer TEXT NOT NULL, name TEXT,"
	" summary TEXT NOT NULL, entry BLOB NOT NULL)",
	"CREATE INDEX IF NOT EXISTS entries_type ON entries(type, seq)",
	"CREATE INDEX IF NOT EXISTS entries_name ON entries(name, type)",
};

static int db_error(rq_ledger *l, const char *what)
{
	return rq_error_set(RQ_EIO, "%s/index.db: %s: %s", l->dir, what,
			    l->db ? sqlite3_errmsg(l->db) : "cannot open");
}

static int exec(rq_ledger *l, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(l->db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_OK)
		return db_error(l, sql);
	return 0;
}

static int open_db(rq_ledger *l, bool *fresh)
{
	rq_buf path = RQ_BUF_INIT;
	sqlite3_stmt *st = NULL;
	int err = 0, version = 0;

	rq_buf_printf(&path, "%s/index.db", l->dir);
	*fresh = !rq_path_exists(path.ptr);
	if (sqlite3_open_v2(path.ptr, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		err = db_error(l, "open");
		goto done;
	}
	sqlite3_busy_timeout(l->db, 10000);
	if (sqlite3_prepare_v2(l->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		err = db_error(l, "reading the schema version");
		goto done;
	}
	version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (version > SCHEMA_VERSION) {
		err = rq_error_set(RQ_EUNSUPPORTED, "%s: written by a newer resque (schema %d)", path.ptr, version);
		goto done;
	}
	if ((err = exec(l, "PRAGMA journal_mode=WAL")))
		goto done;
	for (size_t i = 0; i < RQ_ARRAY_SIZE(schema); i++)
		if ((err = exec(l, schema[i])))
			goto done;
	if (version < SCHEMA_VERSION) {
		/* Schema 1 is the first; later versions migrate here. */
		err = exec(l, "PRAGMA user_version=1");
		*fresh = true;
	}
done:
	sqlite3_finalize(st);
	rq_buf_release(&path);
	return err;
}

int rq_index_open(rq_ledger *l)
{
	bool fresh;
	int err = open_db(l, &fresh);
	if (err && err != RQ_EUNSUPPORTED) {
		/* An unreadable index is derived data: start it again. */
		rq_buf path = RQ_BUF_INIT;
		sqlite3_close(l->db);
		l->db = NULL;
		rq_buf_printf(&path, "%s/index.db", l->dir);
		unlink(path.ptr);
		rq_buf_puts(&path, "-wal");
		unlink(path.ptr);
		rq_buf_truncate(&path, path.len - 4);
		rq_buf_puts(&path, "-shm");
		unlink(path.ptr);
		rq_buf_release(&path);
		err = open_db(l, &fresh);
	}
	return err;
}

int rq_index_tip(rq_buf *out, rq_ledger *l)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(l->db, "SELECT value FROM meta WHERE key='tip'", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_error(l, "reading the tip");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rq_buf_puts(out, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(l, "reading the tip");
	return 0;
}

int rq_index_set_tip(rq_ledger *l, const char *commit_hex)
{
	sqlite3_stmt *st = NULL;
	int err = 0;
	if (sqlite3_prepare_v2(l->db, "INSERT OR REPLACE INTO meta(key, value) VALUES('tip', ?1)", -1, &st,
			       NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, commit_hex, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE)
		err = db_error(l, "writing the tip");
	sqlite3_finalize(st);
	return err;
}

int rq_index_insert(rq_ledger *l, const rq_entry *e, const char *commit_hex)
{
	sqlite3_stmt *st = NULL;
	rq_buf summary = RQ_BUF_INIT;
	int err = 0;
	const char *name = rq_entry_name(e);

	rq_entry_summary(&summary, e);
	if (sqlite3_prepare_v2(l->db,
			       "INSERT OR REPLACE INTO entries(seq, id, commit_oid, type, time, signer, name, summary, entry)"
			       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
			       -1, &st, NULL) != SQLITE_OK) {
		err = db_error(l, "preparing an insert");
		goto done;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)e->seq);
	sqlite3_bind_text(st, 2, e->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, commit_hex, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, e->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, e->time, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, e->signer, -1, SQLITE_STATIC);
	if (name)
		sqlite3_bind_text(st, 7, name, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 7);
	sqlite3_bind_text(st, 8, summary.ptr, (int)summary.len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 9, e->bytes.ptr, (int)e->bytes.len, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = db_error(l, "inserting an entry");
done:
	sqlite3_finalize(st);
	rq_buf_release(&summary);
	return err;
}

int rq_index_begin(rq_ledger *l)
{
	return exec(l, "BEGIN IMMEDIATE");
}

int rq_index_commit(rq_ledger *l)
{
	return exec(l, "COMMIT");
}

void rq_index_rollback(rq_ledger *l)
{
	sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
}

int rq_index_clear(rq_ledger *l)
{
	int err = exec(l, "DELETE FROM entries");
	if (!err)
		err = exec(l, "DELETE FROM meta WHERE key='tip'");
	return err;
}
