/* Unit tests of core/input/fingerprint.c: file hashes against b2sum, manifests
 * (encoding, strict parsing, diff), directory walks, the worker pool and the
 * stat cache's racily-clean rule (with an in-memory cache). */
#include "unit.h"
#include "fingerprint_int.h"

#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmpdir_copy(void)
{
	return rq_xstrdup(unit_tmpdir());
}

static char *path_in(const char *dir, const char *name)
{
	rq_buf p = RQ_BUF_INIT;
	rq_buf_printf(&p, "%s/%s", dir, name);
	return rq_buf_detach(&p, NULL);
}

/* "b2:" + the hex b2sum prints, or "" when b2sum cannot be run. */
static void b2sum_of(char out[RQ_FINGERPRINT_SIZE], const char *path)
{
	rq_buf cmd = RQ_BUF_INIT;
	char line[256] = "";
	rq_buf_printf(&cmd, "b2sum -l 256 '%s' 2>/dev/null", path);
	FILE *f = popen(cmd.ptr, "r");
	out[0] = '\0';
	if (f) {
		if (fgets(line, sizeof(line), f) && strlen(line) > 64) {
			memcpy(out, "b2:", 3);
			memcpy(out + 3, line, 64);
			out[67] = '\0';
		}
		pclose(f);
	}
	rq_buf_release(&cmd);
}

TEST(fingerprint_file_matches_b2sum)
{
	char *dir = tmpdir_copy();
	size_t sizes[] = { 0, 1, 127, 128, 129, (1u << 20) - 1, (1u << 20) + 3, 3u << 20 };
	if (sodium_init() < 0)
		CHECK(0);
	for (size_t i = 0; i < RQ_ARRAY_SIZE(sizes); i++) {
		uint8_t *data = rq_xmalloc(sizes[i] + 1);
		randombytes_buf(data, sizes[i]);
		char name[32];
		snprintf(name, sizeof(name), "f%zu", i);
		char *p = unit_write_file(dir, name, data, sizes[i]);
		rq_fp_result r;
		rq_fp_result_init(&r);
		CHECK_OK(rq_fingerprint_path(&r, p, NULL));
		CHECK(!r.is_dir);
		CHECK_INT_EQ(r.files, 1);
		CHECK_INT_EQ(r.bytes, sizes[i]);
		char want[RQ_FINGERPRINT_SIZE];
		b2sum_of(want, p);
		CHECK(want[0] != '\0');
		CHECK_STR_EQ(r.fingerprint, want);
		/* and the in-memory form agrees */
		char mem[RQ_FINGERPRINT_SIZE];
		rq_fingerprint_bytes(mem, data, sizes[i]);
		CHECK_STR_EQ(mem, want);
		rq_fp_result_release(&r);
		free(p);
		free(data);
	}
	free(dir);
}

TEST(fingerprint_parse_format)
{
	uint8_t h[RQ_HASH_LEN], h2[RQ_HASH_LEN];
	char s[RQ_FINGERPRINT_SIZE];
	for (int i = 0; i < RQ_HASH_LEN; i++)
		h[i] = (uint8_t)(i * 7 + 1);
	rq_fingerprint_format(s, h);
	CHECK(strlen(s) == 67 && strncmp(s, "b2:", 3) == 0);
	CHECK_OK(rq_fingerprint_parse(h2, s));
	CHECK(memcmp(h, h2, RQ_HASH_LEN) == 0);
	s[5] = 'A';
	CHECK_ERR(rq_fingerprint_parse(h2, s), RQ_EINVALID);
	CHECK_ERR(rq_fingerprint_parse(h2, "sha256:00"), RQ_EINVALID);
	CHECK_ERR(rq_fingerprint_parse(h2, "b2:00"), RQ_EINVALID);
}

static void add_entry(rq_manifest *m, const char *path, uint64_t size, uint8_t fill, bool link)
{
	if (m->n == m->alloc) {
		m->alloc = m->alloc ? 2 * m->alloc : 8;
		m->v = rq_xrealloc(m->v, m->alloc * sizeof(*m->v));
	}
	rq_manifest_entry *e = &m->v[m->n++];
	e->path = rq_xstrdup(path);
	e->size = size;
	memset(e->hash, fill, RQ_HASH_LEN);
	e->link = link;
	m->bytes += size;
}

TEST(manifest_encode_parse_roundtrip)
{
	rq_manifest m, back;
	rq_buf enc = RQ_BUF_INIT, enc2 = RQ_BUF_INIT;
	rq_manifest_init(&m);
	rq_manifest_init(&back);
	add_entry(&m, "a b", 0, 0x00, false);
	add_entry(&m, "a\\b\n\tc\x7f", 12, 0xab, false);
	add_entry(&m, "dir/\xc3\xa9t\xc3\xa9.bin", 18446744073709551615ull - 20, 0x11, false);
	add_entry(&m, "link", 5, 0x22, true);
	rq_manifest_encode(&enc, &m);
	CHECK(strncmp(enc.ptr, RQ_MANIFEST_HEADER, strlen(RQ_MANIFEST_HEADER)) == 0);
	CHECK_CONTAINS(enc.ptr, "f 12 abab");
	CHECK_CONTAINS(enc.ptr, " a\\\\b\\n\\x09c\\x7f\n");
	CHECK_CONTAINS(enc.ptr, "\nl 5 2222");
	CHECK_OK(rq_manifest_parse(&back, enc.ptr, enc.len, "m"));
	CHECK_INT_EQ(back.n, 4);
	CHECK_STR_EQ(back.v[1].path, "a\\b\n\tc\x7f");
	CHECK(back.v[3].link && !back.v[0].link);
	CHECK(back.bytes == m.bytes);
	rq_manifest_encode(&enc2, &back);
	CHECK(enc.len == enc2.len && memcmp(enc.ptr, enc2.ptr, enc.len) == 0);

	char f1[RQ_FINGERPRINT_SIZE], f2[RQ_FINGERPRINT_SIZE];
	rq_manifest_fingerprint(f1, &m);
	rq_fingerprint_bytes(f2, enc.ptr, enc.len);
	CHECK_STR_EQ(f1, f2);
	rq_manifest_release(&m);
	rq_manifest_release(&back);
	rq_buf_release(&enc);
	rq_buf_release(&enc2);
}

TEST(manifest_parse_rejects_noncanonical)
{
	static const char *const bad[] = {
		"",
		"resque-manifest v2\n",
		"resque-manifest v1\nf 1 00 a\n",
		"resque-manifest v1\nx 1 0000000000000000000000000000000000000000000000000000000000000000 a\n",
		"resque-manifest v1\nf 01 0000000000000000000000000000000000000000000000000000000000000000 a\n",
		"resque-manifest v1\nf 1 000000000000000000000000000000000000000000000000000000000000000A a\n",
		"resque-manifest v1\nf 1 0000000000000000000000000000000000000000000000000000000000000000 a",
		"resque-manifest v1\nf 1 0000000000000000000000000000000000000000000000000000000000000000 \n",
		"resque-manifest v1\nf 1 0000000000000000000000000000000000000000000000000000000000000000 /a\n",
		"resque-manifest v1\nf 1 0000000000000000000000000000000000000000000000000000000000000000 a/../b\n",
		"resque-manifest v1\nf 1 0000000000000000000000000000000000000000000000000000000000000000 a//b\n",
		"resque-manifest v1\nf 1 0000000000000000000000000000000000000000000000000000000000000000 \\x41\n",
		"resque-manifest v1\nf 1 0000000000000000000000000000000000000000000000000000000000000000 \\x0a\n",
		"resque-manifest v1\nf 1 0000000000000000000000000000000000000000000000000000000000000000 \\x00\n",
		"resque-manifest v1\nf 1 0000000000000000000000000000000000000000000000000000000000000000 a\\\n",
		"resque-manifest v1\nf 1 0000000000000000000000000000000000000000000000000000000000000000 a\tb\n",
		"resque-manifest v1\nf 18446744073709551616 0000000000000000000000000000000000000000000000000000000000000000 a\n",
		"resque-manifest v1\nf 1 0000000000000000000000000000000000000000000000000000000000000000 b\n"
		"f 1 0000000000000000000000000000000000000000000000000000000000000000 a\n",
		"resque-manifest v1\nf 1 0000000000000000000000000000000000000000000000000000000000000000 a\n"
		"f 1 0000000000000000000000000000000000000000000000000000000000000000 a\n",
		"resque-manifest v1\nf 18446744073709551615 0000000000000000000000000000000000000000000000000000000000000000 a\n"
		"f 1 0000000000000000000000000000000000000000000000000000000000000000 b\n",
	};
	for (size_t i = 0; i < RQ_ARRAY_SIZE(bad); i++) {
		rq_manifest m;
		rq_manifest_init(&m);
		int rc = rq_manifest_parse(&m, bad[i], strlen(bad[i]), "bad.manifest");
		if (rc != RQ_EINVALID)
			unit_fail(__FILE__, __LINE__, "case %zu accepted (%d)", i, rc);
		CHECK_CONTAINS(rq_error_last(), "bad.manifest");
		CHECK_INT_EQ(m.n, 0);
		rq_manifest_release(&m);
	}
	/* a NUL inside is no path */
	static const char nul[] = "resque-manifest v1\nf 1 0000000000000000000000000000000000000000000000000000000000000000 a\0b\n";
	rq_manifest m;
	rq_manifest_init(&m);
	CHECK_ERR(rq_manifest_parse(&m, nul, sizeof(nul) - 1, "nul"), RQ_EINVALID);
	/* the empty manifest is fine */
	CHECK_OK(rq_manifest_parse(&m, RQ_MANIFEST_HEADER, strlen(RQ_MANIFEST_HEADER), "empty"));
	CHECK_INT_EQ(m.n, 0);
	rq_manifest_release(&m);
}

TEST(manifest_diff_kinds)
{
	rq_manifest a, b;
	rq_manifest_change *ch = NULL;
	size_t n = 0;
	rq_manifest_init(&a);
	rq_manifest_init(&b);
	add_entry(&a, "keep", 1, 1, false);
	add_entry(&a, "mod-hash", 1, 1, false);
	add_entry(&a, "mod-kind", 1, 1, false);
	add_entry(&a, "mod-size", 1, 1, false);
	add_entry(&a, "gone", 1, 1, false);
	/* keep `a` sorted */
	rq_manifest_entry tmp = a.v[4];
	memmove(&a.v[1], &a.v[0], 4 * sizeof(tmp));
	a.v[0] = tmp;
	add_entry(&b, "keep", 1, 1, false);
	add_entry(&b, "mod-hash", 1, 2, false);
	add_entry(&b, "mod-kind", 1, 1, true);
	add_entry(&b, "mod-size", 2, 1, false);
	add_entry(&b, "new", 1, 1, false);
	rq_manifest_diff(&ch, &n, &a, &b);
	CHECK_INT_EQ(n, 5);
	if (n == 5) {
		CHECK(ch[0].kind == RQ_CHANGE_REMOVED);
		CHECK_STR_EQ(ch[0].path, "gone");
		CHECK(ch[1].kind == RQ_CHANGE_CHANGED);
		CHECK_STR_EQ(ch[1].path, "mod-hash");
		CHECK(ch[2].kind == RQ_CHANGE_CHANGED && ch[3].kind == RQ_CHANGE_CHANGED);
		CHECK(ch[4].kind == RQ_CHANGE_ADDED);
		CHECK_STR_EQ(ch[4].path, "new");
	}
	free(ch);
	rq_manifest_diff(&ch, &n, &b, &b);
	CHECK_INT_EQ(n, 0);
	CHECK(ch == NULL);
	rq_manifest_release(&a);
	rq_manifest_release(&b);
}

/* A tree: z, a/x, a.txt (sorts before a/x), link -> a.txt, empty dir, .resque */
static char *make_tree(void)
{
	char *dir = tmpdir_copy();
	char *p;
	p = path_in(dir, "a");
	mkdir(p, 0755);
	free(p);
	p = path_in(dir, "empty");
	mkdir(p, 0755);
	free(p);
	p = path_in(dir, ".resque");
	mkdir(p, 0755);
	free(p);
	free(unit_write_file(dir, "z", "zzz", 3));
	free(unit_write_file(dir, "a/x", "hello\n", 6));
	free(unit_write_file(dir, "a.txt", "", 0));
	free(unit_write_file(dir, ".resque/index.db", "ignored", 7));
	p = path_in(dir, "link");
	CHECK(symlink("a.txt", p) == 0);
	free(p);
	return dir;
}

TEST(fingerprint_directory_manifest)
{
	char *dir = make_tree();
	rq_fp_result r;
	rq_fp_result_init(&r);
	CHECK_OK(rq_fingerprint_path(&r, dir, NULL));
	CHECK(r.is_dir);
	CHECK_INT_EQ(r.files, 4);
	CHECK_INT_EQ(r.bytes, 3 + 6 + 0 + 5);
	CHECK_INT_EQ(r.hashed, 3);
	if (r.manifest.n == 4) {
		CHECK_STR_EQ(r.manifest.v[0].path, "a.txt");
		CHECK_STR_EQ(r.manifest.v[1].path, "a/x");
		CHECK_STR_EQ(r.manifest.v[2].path, "link");
		CHECK_STR_EQ(r.manifest.v[3].path, "z");
		CHECK(r.manifest.v[2].link);
		CHECK_INT_EQ(r.manifest.v[2].size, 5);
		uint8_t h[RQ_HASH_LEN];
		crypto_generichash(h, sizeof(h), (const unsigned char *)"a.txt", 5, NULL, 0);
		CHECK(memcmp(h, r.manifest.v[2].hash, RQ_HASH_LEN) == 0);
		char fx[RQ_FINGERPRINT_SIZE];
		rq_fingerprint_format(fx, r.manifest.v[1].hash);
		char want[RQ_FINGERPRINT_SIZE];
		rq_fingerprint_bytes(want, "hello\n", 6);
		CHECK_STR_EQ(fx, want);
	}
	char mf[RQ_FINGERPRINT_SIZE];
	rq_manifest_fingerprint(mf, &r.manifest);
	CHECK_STR_EQ(r.fingerprint, mf);

	/* trailing slashes and thread counts do not matter */
	rq_fp_result r2;
	rq_fp_result_init(&r2);
	char *slash = path_in(dir, "");
	rq_fp_options o = { NULL, 1, false, NULL, NULL };
	CHECK_OK(rq_fingerprint_path(&r2, slash, &o));
	CHECK_STR_EQ(r2.fingerprint, r.fingerprint);
	free(slash);
	rq_fp_result_release(&r2);
	rq_fp_result_release(&r);
	free(dir);
}

TEST(fingerprint_refuses_special_and_missing)
{
	char *dir = tmpdir_copy();
	char *fifo = path_in(dir, "pipe");
	CHECK(mkfifo(fifo, 0600) == 0);
	rq_fp_result r;
	rq_fp_result_init(&r);
	CHECK_ERR(rq_fingerprint_path(&r, fifo, NULL), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), fifo);
	CHECK_CONTAINS(rq_error_last(), "is a fifo");
	CHECK_ERR(rq_fingerprint_path(&r, dir, NULL), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "pipe: is a fifo");
	CHECK_ERR(rq_fingerprint_path(&r, "/nonexistent/x", NULL), RQ_ENOTFOUND);
	CHECK_CONTAINS(rq_error_last(), "/nonexistent/x: no such file or directory");
	CHECK_ERR(rq_fingerprint_path(&r, "/dev/null", NULL), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "character device");
	CHECK(r.fingerprint[0] == '\0');
	free(fifo);
	free(dir);
}

TEST(fingerprint_many_files_threads_agree)
{
	char *dir = tmpdir_copy();
	for (int i = 0; i < 300; i++) {
		char name[32], data[64];
		snprintf(name, sizeof(name), "f%03d", i);
		int len = snprintf(data, sizeof(data), "file number %d", i * 31);
		free(unit_write_file(dir, name, data, (size_t)len));
	}
	rq_fp_result a, b;
	rq_fp_result_init(&a);
	rq_fp_result_init(&b);
	rq_fp_options one = { NULL, 1, false, NULL, NULL }, many = { NULL, 7, false, NULL, NULL };
	CHECK_OK(rq_fingerprint_path(&a, dir, &one));
	CHECK_OK(rq_fingerprint_path(&b, dir, &many));
	CHECK_STR_EQ(a.fingerprint, b.fingerprint);
	CHECK_INT_EQ(a.files, 300);
	CHECK_INT_EQ(b.hashed, 300);
	rq_fp_result_release(&a);
	rq_fp_result_release(&b);
	free(dir);
}

/* ---- an in-memory cache --------------------------------------------------- */

struct memcache {
	rq_fp_cache_entry v[16];
	char *paths[16];
	size_t n;
	int lookups, stores;
	int64_t shift_written; /* added to written_ns on store (to age entries) */
};

static int mc_lookup(void *ctx, const char *path, rq_fp_cache_entry *out)
{
	struct memcache *c = ctx;
	c->lookups++;
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->paths[i], path) == 0) {
			*out = c->v[i];
			return 1;
		}
	return 0;
}

static int mc_store(void *ctx, const rq_fp_cache_entry *v, size_t n)
{
	struct memcache *c = ctx;
	c->stores++;
	for (size_t k = 0; k < n; k++) {
		size_t i;
		for (i = 0; i < c->n; i++)
			if (strcmp(c->paths[i], v[k].path) == 0)
				break;
		if (i == c->n) {
			if (c->n == 16)
				return -1;
			c->paths[c->n++] = rq_xstrdup(v[k].path);
		}
		c->v[i] = v[k];
		c->v[i].path = c->paths[i];
		c->v[i].written_ns += c->shift_written;
	}
	return 0;
}

static void mc_release(struct memcache *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->paths[i]);
}

TEST(fp_cache_racily_clean_rule)
{
	rq_fp_cache_entry e;
	rq_file_stat st = { 1, 2, 3, 5000000000ll + 999999999, 5000000000ll + 999999999 };
	memset(&e, 0, sizeof(e));
	e.st = st;
	e.written_ns = 6000000000ll; /* next second: clean */
	CHECK(rq_fp_cache_usable(&e, &st));
	e.written_ns = 5999999999ll; /* same second: racy */
	CHECK(!rq_fp_cache_usable(&e, &st));
	e.written_ns = 5000000000ll; /* same second, before the mtime: racy */
	CHECK(!rq_fp_cache_usable(&e, &st));
	e.written_ns = 60000000000ll;
	rq_file_stat other = st;
	other.ctime_ns++;
	CHECK(!rq_fp_cache_usable(&e, &other));
	other = st;
	other.ino++;
	CHECK(!rq_fp_cache_usable(&e, &other));
	other = st;
	other.size++;
	CHECK(!rq_fp_cache_usable(&e, &other));
}

TEST(fp_cache_used_and_refreshed)
{
	char *dir = make_tree();
	struct memcache mc;
	memset(&mc, 0, sizeof(mc));
	rq_fp_cache cache = { &mc, mc_lookup, mc_store };
	rq_fp_options o = { &cache, 0, false, NULL, NULL };
	rq_fp_result r, r2;
	rq_fp_result_init(&r);
	rq_fp_result_init(&r2);

	/* Files written just now: entries made in the same second are racy. */
	CHECK_OK(rq_fingerprint_path(&r, dir, &o));
	CHECK_INT_EQ(r.hashed, 3);
	CHECK_INT_EQ(r.cached, 0);
	CHECK_INT_EQ(mc.n, 3);
	CHECK(mc.n > 0 && mc.paths[0][0] == '/');
	/* Age the entries by two seconds: now they are clean and used. */
	for (size_t i = 0; i < mc.n; i++)
		mc.v[i].written_ns += 2000000000ll;
	CHECK_OK(rq_fingerprint_path(&r2, dir, &o));
	CHECK_INT_EQ(r2.hashed, 0);
	CHECK_INT_EQ(r2.cached, 3);
	CHECK_STR_EQ(r2.fingerprint, r.fingerprint);

	/* Prove the cached hash is what is used: poison one entry. */
	for (size_t i = 0; i < mc.n; i++)
		if (strstr(mc.paths[i], "/z"))
			memset(mc.v[i].hash, 0x5a, RQ_HASH_LEN);
	CHECK_OK(rq_fingerprint_path(&r2, dir, &o));
	CHECK(strcmp(r2.fingerprint, r.fingerprint) != 0);

	/* Same stat but written in the file's mtime second: re-hashed. */
	for (size_t i = 0; i < mc.n; i++)
		mc.v[i].written_ns = mc.v[i].st.mtime_ns;
	CHECK_OK(rq_fingerprint_path(&r2, dir, &o));
	CHECK_INT_EQ(r2.hashed, 3);
	CHECK_STR_EQ(r2.fingerprint, r.fingerprint);

	/* A changed file (new size) is noticed even with aged entries. */
	for (size_t i = 0; i < mc.n; i++)
		mc.v[i].written_ns += 5000000000ll;
	free(unit_write_file(dir, "z", "zzzz", 4));
	CHECK_OK(rq_fingerprint_path(&r2, dir, &o));
	CHECK_INT_EQ(r2.hashed, 1);
	CHECK(strcmp(r2.fingerprint, r.fingerprint) != 0);

	/* A single file goes through the cache too, keyed by its real path. */
	char *z = path_in(dir, "z");
	CHECK_OK(rq_fingerprint_path(&r2, z, &o));
	char want[RQ_FINGERPRINT_SIZE];
	rq_fingerprint_bytes(want, "zzzz", 4);
	CHECK_STR_EQ(r2.fingerprint, want);
	free(z);

	rq_fp_result_release(&r);
	rq_fp_result_release(&r2);
	mc_release(&mc);
	free(dir);
}

static void count_progress(void *ctx, const rq_fp_progress *p)
{
	rq_fp_progress *last = ctx;
	*last = *p;
}

TEST(fingerprint_progress_reports_totals)
{
	char *dir = tmpdir_copy();
	uint8_t *big = rq_xcalloc(1, 3u << 20);
	free(unit_write_file(dir, "big", big, 3u << 20));
	free(unit_write_file(dir, "small", "s", 1));
	free(big);
	rq_fp_progress last;
	memset(&last, 0, sizeof(last));
	rq_fp_options o = { NULL, 0, false, count_progress, &last };
	rq_fp_result r;
	rq_fp_result_init(&r);
	CHECK_OK(rq_fingerprint_path(&r, dir, &o));
	CHECK_INT_EQ(last.files_total, 2);
	CHECK_INT_EQ(last.files_done, 2);
	CHECK_INT_EQ(last.bytes_total, (3u << 20) + 1);
	CHECK_INT_EQ(last.bytes_done, (3u << 20) + 1);
	rq_fp_result_release(&r);
	free(dir);
}

TEST(fp_cache_rehash_refreshes)
{
	char *dir = make_tree();
	struct memcache mc;
	memset(&mc, 0, sizeof(mc));
	rq_fp_cache cache = { &mc, mc_lookup, mc_store };
	rq_fp_options o = { &cache, 0, true, NULL, NULL };
	rq_fp_result r;
	rq_fp_result_init(&r);
	CHECK_OK(rq_fingerprint_path(&r, dir, &o));
	CHECK_INT_EQ(mc.lookups, 0);
	CHECK_INT_EQ(mc.stores, 1);
	CHECK_INT_EQ(mc.n, 3);
	for (size_t i = 0; i < mc.n; i++)
		mc.v[i].written_ns += 2000000000ll;
	CHECK_OK(rq_fingerprint_path(&r, dir, &o));
	CHECK_INT_EQ(r.hashed, 3);
	CHECK_INT_EQ(r.cached, 0);
	rq_fp_result_release(&r);
	mc_release(&mc);
	free(dir);
}
