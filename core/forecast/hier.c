/* Partial pooling of shift families with right-censored points, by a
 * deterministic Gibbs sampler (the model is in hier.h; the maths and its
 * validation in docs/METHOD.md, "Forecasting"). Every conditional is a
 * standard distribution: normal for the lines, inverse-gamma for the
 * variances, a truncated normal for the unseen epochs of a censored run. */
#include "common.h"
#include "hier.h"

#include <math.h>

/* A group's sufficient statistics (x centred): the sampler's sweeps cost
 * O(groups + censored points), whatever the number of observed points. */
struct group {
	double n, sx, sxx;          /* fixed */
	double sz0, sxz0, szz0;     /* of the observed (uncensored) points */
	double sz, sxz, szz;        /* of all, with the censored values imputed */
	double a, b;                /* the group's current line */
};

struct state {
	const rq_hier_data *d;
	double *x;           /* centred index */
	double *z;           /* current outcome (imputed where censored) */
	size_t *cens;        /* the censored points */
	size_t n_cens;
	struct group *g;
	double mu_a, mu_b, s2, ta2, tb2;
	rq_rng rng;
};

double rq_hier_truncnorm(rq_rng *rng, double m, double s, double lo)
{
	double alpha = (lo - m) / s;

	if (!isfinite(alpha))
		return isfinite(lo) ? lo : m; /* a degenerate state: never loop on NaN */
	if (!(alpha > 0.45)) {
		/* The bound is below or near the mode: plain rejection accepts
		 * at least a third of the draws. */
		for (;;) {
			double v = rq_rng_normal(rng);
			if (v >= alpha)
				return m + s * v;
		}
	}
	/* Robert (1995): an exponential proposal shifted to alpha, with the
	 * optimal rate; acceptance above 0.7 for every alpha. */
	double lambda = 0.5 * (alpha + sqrt(alpha * alpha + 4));
	for (;;) {
		double v = alpha - log(rq_rng_uniform(rng)) / lambda;
		if (rq_rng_uniform(rng) <= exp(-0.5 * (v - lambda) * (v - lambda)))
			return m + s * v;
	}
}

/* An inverse-gamma draw: scale / Gamma(shape, 1). */
static double inv_gamma(rq_rng *rng, double shape, double scale)
{
	return scale / rq_rng_gamma(rng, shape);
}

static int check(const rq_hier_data *d, double x_star)
{
	if (!isfinite(x_star))
		return rq_error_set(RQ_EINVALID, "cannot predict at a non-finite index");
	for (size_t i = 0; i < d->n; i++) {
		if (!isfinite(d->x[i]) || !isfinite(d->z[i]))
			return rq_error_set(RQ_EINVALID, "history point %zu: non-finite value", i + 1);
		if (d->group[i] >= d->n_groups)
			return rq_error_set(RQ_EINVALID, "history point %zu: group %zu out of range", i + 1,
					    d->group[i]);
	}
	if (!(d->v_a > 0) || !(d->v_b > 0) || !(d->alpha_sigma > 0) || !(d->beta_sigma > 0) ||
	    !(d->alpha_tau > 0) || !(d->beta_tau_a > 0) || !(d->beta_tau_b > 0) || !isfinite(d->m_a) ||
	    !isfinite(d->m_b) || !isfinite(d->v_a) || !isfinite(d->v_b) || !isfinite(d->beta_sigma) ||
	    !isfinite(d->beta_tau_a) || !isfinite(d->beta_tau_b))
		return rq_error_set(RQ_EINVALID, "hierarchical model: the prior is not proper");
	return 0;
}

/* Start at the data: every line at (mean z, 0), the variances at their
 * prior scale. */
static void init(struct state *s, double x_mean)
{
	const rq_hier_data *d = s->d;
	double zbar = 0;

	for (size_t i = 0; i < d->n; i++) {
		struct group *g = &s->g[d->group[i]];
		s->x[i] = d->x[i] - x_mean;
		s->z[i] = d->z[i];
		zbar += d->z[i] / (double)d->n;
		g->n += 1;
		g->sx += s->x[i];
		g->sxx += s->x[i] * s->x[i];
		if (d->censored && d->censored[i]) {
			s->cens[s->n_cens++] = i;
		} else {
			g->sz0 += s->z[i];
			g->sxz0 += s->x[i] * s->z[i];
			g->szz0 += s->z[i] * s->z[i];
		}
	}
	s->mu_a = d->n ? zbar : d->m_a;
	s->mu_b = d->m_b;
	for (size_t k = 0; k < d->n_groups; k++) {
		s->g[k].a = s->mu_a;
		s->g[k].b = s->mu_b;
	}
	s->s2 = d->beta_sigma / d->alpha_sigma;
	s->ta2 = d->beta_tau_a / d->alpha_tau;
	s->tb2 = d->beta_tau_b / d->alpha_tau;
}

/* The unseen outcomes of censored runs, then the groups' z sums. */
static void sweep_data(struct state *s)
{
	const rq_hier_data *d = s->d;
	double sd = sqrt(s->s2);

	for (size_t k = 0; k < d->n_groups; k++) {
		struct group *g = &s->g[k];
		g->sz = g->sz0;
		g->sxz = g->sxz0;
		g->szz = g->szz0;
	}
	for (size_t c = 0; c < s->n_cens; c++) {
		size_t i = s->cens[c];
		struct group *g = &s->g[d->group[i]];
		s->z[i] = rq_hier_truncnorm(&s->rng, g->a + g->b * s->x[i], sd, d->z[i]);
		g->sz += s->z[i];
		g->sxz += s->x[i] * s->z[i];
		g->szz += s->z[i] * s->z[i];
	}
}

/* Σ (z − a − b·x)² over a group, from its sums (floored at 0 against
 * rounding). */
static double group_ssr(const struct group *g)
{
	double r = g->szz - 2 * g->a * g->sz - 2 * g->b * g->sxz + g->a * g->a * g->n +
		   2 * g->a * g->b * g->sx + g->b * g->b * g->sxx;
	return r > 0 ? r : 0;
}

/* A group's line given everything else: normal with precision
 * P = T⁻¹ + XᵀX/σ² and mean P⁻¹(T⁻¹μ + Xᵀz/σ²). The 2×2 Cholesky factor
 * P = LLᵀ is written out (four flops; this is the sampler's inner loop):
 * mean + L⁻ᵀe has covariance P⁻¹. */
static void sweep_group(struct state *s, struct group *g)
{
	double p00 = 1 / s->ta2 + g->n / s->s2, p01 = g->sx / s->s2, p11 = 1 / s->tb2 + g->sxx / s->s2;
	double r0 = s->mu_a / s->ta2 + g->sz / s->s2, r1 = s->mu_b / s->tb2 + g->sxz / s->s2;
	double det = p00 * p11 - p01 * p01;
	double l11 = sqrt(p00), l21 = p01 / l11, l22 = sqrt(p11 - l21 * l21);
	double e1 = rq_rng_normal(&s->rng), e2 = rq_rng_normal(&s->rng);
	double v2 = e2 / l22, v1 = (e1 - l21 * v2) / l11;

	g->a = (p11 * r0 - p01 * r1) / det + v1;
	g->b = (p00 * r1 - p01 * r0) / det + v2;
}

/* The lineage's line, the shared noise and the between-family variances. */
static void sweep_hyper(struct state *s)
{
	const rq_hier_data *d = s->d;
	double G = (double)d->n_groups, sa = 0, sb = 0, prec, da = 0, db = 0, ssr = 0;

	for (size_t k = 0; k < d->n_groups; k++) {
		sa += s->g[k].a;
		sb += s->g[k].b;
	}
	prec = 1 / d->v_a + G / s->ta2;
	s->mu_a = (d->m_a / d->v_a + sa / s->ta2) / prec + rq_rng_normal(&s->rng) / sqrt(prec);
	prec = 1 / d->v_b + G / s->tb2;
	s->mu_b = (d->m_b / d->v_b + sb / s->tb2) / prec + rq_rng_normal(&s->rng) / sqrt(prec);
	for (size_t k = 0; k < d->n_groups; k++) {
		da += (s->g[k].a - s->mu_a) * (s->g[k].a - s->mu_a);
		db += (s->g[k].b - s->mu_b) * (s->g[k].b - s->mu_b);
		ssr += group_ssr(&s->g[k]);
	}
	s->s2 = inv_gamma(&s->rng, d->alpha_sigma + 0.5 * (double)d->n, d->beta_sigma + 0.5 * ssr);
	s->ta2 = inv_gamma(&s->rng, d->alpha_tau + 0.5 * G, d->beta_tau_a + 0.5 * da);
	s->tb2 = inv_gamma(&s->rng, d->alpha_tau + 0.5 * G, d->beta_tau_b + 0.5 * db);
}

/* Draws of z* from the current state: the target group's line, or a new
 * family's drawn around the lineage's, plus the noise. */
static void predict(struct state *s, double *out, size_t k, double x, size_t target, double *a,
		    double *b)
{
	double sd = sqrt(s->s2);

	if (target < s->d->n_groups) {
		*a = s->g[target].a;
		*b = s->g[target].b;
	} else {
		*a = s->mu_a + sqrt(s->ta2) * rq_rng_normal(&s->rng);
		*b = s->mu_b + sqrt(s->tb2) * rq_rng_normal(&s->rng);
	}
	for (size_t j = 0; j < k; j++)
		out[j] = *a + *b * x + sd * rq_rng_normal(&s->rng);
}

int rq_hier_sample(rq_hier_fit *out, const rq_hier_data *d, double x_star, size_t target,
		   const rq_hier_run *run)
{
	struct state s = { .d = d };
	double x_mean = 0, kept = (double)run->iterations;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = check(d, x_star)))
		return err;
	if (run->iterations == 0 || run->per_sweep == 0)
		return rq_error_set(RQ_EINVALID, "hierarchical model: no draws asked for");
	for (size_t i = 0; i < d->n; i++) {
		x_mean += d->x[i] / (double)d->n;
		out->n_censored += d->censored && d->censored[i];
		out->n_target += d->group[i] == target;
	}
	s.x = rq_xcalloc(d->n + 1, sizeof(double));
	s.z = rq_xcalloc(d->n + 1, sizeof(double));
	s.cens = rq_xcalloc(d->n + 1, sizeof(size_t));
	s.g = rq_xcalloc(d->n_groups + 1, sizeof(*s.g));
	rq_rng_seed(&s.rng, run->seed);
	init(&s, x_mean);
	out->x_mean = x_mean;
	out->n_draws = run->iterations * run->per_sweep;
	out->draws = rq_xmallocarray(out->n_draws, sizeof(double));
	for (size_t it = 0; it < run->burn_in + run->iterations; it++) {
		double a, b;
		sweep_data(&s);
		for (size_t k = 0; k < d->n_groups; k++)
			sweep_group(&s, &s.g[k]);
		sweep_hyper(&s);
		if (it < run->burn_in)
			continue;
		predict(&s, out->draws + (it - run->burn_in) * run->per_sweep, run->per_sweep,
			x_star - x_mean, target, &a, &b);
		out->a += a / kept;
		out->b += b / kept;
		out->mu_a += s.mu_a / kept;
		out->mu_b += s.mu_b / kept;
		out->sigma += sqrt(s.s2) / kept;
		out->tau_a += sqrt(s.ta2) / kept;
		out->tau_b += sqrt(s.tb2) / kept;
	}
	free(s.x);
	free(s.z);
	free(s.cens);
	free(s.g);
	return 0;
}
