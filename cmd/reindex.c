/* resque reindex: rebuild index.db's ledger tables from the ledger. */
#include "common.h"
#include "cmd.h"
#include "ledger_int.h"

static const struct cmd_help help = {
	"reindex", "rebuild index.db from the ledger",
	"index.db is derived data; this rebuilds its ledger tables from the git\n"
	"ledger (the file-hash cache is kept). Every command also rebuilds a\n"
	"missing or stale index by itself.",
};

int cmd_reindex(int argc, char **argv)
{
	const struct opt opts[] = { { OPT_END } };
	rq_ledger *l = NULL;
	int rc, err;

	OPT_PARSE(&help, opts, argc, argv);
	if ((rc = cmd_open_ledger_unguarded(&l, NULL)))
		return rc;
	if ((err = rq_ledger_reindex(l)))
		rc = cmd_fail_code(err);
	else
		printf("index.db rebuilt: %" PRIu64 " entries\n", rq_ledger_size(l));
	cmd_close_ledger(l, NULL);
	return rc;
}
