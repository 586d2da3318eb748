/* The forecast of an update's epochs, energy, carbon, duration, parameter
 * change and gradient norm from its RESQUE index (docs/METHOD.md). */
#include "common.h"
#include "forecast_int.h"
#include "bayes.h"
#include "hier.h"
#include "bounds.h"

#include <math.h>

#define COLD_DOF 3.0          /* cold start: Student-t with 3 degrees of freedom */
#define COLD_SCALE 0.5        /* ... and scale E₀/2 */
#define STABLE_TOLERANCE 0.10 /* STEP: an epoch within 10 % of the median is stable */
#define NOISE_GUESS 0.3      /* prior noise sd on the log scale (30 %) */
#define FAMILY_GUESS 0.3     /* prior spread of the families' lines on the log scale */
#define PRIOR_NOISE_WEIGHT 2.0 /* ... each with the weight of two observations */
#define PRIOR_LINE_SD 2.0    /* the lineage's line: sd of the intercept, and of the slope per R_full/2 */
#define MODEL_OFFSET 0.01    /* z = log(y + c), c = 1 % of the median y (1 for epochs) */
#define SAMPLER_BURN_IN 500u /* Gibbs sweeps discarded */
#define INDEX_RANGE 4.0     /* plausible indexes: 0 to 4·R_full */
#define PRODUCT_STREAM 0x9e3779b97f4a7c15ull /* the product's draws: another stream than the sampler's */
#define SAMPLER_SWEEPS 2000u /* Gibbs sweeps kept (RQ_FORECAST_DRAWS / this draws each) */
#define SINGLE_RATE_SPREAD 0.25 /* one measured value: ±25 % (1 sd) */

const char *rq_calibration_name(rq_calibration_source s)
{
	switch (s) {
	case RQ_CAL_PRIOR: return "prior";
	case RQ_CAL_POOLED: return "pooled";
	case RQ_CAL_FAMILY: return "family";
	default: return "none";
	}
}

/* --- deterministic random numbers ------------------------------------ */

void rq_rng_seed(rq_rng *r, uint64_t seed)
{
	r->s = seed;
	r->has_spare = false;
	r->spare = 0;
}

static uint64_t splitmix64(rq_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

double rq_rng_uniform(rq_rng *r)
{
	return ((double)(splitmix64(r) >> 11) + 0.5) * 0x1.0p-53;
}

/* Box–Muller: two normals per pair of uniforms. */
double rq_rng_normal(rq_rng *r)
{
	double u, v, rad;

	if (r->has_spare) {
		r->has_spare = false;
		return r->spare;
	}
	u = rq_rng_uniform(r);
	v = rq_rng_uniform(r);
	rad = sqrt(-2 * log(u));
	r->spare = rad * sin(2 * M_PI * v);
	r->has_spare = true;
	return rad * cos(2 * M_PI * v);
}

/* Gamma(shape, 1) by Marsaglia and Tsang (2000); shape < 1 by boosting. */
double rq_rng_gamma(rq_rng *r, double shape)
{
	double d, c;

	if (shape < 1)
		return rq_rng_gamma(r, shape + 1) * pow(rq_rng_uniform(r), 1 / shape);
	d = shape - 1.0 / 3;
	c = 1 / sqrt(9 * d);
	for (;;) {
		double x = rq_rng_normal(r), v = 1 + c * x, u;
		if (v <= 0)
			continue;
		v = v * v * v;
		u = rq_rng_uniform(r);
		if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
			return d * v;
	}
}

double rq_rng_student(rq_rng *r, double dof)
{
	double z = rq_rng_normal(r);
	if (isinf(dof))
		return z;
	return z / sqrt(2 * rq_rng_gamma(r, dof / 2) / dof);
}

/* --- quantiles --------------------------------------------------------- */

static void unknown_quantiles(rq_quantiles *q)
{
	q->known = false;
	q->mean = q->p10 = q->p90 = q->p2_5 = q->p97_5 = q->p50 = NAN;
}

static double clampf(double v, double floor)
{
	return v < floor ? floor : v;
}

void rq_quantiles_from_student(rq_quantiles *out, double loc, double scale,
			       double dof, double floor)
{
	rq_student s = { loc, scale, dof };

	out->known = true;
	out->mean = clampf(loc, floor);
	out->p10 = clampf(rq_student_quantile(&s, 0.10), floor);
	out->p90 = clampf(rq_student_quantile(&s, 0.90), floor);
	out->p2_5 = clampf(rq_student_quantile(&s, 0.025), floor);
	out->p97_5 = clampf(rq_student_quantile(&s, 0.975), floor);
	out->p50 = clampf(loc, floor);
}

static void scale_quantiles(rq_quantiles *out, const rq_quantiles *in, double k)
{
	*out = *in;
	out->mean *= k;
	out->p10 *= k;
	out->p90 *= k;
	out->p2_5 *= k;
	out->p97_5 *= k;
	out->p50 *= k;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Quantile p of sorted v (linear interpolation between order statistics,
 * "type 7" as numpy's default). */
static double sorted_quantile(const double *v, size_t n, double p)
{
	double h = (double)(n - 1) * p;
	size_t i = (size_t)floor(h);
	if (i + 1 >= n)
		return v[n - 1];
	return v[i] + (h - (double)i) * (v[i + 1] - v[i]);
}

/* --- calibration ------------------------------------------------------- */

static const char *family_of(const char *f)
{
	return f && *f ? f : "unspecified";
}

static const char *hardware_of(const char *h)
{
	return h && *h ? h : "unknown";
}

static double outcome_of(const struct rq_history_point *p, int outcome)
{
	switch (outcome) {
	case 0: return p->epochs;
	case 1: return p->param_change;
	default: return p->grad_norm;
	}
}

static bool same_kind(const rq_shift_kind *a, const rq_shift_kind *b)
{
	return a == b || (a && b && strcmp(a->name, b->name) == 0);
}

/* A point enters a regression when its kind is the plan's, its index is a
 * plausible RESQUE index (0 to 4·R_full: one absurd index appended to a
 * ledger must not poison every forecast of the lineage) and the outcome is
 * known (epochs within their plausible range). */
static bool usable(const struct rq_history_point *p, const rq_forecast_input *in, int outcome)
{
	double y = outcome_of(p, outcome);

	if (!same_kind(p->kind, in->kind) || !(p->index >= 0 && p->index <= INDEX_RANGE * in->kind->r_full) ||
	    !isfinite(y))
		return false;
	/* the range only: a library user's epochs need not be whole */
	return outcome != 0 || y <= rq_bound_lookup("epochs")->hi;
}

bool rq_forecast__identity_scale = false;

/* The points of one outcome, on the model's scale z = log(y + c), with
 * their families as groups (the plan's own family is `target`, or
 * n_groups when it has no point). */
struct points {
	size_t n, n_groups, target;
	double *x, *z;
	size_t *group;
	bool *censored;
	const char **names;
	double offset;
};

static void points_release(struct points *p)
{
	free(p->x);
	free(p->z);
	free(p->group);
	free(p->censored);
	free(p->names);
}

/* The scale's offset: 1 for epochs (a count: log(1 + epochs)); for the
 * other outcomes a hundredth of the median positive value, so that a zero
 * stays finite without distorting the rest. */
static double scale_offset(const rq_forecast_input *in, int outcome)
{
	double *v, med = 0;
	size_t k = 0;

	if (outcome == 0)
		return 1;
	v = rq_xcalloc(in->n_history + 1, sizeof(double));
	for (size_t i = 0; i < in->n_history; i++) {
		double y = outcome_of(&in->history[i], outcome);
		if (usable(&in->history[i], in, outcome) && y > 0)
			v[k++] = y;
	}
	if (k) {
		qsort(v, k, sizeof(double), cmp_double);
		med = k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
	}
	free(v);
	return med > 0 ? MODEL_OFFSET * med : 1e-12;
}

/* Points in a canonical order — by family, index, outcome, censoring —
 * so that the sampler's draws do not depend on the order of the ledger. */
struct point_key {
	const char *family;
	double x, y;
	bool censored;
};

static int canonical(const void *pa, const void *pb)
{
	const struct point_key *a = pa, *b = pb;
	int c = strcmp(a->family, b->family);

	if (c)
		return c;
	if (a->x != b->x)
		return a->x < b->x ? -1 : 1;
	if (a->y != b->y)
		return a->y < b->y ? -1 : 1;
	return (int)a->censored - (int)b->censored;
}

static void gather_points(struct points *p, const rq_forecast_input *in, int outcome)
{
	const char *family = family_of(in->family);
	struct point_key *key = rq_xcalloc(in->n_history + 1, sizeof(*key));
	size_t n = 0;

	memset(p, 0, sizeof(*p));
	p->x = rq_xcalloc(in->n_history + 1, sizeof(double));
	p->z = rq_xcalloc(in->n_history + 1, sizeof(double));
	p->group = rq_xcalloc(in->n_history + 1, sizeof(size_t));
	p->censored = rq_xcalloc(in->n_history + 1, sizeof(bool));
	p->names = rq_xcalloc(in->n_history + 1, sizeof(*p->names));
	p->offset = scale_offset(in, outcome);
	for (size_t i = 0; i < in->n_history; i++) {
		const struct rq_history_point *h = &in->history[i];
		if (usable(h, in, outcome) && outcome_of(h, outcome) >= 0)
			key[n++] = (struct point_key){ family_of(h->family), h->index, outcome_of(h, outcome),
						       h->censored && outcome != 1 };
	}
	qsort(key, n, sizeof(*key), canonical);
	for (size_t k = 0; k < n; k++) {
		const char *f = key[k].family;
		size_t g;
		for (g = 0; g < p->n_groups && strcmp(p->names[g], f) != 0; g++)
			;
		if (g == p->n_groups)
			p->names[p->n_groups++] = f;
		p->x[p->n] = key[k].x;
		p->z[p->n] = rq_forecast__identity_scale ? key[k].y : log(key[k].y + p->offset);
		p->group[p->n] = g;
		/* a capped run's epochs, and its gradient norm (a sum over
		 * epochs), are lower bounds; its parameter change is what it is */
		p->censored[p->n] = key[k].censored;
		p->n++;
	}
	for (p->target = 0; p->target < p->n_groups && strcmp(p->names[p->target], family) != 0;
	     p->target++)
		;
	free(key);
}

/* The priors of docs/METHOD.md, on the log scale: the lineage's line
 * centred on the points' mean with a standard deviation of 2 (a factor
 * e² either way) and a slope of ±2 per half of R_full; the noise and the
 * families' spread each with the weight of two observations at 0.3 (30 %)
 * — so two points a line fits exactly do not claim zero noise, and a
 * family's line is not forced onto the lineage's. */
static void set_prior(rq_hier_data *d, const struct points *p, const rq_forecast_input *in)
{
	double span = 0.5 * in->kind->r_full, zbar = 0, u = 1;

	for (size_t i = 0; i < p->n; i++)
		zbar += p->z[i] / (double)p->n;
	if (rq_forecast__identity_scale)
		u = fabs(zbar) > 1e-12 ? fabs(zbar) : 1e-12;
	d->n = p->n;
	d->x = p->x;
	d->z = p->z;
	d->group = p->group;
	d->censored = p->censored;
	d->n_groups = p->n_groups;
	d->m_a = zbar;
	d->v_a = (u * PRIOR_LINE_SD) * (u * PRIOR_LINE_SD);
	d->m_b = 0;
	d->v_b = (u * PRIOR_LINE_SD / span) * (u * PRIOR_LINE_SD / span);
	d->alpha_sigma = d->alpha_tau = PRIOR_NOISE_WEIGHT / 2;
	d->beta_sigma = PRIOR_NOISE_WEIGHT / 2 * (u * NOISE_GUESS) * (u * NOISE_GUESS);
	d->beta_tau_a = PRIOR_NOISE_WEIGHT / 2 * (u * FAMILY_GUESS) * (u * FAMILY_GUESS);
	d->beta_tau_b = PRIOR_NOISE_WEIGHT / 2 * (u * FAMILY_GUESS / span) * (u * FAMILY_GUESS / span);
}

/* Mean and standard deviation of v. */
static void moments(const double *v, size_t n, double *mean, double *sd)
{
	double m = 0, ss = 0;

	for (size_t i = 0; i < n; i++)
		m += v[i] / (double)n;
	for (size_t i = 0; i < n; i++)
		ss += (v[i] - m) * (v[i] - m);
	*mean = m;
	*sd = n > 1 ? sqrt(ss / (double)(n - 1)) : 0;
}

/* The posterior predictive of the outcome, by the sampler: draws of y
 * (clamped at 0) into *draws. */
static int hierarchical(rq_calibration *out, double **draws, const rq_forecast_input *in,
			int outcome, const struct points *p)
{
	rq_hier_data d;
	rq_hier_fit fit;
	size_t draws_wanted = in->draws ? in->draws : RQ_FORECAST_DRAWS;
	uint64_t seed = in->seed ? in->seed : RQ_FORECAST_SEED;
	rq_hier_run run = { SAMPLER_BURN_IN, SAMPLER_SWEEPS,
			    draws_wanted > SAMPLER_SWEEPS ? draws_wanted / SAMPLER_SWEEPS : 1, 0 };
	int err;

	run.seed = seed + (unsigned)outcome;
	set_prior(&d, p, in);
	if ((err = rq_hier_sample(&fit, &d, in->index, p->target, &run)))
		return err;
	out->source = fit.n_target ? RQ_CAL_FAMILY : RQ_CAL_POOLED;
	out->n = p->n;
	out->n_families = p->n_groups;
	out->n_family = fit.n_target;
	out->n_censored = fit.n_censored;
	out->offset = p->offset;
	out->sigma = fit.sigma;
	out->tau_a = fit.tau_a;
	out->tau_b = fit.tau_b;
	out->tau2 = fit.tau_a * fit.tau_a;
	out->b = fit.b;
	out->a = fit.a - fit.b * fit.x_mean;
	moments(fit.draws, fit.n_draws, &out->loc, &out->scale);
	out->dof = NAN;
	for (size_t i = 0; i < fit.n_draws; i++)
		fit.draws[i] = clampf(rq_forecast__identity_scale ? fit.draws[i] : exp(fit.draws[i]) - p->offset, 0);
	*draws = fit.draws;
	out->n_draws = fit.n_draws;
	return 0;
}

/* Epochs with no past update: the cold-start Student-t, drawn too. */
static void cold_start(rq_calibration *out, double **draws, const rq_forecast_input *in)
{
	double rf = in->kind->r_full, r = in->index / rf;
	rq_rng rng;

	out->source = RQ_CAL_PRIOR;
	out->a = 0;
	out->b = in->scratch_epochs / rf;
	out->loc = in->scratch_epochs * (r < 1 ? r : 1);
	out->scale = COLD_SCALE * in->scratch_epochs;
	out->dof = COLD_DOF;
	out->n_draws = in->draws ? in->draws : RQ_FORECAST_DRAWS;
	*draws = rq_xmallocarray(out->n_draws, sizeof(double));
	rq_rng_seed(&rng, in->seed ? in->seed : RQ_FORECAST_SEED);
	for (size_t i = 0; i < out->n_draws; i++)
		(*draws)[i] = clampf(out->loc + out->scale * rq_rng_student(&rng, out->dof), 0);
}

int rq_forecast_calibrate_draws(rq_calibration *out, double **draws, const rq_forecast_input *in,
				int outcome)
{
	struct points p;
	int err = 0;

	memset(out, 0, sizeof(*out));
	*draws = NULL;
	out->source = RQ_CAL_NONE;
	out->a = out->b = out->loc = out->scale = out->dof = NAN;
	out->sigma = out->tau_a = out->tau_b = out->offset = NAN;
	gather_points(&p, in, outcome);
	if (p.n >= 1)
		err = hierarchical(out, draws, in, outcome, &p);
	else if (outcome == 0 && isfinite(in->scratch_epochs))
		cold_start(out, draws, in);
	if (err)
		rq_error_prefix(err, "calibrating %s on %zu past update(s): ",
				outcome == 0 ? "epochs" : outcome == 1 ? "parameter change" : "gradient norm",
				p.n);
	points_release(&p);
	return err;
}

int rq_forecast_calibrate(rq_calibration *out, const rq_forecast_input *in, int outcome)
{
	double *draws = NULL;
	int err = rq_forecast_calibrate_draws(out, &draws, in, outcome);

	free(draws);
	return err;
}

/* --- STEP: per-epoch rates --------------------------------------------- */

/* Index of the first stable epoch of a trace: after RQ_STEP_WARMUP, skip
 * leading epochs further than STABLE_TOLERANCE from the median of the
 * epochs after the warm-up, at most half of the trace. */
static size_t first_stable(const double *v, size_t n)
{
	size_t skip = RQ_STEP_WARMUP, m = n - skip;
	double *tmp, med;

	tmp = rq_xmallocarray(m, sizeof(double));
	memcpy(tmp, v + skip, m * sizeof(double));
	qsort(tmp, m, sizeof(double), cmp_double);
	med = m % 2 ? tmp[m / 2] : 0.5 * (tmp[m / 2 - 1] + tmp[m / 2]);
	free(tmp);
	while (skip < n / 2 && fabs(v[skip] - med) > STABLE_TOLERANCE * fabs(med))
		skip++;
	return skip;
}

static bool all_finite(const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]) || v[i] < 0)
			return false;
	return true;
}

/* From k per-unit values u (per run, or per epoch when one run): the
 * Student-t predictive of a new unit, t_{k−1}(ū, s·√(1 + 1/k)). */
static void rate_from_values(rq_rate *out, const double *u, size_t k, double ratio)
{
	double mean = 0, ss = 0;

	for (size_t i = 0; i < k; i++)
		mean += u[i];
	mean /= (double)k;
	for (size_t i = 0; i < k; i++)
		ss += (u[i] - mean) * (u[i] - mean);
	out->known = true;
	out->loc = mean * ratio;
	if (k >= 2) {
		out->scale = sqrt(ss / (double)(k - 1)) * sqrt(1 + 1.0 / (double)k) * ratio;
		out->dof = (double)(k - 1);
	} else {
		out->scale = SINGLE_RATE_SPREAD * out->loc;
		out->dof = INFINITY;
	}
}

/* The suffix of a rate's source when it is scaled per training sample. */
static void per_sample_words(char *out, size_t size, bool per_sample, double train_size)
{
	out[0] = '\0';
	if (per_sample)
		snprintf(out, size, ", per training sample × %.0f samples", train_size);
}

/* STEP: the stable epochs of the traces on hardware `hw`. False when no
 * run there has any. */
static bool rate_from_traces(rq_rate *out, const rq_forecast_input *in, int field, const char *hw,
			     const char *what)
{
	size_t cap = 0, runs = 0, epochs = 0;
	bool per_sample = isfinite(in->train_size) && in->train_size > 0;
	double *run_mean, *epoch_val;
	char scaled[96];

	/* Scale per sample only when every run used knows its training size. */
	for (size_t i = 0; i < in->n_traces; i++) {
		const struct rq_epoch_trace *t = &in->traces[i];
		if (strcmp(hardware_of(t->hardware), hw) != 0)
			continue;
		cap += t->n;
		if (!(isfinite(t->train_size) && t->train_size > 0))
			per_sample = false;
	}
	run_mean = rq_xcalloc(in->n_traces + 1, sizeof(double));
	epoch_val = rq_xcalloc(cap + 1, sizeof(double));
	for (size_t i = 0; i < in->n_traces; i++) {
		const struct rq_epoch_trace *t = &in->traces[i];
		const double *v = field == 0 ? t->epoch_kwh : t->epoch_s;
		double sum = 0, div = per_sample ? t->train_size : 1;
		size_t s0;
		if (strcmp(hardware_of(t->hardware), hw) != 0 || !v ||
		    t->n <= RQ_STEP_WARMUP || !all_finite(v, t->n))
			continue;
		s0 = first_stable(v, t->n);
		for (size_t j = s0; j < t->n; j++) {
			epoch_val[epochs++] = v[j] / div;
			sum += v[j] / div;
		}
		run_mean[runs++] = sum / (double)(t->n - s0);
	}
	if (runs > 0) {
		out->scale_ratio = per_sample ? in->train_size : 1;
		if (runs >= 2)
			rate_from_values(out, run_mean, runs, out->scale_ratio);
		else
			rate_from_values(out, epoch_val, epochs, out->scale_ratio);
		out->runs = runs;
		out->epochs = epochs;
		per_sample_words(scaled, sizeof(scaled), per_sample, in->train_size);
		snprintf(out->source, sizeof(out->source),
			 "STEP: mean %s of %zu stable epoch(s) of %zu run(s) on '%s' (warm-up epochs excluded)%s",
			 what, epochs, runs, hw, scaled);
	}
	free(run_mean);
	free(epoch_val);
	return runs > 0;
}

/* Without epoch markers: totals / epochs of past updates on hardware `hw`.
 * False when there is none. */
static bool rate_from_totals(rq_rate *out, const rq_forecast_input *in, int field, const char *hw,
			     const char *what)
{
	bool per_sample = isfinite(in->train_size) && in->train_size > 0;
	double *run_mean = rq_xcalloc(in->n_history + 1, sizeof(double));
	size_t k = 0;
	char scaled[96];

	for (size_t i = 0; i < in->n_history; i++) {
		const struct rq_history_point *p = &in->history[i];
		double total = field == 0 ? p->energy_kwh : p->duration_s;
		if (strcmp(hardware_of(p->hardware), hw) == 0 && isfinite(total) && total >= 0 &&
		    isfinite(p->epochs) && p->epochs > 0 &&
		    !(isfinite(p->train_size) && p->train_size > 0))
			per_sample = false;
	}
	for (size_t i = 0; i < in->n_history; i++) {
		const struct rq_history_point *p = &in->history[i];
		double total = field == 0 ? p->energy_kwh : p->duration_s;
		if (strcmp(hardware_of(p->hardware), hw) != 0 || !isfinite(total) || total < 0 ||
		    !isfinite(p->epochs) || !(p->epochs > 0))
			continue;
		run_mean[k++] = total / p->epochs / (per_sample ? p->train_size : 1);
	}
	if (k > 0) {
		out->scale_ratio = per_sample ? in->train_size : 1;
		rate_from_values(out, run_mean, k, out->scale_ratio);
		out->runs = k;
		per_sample_words(scaled, sizeof(scaled), per_sample, in->train_size);
		snprintf(out->source, sizeof(out->source),
			 "total %s / epochs of %zu past update(s) on '%s' (no epoch markers: warm-up not excluded)%s",
			 what, k, hw, scaled);
	}
	free(run_mean);
	return k > 0;
}

int rq_forecast_rate(rq_rate *out, const rq_forecast_input *in, int field)
{
	const char *hw = hardware_of(in->hardware), *what = field == 0 ? "energy" : "duration";

	memset(out, 0, sizeof(*out));
	out->known = false;
	out->loc = out->scale = out->dof = NAN;
	out->scale_ratio = 1;
	if (rate_from_traces(out, in, field, hw, what) || rate_from_totals(out, in, field, hw, what))
		return 0;
	/* Costs and runs that do not say where they ran (hardware "unknown",
	 * e.g. a cost file without "hardware") are taken as this hardware's
	 * rather than ignored, and the source says so. */
	if (strcmp(hw, "unknown") != 0 && (rate_from_traces(out, in, field, "unknown", what) ||
					   rate_from_totals(out, in, field, "unknown", what))) {
		size_t used = strlen(out->source);
		snprintf(out->source + used, sizeof(out->source) - used,
			 "; none measured on '%s': taken as the same hardware", hw);
		return 0;
	}
	snprintf(out->source, sizeof(out->source), "no %s measured on '%s'", what, hw);
	return 0;
}

/* --- the whole forecast ------------------------------------------------ */

/* Quantiles of sorted draws; the mean is the draws' mean. */
static void quantiles_from_draws(rq_quantiles *out, double *v, size_t n)
{
	double mean = 0;

	for (size_t i = 0; i < n; i++)
		mean += v[i] / (double)n;
	qsort(v, n, sizeof(double), cmp_double);
	out->known = true;
	out->mean = mean;
	out->p10 = sorted_quantile(v, n, 0.10);
	out->p90 = sorted_quantile(v, n, 0.90);
	out->p2_5 = sorted_quantile(v, n, 0.025);
	out->p97_5 = sorted_quantile(v, n, 0.975);
	out->p50 = sorted_quantile(v, n, 0.5);
}

/* Quantiles of epochs × rate by Monte-Carlo: each epochs draw (in the
 * order the sampler made them) times a draw of the rate's Student-t,
 * clamped at 0. The mean is the product of the means (independent
 * factors). */
static void product_quantiles(rq_quantiles *out, rq_rng *rng, const double *ep, size_t n,
			      double ep_mean, const rq_rate *rate)
{
	double *v = rq_xmallocarray(n, sizeof(double));

	for (size_t i = 0; i < n; i++)
		v[i] = ep[i] * clampf(rate->loc + rate->scale * rq_rng_student(rng, rate->dof), 0);
	quantiles_from_draws(out, v, n);
	out->mean = ep_mean * clampf(rate->loc, 0);
	free(v);
}

/* An outcome's quantiles: the cold start's exact Student-t, else the
 * sampler's draws (a copy: the draws stay in order for the products). */
static void outcome_quantiles(rq_quantiles *q, const rq_calibration *c, const double *draws)
{
	double *v;

	if (c->source == RQ_CAL_NONE || !draws) {
		unknown_quantiles(q);
	} else if (c->source == RQ_CAL_PRIOR) {
		rq_quantiles_from_student(q, c->loc, c->scale, c->dof, 0);
	} else {
		v = rq_xmallocarray(c->n_draws, sizeof(double));
		memcpy(v, draws, c->n_draws * sizeof(double));
		quantiles_from_draws(q, v, c->n_draws);
		free(v);
		/* The predictive's own mean does not exist (the inverse-gamma
		 * variance gives exp(z*) tails too heavy for one), so a draws'
		 * mean is noise; `mean` is that of the log-normal with the
		 * predictive's mean and variance of z: exp(E z + Var z / 2) − c. */
		if (!rq_forecast__identity_scale)
			q->mean = clampf(exp(c->loc + 0.5 * c->scale * c->scale) - c->offset, 0);
	}
}

/* A known figure with a non-finite number becomes unknown, named in
 * out->not_forecast: nothing NaN or infinite is ever printed or signed. */
static void guard_quantiles(rq_forecast *out, rq_quantiles *q, const char *what)
{
	size_t used = strlen(out->not_forecast);
	if (!q->known || (isfinite(q->mean) && isfinite(q->p10) && isfinite(q->p90) && isfinite(q->p2_5) &&
			  isfinite(q->p97_5) && isfinite(q->p50)))
		return;
	unknown_quantiles(q);
	snprintf(out->not_forecast + used, sizeof(out->not_forecast) - used, "%s%s", used ? ", " : "", what);
}

/* A forecast beyond the plausible range of its quantity (docs/FORMATS.md
 * "Plausible ranges": an extrapolation far outside the history) is not
 * signed: unknown, named with the reason. */
static void guard_plausible(rq_forecast *out, rq_quantiles *q, const char *quantity)
{
	const rq_bound *b = rq_bound_lookup(quantity);
	size_t used = strlen(out->not_forecast);

	if (!q->known || !b || q->p97_5 <= b->hi)
		return;
	unknown_quantiles(q);
	snprintf(out->not_forecast + used, sizeof(out->not_forecast) - used,
		 "%s%s (its 97.5 %% quantile is beyond the plausible %g%s%s)", used ? "; " : "", quantity, b->hi,
		 *b->unit ? " " : "", b->unit);
}

static void guard_rate(rq_forecast *out, rq_rate *r, const char *what)
{
	size_t used = strlen(out->not_forecast);
	if (!r->known || (isfinite(r->loc) && isfinite(r->scale) && !isnan(r->dof)))
		return;
	r->known = false;
	snprintf(r->source, sizeof(r->source), "the computation overflowed");
	snprintf(out->not_forecast + used, sizeof(out->not_forecast) - used, "%s%s", used ? ", " : "", what);
}

static void guard_calibration(rq_calibration *c)
{
	double *v[] = { &c->tau2, &c->a, &c->b, &c->loc, &c->scale, &c->sigma, &c->tau_a, &c->tau_b };
	for (size_t i = 0; i < RQ_ARRAY_SIZE(v); i++)
		if (!isfinite(*v[i]))
			*v[i] = NAN;
}

static void guard(rq_forecast *out)
{
	guard_rate(out, &out->kwh_per_epoch, "energy per epoch");
	guard_rate(out, &out->s_per_epoch, "duration per epoch");
	guard_quantiles(out, &out->epochs, "epochs");
	guard_quantiles(out, &out->energy_kwh, "energy_kwh");
	guard_quantiles(out, &out->carbon_kg, "carbon_kg");
	guard_quantiles(out, &out->duration_s, "duration_s");
	guard_quantiles(out, &out->param_change, "param_change");
	guard_quantiles(out, &out->grad_norm, "grad_norm");
	guard_quantiles(out, &out->scratch_energy_kwh, "scratch energy_kwh");
	guard_quantiles(out, &out->scratch_carbon_kg, "scratch carbon_kg");
	guard_quantiles(out, &out->scratch_duration_s, "scratch duration_s");
	guard_calibration(&out->cal_epochs);
	guard_calibration(&out->cal_param_change);
	guard_calibration(&out->cal_grad_norm);
	if (out->not_forecast[0]) {
		size_t used = strlen(out->not_forecast);
		snprintf(out->not_forecast + used, sizeof(out->not_forecast) - used,
			 ": the computation overflowed (the history holds figures too large to combine)");
	}
	guard_plausible(out, &out->epochs, "epochs");
	if (!out->epochs.known) {
		/* energy, carbon and duration rest on the epochs */
		unknown_quantiles(&out->energy_kwh);
		unknown_quantiles(&out->carbon_kg);
		unknown_quantiles(&out->duration_s);
	}
	guard_plausible(out, &out->energy_kwh, "energy_kwh");
	guard_plausible(out, &out->carbon_kg, "carbon_kg");
	guard_plausible(out, &out->duration_s, "duration_s");
	if (!isfinite(out->saving_kwh) || !out->energy_kwh.known || !out->scratch_energy_kwh.known)
		out->saving_kwh = NAN;
	if (!isfinite(out->saving_kg) || !out->carbon_kg.known || !out->scratch_carbon_kg.known)
		out->saving_kg = NAN;
}

static int check_input(const rq_forecast_input *in, double pue)
{
	if (!in->kind)
		return rq_error_set(RQ_EINVALID, "the forecast input names no measure (kind)");
	if (!isfinite(in->index) || in->index < 0)
		return rq_error_set(RQ_EINVALID, "the RESQUE index %g is not a non-negative number", in->index);
	if (!(pue >= 1) || !isfinite(pue))
		return rq_error_set(RQ_EINVALID, "PUE %g is not a number of at least 1", pue);
	if (!isnan(in->intensity) && !(in->intensity >= 0 && isfinite(in->intensity)))
		return rq_error_set(RQ_EINVALID, "grid intensity %g g/kWh is not a non-negative number",
				    in->intensity);
	if (!isnan(in->scratch_epochs) && !(in->scratch_epochs > 0 && isfinite(in->scratch_epochs)))
		return rq_error_set(RQ_EINVALID, "from-scratch epochs %g is not a positive number",
				    in->scratch_epochs);
	if (!isnan(in->train_size) && !(in->train_size > 0 && isfinite(in->train_size)))
		return rq_error_set(RQ_EINVALID, "training-set size %g is not a positive number",
				    in->train_size);
	return 0;
}

/* Training from scratch: E₀ (a recorded count, NaN when unknown) at the
 * same rates, and what reuse saves. */
static void scratch_alternative(rq_forecast *out, double e0, double carbon_k)
{
	const rq_rate *k = &out->kwh_per_epoch, *s = &out->s_per_epoch;

	out->scratch_epochs = e0;
	unknown_quantiles(&out->scratch_energy_kwh);
	unknown_quantiles(&out->scratch_carbon_kg);
	unknown_quantiles(&out->scratch_duration_s);
	out->saving_kwh = out->saving_kg = NAN;
	if (!isfinite(e0))
		return;
	if (k->known) {
		rq_quantiles_from_student(&out->scratch_energy_kwh, e0 * k->loc, e0 * k->scale, k->dof, 0);
		out->saving_kwh = out->scratch_energy_kwh.mean - out->energy_kwh.mean;
		if (isfinite(carbon_k)) {
			scale_quantiles(&out->scratch_carbon_kg, &out->scratch_energy_kwh, carbon_k);
			out->saving_kg = out->scratch_carbon_kg.mean - out->carbon_kg.mean;
		}
	}
	if (s->known)
		rq_quantiles_from_student(&out->scratch_duration_s, e0 * s->loc, e0 * s->scale, s->dof, 0);
}

/* The three regressions; secondary outcomes never block a plan (a
 * degenerate history leaves them unknown). */
static int calibrate_all(rq_forecast *out, double *draws[3], const rq_forecast_input *in)
{
	int err;

	if ((err = rq_forecast_calibrate_draws(&out->cal_epochs, &draws[0], in, 0)))
		return err;
	if (rq_forecast_calibrate_draws(&out->cal_param_change, &draws[1], in, 1))
		out->cal_param_change.source = RQ_CAL_NONE;
	if (rq_forecast_calibrate_draws(&out->cal_grad_norm, &draws[2], in, 2))
		out->cal_grad_norm.source = RQ_CAL_NONE;
	rq_error_clear();
	if (out->cal_epochs.source == RQ_CAL_NONE)
		return rq_error_set(RQ_EINVALID,
				    "cannot forecast epochs: no past %s update with recorded epochs and no from-scratch epoch count for the base version",
				    in->kind->name);
	return 0;
}

int rq_forecast_compute(rq_forecast *out, const rq_forecast_input *in)
{
	double pue = isnan(in->pue) ? 1 : in->pue, carbon_k, *draws[3] = { NULL, NULL, NULL };
	const rq_calibration *ce = &out->cal_epochs;
	rq_rng rng;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = check_input(in, pue)))
		return err;
	carbon_k = pue * in->intensity / 1000;
	if ((err = calibrate_all(out, draws, in)))
		goto done;
	out->prior_only = ce->source == RQ_CAL_PRIOR;
	outcome_quantiles(&out->epochs, ce, draws[0]);
	outcome_quantiles(&out->param_change, &out->cal_param_change, draws[1]);
	outcome_quantiles(&out->grad_norm, &out->cal_grad_norm, draws[2]);

	rq_forecast_rate(&out->kwh_per_epoch, in, 0);
	rq_forecast_rate(&out->s_per_epoch, in, 1);
	rq_rng_seed(&rng, (in->seed ? in->seed : RQ_FORECAST_SEED) ^ PRODUCT_STREAM);
	unknown_quantiles(&out->energy_kwh);
	unknown_quantiles(&out->duration_s);
	unknown_quantiles(&out->carbon_kg);
	if (out->kwh_per_epoch.known)
		product_quantiles(&out->energy_kwh, &rng, draws[0], ce->n_draws, out->epochs.mean,
				  &out->kwh_per_epoch);
	if (out->s_per_epoch.known)
		product_quantiles(&out->duration_s, &rng, draws[0], ce->n_draws, out->epochs.mean,
				  &out->s_per_epoch);
	if (out->energy_kwh.known && isfinite(carbon_k))
		scale_quantiles(&out->carbon_kg, &out->energy_kwh, carbon_k);

	scratch_alternative(out, in->scratch_epochs, carbon_k);
	guard(out);
done:
	for (size_t i = 0; i < 3; i++)
		free(draws[i]);
	return err;
}
