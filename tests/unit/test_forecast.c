/* Unit tests of the forecaster: calibration choice (family, pooled,
 * prior), STEP energy per epoch, the Monte-Carlo product, carbon, and the
 * validation of docs/METHOD.md on histories drawn from a known linear law. */
#include "unit.h"
#include "forecast_int.h"
#include "bayes.h"

static rq_forecast_input base_input(void)
{
	rq_forecast_input in;
	memset(&in, 0, sizeof(in));
	in.kind = RQ_SHIFT_DIST;
	in.index = 0.2;
	in.train_size = NAN;
	in.scratch_epochs = NAN;
	in.intensity = NAN;
	in.pue = NAN;
	return in;
}

static struct rq_history_point point(double r, double epochs, const char *family)
{
	struct rq_history_point p = { RQ_SHIFT_DIST, r, epochs, NAN, NAN, NAN, NAN,
				      family, "gpu", NAN };
	return p;
}

TEST(forecast_cold_start_prior)
{
	rq_forecast_input in = base_input();
	rq_forecast f;
	in.scratch_epochs = 100;
	in.index = 0.125;
	CHECK_OK(rq_forecast_compute(&f, &in));
	CHECK(f.prior_only);
	CHECK(f.cal_epochs.source == RQ_CAL_PRIOR);
	CHECK_STR_EQ(rq_calibration_name(f.cal_epochs.source), "prior");
	CHECK_INT_EQ(f.cal_epochs.n, 0);
	CHECK_NEAR(f.epochs.mean, 100 * 0.125 / 0.5, 1e-12);
	CHECK(f.epochs.p2_5 <= f.epochs.p10 && f.epochs.p10 < f.epochs.mean &&
	      f.epochs.mean < f.epochs.p90 && f.epochs.p90 <= f.epochs.p97_5);
	CHECK(f.epochs.p2_5 >= 0); /* clamped: epochs are not negative */
	CHECK(!f.param_change.known && !f.energy_kwh.known && !f.carbon_kg.known);
	/* beyond R_full an update costs a training from scratch */
	in.index = 0.9;
	CHECK_OK(rq_forecast_compute(&f, &in));
	CHECK_NEAR(f.epochs.mean, 100, 1e-12);
	in.kind = RQ_SHIFT_TASK;
	CHECK_OK(rq_forecast_compute(&f, &in));
	CHECK_NEAR(f.epochs.mean, 90, 1e-12);
}

TEST(forecast_without_history_or_scratch_is_refused)
{
	rq_forecast_input in = base_input();
	rq_forecast f;
	CHECK_ERR(rq_forecast_compute(&f, &in), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "cannot forecast epochs");
	in.scratch_epochs = 10;
	in.index = -0.1;
	CHECK_ERR(rq_forecast_compute(&f, &in), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "RESQUE index");
	in.index = 0.1;
	in.pue = 0.9;
	CHECK_ERR(rq_forecast_compute(&f, &in), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "PUE");
	in.pue = NAN;
	in.intensity = -1;
	CHECK_ERR(rq_forecast_compute(&f, &in), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "intensity");
}

TEST(forecast_family_then_pooled_with_between_family_variance)
{
	struct rq_history_point h[] = {
		point(0.1, 12, "noise"), point(0.2, 21, "noise"), point(0.3, 33, "noise"),
		point(0.1, 30, "blur"), point(0.25, 52, "rotation"),
	};
	rq_forecast_input in = base_input();
	rq_calibration c, wide;
	in.history = h;
	in.n_history = RQ_ARRAY_SIZE(h);
	in.scratch_epochs = 60;

	in.family = "noise";
	CHECK_OK(rq_forecast_calibrate(&c, &in, 0));
	CHECK(c.source == RQ_CAL_FAMILY);
	CHECK_INT_EQ(c.n, 3);
	CHECK_NEAR(c.b, 105, 10); /* the noise points lie near 1.5 + 105·R */
	CHECK_NEAR(c.tau2, 0, 0);

	in.family = "blur"; /* one point only: pooled, widened */
	CHECK_OK(rq_forecast_calibrate(&wide, &in, 0));
	CHECK(wide.source == RQ_CAL_POOLED);
	CHECK_INT_EQ(wide.n, 5);
	CHECK_INT_EQ(wide.n_families, 3);
	CHECK(wide.tau2 > 0);
	CHECK(wide.scale * wide.scale >= wide.tau2);

	in.family = NULL; /* "unspecified": no point of its own */
	CHECK_OK(rq_forecast_calibrate(&c, &in, 0));
	CHECK(c.source == RQ_CAL_POOLED && c.n == 5);
	CHECK_NEAR(c.scale, wide.scale, 1e-12);

	/* other kinds and unknown outcomes are not used */
	h[4].kind = RQ_SHIFT_TASK;
	CHECK_OK(rq_forecast_calibrate(&c, &in, 0));
	CHECK_INT_EQ(c.n, 4);
	CHECK_OK(rq_forecast_calibrate(&c, &in, 1));
	CHECK(c.source == RQ_CAL_NONE);
}

TEST(forecast_step_energy_per_epoch)
{
	/* first epoch is warm-up; the second is 50 % off the median: skipped */
	double e1[] = { 9, 3, 2.0, 2.1, 1.9, 2.0 }, e2[] = { 8, 2.2, 2.2, 2.2 };
	double e3[] = { 100, 100, 100 };
	double s1[] = { 60, 30, 20, 20, 20, 20 };
	struct rq_epoch_trace tr[] = {
		{ e1, s1, 6, "gpu", 1000 }, { e2, NULL, 4, "gpu", 2000 }, { e3, NULL, 3, "cpu", 1000 },
	};
	rq_forecast_input in = base_input();
	rq_rate r;
	in.traces = tr;
	in.n_traces = 3;
	in.hardware = "gpu";
	in.train_size = 1500;
	CHECK_OK(rq_forecast_rate(&r, &in, 0));
	CHECK(r.known);
	CHECK_INT_EQ(r.runs, 2);
	CHECK_INT_EQ(r.epochs, 4 + 3);
	/* per-sample run means 2.0/1000 and 2.2/2000, × 1500 samples */
	CHECK_NEAR(r.loc, 0.5 * (2.0 / 1000 + 2.2 / 2000) * 1500, 1e-12);
	CHECK_NEAR(r.dof, 1, 0);
	CHECK_CONTAINS(r.source, "STEP");
	CHECK_CONTAINS(r.source, "'gpu'");
	/* one run with durations: epoch-level predictive */
	CHECK_OK(rq_forecast_rate(&r, &in, 1));
	CHECK_INT_EQ(r.runs, 1);
	CHECK_NEAR(r.loc, 20 * 1.5, 1e-12);
	CHECK_NEAR(r.scale, 0, 1e-12);
	/* another machine: nothing measured */
	in.hardware = "tpu";
	CHECK_OK(rq_forecast_rate(&r, &in, 0));
	CHECK(!r.known);
	CHECK_CONTAINS(r.source, "no energy measured on 'tpu'");
}

TEST(forecast_energy_carbon_and_scratch)
{
	double e[] = { 5, 1, 1, 1, 1 }, s[] = { 100, 10, 10, 10, 10 };
	struct rq_epoch_trace tr[] = { { e, s, 5, "gpu", NAN } };
	struct rq_history_point h[] = { point(0.1, 11, "noise"), point(0.2, 19, "noise"),
					point(0.3, 32, "noise"), point(0.4, 41, "noise") };
	rq_forecast_input in = base_input();
	rq_forecast f, g;
	in.history = h;
	in.n_history = 4;
	in.traces = tr;
	in.n_traces = 1;
	in.hardware = "gpu";
	in.family = "noise";
	in.scratch_epochs = 80;
	in.intensity = 50;
	in.pue = 1.2;
	in.index = 0.25;
	CHECK_OK(rq_forecast_compute(&f, &in));
	CHECK(!f.prior_only && f.cal_epochs.source == RQ_CAL_FAMILY);
	/* the rate is exactly 1 kWh/epoch: energy quantiles are the epochs'
	 * up to Monte-Carlo error */
	CHECK_NEAR(f.energy_kwh.mean, f.epochs.mean, 1e-12);
	CHECK_NEAR(f.energy_kwh.p10, f.epochs.p10, 0.03 * f.epochs.mean);
	CHECK_NEAR(f.energy_kwh.p97_5, f.epochs.p97_5, 0.03 * f.epochs.mean);
	CHECK_NEAR(f.duration_s.mean, 10 * f.epochs.mean, 1e-9);
	CHECK_NEAR(f.carbon_kg.mean, f.energy_kwh.mean * 1.2 * 50 / 1000, 1e-12);
	CHECK_NEAR(f.carbon_kg.p90, f.energy_kwh.p90 * 1.2 * 50 / 1000, 1e-12);
	CHECK_NEAR(f.scratch_energy_kwh.mean, 80, 1e-12);
	CHECK_NEAR(f.saving_kwh, 80 - f.energy_kwh.mean, 1e-9);
	CHECK_NEAR(f.saving_kg, f.saving_kwh * 1.2 * 50 / 1000, 1e-9);
	/* deterministic */
	CHECK_OK(rq_forecast_compute(&g, &in));
	CHECK(memcmp(&f.energy_kwh, &g.energy_kwh, sizeof(f.energy_kwh)) == 0);
	/* without intensity there is no carbon, but energy stays */
	in.intensity = NAN;
	CHECK_OK(rq_forecast_compute(&g, &in));
	CHECK(g.energy_kwh.known && !g.carbon_kg.known && isnan(g.saving_kg));
}

TEST(rng_student_moments)
{
	rq_rng r;
	double s = 0, ss = 0, n = 200000;
	rq_rng_seed(&r, 42);
	for (int i = 0; i < (int)n; i++) {
		double t = rq_rng_student(&r, 6);
		s += t;
		ss += t * t;
	}
	CHECK_NEAR(s / n, 0, 0.02);
	CHECK_NEAR(ss / n, 6.0 / 4, 0.05); /* Var T_ν = ν / (ν − 2) */
}

/* Issue 6 item 7 (docs/METHOD.md, "Forecasting"): histories drawn from y = a + b·R + N(0, σ²)
 * are recovered (true coefficients inside their 95 % posterior intervals
 * in about 95 % of histories) and the 80 % predictive interval covers
 * 70–90 % of held-out draws over 500 trials. */
TEST(forecast_validation_on_a_known_linear_law)
{
	const double a = 4, b = 70, sigma = 3;
	const int trials = 500, npts = 10;
	int covered80 = 0, a_in = 0, b_in = 0;
	rq_rng rng;
	rq_rng_seed(&rng, 20250601);
	for (int t = 0; t < trials; t++) {
		struct rq_history_point h[10];
		rq_forecast_input in = base_input();
		rq_calibration c;
		rq_student ca, cb;
		for (int i = 0; i < npts; i++) {
			double r = 0.5 * rq_rng_uniform(&rng);
			h[i] = point(r, a + b * r + sigma * rq_rng_normal(&rng), "noise");
		}
		in.history = h;
		in.n_history = (size_t)npts;
		in.family = "noise";
		in.scratch_epochs = 50; /* the prior's line 100·R is deliberately off */
		in.index = 0.5 * rq_rng_uniform(&rng);
		CHECK_OK(rq_forecast_calibrate(&c, &in, 0));
		double y = a + b * in.index + sigma * rq_rng_normal(&rng);
		rq_student pred = { c.loc, c.scale, c.dof };
		if (y >= rq_student_quantile(&pred, 0.10) && y <= rq_student_quantile(&pred, 0.90))
			covered80++;
		CHECK_OK(rq_nig_coef(&ca, &c.post, 0));
		CHECK_OK(rq_nig_coef(&cb, &c.post, 1));
		a_in += a >= rq_student_quantile(&ca, 0.025) && a <= rq_student_quantile(&ca, 0.975);
		b_in += b >= rq_student_quantile(&cb, 0.025) && b <= rq_student_quantile(&cb, 0.975);
	}
	if (!(covered80 >= 0.70 * trials && covered80 <= 0.90 * trials))
		unit_fail(__FILE__, __LINE__, "80 %% interval covered %d of %d", covered80, trials);
	if (!(a_in >= 0.90 * trials && b_in >= 0.90 * trials))
		unit_fail(__FILE__, __LINE__, "95 %% intervals held a in %d, b in %d of %d", a_in, b_in, trials);
}

/* A measure's kind is compared by name, not by address: a library user's
 * own rq_shift_kind for "dist" selects the same history. */
TEST(forecast_kind_by_name_and_required)
{
	static const rq_shift_kind my_dist = { "dist", 0.5 }, other = { "other", 2.0 };
	struct rq_history_point h[] = { point(0.1, 11, "noise"), point(0.2, 19, "noise"),
					point(0.3, 31, "noise") };
	rq_forecast_input in = base_input();
	rq_forecast f, g;

	in.history = h;
	in.n_history = RQ_ARRAY_SIZE(h);
	CHECK_OK(rq_forecast_compute(&f, &in));
	CHECK(f.cal_epochs.source == RQ_CAL_POOLED);
	in.kind = &my_dist;
	CHECK_OK(rq_forecast_compute(&g, &in));
	CHECK(g.cal_epochs.source == RQ_CAL_POOLED);
	CHECK_INT_EQ(g.cal_epochs.n, 3);
	CHECK_NEAR(g.epochs.mean, f.epochs.mean, 0);
	/* another kind's points are not used; its R_full scales the prior */
	in.kind = &other;
	in.scratch_epochs = 100;
	CHECK_OK(rq_forecast_compute(&g, &in));
	CHECK(g.cal_epochs.source == RQ_CAL_PRIOR);
	CHECK_NEAR(g.epochs.mean, 100 * 0.2 / 2.0, 1e-12);
	in.kind = NULL;
	CHECK_ERR(rq_forecast_compute(&g, &in), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "names no measure");
}
