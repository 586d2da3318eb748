/* The least-carbon start time for a run of known duration over a grid-
 * intensity forecast (CSV of time, g/kWh), with step interpolation. */
#include "common.h"
#include "bounds.h"
#include "when.h"
#include "csv.h"

#include <math.h>

static const char *const time_names[] = { "time", "datetime", "date", "timestamp", "start",
					  "from", NULL };
static const char *const value_names[] = { "intensity", "carbon_intensity", "g_per_kwh",
					   "gco2_per_kwh", "gco2eq_per_kwh", "value", NULL };

void rq_when_release(rq_when_series *s)
{
	if (!s)
		return;
	free(s->t);
	free(s->g);
	s->t = NULL;
	s->g = NULL;
	s->n = 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int parse_value(double *out, const char *s)
{
	return rq_bound_parse_decimal(out, s) == 0 && *out >= 0 ? 0 : -1;
}

/* One data line's time and intensity, from columns `tcol` and `vcol`. */
static int parse_point(int64_t *t, double *g, const rq_csv *c, size_t nf, const char *const *f,
		       size_t tcol, size_t vcol, const char *name)
{
	size_t need = (tcol > vcol ? tcol : vcol) + 1;
	char where[320];

	if (nf < need)
		return rq_error_set(RQ_EINVALID, "%s: line %zu: expected a time and an intensity, found %zu field(s)",
				    name, rq_csv_line(c), nf);
	if (rq_time_parse(t, f[tcol]) != 0)
		return rq_error_set(RQ_EINVALID, "%s: line %zu: '%.40s' is not an ISO-8601 time",
				    name, rq_csv_line(c), f[tcol]);
	if (parse_value(g, f[vcol]) != 0)
		return rq_error_set(RQ_EINVALID, "%s: line %zu: '%.40s' is not a non-negative intensity in g/kWh",
				    name, rq_csv_line(c), f[vcol]);
	snprintf(where, sizeof(where), "%s: line %zu", name, rq_csv_line(c));
	return rq_bound_check("intensity_g_per_kwh", *g, where);
}

/* The end of the series: the last value holds for the median interval. */
static int64_t series_end(const rq_when_series *s)
{
	int64_t *steps = rq_xmallocarray(s->n - 1, sizeof(*steps)), end;

	for (size_t i = 0; i + 1 < s->n; i++)
		steps[i] = s->t[i + 1] - s->t[i];
	qsort(steps, s->n - 1, sizeof(*steps), cmp_i64);
	end = s->t[s->n - 1] + steps[(s->n - 1) / 2];
	free(steps);
	return end;
}

int rq_when_parse(rq_when_series *out, const char *data, size_t len, const char *name)
{
	rq_csv *c = NULL;
	size_t nf, cap = 0, row = 0, tcol = 0, vcol = 1;
	const char *const *f;
	int rc, err = 0;

	memset(out, 0, sizeof(*out));
	if ((err = rq_csv_open_buffer(&c, data, len, name)))
		goto done;
	rq_csv_set_trim(c, true);
	while ((rc = rq_csv_next(c, &nf, &f)) == 1) {
		int64_t t;
		double g;
		if (row++ == 0 && nf > 0 && rq_time_parse(&t, f[0]) != 0) {
			/* a header: find the columns by name */
			if ((err = rq_csv_header_check(c, nf, f)))
				goto done;
			long tc = rq_csv_column_any(nf, f, time_names), vc = rq_csv_column_any(nf, f, value_names);
			tcol = tc >= 0 ? (size_t)tc : 0;
			vcol = vc >= 0 ? (size_t)vc : (tcol == 0 ? 1 : 0);
			if (nf < 2) {
				err = rq_error_set(RQ_EINVALID, "%s: line %zu: expected a time and an intensity",
						   name, rq_csv_line(c));
				goto done;
			}
			continue;
		}
		if ((err = parse_point(&t, &g, c, nf, f, tcol, vcol, name)))
			goto done;
		if (out->n > 0 && t <= out->t[out->n - 1]) {
			err = rq_error_set(RQ_EINVALID, "%s: line %zu: time does not increase", name,
					   rq_csv_line(c));
			goto done;
		}
		if (out->n == cap) {
			cap = cap ? 2 * cap : 64;
			out->t = rq_xreallocarray(out->t, cap, sizeof(*out->t));
			out->g = rq_xreallocarray(out->g, cap, sizeof(*out->g));
		}
		out->t[out->n] = t;
		out->g[out->n] = g;
		out->n++;
	}
	if (rc < 0) {
		err = rc;
		goto done;
	}
	if (out->n < 2) {
		err = rq_error_set(RQ_EINVALID, "%s: needs at least two forecast points, found %zu",
				   name, out->n);
		goto done;
	}
	out->end = series_end(out);
done:
	rq_csv_free(c);
	if (err)
		rq_when_release(out);
	return err;
}

/* ∫ intensity from the first point to x (x within the series). */
static double integral_to(const rq_when_series *s, const double *prefix, double x)
{
	size_t lo = 0, hi = s->n; /* largest i with t[i] <= x */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if ((double)s->t[mid] <= x)
			lo = mid;
		else
			hi = mid;
	}
	return prefix[lo] + s->g[lo] * (x - (double)s->t[lo]);
}

int rq_when_best(rq_when_result *out, const rq_when_series *s, double duration_s,
		 int64_t now, double energy_kwh, double pue, const char *name)
{
	double *prefix = NULL, lo, last, best_int, base_int, d = duration_s;
	double best_s;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (!(d > 0) || !isfinite(d))
		return rq_error_set(RQ_EINVALID, "%s: the run's duration %g s is not positive", name, d);
	if (s->n < 2)
		return rq_error_set(RQ_EINVALID, "%s: needs at least two forecast points", name);
	lo = (double)s->t[0];
	if (now != INT64_MIN && (double)now > lo)
		lo = (double)now;
	last = (double)s->end - d;
	if (last < lo)
		return rq_error_set(RQ_EINVALID,
				    "%s: the forecast covers %.1f h from the start but the run is forecast to take %.1f h",
				    name, ((double)s->end - lo) / 3600, d / 3600);
	prefix = rq_xmallocarray(s->n, sizeof(double));
	prefix[0] = 0;
	for (size_t i = 1; i < s->n; i++)
		prefix[i] = prefix[i - 1] + s->g[i - 1] * (double)(s->t[i] - s->t[i - 1]);

	/* The integral over a sliding window of a step function is piecewise
	 * linear in the start, so its minimum is at a start or an end that
	 * meets a breakpoint, or at an end of the allowed range. */
	base_int = integral_to(s, prefix, lo + d) - integral_to(s, prefix, lo);
	best_s = lo;
	best_int = base_int;
	for (size_t i = 0; i < s->n; i++) {
		double cand[2] = { (double)s->t[i], (double)s->t[i] - d };
		for (int k = 0; k < 2; k++) {
			double c0 = cand[k], v;
			if (c0 < lo || c0 > last)
				continue;
			v = integral_to(s, prefix, c0 + d) - integral_to(s, prefix, c0);
			if (v < best_int - 1e-9 * fabs(best_int) || (v <= best_int + 1e-9 * fabs(best_int) && c0 < best_s)) {
				best_int = v;
				best_s = c0;
			}
		}
	}
	{
		double v = integral_to(s, prefix, last + d) - integral_to(s, prefix, last);
		if (v < best_int - 1e-9 * fabs(best_int)) {
			best_int = v;
			best_s = last;
		}
	}
	out->start = (int64_t)llround(best_s);
	out->mean_g_per_kwh = best_int / d;
	out->baseline_start = (int64_t)llround(lo);
	out->baseline_g_per_kwh = base_int / d;
	out->saving_fraction = base_int > 0 ? 1 - best_int / base_int : 0;
	out->saving_kg = NAN;
	if (isfinite(energy_kwh))
		out->saving_kg = energy_kwh * (isfinite(pue) ? pue : 1) *
				 (out->baseline_g_per_kwh - out->mean_g_per_kwh) / 1000;
	free(prefix);
	return err;
}
