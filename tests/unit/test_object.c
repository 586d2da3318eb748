/* Unit tests of store/object.c's loose-object parser: objects made here
 * with zlib and hashed by libgit2 parse; every truncation, a wrong size,
 * trailing bytes, a bad header or a wrong id is RQ_EINTEGRITY naming the
 * object, and leaves nothing in the output. */
#include "unit.h"
#include "object_int.h"

#include <zlib.h>

/* The loose-object file of "HEADER\0BODY" (compressed at `level`). */
static void make_loose(rq_buf *out, const char *header, const void *body, size_t len, int level)
{
	rq_buf raw = RQ_BUF_INIT;
	rq_buf_puts(&raw, header);
	rq_buf_putc(&raw, '\0');
	rq_buf_put(&raw, body, len);
	uLongf n = compressBound((uLong)raw.len);
	rq_buf_reset(out);
	rq_buf_grow(out, n);
	if (compress2((Bytef *)out->ptr, &n, (const Bytef *)raw.ptr, (uLong)raw.len, level) != Z_OK)
		unit_fail(__FILE__, __LINE__, "compress2 failed");
	out->len = n;
	rq_buf_release(&raw);
}

static void expect_corrupt(const void *data, size_t len, const git_oid *id, const char *reason)
{
	rq_buf body = RQ_BUF_INIT;
	git_object_t type;
	CHECK_ERR(rq_object_parse_loose(&body, &type, data, len, id), RQ_EINTEGRITY);
	CHECK(body.len == 0);
	CHECK(type == GIT_OBJECT_INVALID);
	if (reason && !strstr(rq_error_last(), reason))
		unit_fail(__FILE__, __LINE__, "message '%s' lacks '%s'", rq_error_last(), reason);
	rq_buf_release(&body);
}

TEST(object_loose_parses_and_hashes)
{
	rq_buf file = RQ_BUF_INIT, body = RQ_BUF_INIT;
	git_object_t type;
	git_oid id;
	const char text[] = "hello, ledger\n";

	git_libgit2_init();
	make_loose(&file, "blob 14", text, 14, 6);
	CHECK_OK(git_odb_hash(&id, text, 14, GIT_OBJECT_BLOB));
	/* git's own id of this blob: printf 'hello, ledger\n' | git hash-object --stdin */
	char hex[GIT_OID_HEXSZ + 1];
	git_oid_tostr(hex, sizeof(hex), &id);
	CHECK(strcmp(hex, "110d51b5729077ace9ccb2b0c3791958ea851865") == 0);
	rq_buf_puts(&body, "prefix:");
	CHECK_OK(rq_object_parse_loose(&body, &type, file.ptr, file.len, &id));
	CHECK(type == GIT_OBJECT_BLOB);
	CHECK(body.len == 7 + 14 && memcmp(body.ptr + 7, text, 14) == 0);
	/* under another id: the content does not hash to it */
	git_oid other = id;
	other.id[0] ^= 1;
	expect_corrupt(file.ptr, file.len, &other, "does not hash to its id");
	/* the message names the object by its first 12 hex digits */
	char want[13];
	git_oid_tostr(want, sizeof(want), &other);
	CHECK(strstr(rq_error_last(), want) != NULL);
	rq_buf_release(&file);
	rq_buf_release(&body);
	git_libgit2_shutdown();
}

TEST(object_loose_every_truncation_is_refused)
{
	rq_buf file = RQ_BUF_INIT;
	git_oid id;
	char text[300];

	git_libgit2_init();
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (char)('a' + (i * 7) % 26);
	make_loose(&file, "blob 300", text, sizeof(text), 9);
	CHECK_OK(git_odb_hash(&id, text, sizeof(text), GIT_OBJECT_BLOB));
	for (size_t l = 0; l < file.len; l++) {
		expect_corrupt(file.ptr, l, &id, NULL);
		expect_corrupt(file.ptr, l, NULL, NULL);
	}
	rq_buf_release(&file);
	git_libgit2_shutdown();
}

TEST(object_loose_framing_is_checked)
{
	rq_buf file = RQ_BUF_INIT;

	make_loose(&file, "blob 4", "abc", 3, 6);
	expect_corrupt(file.ptr, file.len, NULL, "shorter than its header says");
	make_loose(&file, "blob 2", "abc", 3, 6);
	expect_corrupt(file.ptr, file.len, NULL, "longer than its header says");
	make_loose(&file, "blob 03", "abc", 3, 6);
	expect_corrupt(file.ptr, file.len, NULL, "no valid size");
	make_loose(&file, "blob ", "", 0, 6);
	expect_corrupt(file.ptr, file.len, NULL, "no valid size");
	make_loose(&file, "blob 99999999999999999999999", "abc", 3, 6);
	expect_corrupt(file.ptr, file.len, NULL, "no valid size");
	make_loose(&file, "blob 999999999999", "abc", 3, 6); /* a lying size allocates nothing big */
	expect_corrupt(file.ptr, file.len, NULL, "shorter than its header says");
	make_loose(&file, "blub 3", "abc", 3, 6);
	expect_corrupt(file.ptr, file.len, NULL, "does not name an object type");
	make_loose(&file, "blob 3 x", "abc", 3, 6);
	expect_corrupt(file.ptr, file.len, NULL, "no valid size");
	/* no NUL in the first bytes */
	make_loose(&file, "blob 3xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "abc", 3, 6);
	expect_corrupt(file.ptr, file.len, NULL, "no valid header");
	/* bytes after the stream */
	make_loose(&file, "blob 3", "abc", 3, 6);
	rq_buf_puts(&file, "zz");
	expect_corrupt(file.ptr, file.len, NULL, "2 bytes follow its compressed data");
	/* not zlib at all */
	expect_corrupt("blob 3\0abc", 10, NULL, "bad compressed data");
	/* one flipped byte anywhere is refused (zlib's check or the hash) */
	git_oid id;
	git_libgit2_init();
	make_loose(&file, "blob 3", "abc", 3, 6);
	CHECK_OK(git_odb_hash(&id, "abc", 3, GIT_OBJECT_BLOB));
	for (size_t i = 0; i < file.len; i++) {
		file.ptr[i] ^= 0x55;
		expect_corrupt(file.ptr, file.len, &id, NULL);
		file.ptr[i] ^= 0x55;
	}
	git_libgit2_shutdown();
	rq_buf_release(&file);
}

TEST(object_loose_large_stored_blob)
{
	/* level 0 (stored blocks) over several of the parser's 64 KiB rounds */
	size_t n = 300000;
	char *big = rq_xmalloc(n);
	rq_buf file = RQ_BUF_INIT, body = RQ_BUF_INIT, header = RQ_BUF_INIT;
	git_object_t type;
	git_oid id;

	git_libgit2_init();
	for (size_t i = 0; i < n; i++)
		big[i] = (char)(i * 131 + (i >> 8));
	rq_buf_printf(&header, "blob %zu", n);
	make_loose(&file, header.ptr, big, n, 0);
	CHECK_OK(git_odb_hash(&id, big, n, GIT_OBJECT_BLOB));
	CHECK_OK(rq_object_parse_loose(&body, &type, file.ptr, file.len, &id));
	CHECK(body.len == n && memcmp(body.ptr, big, n) == 0);
	expect_corrupt(file.ptr, file.len - 1, &id, "truncated");
	expect_corrupt(file.ptr, file.len / 2, &id, "truncated");
	free(big);
	rq_buf_release(&file);
	rq_buf_release(&body);
	rq_buf_release(&header);
	git_libgit2_shutdown();
}
