/* A report's evidence: building it from the ledger's entries, parsing it
 * from untrusted bytes, and checking it with nothing but a public key
 * (see evidence.h; format in docs/FORMATS.md, "Reports"). */
#include "common.h"
#include "evidence.h"
#include "json.h"
#include "parallel_int.h"

#include <sodium.h>

/* ---- signer authorisation, replayed ---- */

void rq_signers_init(rq_signers *s)
{
	memset(s, 0, sizeof(*s));
}

void rq_signers_release(rq_signers *s)
{
	free(s->v);
	rq_signers_init(s);
}

static rq_signer_rec *find_signer(rq_signers *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].id, id) == 0)
			return &s->v[i];
	return NULL;
}

static void add_signer(rq_signers *s, const char *id, const uint8_t pk[RQ_PUBKEY_LEN], uint64_t at)
{
	rq_signer_rec *g = find_signer(s, id);
	if (!g) {
		RQ_ALLOC_GROW(s->v, s->n + 1, s->alloc);
		g = &s->v[s->n++];
		memset(g, 0, sizeof(*g));
		snprintf(g->id, sizeof(g->id), "%s", id);
	}
	memcpy(g->pk, pk, RQ_PUBKEY_LEN);
	g->revoked = false;
	g->added_at = at;
}

/* A signature check left for later, to run on every core (see
 * check_pending): an entry that changes no signer is checked against the
 * key its signer has at that point, which later entries cannot change. */
struct pending {
	const rq_entry *e;
	uint8_t sig[RQ_SIG_LEN], pk[RQ_PUBKEY_LEN];
	bool pending, ok;
};

/* The same rules as store/verify.c's check_signer; with `later`, the
 * signature of an entry other than a key entry is not checked but left
 * in *later (key entries decide who may sign what follows: checked now). */
static int apply(rq_signers *s, int64_t *signer_seq, const rq_entry *e, const char *sig, size_t sig_len,
		 struct pending *later)
{
	char keyid[RQ_KEY_ID_SIZE];
	uint8_t sb[RQ_SIG_LEN], pk[RQ_PUBKEY_LEN];
	rq_signer_rec *g;
	const uint64_t seq = e->seq;

	if (signer_seq)
		*signer_seq = -1;
	if (rq_entry_sig_parse(keyid, sb, sig, sig_len))
		return rq_error_set(RQ_EINTEGRITY, "entry %" PRIu64 ": its signature file is malformed", seq);
	if (strcmp(keyid, e->signer) != 0)
		return rq_error_set(RQ_EINTEGRITY, "entry %" PRIu64 ": signature by key %s but the entry names signer %s",
				    seq, keyid, e->signer);
	if (strcmp(e->type, "init") == 0) {
		const json_t *k = json_object_get(e->body, "key");
		char id[RQ_KEY_ID_SIZE];
		if (seq != 0)
			return rq_error_set(RQ_EINTEGRITY, "entry %" PRIu64 ": a second genesis (init) entry", seq);
		if (strcmp(rq_json_str(k, "id", ""), e->signer) != 0 ||
		    rq_hex_decode(pk, RQ_PUBKEY_LEN, rq_json_str(k, "public", "")) != 0)
			return rq_error_set(RQ_EINTEGRITY, "entry 0: genesis entry does not name its signer's public key");
		rq_key_id_of(id, pk);
		if (strcmp(id, e->signer) != 0)
			return rq_error_set(RQ_EINTEGRITY, "entry 0: genesis key id does not match its public key");
		add_signer(s, e->signer, pk, 0);
	} else if (seq == 0) {
		return rq_error_set(RQ_EINTEGRITY, "entry 0 is a %s entry, not the genesis (init) entry", e->type);
	}
	g = find_signer(s, e->signer);
	if (!g)
		return rq_error_set(RQ_EINTEGRITY, "entry %" PRIu64 ": signed by key %s, which is not a signer of this ledger",
				    seq, e->signer);
	if (g->revoked)
		return rq_error_set(RQ_EINTEGRITY, "entry %" PRIu64 ": signed by key %s, which was revoked at entry %" PRIu64,
				    seq, e->signer, g->revoked_at);
	if (later && strcmp(e->type, "key") != 0) {
		later->e = e;
		memcpy(later->sig, sb, RQ_SIG_LEN);
		memcpy(later->pk, g->pk, RQ_PUBKEY_LEN);
		later->pending = true;
	} else if (!rq_entry_sig_check(e, sb, g->pk)) {
		return rq_error_set(RQ_EINTEGRITY, "entry %" PRIu64 ": bad signature (key %s)", seq, e->signer);
	}
	if (signer_seq)
		*signer_seq = (int64_t)g->added_at;
	if (strcmp(e->type, "key") == 0) {
		const char *action = rq_json_str(e->body, "action", ""), *id = rq_json_str(e->body, "id", "");
		char calc[RQ_KEY_ID_SIZE];
		if (strcmp(action, "add") == 0) {
			if (rq_hex_decode(pk, RQ_PUBKEY_LEN, rq_json_str(e->body, "public", "")) != 0)
				return rq_error_set(RQ_EINTEGRITY, "entry %" PRIu64 ": key entry has no valid public key", seq);
			rq_key_id_of(calc, pk);
			if (strcmp(calc, id) != 0)
				return rq_error_set(RQ_EINTEGRITY, "entry %" PRIu64 ": key entry's id does not match its public key",
						    seq);
			add_signer(s, id, pk, seq);
		} else if (strcmp(action, "revoke") == 0) {
			rq_signer_rec *v = find_signer(s, id);
			if (!v)
				return rq_error_set(RQ_EINTEGRITY, "entry %" PRIu64 ": revokes key %s, which is not a signer", seq,
						    id);
			v->revoked = true;
			v->revoked_at = seq;
		} else {
			return rq_error_set(RQ_EINTEGRITY, "entry %" PRIu64 ": key entry with unknown action '%s'", seq, action);
		}
	}
	return 0;
}

int rq_signers_apply(rq_signers *s, int64_t *signer_seq, const rq_entry *e, const char *sig, size_t sig_len)
{
	return apply(s, signer_seq, e, sig, sig_len, NULL);
}

static void check_one(void *ctx, size_t worker, size_t i)
{
	struct pending *p = &((struct pending *)ctx)[i];
	(void)worker;
	if (p->pending)
		p->ok = rq_entry_sig_check(p->e, p->sig, p->pk);
}

/* Check the signatures left in v[0..n) on every core; the index of the
 * first bad one (its error set, as rq_signers_apply words it), or n. */
static size_t check_pending(struct pending *v, size_t n)
{
	rq_parallel_for(n, check_one, v);
	for (size_t i = 0; i < n; i++)
		if (v[i].pending && !v[i].ok) {
			rq_error_set(RQ_EINTEGRITY, "entry %" PRIu64 ": bad signature (key %s)", v[i].e->seq,
				     v[i].e->signer);
			return i;
		}
	return n;
}

/* ---- building ---- */

bool rq_evidence_wants_proof(const char *type)
{
	static const char *const types[] = { "init", "key", "version", "plan", "actual" };
	for (size_t i = 0; i < RQ_ARRAY_SIZE(types); i++)
		if (strcmp(type, types[i]) == 0)
			return true;
	return false;
}

static json_t *b64(const void *data, size_t len)
{
	rq_buf b = RQ_BUF_INIT;
	json_t *j;
	rq_base64_encode(&b, data, len);
	j = json_stringn(b.ptr, b.len);
	rq_buf_release(&b);
	return j;
}

int rq_evidence_build(json_t **out, rq_entry *const *entries, char *const *sigs, size_t n, const rq_checkpoint *c,
		      bool signatures_checked)
{
	rq_merkle_levels t;
	rq_signers s;
	rq_hash root, *proof = rq_xcalloc(RQ_MERKLE_MAX_PROOF, sizeof(rq_hash));
	json_t *list = json_array(), *ev = NULL;
	struct pending *later = rq_xcalloc(n + 1, sizeof(*later));
	size_t upto = n; /* entries whose left signatures must be checked */
	int err = 0;

	*out = NULL;
	rq_merkle_levels_init(&t);
	rq_signers_init(&s);
	if (c->size != n) {
		err = rq_error_set(RQ_EINVALID, "the checkpoint is of %" PRIu64 " entries, not %zu", c->size, n);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		rq_hash leaf;
		rq_merkle_leaf_hash(leaf, entries[i]->bytes.ptr, entries[i]->bytes.len);
		rq_merkle_levels_append(&t, leaf);
	}
	if ((err = rq_merkle_root(root, n, rq_merkle_levels_node, &t)))
		goto done;
	if (memcmp(root, c->root, RQ_HASH_LEN) != 0) {
		err = rq_error_set(RQ_EINTEGRITY, "the checkpoint's root is not the root of the ledger's entries");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const rq_entry *e = entries[i];
		int64_t signer = -1;
		json_t *o;
		if (e->seq != i) {
			err = rq_error_set(RQ_EINTEGRITY, "entry at position %zu has sequence number %" PRIu64, i, e->seq);
			upto = i;
			goto checks;
		}
		if ((err = apply(&s, &signer, e, sigs[i], strlen(sigs[i]), &later[i]))) {
			upto = i;
			goto checks;
		}
		o = json_pack("{s:I, s:o, s:s, s:I}", "seq", (json_int_t)e->seq, "bytes", b64(e->bytes.ptr, e->bytes.len),
			      "sig", sigs[i], "signer", (json_int_t)signer);
		if (rq_evidence_wants_proof(e->type)) {
			size_t np = 0;
			json_t *p = json_array();
			if ((err = rq_merkle_inclusion_proof(proof, &np, i, n, rq_merkle_levels_node, &t))) {
				json_decref(p);
				json_decref(o);
				goto done;
			}
			for (size_t k = 0; k < np; k++)
				json_array_append_new(p, b64(proof[k], RQ_HASH_LEN));
			json_object_set_new(o, "proof", p);
		}
		json_array_append_new(list, o);
	}
checks:
	/* a bad signature before (or at) the first other problem is the one
	 * rq_signers_apply in order would have named */
	if (!signatures_checked && check_pending(later, upto < n ? upto + 1 : n) < (upto < n ? upto + 1 : n))
		err = RQ_EINTEGRITY;
	if (err)
		goto done;
	ev = json_object();
	json_object_set_new(ev, "format", json_integer(RQ_EVIDENCE_FORMAT));
	json_object_set_new(ev, "checkpoint", json_stringn(c->text, c->text_len));
	json_object_set_new(ev, "entries", list);
	list = NULL;
	*out = ev;
done:
	json_decref(list);
	free(later);
	free(proof);
	rq_signers_release(&s);
	rq_merkle_levels_release(&t);
	return err;
}

/* ---- parsing (untrusted) ---- */

void rq_evidence_release(rq_evidence *ev)
{
	for (size_t i = 0; i < ev->n; i++) {
		rq_entry_free(ev->entries[i].entry);
		free(ev->entries[i].sig);
		free(ev->entries[i].proof);
	}
	free(ev->entries);
	rq_checkpoint_release(&ev->checkpoint);
	memset(ev, 0, sizeof(*ev));
}

/* A non-negative integer field. */
static bool get_u64(uint64_t *out, const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

/* Strict base64 (canonical padded spelling only) of at most `cap` bytes. */
static int unb64(rq_buf *out, const char *s, size_t len, size_t cap)
{
	size_t n = 0;
	const char *end = NULL;
	rq_buf check = RQ_BUF_INIT;
	int rc = -1;

	rq_buf_reset(out);
	if (len % 4 || len / 4 * 3 > cap + 2)
		return -1;
	rq_buf_grow(out, len / 4 * 3 + 1);
	if (sodium_base642bin((unsigned char *)out->ptr, len / 4 * 3 + 1, s, len, NULL, &n, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || end != s + len || n > cap)
		goto done;
	out->len = n;
	out->ptr[n] = '\0';
	rq_base64_encode(&check, out->ptr, n);
	if (check.len != len || memcmp(check.ptr, s, len) != 0)
		goto done;
	rc = 0;
done:
	rq_buf_release(&check);
	return rc;
}

static int parse_entry(rq_evidence_entry *x, const json_t *o, size_t i, const char *name)
{
	json_t *bytes = json_object_get(o, "bytes"), *sig = json_object_get(o, "sig"), *proof = json_object_get(o, "proof");
	json_t *signer = json_object_get(o, "signer");
	rq_buf raw = RQ_BUF_INIT;
	uint64_t seq;
	int err = 0;

	x->signer_seq = -1;
	if (!json_is_object(o) || !get_u64(&seq, o, "seq") || !json_is_string(bytes) || !json_is_string(sig)) {
		err = rq_error_set(RQ_EINVALID, "%s: evidence entry %zu lacks its seq, bytes or sig", name, i);
		goto done;
	}
	if (json_string_length(sig) > RQ_EVIDENCE_MAX_SIG || json_string_length(bytes) / 4 * 3 > RQ_EVIDENCE_MAX_ENTRY) {
		err = rq_error_set(RQ_EINVALID, "%s: evidence entry %zu is too large", name, i);
		goto done;
	}
	if (unb64(&raw, json_string_value(bytes), json_string_length(bytes), RQ_EVIDENCE_MAX_ENTRY)) {
		err = rq_error_set(RQ_EINVALID, "%s: evidence entry %zu: its bytes are not base64", name, i);
		goto done;
	}
	if ((err = rq_entry_parse(&x->entry, raw.ptr, raw.len))) {
		err = rq_error_prefix(RQ_EINVALID, "%s: evidence entry %zu: ", name, i);
		goto done;
	}
	if (x->entry->seq != seq) {
		err = rq_error_set(RQ_EINVALID, "%s: evidence entry %zu says seq %" PRIu64 " but its bytes are entry %" PRIu64,
				   name, i, seq, x->entry->seq);
		goto done;
	}
	x->sig = rq_xstrndup(json_string_value(sig), json_string_length(sig));
	x->sig_len = json_string_length(sig);
	if (signer && !json_is_null(signer)) {
		if (!json_is_integer(signer) || json_integer_value(signer) < -1) {
			err = rq_error_set(RQ_EINVALID, "%s: evidence entry %zu: signer is not an entry number", name, i);
			goto done;
		}
		x->signer_seq = json_integer_value(signer);
	}
	if (proof && !json_is_null(proof)) {
		size_t k;
		json_t *h;
		if (!json_is_array(proof) || json_array_size(proof) > RQ_MERKLE_MAX_PROOF) {
			err = rq_error_set(RQ_EINVALID, "%s: evidence entry %zu: proof is not a list of at most %d hashes", name,
					   i, RQ_MERKLE_MAX_PROOF);
			goto done;
		}
		x->has_proof = true;
		x->nproof = json_array_size(proof);
		x->proof = rq_xcalloc(x->nproof + 1, sizeof(rq_hash));
		json_array_foreach(proof, k, h) {
			if (!json_is_string(h) ||
			    rq_base64_decode_exact(x->proof[k], RQ_HASH_LEN, json_string_value(h), json_string_length(h))) {
				err = rq_error_set(RQ_EINVALID, "%s: evidence entry %zu: proof hash %zu is not base64 of 32 bytes",
						   name, i, k);
				goto done;
			}
		}
	}
done:
	rq_buf_release(&raw);
	return err;
}

struct parse_job {
	rq_evidence_entry *v;
	const json_t *list;
	const char *name;
	int *err;
	char **msg;
};

static void parse_one(void *ctx, size_t worker, size_t i)
{
	struct parse_job *p = ctx;
	(void)worker;
	if ((p->err[i] = parse_entry(&p->v[i], json_array_get(p->list, i), i, p->name)))
		p->msg[i] = rq_xstrdup(rq_error_last());
	rq_error_clear();
}

int rq_evidence_parse(rq_evidence *out, const json_t *j, const char *name)
{
	json_t *ck = json_object_get(j, "checkpoint"), *list = json_object_get(j, "entries");
	uint64_t format;
	size_t i;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(j)) {
		err = rq_error_set(RQ_EINVALID, "%s: the evidence section is not an object", name);
		goto done;
	}
	if (!get_u64(&format, j, "format") || format != RQ_EVIDENCE_FORMAT) {
		err = rq_error_set(RQ_EINVALID, "%s: evidence format is not %d", name, RQ_EVIDENCE_FORMAT);
		goto done;
	}
	if (!json_is_string(ck) || !json_is_array(list)) {
		err = rq_error_set(RQ_EINVALID, "%s: the evidence lacks its checkpoint or entries", name);
		goto done;
	}
	if (json_string_length(ck) > RQ_CHECKPOINT_MAX) {
		err = rq_error_set(RQ_EINVALID, "%s: the evidence's checkpoint is too large", name);
		goto done;
	}
	if ((err = rq_checkpoint_parse(&out->checkpoint, json_string_value(ck), json_string_length(ck), name)))
		goto done;
	if (json_array_size(list) > RQ_EVIDENCE_MAX_ENTRIES) {
		err = rq_error_set(RQ_EINVALID, "%s: more than %u evidence entries", name, RQ_EVIDENCE_MAX_ENTRIES);
		goto done;
	}
	/* every entry parsed on every core (the tree is only read); the first
	 * failure in order is the one named */
	out->n = json_array_size(list);
	out->entries = rq_xcalloc(out->n + 1, sizeof(*out->entries));
	{
		struct parse_job p = { out->entries, list, name, rq_xcalloc(out->n + 1, sizeof(int)),
				       rq_xcalloc(out->n + 1, sizeof(char *)) };
		rq_parallel_for(out->n, parse_one, &p);
		for (i = 0; i < out->n && !err; i++)
			if (p.err[i])
				err = rq_error_set(p.err[i], "%s", p.msg[i]);
		for (i = 0; i < out->n; i++)
			free(p.msg[i]);
		free(p.msg);
		free(p.err);
	}
done:
	if (err)
		rq_evidence_release(out);
	return err;
}

/* ---- checking ---- */

/* Steps of rq_evidence_check; each returns 0 or an error with the message set. */

/* The checkpoint is v's, of exactly these entries, for this genesis. */
static int check_checkpoint(const rq_evidence *ev, const rq_verifier *v, const char *name)
{
	const rq_checkpoint *c = &ev->checkpoint;
	rq_buf origin = RQ_BUF_INIT;
	int err;

	if ((err = rq_checkpoint_verify(c, v, name)))
		goto done;
	if (c->size != ev->n) {
		err = rq_error_set(RQ_EINTEGRITY, "%s: the checkpoint is of %" PRIu64 " entries but the evidence holds %zu",
				   name, c->size, ev->n);
		goto done;
	}
	if (ev->n == 0) {
		err = rq_error_set(RQ_EINTEGRITY, "%s: the evidence holds no entries", name);
		goto done;
	}
	rq_buf_printf(&origin, "%s%s", RQ_ORIGIN_PREFIX,
		      strcmp(ev->entries[0].entry->type, "init") == 0
			      ? rq_json_str(ev->entries[0].entry->body, "repository", "")
			      : "");
	if (strcmp(origin.ptr, c->origin) != 0)
		err = rq_error_set(RQ_EINTEGRITY, "%s: the checkpoint's origin %s is not the genesis entry's (%s)", name,
				   c->origin, origin.ptr);
done:
	rq_buf_release(&origin);
	return err;
}

/* Entry i: its place, its link, its signer (the signature itself is left
 * in `later`), then its leaf into the tree. */
static int check_entry(const rq_evidence *ev, size_t i, rq_signers *s, rq_merkle_levels *t, struct pending *later,
		       const char *name)
{
	const rq_evidence_entry *x = &ev->entries[i];
	const rq_entry *e = x->entry;
	int64_t signer;
	rq_hash leaf;
	int err;

	if (e->seq != i)
		return rq_error_set(RQ_EINTEGRITY, "%s: evidence entry %zu is entry %" PRIu64
				    " (an entry was dropped, inserted or reordered)", name, i, e->seq);
	if (i == 0 ? strspn(e->prev, "0") != RQ_ID_HEX_SIZE - 1 : strcmp(e->prev, ev->entries[i - 1].entry->id) != 0)
		return rq_error_set(RQ_EINTEGRITY, "%s: entry %zu: hash chain broken (prev %.12s)", name, i, e->prev);
	if ((err = apply(s, &signer, e, x->sig, x->sig_len, later)))
		return rq_error_prefix(err, "%s: ", name);
	if (x->signer_seq != -1 && x->signer_seq != signer)
		return rq_error_set(RQ_EINTEGRITY, "%s: entry %zu: its signer was added by entry %" PRId64
				    ", not %" PRId64, name, i, signer, x->signer_seq);
	rq_merkle_leaf_hash(leaf, e->bytes.ptr, e->bytes.len);
	rq_merkle_levels_append(t, leaf);
	return 0;
}

/* Replay the entries in order, building their tree; the signatures are
 * checked together (in parallel) afterwards. */
static int check_entries(const rq_evidence *ev, rq_signers *s, rq_merkle_levels *t, const char *name)
{
	struct pending *later = rq_xcalloc(ev->n + 1, sizeof(*later));
	size_t upto = ev->n; /* entries whose left signatures must be checked */
	int err = 0;

	for (size_t i = 0; i < ev->n; i++)
		if ((err = check_entry(ev, i, s, t, &later[i], name))) {
			upto = i;
			break;
		}
	/* a bad signature before (or at) the first other problem is the one
	 * rq_signers_apply in order would have named */
	size_t m = upto < ev->n ? upto + 1 : ev->n;
	if (check_pending(later, m) < m)
		err = rq_error_prefix(RQ_EINTEGRITY, "%s: ", name);
	free(later);
	return err;
}

/* The key trusted for the checkpoint must be one the ledger itself
 * authorises at that size: a revoked signer, or any other key, may not
 * vouch for this ledger's history. */
static int check_current(const rq_signers *s, const rq_verifier *v, const rq_evidence *ev, const char *name)
{
	bool current = false;

	for (size_t i = 0; i < s->n; i++)
		current |= !s->v[i].revoked && memcmp(s->v[i].pk, v->pk, RQ_PUBKEY_LEN) == 0;
	if (!current)
		return rq_error_set(RQ_EINTEGRITY, "%s: the checkpoint is signed by %s, which is not a current signer "
				    "of this ledger at entry %zu", name, v->name, ev->n - 1);
	return 0;
}

static int check_proofs(const rq_evidence *ev, const rq_merkle_levels *t, const char *name)
{
	for (size_t i = 0; i < ev->n; i++) {
		const rq_evidence_entry *x = &ev->entries[i];
		if (x->has_proof &&
		    rq_merkle_verify_inclusion(t->level[0][i], i, ev->n, (const rq_hash *)x->proof, x->nproof,
					       ev->checkpoint.root))
			return rq_error_set(RQ_EINTEGRITY, "%s: entry %zu: its inclusion proof does not verify against "
					    "the checkpoint", name, i);
	}
	return 0;
}

int rq_evidence_check(const rq_evidence *ev, const rq_verifier *v, const char *name)
{
	rq_merkle_levels t;
	rq_signers s;
	rq_hash root;
	int err;

	rq_merkle_levels_init(&t);
	rq_signers_init(&s);
	if ((err = check_checkpoint(ev, v, name)) || (err = check_entries(ev, &s, &t, name)))
		goto done;
	if ((err = rq_merkle_root(root, ev->n, rq_merkle_levels_node, &t)))
		goto done;
	if (memcmp(root, ev->checkpoint.root, RQ_HASH_LEN) != 0) {
		err = rq_error_set(RQ_EINTEGRITY, "%s: the entries' Merkle root is not the checkpoint's root", name);
		goto done;
	}
	if ((err = check_current(&s, v, ev, name)) || (err = check_proofs(ev, &t, name)))
		goto done;
	rq_error_clear();
done:
	rq_signers_release(&s);
	rq_merkle_levels_release(&t);
	return err;
}
