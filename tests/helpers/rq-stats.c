/* Test helper: prints Student-t quantiles/CDF, the normal–inverse-gamma
 * posterior of a history read from stdin, and the forecaster's validation
 * on simulated histories, for comparison with scipy in t0600.
 *   rq-stats t-ppf DOF P...        one quantile per line
 *   rq-stats t-cdf DOF T...        one CDF value per line
 *   rq-stats nig M0 M1 L00 L01 L11 ALPHA BETA X   < "x y" lines
 *   rq-stats validate TRIALS NFAM NPTS SIGMA TAU BUDGET SEED NEWFAM */
#include "common.h"
#include "bayes.h"
#include "forecast_int.h"

#include <math.h>

static double num(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end) {
		fprintf(stderr, "rq-stats: '%s' is not a number\n", s);
		exit(2);
	}
	return v;
}

static int nig(char **argv)
{
	double m[2] = { num(argv[0]), num(argv[1]) };
	double prec[4] = { num(argv[2]), num(argv[3]), num(argv[3]), num(argv[4]) };
	double x0 = num(argv[7]), *x = NULL, *y = NULL, xi, yi;
	size_t n = 0, cap = 0;
	rq_nig prior, post;
	rq_student pred, ca, cb;
	int status = 1;

	while (scanf("%lf %lf", &xi, &yi) == 2) {
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			x = rq_xrealloc(x, cap * sizeof(double));
			y = rq_xrealloc(y, cap * sizeof(double));
		}
		x[n] = xi;
		y[n++] = yi;
	}
	if (rq_nig_prior(&prior, m, prec, num(argv[5]), num(argv[6])) ||
	    rq_nig_update(&post, &prior, x, y, n) || rq_nig_predict(&pred, &post, x0) ||
	    rq_nig_coef(&ca, &post, 0) || rq_nig_coef(&cb, &post, 1)) {
		fprintf(stderr, "rq-stats: %s\n", rq_error_last());
		goto done;
	}
	printf("m %.17g %.17g\nalpha %.17g\nbeta %.17g\n", post.m[0], post.m[1], post.alpha, post.beta);
	printf("pred %.17g %.17g %.17g\n", pred.loc, pred.scale, pred.dof);
	printf("p10 %.17g\np90 %.17g\n", rq_student_quantile(&pred, 0.1), rq_student_quantile(&pred, 0.9));
	printf("a95 %.17g %.17g\n", rq_student_quantile(&ca, 0.025), rq_student_quantile(&ca, 0.975));
	printf("b95 %.17g %.17g\n", rq_student_quantile(&cb, 0.025), rq_student_quantile(&cb, 0.975));
	status = 0;
done:
	free(x);
	free(y);
	return status;
}

/* Histories from the hierarchical law of docs/METHOD.md: NFAM families,
 * NPTS points each, log(1 + epochs) = 2 + u_g + (4 + v_g)·R + N(0, SIGMA²)
 * with family offsets u_g ~ N(0, TAU²), v_g ~ N(0, (2·TAU)²), R ~ U(0, ½);
 * runs beyond BUDGET epochs (0: none) are recorded censored at BUDGET.
 * Each trial forecasts one more point of a random family (or, with
 * NEWFAM = 1, of a new family) and checks whether the truth falls in the
 * 80 % and 95 % intervals. */
static int validate(char **argv)
{
	int trials = (int)num(argv[0]), nfam = (int)num(argv[1]), npts = (int)num(argv[2]);
	double sigma = num(argv[3]), tau = num(argv[4]), budget = num(argv[5]);
	int newfam = (int)num(argv[7]), in80 = 0, in95 = 0, censored = 0;
	static const char *const names[] = { "f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7",
					     "f8", "f9", "f10", "f11", "f12", "f13", "f14", "f15", "new" };
	enum { NEW = 16 };
	struct rq_history_point *h;
	rq_rng rng;

	if (trials < 1 || nfam < 1 || nfam > NEW || npts < 1)
		return 2;
	h = rq_xcalloc((size_t)(nfam * npts), sizeof(*h));
	rq_rng_seed(&rng, (uint64_t)num(argv[6]));
	for (int t = 0; t < trials; t++) {
		double u[NEW + 1], v[NEW + 1], r, y;
		rq_forecast_input in;
		rq_forecast f;
		int g;
		for (int k = 0; k <= NEW; k++) {
			u[k] = tau * rq_rng_normal(&rng);
			v[k] = 2 * tau * rq_rng_normal(&rng);
		}
		for (int i = 0; i < nfam * npts; i++) {
			g = i % nfam;
			r = 0.5 * rq_rng_uniform(&rng);
			y = expm1(2 + u[g] + (4 + v[g]) * r + sigma * rq_rng_normal(&rng));
			h[i] = (struct rq_history_point){ .kind = RQ_SHIFT_DIST, .index = r, .epochs = y,
							  .energy_kwh = NAN, .duration_s = NAN, .param_change = NAN,
							  .grad_norm = NAN, .family = names[g], .train_size = NAN,
							  .censored = budget > 0 && y > budget, .order = (uint64_t)i + 1 };
			if (h[i].censored) {
				h[i].epochs = budget;
				censored++;
			}
		}
		memset(&in, 0, sizeof(in));
		in.kind = RQ_SHIFT_DIST;
		in.history = h;
		in.n_history = (size_t)(nfam * npts);
		g = newfam ? NEW : (int)(rq_rng_uniform(&rng) * nfam);
		in.family = names[g];
		in.scratch_epochs = 50;
		in.intensity = in.pue = in.train_size = NAN;
		in.index = 0.5 * rq_rng_uniform(&rng);
		y = expm1(2 + u[g] + (4 + v[g]) * in.index + sigma * rq_rng_normal(&rng));
		if (rq_forecast_compute(&f, &in)) {
			fprintf(stderr, "rq-stats: %s\n", rq_error_last());
			free(h);
			return 1;
		}
		in80 += y >= f.epochs.p10 && y <= f.epochs.p90;
		in95 += y >= f.epochs.p2_5 && y <= f.epochs.p97_5;
	}
	printf("trials %d\ncovered80 %d\ncovered95 %d\ncensored %d\n", trials, in80, in95, censored);
	free(h);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && (strcmp(argv[1], "t-ppf") == 0 || strcmp(argv[1], "t-cdf") == 0)) {
		double dof = num(argv[2]);
		for (int i = 3; i < argc; i++)
			printf("%.17g\n", argv[1][2] == 'p' ? rq_t_quantile(num(argv[i]), dof)
							    : rq_t_cdf(num(argv[i]), dof));
		return 0;
	}
	if (argc == 10 && strcmp(argv[1], "nig") == 0)
		return nig(argv + 2);
	if (argc == 10 && strcmp(argv[1], "validate") == 0)
		return validate(argv + 2);
	fprintf(stderr, "usage: rq-stats t-ppf|t-cdf DOF V... | nig M0 M1 L00 L01 L11 ALPHA BETA X | "
			"validate TRIALS NFAM NPTS SIGMA TAU BUDGET SEED NEWFAM\n");
	return 2;
}
