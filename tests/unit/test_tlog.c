/* Unit tests of store/tlog.c and the `merkle` table store/index.c keeps:
 * roots and proofs answered from index.db equal those of the in-memory
 * tree over the entries' bytes, before and after a reindex; checkpoints
 * are signed by current signers only, over roots of verified entries:
 * an edited index.db is never signed from. */
#include "unit.h"
#include "ledger_int.h"
#include "json.h"
#include "known.h"
#include "tlog.h"

#include <sodium.h>

#define TLOG_N 37 /* entries, genesis included: not a power of two */

static rq_ledger *tlog_ledger(rq_key **k, const char *sub)
{
	rq_buf dir = RQ_BUF_INIT;
	rq_ledger *l = NULL;
	if (sodium_init() < 0 || rq_key_generate(k) != 0)
		return NULL;
	/* verified roots remember the ledger there: never the user's own */
	setenv("RESQUE_HOME", unit_tmpdir(), 1);
	rq_buf_printf(&dir, "%s/%s/.resque", unit_tmpdir(), sub);
	if (rq_ledger_init(&l, dir.ptr, *k) != 0)
		unit_fail(__FILE__, __LINE__, "rq_ledger_init: %s", rq_error_last());
	else
		rq_ledger_set_signer(l, *k);
	rq_buf_release(&dir);
	return l;
}

static int64_t merkle_rows(rq_ledger *l)
{
	sqlite3_stmt *st = NULL;
	int64_t n = -1;
	if (sqlite3_prepare_v2(rq_ledger_db(l), "SELECT count(*) FROM merkle", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Every root, every inclusion proof and every consistency proof the store
 * gives equals the in-memory tree's and verifies. */
static void check_against(rq_ledger *l, rq_merkle_levels *t, uint64_t n)
{
	for (uint64_t size = 1; size <= n; size++) {
		rq_hash want, got;
		CHECK_OK(rq_merkle_root(want, size, rq_merkle_levels_node, t));
		CHECK_OK(rq_ledger_tree_root(got, l, size));
		CHECK(memcmp(want, got, RQ_HASH_LEN) == 0);
		for (uint64_t i = 0; i < size; i++) {
			rq_proof p;
			rq_hash mem[RQ_MERKLE_MAX_PROOF];
			size_t nmem = 0;
			CHECK_OK(rq_ledger_inclusion_proof(&p, l, i, size));
			CHECK_OK(rq_merkle_inclusion_proof(mem, &nmem, i, size, rq_merkle_levels_node, t));
			CHECK(p.kind == RQ_PROOF_INCLUSION && p.index == i && p.size == size && p.n == nmem);
			CHECK(memcmp(p.hashes, mem, nmem * RQ_HASH_LEN) == 0);
			CHECK_OK(rq_merkle_verify_inclusion(t->level[0][i], i, size, (const rq_hash *)p.hashes, p.n,
							    got));
		}
		for (uint64_t m = 1; m <= size; m++) {
			rq_proof p;
			rq_hash old;
			CHECK_OK(rq_ledger_consistency_proof(&p, l, m, size));
			CHECK(p.kind == RQ_PROOF_CONSISTENCY && p.old_size == m && p.size == size);
			CHECK_OK(rq_ledger_tree_root(old, l, m));
			CHECK_OK(rq_merkle_verify_consistency(m, size, old, got, (const rq_hash *)p.hashes, p.n));
		}
	}
}

TEST(tlog_store_matches_memory)
{
	rq_key *k = NULL;
	rq_ledger *l = tlog_ledger(&k, "tlog1");
	rq_merkle_levels t;
	uint64_t rows = 0;

	if (!l)
		return;
	for (int i = 1; i < TLOG_N; i++) {
		json_t *body = json_pack("{s:s}", "message", "a note");
		json_object_set_new(body, "i", json_integer(i));
		CHECK_OK(rq_ledger_append(NULL, l, "note", body, NULL, 0));
	}
	CHECK_INT_EQ(rq_ledger_size(l), TLOG_N);
	rq_merkle_levels_init(&t);
	for (uint64_t i = 0; i < TLOG_N; i++) {
		rq_entry *e = NULL;
		rq_hash h;
		CHECK_OK(rq_ledger_get(&e, l, i));
		if (!e)
			break;
		rq_merkle_leaf_hash(h, e->bytes.ptr, e->bytes.len);
		rq_merkle_levels_append(&t, h);
		rq_entry_free(e);
	}
	for (unsigned i = 0; i < t.depth; i++)
		rows += t.count[i];
	CHECK_INT_EQ(merkle_rows(l), rows); /* 37 + 18 + 9 + 4 + 2 + 1 */
	CHECK_INT_EQ(rows, 71);
	check_against(l, &t, TLOG_N);

	/* reindex writes the same table */
	CHECK_OK(rq_ledger_reindex(l));
	CHECK_INT_EQ(merkle_rows(l), rows);
	check_against(l, &t, TLOG_N);

	/* sizes that cannot be */
	rq_proof p;
	rq_hash r;
	CHECK_ERR(rq_ledger_tree_root(r, l, TLOG_N + 1), RQ_EINVALID);
	CHECK_ERR(rq_ledger_inclusion_proof(&p, l, 5, 5), RQ_EINVALID);
	CHECK_ERR(rq_ledger_inclusion_proof(&p, l, 0, TLOG_N + 1), RQ_EINVALID);
	CHECK_ERR(rq_ledger_consistency_proof(&p, l, 0, 5), RQ_EINVALID);
	CHECK_ERR(rq_ledger_consistency_proof(&p, l, 6, 5), RQ_EINVALID);
	CHECK_ERR(rq_ledger_consistency_proof(&p, l, 5, TLOG_N + 1), RQ_EINVALID);

	/* a missing node is an error naming index.db, not a wrong root */
	CHECK(sqlite3_exec(rq_ledger_db(l), "DELETE FROM merkle WHERE level=5 AND idx=0", NULL, NULL, NULL) ==
	      SQLITE_OK);
	CHECK_ERR(rq_ledger_tree_root(r, l, TLOG_N), RQ_EINTEGRITY);
	CHECK(strstr(rq_error_last(), "index.db: Merkle node (5, 0) is missing") != NULL);

	rq_merkle_levels_release(&t);
	rq_ledger_free(l);
	rq_key_free(k);
}

TEST(tlog_checkpoint_signed_by_current_signer)
{
	rq_key *k = NULL, *other = NULL;
	rq_ledger *l = tlog_ledger(&k, "tlog2");
	rq_buf id = RQ_BUF_INIT, cfg = RQ_BUF_INIT, origin = RQ_BUF_INIT;
	rq_checkpoint c = { 0 }, parsed = { 0 };
	rq_verifier v;
	rq_hash root;

	if (!l)
		return;
	CHECK_OK(rq_ledger_append(NULL, l, "note", json_pack("{s:s}", "message", "x"), NULL, 0));
	CHECK_OK(rq_ledger_repository_id(&id, l));
	CHECK_OK(rq_ledger_config_get(&cfg, l, "resque.id"));
	CHECK(strcmp(id.ptr, cfg.ptr) == 0 && id.len == 32);
	CHECK_OK(rq_ledger_origin(&origin, l));
	CHECK(strncmp(origin.ptr, RQ_ORIGIN_PREFIX, strlen(RQ_ORIGIN_PREFIX)) == 0 &&
	      strcmp(origin.ptr + strlen(RQ_ORIGIN_PREFIX), id.ptr) == 0);

	CHECK_OK(rq_ledger_checkpoint(&c, l, 2, k));
	CHECK_OK(rq_ledger_tree_root(root, l, 2));
	CHECK(c.size == 2 && memcmp(c.root, root, RQ_HASH_LEN) == 0 && strcmp(c.origin, origin.ptr) == 0);
	CHECK_OK(rq_checkpoint_parse(&parsed, c.text, c.text_len, "cp"));
	rq_verifier_of(&v, k);
	CHECK_OK(rq_checkpoint_verify(&parsed, &v, "cp"));

	/* a key that is not a signer, a key without its secret, size 0 */
	CHECK_OK(rq_key_generate(&other));
	rq_checkpoint_release(&c);
	CHECK_ERR(rq_ledger_checkpoint(&c, l, 2, other), RQ_EINVALID);
	CHECK(strstr(rq_error_last(), "is not a signer of this ledger") != NULL);
	rq_key pub = *k;
	pub.sk = NULL;
	CHECK_ERR(rq_ledger_checkpoint(&c, l, 2, &pub), RQ_EINVALID);
	CHECK_ERR(rq_ledger_checkpoint(&c, l, 0, k), RQ_EINVALID);
	CHECK_ERR(rq_ledger_checkpoint(&c, l, 3, k), RQ_EINVALID);

	rq_checkpoint_release(&c);
	rq_checkpoint_release(&parsed);
	rq_buf_release(&id);
	rq_buf_release(&cfg);
	rq_buf_release(&origin);
	rq_key_free(other);
	rq_ledger_free(l);
	rq_key_free(k);
}

/* rq_tlog_set_notice's function: counts the full verifications. */
static void count_notice(void *ctx, const char *message)
{
	int *n = ctx;
	if (strstr(message, "verifying the ledger first"))
		(*n)++;
}

static int exec_sql(rq_ledger *l, const char *sql)
{
	return sqlite3_exec(rq_ledger_db(l), sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* The leaf hashes of the ledger's entries as git holds them. */
static void memory_tree(rq_merkle_levels *t, rq_ledger *l, uint64_t n)
{
	rq_merkle_levels_init(t);
	for (uint64_t i = 0; i < n; i++) {
		rq_entry *e = NULL;
		rq_hash h;
		CHECK_OK(rq_ledger_get(&e, l, i));
		if (!e)
			return;
		rq_merkle_leaf_hash(h, e->bytes.ptr, e->bytes.len);
		rq_merkle_levels_append(t, h);
		rq_entry_free(e);
	}
}

TEST(tlog_verified_root_ignores_an_edited_index)
{
	rq_key *k = NULL;
	rq_ledger *l = tlog_ledger(&k, "tlog3");
	rq_merkle_levels t, t2;
	rq_checkpoint c = { 0 };
	rq_hash want, got, roots[3];
	rq_known known;
	int verifies = 0;

	if (!l)
		return;
	rq_merkle_levels_init(&t2);
	rq_tlog_set_notice(count_notice, &verifies);
	for (int i = 1; i < 11; i++)
		CHECK_OK(rq_ledger_append(NULL, l, "note", json_pack("{s:s, s:i}", "message", "n", "i", i), NULL, 0));
	memory_tree(&t, l, 11);
	CHECK_OK(rq_merkle_root(want, 11, rq_merkle_levels_node, &t));

	/* the writer remembered what it appended (as the guard verified it):
	 * no verification is needed */
	CHECK_OK(rq_ledger_verified_root(got, l, 11));
	CHECK(memcmp(want, got, RQ_HASH_LEN) == 0);
	CHECK_INT_EQ(verifies, 0);
	{
		rq_buf id = RQ_BUF_INIT;
		CHECK_OK(rq_ledger_repository_id(&id, l));
		CHECK_OK(rq_known_get(&known, NULL, id.ptr));
		CHECK_INT_EQ(known.size, 11);
		CHECK(memcmp(known.root, want, RQ_HASH_LEN) == 0);
		rq_buf_release(&id);
	}
	uint64_t sizes[3] = { 3, 11, 8 };
	CHECK_OK(rq_ledger_verified_roots(roots, l, sizes, 3));
	for (int i = 0; i < 3; i++) {
		CHECK_OK(rq_merkle_root(want, sizes[i], rq_merkle_levels_node, &t));
		CHECK(memcmp(want, roots[i], RQ_HASH_LEN) == 0);
	}
	CHECK_OK(rq_ledger_checkpoint(&c, l, 11, k));
	rq_checkpoint_release(&c);
	CHECK_INT_EQ(verifies, 0);

	/* a forged leaf in index.db: the cached root follows it, the
	 * verified one does not, and nothing is signed */
	CHECK_OK(exec_sql(l, "UPDATE merkle SET hash=zeroblob(32) WHERE level=0 AND idx=2"));
	CHECK_OK(rq_ledger_tree_root(got, l, 3));
	CHECK_OK(rq_merkle_root(want, 3, rq_merkle_levels_node, &t));
	CHECK(memcmp(want, got, RQ_HASH_LEN) != 0);
	CHECK_ERR(rq_ledger_verified_root(got, l, 3), RQ_EINTEGRITY);
	CHECK(strstr(rq_error_last(), "the ledger does not verify (run 'resque verify'): index.db's Merkle tree "
				      "disagrees with the ledger (run 'resque reindex')") != NULL);
	CHECK_ERR(rq_ledger_checkpoint(&c, l, 11, k), RQ_EINTEGRITY);
	CHECK(c.text == NULL);
	CHECK_INT_EQ(verifies, 2);
	CHECK_OK(rq_ledger_reindex(l));

	/* an edited inner node: the memory still vouches for the root, and
	 * the checkpoint is refused naming index.db */
	CHECK_OK(exec_sql(l, "UPDATE merkle SET hash=zeroblob(32) WHERE level=1 AND idx=4"));
	CHECK_OK(rq_ledger_verified_root(got, l, 11));
	CHECK_OK(rq_merkle_root(want, 11, rq_merkle_levels_node, &t));
	CHECK(memcmp(want, got, RQ_HASH_LEN) == 0);
	CHECK_INT_EQ(verifies, 2);
	CHECK_ERR(rq_ledger_checkpoint(&c, l, 11, k), RQ_EINTEGRITY);
	CHECK(strstr(rq_error_last(), "index.db: its Merkle tree disagrees with the verified ledger (run 'resque "
				      "reindex')") != NULL);
	CHECK_INT_EQ(verifies, 2);
	/* a smaller size comes through a consistency proof to the remembered
	 * root: signed when neither uses that node (9: its proof to 11 is
	 * leaves 8, 9, 10 and (3, 0)) */
	CHECK_OK(rq_ledger_checkpoint(&c, l, 9, k));
	CHECK_OK(rq_merkle_root(want, 9, rq_merkle_levels_node, &t));
	CHECK(memcmp(want, c.root, RQ_HASH_LEN) == 0);
	rq_checkpoint_release(&c);
	CHECK_INT_EQ(verifies, 2);
	/* else (8: its proof to 11 is the root of leaves 8..10) the full
	 * verification decides, and finds the edit */
	CHECK_ERR(rq_ledger_checkpoint(&c, l, 8, k), RQ_EINTEGRITY);
	CHECK(strstr(rq_error_last(), "the ledger does not verify") != NULL);
	CHECK_INT_EQ(verifies, 3);
	/* a missing node on the root's path: refused, naming index.db */
	CHECK_OK(rq_ledger_reindex(l));
	CHECK_OK(exec_sql(l, "DELETE FROM merkle WHERE level=3 AND idx=0"));
	CHECK_ERR(rq_ledger_checkpoint(&c, l, 11, k), RQ_EINTEGRITY);
	CHECK(strstr(rq_error_last(), "index.db: its Merkle tree disagrees") != NULL);
	CHECK_OK(rq_ledger_reindex(l));
	CHECK_OK(rq_ledger_checkpoint(&c, l, 11, k));
	rq_checkpoint_release(&c);
	CHECK_INT_EQ(verifies, 3);

	/* appended since, by this process: remembered as written, so the
	 * memory covers the tree without another verification */
	CHECK_OK(rq_ledger_append(NULL, l, "note", json_pack("{s:s}", "message", "later"), NULL, 0));
	CHECK_OK(rq_ledger_verified_root(got, l, 12));
	CHECK_INT_EQ(verifies, 3);
	CHECK_OK(rq_ledger_verified_root(got, l, 12));
	CHECK_OK(rq_ledger_verified_root(want, l, 5));
	memory_tree(&t2, l, 12);
	CHECK_OK(rq_merkle_root(got, 5, rq_merkle_levels_node, &t2));
	CHECK(memcmp(want, got, RQ_HASH_LEN) == 0);
	CHECK_INT_EQ(verifies, 3);
	CHECK_ERR(rq_ledger_verified_root(got, l, 13), RQ_EINVALID);

	rq_tlog_set_notice(NULL, NULL);
	rq_merkle_levels_release(&t);
	rq_merkle_levels_release(&t2);
	rq_ledger_free(l);
	rq_key_free(k);
}

TEST(tlog_verified_root_refuses_a_rolled_back_ledger)
{
	rq_key *k = NULL;
	rq_ledger *l = tlog_ledger(&k, "tlog4");
	rq_buf dir = RQ_BUF_INIT;
	rq_entry *e = NULL;
	git_reference *ref = NULL;
	git_oid oid;
	rq_hash got;

	if (!l)
		return;
	for (int i = 1; i < 6; i++)
		CHECK_OK(rq_ledger_append(NULL, l, "note", json_pack("{s:s, s:i}", "message", "n", "i", i), NULL, 0));
	CHECK_OK(rq_ledger_verified_root(got, l, 6));
	/* the branch moved back to entry 3: git holds 4 entries */
	CHECK_OK(rq_ledger_get(&e, l, 3));
	CHECK(e && git_oid_fromstr(&oid, e->commit) == 0);
	CHECK(git_reference_create(&ref, l->repo, RQ_LEDGER_REF, &oid, 1, "rollback") == 0);
	git_reference_free(ref);
	rq_buf_puts(&dir, rq_ledger_dir(l));
	rq_ledger_free(l);
	l = NULL;
	CHECK_OK(rq_ledger_open(&l, dir.ptr));
	if (l) {
		CHECK_INT_EQ(rq_ledger_size(l), 4);
		CHECK_ERR(rq_ledger_verified_root(got, l, 4), RQ_EINTEGRITY);
		CHECK(strstr(rq_error_last(), "ledger rolled back from 6 to 4 entries") != NULL);
		rq_ledger_set_signer(l, k);
		rq_checkpoint c = { 0 };
		CHECK_ERR(rq_ledger_checkpoint(&c, l, 4, k), RQ_EINTEGRITY);
	}
	rq_entry_free(e);
	rq_buf_release(&dir);
	rq_ledger_free(l);
	rq_key_free(k);
}
