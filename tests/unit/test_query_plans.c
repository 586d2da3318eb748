/* The reads of store/ledger.c and store/guard.c: every query they prepare
 * on index.db uses the rowid or an index (EXPLAIN QUERY PLAN shows no SCAN
 * of `entries`), and the newest-first, limited and filtered reads and the
 * look-ups give what a full read in sequence order gives, also after
 * another handle appended and after index.db's columns were edited. */
#include "unit.h"
#include "json.h"
#include "ledger_int.h"

#include <sodium.h>

static rq_ledger *plans_ledger(rq_key **k, const char *sub)
{
	rq_buf dir = RQ_BUF_INIT;
	rq_ledger *l = NULL;
	if (sodium_init() < 0 || rq_key_generate(k) != 0)
		return NULL;
	setenv("RESQUE_HOME", unit_tmpdir(), 1);
	rq_buf_printf(&dir, "%s/%s/.resque", unit_tmpdir(), sub);
	if (rq_ledger_init(&l, dir.ptr, *k) != 0)
		unit_fail(__FILE__, __LINE__, "rq_ledger_init: %s", rq_error_last());
	else
		rq_ledger_set_signer(l, *k);
	rq_buf_release(&dir);
	return l;
}

static void add(rq_ledger *l, const char *type, const char *body)
{
	json_t *j = NULL;
	rq_entry *e = NULL;
	if (rq_json_parse(&j, body, strlen(body), "body") || rq_ledger_append(&e, l, type, j, NULL, 0))
		unit_fail(__FILE__, __LINE__, "append %s: %s", type, rq_error_last());
	rq_entry_free(e);
}

/* Whether `sql`'s plan on `l`'s index.db scans the entries table; *search
 * counts the steps that search it by rowid or an index. */
static bool scans_entries(rq_ledger *l, const char *sql, int *search)
{
	rq_buf q = RQ_BUF_INIT;
	sqlite3_stmt *st = NULL;
	bool scan = false;
	rq_buf_printf(&q, "EXPLAIN QUERY PLAN %s", sql);
	if (sqlite3_prepare_v2(l->db, q.ptr, -1, &st, NULL) != SQLITE_OK) {
		unit_fail(__FILE__, __LINE__, "%s: %s", sql, sqlite3_errmsg(l->db));
		scan = true;
	}
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		const char *detail = (const char *)sqlite3_column_text(st, 3);
		if (detail && strstr(detail, "entries") && strncmp(detail, "SCAN", 4) == 0)
			scan = true;
		if (detail && strstr(detail, "entries") && strncmp(detail, "SEARCH", 6) == 0)
			(*search)++;
	}
	sqlite3_finalize(st);
	rq_buf_release(&q);
	return scan;
}

TEST(query_plans_search_never_scan)
{
	rq_key *k = NULL;
	rq_ledger *l = plans_ledger(&k, "plans");
	int search = 0;
	CHECK(l != NULL);
	for (int i = 0; l && i < 50; i++)
		add(l, "note", "{\"text\":\"filler\"}");
	CHECK_OK(sqlite3_exec(l->db, "ANALYZE", NULL, NULL, NULL));
	for (size_t i = 0; l && i < RQ_Q_COUNT; i++) {
		int before = search;
		CHECK(rq_index_queries[i] != NULL);
		if (!rq_index_queries[i])
			continue;
		if (scans_entries(l, rq_index_queries[i], &search))
			unit_fail(__FILE__, __LINE__, "scans the entries table: %s", rq_index_queries[i]);
		CHECK(search > before);
	}
	/* the check can fail: the prefix query this replaced scans */
	search = 0;
	CHECK(l && scans_entries(l, "SELECT seq FROM entries WHERE substr(id, 1, ?1) = ?2", &search));
	CHECK(l && scans_entries(l, "SELECT seq FROM entries WHERE (?1 IS NULL OR type = ?1) ORDER BY seq", &search));
	rq_ledger_free(l);
	rq_key_free(k);
}

/* The entries in sequence order (all of them, as rq_ledger_foreach). */
struct seqs {
	uint64_t v[256];
	char types[256][16];
	size_t n;
};

static int note_all(const rq_entry *e, void *ctx)
{
	struct seqs *s = ctx;
	if (s->n < 256) {
		snprintf(s->types[s->n], sizeof(s->types[0]), "%s", e->type);
		s->v[s->n++] = e->seq;
	}
	return 0;
}

static int note_scan(rq_entry **e, void *ctx)
{
	struct seqs *s = ctx;
	if (s->n < 256)
		s->v[s->n++] = (*e)->seq;
	CHECK((*e)->commit[0] != '\0');
	return 0;
}

/* rq_ledger__scan newest first, `limit`, `types` against the full read. */
static void check_scan(rq_ledger *l, const struct seqs *all, const char *const *types, size_t ntypes, uint64_t limit)
{
	rq_scan s = { types, ntypes, true, limit };
	struct seqs got = { .n = 0 }, want = { .n = 0 };
	for (size_t i = all->n; i-- > 0;) {
		bool ok = ntypes == 0;
		for (size_t t = 0; t < ntypes; t++)
			ok |= strcmp(all->types[i], types[t]) == 0;
		if (ok && (!limit || want.n < limit))
			want.v[want.n++] = all->v[i];
	}
	CHECK_OK(rq_ledger__scan(l, &s, note_scan, &got));
	CHECK_INT_EQ(got.n, want.n);
	CHECK(memcmp(got.v, want.v, want.n * sizeof(uint64_t)) == 0);
}

static void mixed(rq_ledger *l, int rounds)
{
	char body[160];
	for (int i = 0; i < rounds; i++) {
		snprintf(body, sizeof(body), "{\"name\":\"v%d\",\"weights\":{\"fingerprint\":\"b2:00\"}}", i);
		add(l, "version", body);
		add(l, "plan", "{\"from_name\":\"x\"}");
		add(l, "note", "{\"text\":\"a note\"}");
		if (i % 3 == 0)
			add(l, "actual", "{\"plan\":\"x\"}");
	}
}

TEST(query_plans_newest_first_reads)
{
	static const char *const version[] = { "version" }, *const note[] = { "note" }, *const init[] = { "init" },
				  *const two[] = { "plan", "actual" };
	rq_key *k = NULL;
	rq_ledger *l = plans_ledger(&k, "newest"), *other = NULL;
	struct seqs all = { .n = 0 };
	CHECK(l != NULL);
	if (!l)
		return;
	mixed(l, 12);
	CHECK_OK(rq_ledger_foreach(l, NULL, note_all, &all));
	for (uint64_t limit = 0; limit < 60; limit += 7) {
		check_scan(l, &all, NULL, 0, limit);
		check_scan(l, &all, version, 1, limit);
		check_scan(l, &all, note, 1, limit);
		check_scan(l, &all, init, 1, limit);
		check_scan(l, &all, two, 2, limit);
	}
	/* another handle appends: this one reads its snapshot, a new one all */
	CHECK_OK(rq_ledger_open(&other, rq_ledger_dir(l)));
	if (other) {
		rq_ledger_set_signer(other, k);
		mixed(other, 2);
		check_scan(l, &all, version, 1, 3);
		rq_ledger_free(other);
		other = NULL;
		CHECK_OK(rq_ledger_open(&other, rq_ledger_dir(l)));
		all.n = 0;
		CHECK_OK(rq_ledger_foreach(other, NULL, note_all, &all));
		CHECK_INT_EQ(all.n, rq_ledger_size(other));
		check_scan(other, &all, version, 1, 3);
		check_scan(other, &all, NULL, 0, 5);
	}
	rq_ledger_free(other);
	rq_ledger_free(l);
	rq_key_free(k);
}

static void exec_sql(rq_ledger *l, const char *sql)
{
	if (sqlite3_exec(l->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		unit_fail(__FILE__, __LINE__, "%s: %s", sql, sqlite3_errmsg(l->db));
}

/* Look-ups by whole id, prefix and name give the verified answer whatever
 * index.db's id and name columns say; a limited read finds a missing row. */
TEST(query_plans_lookups_not_misled)
{
	rq_key *k = NULL;
	rq_ledger *l = plans_ledger(&k, "lookups"), *r = NULL;
	rq_entry *e = NULL, *v3 = NULL, *v5 = NULL;
	rq_buf sql = RQ_BUF_INIT;
	CHECK(l != NULL);
	if (!l)
		return;
	mixed(l, 8);
	CHECK_OK(rq_ledger_lookup(&v3, l, "v3", "version"));
	CHECK_OK(rq_ledger_lookup(&v5, l, "v5", "version"));
	if (!v3 || !v5)
		goto done;
	/* index.db claims v3's id for v5's row, and gives v3's row another */
	rq_buf_printf(&sql, "UPDATE entries SET id='x' WHERE seq=%" PRIu64 "; UPDATE entries SET id='%s' WHERE seq=%" PRIu64,
		      v3->seq, v3->id, v5->seq);
	exec_sql(l, sql.ptr);
	exec_sql(l, "UPDATE entries SET name='v3' WHERE type='version'");
	CHECK_OK(rq_ledger_open(&r, rq_ledger_dir(l)));
	if (!r)
		goto done;
	CHECK_OK(rq_ledger_lookup(&e, r, v3->id, NULL));
	CHECK(e && e->seq == v3->seq);
	rq_entry_free(e);
	e = NULL;
	CHECK_OK(rq_ledger_lookup(&e, r, v5->id, "version"));
	CHECK(e && e->seq == v5->seq);
	rq_entry_free(e);
	e = NULL;
	char prefix[13];
	snprintf(prefix, sizeof(prefix), "%.12s", v3->id);
	CHECK_OK(rq_ledger_lookup(&e, r, prefix, NULL));
	CHECK(e && e->seq == v3->seq);
	rq_entry_free(e);
	e = NULL;
	CHECK_OK(rq_ledger_lookup(&e, r, "v5", "version"));
	CHECK(e && e->seq == v5->seq);
	rq_entry_free(e);
	e = NULL;
	CHECK_ERR(rq_ledger_lookup(&e, r, "0000000000000000000000000000000000000000000000000000000000000000", NULL),
		  RQ_ENOTFOUND);
	/* the tip's row gone: a read of one row from the tip says so */
	rq_ledger_free(r);
	r = NULL;
	exec_sql(l, "DELETE FROM entries WHERE seq=(SELECT max(seq) FROM entries)");
	CHECK_OK(rq_ledger_open(&r, rq_ledger_dir(l)));
	if (r) {
		rq_scan one = { NULL, 0, true, 1 };
		struct seqs got = { .n = 0 };
		int err = rq_ledger__scan(r, &one, note_scan, &got);
		/* opening may have rebuilt the index; else the row is missing */
		CHECK(err == 0 || (err == RQ_EINTEGRITY && strstr(rq_error_last(), "is missing")));
		CHECK(err != 0 || (got.n == 1 && got.v[0] == rq_ledger_size(r) - 1));
	}
done:
	rq_entry_free(v3);
	rq_entry_free(v5);
	rq_buf_release(&sql);
	rq_ledger_free(r);
	rq_ledger_free(l);
	rq_key_free(k);
}
