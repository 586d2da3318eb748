/* The key figures of plans and actuals in words, one line each, as `log`,
 * `log --graph` and `show` print them (colour on `f` per term.h). */
#ifndef RESQUE_CMD_FIGURES_H
#define RESQUE_CMD_FIGURES_H

#include <stdio.h>
#include <jansson.h>
#include "resque/buf.h"
#include "entry_int.h"

/* A plan's point forecast of one outcome (its median, else its mean, for
 * plans before issue 14); NAN when not forecast. */
double figures_point(const json_t *plan_body, const char *outcome);

/* Append `e`'s line to `out`: for a plan "plan from v1 (dist): 7 epochs,
 * 0.532 kWh, 0.0298 kg CO2e forecast"; for an actual "actual [NAME]: 5
 * epochs, 0.0123 kWh, 0.00069 kg CO2e (estimated), inside the 80 %
 * interval" (a link "link of actual A to plan P: ..."; "FAILED" and
 * "target missed" when so); any other entry its one-line summary. */
void figures_line(rq_buf *out, FILE *f, const rq_entry *e);

#endif
