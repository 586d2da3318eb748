/* The RESQUE measures the command line knows, one entry each in
 * cmd_measures[] (cmd/measures.c): `resque measure` takes its subcommands
 * from the table and `resque plan` its --kind values, what to load and how
 * to compute and show the index. How to add a measure: docs/ARCHITECTURE.md,
 * "How to add a measure". */
#ifndef RESQUE_CMD_MEASURES_H
#define RESQUE_CMD_MEASURES_H

#include "resque/array.h"
#include "resque/buf.h"
#include "resque/forecast.h"
#include "resque/summary.h"

/* What a plan of the measure reads, besides the base version's history. */
#define MEASURE_BASE_SUMMARY 1u /* the base version's recorded summary and the candidate's */
#define MEASURE_ROWS 2u         /* the candidate's rows (embeddings, labels): no summary will do */

/* One candidate against one base version, as `resque plan` hands it over. */
struct measure_input {
	const rq_summary *base_sum; /* MEASURE_BASE_SUMMARY: the base version's, else NULL */
	const rq_summary *sum;      /* MEASURE_BASE_SUMMARY: the candidate's, else NULL */
	const rq_array *emb, *lab;  /* the candidate's rows, when given (always with MEASURE_ROWS) */
	const char *label;          /* the candidate, in messages */
	const char *base_name;      /* the base version, in messages */
};

struct measure_value {
	double index;
	char detail[64]; /* after the index in plan's text: " over 3 shared classes", or "" */
};

struct measure_entry {
	const rq_shift_kind *kind; /* its name (--kind, `measure NAME`, a plan's "kind") and R_full */
	const char *title;         /* before the index in plan's text: "RESQUE_dist" */
	const char *summary;       /* its line in `resque measure --help` */
	int (*run)(int argc, char **argv); /* `resque measure NAME`; argv[0] is NAME */
	unsigned needs;            /* MEASURE_* */
	const char *rows_why;      /* MEASURE_ROWS: what it does with them, in usage messages */
	/* The index of one candidate for `resque plan`. A measure without
	 * MEASURE_BASE_SUMMARY is computed once per candidate, whatever the
	 * base. 0 or an error code with the message set. */
	int (*plan_index)(struct measure_value *out, const struct measure_input *in);
};

/* The measures, the default (`plan --kind`) first; ends with a NULL kind. */
extern const struct measure_entry cmd_measures[];

/* The measure named `name`, or NULL. */
const struct measure_entry *cmd_measure_find(const char *name);
/* The measures' names joined by `sep`, the last two by `last`:
 * ("|", "|") gives "dist|task", (", ", " or ") "dist or task". */
void cmd_measure_names(rq_buf *out, const char *sep, const char *last);

/* Each measure's functions (cmd/measure_NAME.c). */
int measure_dist_run(int argc, char **argv);
int measure_dist_plan_index(struct measure_value *out, const struct measure_input *in);
int measure_task_run(int argc, char **argv);
int measure_task_plan_index(struct measure_value *out, const struct measure_input *in);

#endif
