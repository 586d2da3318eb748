/* The ledger as a transparency log (docs/FORMATS.md): roots and proofs
 * answered from the perfect subtrees that index.db keeps in table `merkle`
 * (rq_index_insert adds them as entries arrive), and the roots this
 * program vouches for (checkpoints, proof checks) computed from leaf
 * hashes of verified entries only: index.db is derived data anyone can
 * edit, so it is never signed from. */
#include "common.h"
#include "ledger_int.h"
#include "json.h"
#include "known.h"
#include "tlog.h"

#include <sodium.h>

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
				   "%s/index.db: Merkle node (%u, %" PRIu64 ") is %s (run 'resque reindex')",
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

/* ---- roots vouched for ---- */

static rq_tlog_notice_fn notice_fn;
static void *notice_ctx;

void rq_tlog_set_notice(rq_tlog_notice_fn fn, void *ctx)
{
	notice_fn = fn;
	notice_ctx = ctx;
}

#define notice rq_ledger__notice

void rq_ledger__notice(const char *fmt, ...)
{
	rq_buf m = RQ_BUF_INIT;
	va_list ap;
	if (!notice_fn)
		return;
	va_start(ap, fmt);
	rq_buf_vprintf(&m, fmt, ap);
	va_end(ap);
	notice_fn(notice_ctx, m.ptr);
	rq_buf_release(&m);
}

/* index.db's leaf hashes (level 0 of table `merkle`) [0, n) are `want`. */
static bool index_leaves_are(rq_ledger *l, const rq_hash *want, uint64_t n)
{
	sqlite3_stmt *st = NULL;
	uint64_t i = 0;
	bool ok = true;

	if (sqlite3_prepare_v2(l->db, "SELECT idx, hash FROM merkle WHERE level=0 AND idx<?1 ORDER BY idx", -1, &st,
			       NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)n);
	while (ok && sqlite3_step(st) == SQLITE_ROW) {
		ok = i < n && sqlite3_column_int64(st, 0) == (sqlite3_int64)i &&
		     sqlite3_column_bytes(st, 1) == RQ_HASH_LEN &&
		     memcmp(sqlite3_column_blob(st, 1), want[i], RQ_HASH_LEN) == 0;
		i++;
	}
	sqlite3_finalize(st);
	return ok && i == n;
}

/* Does the memory (k, kleaves: the leaves as read, unchecked) still
 * describe this ledger of n entries? The cheap check: its genesis,
 * index.db's leaf hashes, and the tip entry as git holds it (index.db and
 * git agree at the tip, whose hash chain pins every earlier entry). The
 * roots themselves never come from these leaves but from the remembered
 * root (vouch_root), so leaves that lie can only send us to the full
 * verification. */
/* The leaf hash of the entry `back` commits below git's tip, read from
 * git itself (first parents, the entry blob of that commit's tree). */
static bool git_leaf_below(rq_hash out, rq_ledger *l, const git_oid *tip, uint64_t back)
{
	git_commit *c = NULL, *p = NULL;
	git_tree *t = NULL;
	git_blob *b = NULL;
	const git_tree_entry *te;
	bool ok = false;

	if (git_commit_lookup(&c, l->repo, tip))
		goto done;
	for (uint64_t i = 0; i < back; i++) {
		if (git_commit_parent(&p, c, 0))
			goto done;
		git_commit_free(c);
		c = p;
		p = NULL;
	}
	if (git_commit_tree(&t, c) || !(te = git_tree_entry_byname(t, "entry")) ||
	    git_blob_lookup(&b, l->repo, git_tree_entry_id(te)))
		goto done;
	rq_merkle_leaf_hash(out, git_blob_rawcontent(b), (size_t)git_blob_rawsize(b));
	ok = true;
done:
	git_blob_free(b);
	git_tree_free(t);
	git_commit_free(p);
	git_commit_free(c);
	return ok;
}

static bool memory_holds(rq_ledger *l, const rq_known *k, const rq_hash *kleaves, uint64_t n)
{
	rq_entry *g = NULL, *t = NULL;
	struct node_reader r = { NULL, NULL };
	rq_hash leaf, want;
	git_oid tip;
	char hex[GIT_OID_HEXSZ + 1];
	bool ok = false;

	if (k->size == 0 || k->size > n || !index_leaves_are(l, kleaves, k->size))
		goto done;
	if (rq_ledger_get(&g, l, 0) || strcmp(g->id, k->genesis) != 0)
		goto done;
	if (git_reference_name_to_id(&tip, l->repo, RQ_LEDGER_REF) != 0)
		goto done;
	git_oid_tostr(hex, sizeof(hex), &tip);
	if (rq_ledger_get(&t, l, n - 1) || strcmp(t->commit, hex) != 0)
		goto done;
	rq_merkle_leaf_hash(leaf, t->bytes.ptr, t->bytes.len);
	if (n == k->size)
		memcpy(want, kleaves[n - 1], RQ_HASH_LEN);
	else if (reader_open(&r, l) || node_from_db(want, 0, n - 1, &r))
		goto done;
	ok = sodium_memcmp(leaf, want, RQ_HASH_LEN) == 0;
	/* The ledger grew since the memory: git's own entry at the remembered
	 * size must still be the one remembered (the entries before it are
	 * pinned to it by their hash chain, which only a full verify checks
	 * link by link). */
	if (ok && n > k->size)
		ok = git_leaf_below(leaf, l, &tip, n - k->size) &&
		     sodium_memcmp(leaf, kleaves[k->size - 1], RQ_HASH_LEN) == 0;
done:
	reader_close(&r);
	rq_entry_free(g);
	rq_entry_free(t);
	rq_error_clear();
	return ok;
}

/* The first problem of a verification, as one line. */
static int not_verified(const rq_verify_report *r)
{
	const rq_problem *p = r->nproblems ? &r->problems[0] : NULL;
	if (!p)
		return rq_error_set(RQ_EINTEGRITY, "the ledger does not verify (run 'resque verify')");
	if (p->seq >= 0)
		return rq_error_set(RQ_EINTEGRITY, "the ledger does not verify (run 'resque verify'): entry %" PRId64
				    " (%.12s): %s", p->seq, p->id[0] ? p->id : "?", p->message);
	return rq_error_set(RQ_EINTEGRITY, "the ledger does not verify (run 'resque verify'): %s", p->message);
}

/* What vouches for roots: verify's memory (warm: the remembered root of
 * k.size entries, smaller roots through index.db checked by consistency
 * proofs against it), or a verification just run (cold: every perfect
 * subtree of the verified leaves, in memory). */
struct vouch {
	bool warm;
	rq_known k;
	rq_merkle_levels t;
	uint64_t n; /* entries vouched for */
};

static void vouch_release(struct vouch *v)
{
	rq_merkle_levels_release(&v->t);
	memset(v, 0, sizeof(*v));
	rq_merkle_levels_init(&v->t);
}

static int vouch_open(struct vouch *v, rq_ledger *l, uint64_t need, bool cold)
{
	rq_buf repo = RQ_BUF_INIT, warning = RQ_BUF_INIT;
	rq_verify_report vr;
	rq_hash *leaves = NULL;
	uint64_t size = rq_ledger_size(l), n = 0;
	const char *why = "no record of an earlier verify";
	int err = 0;

	memset(&vr, 0, sizeof(vr));
	vouch_release(v);
	if (!cold && rq_ledger_repository_id(&repo, l) == 0 && rq_known_id_valid(repo.ptr)) {
		err = rq_known_get(&v->k, NULL, repo.ptr);
		if (err && err != RQ_ENOTFOUND)
			goto done; /* a corrupt memory: verify refuses too */
		if (!err && v->k.size >= need && v->k.size <= size && rq_known_read_leaves(&leaves, &v->k) == 0 &&
		    memory_holds(l, &v->k, leaves, size)) {
			v->warm = true;
			v->n = v->k.size;
			goto done;
		}
		if (!err)
			why = v->k.size < need ? "the last verify saw fewer entries"
					       : "the ledger or index.db changed since the last verify";
	} else if (cold) {
		why = "index.db disagrees with what verify remembered";
	}
	rq_error_clear();
	err = 0;
	notice("verifying the ledger first (%s)", why);
	err = rq_ledger_verify(&vr, l);
	if (err == RQ_EINTEGRITY || (!err && vr.nproblems)) {
		err = not_verified(&vr);
		goto done;
	}
	if (err || (err = rq_known_remember(NULL, &warning, &vr)))
		goto done;
	if (warning.len)
		notice("%s", warning.ptr);
	/* the leaves verify itself computed from git's bytes */
	n = vr.nleaves;
	if (n < need) {
		err = rq_error_set(RQ_EINTEGRITY, "%s: the ledger holds %" PRIu64 " verified entries, not %" PRIu64,
				   l->dir, n, size);
		goto done;
	}
	for (uint64_t i = 0; i < n; i++)
		rq_merkle_levels_append(&v->t, vr.leaves[i]);
	v->n = n;
done:
	if (err)
		vouch_release(v);
	rq_verify_report_release(&vr);
	free(leaves);
	rq_buf_release(&warning);
	rq_buf_release(&repo);
	return err;
}

/* The root of `size` <= v->n entries. Warm, a size short of the
 * remembered one comes from index.db with a consistency proof checked
 * against the remembered root: *stale when index.db cannot give one that
 * holds (then only a full verification can vouch). */
static int vouch_root(rq_hash out, bool *stale, struct vouch *v, rq_ledger *l, uint64_t size)
{
	struct node_reader r;
	rq_hash proof[RQ_MERKLE_MAX_PROOF];
	size_t np = 0;
	int err;

	*stale = false;
	if (!v->warm)
		return rq_merkle_root(out, size, rq_merkle_levels_node, &v->t);
	if (size == v->k.size) {
		memcpy(out, v->k.root, RQ_HASH_LEN);
		return 0;
	}
	if ((err = reader_open(&r, l)) == 0 && (err = rq_merkle_root(out, size, node_from_db, &r)) == 0)
		err = rq_merkle_consistency_proof(proof, &np, size, v->k.size, node_from_db, &r);
	reader_close(&r);
	if (err == RQ_EIO)
		return err;
	if (err || rq_merkle_verify_consistency(size, v->k.size, out, v->k.root, (const rq_hash *)proof, np))
		*stale = true;
	rq_error_clear();
	return 0;
}

int rq_ledger_verified_roots(rq_hash *out, rq_ledger *l, const uint64_t *sizes, size_t count)
{
	struct vouch v;
	uint64_t need = 0;
	bool stale = false;
	int err = 0;

	memset(&v, 0, sizeof(v));
	rq_merkle_levels_init(&v.t);
	for (size_t i = 0; i < count; i++) {
		if ((err = check_size(l, sizes[i])))
			goto done;
		if (sizes[i] > need)
			need = sizes[i];
	}
	if ((err = vouch_open(&v, l, need, false)))
		goto done;
	for (size_t i = 0; i < count && !err && !stale; i++)
		err = vouch_root(out[i], &stale, &v, l, sizes[i]);
	if (!err && stale) {
		if ((err = vouch_open(&v, l, need, true)))
			goto done;
		for (size_t i = 0; i < count && !err; i++)
			err = vouch_root(out[i], &stale, &v, l, sizes[i]);
	}
done:
	vouch_release(&v);
	return err;
}

int rq_ledger_verified_root(rq_hash out, rq_ledger *l, uint64_t size)
{
	rq_hash r[1];
	int err = rq_ledger_verified_roots(r, l, &size, 1);
	if (!err)
		memcpy(out, r[0], RQ_HASH_LEN);
	return err;
}

int rq_ledger_checkpoint(rq_checkpoint *out, rq_ledger *l, uint64_t size, const rq_key *k)
{
	rq_buf origin = RQ_BUF_INIT;
	uint8_t pk[RQ_PUBKEY_LEN];
	bool revoked = false;
	rq_hash root, cached;
	int err;

	memset(out, 0, sizeof(*out));
	if (!k->sk) {
		err = rq_error_set(RQ_EINVALID, "key %s: no secret key to sign a checkpoint with", k->id);
		goto done;
	}
	err = rq_ledger_signer(pk, &revoked, l, k->id);
	if (err == RQ_ENOTFOUND || (!err && (revoked || memcmp(pk, k->pk, RQ_PUBKEY_LEN) != 0))) {
		err = rq_error_set(RQ_EINVALID, "key %s %s", k->id,
				   err || memcmp(pk, k->pk, RQ_PUBKEY_LEN) != 0 ? "is not a signer of this ledger"
								      : "was revoked: it cannot sign checkpoints");
		goto done;
	}
	if (err)
		goto done;
	if (size == 0) {
		err = rq_error_set(RQ_EINVALID, "a checkpoint needs a tree of at least one entry");
		goto done;
	}
	if ((err = rq_ledger_origin(&origin, l)) || (err = rq_ledger_verified_root(root, l, size)))
		goto done;
	/* The proofs come from index.db: a cache that disagrees would give
	 * proofs that fail against this checkpoint. */
	err = rq_ledger_tree_root(cached, l, size);
	if (err == RQ_EINTEGRITY || (!err && sodium_memcmp(root, cached, RQ_HASH_LEN) != 0)) {
		err = rq_error_set(RQ_EINTEGRITY, "%s/index.db: its Merkle tree disagrees with the verified ledger "
				   "(run 'resque reindex')", l->dir);
		goto done;
	}
	if (err)
		goto done;
	err = rq_checkpoint_sign(out, origin.ptr, size, root, k);
done:
	rq_buf_release(&origin);
	return err;
}
