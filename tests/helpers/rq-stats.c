/* Test helper: prints Student-t quantiles/CDF, the normal–inverse-gamma
 * posterior of a history read from stdin, and the forecaster's validation
 * on simulated histories, for comparison with scipy in t0600.
 *   rq-stats t-ppf DOF P...        one quantile per line
 *   rq-stats t-cdf DOF T...        one CDF value per line
 *   rq-stats nig M0 M1 L00 L01 L11 ALPHA BETA X   < "x y" lines
 *   rq-stats validate TRIALS NPTS A B SIGMA E0 SEED */
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

/* Histories of NPTS points from y = A + B·R + N(0, SIGMA²), R ~ U(0, ½):
 * how often the 80 % predictive interval holds a held-out draw and the
 * 95 % coefficient intervals hold A and B. */
static int validate(char **argv)
{
	int trials = (int)num(argv[0]), npts = (int)num(argv[1]);
	double a = num(argv[2]), b = num(argv[3]), sigma = num(argv[4]), e0 = num(argv[5]);
	int covered = 0, a_in = 0, b_in = 0;
	struct rq_history_point *h;
	rq_rng rng;

	if (trials < 1 || npts < 1)
		return 2;
	h = rq_xcalloc((size_t)npts, sizeof(*h));
	rq_rng_seed(&rng, (uint64_t)num(argv[6]));
	for (int t = 0; t < trials; t++) {
		rq_forecast_input in;
		rq_calibration c;
		rq_student ca, cb, pred;
		double y;
		memset(&in, 0, sizeof(in));
		for (int i = 0; i < npts; i++) {
			double r = 0.5 * rq_rng_uniform(&rng);
			h[i] = (struct rq_history_point){ RQ_SHIFT_DIST, r, a + b * r + sigma * rq_rng_normal(&rng),
							  NAN, NAN, NAN, NAN, "noise", "gpu", NAN };
		}
		in.kind = RQ_SHIFT_DIST;
		in.history = h;
		in.n_history = (size_t)npts;
		in.family = "noise";
		in.scratch_epochs = e0;
		in.index = 0.5 * rq_rng_uniform(&rng);
		if (rq_forecast_calibrate(&c, &in, 0) || rq_nig_coef(&ca, &c.post, 0) ||
		    rq_nig_coef(&cb, &c.post, 1)) {
			fprintf(stderr, "rq-stats: %s\n", rq_error_last());
			free(h);
			return 1;
		}
		pred = (rq_student){ c.loc, c.scale, c.dof };
		y = a + b * in.index + sigma * rq_rng_normal(&rng);
		covered += y >= rq_student_quantile(&pred, 0.1) && y <= rq_student_quantile(&pred, 0.9);
		a_in += a >= rq_student_quantile(&ca, 0.025) && a <= rq_student_quantile(&ca, 0.975);
		b_in += b >= rq_student_quantile(&cb, 0.025) && b <= rq_student_quantile(&cb, 0.975);
	}
	printf("trials %d\ncovered80 %d\na_in95 %d\nb_in95 %d\n", trials, covered, a_in, b_in);
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
	if (argc == 9 && strcmp(argv[1], "validate") == 0)
		return validate(argv + 2);
	fprintf(stderr, "usage: rq-stats t-ppf|t-cdf DOF V... | nig M0 M1 L00 L01 L11 ALPHA BETA X | "
			"validate TRIALS NPTS A B SIGMA E0 SEED\n");
	return 2;
}
