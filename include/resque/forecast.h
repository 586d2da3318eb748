/* The forecast of an update's cost from its RESQUE index (docs/METHOD.md):
 * epochs, parameter change and gradient norm regressed on the index with a
 * hierarchical model (core/forecast/hier.h) that partially pools the shift
 * families of the lineage and takes runs that missed their target as
 * right-censored, or a cold-start prior; energy and duration per
 * epoch after STEP (del Rey et al.); carbon from energy × PUE × intensity.
 *
 * A command gathers the history (same lineage) and calls
 * rq_forecast_compute; nothing here reads files or the ledger. Every
 * number is a rq_quantiles (mean and the 80 % and 95 % intervals). The
 * maths is in docs/METHOD.md, "Forecasting". */
#ifndef RESQUE_FORECAST_H
#define RESQUE_FORECAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "resque/export.h"

RQ_BEGIN_DECLS

/* What the forecast needs to know of the measure an index comes from. Each
 * measure defines its own beside its computation and names it in the
 * command line's table of measures (cmd/measures.c); nothing here lists
 * the measures. Compared by name. */
typedef struct rq_shift_kind {
	const char *name; /* "dist": --kind, a plan's body.kind */
	double r_full;    /* R_full: the index at which an update costs a training from scratch */
} rq_shift_kind;

/* RESQUE_dist's and RESQUE_task's (core/measure/dist.c, core/measure/kmeans.c):
 * static, never freed; point rq_forecast_input.kind at one of them. */
RQ_EXTERN extern const rq_shift_kind rq_shift_dist, rq_shift_task;

/* Where a regression's calibration came from. */
typedef enum {
	RQ_CAL_NONE = 0, /* nothing to forecast from: the quantity is unknown */
	RQ_CAL_PRIOR,    /* cold-start prior, no past update (epochs only) */
	RQ_CAL_POOLED,   /* the lineage's history; the plan's family has no point */
	RQ_CAL_FAMILY    /* the lineage's history, the plan's family among it */
} rq_calibration_source;

/* A forecast quantity: mean and quantiles 0.10, 0.90, 0.025, 0.975, and
 * the median p50 — the point forecast that errors are measured from (it
 * minimises the absolute error; the predictive is skewed, so the mean
 * lies above it). `known` is false (and the numbers NaN) when it could
 * not be forecast. */
typedef struct {
	bool known;
	double mean, p10, p90, p2_5, p97_5;
	double p50;
} rq_quantiles;

/* One past update whose plan and actual are both recorded. Unknown
 * measurements are NaN. Strings are borrowed; NULL family means
 * "unspecified", NULL hardware "unknown". */
struct rq_history_point {
	const rq_shift_kind *kind;
	double index;         /* RESQUE of that update */
	double epochs, energy_kwh, duration_s, param_change, grad_norm;
	const char *family;
	const char *hardware;
	double train_size;    /* training-set samples of that update (NaN) */
	/* The run stopped at a budget before reaching its target: `epochs`
	 * is a lower bound on the epochs the target needed (right-censored),
	 * not an observation of it. */
	bool censored;
	/* Ledger positions: `order`, the update's plan (the backtest replays
	 * updates in this order); `known_at`, the entry that made its outcome
	 * known (the actual; for a version's cost, the version). The backtest
	 * forecasts the update at `order` from the points whose known_at is
	 * lower. 0: unknown (treated as known before everything). */
	uint64_t order;
	uint64_t known_at;
};

/* The per-epoch measurements of one past run (from epoch markers), for
 * STEP. `epoch_s` may be NULL. Borrowed. */
struct rq_epoch_trace {
	const double *epoch_kwh;
	const double *epoch_s;
	size_t n;
	const char *hardware;
	double train_size;    /* NaN when unknown */
	uint64_t order;       /* ledger position from which it is known: its actual */
};

typedef struct {
	const rq_shift_kind *kind;
	double index;              /* R of the proposed update, ≥ 0 */
	const char *family;        /* shift family (NULL: "unspecified") */
	const char *hardware;      /* hardware profile of the coming run */
	double train_size;         /* samples of the new training set (NaN) */
	double scratch_epochs;     /* E₀: epochs of the base from scratch (NaN) */
	const struct rq_history_point *history;
	size_t n_history;
	const struct rq_epoch_trace *traces;
	size_t n_traces;
	double intensity;          /* grid g CO2e/kWh (NaN: no carbon) */
	double pue;                /* ≥ 1 (NaN: 1) */
	uint64_t seed;             /* Monte-Carlo seed (0: the default) */
	size_t draws;              /* Monte-Carlo draws (0: 20000; the sampler makes a multiple of 2000) */
} rq_forecast_input;

/* A normal–inverse-gamma distribution over (a, b, σ²) of y = a + b·R: the
 * posterior a calibration rests on (the maths is in core/forecast/bayes.h
 * and docs/METHOD.md). */
typedef struct rq_nig {
	double m[2];      /* mean of (a, b) */
	double prec[4];   /* Λ, row-major 2×2, symmetric */
	double alpha;     /* inverse-gamma shape */
	double beta;      /* inverse-gamma scale */
	size_t n;         /* observations absorbed since the prior */
} rq_nig;

/* How one outcome was calibrated. Since issue 14 every calibrated outcome
 * comes from the hierarchical model of docs/METHOD.md (families drawn
 * around the lineage's line, shared noise, censored runs as lower bounds),
 * fitted on z = log(y + offset): RQ_CAL_FAMILY when the plan's shift family
 * has points of its own, RQ_CAL_POOLED when it borrows everything. */
typedef struct {
	rq_calibration_source source;
	size_t n;            /* past updates it rests on */
	size_t n_families;   /* families among them */
	double tau2;         /* τa²: between-family variance of the intercept (log scale) */
	double a, b;         /* posterior mean of the family's line z = a + b·R */
	/* The predictive at R on the model's scale: mean and standard
	 * deviation of its draws (dof NaN); for RQ_CAL_PRIOR the cold-start
	 * Student-t on the epochs' own scale (dof 3). */
	double dof, loc, scale;
	rq_nig post;         /* unused since issue 14 (zero); kept for the ABI */
	size_t n_family;     /* points of the plan's own shift family */
	size_t n_censored;   /* points that are lower bounds (runs that missed their target) */
	double sigma;        /* posterior mean of the noise sd (log scale) */
	double tau_a, tau_b; /* posterior means of the families' spread: intercept, slope */
	double offset;       /* the scale: z = log(y + offset) */
	size_t n_draws;      /* predictive draws the quantiles come from */
} rq_calibration;

/* A per-epoch rate (kWh or seconds per epoch) after STEP. */
typedef struct {
	bool known;
	double loc, scale, dof; /* Student-t of the new run's per-epoch rate */
	size_t runs, epochs;    /* stable epochs of how many runs it rests on */
	double scale_ratio;     /* training-set size ratio applied */
	char source[256];       /* plain words: where the figure comes from */
} rq_rate;

typedef struct {
	rq_quantiles epochs, energy_kwh, carbon_kg, duration_s, param_change, grad_norm;
	rq_calibration cal_epochs, cal_param_change, cal_grad_norm;
	bool prior_only;            /* epochs come from the cold-start prior */
	rq_rate kwh_per_epoch, s_per_epoch;
	/* Training from scratch: E₀ epochs at the same per-epoch rates. */
	double scratch_epochs;      /* NaN when E₀ is unknown */
	rq_quantiles scratch_energy_kwh, scratch_carbon_kg, scratch_duration_s;
	/* Mean saving of reuse over scratch (NaN when either is unknown). */
	double saving_kwh, saving_kg;
	/* Figures dropped because a computation did not give a finite
	 * number (the history holds figures too large to combine): "energy_kwh,
	 * carbon_kg: ..." in plain words; "" when none. No figure of a
	 * forecast is ever NaN or infinite while marked known. */
	char not_forecast[256];
} rq_forecast;

/* "prior", "pooled", "family"; "none" for RQ_CAL_NONE and any other value
 * (static strings, borrowed). Cannot fail. */
RQ_EXTERN const char *rq_calibration_name(rq_calibration_source s);

/* Compute the forecast of one proposed update into `out` (filled whole; it
 * holds no pointers, so there is nothing to free). `in` and everything it
 * points to are borrowed for the call only. Returns 0, or RQ_EINVALID for
 * an invalid input (negative or non-finite index, PUE < 1, negative
 * intensity) and when epochs cannot be forecast at all (no usable history
 * and no E₀), with a message saying so in rq_error_last(); RQ_ENOMEM is
 * not returned (allocation failure aborts). */
RQ_EXTERN int rq_forecast_compute(rq_forecast *out, const rq_forecast_input *in);

RQ_END_DECLS

#endif
