/* Normal–inverse-gamma regression y = a + b·x (linear algebra via LAPACKE)
 * and the Student-t distribution: CDF by the incomplete beta function's
 * continued fraction, quantile by safeguarded Newton steps. */
#include "common.h"
#include "bayes.h"
#include "linalg_int.h"

#include <math.h>

#define CF_MAXIT 20000
#define CF_EPS 1e-16
#define CF_TINY 1e-300

static bool finite2(const double v[2])
{
	return isfinite(v[0]) && isfinite(v[1]);
}

static bool finite4(const double v[4])
{
	return finite2(v) && finite2(v + 2);
}

int rq_nig_prior(rq_nig *out, const double m[2], const double prec[4],
		 double alpha, double beta)
{
	if (!finite2(m) || !finite4(prec) || !isfinite(alpha) || !isfinite(beta))
		return rq_error_set(RQ_EINVALID, "prior: non-finite parameter");
	if (prec[1] != prec[2])
		return rq_error_set(RQ_EINVALID, "prior: precision matrix is not symmetric");
	/* Positive semi-definite 2×2: non-negative diagonal and determinant. */
	if (prec[0] < 0 || prec[3] < 0 || prec[0] * prec[3] - prec[1] * prec[2] < 0)
		return rq_error_set(RQ_EINVALID, "prior: precision matrix is not positive semi-definite");
	if (beta < 0)
		return rq_error_set(RQ_EINVALID, "prior: inverse-gamma scale %g is negative", beta);
	memcpy(out->m, m, sizeof(out->m));
	memcpy(out->prec, prec, sizeof(out->prec));
	out->alpha = alpha;
	out->beta = beta;
	out->n = 0;
	return 0;
}

int rq_nig_update(rq_nig *out, const rq_nig *prior, const double *x,
		  const double *y, size_t n)
{
	double lam[4], rhs[2], chol[4], mn[2], d[2], ssr = 0, quad;
	const struct rq_lapack *lapack;
	rq_nig post;
	int err;

	if ((err = rq_lapack_load(&lapack)))
		return err;
	memcpy(lam, prior->prec, sizeof(lam));
	rhs[0] = prior->prec[0] * prior->m[0] + prior->prec[1] * prior->m[1];
	rhs[1] = prior->prec[2] * prior->m[0] + prior->prec[3] * prior->m[1];
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(x[i]) || !isfinite(y[i]))
			return rq_error_set(RQ_EINVALID, "history point %zu: non-finite value", i + 1);
		lam[0] += 1;
		lam[1] += x[i];
		lam[2] += x[i];
		lam[3] += x[i] * x[i];
		rhs[0] += y[i];
		rhs[1] += x[i] * y[i];
	}
	/* Λₙ mₙ = Λm + Xᵀy by Cholesky (dposv), which also proves Λₙ > 0. */
	memcpy(chol, lam, sizeof(chol));
	memcpy(mn, rhs, sizeof(mn));
	if (lapack->dposv(LAPACK_ROW_MAJOR, 'L', 2, 1, chol, 2, mn, 1) != 0)
		return rq_error_set(RQ_EINVALID,
				    "posterior is improper: %zu point(s) do not determine both coefficients", n);
	for (size_t i = 0; i < n; i++) {
		double r = y[i] - mn[0] - mn[1] * x[i];
		ssr += r * r;
	}
	d[0] = mn[0] - prior->m[0];
	d[1] = mn[1] - prior->m[1];
	quad = d[0] * (prior->prec[0] * d[0] + prior->prec[1] * d[1]) +
	       d[1] * (prior->prec[2] * d[0] + prior->prec[3] * d[1]);
	post.m[0] = mn[0];
	post.m[1] = mn[1];
	memcpy(post.prec, lam, sizeof(lam));
	post.alpha = prior->alpha + (double)n / 2;
	post.beta = prior->beta + 0.5 * (ssr + quad);
	post.n = prior->n + n;
	if (!(post.alpha > 0) || !(post.beta > 0) || !isfinite(post.beta))
		return rq_error_set(RQ_EINVALID,
				    "posterior is improper: %zu point(s) do not determine the noise variance", n);
	*out = post;
	return 0;
}

/* Λ⁻¹ of a symmetric positive-definite 2×2 through dpotrf/dpotri. */
static int inverse(double inv[4], const double prec[4])
{
	const struct rq_lapack *lapack;
	int err;

	if ((err = rq_lapack_load(&lapack)))
		return err;
	memcpy(inv, prec, 4 * sizeof(double));
	if (lapack->dpotrf(LAPACK_ROW_MAJOR, 'L', 2, inv, 2) != 0 ||
	    lapack->dpotri(LAPACK_ROW_MAJOR, 'L', 2, inv, 2) != 0)
		return rq_error_set(RQ_EINVALID, "posterior precision is not positive definite");
	inv[1] = inv[2]; /* dpotri fills the lower triangle only */
	return 0;
}

static int check_proper(const rq_nig *post)
{
	if (!(post->alpha > 0) || !(post->beta > 0))
		return rq_error_set(RQ_EINVALID, "posterior is improper: no estimate of the noise variance");
	return 0;
}

int rq_nig_coef(rq_student *out, const rq_nig *post, int j)
{
	double inv[4];
	int err;

	if (j < 0 || j > 1)
		return rq_error_set(RQ_EINVALID, "coefficient %d does not exist", j);
	if ((err = check_proper(post)) || (err = inverse(inv, post->prec)))
		return err;
	out->loc = post->m[j];
	out->scale = sqrt(post->beta / post->alpha * inv[3 * j]);
	out->dof = 2 * post->alpha;
	return 0;
}

int rq_nig_predict(rq_student *out, const rq_nig *post, double x)
{
	double inv[4], q;
	int err;

	if (!isfinite(x))
		return rq_error_set(RQ_EINVALID, "cannot predict at a non-finite index");
	if ((err = check_proper(post)) || (err = inverse(inv, post->prec)))
		return err;
	q = inv[0] + 2 * x * inv[1] + x * x * inv[3];
	out->loc = post->m[0] + post->m[1] * x;
	out->scale = sqrt(post->beta / post->alpha * (1 + q));
	out->dof = 2 * post->alpha;
	return 0;
}

/* One term of the modified Lentz recurrence: update c and d by the
 * partial numerator `num` and return the factor that multiplies h. */
static double lentz_step(double *c, double *d, double num)
{
	*d = 1 + num * *d;
	if (fabs(*d) < CF_TINY)
		*d = CF_TINY;
	*c = 1 + num / *c;
	if (fabs(*c) < CF_TINY)
		*c = CF_TINY;
	*d = 1 / *d;
	return *d * *c;
}

/* Continued fraction of I_x(a, b) (modified Lentz), valid for
 * x < (a + 1) / (a + b + 2); returns the fraction only. */
static double beta_cf(double a, double b, double x)
{
	double c = 1, d = 1 - (a + b) * x / (a + 1), h;

	if (fabs(d) < CF_TINY)
		d = CF_TINY;
	d = 1 / d;
	h = d;
	for (int m = 1; m <= CF_MAXIT; m++) {
		double m2 = 2.0 * m, del;
		/* even step: d_{2m} = m(b − m)x / ((a + 2m − 1)(a + 2m)) */
		h *= lentz_step(&c, &d, m * (b - m) * x / ((a + m2 - 1) * (a + m2)));
		/* odd step: d_{2m+1} = −(a + m)(a + b + m)x / ((a + 2m)(a + 2m + 1)) */
		del = lentz_step(&c, &d, -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1)));
		h *= del;
		if (fabs(del - 1) < CF_EPS)
			break;
	}
	return h;
}

/* lgamma(x) − [(x − ½)log x − x + ½log 2π], by its asymptotic series
 * (error below 1e-17 for x ≥ 20). */
static double stirling_error(double x)
{
	double r = 1 / x, r2 = r * r;
	return r * (1.0 / 12 - r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 * (1.0 / 1680 -
		    r2 * (1.0 / 1188 - r2 * 691.0 / 360360)))));
}

/* −log B(a, b) = lgamma(a + b) − lgamma(a) − lgamma(b). For a large
 * argument the difference of two huge lgamma values would lose ~1e-9 of
 * accuracy (dof = 1e6), so it is expanded by Stirling's series instead. */
static double log_inv_beta(double a, double b)
{
	double big = a > b ? a : b, small = a > b ? b : a;

	if (big < 20)
		return lgamma(a + b) - lgamma(a) - lgamma(b);
	return (big - 0.5) * log1p(small / big) + small * log(big + small) - small +
	       stirling_error(big + small) - stirling_error(big) - lgamma(small);
}

/* I_x(a, b) given both x and y = 1 − x, each computed without
 * cancellation by the caller. */
static double betainc2(double a, double b, double x, double y)
{
	double lfront, lx, ly;

	if (x <= 0)
		return 0;
	if (y <= 0)
		return 1;
	lx = x > 0.5 ? log1p(-y) : log(x);
	ly = y > 0.5 ? log1p(-x) : log(y);
	lfront = log_inv_beta(a, b) + a * lx + b * ly;
	if (x < (a + 1) / (a + b + 2))
		return exp(lfront) * beta_cf(a, b, x) / a;
	return 1 - exp(lfront) * beta_cf(b, a, y) / b;
}

double rq_betainc(double a, double b, double x)
{
	if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1))
		return NAN;
	return betainc2(a, b, x, 1 - x);
}

/* P(T ≤ t) for t ≤ 0, accurate in the far tail. */
static double t_lower_tail(double t, double dof)
{
	double t2, x, y;

	if (isinf(dof))
		return 0.5 * erfc(-t / M_SQRT2);
	if (t == 0)
		return 0.5;
	if (fabs(t) > 1e150)
		return 0;
	t2 = t * t;
	x = dof / (dof + t2);
	y = t2 / (dof + t2);
	return 0.5 * betainc2(dof / 2, 0.5, x, y);
}

double rq_t_cdf(double t, double dof)
{
	if (isnan(t) || !(dof > 0))
		return NAN;
	if (t <= 0)
		return t_lower_tail(t, dof);
	return 1 - t_lower_tail(-t, dof);
}

double rq_t_pdf(double t, double dof)
{
	if (isnan(t) || !(dof > 0))
		return NAN;
	if (isinf(dof))
		return exp(-0.5 * t * t) / sqrt(2 * M_PI);
	return exp(lgamma((dof + 1) / 2) - lgamma(dof / 2) - 0.5 * log(dof * M_PI) -
		   (dof + 1) / 2 * log1p(t * t / dof));
}

/* The t ≤ 0 with P(T ≤ t) = q, 0 < q < 0.5: Newton on log P(T ≤ t),
 * which is nearly linear in the tails, kept inside a bracket [lo, hi]
 * that bisection shrinks whenever a step would leave it. */
static double t_lower_quantile(double q, double dof)
{
	double lo = -1, hi = 0, t, lq = log(q);

	while (t_lower_tail(lo, dof) > q) {
		hi = lo;
		lo *= 2;
		if (lo < -1e300)
			return -INFINITY;
	}
	t = 0.5 * (lo + hi);
	for (int it = 0; it < 400; it++) {
		double c = t_lower_tail(t, dof), f, step, next;
		if (c > q)
			hi = t;
		else
			lo = t;
		if (c <= 0) {
			next = 0.5 * (lo + hi);
		} else {
			f = log(c) - lq;
			step = f * c / rq_t_pdf(t, dof);
			next = t - step;
			if (!(next > lo && next < hi))
				next = 0.5 * (lo + hi);
		}
		if (fabs(next - t) <= 1e-15 * fabs(t) || hi - lo <= 1e-15 * fabs(lo)) {
			t = next;
			break;
		}
		t = next;
	}
	return t;
}

double rq_t_quantile(double p, double dof)
{
	if (!(p > 0) || !(p < 1) || !(dof > 0))
		return NAN;
	if (p == 0.5)
		return 0;
	if (p < 0.5)
		return t_lower_quantile(p, dof);
	return -t_lower_quantile(1 - p, dof);
}

double rq_student_quantile(const rq_student *s, double p)
{
	return s->loc + s->scale * rq_t_quantile(p, s->dof);
}
