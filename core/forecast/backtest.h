/* The backtest of `resque plan --backtest` (docs/METHOD.md, "Backtest"):
 * each past update of a history forecast from the points and traces
 * before it only, and the forecaster's error and interval coverage over
 * them, per outcome. Pure computation: the caller gathers the history. */
#ifndef RESQUE_BACKTEST_H
#define RESQUE_BACKTEST_H

#include "forecast_int.h"

enum { RQ_BT_EPOCHS, RQ_BT_ENERGY, RQ_BT_DURATION, RQ_BT_PARAM, RQ_BT_GRAD, RQ_BT_OUTCOMES };

/* One replayed update. */
typedef struct {
	size_t point;            /* index in the input's history */
	bool forecast;           /* false: nothing to forecast from (message says why) */
	char message[256];
	rq_forecast f;
	double actual[RQ_BT_OUTCOMES];
	const rq_quantiles *q[RQ_BT_OUTCOMES]; /* into f */
} rq_backtest_step;

/* Quality of one outcome over the steps. */
typedef struct {
	size_t n;                /* forecasts with a known forecast and actual */
	size_t n_ape;            /* of which with an actual > 0 (the APEs) */
	size_t censored;         /* left out: the run missed its target (a lower bound) */
	double median_ape;       /* %, NaN when n_ape = 0 */
	size_t in80, in95;       /* actuals inside the 80 % and 95 % intervals */
} rq_backtest_quality;

typedef struct {
	rq_backtest_step *steps;
	size_t n_steps;
	rq_backtest_quality quality[RQ_BT_OUTCOMES];
} rq_backtest;

/* The outcome's name in output ("epochs", "energy_kwh", ...). */
const char *rq_backtest_outcome(int outcome);

/* Replay every point of in->history that has a finite index of in->kind,
 * in increasing `order` (ties in history order): the forecast at its index,
 * family, hardware and training size, from the history points whose
 * `known_at` and the traces whose `order` are lower than its `order` (what
 * was recorded before its plan), and the rest of `in` (E₀, grid) as given. `from`
 * skips the first steps' summaries: a step counts when its order ≥ from.
 * rq_backtest_release frees out. Cannot fail but for allocation (abort). */
void rq_backtest_run(rq_backtest *out, const rq_forecast_input *in, uint64_t from);
void rq_backtest_release(rq_backtest *bt);

#endif
