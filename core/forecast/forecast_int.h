/* Internal to the forecaster and its tests (core/forecast/forecast.c,
 * tests/unit/test_forecast.c, tests/helpers/rq-stats.c): the model's
 * defaults, its building blocks (STEP, calibration) and the deterministic
 * PRNG of the Monte-Carlo combination. A program linking libresque has
 * only the public part (include/resque/forecast.h): rq_forecast_compute. */
#ifndef RESQUE_FORECAST_INT_H
#define RESQUE_FORECAST_INT_H

#include "resque/forecast.h"

/* Shorthands for the two measures' kinds. */
#define RQ_SHIFT_DIST (&rq_shift_dist)
#define RQ_SHIFT_TASK (&rq_shift_task)

/* Defaults of the model (documented in docs/METHOD.md). */
#define RQ_FORECAST_DRAWS 20000
#define RQ_FORECAST_SEED 0x5245535155450001ull
#define RQ_STEP_WARMUP 1   /* leading epochs always excluded by STEP */

/* STEP alone: the per-epoch rate on `hardware` from the stable epochs of
 * `traces` (field: 0 energy, 1 duration), falling back to totals/epochs of
 * `history` points on the same hardware. */
int rq_forecast_rate(rq_rate *out, const rq_forecast_input *in, int field);

/* The calibrated regression of one outcome (0 epochs, 1 param_change,
 * 2 grad_norm) on the index, and its Student-t predictive at in->index.
 * Exposed for tests (tests/unit/test_forecast.c, tests/helpers/rq-stats.c). */
int rq_forecast_calibrate(rq_calibration *out, const rq_forecast_input *in, int outcome);

/* The same, keeping the predictive draws of the outcome (out->n_draws of
 * them, each ≥ 0; the caller frees *draws; NULL when not calibrated). */
int rq_forecast_calibrate_draws(rq_calibration *out, double **draws, const rq_forecast_input *in,
				int outcome);

/* Quantiles of a Student-t, the lower ones clamped at `floor` (0 for
 * non-negative quantities, -INFINITY for none). */
void rq_quantiles_from_student(rq_quantiles *out, double loc, double scale,
			       double dof, double floor);

/* Validation only (tests/helpers/rq-backtest --scale identity, the
 * evidence for the log scale in docs/METHOD.md): fit y itself, with the
 * priors' scales multiplied by the points' mean. Never set by resque. */
extern bool rq_forecast__identity_scale;

/* The deterministic PRNG of the Monte-Carlo combination (splitmix64),
 * exposed for tests: uniform in (0, 1), standard normal, Student-t. */
typedef struct { uint64_t s; bool has_spare; double spare; } rq_rng;
void rq_rng_seed(rq_rng *r, uint64_t seed);
double rq_rng_uniform(rq_rng *r);
double rq_rng_normal(rq_rng *r);
double rq_rng_student(rq_rng *r, double dof);
double rq_rng_gamma(rq_rng *r, double shape); /* Gamma(shape, 1), shape > 0 */

#endif
