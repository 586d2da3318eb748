/* Unit tests of store/statcache.c: entries round-trip through index.db,
 * batches replace older entries, and the cache serves rq_fingerprint_path. */
#include "unit.h"
#include "resque/key.h"
#include "resque/ledger.h"
#include "resque/statcache.h"

#include <sodium.h>
#include <fcntl.h>
#include <sys/stat.h>

static rq_ledger *new_ledger(rq_key **k)
{
	rq_buf dir = RQ_BUF_INIT;
	rq_ledger *l = NULL;
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

	/* the table survives reopening */
	CHECK_OK(rq_statcache_open(&c, l));
	CHECK_INT_EQ(rq_statcache_lookup(c, "/data/a", &got), 1);
	rq_statcache_free(c);
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
