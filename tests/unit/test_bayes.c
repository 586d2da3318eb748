/* Unit tests of the conjugate regression and the Student-t distribution
 * against closed forms (Cauchy, t with 2 dof, normal, ordinary least
 * squares). scipy comparisons are in tests/t0600-forecast-core.sh. */
#include "unit.h"
#include "bayes.h"

static double rel(double a, double b)
{
	return fabs(a - b) / (fabs(b) > 1 ? fabs(b) : 1);
}

TEST(t_cdf_matches_closed_forms)
{
	double ts[] = { -1e6, -30, -3.5, -1, -0.1, 0, 0.2, 1.7, 12, 4e5 };
	for (size_t i = 0; i < RQ_ARRAY_SIZE(ts); i++) {
		double t = ts[i];
		/* dof 1 is Cauchy; dof 2 has F(t) = ½ + t / (2√(2 + t²)) */
		double c1 = t < 0 ? atan2(1, -t) / M_PI : 0.5 + atan(t) / M_PI;
		double c2 = 0.5 + t / (2 * sqrt(2 + t * t));
		CHECK(fabs(rq_t_cdf(t, 1) - c1) <= 1e-12 * (c1 < 0.5 ? c1 : 1));
		if (t > -1e3)
			CHECK_NEAR(rq_t_cdf(t, 2), c2, 1e-12);
		CHECK_NEAR(rq_t_cdf(t, INFINITY), 0.5 * erfc(-t / M_SQRT2), 1e-15);
		CHECK_NEAR(rq_t_cdf(t, 7.3) + rq_t_cdf(-t, 7.3), 1, 1e-14);
	}
	CHECK(isnan(rq_t_cdf(1, 0)) && isnan(rq_t_cdf(NAN, 3)));
}

TEST(t_quantile_inverts_closed_forms)
{
	double ps[] = { 1e-10, 1e-4, 0.025, 0.1, 0.37, 0.5, 0.8, 0.9, 0.975, 0.999999 };
	for (size_t i = 0; i < RQ_ARRAY_SIZE(ps); i++) {
		double p = ps[i];
		double q1 = -1 / tan(M_PI * p); /* Cauchy: tan(π(p − ½)) */
		double q2 = (2 * p - 1) / sqrt(2 * p * (1 - p));
		CHECK(rel(rq_t_quantile(p, 1), q1) < 1e-10);
		CHECK(rel(rq_t_quantile(p, 2), q2) < 1e-10);
		/* round trip at fractional and large dof */
		double dofs[] = { 0.3, 2.5, 17, 1e4, 1e7 };
		for (size_t j = 0; j < RQ_ARRAY_SIZE(dofs); j++) {
			double q = rq_t_quantile(p, dofs[j]), c = rq_t_cdf(q, dofs[j]);
			CHECK(fabs(c - p) <= 1e-10 * (p < 0.5 ? p : 1 - p) + 1e-16);
		}
	}
	CHECK(isnan(rq_t_quantile(0, 3)) && isnan(rq_t_quantile(1, 3)));
	CHECK_NEAR(rq_t_quantile(0.975, INFINITY), 1.959963984540054, 1e-12);
}

TEST(betainc_closed_forms)
{
	/* I_x(a, 1) = x^a; I_x(1, b) = 1 − (1 − x)^b; I_x(a, b) + I_{1−x}(b, a) = 1 */
	CHECK_NEAR(rq_betainc(3.5, 1, 0.3), pow(0.3, 3.5), 1e-15);
	CHECK_NEAR(rq_betainc(1, 4.2, 0.6), 1 - pow(0.4, 4.2), 1e-14);
	CHECK_NEAR(rq_betainc(2.3, 7.1, 0.2) + rq_betainc(7.1, 2.3, 0.8), 1, 1e-14);
	CHECK(isnan(rq_betainc(-1, 1, 0.5)) && isnan(rq_betainc(1, 1, 1.5)));
}

/* With the reference prior p ∝ 1/σ² (Λ = 0, α = −1, β = 0), the posterior
 * mean is the least-squares fit and the predictive is the classical OLS
 * prediction interval: t_{n−2}(ŷ, s·√(1 + 1/n + (x − x̄)²/Sxx)). */
TEST(flat_prior_is_ordinary_least_squares)
{
	double x[] = { 0.05, 0.1, 0.2, 0.22, 0.31, 0.4, 0.45 };
	double y[] = { 12.1, 15.3, 24.0, 22.5, 33.9, 40.2, 41.7 };
	size_t n = RQ_ARRAY_SIZE(x);
	double nd = (double)n; /* 7 points */
	double m0[2] = { 0, 0 }, zero[4] = { 0, 0, 0, 0 };
	double xb = 0, yb = 0, sxx = 0, sxy = 0, ssr = 0, b, a, s2, x0 = 0.33;
	rq_nig prior, post;
	rq_student pred, cb;

	for (size_t i = 0; i < n; i++) {
		xb += x[i] / nd;
		yb += y[i] / nd;
	}
	for (size_t i = 0; i < n; i++) {
		sxx += (x[i] - xb) * (x[i] - xb);
		sxy += (x[i] - xb) * (y[i] - yb);
	}
	b = sxy / sxx;
	a = yb - b * xb;
	for (size_t i = 0; i < n; i++)
		ssr += (y[i] - a - b * x[i]) * (y[i] - a - b * x[i]);
	s2 = ssr / (nd - 2);

	CHECK_OK(rq_nig_prior(&prior, m0, zero, -1, 0));
	CHECK_OK(rq_nig_update(&post, &prior, x, y, n));
	CHECK_NEAR(post.m[0], a, 1e-10);
	CHECK_NEAR(post.m[1], b, 1e-10);
	CHECK_INT_EQ(post.n, n);
	CHECK_OK(rq_nig_predict(&pred, &post, x0));
	CHECK_NEAR(pred.dof, nd - 2, 1e-12);
	CHECK_NEAR(pred.loc, a + b * x0, 1e-10);
	CHECK_NEAR(pred.scale, sqrt(s2 * (1 + 1.0 / nd + (x0 - xb) * (x0 - xb) / sxx)), 1e-10);
	/* the slope's marginal: t_{n−2}(b, s/√Sxx) */
	CHECK_OK(rq_nig_coef(&cb, &post, 1));
	CHECK_NEAR(cb.scale, sqrt(s2 / sxx), 1e-10);
	CHECK_ERR(rq_nig_coef(&cb, &post, 2), RQ_EINVALID);
}

/* An informative prior: the posterior mean is the precision-weighted
 * combination (Λ + XᵀX)⁻¹(Λm + Xᵀy), whatever the noise prior; and
 * updating in two batches equals updating once (conjugacy). */
TEST(informative_prior_and_conjugacy)
{
	double x[] = { 0.1, 0.3, 0.5, 0.7 }, y[] = { 3, 7, 8, 13 };
	double m0[2] = { 1, 10 }, prec[4] = { 2, 0.5, 0.5, 3 };
	double l00 = 2 + 4, l01 = 0.5 + 1.6, l11 = 3 + (0.01 + 0.09 + 0.25 + 0.49);
	double r0 = 2 * 1 + 0.5 * 10 + 31, r1 = 0.5 * 1 + 3 * 10 + (0.3 + 2.1 + 4 + 9.1);
	double det = l00 * l11 - l01 * l01;
	rq_nig prior, all, half;

	CHECK_OK(rq_nig_prior(&prior, m0, prec, 2, 3));
	CHECK_OK(rq_nig_update(&all, &prior, x, y, 4));
	CHECK_NEAR(all.m[0], (l11 * r0 - l01 * r1) / det, 1e-12);
	CHECK_NEAR(all.m[1], (l00 * r1 - l01 * r0) / det, 1e-12);
	CHECK_NEAR(all.alpha, 4, 1e-15);
	CHECK_OK(rq_nig_update(&half, &prior, x, y, 2));
	CHECK_OK(rq_nig_update(&half, &half, x + 2, y + 2, 2));
	CHECK_NEAR(half.m[0], all.m[0], 1e-12);
	CHECK_NEAR(half.m[1], all.m[1], 1e-12);
	CHECK_NEAR(half.beta, all.beta, 1e-10);
	CHECK_INT_EQ(half.n, 4);
}

TEST(improper_and_invalid_inputs_are_refused)
{
	double m0[2] = { 0, 0 }, zero[4] = { 0, 0, 0, 0 }, bad[4] = { 1, 2, 0, 1 };
	double neg[4] = { -1, 0, 0, 1 }, x[] = { 0.2, 0.2, 0.2 }, y[] = { 1, 2, 3 };
	double xn[] = { 0.1, NAN }, yn[] = { 1, 2 };
	rq_nig prior, post;

	CHECK_ERR(rq_nig_prior(&prior, m0, bad, 1, 1), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "not symmetric");
	CHECK_ERR(rq_nig_prior(&prior, m0, neg, 1, 1), RQ_EINVALID);
	CHECK_ERR(rq_nig_prior(&prior, m0, zero, 1, -1), RQ_EINVALID);
	CHECK_OK(rq_nig_prior(&prior, m0, zero, -1, 0));
	/* all x equal: the slope is not determined */
	CHECK_ERR(rq_nig_update(&post, &prior, x, y, 3), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "improper");
	/* two points under the reference prior: no noise estimate */
	CHECK_ERR(rq_nig_update(&post, &prior, xn, yn, 1), RQ_EINVALID);
	CHECK_ERR(rq_nig_update(&post, &prior, xn, yn, 2), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "non-finite");
}
