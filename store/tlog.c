/* The ledger as a transparency log (design §2.3): roots, proofs and signed
 * checkpoints answered from the perfect subtrees that index.db keeps in
 * table `merkle` (rq_index_insert adds them as entries arrive). */
#include "common.h"
#include "ledger_int.h"
#include "resque/json.h"
#include "resque/tlog.h"

/* An rq_merkle_node_fn over index.db: one prepared statement, reused for
 * every look-up of a root or proof. */
struct node_reader {
	rq_ledger *l;
	sqlite3_stmt *st;
};

static int reader_open(struct node_reader *r, rq_ledger *l)
{
	r->l = l;
	r->st = NULL;
	if (sqlite3_prepare_v2(l->db, "SELECT hash FROM merkle WHERE level=?1 AND idx=?2", -1, &r->st, NULL) !=
	    SQLITE_OK)
		return rq_error_set(RQ_EIO, "%s/index.db: reading the Merkle tree: %s", l->dir,
				    sqlite3_errmsg(l->db));
	return 0;
}

static void reader_close(struct node_reader *r)
{
	sqlite3_finalize(r->st);
	r->st = NULL;
}

static int node_from_db(rq_hash out, unsigned level, uint64_t index, void *ctx)
{
	struct node_reader *r = ctx;
	int err = 0, rc;

	sqlite3_reset(r->st);
	sqlite3_bind_int(r->st, 1, (int)level);
	sqlite3_bind_int64(r->st, 2, (sqlite3_int64)index);
	rc = sqlite3_step(r->st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(r->st, 0) == RQ_HASH_LEN)
		memcpy(out, sqlite3_column_blob(r->st, 0), RQ_HASH_LEN);
	else if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		err = rq_error_set(RQ_EINTEGRITY,
				   "%s/index.db: Merkle node (%u, %" PRIu64 ") is %s (run 'resque verify')",
				   r->l->dir, level, index, rc == SQLITE_ROW ? "malformed" : "missing");
	else
		err = rq_error_set(RQ_EIO, "%s/index.db: reading the Merkle tree: %s", r->l->dir,
				   sqlite3_errmsg(r->l->db));
	sqlite3_reset(r->st);
	return err;
}

static int check_size(rq_ledger *l, uint64_t size)
{
	uint64_t n = rq_ledger_size(l);
	if (size > n)
		return rq_error_set(RQ_EINVALID, "the ledger has %" PRIu64 " entr%s, not %" PRIu64, n,
				    n == 1 ? "y" : "ies", size);
	return 0;
}

int rq_ledger_repository_id(rq_buf *out, rq_ledger *l)
{
	rq_entry *e = NULL;
	int err = rq_ledger_get(&e, l, 0);
	if (err)
		goto done;
	const char *id = rq_json_str(e->body, "repository", "");
	if (strcmp(e->type, "init") != 0 || !*id || strlen(id) > 128) {
		err = rq_error_set(RQ_EINTEGRITY, "the genesis entry names no repository id");
		goto done;
	}
	rq_buf_puts(out, id);
done:
	rq_entry_free(e);
	return err;
}

int rq_ledger_origin(rq_buf *out, rq_ledger *l)
{
	rq_buf id = RQ_BUF_INIT;
	int err = rq_ledger_repository_id(&id, l);
	if (!err)
		rq_buf_printf(out, "%s%s", RQ_ORIGIN_PREFIX, id.ptr);
	rq_buf_release(&id);
	return err;
}

int rq_ledger_tree_root(rq_hash out, rq_ledger *l, uint64_t size)
{
	struct node_reader r;
	int err = check_size(l, size);
	if (err)
		return err;
	if ((err = reader_open(&r, l)) == 0)
		err = rq_merkle_root(out, size, node_from_db, &r);
	reader_close(&r);
	return err;
}

int rq_ledger_inclusion_proof(rq_proof *out, rq_ledger *l, uint64_t seq, uint64_t size)
{
	struct node_reader r;
	int err;

	memset(out, 0, sizeof(*out));
	out->kind = RQ_PROOF_INCLUSION;
	out->index = seq;
	out->size = size;
	if ((err = check_size(l, size)))
		return err;
	if (seq >= size)
		return rq_error_set(RQ_EINVALID, "entry %" PRIu64 " is not in the tree of %" PRIu64 " entr%s", seq,
				    size, size == 1 ? "y" : "ies");
	if ((err = reader_open(&r, l)) == 0)
		err = rq_merkle_inclusion_proof(out->hashes, &out->n, seq, size, node_from_db, &r);
	reader_close(&r);
	return err;
}

int rq_ledger_consistency_proof(rq_proof *out, rq_ledger *l, uint64_t old_size, uint64_t size)
{
	struct node_reader r;
	int err;

	memset(out, 0, sizeof(*out));
	out->kind = RQ_PROOF_CONSISTENCY;
	out->old_size = old_size;
	out->size = size;
	if ((err = check_size(l, size)))
		return err;
	if (old_size == 0 || old_size > size)
		return rq_error_set(RQ_EINVALID, "no consistency proof from %" PRIu64 " to %" PRIu64
				    " entries (need 0 < old size <= size)", old_size, size);
	if ((err = reader_open(&r, l)) == 0)
		err = rq_merkle_consistency_proof(out->hashes, &out->n, old_size, size, node_from_db, &r);
	reader_close(&r);
	return err;
}

int rq_ledger_checkpoint(rq_checkpoint *out, rq_ledger *l, uint64_t size, const rq_key *k)
{
	rq_buf origin = RQ_BUF_INIT;
	uint8_t pk[32];
	bool revoked = false;
	rq_hash root;
	int err;

	memset(out, 0, sizeof(*out));
	if (!k->sk) {
		err = rq_error_set(RQ_EINVALID, "key %s: no secret key to sign a checkpoint with", k->id);
		goto done;
	}
	err = rq_ledger_signer(pk, &revoked, l, k->id);
	if (err == RQ_ENOTFOUND || (!err && (revoked || memcmp(pk, k->pk, 32) != 0))) {
		err = rq_error_set(RQ_EINVALID, "key %s %s", k->id,
				   err || memcmp(pk, k->pk, 32) != 0 ? "is not a signer of this ledger"
								      : "was revoked: it cannot sign checkpoints");
		goto done;
	}
	if (err)
		goto done;
	if (size == 0) {
		err = rq_error_set(RQ_EINVALID, "a checkpoint needs a tree of at least one entry");
		goto done;
	}
	if ((err = rq_ledger_origin(&origin, l)) || (err = rq_ledger_tree_root(root, l, size)))
		goto done;
	err = rq_checkpoint_sign(out, origin.ptr, size, root, k);
done:
	rq_buf_release(&origin);
	return err;
}
