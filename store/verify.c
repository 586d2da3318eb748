/* resque verify: every check of design §2.4 over the ledger as git holds
 * it (not as index.db says), then index.db against the ledger. */
#include "common.h"
#include "ledger_int.h"
#include "resque/json.h"
#include "resque/merkle.h"

#include <sodium.h>

struct signer {
	char id[RQ_KEY_ID_HEX + 1];
	uint8_t pk[32];
	bool revoked;
	uint64_t revoked_at;
};

struct state {
	rq_verify_report *r;
	struct signer *signers;
	size_t nsigners;
};

static void problem(rq_verify_report *r, int64_t seq, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void problem(rq_verify_report *r, int64_t seq, const char *id, const char *fmt, ...)
{
	rq_buf m = RQ_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	rq_buf_vprintf(&m, fmt, ap);
	va_end(ap);
	r->problems = rq_xrealloc(r->problems, (r->nproblems + 1) * sizeof(*r->problems));
	rq_problem *p = &r->problems[r->nproblems++];
	p->seq = seq;
	snprintf(p->id, sizeof(p->id), "%s", id ? id : "");
	p->message = rq_buf_detach(&m, NULL);
}

void rq_verify_report_release(rq_verify_report *r)
{
	for (size_t i = 0; i < r->nproblems; i++)
		free(r->problems[i].message);
	free(r->problems);
	memset(r, 0, sizeof(*r));
}

static struct signer *find_signer(struct state *s, const char *id)
{
	for (size_t i = 0; i < s->nsigners; i++)
		if (strcmp(s->signers[i].id, id) == 0)
			return &s->signers[i];
	return NULL;
}

static void add_signer(struct state *s, const char *id, const uint8_t pk[32])
{
	struct signer *g = find_signer(s, id);
	if (!g) {
		s->signers = rq_xrealloc(s->signers, (s->nsigners + 1) * sizeof(*s->signers));
		g = &s->signers[s->nsigners++];
		snprintf(g->id, sizeof(g->id), "%s", id);
	}
	memcpy(g->pk, pk, 32);
	g->revoked = false;
}

/* Attachments recorded in the body must be in att/ with that fingerprint,
 * and nothing else may be. */
static void check_attachments(struct state *s, rq_ledger *l, const rq_entry *e, git_tree *tree)
{
	json_t *atts = json_object_get(e->body, "attachments");
	const git_tree_entry *te = git_tree_entry_byname(tree, "att");
	git_tree *at = NULL;
	const char *name;
	json_t *rec;

	if (atts && !json_is_object(atts)) {
		problem(s->r, (int64_t)e->seq, e->id, "its attachments record is not an object");
		return;
	}
	if (te && git_tree_lookup(&at, l->repo, git_tree_entry_id(te))) {
		problem(s->r, (int64_t)e->seq, e->id, "its attachment folder cannot be read");
		return;
	}
	json_object_foreach(atts, name, rec) {
		const git_tree_entry *ae = at ? git_tree_entry_byname(at, name) : NULL;
		git_blob *blob = NULL;
		if (!ae || git_tree_entry_type(ae) != GIT_OBJECT_BLOB ||
		    git_blob_lookup(&blob, l->repo, git_tree_entry_id(ae))) {
			problem(s->r, (int64_t)e->seq, e->id, "attachment '%s' is missing", name);
			continue;
		}
		uint8_t h[32];
		char fp[68] = "b2:";
		crypto_generichash(h, 32, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob), NULL, 0);
		rq_hex_encode(fp + 3, h, 32);
		if (strcmp(fp, rq_json_str(rec, "fingerprint", "")) != 0 ||
		    (json_int_t)git_blob_rawsize(blob) != rq_json_int(rec, "bytes", -1))
			problem(s->r, (int64_t)e->seq, e->id, "attachment '%s' does not match its recorded fingerprint",
				name);
		git_blob_free(blob);
	}
	for (size_t i = 0; at && i < git_tree_entrycount(at); i++) {
		const char *n = git_tree_entry_name(git_tree_entry_byindex(at, i));
		if (!json_object_get(atts, n))
			problem(s->r, (int64_t)e->seq, e->id, "attachment '%s' is not recorded in the entry", n);
	}
	git_tree_free(at);
}

/* The authorisation rules: genesis names the first signer; key entries
 * add and revoke signers and may be written only by a current signer. */
static void check_signer(struct state *s, const rq_entry *e, const uint8_t sig[64], bool genesis)
{
	if (genesis) {
		json_t *k = json_object_get(e->body, "key");
		uint8_t pk[32];
		if (strcmp(rq_json_str(k, "id", ""), e->signer) != 0 ||
		    rq_hex_decode(pk, 32, rq_json_str(k, "public", "")) != 0) {
			problem(s->r, 0, e->id, "genesis entry does not name its signer's public key");
			return;
		}
		char id[RQ_KEY_ID_HEX + 1];
		rq_key_id_of(id, pk);
		if (strcmp(id, e->signer) != 0)
			problem(s->r, 0, e->id, "genesis key id does not match its public key");
		add_signer(s, e->signer, pk);
	}
	struct signer *g = find_signer(s, e->signer);
	if (!g) {
		problem(s->r, (int64_t)e->seq, e->id, "signed by key %s, which is not a signer of this ledger",
			e->signer);
		return;
	}
	if (g->revoked) {
		problem(s->r, (int64_t)e->seq, e->id, "signed by key %s, which was revoked at entry %" PRIu64,
			e->signer, g->revoked_at);
		return;
	}
	if (!rq_entry_sig_check(e, sig, g->pk)) {
		problem(s->r, (int64_t)e->seq, e->id, "bad signature (key %s)", e->signer);
		return;
	}
	if (strcmp(e->type, "key") == 0) {
		const char *action = rq_json_str(e->body, "action", ""), *id = rq_json_str(e->body, "id", "");
		uint8_t pk[32];
		char calc[RQ_KEY_ID_HEX + 1];
		if (strcmp(action, "add") == 0) {
			if (rq_hex_decode(pk, 32, rq_json_str(e->body, "public", "")) != 0) {
				problem(s->r, (int64_t)e->seq, e->id, "key entry has no valid public key");
				return;
			}
			rq_key_id_of(calc, pk);
			if (strcmp(calc, id) != 0) {
				problem(s->r, (int64_t)e->seq, e->id, "key entry's id does not match its public key");
				return;
			}
			add_signer(s, id, pk);
		} else if (strcmp(action, "revoke") == 0) {
			struct signer *v = find_signer(s, id);
			if (!v) {
				problem(s->r, (int64_t)e->seq, e->id, "revokes key %s, which is not a signer", id);
				return;
			}
			v->revoked = true;
			v->revoked_at = e->seq;
		} else {
			problem(s->r, (int64_t)e->seq, e->id, "key entry with unknown action '%s'", action);
		}
	}
}

static void check_index(struct state *s, rq_ledger *l, char (*ids)[65], size_t n)
{
	sqlite3_stmt *st = NULL;
	size_t rows = 0;
	if (sqlite3_prepare_v2(l->db, "SELECT seq, id FROM entries ORDER BY seq", -1, &st, NULL) != SQLITE_OK) {
		problem(s->r, -1, NULL, "index.db cannot be read: %s", sqlite3_errmsg(l->db));
		return;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		sqlite3_int64 seq = sqlite3_column_int64(st, 0);
		const char *id = (const char *)sqlite3_column_text(st, 1);
		rows++;
		if (seq < 0 || (size_t)seq >= n)
			problem(s->r, seq, id, "index.db lists entry %lld, which is not in the ledger", (long long)seq);
		else if (ids[seq][0] && strcmp(ids[seq], id) != 0)
			problem(s->r, seq, ids[seq], "index.db disagrees with the ledger about entry %lld (run 'resque reindex')",
				(long long)seq);
	}
	sqlite3_finalize(st);
	size_t good = 0;
	for (size_t i = 0; i < n; i++)
		good += ids[i][0] != '\0';
	if (rows < good)
		problem(s->r, -1, NULL, "index.db lacks %zu entries of the ledger (run 'resque reindex')", good - rows);
}

/* index.db's transparency log (table `merkle`) must hold exactly the
 * perfect subtrees of the leaves recomputed from the ledger's bytes. */
static void check_merkle(struct state *s, rq_ledger *l, const rq_merkle_levels *t)
{
	sqlite3_stmt *st = NULL;
	uint64_t rows = 0, want = 0;
	bool ok = true;
	int rc;

	if (sqlite3_prepare_v2(l->db, "SELECT level, idx, hash FROM merkle", -1, &st, NULL) != SQLITE_OK) {
		problem(s->r, -1, NULL, "index.db cannot be read: %s", sqlite3_errmsg(l->db));
		return;
	}
	while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		sqlite3_int64 level = sqlite3_column_int64(st, 0), idx = sqlite3_column_int64(st, 1);
		rows++;
		ok = level >= 0 && level < (sqlite3_int64)t->depth && idx >= 0 &&
		     (uint64_t)idx < t->count[level] && sqlite3_column_bytes(st, 2) == RQ_HASH_LEN &&
		     memcmp(sqlite3_column_blob(st, 2), t->level[level][idx], RQ_HASH_LEN) == 0;
	}
	sqlite3_finalize(st);
	for (unsigned i = 0; i < t->depth; i++)
		want += t->count[i];
	if (!ok || rows != want)
		problem(s->r, -1, NULL, "index.db's Merkle tree disagrees with the ledger (run 'resque reindex')");
}

int rq_ledger_verify(rq_verify_report *r, rq_ledger *l)
{
	rq_merkle_levels tree;
	bool tree_ok = true; /* every entry's bytes were read and parsed */
	struct state s = { r, NULL, 0 };
	git_reference *ref = NULL;
	git_oid cur;
	git_oid *chain = NULL;
	size_t n = 0;
	char (*ids)[65] = NULL;
	int err = 0;

	memset(r, 0, sizeof(*r));
	rq_merkle_levels_init(&tree);
	r->index_rebuilt = l->index_rebuilt;
	if (git_reference_lookup(&ref, l->repo, RQ_LEDGER_REF)) {
		problem(r, -1, NULL, "the ledger branch is missing");
		goto done;
	}
	if (git_reference_type(ref) != GIT_REFERENCE_DIRECT) {
		problem(r, -1, NULL, "the ledger branch is not a direct reference");
		goto done;
	}
	/* Walk first parents from the tip; the ledger must be a single line. */
	git_oid_cpy(&cur, git_reference_target(ref));
	for (;;) {
		git_commit *c = NULL;
		if (git_commit_lookup(&c, l->repo, &cur)) {
			problem(r, -1, NULL, "ledger commit %s cannot be read", git_oid_tostr_s(&cur));
			break;
		}
		if ((n & (n - 1)) == 0)
			chain = rq_xrealloc(chain, (n ? 2 * n : 1) * sizeof(*chain));
		chain[n++] = cur;
		unsigned np = git_commit_parentcount(c);
		if (np > 1)
			problem(r, -1, NULL, "ledger commit %.12s is a merge: the ledger must be linear",
				git_oid_tostr_s(&cur));
		if (np == 0) {
			git_commit_free(c);
			break;
		}
		git_oid_cpy(&cur, git_commit_parent_id(c, 0));
		git_commit_free(c);
	}
	for (size_t i = 0; i < n / 2; i++) {
		git_oid t = chain[i];
		chain[i] = chain[n - 1 - i];
		chain[n - 1 - i] = t;
	}
	ids = rq_xcalloc(n ? n : 1, sizeof(*ids));
	char prev_id[65] = "";
	bool prev_ok = false;
	for (size_t i = 0; i < n; i++) {
		git_commit *c = NULL;
		git_tree *t = NULL;
		rq_buf bytes = RQ_BUF_INIT, sigtext = RQ_BUF_INIT;
		rq_entry *e = NULL;
		char keyid[RQ_KEY_ID_HEX + 1];
		uint8_t sig[64];

		r->entries++;
		if (git_commit_lookup(&c, l->repo, &chain[i]) || git_commit_tree(&t, c)) {
			problem(r, (int64_t)i, NULL, "entry %zu: its commit cannot be read", i);
			goto next;
		}
		{
			const git_tree_entry *te = git_tree_entry_byname(t, "entry");
			git_blob *b = NULL;
			if (!te || git_blob_lookup(&b, l->repo, git_tree_entry_id(te))) {
				problem(r, (int64_t)i, NULL, "entry %zu: commit %.12s has no entry file", i,
					git_oid_tostr_s(&chain[i]));
				prev_ok = false;
				tree_ok = false;
				goto next;
			}
			rq_buf_put(&bytes, git_blob_rawcontent(b), (size_t)git_blob_rawsize(b));
			git_blob_free(b);
			te = git_tree_entry_byname(t, "sig");
			if (te && git_blob_lookup(&b, l->repo, git_tree_entry_id(te)) == 0) {
				rq_buf_put(&sigtext, git_blob_rawcontent(b), (size_t)git_blob_rawsize(b));
				git_blob_free(b);
			}
		}
		if (rq_entry_parse(&e, bytes.ptr, bytes.len)) {
			char h[65];
			rq_sha256_hex(h, bytes.ptr, bytes.len);
			problem(r, (int64_t)i, h, "entry %zu: %s", i, rq_error_last());
			prev_ok = false;
			tree_ok = false;
			goto next;
		}
		memcpy(ids[i], e->id, 65);
		{
			rq_hash leaf;
			rq_merkle_leaf_hash(leaf, bytes.ptr, bytes.len);
			rq_merkle_levels_append(&tree, leaf);
		}
		if (e->seq != i)
			problem(r, (int64_t)i, e->id,
				"entry at position %zu has sequence number %" PRIu64
				" (an entry was deleted, inserted or reordered)", i, e->seq);
		if (i == 0) {
			if (strcmp(e->type, "init") != 0)
				problem(r, 0, e->id, "the first entry is a %s entry, not the genesis (init) entry", e->type);
			if (strspn(e->prev, "0") != 64)
				problem(r, 0, e->id, "the genesis entry does not start the hash chain (prev is not zero)");
		} else {
			if (strcmp(e->type, "init") == 0)
				problem(r, (int64_t)i, e->id, "a second genesis (init) entry");
			if (prev_ok && strcmp(e->prev, prev_id) != 0)
				problem(r, (int64_t)i, e->id,
					"hash chain broken: prev %.12s is not the hash of entry %zu (%.12s)", e->prev, i - 1,
					prev_id);
		}
		if (!sigtext.len) {
			problem(r, (int64_t)i, e->id, "unsigned: the entry has no signature file");
		} else if (rq_entry_sig_parse(keyid, sig, sigtext.ptr, sigtext.len)) {
			problem(r, (int64_t)i, e->id, "its signature file is malformed");
		} else if (strcmp(keyid, e->signer) != 0) {
			problem(r, (int64_t)i, e->id, "signature by key %s but the entry names signer %s", keyid,
				e->signer);
		} else if (i == 0 || strcmp(e->type, "init") != 0) {
			check_signer(&s, e, sig, i == 0);
		}
		check_attachments(&s, l, e, t);
		memcpy(prev_id, e->id, 65);
		prev_ok = true;
		memcpy(r->tip, e->id, 65);
	next:
		rq_entry_free(e);
		rq_buf_release(&bytes);
		rq_buf_release(&sigtext);
		git_tree_free(t);
		git_commit_free(c);
	}
	for (size_t i = 0; i < s.nsigners; i++)
		r->signers += !s.signers[i].revoked;
	check_index(&s, l, ids, n);
	if (tree_ok) /* else the entries' own problems say enough */
		check_merkle(&s, l, &tree);
	rq_error_clear();
done:
	rq_merkle_levels_release(&tree);
	free(ids);
	free(chain);
	free(s.signers);
	git_reference_free(ref);
	if (!err && r->nproblems)
		err = rq_error_set(RQ_EINTEGRITY, "%zu integrity problem%s found", r->nproblems,
				   r->nproblems == 1 ? "" : "s");
	return err;
}
