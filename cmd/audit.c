/* resque audit prove|consistency|check|report: the transparency log's
 * proofs (docs/FORMATS.md), and their verification against a signed checkpoint
 * with nothing but the signer's public key. */
#include "common.h"
#include "cmd.h"
#include "json.h"
#include "tlog.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENTRY_MAX (16u << 20) /* an entry file larger than this is refused unread */

/* The audit report checker lives in cmd/audit_report.c; until it is built
 * the symbol is weak and the subcommand says so. */
int cmd_audit_report(int argc, char **argv) __attribute__((weak));

/* Read a whole file of at most `max` bytes. Errors name the path. */
/* A decimal size or sequence number. */
static bool parse_u64(uint64_t *out, const char *s)
{
	char *end;
	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 19)
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0';
}

/* --size N of prove: 1..n, default n. */
static int tree_size(uint64_t *out, long long size, uint64_t n)
{
	if (size == LLONG_MIN) {
		*out = n;
		return 0;
	}
	if (size <= 0 || (uint64_t)size > n)
		return cmd_error("--size %lld: the ledger has %" PRIu64 " entr%s (give 1 to %" PRIu64 ")", size, n,
				 n == 1 ? "y" : "ies", n);
	*out = (uint64_t)size;
	return 0;
}

/* ENTRY: a name (the newest entry bearing it), else a decimal sequence
 * number, else a unique id prefix. */
static int resolve_entry(rq_entry **out, rq_ledger *l, const char *ref)
{
	uint64_t seq;
	int err = rq_ledger_lookup(out, l, ref, NULL);
	if (!parse_u64(&seq, ref))
		return err;
	if (!err) {
		const char *name = rq_entry_name(*out);
		if (name && strcmp(name, ref) == 0)
			return 0;
	}
	if (seq < rq_ledger_size(l)) {
		rq_entry_free(*out);
		return rq_ledger_get(out, l, seq);
	}
	if (err == RQ_ENOTFOUND || err == RQ_EAMBIGUOUS)
		return rq_error_set(err, "no entry named or identified by '%s', and no entry %" PRIu64
				    " (the ledger has %" PRIu64 ")", ref, seq, rq_ledger_size(l));
	return err;
}

static json_t *b64_json(const uint8_t *data, size_t len)
{
	rq_buf b = RQ_BUF_INIT;
	rq_base64_encode(&b, data, len);
	json_t *j = json_stringn(b.ptr, b.len);
	rq_buf_release(&b);
	return j;
}

static json_t *hashes_json(const rq_proof *p)
{
	json_t *a = json_array();
	for (size_t i = 0; i < p->n; i++)
		json_array_append_new(a, b64_json(p->hashes[i], RQ_HASH_LEN));
	return a;
}


/* The proofs come from index.db's cache: one that does not lead to the
 * root of the verified entries is never printed. */
static int proof_refused(rq_ledger *l, const char *what)
{
	return rq_error_set(RQ_EINTEGRITY, "%s/index.db: the %s does not verify against the root of the verified "
			    "ledger: its Merkle tree was edited or is corrupt (run 'resque reindex')",
			    rq_ledger_dir(l), what);
}

static int print_proof(const rq_proof *p)
{
	rq_buf b = RQ_BUF_INIT;
	rq_proof_format(&b, p);
	fwrite(b.ptr, 1, b.len, stdout);
	rq_buf_release(&b);
	return 0;
}

static int audit_prove(int argc, char **argv)
{
	static const struct cmd_help help = {
		"audit prove", "print the inclusion proof of one entry",
		"ENTRY is an entry's name (the newest entry bearing it), its sequence\n"
		"number (a plain decimal number that is no entry's name), or a unique\n"
		"prefix of its id. The proof shows that the entry is leaf `index` of the\n"
		"ledger's Merkle tree of `size` entries (default: all of them); check it\n"
		"with 'resque audit check' against a checkpoint of that size.\n\n"
		"The proof, read from index.db's cache, is checked before it is printed\n"
		"against the root of the verified entries (as 'resque checkpoint' signs\n"
		"it): exit 3, and nothing printed, when it does not hold (an edited\n"
		"index.db: 'resque reindex' rebuilds it) or the ledger does not verify.\n\n"
		"--json prints {\"type\": \"inclusion\", \"index\", \"size\", \"leaf_hash\",\n"
		"\"hashes\": [...], \"entry\" (its id), \"root\" (of the tree of that size)},\n"
		"hashes in base64; 'audit check --inclusion' reads this form too.",
	};
	long long size = LLONG_MIN;
	bool json = false;
	const char *ref = NULL;
	const struct opt opts[] = {
		{ OPT_INT, 0, "size", &size, "N", "the tree of the first N entries (default: all)" },
		{ OPT_BOOL, 0, "json", &json, NULL, "print the proof as JSON" },
		{ OPT_ARG, 0, "ENTRY", &ref, NULL, "a name, a sequence number or an id prefix", OPT_REQUIRED },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	rq_entry *e = NULL;
	rq_proof p;
	rq_hash leaf, root;
	uint64_t n = 0;
	int rc, err;

	OPT_PARSE(&help, opts, argc, argv);
	if ((rc = cmd_open_ledger(&l, NULL)))
		return rc;
	if ((rc = tree_size(&n, size, rq_ledger_size(l))))
		goto done;
	if ((err = resolve_entry(&e, l, ref))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if (e->seq >= n) {
		rc = cmd_error("entry %" PRIu64 " (%.12s) is not in the tree of the first %" PRIu64 " entr%s", e->seq,
			       e->id, n, n == 1 ? "y" : "ies");
		goto done;
	}
	rq_tlog_set_notice(cmd_tlog_notice, NULL);
	if ((err = rq_ledger_verified_root(root, l, n)) || (err = rq_ledger_inclusion_proof(&p, l, e->seq, n))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	rq_merkle_leaf_hash(leaf, e->bytes.ptr, e->bytes.len);
	if (rq_merkle_verify_inclusion(leaf, p.index, p.size, (const rq_hash *)p.hashes, p.n, root) != 0) {
		char what[96];
		snprintf(what, sizeof(what), "inclusion proof of entry %" PRIu64 " in the tree of %" PRIu64 " entries",
			 e->seq, n);
		rc = cmd_fail_code(proof_refused(l, what));
		goto done;
	}
	if (json) {
		json_t *j = json_pack("{s:s, s:I, s:I, s:o, s:o, s:s, s:o}", "type", "inclusion", "index",
				      (json_int_t)p.index, "size", (json_int_t)p.size, "leaf_hash",
				      b64_json(leaf, RQ_HASH_LEN), "hashes", hashes_json(&p), "entry", e->id, "root",
				      b64_json(root, RQ_HASH_LEN));
		rc = cmd_print_json(j);
		json_decref(j);
	} else {
		rc = print_proof(&p);
	}
done:
	rq_entry_free(e);
	cmd_close_ledger(l, NULL);
	return rc;
}

static int audit_consistency(int argc, char **argv)
{
	static const struct cmd_help help = {
		"audit consistency", "print the consistency proof between two tree sizes",
		"The proof shows that the ledger's Merkle tree of N entries extends the\n"
		"tree of M entries (0 < M <= N <= the ledger's size): nothing of the\n"
		"first M entries was rewritten. Check it with 'resque audit check\n"
		"--consistency' against checkpoints of sizes M and N.\n\n"
		"As for 'audit prove', the proof is checked against the roots of the\n"
		"verified entries before it is printed: exit 3 when it does not hold.\n\n"
		"--json prints {\"type\": \"consistency\", \"old_size\", \"size\",\n"
		"\"hashes\": [...], \"old_root\", \"root\"}, hashes in base64.",
	};
	bool json = false;
	const char *ms = NULL, *ns = NULL;
	const struct opt opts[] = {
		{ OPT_BOOL, 0, "json", &json, NULL, "print the proof as JSON" },
		{ OPT_ARG, 0, "M", &ms, NULL, "the older tree's size", OPT_REQUIRED },
		{ OPT_ARG, 0, "N", &ns, NULL, "the newer tree's size", OPT_REQUIRED },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	rq_proof p;
	rq_hash roots[2];
	uint64_t m, n, size, sizes[2];
	int rc, err;

	OPT_PARSE(&help, opts, argc, argv);
	if (!parse_u64(&m, ms))
		return cmd_usage(&help, opts, "M must be a tree size (a whole number), not '%s'", ms);
	if (!parse_u64(&n, ns))
		return cmd_usage(&help, opts, "N must be a tree size (a whole number), not '%s'", ns);
	if ((rc = cmd_open_ledger(&l, NULL)))
		return rc;
	size = rq_ledger_size(l);
	if (m == 0 || m > n || n > size) {
		rc = cmd_error("no consistency proof from %" PRIu64 " to %" PRIu64 " entries: need 0 < M <= N <= %" PRIu64
			       " (the ledger's size)", m, n, size);
		goto done;
	}
	sizes[0] = m;
	sizes[1] = n;
	rq_tlog_set_notice(cmd_tlog_notice, NULL);
	if ((err = rq_ledger_verified_roots(roots, l, sizes, 2)) ||
	    (err = rq_ledger_consistency_proof(&p, l, m, n))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if (rq_merkle_verify_consistency(m, n, roots[0], roots[1], (const rq_hash *)p.hashes, p.n) != 0) {
		char what[96];
		snprintf(what, sizeof(what), "consistency proof from %" PRIu64 " to %" PRIu64 " entries", m, n);
		rc = cmd_fail_code(proof_refused(l, what));
		goto done;
	}
	if (json) {
		json_t *j = json_pack("{s:s, s:I, s:I, s:o, s:o, s:o}", "type", "consistency", "old_size",
				      (json_int_t)m, "size", (json_int_t)n, "hashes", hashes_json(&p), "old_root",
				      b64_json(roots[0], RQ_HASH_LEN), "root", b64_json(roots[1], RQ_HASH_LEN));
		rc = cmd_print_json(j);
		json_decref(j);
	} else {
		rc = print_proof(&p);
	}
done:
	cmd_close_ledger(l, NULL);
	return rc;
}

static int load_checkpoint(rq_checkpoint *out, const char *path)
{
	rq_buf text = RQ_BUF_INIT;
	int err = rq_file_read_max(&text, path, RQ_CHECKPOINT_MAX);
	memset(out, 0, sizeof(*out));
	if (!err)
		err = rq_checkpoint_parse(out, text.ptr, text.len, path);
	rq_buf_release(&text);
	return err;
}

static int load_proof(rq_proof *out, const char *path, rq_proof_kind kind)
{
	rq_buf text = RQ_BUF_INIT;
	int err = rq_file_read_max(&text, path, RQ_PROOF_MAX);
	if (!err)
		err = rq_proof_parse(out, text.ptr, text.len, path);
	if (!err && out->kind != kind)
		err = rq_error_set(RQ_EINVALID, "%s: a %s proof, not the %s proof this check needs", path,
				   out->kind == RQ_PROOF_INCLUSION ? "inclusion" : "consistency",
				   kind == RQ_PROOF_INCLUSION ? "inclusion" : "consistency");
	rq_buf_release(&text);
	return err;
}

/* Input that could not be read or parsed: exit 1 (never 3). */
static int unreadable(void)
{
	fprintf(stderr, "resque: %s\n", rq_error_last());
	return EXIT_FAIL;
}

/* A check that failed: exit 3, the reason prefixed with the file. */
static int invalid(const char *path, int err)
{
	(void)err;
	fprintf(stderr, "resque: %s: %s\n", path, rq_error_last());
	return EXIT_INTEGRITY;
}

static int check_inclusion(const rq_verifier *v, const rq_checkpoint *c, const char *cpath, const char *ppath,
			   const char *epath)
{
	rq_buf bytes = RQ_BUF_INIT;
	rq_entry *e = NULL;
	rq_proof p;
	rq_hash leaf;
	int rc = 0, err;

	if ((err = load_proof(&p, ppath, RQ_PROOF_INCLUSION)) || (err = rq_file_read_max(&bytes, epath, ENTRY_MAX))) {
		rc = unreadable();
		goto done;
	}
	if ((err = rq_entry_parse(&e, bytes.ptr, bytes.len))) {
		rc = cmd_error("%s: not a ledger entry: %s", epath, rq_error_last());
		goto done;
	}
	if ((err = rq_checkpoint_verify(c, v, cpath))) {
		rc = cmd_fail_code(RQ_EINTEGRITY);
		goto done;
	}
	if (p.size != c->size) {
		fprintf(stderr, "resque: %s: proof is for a tree of %" PRIu64 " entries, but %s is of %" PRIu64 "\n",
			ppath, p.size, cpath, c->size);
		rc = EXIT_INTEGRITY;
		goto done;
	}
	if (e->seq != p.index) {
		fprintf(stderr, "resque: %s: entry %" PRIu64 " (%.12s), but the proof %s is for entry %" PRIu64 "\n",
			epath, e->seq, e->id, ppath, p.index);
		rc = EXIT_INTEGRITY;
		goto done;
	}
	rq_merkle_leaf_hash(leaf, bytes.ptr, bytes.len);
	if ((err = rq_merkle_verify_inclusion(leaf, p.index, p.size, (const rq_hash *)p.hashes, p.n, c->root))) {
		rc = invalid(ppath, err);
		goto done;
	}
	printf("ok: entry %" PRIu64 " (%.12s) is in the tree of %" PRIu64 " entries of %s, signed by %s\n", e->seq,
	       e->id, c->size, c->origin, v->name);
done:
	rq_entry_free(e);
	rq_buf_release(&bytes);
	return rc;
}

static int check_consistency(const rq_verifier *v, const rq_checkpoint *c, const char *cpath, const char *ppath,
			     const char *opath)
{
	rq_checkpoint old = { 0 };
	rq_proof p;
	int rc = 0, err;

	if ((err = load_proof(&p, ppath, RQ_PROOF_CONSISTENCY)) || (err = load_checkpoint(&old, opath))) {
		rc = unreadable();
		goto done;
	}
	if (rq_checkpoint_verify(&old, v, opath) || rq_checkpoint_verify(c, v, cpath)) {
		rc = cmd_fail_code(RQ_EINTEGRITY);
		goto done;
	}
	if (strcmp(old.origin, c->origin) != 0) {
		fprintf(stderr, "resque: %s: origin %s is not %s's origin %s\n", opath, old.origin, cpath, c->origin);
		rc = EXIT_INTEGRITY;
		goto done;
	}
	if (old.size > c->size) {
		fprintf(stderr, "resque: %s: the old checkpoint (%" PRIu64 " entries) is newer than %s (%" PRIu64
				" entries)\n", opath, old.size, cpath, c->size);
		rc = EXIT_INTEGRITY;
		goto done;
	}
	if (p.old_size != old.size || p.size != c->size) {
		fprintf(stderr, "resque: %s: proof is from %" PRIu64 " to %" PRIu64 " entries, but the checkpoints are of %"
				PRIu64 " and %" PRIu64 "\n", ppath, p.old_size, p.size, old.size, c->size);
		rc = EXIT_INTEGRITY;
		goto done;
	}
	if ((err = rq_merkle_verify_consistency(old.size, c->size, old.root, c->root, (const rq_hash *)p.hashes,
						p.n))) {
		rc = invalid(ppath, err);
		goto done;
	}
	printf("ok: the tree of %" PRIu64 " entries extends the tree of %" PRIu64 " entries of %s, signed by %s\n",
	       c->size, old.size, c->origin, v->name);
done:
	rq_checkpoint_release(&old);
	return rc;
}

static int audit_check(int argc, char **argv)
{
	static const struct cmd_help help = {
		"audit check", "verify a proof against a signed checkpoint, without a repository",
		"Checks that CHECKPOINT is signed by PUBKEY (a key file, or the key's\n"
		"text as 'resque key export' prints it), then either:\n"
		"  --inclusion PROOF --entry FILE: that FILE (the entry's exact bytes, as\n"
		"  'resque show ENTRY --raw' prints them) is leaf `index` of the tree the\n"
		"  checkpoint signs: the entry's sequence number is the proof's index and\n"
		"  the proof leads from its leaf hash to the checkpoint's root; or\n"
		"  --consistency PROOF --old-checkpoint FILE: that the checkpoint's tree\n"
		"  extends the older checkpoint's (same origin, both signed by PUBKEY):\n"
		"  the ledger was not rewritten or rolled back in between.\n"
		"No repository is needed. Exit status 0 when valid, 3 when a proof or a\n"
		"signature does not hold, 1 when an input cannot be read or parsed.",
	};
	const char *key = NULL, *cpath = NULL, *incl = NULL, *entry = NULL, *cons = NULL, *old = NULL;
	const struct opt opts[] = {
		{ OPT_STRING, 0, "key", &key, "PUBKEY", "the signer's public key (a file, or the key itself)", OPT_REQUIRED },
		{ OPT_STRING, 0, "checkpoint", &cpath, "FILE", "the signed checkpoint", OPT_REQUIRED },
		{ OPT_STRING, 0, "inclusion", &incl, "PROOF", "an inclusion proof (audit prove)" },
		{ OPT_STRING, 0, "entry", &entry, "FILE", "the entry's bytes (show ENTRY --raw)" },
		{ OPT_STRING, 0, "consistency", &cons, "PROOF", "a consistency proof (audit consistency)" },
		{ OPT_STRING, 0, "old-checkpoint", &old, "FILE", "the older checkpoint" },
		{ OPT_END },
	};
	rq_verifier v;
	rq_checkpoint c = { 0 };
	int rc;

	OPT_PARSE(&help, opts, argc, argv);
	if (!incl == !cons)
		return cmd_usage(&help, opts, "give one proof: --inclusion or --consistency");
	if (incl && (!entry || old))
		return cmd_usage(&help, opts, "--inclusion needs --entry FILE (and no --old-checkpoint)");
	if (cons && (!old || entry))
		return cmd_usage(&help, opts, "--consistency needs --old-checkpoint FILE (and no --entry)");
	if (cmd_load_verifier(&v, key) || load_checkpoint(&c, cpath)) {
		rc = unreadable();
		goto done;
	}
	rc = incl ? check_inclusion(&v, &c, cpath, incl, entry) : check_consistency(&v, &c, cpath, cons, old);
done:
	rq_checkpoint_release(&c);
	return rc;
}

static int audit_report(int argc, char **argv)
{
	if (!cmd_audit_report) {
		fprintf(stderr, "resque audit report: not built\n");
		return EXIT_FAIL;
	}
	return cmd_audit_report(argc, argv);
}

int cmd_audit(int argc, char **argv)
{
	static const struct subcmd subs[] = {
		{ "prove", audit_prove, "print the inclusion proof of an entry" },
		{ "consistency", audit_consistency, "print the consistency proof between two tree sizes" },
		{ "check", audit_check, "verify a proof against a signed checkpoint (no repository)" },
		{ "report", audit_report, "verify a report's evidence and recompute its figures" },
		{ NULL, NULL, NULL },
	};
	return cmd_dispatch_sub("audit", subs, argc, argv);
}
