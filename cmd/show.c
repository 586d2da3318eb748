/* resque show: one ledger entry, whole. */
#include "common.h"
#include "cmd.h"
#include "resque/json.h"
#include "resque/ledger.h"

static const struct cmd_help help = {
	"show", "show one ledger entry",
	"REF is a name (v1) or a unique prefix of an entry id (at least 4 hex\n"
	"digits). --json prints the common fields (id, seq, type, time, signer,\n"
	"summary, prev, name, commit) and the entry's body under \"body\".",
};

int cmd_show(int argc, char **argv)
{
	bool json = false;
	const char *ref = NULL;
	const struct opt opts[] = {
		{ OPT_BOOL, 0, "json", &json, NULL, "print as JSON" },
		{ OPT_ARG, 0, "REF", &ref, NULL, "the entry: a name or an id prefix", OPT_REQUIRED },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	rq_entry *e = NULL;
	int rc, err;

	OPT_PARSE(&help, opts, argc, argv);
	if ((rc = cmd_open_ledger(&l, NULL)))
		return rc;
	if ((err = rq_ledger_lookup(&e, l, ref, NULL))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if (json) {
		json_t *j = cmd_entry_json(e);
		json_object_set(j, "body", e->body);
		rc = cmd_print_json(j);
		json_decref(j);
	} else {
		rq_buf s = RQ_BUF_INIT, body = RQ_BUF_INIT;
		rq_entry_summary(&s, e);
		rq_json_dump(&body, e->body, RQ_JSON_PRETTY);
		printf("entry   %s\nseq     %" PRIu64 "\ntype    %s\ntime    %s\nsigner  %s\nprev    %s\ncommit  %s\n"
		       "summary %s\n\n%s",
		       e->id, e->seq, e->type, e->time, e->signer, e->prev, e->commit, s.ptr, body.ptr);
		rq_buf_release(&s);
		rq_buf_release(&body);
	}
done:
	rq_entry_free(e);
	cmd_close_ledger(l, NULL);
	return rc;
}
