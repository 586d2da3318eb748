/* resque plan --backtest (cmd/plan_backtest.c). */
#ifndef RESQUE_PLAN_BACKTEST_H
#define RESQUE_PLAN_BACKTEST_H

#include <stdbool.h>
#include "resque/forecast.h"

/* Replay the lineage of version `ref` (lineage label `family`, NULL: the
 * version's) for updates of `kind`; print the figures as text or JSON.
 * Returns the exit status. */
int plan_backtest(const char *ref, const char *family, const rq_shift_kind *kind, bool json);

#endif
