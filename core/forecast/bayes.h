/* Conjugate Bayesian linear regression y = a + b·x under a normal–inverse-
 * gamma prior (Gelman et al., Bayesian Data Analysis, §14.8), its Student-t
 * posterior and predictive, and the Student-t distribution itself (CDF and
 * quantile, accurate to ~1e-10), written here so the forecaster needs no
 * statistics library. The maths is in docs/METHOD.md, "Forecasting".
 *
 * Model:   y_i = a + b·x_i + ε_i,  ε_i ~ N(0, σ²)
 * Prior:   (a, b) | σ² ~ N(m, σ² Λ⁻¹),  σ² ~ Inv-Gamma(α, β)
 * Λ is a precision matrix and may be singular or zero (a flat prior);
 * α = -1, β = 0, Λ = 0 is the classical reference prior p ∝ 1/σ², under
 * which the predictive is the ordinary least-squares prediction interval. */
#ifndef RESQUE_BAYES_H
#define RESQUE_BAYES_H

#include <stddef.h>
#include "resque/forecast.h"

/* rq_nig, the normal–inverse-gamma distribution over (a, b, σ²), is public
 * (include/resque/forecast.h): a forecast's calibration carries one. */

/* A location-scale Student-t: loc + scale·T_dof. dof = INFINITY is the
 * normal distribution. */
typedef struct {
	double loc, scale, dof;
} rq_student;

/* Set a prior; rejects (RQ_EINVALID) non-finite values, a Λ that is not
 * symmetric positive semi-definite, and β < 0. */
int rq_nig_prior(rq_nig *out, const double m[2], const double prec[4],
		 double alpha, double beta);

/* Posterior after observing (x_i, y_i), i < n (Λₙ = Λ + XᵀX, mₙ solved with
 * LAPACK dposv, αₙ = α + n/2, βₙ = β + ½(‖y − X mₙ‖² + (mₙ−m)ᵀΛ(mₙ−m))).
 * `out` may be `prior`. RQ_EINVALID when a value is not finite, or when
 * the posterior is improper (Λₙ singular: e.g. a flat prior and all x
 * equal; αₙ ≤ 0 or βₙ ≤ 0: not enough data for the noise). */
int rq_nig_update(rq_nig *out, const rq_nig *prior, const double *x,
		  const double *y, size_t n);

/* Marginal posterior of coefficient j (0 = a, 1 = b): Student-t with 2αₙ
 * degrees of freedom, location mⱼ, scale² = (βₙ/αₙ)(Λₙ⁻¹)ⱼⱼ. */
int rq_nig_coef(rq_student *out, const rq_nig *post, int j);

/* Posterior predictive of a new y at x: Student-t with 2αₙ degrees of
 * freedom, location a + b·x, scale² = (βₙ/αₙ)(1 + [1 x] Λₙ⁻¹ [1 x]ᵀ).
 * Requires a proper distribution (α > 0, β > 0, Λ positive definite). */
int rq_nig_predict(rq_student *out, const rq_nig *post, double x);

/* Standard Student-t with `dof` > 0 degrees of freedom (INFINITY: normal).
 * The CDF evaluates the regularised incomplete beta function by its
 * continued fraction; the quantile inverts it by safeguarded Newton steps.
 * rq_t_quantile returns NaN unless 0 < p < 1. */
double rq_t_cdf(double t, double dof);
double rq_t_pdf(double t, double dof);
double rq_t_quantile(double p, double dof);

/* Regularised incomplete beta I_x(a, b), a, b > 0, 0 ≤ x ≤ 1. */
double rq_betainc(double a, double b, double x);

/* Quantile p of a location-scale Student-t. */
double rq_student_quantile(const rq_student *s, double p);

#endif
