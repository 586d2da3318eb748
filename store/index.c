/* index.db: the SQLite index of the ledger (derived data: rebuilt from the
 * ledger whenever it is missing, stale or unreadable). WAL mode, prepared
 * statements only, schema version in PRAGMA user_version. */
#include "common.h"
#include "ledger_int.h"
#include "merkle.h"

#include <unistd.h>

/* 1: entries, meta. 2: merkle (the transparency log's perfect subtrees). */
#define SCHEMA_VERSION 2
#define RQ_STR_(x) #x
#define RQ_STR(x) RQ_STR_(x)

static const char *const schema[] = {
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
	"CREATE TABLE IF NOT EXISTS entries("
	" seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, commit_oid TEXT NOT NULL,"
	" type TEXT NOT NULL, time TEXT NOT NULL, signer TEXT NOT NULL, name TEXT,"
	" summary TEXT NOT NULL, entry BLOB NOT NULL)",
	"CREATE INDEX IF NOT EXISTS entries_type ON entries(type, seq)",
	"CREATE INDEX IF NOT EXISTS entries_name ON entries(name, type)",
	/* (level, idx): the hash of leaves [idx·2^level, (idx+1)·2^level) */
	"CREATE TABLE IF NOT EXISTS merkle(level INTEGER, idx INTEGER, hash BLOB,"
	" PRIMARY KEY(level, idx)) WITHOUT ROWID",
};

/* Every query a reader prepares on `entries` (ledger_int.h): each a
 * SEARCH on the rowid or an index, never a SCAN of the table. */
const char *const rq_index_queries[RQ_Q_COUNT] = {
	[RQ_Q_ROWS] = "SELECT seq, entry FROM entries WHERE seq >= ?1 AND seq < ?2 ORDER BY seq",
	[RQ_Q_ROWS_DESC] = "SELECT seq, entry FROM entries WHERE seq >= ?1 AND seq < ?2 ORDER BY seq DESC",
	[RQ_Q_BY_ID] = "SELECT seq FROM entries WHERE id = ?1",
	[RQ_Q_GENESIS] = "SELECT entry FROM entries WHERE seq = 0",
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

/* Every table has the columns this version reads and writes. */
static bool layout_ok(rq_ledger *l)
{
	static const char *const probe[] = {
		"SELECT key, value FROM meta LIMIT 0",
		"SELECT seq, id, commit_oid, type, time, signer, name, summary, entry FROM entries LIMIT 0",
		"SELECT level, idx, hash FROM merkle LIMIT 0",
	};
	for (size_t i = 0; i < RQ_ARRAY_SIZE(probe); i++) {
		sqlite3_stmt *st = NULL;
		int rc = sqlite3_prepare_v2(l->db, probe[i], -1, &st, NULL);
		sqlite3_finalize(st);
		if (rc != SQLITE_OK)
			return false;
	}
	return true;
}

static int open_db(rq_ledger *l, bool *fresh, bool memory)
{
	rq_buf path = RQ_BUF_INIT;
	sqlite3_stmt *st = NULL;
	int err = 0, version = 0;

	rq_buf_printf(&path, "%s/index.db", l->dir);
	*fresh = memory || !rq_path_exists(path.ptr);
	if (sqlite3_open_v2(memory ? ":memory:" : path.ptr, &l->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
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
	/* synchronous=NORMAL: in WAL mode a commit is not synced, only a
	 * checkpoint; a crash may lose the last transactions, which leaves
	 * the index behind the ledger's tip, and a stale index is rebuilt.
	 * Derived data does not need the three syncs per append of FULL. */
	if (!memory && ((err = exec(l, "PRAGMA journal_mode=WAL")) || (err = exec(l, "PRAGMA synchronous=NORMAL"))))
		goto done;
	for (size_t i = 0; i < RQ_ARRAY_SIZE(schema); i++)
		if ((err = exec(l, schema[i])))
			goto done;
	if (!layout_ok(l)) {
		/* Tables of another shape under the expected names (edited, or
		 * damaged): derived data, so they are made again, empty, and the
		 * tip forgotten so that the ledger is indexed afresh. */
		static const char *const drop[] = { "DROP TABLE IF EXISTS entries", "DROP TABLE IF EXISTS merkle",
						    "DROP TABLE IF EXISTS meta" };
		for (size_t i = 0; i < RQ_ARRAY_SIZE(drop); i++)
			if ((err = exec(l, drop[i])))
				goto done;
		for (size_t i = 0; i < RQ_ARRAY_SIZE(schema); i++)
			if ((err = exec(l, schema[i])))
				goto done;
		if (!layout_ok(l)) {
			err = rq_error_set(RQ_EIO, "%s: its tables cannot be made again", path.ptr);
			goto done;
		}
		*fresh = true;
	}
	if (version < SCHEMA_VERSION) {
		/* An older index lacks tables this version keeps up to date as
		 * entries arrive: forget its tip, so that opening the ledger
		 * rebuilds it all (refresh_index in store/ledger.c). */
		if ((err = exec(l, "DELETE FROM meta WHERE key='tip'")) ||
		    (err = exec(l, "PRAGMA user_version=" RQ_STR(SCHEMA_VERSION))))
			goto done;
		*fresh = true;
	}
done:
	sqlite3_finalize(st);
	rq_buf_release(&path);
	return err;
}

int rq_index_recreate(rq_ledger *l)
{
	bool fresh;
	rq_buf path = RQ_BUF_INIT;
	rq_index_close(l);
	rq_buf_printf(&path, "%s/index.db", l->dir);
	unlink(path.ptr);
	rq_buf_puts(&path, "-wal");
	unlink(path.ptr);
	rq_buf_truncate(&path, path.len - 4);
	rq_buf_puts(&path, "-shm");
	unlink(path.ptr);
	rq_buf_release(&path);
	return open_db(l, &fresh, false);
}

bool rq_index_damaged(rq_ledger *l)
{
	sqlite3_stmt *st = NULL;
	bool damaged = true;
	if (!l->db)
		return false;
	if (sqlite3_prepare_v2(l->db, "PRAGMA quick_check(1)", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(st, 0);
		damaged = !v || strcmp((const char *)v, "ok") != 0;
	}
	sqlite3_finalize(st);
	return damaged;
}

int rq_index_open(rq_ledger *l)
{
	bool fresh;
	int err = open_db(l, &fresh, false);
	if (err && err != RQ_EUNSUPPORTED) /* an unreadable index is derived data: start it again */
		err = rq_index_recreate(l);
	return err;
}

int rq_index_open_memory(rq_ledger *l)
{
	bool fresh;
	rq_index_close(l);
	return open_db(l, &fresh, true);
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

/* A rebuild is one transaction over every page of the index. With SQLite's
 * defaults, reindexing 20,000 entries made 299,000 pwrite calls: the
 * statement journals of INSERT OR REPLACE spilled to a temporary file
 * (197,000) and the 2 MB page cache to the WAL. 64 MB of cache and
 * temp_store=MEMORY made it 29,000 (`strace -c -f resque reindex`). The
 * defaults come back after the rebuild; durability is unchanged. */
void rq_index_bulk(rq_ledger *l, bool on)
{
	sqlite3_exec(l->db, on ? "PRAGMA cache_size=-65536" : "PRAGMA cache_size=-2000", NULL, NULL, NULL);
	sqlite3_exec(l->db, on ? "PRAGMA temp_store=MEMORY" : "PRAGMA temp_store=DEFAULT", NULL, NULL, NULL);
}

/* The statements of an insert, prepared once for a run of them. */
int rq_index_inserter_open(rq_index_inserter *w, rq_ledger *l)
{
	memset(w, 0, sizeof(*w));
	w->l = l;
	if (sqlite3_prepare_v2(l->db,
			       "INSERT OR REPLACE INTO entries(seq, id, commit_oid, type, time, signer, name, summary, entry)"
			       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
			       -1, &w->entry, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(l->db, "INSERT OR REPLACE INTO merkle(level, idx, hash) VALUES(?1, ?2, ?3)", -1, &w->put,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(l->db, "SELECT hash FROM merkle WHERE level=?1 AND idx=?2", -1, &w->get, NULL) !=
		    SQLITE_OK) {
		int err = db_error(l, "preparing an insert");
		rq_index_inserter_close(w);
		return err;
	}
	return 0;
}

void rq_index_inserter_close(rq_index_inserter *w)
{
	sqlite3_finalize(w->entry);
	sqlite3_finalize(w->put);
	sqlite3_finalize(w->get);
	memset(w, 0, sizeof(*w));
}

/* Leaf (0, seq) of the transparency log and every perfect subtree it
 * completes: while the node is a right child, hash it with its left
 * sibling into the parent. A missing sibling (an entry reindex could not
 * read) leaves the parents out; verify reports that ledger. */
static int merkle_insert(rq_index_inserter *w, uint64_t seq, const void *bytes, size_t len)
{
	rq_ledger *l = w->l;
	sqlite3_stmt *put = w->put, *get = w->get;
	rq_hash h;
	unsigned level = 0;
	uint64_t idx = seq;
	int err = 0;

	rq_merkle_leaf_hash(h, bytes, len);
	for (;;) {
		sqlite3_bind_int(put, 1, (int)level);
		sqlite3_bind_int64(put, 2, (sqlite3_int64)idx);
		sqlite3_bind_blob(put, 3, h, RQ_HASH_LEN, SQLITE_STATIC);
		int rc = sqlite3_step(put);
		sqlite3_reset(put);
		if (rc != SQLITE_DONE) {
			err = db_error(l, "writing the Merkle tree");
			goto done;
		}
		if (!(idx & 1))
			break;
		sqlite3_bind_int(get, 1, (int)level);
		sqlite3_bind_int64(get, 2, (sqlite3_int64)(idx - 1));
		rc = sqlite3_step(get);
		if (rc == SQLITE_DONE || (rc == SQLITE_ROW && sqlite3_column_bytes(get, 0) != RQ_HASH_LEN))
			break;
		if (rc != SQLITE_ROW) {
			err = db_error(l, "reading the Merkle tree");
			goto done;
		}
		rq_hash left, right;
		memcpy(left, sqlite3_column_blob(get, 0), RQ_HASH_LEN);
		memcpy(right, h, RQ_HASH_LEN);
		sqlite3_reset(get);
		rq_merkle_node_hash(h, left, right);
		level++;
		idx >>= 1;
	}
done:
	sqlite3_reset(get);
	return err;
}

int rq_index_inserter_put(rq_index_inserter *w, const rq_entry *e, const char *commit_hex)
{
	rq_buf summary = RQ_BUF_INIT;
	int err;

	rq_entry_summary(&summary, e);
	err = rq_index_inserter_put_summary(w, e, commit_hex, &summary);
	rq_buf_release(&summary);
	return err;
}

int rq_index_inserter_put_summary(rq_index_inserter *w, const rq_entry *e, const char *commit_hex,
				  const rq_buf *summary)
{
	sqlite3_stmt *st = w->entry;
	int err = 0;
	const char *name = rq_entry_name(e);

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
	sqlite3_bind_text(st, 8, summary->ptr, (int)summary->len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 9, e->bytes.ptr, (int)e->bytes.len, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		err = db_error(w->l, "inserting an entry");
	else
		err = merkle_insert(w, e->seq, e->bytes.ptr, e->bytes.len);
	return err;
}

/* One entry (an append): the statements are prepared on the first call
 * and kept in the ledger until rq_index_close. */
int rq_index_insert(rq_ledger *l, const rq_entry *e, const char *commit_hex)
{
	int err;

	if (!l->inserter) {
		rq_index_inserter *w = rq_xcalloc(1, sizeof(*w));
		if ((err = rq_index_inserter_open(w, l))) {
			free(w);
			return err;
		}
		l->inserter = w;
	}
	return rq_index_inserter_put(l->inserter, e, commit_hex);
}

void rq_index_close(rq_ledger *l)
{
	if (l->inserter) {
		rq_index_inserter_close(l->inserter);
		free(l->inserter);
		l->inserter = NULL;
	}
	sqlite3_close(l->db);
	l->db = NULL;
}

int rq_index_begin(rq_ledger *l)
{
	rq_index_read_end(l);
	return exec(l, "BEGIN IMMEDIATE");
}

/* One snapshot of index.db for a reader: rows checked once against the
 * ledger stay as they were until the transaction ends (WAL: writers go on
 * beside it). A failure leaves the reader without it (no error: each
 * statement is then its own snapshot and rows are checked each time). */
void rq_index_read_begin(rq_ledger *l)
{
	if (l->reading || l->shared_db || !l->db || !sqlite3_get_autocommit(l->db))
		return;
	if (exec(l, "BEGIN") == 0 && exec(l, "SELECT count(*) FROM meta") == 0)
		l->reading = true;
	else
		sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	rq_error_clear();
}

void rq_index_read_end(rq_ledger *l)
{
	if (!l->reading)
		return;
	sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL);
	l->reading = false;
	rq_guard_rows_reset(l);
}

int rq_index_commit(rq_ledger *l)
{
	return exec(l, "COMMIT");
}

void rq_index_rollback(rq_ledger *l)
{
	sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
}

int rq_index_truncate(rq_ledger *l, uint64_t keep)
{
	sqlite3_stmt *st = NULL;
	int err = 0;
	/* the rows of entries from `keep` on, and every Merkle node whose
	 * subtree reaches one of them: node (level, idx) spans leaves
	 * [idx << level, (idx + 1) << level) */
	if (sqlite3_prepare_v2(l->db, "DELETE FROM entries WHERE seq >= ?1", -1, &st, NULL) != SQLITE_OK)
		return db_error(l, "preparing a delete");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)keep);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = db_error(l, "deleting entries");
	sqlite3_finalize(st);
	st = NULL;
	if (!err && sqlite3_prepare_v2(l->db, "DELETE FROM merkle WHERE ((idx + 1) << level) > ?1", -1, &st, NULL) !=
			    SQLITE_OK)
		return db_error(l, "preparing a delete");
	if (!err) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)keep);
		if (sqlite3_step(st) != SQLITE_DONE)
			err = db_error(l, "deleting Merkle nodes");
	}
	sqlite3_finalize(st);
	return err;
}

int rq_index_clear(rq_ledger *l)
{
	int err = exec(l, "DELETE FROM entries");
	if (!err)
		err = exec(l, "DELETE FROM merkle");
	if (!err)
		err = exec(l, "DELETE FROM meta WHERE key='tip'");
	return err;
}
