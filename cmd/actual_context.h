/* What `resque run` and `resque import` share when they record an `actual`
 * entry: the context (linked plan, grid region, PUE, hardware) resolved
 * from flags and the repository's config before anything runs, carbon and
 * the plan comparison, and the output of the recorded entry. */
#ifndef RESQUE_CMD_ACTUAL_H
#define RESQUE_CMD_ACTUAL_H

#include <jansson.h>
#include <stdio.h>
#include "resque/buf.h"
#include "resque/carbon.h"
#include "entry_int.h"
#include "ledger_int.h"

struct actual_ctx {
	rq_entry *plan;          /* the linked plan, or NULL */
	const rq_region *region; /* the grid region, or NULL when none is set */
	double pue;              /* flag, config, the region's, or 1 */
	rq_buf hardware;         /* flag or config resque.hardware; may be empty */
};

/* Resolve `plan_ref` (a plan entry id prefix; NULL for none), `region`
 * (NULL: config resque.region), `pue` (NAN: config resque.pue, else the
 * cloud region's, else 1) and `hardware` (NULL: config resque.hardware).
 * Prints the error and returns the exit status on failure, 0 otherwise. */
int actual_ctx_load(struct actual_ctx *c, rq_ledger *l, const char *plan_ref,
		    const char *region, double pue, const char *hardware);
void actual_ctx_release(struct actual_ctx *c);

/* `resque run` only: with no hardware from the flag or config, the
 * machine's own profile (rq_meter_machine_profile). */
void actual_ctx_machine_hardware(struct actual_ctx *c);

/* The estimate's watts per logical CPU set for this run or machine, first
 * of: `flag` (--cpu-watts; NAN when not given), RESQUE_CPU_WATTS, config
 * resque.cpu-watts. *watts is 0 and *source NULL when none is set (the
 * meter's own rules apply). Prints the error and returns the exit status
 * when the environment or the config holds a bad value, 0 otherwise. */
int actual_cpu_watts(double *watts, const char **source, rq_ledger *l, double flag);

/* Parse a cpu-watts value: a decimal number of watts per logical CPU in
 * (0, 10000]. 0, or RQ_EINVALID with a message naming `where` and the value. */
int actual_cpu_watts_parse(double *out, const char *value, const char *where);

/* Add the context to an actual body: plan, hardware, region, and carbon
 * (from energy_kwh, when the body has no carbon_kg yet and a region is
 * known; `what` names the record in the warning when it is not), and
 * inside_p80 against the plan's forecast. */
void actual_ctx_apply(const struct actual_ctx *c, json_t *body, const char *what);

/* The --json document of a recorded actual: the common entry fields, the
 * contract fields (rq_actual_view), the plan's energy forecast when
 * linked, and the body. New reference. */
json_t *actual_json(const rq_entry *e, const rq_entry *plan);

/* A few human lines on `f`: what was recorded, and how it compares with
 * the plan's forecast. */
void actual_print(FILE *f, const rq_entry *e, const rq_entry *plan);

#endif
