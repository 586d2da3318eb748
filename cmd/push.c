/* resque push: move a remote's ledger branch forward to ours. */
#include "common.h"
#include "cmd.h"
#include "sync_output.h"

static const struct cmd_help help = {
	"push", "send the ledger's new entries to a remote",
	"Moves the remote's 'ledger' branch forward to this ledger's tip. The\n"
	"remote's ledger must be an ancestor of ours, as git refuses a\n"
	"non-fast-forward: when it has entries we lack, run 'resque pull\n"
	"--rebase' first. A push racing another push either lands or is refused\n"
	"(the remote's branch is compared and swapped). REMOTE defaults to\n"
	"'origin', or the only remote. Exit status 3 when the remote served\n"
	"fewer or other entries than it did before (rolled back or rewritten).",
};

int cmd_push(int argc, char **argv)
{
	const char *name = NULL;
	bool json = false;
	const struct opt opts[] = {
		{ OPT_BOOL, 0, "json", &json, NULL, "print what was done as JSON" },
		{ OPT_ARG, 0, "REMOTE", &name, NULL, "the remote (default: origin)" },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	rq_buf def = RQ_BUF_INIT;
	rq_sync_result r;
	struct sync_progress pr;
	int rc, err;

	memset(&r, 0, sizeof(r));
	OPT_PARSE(&help, opts, argc, argv);
	if ((rc = cmd_open_ledger(&l, NULL)))
		return rc;
	if ((rc = sync_remote(&name, &def, l)))
		goto done;
	sync_progress_init(&pr);
	rq_sync_options o = { false, NULL, 0, sync_progress_fn, &pr };
	err = rq_sync_push(&r, l, name, &o);
	sync_progress_done(&pr);
	rc = err ? cmd_fail_code(err) : sync_print(&r, "push", json);
done:
	rq_sync_result_release(&r);
	rq_buf_release(&def);
	cmd_close_ledger(l, NULL);
	return rc;
}
