/* Partial pooling of shift families with right-censored observations: a
 * hierarchical linear model fitted by a deterministic Gibbs sampler
 * (docs/METHOD.md, "Forecasting"). Nothing here knows about ledgers,
 * outcomes or units: the caller transforms y to the model's scale.
 *
 * Model, for point i of group (shift family) g[i], index x[i]:
 *   z_i = a_g + b_g·(x_i − x̄) + ε_i,    ε_i ~ N(0, σ²), σ² shared by all groups
 *   (a_g, b_g) ~ N((μa, μb), diag(τa², τb²))      each family around the lineage
 *   μa ~ N(m_a, v_a), μb ~ N(m_b, v_b)
 *   σ² ~ Inv-Gamma(α_σ, β_σ), τa² ~ Inv-Gamma(α_τ, β_a), τb² ~ Inv-Gamma(α_τ, β_b)
 * A censored point says only z_i ≥ z[i] (the run stopped before its target):
 * its likelihood is P(z ≥ z[i]) = 1 − Φ((z[i] − a_g − b_g·(x_i − x̄))/σ), taken
 * into the sampler by drawing the unseen z_i from the truncated normal. */
#ifndef RESQUE_HIER_H
#define RESQUE_HIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "forecast_int.h"

typedef struct {
	size_t n;               /* points */
	const double *x;        /* index of each point */
	const double *z;        /* outcome on the model's scale (a lower bound when censored) */
	const size_t *group;    /* group of each point, < n_groups */
	const bool *censored;   /* NULL: none */
	size_t n_groups;
	/* Priors (see above); the caller sets them on the model's scale. */
	double m_a, v_a, m_b, v_b;
	double alpha_sigma, beta_sigma;
	double alpha_tau, beta_tau_a, beta_tau_b;
} rq_hier_data;

typedef struct {
	size_t burn_in, iterations; /* sweeps discarded, sweeps kept */
	size_t per_sweep;           /* predictive draws per kept sweep */
	uint64_t seed;
} rq_hier_run;

typedef struct {
	double *draws;          /* iterations × per_sweep predictive draws of z* (caller frees) */
	size_t n_draws;
	double a, b;            /* posterior mean of the target group's line, at x − x̄ */
	double x_mean;          /* x̄ */
	double mu_a, mu_b;      /* posterior mean of the lineage's line */
	double sigma;           /* posterior mean of σ */
	double tau_a, tau_b;    /* posterior means of τa, τb */
	size_t n_target;        /* points of the target group */
	size_t n_censored;      /* censored points */
} rq_hier_fit;

/* Sample the posterior and the predictive of z at index x_star for group
 * `target` (n_groups or more: a group with no point, drawn around the
 * lineage's line). Deterministic for a given seed. RQ_EINVALID for a
 * non-finite value, a group out of range or an improper prior. */
int rq_hier_sample(rq_hier_fit *out, const rq_hier_data *d, double x_star, size_t target,
		   const rq_hier_run *run);

/* A draw from N(m, s²) truncated to [lo, ∞): inverse CDF near the body,
 * Robert's (1995) exponential rejection in the tail. Exposed for tests. */
double rq_hier_truncnorm(rq_rng *rng, double m, double s, double lo);

#endif
