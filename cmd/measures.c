/* The table of RESQUE measures (cmd/measures.h): one entry per measure,
 * iterated by `resque measure` and `resque plan`. */
#include "common.h"
#include "measures.h"

const struct measure_entry cmd_measures[] = {
	{ &rq_shift_dist, "RESQUE_dist", "RESQUE_dist between old and new representations",
	  measure_dist_run, MEASURE_BASE_SUMMARY, NULL, measure_dist_plan_index },
	{ &rq_shift_task, "RESQUE_task", "RESQUE_task (1 − ARI of k-means against the labels)",
	  measure_task_run, MEASURE_ROWS, "clusters the rows", measure_task_plan_index },
	{ NULL },
};

const struct measure_entry *cmd_measure_find(const char *name)
{
	for (const struct measure_entry *m = cmd_measures; m->kind; m++)
		if (strcmp(m->kind->name, name) == 0)
			return m;
	return NULL;
}

void cmd_measure_names(rq_buf *out, const char *sep, const char *last)
{
	for (const struct measure_entry *m = cmd_measures; m->kind; m++) {
		if (m != cmd_measures)
			rq_buf_puts(out, m[1].kind ? sep : last);
		rq_buf_puts(out, m->kind->name);
	}
}
