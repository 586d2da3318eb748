/* Unit tests of the one-pass canonical JSON reader (core/entry/canon.c)
 * against what it replaces on verify's path: jansson's parse followed by
 * the canonical re-encoding, compared byte for byte. On every input the
 * reader must give no tree where that fails, the same tree where it
 * succeeds, and a tree wherever it succeeds (but for the documented
 * "unusual" cases). Inputs: hand-written edge cases, random canonical
 * values, the entry fuzz corpus, real entries, and byte mutations of all
 * of these. */
#include "unit.h"
#include "canon.h"
#include "entry_int.h"
#include "json.h"

#include <dirent.h>

/* The slow path: jansson reads an object, and it encodes back to `s`. */
static json_t *reference(const char *s, size_t len)
{
	json_error_t je;
	json_t *j = json_loadb(s, len, JSON_REJECT_DUPLICATES, &je);
	rq_buf canon = RQ_BUF_INIT;
	bool ok = j && json_is_object(j) && rq_json_dump(&canon, j, RQ_JSON_CANONICAL) == 0 &&
		  canon.len == len && memcmp(canon.ptr, s, len) == 0;
	rq_buf_release(&canon);
	rq_error_clear();
	if (!ok) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static size_t nchecked, naccepted;

/* The reader and the reference agree on `s`; false (and a failure
 * naming the input) when not. */
static bool agree(const char *s, size_t len)
{
	json_t *f = rq_canon_load(s, len), *r = reference(s, len);
	bool ok = (f == NULL) == (r == NULL) && (!f || json_equal(f, r));
	nchecked++;
	naccepted += f != NULL;
	if (!ok)
		unit_fail(__FILE__, __LINE__, "canon and jansson+re-encoding disagree (%s, %s) on %zu bytes: %.*s",
			  f ? "canon reads it" : "canon refuses it", r ? "reference reads it" : "reference refuses it",
			  len, (int)(len > 300 ? 300 : len), s);
	json_decref(f);
	json_decref(r);
	return ok;
}

TEST(canon_edge_cases)
{
	static const char *const cases[] = {
		"{}", "[]", "{\"a\":[]}", "{\"a\":{}}", " {}", "{} ", "{\"a\":1,}", "{\"a\":1", "{\"a\"1}", "{,}",
		"{\"a\":true,\"b\":false,\"c\":null}", "{\"a\":tru}", "{\"a\":nul}", "{\"a\":True}",
		/* key order, duplicates */
		"{\"a\":1,\"b\":2}", "{\"b\":1,\"a\":2}", "{\"a\":1,\"a\":2}", "{\"a\":1,\"ab\":2}", "{\"ab\":1,\"a\":2}",
		"{\"\":1,\"a\":2}", "{\"Z\":1,\"a\":2}", "{\"\\u001f\":1,\" \":2}", "{\"\\n\":1,\"\\t\":2}",
		"{\"\\t\":1,\"\\n\":2}", "{\"\xc3\xa9\":1,\"z\":2}", "{\"z\":1,\"\xc3\xa9\":2}",
		/* escapes */
		"{\"a\":\"\\\"\\\\\\b\\f\\n\\r\\t\"}", "{\"a\":\"\\/\"}", "{\"a\":\"/\"}", "{\"a\":\"\\u0001\"}",
		"{\"a\":\"\\u001f\"}", "{\"a\":\"\\u001F\"}", "{\"a\":\"\\u0000\"}", "{\"a\":\"\\u0020\"}",
		"{\"a\":\"\\u0008\"}", "{\"a\":\"\\u000a\"}", "{\"a\":\"\\u00e9\"}", "{\"a\":\"\\ud83d\\ude00\"}",
		"{\"a\":\"\\x\"}", "{\"a\":\"\\u00\"}", "{\"a\":\"\\", "{\"a\":\"\x7f\"}", "{\"a\":\"\x1f\"}",
		"{\"a\":\"\t\"}",
		/* UTF-8 */
		"{\"a\":\"\xc3\xa9\"}", "{\"a\":\"\xc0\x80\"}", "{\"a\":\"\xc1\xbf\"}", "{\"a\":\"\xe0\x80\x80\"}",
		"{\"a\":\"\xe0\xa0\x80\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xed\x9f\xbf\"}",
		"{\"a\":\"\xf0\x90\x80\x80\"}", "{\"a\":\"\xf4\x8f\xbf\xbf\"}", "{\"a\":\"\xf4\x90\x80\x80\"}",
		"{\"a\":\"\xf5\x80\x80\x80\"}", "{\"a\":\"\x80\"}", "{\"a\":\"\xc3\"}", "{\"a\":\"\xe2\x82\"}",
		"{\"a\":\"\xff\"}", "{\"\xc3\":1}",
		/* numbers */
		"{\"a\":0}", "{\"a\":-0}", "{\"a\":01}", "{\"a\":-01}", "{\"a\":1}", "{\"a\":-1}", "{\"a\":+1}",
		"{\"a\":1.0}", "{\"a\":1.5}", "{\"a\":-1.5}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":0.5}",
		"{\"a\":1e5}", "{\"a\":1E5}", "{\"a\":1e+5}", "{\"a\":1e-5}", "{\"a\":1e-05}", "{\"a\":0.0001}",
		"{\"a\":1e+20}", "{\"a\":1e20}", "{\"a\":1e+15}", "{\"a\":100000000000000}", "{\"a\":0.1}",
		"{\"a\":0.30000000000000004}", "{\"a\":0.3000000000000000}", "{\"a\":1.7976931348623157e+308}",
		"{\"a\":1e400}", "{\"a\":-1e400}", "{\"a\":1e-400}", "{\"a\":4.9406564584124654e-324}",
		"{\"a\":2.2250738585072014e-308}", "{\"a\":0.0}", "{\"a\":-0.0}", "{\"a\":0e0}", "{\"a\":1e}",
		"{\"a\":1e+}", "{\"a\":-}", "{\"a\":9223372036854775807}", "{\"a\":9223372036854775808}",
		"{\"a\":-9223372036854775808}", "{\"a\":-9223372036854775809}", "{\"a\":18446744073709551616}",
		"{\"a\":123456789012345678901234567890}", "{\"a\":1.2345678901234567e-300}",
		"{\"a\":[1,2.5,\"x\",[],{},null]}", "{\"a\":[1,]}", "{\"a\":[,1]}", "{\"a\":[1 ,2]}",
		"{\"a\":\"x\"}x", "{\"a\":\"x\"}\n", "",
	};
	for (size_t i = 0; i < RQ_ARRAY_SIZE(cases); i++)
		agree(cases[i], strlen(cases[i]));
	/* a NUL byte inside and after */
	agree("{\"a\":\"x\0\"}", 10);
	agree("{\"a\":1}\0", 8);
}

/* What the reader leaves to the slow path although it is canonical. */
TEST(canon_unusual_goes_the_slow_way)
{
	rq_buf b = RQ_BUF_INIT;
	json_t *r;
	for (int i = 0; i < RQ_CANON_MAX_DEPTH + 1; i++)
		rq_buf_puts(&b, "{\"a\":");
	rq_buf_puts(&b, "1");
	for (int i = 0; i < RQ_CANON_MAX_DEPTH + 1; i++)
		rq_buf_putc(&b, '}');
	r = reference(b.ptr, b.len);
	CHECK(r != NULL);
	CHECK(rq_canon_load(b.ptr, b.len) == NULL);
	json_decref(r);
	/* one level less is read */
	json_t *f = rq_canon_load(b.ptr + 5, b.len - 6);
	CHECK(f != NULL);
	json_decref(f);
	rq_buf_release(&b);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static void random_string(rq_buf *out)
{
	static const char *const pieces[] = {
		"a", "b", "Z", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f", "\x7f", "\xc3\xa9",
		"\xe2\x82\xac", "\xf0\x9f\x98\x80", "0", "-", "e", "{", "}", "[", "]", ",", ":",
	};
	size_t n = rnd() % 6;
	for (size_t i = 0; i < n; i++)
		rq_buf_puts(out, pieces[rnd() % RQ_ARRAY_SIZE(pieces)]);
}

static json_t *random_number(void)
{
	switch (rnd() % 6) {
	case 0: return json_integer((json_int_t)(rnd() % 2000) - 1000);
	case 1: return json_integer((json_int_t)rnd());
	case 2: return json_real((double)(rnd() % 100000) / 1000.0);
	case 3: return json_real((double)(int64_t)rnd() * 1e-12);
	case 4: {
		uint64_t bits = rnd();
		double d;
		memcpy(&d, &bits, sizeof(d));
		return json_real(isfinite(d) ? d : 0.25);
	}
	default: return json_real(ldexp((double)(rnd() % 1000 + 1), (int)(rnd() % 200) - 100));
	}
}

static json_t *random_value(int depth)
{
	unsigned k = (unsigned)(rnd() % (depth < 4 ? 7 : 5));
	rq_buf s = RQ_BUF_INIT;
	json_t *v;
	switch (k) {
	case 0: return json_null();
	case 1: return rnd() & 1 ? json_true() : json_false();
	case 2: return random_number();
	case 3:
	case 4:
		random_string(&s);
		v = json_stringn(s.ptr, s.len);
		rq_buf_release(&s);
		return v;
	case 5:
		v = json_array();
		for (size_t i = rnd() % 4; i > 0; i--)
			json_array_append_new(v, random_value(depth + 1));
		return v;
	default:
		v = json_object();
		for (size_t i = rnd() % 5; i > 0; i--) {
			rq_buf_reset(&s);
			random_string(&s);
			json_object_set_new(v, s.ptr, random_value(depth + 1));
		}
		rq_buf_release(&s);
		return v;
	}
}

/* Each single-byte mutation of `s` (a sample of them for long inputs). */
static void mutate_all(const char *s, size_t len)
{
	static const char alphabet[] = "\"\\{}[],:0123456789.-+eEu/ \nabfnrtxz\x01\x1f\x7f\x80\xbf\xc3\xed\xf4\xff";
	char *m = rq_xmalloc(len + 2);
	size_t step = len > 400 ? len / 400 : 1;
	for (size_t i = 0; i < len; i += step) {
		for (size_t a = 0; a < sizeof(alphabet) - 1; a += 1 + (size_t)(rnd() % 3)) {
			memcpy(m, s, len); /* replace */
			m[i] = alphabet[a];
			agree(m, len);
			memcpy(m, s, i); /* insert */
			m[i] = alphabet[a];
			memcpy(m + i + 1, s + i, len - i);
			agree(m, len + 1);
		}
		memcpy(m, s, i); /* delete */
		memcpy(m + i, s + i + 1, len - i - 1);
		agree(m, len - 1);
	}
	free(m);
}

TEST(canon_random_values_and_their_mutations)
{
	for (int i = 0; i < 1500; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "v", random_value(0));
		json_object_set_new(o, "w", random_value(1));
		rq_buf b = RQ_BUF_INIT;
		CHECK_OK(rq_json_dump(&b, o, RQ_JSON_CANONICAL));
		json_t *f = rq_canon_load(b.ptr, b.len);
		CHECK(f != NULL); /* every canonical encoding is read */
		json_decref(f);
		agree(b.ptr, b.len);
		if (i % 5 == 0)
			mutate_all(b.ptr, b.len);
		rq_buf_release(&b);
		json_decref(o);
	}
}

TEST(canon_entries_and_corpus)
{
	static const char zeros[] = "0000000000000000000000000000000000000000000000000000000000000000";
	rq_entry *e = NULL;
	json_t *body = json_pack("{s:s, s:f, s:i, s:{s:{s:s, s:i}}}", "message", "first line\nsecond \"q\" \xc3\xa9",
				 "energy_kwh", 0.0123, "epochs", 30, "attachments", "summary.rqs", "fingerprint",
				 "blake2b-256:00ff", "bytes", 41032);
	CHECK_OK(rq_entry_build(&e, 12, zeros, "version", "2026-11-29T21:00:00Z", "0123456789abcdef", body));
	agree(e->bytes.ptr, e->bytes.len);
	mutate_all(e->bytes.ptr, e->bytes.len);
	rq_entry_free(e);

	const char *data = getenv("RQ_TESTDATA");
	rq_buf dir = RQ_BUF_INIT;
	rq_buf_printf(&dir, "%s/../fuzz/corpus/entry", data ? data : "tests/data");
	DIR *d = opendir(dir.ptr);
	CHECK(d != NULL);
	struct dirent *de;
	size_t files = 0;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		rq_buf path = RQ_BUF_INIT, bytes = RQ_BUF_INIT;
		rq_buf_printf(&path, "%s/%s", dir.ptr, de->d_name);
		if (rq_file_read(&bytes, path.ptr) == 0) {
			files++;
			agree(bytes.ptr, bytes.len);
			mutate_all(bytes.ptr, bytes.len);
		}
		rq_buf_release(&path);
		rq_buf_release(&bytes);
	}
	if (d)
		closedir(d);
	CHECK(files >= 2);
	rq_buf_release(&dir);
	CHECK(nchecked > 100000);
	CHECK(naccepted > 1000);
}

/* The entry parse takes the one-pass reader's tree or the slow path's
 * message: the same outcome as before either way. */
TEST(canon_entry_parse_messages_unchanged)
{
	static const char *const bad[][2] = {
		{ "{\"body\":{},\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\","
		  "\"seq\":0,\"signer\":\"0123456789abcdef\",\"time\":\"2026-02-30T03:04:05Z\",\"type\":\"note\",\"v\":1}",
		  "entry has no valid UTC time" },
		{ "{\"body\":{},\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\","
		  "\"seq\":0,\"signer\":\"0123456789abcdef\",\"time\":\"2026-01-02T03:04:05Z\",\"type\":\"note\",\"v\":1.5}",
		  "entry has no format version" },
		{ "{\"body\":{\"x\":1.0},\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\","
		  "\"seq\":0,\"signer\":\"0123456789abcdef\",\"time\":\"2026-01-02T03:04:05Z\",\"type\":\"note\",\"v\":1}",
		  "entry is not in canonical encoding" },
		{ "{\"body\":{},\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\","
		  "\"seq\":0,\"signer\":\"0123456789abcdef\",\"time\":\"2026-01-02T03:04:05Z\",\"type\":\"note\",\"v\":1",
		  "entry is not valid JSON (" },
		{ "{\"body\":{} }", "entry has no format version" },
	};
	for (size_t i = 0; i < RQ_ARRAY_SIZE(bad); i++) {
		rq_entry *e = NULL;
		CHECK_ERR(rq_entry_parse(&e, bad[i][0], strlen(bad[i][0])), RQ_EINTEGRITY);
		CHECK_CONTAINS(rq_error_last(), bad[i][1]);
		CHECK(e == NULL);
	}
	/* times: the quick check and rq_time_parse + rq_time_format agree */
	static const char *const times[] = {
		"2024-02-29T23:59:59Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2000-02-29T00:00:00Z",
		"0999-01-01T00:00:00Z", "1000-01-01T00:00:00Z", "2026-12-31T23:59:60Z", "2026-13-01T00:00:00Z",
		"2026-04-31T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01 00:00:00Z", "9999-12-31T23:59:59Z",
		"1969-12-31T23:59:59Z", "2026-00-10T00:00:00Z", "2026-01-00T00:00:00Z",
	};
	for (size_t i = 0; i < RQ_ARRAY_SIZE(times); i++) {
		rq_entry *e = NULL;
		rq_buf b = RQ_BUF_INIT;
		int64_t t;
		char back[RQ_TIME_SIZE];
		bool want = rq_time_parse(&t, times[i]) == 0;
		if (want) {
			rq_time_format(back, t);
			want = strcmp(back, times[i]) == 0;
		}
		rq_buf_printf(&b, "{\"body\":{},\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\","
				  "\"seq\":0,\"signer\":\"0123456789abcdef\",\"time\":\"%s\",\"type\":\"note\",\"v\":1}", times[i]);
		int err = rq_entry_parse(&e, b.ptr, b.len);
		if ((err == 0) != want)
			unit_fail(__FILE__, __LINE__, "time %s: parse %d, want %s", times[i], err, want ? "ok" : "refused");
		rq_entry_free(e);
		rq_buf_release(&b);
		rq_error_clear();
	}
}
