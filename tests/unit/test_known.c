/* Verify's memory (store/known.c): round trips, growth only, interrupted
 * updates, corrupt files, --forget. */
#include "unit.h"
#include "known.h"

#include <sys/stat.h>
#include <unistd.h>

static const char *REPO = "00112233445566778899aabbccddeeff";
static const char *GENESIS = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/* A fresh $RESQUE_HOME for each test. */
static void fresh_home(void)
{
	setenv("RESQUE_HOME", unit_tmpdir(), 1);
}

/* $RESQUE_HOME/known/REPO.leaves */
static void leaves_path(rq_buf *out)
{
	rq_buf_printf(out, "%s/known/%s.leaves", getenv("RESQUE_HOME"), REPO);
}

static void leaves_of(rq_hash *out, uint64_t n, uint8_t salt)
{
	for (uint64_t i = 0; i < n; i++) {
		uint8_t data[2] = { (uint8_t)i, salt };
		rq_merkle_leaf_hash(out[i], data, sizeof(data));
	}
}

TEST(known_first_difference)
{
	rq_hash a[4], b[4];
	leaves_of(a, 4, 0);
	leaves_of(b, 4, 0);
	CHECK(rq_known_first_difference(a, 4, b, 4) == UINT64_MAX);
	CHECK(rq_known_first_difference(a, 2, b, 4) == UINT64_MAX);
	b[2][5] ^= 1;
	CHECK_INT_EQ(rq_known_first_difference(a, 4, b, 4), 2);
	CHECK(rq_known_first_difference(a, 4, b, 2) == UINT64_MAX);
}

TEST(known_put_get_grow)
{
	rq_hash v[9], *got = NULL;
	rq_known k;
	bool updated;
	fresh_home();
	leaves_of(v, 9, 1);
	CHECK_ERR(rq_known_get(&k, NULL, REPO), RQ_ENOTFOUND);
	CHECK_OK(rq_known_put(&updated, REPO, GENESIS, v, 5));
	CHECK(updated);
	CHECK_OK(rq_known_get(&k, &got, REPO));
	CHECK_INT_EQ(k.size, 5);
	CHECK_STR_EQ(k.genesis, GENESIS);
	CHECK(got && memcmp(got, v, 5 * sizeof(rq_hash)) == 0);
	free(got);
	got = NULL;
	/* memory only grows */
	CHECK_OK(rq_known_put(&updated, REPO, GENESIS, v, 3));
	CHECK(!updated);
	CHECK_OK(rq_known_put(&updated, REPO, GENESIS, v, 9));
	CHECK(updated);
	CHECK_OK(rq_known_get(&k, &got, REPO));
	CHECK_INT_EQ(k.size, 9);
	/* the root is RFC 9162's over the nine leaves */
	rq_merkle_levels t;
	rq_hash root;
	rq_merkle_levels_init(&t);
	for (int i = 0; i < 9; i++)
		rq_merkle_levels_append(&t, v[i]);
	CHECK_OK(rq_merkle_root(root, 9, rq_merkle_levels_node, &t));
	CHECK(memcmp(root, k.root, 32) == 0);
	rq_merkle_levels_release(&t);
	free(got);
	/* another genesis under the same id is refused */
	CHECK_ERR(rq_known_put(&updated, REPO,
			       "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", v, 9),
		  RQ_EINTEGRITY);
}

TEST(known_interrupted_update_is_ignored)
{
	rq_hash v[4], *got = NULL;
	rq_known k;
	bool updated;
	rq_buf path = RQ_BUF_INIT;
	fresh_home();
	leaves_of(v, 4, 2);
	CHECK_OK(rq_known_put(&updated, REPO, GENESIS, v, 2));
	/* leaves written, text line not: what a crash between the two leaves */
	leaves_path(&path);
	FILE *f = fopen(path.ptr, "ab");
	CHECK(f != NULL);
	if (f) {
		fwrite(v[2], 32, 2, f);
		fputs("torn", f);
		fclose(f);
	}
	CHECK_OK(rq_known_get(&k, &got, REPO));
	CHECK_INT_EQ(k.size, 2);
	free(got);
	got = NULL;
	CHECK_OK(rq_known_put(&updated, REPO, GENESIS, v, 3));
	CHECK_OK(rq_known_get(&k, &got, REPO));
	CHECK_INT_EQ(k.size, 3);
	CHECK(got && memcmp(got, v, 3 * sizeof(rq_hash)) == 0);
	free(got);
	struct stat st;
	CHECK(stat(path.ptr, &st) == 0 && st.st_size == 3 * 32);
	rq_buf_release(&path);
}

TEST(known_corrupt_files_and_forget)
{
	rq_hash v[3], *got = NULL;
	rq_known k;
	bool updated, dropped;
	rq_buf path = RQ_BUF_INIT, lpath = RQ_BUF_INIT;
	fresh_home();
	leaves_of(v, 3, 3);
	CHECK_OK(rq_known_put(&updated, REPO, GENESIS, v, 3));
	CHECK_OK(rq_known_path(&path));
	/* a malformed line */
	FILE *f = fopen(path.ptr, "a");
	if (f) {
		fputs("not a line\n", f);
		fclose(f);
	}
	CHECK_ERR(rq_known_get(&k, NULL, REPO), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "line 3 is malformed");
	CHECK_CONTAINS(rq_error_last(), "--forget");
	CHECK_OK(rq_known_forget(&dropped, REPO));
	CHECK(dropped);
	CHECK_ERR(rq_known_get(&k, NULL, REPO), RQ_ENOTFOUND);
	CHECK_OK(rq_known_forget(&dropped, REPO));
	CHECK(!dropped);
	/* a short leaves file */
	CHECK_OK(rq_known_put(&updated, REPO, GENESIS, v, 3));
	leaves_path(&lpath);
	CHECK(truncate(lpath.ptr, 40) == 0);
	CHECK_ERR(rq_known_get(&k, &got, REPO), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "holds 1 leaf hashes, fewer than the 3");
	CHECK(got == NULL);
	/* without asking for the leaves, the line alone reads */
	CHECK_OK(rq_known_get(&k, NULL, REPO));
	CHECK_ERR(rq_known_get(&k, NULL, "not-hex"), RQ_EINVALID);
	rq_buf_release(&path);
	rq_buf_release(&lpath);
}

/* The guard's memory: commits, signer changes and places (REPO.state). */
static void state_path(rq_buf *out)
{
	rq_buf_printf(out, "%s/known/%s.state", getenv("RESQUE_HOME"), REPO);
}

TEST(known_state_round_trip)
{
	rq_hash v[5];
	uint8_t c[5][20];
	rq_signer_change sg[2];
	rq_known_state st;
	uint8_t got[3][20];
	bool updated;
	char dir[4096];

	fresh_home();
	snprintf(dir, sizeof(dir), "%s/repo", getenv("RESQUE_HOME"));
	mkdir(dir, 0700);
	leaves_of(v, 5, 3);
	for (int i = 0; i < 5; i++)
		memset(c[i], 0x10 + i, 20);
	memset(sg, 0, sizeof(sg));
	sg[0].seq = 0;
	snprintf(sg[0].id, sizeof(sg[0].id), "0011223344556677");
	memset(sg[0].pk, 7, 32);
	sg[1].seq = 3;
	sg[1].revoke = true;
	snprintf(sg[1].id, sizeof(sg[1].id), "0011223344556677");
	/* nothing remembered: all zero, no error */
	CHECK_OK(rq_known_state_get(&st, REPO, dir));
	CHECK(st.verified == 0 && st.nsigners == 0 && st.place_size == 0);
	char v1[] = "v 1", train[] = "train";
	rq_named nm[2] = { { 1, "version", v1 }, { 4, "dataset", train } };
	char ids[5][65];
	for (int i = 0; i < 5; i++)
		memset(ids[i], "0123456789"[i], 64), ids[i][64] = '\0';
	CHECK_OK(rq_known_put_all(&updated, REPO, GENESIS, v, (const uint8_t (*)[20])c, 5, sg, 2, nm, 2,
				  (const char (*)[65])ids, 0, dir));
	uint8_t rid[1][32];
	CHECK_OK(rq_known_read_ids(rid, REPO, 3, 1));
	CHECK(rid[0][0] == 0x33 && rid[0][31] == 0x33);
	rq_named *names = NULL;
	size_t nnames = 0;
	CHECK_OK(rq_known_read_names(&names, &nnames, REPO, 4));
	CHECK_INT_EQ(nnames, 1);
	CHECK_STR_EQ(names[0].name, "v 1");
	CHECK_STR_EQ(names[0].type, "version");
	rq_known_names_free(names, nnames);
	CHECK_OK(rq_known_read_names(&names, &nnames, REPO, 5));
	CHECK_INT_EQ(nnames, 2);
	CHECK(names[1].seq == 4);
	rq_known_names_free(names, nnames);
	CHECK(updated);
	CHECK_OK(rq_known_state_get(&st, REPO, dir));
	CHECK_INT_EQ(st.verified, 5);
	CHECK_INT_EQ(st.place_size, 5);
	CHECK_INT_EQ(st.nsigners, 2);
	CHECK(!st.signers[0].revoke && st.signers[0].pk[31] == 7 && st.signers[1].revoke && st.signers[1].seq == 3);
	rq_known_state_release(&st);
	CHECK_OK(rq_known_read_commits(got, REPO, 2, 3));
	CHECK(got[0][0] == 0x12 && got[2][19] == 0x14);
	CHECK_ERR(rq_known_read_commits(got, REPO, 4, 2), RQ_EINVALID);
	/* another place; this one's size kept */
	CHECK_OK(rq_known_set_place(REPO, getenv("RESQUE_HOME"), 3));
	CHECK_OK(rq_known_state_get(&st, REPO, getenv("RESQUE_HOME")));
	CHECK_INT_EQ(st.place_size, 3);
	rq_known_state_release(&st);
	CHECK_OK(rq_known_state_get(&st, REPO, dir));
	CHECK_INT_EQ(st.place_size, 5);
	rq_known_state_release(&st);
	/* --forget drops the state and the commits too */
	bool dropped;
	CHECK_OK(rq_known_forget(&dropped, REPO));
	CHECK(dropped);
	CHECK_OK(rq_known_state_get(&st, REPO, dir));
	CHECK(st.verified == 0 && st.nsigners == 0 && st.place_size == 0);
	CHECK_ERR(rq_known_read_commits(got, REPO, 0, 1), RQ_EINVALID);
}

TEST(known_state_malformed)
{
	static const char *const bad[] = {
		"verified x\n", "verified 01\n", "signer 1 add 0011223344556677\n",
		"signer 1 revoke 0011\n", "signer 1 drop 0011223344556677\n",
		"place 00112233 4\n", "place 00112233445566778899aabbccddeeff -1\n", "what 1\n",
		"signer 1 add 0011223344556677 zz\n",
	};
	rq_known_state st;
	fresh_home();
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		rq_buf p = RQ_BUF_INIT, dir = RQ_BUF_INIT;
		rq_buf_printf(&dir, "%s/known", getenv("RESQUE_HOME"));
		mkdir(dir.ptr, 0700);
		state_path(&p);
		FILE *f = fopen(p.ptr, "w");
		CHECK(f != NULL);
		fputs("# resque verified state v1\nverified 2\n", f);
		fputs(bad[i], f);
		fclose(f);
		CHECK_ERR(rq_known_state_get(&st, REPO, NULL), RQ_EINVALID);
		CHECK(strstr(rq_error_last(), ".state: line 3 is malformed") != NULL);
		rq_buf_release(&p);
		rq_buf_release(&dir);
	}
}
