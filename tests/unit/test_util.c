/* Unit tests of the shared helpers: rq_buf, hex, time, canonical JSON. */
#include "unit.h"
#include "json.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

TEST(buf_grows_and_stays_terminated)
{
	rq_buf b = RQ_BUF_INIT;
	CHECK(b.ptr != NULL && b.ptr[0] == '\0');
	for (int i = 0; i < 1000; i++)
		rq_buf_printf(&b, "%d,", i);
	CHECK(b.len == strlen(b.ptr));
	CHECK(strncmp(b.ptr, "0,1,2,", 6) == 0);
	rq_buf_truncate(&b, 2);
	CHECK_STR_EQ(b.ptr, "0,");
	rq_buf_release(&b);
	CHECK(b.ptr != NULL && b.len == 0);
}

TEST(hex_round_trip_and_rejects)
{
	uint8_t in[4] = { 0x00, 0xab, 0x10, 0xff }, out[4];
	char hex[9];
	rq_hex_encode(hex, in, 4);
	CHECK_STR_EQ(hex, "00ab10ff");
	CHECK_OK(rq_hex_decode(out, 4, "00AB10ff"));
	CHECK(memcmp(in, out, 4) == 0);
	CHECK_ERR(rq_hex_decode(out, 4, "00ab10f"), RQ_EINVALID);
	CHECK_ERR(rq_hex_decode(out, 4, "00ab10fg"), RQ_EINVALID);
}

TEST(time_parse_and_format)
{
	int64_t t;
	char s[RQ_TIME_SIZE];
	CHECK_OK(rq_time_parse(&t, "1970-01-01"));
	CHECK_INT_EQ(t, 0);
	CHECK_OK(rq_time_parse(&t, "2024-02-29T12:34:56Z"));
	rq_time_format(s, t);
	CHECK_STR_EQ(s, "2024-02-29T12:34:56Z");
	CHECK_OK(rq_time_parse(&t, "2024-02-29T14:34:56+02:00"));
	rq_time_format(s, t);
	CHECK_STR_EQ(s, "2024-02-29T12:34:56Z");
	CHECK_ERR(rq_time_parse(&t, "2024-13-01"), RQ_EINVALID);
	CHECK_ERR(rq_time_parse(&t, "yesterday"), RQ_EINVALID);
}

TEST(json_canonical_sorts_and_is_stable)
{
	json_t *j;
	rq_buf a = RQ_BUF_INIT, b = RQ_BUF_INIT;
	const char *src = "{\"b\": [1, 2.5, \"x\\u0001\"], \"a\": {\"z\": null, \"y\": 0.1}}";
	CHECK_OK(rq_json_parse(&j, src, strlen(src), "test"));
	CHECK_OK(rq_json_dump(&a, j, RQ_JSON_CANONICAL));
	CHECK_STR_EQ(a.ptr, "{\"a\":{\"y\":0.1,\"z\":null},\"b\":[1,2.5,\"x\\u0001\"]}");
	json_decref(j);
	CHECK_OK(rq_json_parse(&j, a.ptr, a.len, "test"));
	CHECK_OK(rq_json_dump(&b, j, RQ_JSON_CANONICAL));
	CHECK_STR_EQ(a.ptr, b.ptr);
	json_decref(j);
	rq_buf_release(&a);
	rq_buf_release(&b);
}

TEST(json_rejects_duplicates_and_nonfinite)
{
	json_t *j;
	const char *dup = "{\"a\":1,\"a\":2}";
	CHECK_ERR(rq_json_parse(&j, dup, strlen(dup), "dup.json"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "dup.json");
	rq_buf out = RQ_BUF_INIT;
	j = json_real(1.0);
	json_real_set(j, INFINITY);
	/* jansson refuses to store inf; either way nothing non-finite is printed */
	if (!isfinite(json_real_value(j)))
		CHECK_ERR(rq_json_dump(&out, j, RQ_JSON_CANONICAL), RQ_EINVALID);
	json_decref(j);
	rq_buf_release(&out);
}

TEST(json_doubles_round_trip_shortest)
{
	double vals[] = { 0.1, 1.0 / 3.0, 1e-300, 123456789.125, -2.5e17, 5e-324 };
	char s[RQ_JSON_DOUBLE_SIZE];
	for (size_t i = 0; i < RQ_ARRAY_SIZE(vals); i++) {
		rq_json_format_double(s, vals[i]);
		CHECK(strtod(s, NULL) == vals[i]);
	}
	rq_json_format_double(s, 0.1);
	CHECK_STR_EQ(s, "0.1");
}

/* The canonical spelling of a double is a contract of the ledger format:
 * an entry written by one resque must re-encode identically in another.
 * rq_json_format_double has a fast exact path; it must agree with the
 * reference definition (the shortest of %.15g, %.16g, %.17g that reads
 * back) everywhere, above all near its range limits and round-trip ties. */
static void reference_spelling(char out[RQ_JSON_DOUBLE_SIZE], double d)
{
	if (d == 0) {
		snprintf(out, 32, "0");
		return;
	}
	for (int p = 15; p <= 17; p++) {
		snprintf(out, 32, "%.*g", p, d);
		if (strtod(out, NULL) == d)
			return;
	}
}

TEST(json_double_spelling_matches_reference)
{
	uint64_t x = 0x9e3779b97f4a7c15u;
	size_t bad = 0, n = 0;
	char a[RQ_JSON_DOUBLE_SIZE], b[RQ_JSON_DOUBLE_SIZE];
	for (int i = 0; i < 400000; i++) {
		/* xorshift64*: random bit patterns, decimal-looking values and
		 * neighbours of powers of two and of ten */
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		uint64_t r = x * 2685821657736338717u;
		double d;
		switch (i % 4) {
		case 0:
			memcpy(&d, &r, sizeof(d));
			if (!isfinite(d))
				continue;
			break;
		case 1:
			d = (double)(r % 100000000) / pow(10, (double)(r >> 59)); /* short decimals */
			break;
		case 2:
			d = nextafter(ldexp(1, (int)(r % 120) - 60), (r >> 63) ? 0 : INFINITY);
			break;
		default:
			d = nextafter(pow(10, (double)((int)(r % 24) - 6)), (r >> 63) ? 0 : INFINITY);
			if (r & 2)
				d = pow(10, (double)((int)(r % 24) - 6));
			break;
		}
		if (r & 1)
			d = -d;
		rq_json_format_double(a, d);
		reference_spelling(b, d);
		n++;
		if (strcmp(a, b) != 0 && bad++ < 5)
			unit_fail(__FILE__, __LINE__, "%.17g spelt %s, reference %s", d, a, b);
	}
	CHECK(n > 300000);
	CHECK(bad == 0);
}

TEST(error_message_may_quote_the_last_one)
{
	rq_error_set(RQ_EINVALID, "known_ledgers: line 3 is malformed");
	rq_error_set(RQ_EINVALID, "%s (%s)", rq_error_last(), "run 'resque verify --forget'");
	CHECK(strcmp(rq_error_last(), "known_ledgers: line 3 is malformed (run 'resque verify --forget')") == 0);
	rq_error_clear();
}

/* jansson allocates through rq_xmalloc's policy (installed by a constructor
 * in core/base/buf.c, with no call from the program): a failure aborts with the
 * same message instead of returning NULL. */
TEST(json_allocation_failure_aborts_like_xmalloc)
{
	json_malloc_t m = NULL;
	json_free_t f = NULL;
	json_get_alloc_funcs(&m, &f);
	CHECK(m != NULL && m != malloc);
	CHECK(f == free);
#ifndef __SANITIZE_ADDRESS__ /* ASan reports a failing malloc itself */
	int fds[2];
	CHECK(pipe(fds) == 0);
	fflush(stderr);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		void *p = m(SIZE_MAX);
		_exit(p ? 3 : 4);
	}
	close(fds[1]);
	char msg[200] = "";
	size_t len = 0;
	ssize_t got;
	while (len < sizeof(msg) - 1 &&
	       (got = read(fds[0], msg + len, sizeof(msg) - 1 - len)) > 0)
		len += (size_t)got;
	msg[len] = '\0';
	close(fds[0]);
	int status = 0;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	CHECK(strncmp(msg, "resque: out of memory (allocating ", 34) == 0);
#endif
}

TEST(error_names_every_code)
{
	CHECK_STR_EQ(rq_error_name(RQ_OK), "success");
	CHECK_STR_EQ(rq_error_name(RQ_ENOTFOUND), "not found");
	CHECK_STR_EQ(rq_error_name(RQ_EINTEGRITY), "integrity violation");
	CHECK_STR_EQ(rq_error_name(RQ_EUNSUPPORTED), "unsupported");
	CHECK_STR_EQ(rq_error_name(-1000), "error");
}
