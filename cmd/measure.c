/* resque measure: the RESQUE indices between given files, no repository
 * needed — one subcommand per entry of the table of measures
 * (cmd/measures.h; docs/METHOD.md). */
#include "common.h"
#include "cmd.h"
#include "measures.h"

int cmd_measure(int argc, char **argv)
{
	size_t n = 0;
	struct subcmd *subs;
	int rc;

	while (cmd_measures[n].kind)
		n++;
	subs = rq_xcalloc(n + 1, sizeof(*subs));
	for (size_t i = 0; i < n; i++) {
		subs[i].name = cmd_measures[i].kind->name;
		subs[i].fn = cmd_measures[i].run;
		subs[i].summary = cmd_measures[i].summary;
	}
	rc = cmd_dispatch_sub("measure", subs, argc, argv);
	free(subs);
	return rc;
}
