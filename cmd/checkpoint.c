/* resque checkpoint: the signed checkpoint (C2SP tlog-checkpoint in a
 * signed note) of the ledger's transparency log, for auditors to keep. */
#include "common.h"
#include "cmd.h"
#include "tlog.h"

static const struct cmd_help help = {
	"checkpoint", "print a signed checkpoint of the ledger's transparency log",
	"The ledger's entries, in sequence order, are the leaves of an RFC 9162\n"
	"Merkle tree. A checkpoint states the tree's size and root hash in the C2SP\n"
	"signed-note format, signed by this repository's signing key (which must\n"
	"be a current signer): the origin line (resque/ + the repository id), the\n"
	"size, the base64 root, a blank line and the signature line. Keep it: with\n"
	"'resque audit check' anyone holding the signer's public key can then check\n"
	"inclusion and consistency proofs against it, without the repository.\n\n"
	"--size N signs the tree of the first N entries (default: all of them).\n\n"
	"Only a tree of verified entries is signed: the root is computed from the\n"
	"leaf hashes verify remembered (under $RESQUE_HOME) when they cover the\n"
	"tree and still match index.db and the ledger's tip; otherwise the whole\n"
	"ledger is verified first (and remembered, as verify does). A ledger that\n"
	"does not verify, or an index.db whose Merkle tree disagrees with the\n"
	"verified entries ('resque reindex' rebuilds it), is refused: exit 3.\n\n"
	"--json prints {\"origin\", \"size\", \"root\" (base64), \"note\" (the\n"
	"checkpoint's text)}.",
};


int cmd_checkpoint(int argc, char **argv)
{
	long long size = LLONG_MIN;
	bool json = false;
	const struct opt opts[] = {
		{ OPT_INT, 0, "size", &size, "N", "the tree of the first N entries (default: all)" },
		{ OPT_BOOL, 0, "json", &json, NULL, "print origin, size, root and the note as JSON" },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	rq_key *k = NULL;
	rq_checkpoint c = { 0 };
	int rc, err;

	OPT_PARSE(&help, opts, argc, argv);
	if ((rc = cmd_open_ledger(&l, &k)))
		return rc;
	uint64_t n = rq_ledger_size(l);
	if (size == LLONG_MIN) {
		size = (long long)n;
	} else if (size <= 0 || (uint64_t)size > n) {
		rc = cmd_error("--size %lld: the ledger has %" PRIu64 " entr%s (give 1 to %" PRIu64 ")", size, n,
			       n == 1 ? "y" : "ies", n);
		goto done;
	}
	rq_tlog_set_notice(cmd_tlog_notice, NULL);
	if ((err = rq_ledger_checkpoint(&c, l, (uint64_t)size, k))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if (json) {
		rq_buf root = RQ_BUF_INIT;
		rq_base64_encode(&root, c.root, RQ_HASH_LEN);
		json_t *j = json_pack("{s:s, s:I, s:s, s:s%}", "origin", c.origin, "size", (json_int_t)c.size, "root",
				      root.ptr, "note", c.text, c.text_len);
		rc = cmd_print_json(j);
		json_decref(j);
		rq_buf_release(&root);
	} else {
		fwrite(c.text, 1, c.text_len, stdout);
	}
done:
	rq_checkpoint_release(&c);
	cmd_close_ledger(l, k);
	return rc;
}
