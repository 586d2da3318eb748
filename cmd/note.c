/* resque note: append a signed free-text note to the ledger. */
#include "common.h"
#include "cmd.h"
#include "ledger_int.h"

static const struct cmd_help help = {
	"note", "append a signed note to the ledger",
	"Records TEXT as a signed 'note' entry, e.g. why a model was retrained.",
};

int cmd_note(int argc, char **argv)
{
	const char *message = NULL;
	bool json = false;
	const struct opt opts[] = {
		{ OPT_STRING, 'm', "message", &message, "TEXT", "the note's text (required)", OPT_REQUIRED },
		{ OPT_BOOL, 0, "json", &json, NULL, "print the new entry as JSON" },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	rq_key *k = NULL;
	rq_entry *e = NULL;
	int rc, err;

	OPT_PARSE(&help, opts, argc, argv);
	if (!message || !*message)
		return cmd_usage(&help, opts, "a note needs a message (-m TEXT)");
	if ((rc = cmd_open_ledger(&l, &k)))
		return rc;
	err = rq_ledger_append(&e, l, "note", json_pack("{s:s}", "message", message), NULL, 0);
	if (err) {
		rc = cmd_fail_code(err);
	} else if (json) {
		rc = cmd_print_entry(e);
	} else {
		printf("%.12s note %" PRIu64 "\n", e->id, e->seq);
	}
	rq_entry_free(e);
	cmd_close_ledger(l, k);
	return rc;
}
