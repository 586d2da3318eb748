/* resque verify: check the whole ledger (design §2.4); exit 3 on any
 * integrity violation, naming the entry and what is wrong. */
#include "common.h"
#include "cmd.h"
#include "resque/ledger.h"

static const struct cmd_help help = {
	"verify", "check the ledger's signatures, chain and index",
	"Checks every entry: canonical encoding, hash chain, sequence numbers,\n"
	"signature, that its signer was authorised at that point, that its\n"
	"attachments match their recorded fingerprints, and that index.db agrees\n"
	"with the ledger. Exit status 0 when clean, 3 on any violation.\n\n"
	"--json prints {\"ok\", \"entries\", \"signers\", \"tip\", \"index_rebuilt\",\n"
	"\"problems\": [{\"seq\", \"id\", \"message\"}]} (seq is null for problems\n"
	"that concern no single entry).",
};

int cmd_verify(int argc, char **argv)
{
	bool json = false, quiet = false;
	const struct opt opts[] = {
		{ OPT_BOOL, 0, "json", &json, NULL, "print the report as JSON" },
		{ OPT_BOOL, 'q', "quiet", &quiet, NULL, "print only problems" },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	rq_verify_report r;
	int rc, err;

	OPT_PARSE(&help, opts, argc, argv);
	if ((rc = cmd_open_ledger(&l, NULL)))
		return rc;
	err = rq_ledger_verify(&r, l);
	if (err && err != RQ_EINTEGRITY) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if (json) {
		json_t *probs = json_array();
		for (size_t i = 0; i < r.nproblems; i++) {
			json_t *p = json_pack("{s:s}", "message", r.problems[i].message);
			json_object_set_new(p, "seq", r.problems[i].seq >= 0 ? json_integer(r.problems[i].seq)
									     : json_null());
			json_object_set_new(p, "id", r.problems[i].id[0] ? json_string(r.problems[i].id) : json_null());
			json_array_append_new(probs, p);
		}
		json_t *j = json_pack("{s:b, s:I, s:I, s:s, s:b, s:o}", "ok", r.nproblems == 0, "entries",
				      (json_int_t)r.entries, "signers", (json_int_t)r.signers, "tip", r.tip,
				      "index_rebuilt", r.index_rebuilt, "problems", probs);
		rc = cmd_print_json(j);
		json_decref(j);
	} else {
		for (size_t i = 0; i < r.nproblems; i++) {
			const rq_problem *p = &r.problems[i];
			if (p->seq >= 0)
				printf("entry %" PRId64 " (%.12s): %s\n", p->seq, p->id[0] ? p->id : "?", p->message);
			else
				printf("ledger: %s\n", p->message);
		}
		if (!quiet && !r.nproblems)
			printf("ok: %" PRIu64 " entries verified, %" PRIu64 " signer%s, tip %.12s\n", r.entries,
			       r.signers, r.signers == 1 ? "" : "s", r.tip);
		if (r.nproblems)
			fprintf(stderr, "resque: verification failed: %zu problem%s\n", r.nproblems,
				r.nproblems == 1 ? "" : "s");
	}
	if (!rc && r.nproblems)
		rc = EXIT_INTEGRITY;
	rq_verify_report_release(&r);
done:
	cmd_close_ledger(l, NULL);
	return rc;
}
