/* Unit tests of the forecaster: calibration choice (family, pooled,
 * prior), partial pooling, censored runs, STEP energy per epoch, the
 * Monte-Carlo product and carbon. The coverage validation on simulated
 * hierarchical histories is in tests/t0600 (rq-stats validate). */
#include "unit.h"
#include "forecast_int.h"
#include "bayes.h"

#include <math.h>

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

static double width80(const rq_forecast *f)
{
	return f->epochs.p90 - f->epochs.p10;
}

/* Partial pooling (docs/METHOD.md "Forecasting"): every point of the
 * lineage enters; a family's own points pull its forecast; a family with
 * none borrows the lineage's line with a wider interval. */
TEST(forecast_partial_pooling_across_families)
{
	struct rq_history_point h[] = {
		point(0.1, 12, "noise"), point(0.2, 21, "noise"), point(0.3, 33, "noise"),
		point(0.1, 30, "blur"), point(0.25, 52, "rotation"),
	};
	rq_forecast_input in = base_input();
	rq_forecast noise, blur, none;
	rq_calibration c;
	in.history = h;
	in.n_history = RQ_ARRAY_SIZE(h);
	in.scratch_epochs = 60;

	in.family = "noise";
	CHECK_OK(rq_forecast_compute(&noise, &in));
	CHECK(noise.cal_epochs.source == RQ_CAL_FAMILY);
	CHECK_STR_EQ(rq_calibration_name(noise.cal_epochs.source), "family");
	CHECK_INT_EQ(noise.cal_epochs.n, 5);
	CHECK_INT_EQ(noise.cal_epochs.n_family, 3);
	CHECK_INT_EQ(noise.cal_epochs.n_families, 3);
	CHECK_INT_EQ(noise.cal_epochs.n_censored, 0);
	CHECK_NEAR(noise.epochs.p50, 21, 4); /* its own points say ~21 at R = 0.2 */
	CHECK(noise.epochs.p10 < 21 && noise.epochs.p90 > 21);
	CHECK(noise.cal_epochs.tau_a > 0 && noise.cal_epochs.sigma > 0);

	in.family = "blur"; /* one point, far above the noise line: it pulls */
	CHECK_OK(rq_forecast_compute(&blur, &in));
	CHECK(blur.cal_epochs.source == RQ_CAL_FAMILY);
	CHECK_INT_EQ(blur.cal_epochs.n_family, 1);
	CHECK(blur.epochs.p50 > noise.epochs.p50 * 1.2);

	in.family = NULL; /* "unspecified": no point of its own */
	CHECK_OK(rq_forecast_compute(&none, &in));
	CHECK(none.cal_epochs.source == RQ_CAL_POOLED);
	CHECK_INT_EQ(none.cal_epochs.n_family, 0);
	CHECK(width80(&none) > width80(&noise));

	/* other kinds and unknown outcomes are not used */
	h[4].kind = RQ_SHIFT_TASK;
	CHECK_OK(rq_forecast_calibrate(&c, &in, 0));
	CHECK_INT_EQ(c.n, 4);
	CHECK_OK(rq_forecast_calibrate(&c, &in, 1));
	CHECK(c.source == RQ_CAL_NONE);
}

/* Two points that happen to lie close do not give a narrow interval, and
 * the interval sharpens as the family's points accumulate. */
TEST(forecast_intervals_honest_with_two_points_and_sharpen)
{
	struct rq_history_point h[12];
	rq_forecast_input in = base_input();
	rq_forecast two, twelve;
	rq_rng rng;

	h[0] = point(0.15, 20, "noise");
	h[1] = point(0.25, 20.5, "noise");
	in.history = h;
	in.n_history = 2;
	in.family = "noise";
	in.scratch_epochs = 60;
	CHECK_OK(rq_forecast_compute(&two, &in));
	/* the old forecaster said ±1.7 epochs here */
	CHECK(two.epochs.p90 - two.epochs.p10 > 8);
	rq_rng_seed(&rng, 7);
	for (int i = 2; i < 12; i++) {
		double r = 0.05 + 0.03 * i;
		h[i] = point(r, expm1(log(21) + 0.2 * rq_rng_normal(&rng)), "noise");
	}
	in.n_history = 12;
	CHECK_OK(rq_forecast_compute(&twelve, &in));
	CHECK(width80(&twelve) < width80(&two));
}

/* A run capped by a budget is a lower bound: the forecast rises above the
 * cap instead of learning the cap, and says how many points are censored. */
TEST(forecast_censored_runs_are_lower_bounds)
{
	struct rq_history_point h[8];
	rq_forecast_input in = base_input();
	rq_forecast naive, censored;

	for (int i = 0; i < 8; i++)
		h[i] = point(0.3 + 0.01 * i, 60, "blur"); /* all hit a 60-epoch budget */
	h[0].epochs = h[1].epochs = 40;           /* two reached the target */
	in.history = h;
	in.n_history = 8;
	in.family = "blur";
	in.scratch_epochs = 80;
	in.index = 0.34;
	CHECK_OK(rq_forecast_compute(&naive, &in));
	for (int i = 2; i < 8; i++)
		h[i].censored = true;
	CHECK_OK(rq_forecast_compute(&censored, &in));
	CHECK_INT_EQ(censored.cal_epochs.n_censored, 6);
	CHECK_INT_EQ(naive.cal_epochs.n_censored, 0);
	CHECK(naive.epochs.p50 <= 60);
	CHECK(censored.epochs.p50 > 60);
	CHECK(censored.epochs.p90 > naive.epochs.p90);
}

/* From the hostile review of issue 14: the mean is finite and stable
 * (the log-normal mean, not the draws' mean, which has no limit), the
 * order of the ledger does not change a forecast, a capped run's
 * parameter change is an observation, and an absurd index is left out. */
TEST(forecast_mean_order_censoring_and_absurd_points)
{
	struct rq_history_point h[] = {
		point(0.1, 10, "noise"), point(0.2, 14, "noise"), point(0.3, 22, "blur"),
		point(0.15, 12, "blur"), point(0.25, 19, "rotation"),
	};
	struct rq_history_point r[RQ_ARRAY_SIZE(h)];
	rq_forecast_input in = base_input();
	rq_forecast f, g;
	rq_calibration c;

	in.history = h;
	in.n_history = RQ_ARRAY_SIZE(h);
	in.family = "noise";
	in.scratch_epochs = 60;
	CHECK_OK(rq_forecast_compute(&f, &in));
	CHECK(isfinite(f.epochs.mean) && f.epochs.mean >= f.epochs.p50 && f.epochs.mean < f.epochs.p90);
	for (size_t i = 0; i < RQ_ARRAY_SIZE(h); i++)
		r[i] = h[RQ_ARRAY_SIZE(h) - 1 - i];
	in.history = r;
	CHECK_OK(rq_forecast_compute(&g, &in));
	CHECK(memcmp(&f.epochs, &g.epochs, sizeof(f.epochs)) == 0);
	/* one seed or another: the mean moves little */
	in.seed = 12345;
	CHECK_OK(rq_forecast_compute(&g, &in));
	CHECK_NEAR(g.epochs.mean, f.epochs.mean, 0.1 * f.epochs.mean);
	in.seed = 0;
	/* a capped run: epochs censored, parameter change observed */
	for (size_t i = 0; i < RQ_ARRAY_SIZE(h); i++) {
		r[i].param_change = 0.01 * (double)(i + 1);
		r[i].censored = i == 0;
	}
	CHECK_OK(rq_forecast_calibrate(&c, &in, 0));
	CHECK_INT_EQ(c.n_censored, 1);
	CHECK_OK(rq_forecast_calibrate(&c, &in, 1));
	CHECK_INT_EQ(c.n_censored, 0);
	CHECK_INT_EQ(c.n, 5);
	/* an index no measure gives is left out, not fitted */
	r[1].index = 1e200;
	r[2].index = -0.5;
	CHECK_OK(rq_forecast_calibrate(&c, &in, 0));
	CHECK_INT_EQ(c.n, 3);
	CHECK(isfinite(c.sigma) && isfinite(c.tau_a));
}

/* An extrapolation beyond the plausible range is not signed. */
TEST(forecast_beyond_plausible_range_is_not_forecast)
{
	struct rq_history_point h[] = { point(0.01, 5e6, "noise"), point(0.02, 9e6, "noise") };
	rq_forecast_input in = base_input();
	rq_forecast f;

	in.history = h;
	in.n_history = 2;
	in.family = "noise";
	in.index = 1.5;
	CHECK_OK(rq_forecast_compute(&f, &in));
	CHECK(!f.epochs.known);
	CHECK_CONTAINS(f.not_forecast, "beyond the plausible");
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
	CHECK(f.cal_epochs.n_draws == 20000);
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
	CHECK(memcmp(&f.epochs, &g.epochs, sizeof(f.epochs)) == 0);
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
