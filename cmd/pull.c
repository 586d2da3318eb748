/* resque pull: fetch a remote's ledger, verify it, move ours forward. */
#include "common.h"
#include "cmd.h"
#include "sync_output.h"

static const struct cmd_help help = {
	"pull", "fetch, verify and take a remote's new entries",
	"Fetches the remote's 'ledger' branch and verifies every new entry\n"
	"(signatures, chain, authorised signers, attachments) before this\n"
	"ledger moves forward to it; a remote whose ledger fails, or that\n"
	"serves fewer or other entries than it did before, is refused with\n"
	"exit status 3 and nothing here changes.\n"
	"\n"
	"A ledger is linear: when both sides have new entries, pull refuses\n"
	"and says where they diverged. With --rebase it replays this ledger's\n"
	"entries that the remote lacks on top of the remote's tip, each with its\n"
	"new sequence number and previous id, references between them\n"
	"rewritten, signed again with your key. It stops, changing nothing,\n"
	"when one of them is signed by another key or takes a name the remote\n"
	"took meanwhile (--rename OLD=NEW replays it under another name, and\n"
	"the references to it by name follow). REMOTE defaults to 'origin', or\n"
	"the only remote.",
};

int cmd_pull(int argc, char **argv)
{
	const char *name = NULL;
	bool json = false, rebase = false;
	struct opt_list renames = { 0 };
	const struct opt opts[] = {
		{ OPT_BOOL, 0, "rebase", &rebase, NULL, "replay our new entries on top of the remote's" },
		{ OPT_LIST, 0, "rename", &renames, "OLD=NEW", "with --rebase: replay our version or dataset OLD as NEW (repeatable)" },
		{ OPT_BOOL, 0, "json", &json, NULL, "print what was done as JSON" },
		{ OPT_ARG, 0, "REMOTE", &name, NULL, "the remote (default: origin)" },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	rq_key *k = NULL;
	rq_buf def = RQ_BUF_INIT;
	rq_sync_result r;
	struct sync_progress pr;
	int rc, err;

	memset(&r, 0, sizeof(r));
	OPT_PARSE(&help, opts, argc, argv);
	if (renames.n && !rebase) {
		opt_list_release(&renames);
		return cmd_usage(&help, opts, "--rename only applies with --rebase");
	}
	for (size_t i = 0; i < renames.n; i++)
		if (!strchr(renames.v[i], '=') || renames.v[i][0] == '=') {
			rc = cmd_usage(&help, opts, "--rename %s: give OLD=NEW", renames.v[i]);
			opt_list_release(&renames);
			return rc;
		}
	if ((rc = cmd_open_ledger(&l, rebase ? &k : NULL))) {
		opt_list_release(&renames);
		return rc;
	}
	if ((rc = sync_remote(&name, &def, l)))
		goto done;
	sync_progress_init(&pr);
	rq_sync_options o = { rebase, renames.v, renames.n, sync_progress_fn, &pr };
	err = rq_sync_pull(&r, l, name, &o);
	sync_progress_done(&pr);
	rc = err ? cmd_fail_code(err) : sync_print(&r, "pull", json);
done:
	rq_sync_result_release(&r);
	rq_buf_release(&def);
	opt_list_release(&renames);
	cmd_close_ledger(l, k);
	return rc;
}
