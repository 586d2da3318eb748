/* resque plan --backtest (cmd/plan_backtest.c). */
#ifndef RESQUE_PLAN_BACKTEST_H
#define RESQUE_PLAN_BACKTEST_H

#include <jansson.h>
#include <stdbool.h>
#include "resque/forecast.h"

/* A forecast figure as JSON: {"mean", "p50", "p10", "p90", "p2_5", "p97_5"},
 * or null when not forecast (plan --json and --backtest --json). */
json_t *plan_quantiles_json(const rq_quantiles *q);

/* Replay the lineage of version `ref` (lineage label `family`, NULL: the
 * version's) for updates of `kind`; print the figures as text or JSON.
 * Returns the exit status. */
int plan_backtest(const char *ref, const char *family, const rq_shift_kind *kind, bool json);

#endif
