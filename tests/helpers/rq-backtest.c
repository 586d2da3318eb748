/* Test helper: the backtest of docs/METHOD.md "Validation" on a ground
 * truth table, for resque's forecaster and the simple baselines.
 *
 *   rq-backtest [--budget B] [--min-family K] [--method M] [--scale log|identity]
 *               [--common 1] [--dataset NAME] [--point median|mean] FILE.csv...
 *
 * FILE has a header naming at least `family`, `index`, `epochs`, `e0`, and
 * optionally `reached` (1/0/true/false), `true_epochs` (what a capped run
 * would have needed: the evaluation then uses it) and `dataset`; rows are
 * in time order
 * (or sorted by `order`). Each update is forecast from the rows before it.
 * With --budget B a run of more than B epochs is recorded as censored at B
 * (what a budget-capped run leaves in a ledger) while the evaluation still
 * compares with its true epochs; a run that never reached its target is
 * censored at its own epochs and left out of the evaluation. --min-family K
 * evaluates only the forecasts whose family had ≥ K earlier rows; --common 1
 * only the updates that every baseline can forecast (the same set for all);
 * --dataset NAME only the rows whose `dataset` column is NAME (one lineage);
 * --point mean measures resque's errors from its mean instead of its median.
 *
 * Several files are several lineages: the figures pool their forecasts.
 * Methods: resque (core/forecast: hierarchical, censored), previous (the
 * forecaster before issue 14, rebuilt here: family fit with ≥ 2 points,
 * else pooled + τ²), family-lsq, family-mean, pooled-lsq (ordinary least
 * squares or means on the recorded values, Student-t prediction intervals;
 * no forecast where they are undefined). Output, one line per method:
 *   METHOD n N mape M cov80 C cov95 C */
#include "common.h"
#include "bayes.h"
#include "backtest.h"
#include "csv.h"

#include <math.h>

struct row {
	char family[64];
	double index, epochs, truth, e0;
	bool censored, known; /* known: the truth is known (evaluable) */
};

struct table {
	struct row *r;
	size_t n, cap;
};

static double num(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	return end == s ? NAN : v;
}

static int column(const char *const *f, size_t nf, const char *name)
{
	for (size_t i = 0; i < nf; i++)
		if (strcmp(f[i], name) == 0)
			return (int)i;
	return -1;
}

static bool truthy(const char *s)
{
	return strcmp(s, "1") == 0 || strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0;
}

static const char *only_dataset; /* --dataset: the rows of one lineage */
static bool point_mean;          /* --point mean: resque's errors from its mean, not its median */

static int load(struct table *t, const char *path, double budget)
{
	rq_buf b = RQ_BUF_INIT;
	rq_csv *c = NULL;
	const char *const *f;
	size_t nf;
	int col[7], rc;

	if (rq_file_read(&b, path) || rq_csv_open_buffer(&c, b.ptr, b.len, path) || rq_csv_next(c, &nf, &f) != 1) {
		fprintf(stderr, "rq-backtest: %s: %s\n", path, rq_error_last());
		rq_csv_free(c);
		rq_buf_release(&b);
		return 2;
	}
	col[0] = column(f, nf, "family");
	col[1] = column(f, nf, "index");
	col[2] = column(f, nf, "epochs");
	col[3] = column(f, nf, "e0");
	col[4] = column(f, nf, "reached");
	col[5] = column(f, nf, "dataset");
	col[6] = column(f, nf, "true_epochs");
	if (col[0] < 0 || col[1] < 0 || col[2] < 0 || col[3] < 0) {
		fprintf(stderr, "rq-backtest: %s: needs columns family, index, epochs, e0\n", path);
		rq_csv_free(c);
		rq_buf_release(&b);
		return 2;
	}
	while ((rc = rq_csv_next(c, &nf, &f)) == 1) {
		struct row *r;
		if (nf <= (size_t)col[3] || nf <= (size_t)col[2])
			continue;
		if (only_dataset && (col[5] < 0 || (size_t)col[5] >= nf || strcmp(f[col[5]], only_dataset) != 0))
			continue;
		RQ_ALLOC_GROW(t->r, t->n + 1, t->cap);
		r = &t->r[t->n++];
		snprintf(r->family, sizeof(r->family), "%s", f[col[0]]);
		r->index = num(f[col[1]]);
		r->truth = r->epochs = num(f[col[2]]);
		r->e0 = num(f[col[3]]);
		r->known = col[4] < 0 || (size_t)col[4] >= nf || truthy(f[col[4]]);
		r->censored = !r->known;
		if (col[6] >= 0 && (size_t)col[6] < nf && isfinite(num(f[col[6]]))) {
			/* a simulation knows what a capped run would have needed */
			r->truth = num(f[col[6]]);
			r->known = true;
		}
		if (budget > 0 && r->epochs > budget) {
			r->epochs = budget;
			r->censored = true;
		}
	}
	rq_csv_free(c);
	rq_buf_release(&b);
	if (rc < 0)
		fprintf(stderr, "rq-backtest: %s\n", rq_error_last());
	return rc < 0 ? 2 : 0;
}

/* A forecast: mean and the two intervals (NaN: none). */
struct fc {
	bool ok;
	double mean, lo80, hi80, lo95, hi95;
};

static void from_student(struct fc *out, double loc, double scale, double dof)
{
	rq_student s = { loc, scale, dof };
	out->ok = true;
	out->mean = loc;
	out->lo80 = rq_student_quantile(&s, 0.1);
	out->hi80 = rq_student_quantile(&s, 0.9);
	out->lo95 = rq_student_quantile(&s, 0.025);
	out->hi95 = rq_student_quantile(&s, 0.975);
}

/* Ordinary least squares of the selected rows and its prediction interval
 * (n ≥ 3 and two distinct indices), or the mean's (line = false, n ≥ 2). */
static void classical(struct fc *out, const struct table *t, size_t upto, const char *family, bool line,
		      double x0)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, n = 0, ss = 0, a, b, mx, sxxc;

	out->ok = false;
	for (size_t i = 0; i < upto; i++) {
		const struct row *r = &t->r[i];
		if (family && strcmp(r->family, family) != 0)
			continue;
		n++;
		sx += r->index;
		sy += r->epochs;
		sxx += r->index * r->index;
		sxy += r->index * r->epochs;
	}
	if (n < (line ? 3 : 2))
		return;
	mx = sx / n;
	sxxc = sxx - n * mx * mx;
	if (line && !(sxxc > 1e-12))
		return;
	b = line ? (sxy - n * mx * (sy / n)) / sxxc : 0;
	a = sy / n - b * mx;
	for (size_t i = 0; i < upto; i++) {
		const struct row *r = &t->r[i];
		double e;
		if (family && strcmp(r->family, family) != 0)
			continue;
		e = r->epochs - a - b * r->index;
		ss += e * e;
	}
	{
		double dof = n - (line ? 2 : 1), s2 = ss / dof;
		double q = 1 + 1 / n + (line ? (x0 - mx) * (x0 - mx) / sxxc : 0);
		from_student(out, a + b * x0, sqrt(s2 * q), dof);
	}
}

/* The forecaster before issue 14 (conjugate regression on the family's
 * points when it has ≥ 2, else on all widened by τ²), as it was. */
static void previous(struct fc *out, const struct table *t, size_t upto, const char *family, double x0,
		     double e0)
{
	double rf = 0.5, prec[4] = { 0.01, 0, 0, 0.01 * rf * rf }, m[2] = { 0, e0 / rf }, s0 = 0.05 * e0;
	double *x = rq_xcalloc(upto + 1, sizeof(double)), *y = rq_xcalloc(upto + 1, sizeof(double));
	size_t nf = 0, n = 0;
	rq_nig prior, post;
	rq_student pred;

	out->ok = false;
	for (size_t i = 0; i < upto; i++)
		nf += strcmp(t->r[i].family, family) == 0;
	for (size_t i = 0; i < upto; i++) {
		if (nf >= 2 && strcmp(t->r[i].family, family) != 0)
			continue;
		x[n] = t->r[i].index;
		y[n++] = t->r[i].epochs;
	}
	if (n == 0) {
		double r = x0 / rf;
		from_student(out, e0 * (r < 1 ? r : 1), 0.5 * e0, 3);
		goto done;
	}
	if (rq_nig_prior(&prior, m, prec, 0.5, 0.5 * s0 * s0) || rq_nig_update(&post, &prior, x, y, n) ||
	    rq_nig_predict(&pred, &post, x0))
		goto done;
	if (nf < 2) {
		/* τ²: spread of the families' mean residuals beyond the noise's. */
		double sigma2 = post.beta / post.alpha, tau2 = sigma2, mean = 0, ss = 0, inv_n = 0;
		size_t G = 0;
		double sum[64] = { 0 }, cnt[64] = { 0 };
		const char *names[64];
		for (size_t i = 0; i < upto; i++) {
			size_t g;
			for (g = 0; g < G && strcmp(names[g], t->r[i].family) != 0; g++)
				;
			if (g == G && G < 64)
				names[G++] = t->r[i].family;
			if (g < 64) {
				sum[g] += t->r[i].epochs - post.m[0] - post.m[1] * t->r[i].index;
				cnt[g]++;
			}
		}
		if (G >= 2) {
			for (size_t g = 0; g < G; g++) {
				sum[g] /= cnt[g];
				mean += sum[g] / (double)G;
				inv_n += 1 / cnt[g];
			}
			for (size_t g = 0; g < G; g++)
				ss += (sum[g] - mean) * (sum[g] - mean);
			tau2 = ss / (double)(G - 1) - sigma2 * inv_n / (double)G;
			tau2 = tau2 < 0 ? 0 : tau2;
		}
		pred.scale = sqrt(pred.scale * pred.scale + tau2);
	}
	from_student(out, pred.loc, pred.scale, pred.dof);
done:
	free(x);
	free(y);
}

/* resque's forecaster on the rows before `upto`. */
static void current(struct fc *out, const struct table *t, size_t upto, size_t k)
{
	struct rq_history_point *h = rq_xcalloc(upto + 1, sizeof(*h));
	rq_forecast_input in;
	rq_forecast f;
	rq_quantiles q;

	memset(&in, 0, sizeof(in));
	for (size_t i = 0; i < upto; i++)
		h[i] = (struct rq_history_point){ .kind = RQ_SHIFT_DIST, .index = t->r[i].index,
						  .epochs = t->r[i].epochs, .energy_kwh = NAN,
						  .duration_s = NAN, .param_change = NAN, .grad_norm = NAN,
						  .family = t->r[i].family, .train_size = NAN,
						  .censored = t->r[i].censored, .order = i + 1 };
	in.kind = RQ_SHIFT_DIST;
	in.index = t->r[k].index;
	in.family = t->r[k].family;
	in.scratch_epochs = t->r[k].e0;
	in.history = h;
	in.n_history = upto;
	in.intensity = in.pue = in.train_size = NAN;
	out->ok = false;
	if (rq_forecast_compute(&f, &in) == 0) {
		q = f.epochs;
		*out = (struct fc){ true, point_mean ? q.mean : q.p50, q.p10, q.p90, q.p2_5, q.p97_5 };
	}
	free(h);
}

static int cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

static const char *const methods[] = { "resque", "previous", "family-lsq", "family-mean", "pooled-lsq" };

static void forecast(struct fc *f, const struct table *t, size_t k, int method)
{
	const struct row *r = &t->r[k];

	switch (method) {
	case 0: current(f, t, k, k); break;
	case 1: previous(f, t, k, r->family, r->index, r->e0); break;
	case 2: classical(f, t, k, r->family, true, r->index); break;
	case 3: classical(f, t, k, r->family, false, r->index); break;
	default: classical(f, t, k, NULL, true, r->index); break;
	}
}

/* What one method's forecasts gave, over every file. */
struct score {
	double *ape;
	size_t n, cap, in80, in95;
};

/* With `common`, only the updates every method forecasts. */
static void evaluate(struct score *sc, const struct table *t, size_t min_family, int method, bool common)
{
	for (size_t k = 0; k < t->n; k++) {
		const struct row *r = &t->r[k];
		size_t earlier = 0;
		bool all = true;
		struct fc f;
		for (size_t i = 0; i < k; i++)
			earlier += strcmp(t->r[i].family, r->family) == 0;
		if (earlier < min_family || !r->known || !(r->truth > 0))
			continue;
		for (int m = 2; common && m < (int)RQ_ARRAY_SIZE(methods); m++) {
			forecast(&f, t, k, m);
			all = all && f.ok;
		}
		if (!all)
			continue;
		forecast(&f, t, k, method);
		if (!f.ok)
			continue;
		RQ_ALLOC_GROW(sc->ape, sc->n + 1, sc->cap);
		sc->ape[sc->n++] = 100 * fabs(r->truth - f.mean) / r->truth;
		sc->in80 += r->truth >= f.lo80 && r->truth <= f.hi80;
		sc->in95 += r->truth >= f.lo95 && r->truth <= f.hi95;
	}
}

static void report(struct score *sc, int method)
{
	size_t n = sc->n;

	qsort(sc->ape, n, sizeof(double), cmp);
	printf("%-12s n %3zu mape %6.1f cov80 %5.3f cov95 %5.3f\n", methods[method], n,
	       n ? (n % 2 ? sc->ape[n / 2] : 0.5 * (sc->ape[n / 2 - 1] + sc->ape[n / 2])) : NAN,
	       n ? (double)sc->in80 / (double)n : NAN, n ? (double)sc->in95 / (double)n : NAN);
	free(sc->ape);
}

int main(int argc, char **argv)
{
	struct table t = { 0 };
	struct score sc[RQ_ARRAY_SIZE(methods)] = { { 0 } };
	double budget = 0;
	size_t min_family = 0;
	int i, only = -1;
	bool common = false;

	for (i = 1; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "--budget") == 0)
			budget = num(argv[i + 1]);
		else if (strcmp(argv[i], "--min-family") == 0)
			min_family = (size_t)num(argv[i + 1]);
		else if (strcmp(argv[i], "--point") == 0)
			point_mean = strcmp(argv[i + 1], "mean") == 0;
		else if (strcmp(argv[i], "--dataset") == 0)
			only_dataset = argv[i + 1];
		else if (strcmp(argv[i], "--common") == 0)
			common = strcmp(argv[i + 1], "1") == 0;
		else if (strcmp(argv[i], "--scale") == 0)
			rq_forecast__identity_scale = strcmp(argv[i + 1], "identity") == 0;
		else if (strcmp(argv[i], "--method") == 0)
			for (int m = 0; m < (int)RQ_ARRAY_SIZE(methods); m++)
				only = strcmp(argv[i + 1], methods[m]) == 0 ? m : only;
		else
			break;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: rq-backtest [--budget B] [--min-family K] [--method M] [--scale S] [--common 1] "
				"[--dataset NAME] FILE.csv...\n");
		return 2;
	}
	/* each file is one lineage; the scores pool the forecasts of all */
	for (; i < argc; i++) {
		t.n = 0;
		if (load(&t, argv[i], budget)) {
			free(t.r);
			for (size_t m = 0; m < RQ_ARRAY_SIZE(methods); m++)
				free(sc[m].ape);
			return 2;
		}
		for (int m = 0; m < (int)RQ_ARRAY_SIZE(methods); m++)
			if (only < 0 || only == m)
				evaluate(&sc[m], &t, min_family, m, common);
	}
	for (int m = 0; m < (int)RQ_ARRAY_SIZE(methods); m++)
		if (only < 0 || only == m)
			report(&sc[m], m);
	free(t.r);
	return 0;
}
