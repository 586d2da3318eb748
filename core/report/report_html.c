/* The HTML report: one self-contained file (inline CSS, inline SVG charts
 * drawn here, no script that runs, no URL of any kind) carrying the whole
 * report JSON as evidence, and the strict scanner that reads one back for
 * `resque audit report`. */
#include "common.h"
#include "json.h"
#include "report.h"

#include <math.h>

/* ------------------------------------------------------------------ */
/* Escaping                                                            */

/* HTML text and double-quoted attribute values. C0 controls other than
 * tab and newline become numeric references so a decoder gets back the
 * exact bytes (they cannot be written raw in HTML). */
static bool plain(unsigned char c)
{
	return c >= 0x20 && c != 0x7f && c != '&' && c != '<' && c != '>' && c != '"' && c != '\'';
}

static void esc_n(rq_buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t run = i;
		while (run < len && plain((unsigned char)s[run]))
			run++;
		if (run > i) { /* copy plain text in one go */
			rq_buf_put(out, s + i, run - i);
			i = run - 1;
			continue;
		}
		switch (c) {
		case '&': rq_buf_puts(out, "&amp;"); break;
		case '<': rq_buf_puts(out, "&lt;"); break;
		case '>': rq_buf_puts(out, "&gt;"); break;
		case '"': rq_buf_puts(out, "&quot;"); break;
		case '\'': rq_buf_puts(out, "&#39;"); break;
		default:
			if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
				rq_buf_printf(out, "&#%u;", c ? c : 0xfffd);
			else
				rq_buf_putc(out, (char)c);
		}
	}
}

static void esc(rq_buf *out, const char *s)
{
	esc_n(out, s, strlen(s));
}

/* ------------------------------------------------------------------ */
/* Paths and cells                                                     */

/* The JSON path of a figure ("updates.3.forecast.epochs.mean") grows and
 * shrinks as the renderer walks the report. */
static size_t path_key(rq_buf *p, const char *key)
{
	size_t old = p->len;
	if (p->len)
		rq_buf_putc(p, '.');
	rq_buf_puts(p, key);
	return old;
}

static size_t path_index(rq_buf *p, size_t i)
{
	size_t old = p->len;
	if (p->len)
		rq_buf_putc(p, '.');
	rq_buf_printf(p, "%zu", i);
	return old;
}

/* Follow the NULL-terminated keys from obj; NULL when any is missing. The
 * keys are appended to `path`. */
static const json_t *walk(rq_buf *path, const json_t *obj, va_list ap)
{
	const char *k;
	while ((k = va_arg(ap, const char *)) != NULL) {
		path_key(path, k);
		obj = json_is_object(obj) ? json_object_get(obj, k) : NULL;
	}
	return obj;
}

static const json_t *get(const json_t *obj, ...)
{
	rq_buf scratch = RQ_BUF_INIT;
	va_list ap;
	va_start(ap, obj);
	obj = walk(&scratch, obj, ap);
	va_end(ap);
	rq_buf_release(&scratch);
	return obj;
}

/* A number at keys..., or NAN when absent, null or not a number. */
static double num(const json_t *obj, ...)
{
	rq_buf scratch = RQ_BUF_INIT;
	va_list ap;
	double d;
	va_start(ap, obj);
	obj = walk(&scratch, obj, ap);
	va_end(ap);
	rq_buf_release(&scratch);
	d = json_is_number(obj) ? json_number_value(obj) : NAN;
	return isfinite(d) ? d : NAN;
}

/* The figure at base-path + keys... inside `obj` as an element
 * <tag data-rq="PATH">rq_report_format_value</tag>; an absent value is a
 * plain "—" (it is no figure, so it carries no path). */
static void cell(rq_buf *out, const char *tag, const char *attrs, rq_buf *path, const json_t *obj,
		 ...)
{
	size_t old = path->len;
	rq_buf text = RQ_BUF_INIT;
	const json_t *v;
	va_list ap;

	va_start(ap, obj);
	v = walk(path, obj, ap);
	va_end(ap);
	rq_buf_printf(out, "<%s", tag);
	if (attrs)
		rq_buf_printf(out, " %s", attrs);
	if (v) {
		rq_report_format_value(&text, v);
		rq_buf_puts(out, " data-rq=\"");
		esc_n(out, path->ptr, path->len);
		rq_buf_puts(out, "\">");
		esc_n(out, text.ptr, text.len);
	} else {
		rq_buf_puts(out, ">\xe2\x80\x94");
	}
	rq_buf_printf(out, "</%s>", tag);
	rq_buf_truncate(path, old);
	rq_buf_release(&text);
}

#define NUM "class=\"n\""

/* ------------------------------------------------------------------ */
/* SVG helpers                                                         */

#define CW 600.0 /* chart width and height (viewBox units) */
#define CH 340.0
#define ML 64.0  /* plot area margins */
#define MR 18.0
#define MT 76.0 /* title, then up to two rows of legend */
#define MB 50.0

/* Coordinates never print NaN or infinity, whatever the data. */
static void px(rq_buf *out, double v)
{
	if (!isfinite(v))
		v = 0;
	if (v > 1e6)
		v = 1e6;
	if (v < -1e6)
		v = -1e6;
	rq_buf_printf(out, "%.1f", v);
}

typedef struct axis {
	double lo, hi, step;
	int n; /* ticks lo, lo+step, ... */
} axis;

/* A "nice" axis covering [lo, hi] (1, 2, 5 × 10^k steps), always of
 * non-zero extent; with `zero` it includes 0. */
static void nice_axis(axis *a, double lo, double hi, bool zero)
{
	double raw, mag, f;

	if (!isfinite(lo) || !isfinite(hi) || lo > hi)
		lo = 0, hi = 1;
	if (zero) {
		if (lo > 0)
			lo = 0;
		if (hi < 0)
			hi = 0;
	}
	if (!(hi - lo > 1e-300) || !isfinite(hi - lo)) {
		double d = fabs(hi) > 1e-300 && isfinite(hi) ? fabs(hi) / 2 : 1;
		if (!isfinite(hi) || fabs(hi) > 1e300)
			lo = 0, hi = 1, d = 0;
		lo = (zero && lo >= 0) ? lo : lo - d;
		hi += d;
	}
	raw = (hi - lo) / 5;
	mag = pow(10, floor(log10(raw)));
	f = raw / mag;
	a->step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
	a->lo = floor(lo / a->step) * a->step;
	a->hi = ceil(hi / a->step) * a->step;
	if (!(a->hi > a->lo) || !isfinite(a->step) || a->step <= 0) {
		a->lo = 0, a->hi = 1, a->step = 0.2;
	}
	a->n = (int)floor((a->hi - a->lo) / a->step + 0.5) + 1;
	if (a->n < 2 || a->n > 12)
		a->n = 2, a->step = a->hi - a->lo;
}

static double ax_x(const axis *a, double v)
{
	return ML + (v - a->lo) / (a->hi - a->lo) * (CW - ML - MR);
}

static double ax_y(const axis *a, double v)
{
	return CH - MB - (v - a->lo) / (a->hi - a->lo) * (CH - MT - MB);
}

static void tick_label(char out[32], double v)
{
	if (fabs(v) < 1e-12)
		v = 0;
	snprintf(out, 32, "%.4g", v);
}

static void svg_open(rq_buf *out, const char *id, const char *title, const char *desc)
{
	rq_buf_printf(out, "<svg id=\"%s\" class=\"chart\" role=\"img\" viewBox=\"0 0 %.0f %.0f\" "
		      "width=\"%.0f\" height=\"%.0f\" aria-label=\"", id, CW, CH, CW, CH);
	esc(out, desc);
	rq_buf_puts(out, "\"><title>"); /* inline SVG in HTML needs no xmlns */
	esc(out, title);
	rq_buf_puts(out, "</title><desc>");
	esc(out, desc);
	rq_buf_printf(out, "</desc><rect class=\"bg\" x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\"/>"
		      "<text class=\"ttl\" x=\"%.0f\" y=\"22\">", CW, CH, 8.0);
	esc(out, title);
	rq_buf_puts(out, "</text>");
}

static void svg_empty(rq_buf *out, const char *msg)
{
	rq_buf_printf(out, "<rect class=\"frame\" x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\"/>"
		      "<text class=\"empty\" x=\"%.0f\" y=\"%.0f\">", ML, MT, CW - ML - MR,
		      CH - MT - MB, (CW + ML - MR) / 2, (CH + MT - MB) / 2);
	esc(out, msg);
	rq_buf_puts(out, "</text></svg>\n");
}

/* The y axis with its grid lines and label, and a frame. */
static void svg_yaxis(rq_buf *out, const axis *a, const char *label)
{
	char t[32];
	rq_buf_puts(out, "<g class=\"axis y\">");
	for (int i = 0; i < a->n; i++) {
		double v = a->lo + i * a->step, y = ax_y(a, v);
		rq_buf_printf(out, "<line class=\"grid\" x1=\"%.0f\" x2=\"%.0f\" y1=\"", ML, CW - MR);
		px(out, y);
		rq_buf_puts(out, "\" y2=\"");
		px(out, y);
		rq_buf_printf(out, "\"/><text class=\"tick\" x=\"%.0f\" y=\"", ML - 6);
		px(out, y + 4);
		tick_label(t, v);
		rq_buf_printf(out, "\" text-anchor=\"end\">%s</text>", t);
	}
	rq_buf_printf(out, "<text class=\"lbl\" transform=\"translate(16 %.0f) rotate(-90)\" "
		      "text-anchor=\"middle\">", (CH + MT - MB) / 2);
	esc(out, label);
	rq_buf_printf(out, "</text></g><rect class=\"frame\" x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" "
		      "height=\"%.0f\"/>", ML, MT, CW - ML - MR, CH - MT - MB);
}

static void svg_xlabel(rq_buf *out, const char *label)
{
	rq_buf_printf(out, "<text class=\"lbl\" x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">",
		      (CW + ML - MR) / 2, CH - 12);
	esc(out, label);
	rq_buf_puts(out, "</text>");
}

static void svg_xaxis_num(rq_buf *out, const axis *a, const char *label)
{
	char t[32];
	rq_buf_puts(out, "<g class=\"axis x\">");
	for (int i = 0; i < a->n; i++) {
		double v = a->lo + i * a->step, x = ax_x(a, v);
		rq_buf_puts(out, "<line class=\"grid\" x1=\"");
		px(out, x);
		rq_buf_puts(out, "\" x2=\"");
		px(out, x);
		rq_buf_printf(out, "\" y1=\"%.0f\" y2=\"%.0f\"/><text class=\"tick\" x=\"", MT, CH - MB);
		px(out, x);
		tick_label(t, v);
		rq_buf_printf(out, "\" y=\"%.0f\" text-anchor=\"middle\">%s</text>", CH - MB + 18, t);
	}
	svg_xlabel(out, label);
	rq_buf_puts(out, "</g>");
}

/* Legend entries in a row under the title: kind 'l' line, 'd' dashed
 * line, 'b' band, 'c' circle (filled), 'o' circle (open), 'r' bar. */
static void svg_legend(rq_buf *out, const char *const *labels, const char *kinds,
		       const char *const *classes, int n)
{
	double x = ML, y = 42;
	rq_buf_puts(out, "<g class=\"legend\">");
	for (int i = 0; i < n; i++) {
		double w = 36 + 6.8 * (double)strlen(labels[i]);
		if (x > ML && x + w > CW - MR)
			x = ML, y += 17; /* next row */
		switch (kinds[i]) {
		case 'l':
		case 'd':
			rq_buf_printf(out, "<line class=\"%s\" x1=\"%.0f\" x2=\"%.0f\" y1=\"%.0f\" y2=\"%.0f\"/>",
				      classes[i], x, x + 22, y, y);
			break;
		case 'b':
		case 'r':
			rq_buf_printf(out, "<rect class=\"%s\" x=\"%.0f\" y=\"%.0f\" width=\"22\" height=\"10\"/>",
				      classes[i], x, y - 5);
			break;
		default:
			rq_buf_printf(out, "<circle class=\"%s\" cx=\"%.0f\" cy=\"%.0f\" r=\"4.5\"/>",
				      classes[i], x + 11, y);
		}
		rq_buf_printf(out, "<text x=\"%.0f\" y=\"%.0f\">", x + 28, y + 4);
		esc(out, labels[i]);
		rq_buf_puts(out, "</text>");
		x += w + 10;
	}
	rq_buf_puts(out, "</g>");
}

/* ------------------------------------------------------------------ */
/* Charts                                                              */

/* A point of the charts: a cost or an update at a time. */
typedef struct upoint {
	int64_t t;
	double actual, mean, p10, p90; /* NAN when absent */
	int inside;                    /* -1 unknown, 0 no, 1 yes */
} upoint;

static int cmp_time(const void *a, const void *b)
{
	const upoint *x = a, *y = b;
	return x->t < y->t ? -1 : x->t > y->t;
}

static bool str_time(int64_t *out, const json_t *v)
{
	return json_is_string(v) && rq_time_parse(out, json_string_value(v)) == 0;
}

static void grow_points(upoint **pt, size_t *alloc, size_t m)
{
	RQ_ALLOC_GROW(*pt, m + 1, *alloc);
}

static void time_tick(rq_buf *out, const axis *a, double v, const char *label)
{
	double x = ax_x(a, v);
	rq_buf_puts(out, "<line class=\"grid\" x1=\"");
	px(out, x);
	rq_buf_puts(out, "\" x2=\"");
	px(out, x);
	rq_buf_printf(out, "\" y1=\"%.0f\" y2=\"%.0f\"/><text class=\"tick\" x=\"", MT, CH - MB);
	px(out, x);
	rq_buf_printf(out, "\" y=\"%.0f\" text-anchor=\"%s\">%s</text>", CH - MB + 18,
		      x > CW - MR - 36 ? "end" : "middle", label);
}

/* A time axis over [a->lo, a->hi] (Unix seconds) with ticks at round UTC
 * times: the smallest step giving at most six intervals; from four weeks
 * up, whole months (or years) starting on the 1st. */
static void svg_time_axis(rq_buf *out, const axis *a)
{
	static const double steps[] = { 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600,
					7200, 10800, 21600, 43200, 86400, 2 * 86400, 7 * 86400, 14 * 86400 };
	static const int months[] = { 1, 2, 3, 6, 12, 24, 60, 120, 240, 600, 1200, 2400 };
	double span = a->hi - a->lo, step = 0;
	char d0[RQ_TIME_SIZE], d1[RQ_TIME_SIZE], label[40] = "time (UTC)";

	rq_time_format(d0, (int64_t)llround(a->lo));
	rq_time_format(d1, (int64_t)llround(a->hi));
	for (size_t i = 0; i < RQ_ARRAY_SIZE(steps) && !step; i++)
		if (span / steps[i] <= 6)
			step = steps[i];
	rq_buf_puts(out, "<g class=\"axis x\">");
	if (step) {
		double first = ceil(a->lo / step) * step;
		for (int i = 0; i < 8 && first + i * step <= a->hi; i++) {
			double v = first + i * step;
			char iso[RQ_TIME_SIZE], t[32];
			rq_time_format(iso, (int64_t)llround(v));
			if (step >= 86400)
				snprintf(t, sizeof(t), "%.10s", iso);
			else if (step >= 60 && memcmp(d0, d1, 10) != 0)
				snprintf(t, sizeof(t), "%.5s %.5s", iso + 5, iso + 11);
			else if (step >= 60)
				snprintf(t, sizeof(t), "%.5s", iso + 11);
			else
				snprintf(t, sizeof(t), "%.8s", iso + 11);
			time_tick(out, a, v, t);
		}
		if (step < 86400 && memcmp(d0, d1, 10) == 0)
			snprintf(label, sizeof(label), "time on %.10s (UTC)", d0);
		else if (step < 60) /* the ticks show no date */
			snprintf(label, sizeof(label), "time (UTC) from %.10s %.8s", d0, d0 + 11);
	} else {
		int k = months[RQ_ARRAY_SIZE(months) - 1], y0 = atoi(d0), m0 = atoi(d0 + 5), mi;
		for (size_t i = 0; i < RQ_ARRAY_SIZE(months); i++)
			if (span / (months[i] * 30.44 * 86400) <= 6) {
				k = months[i];
				break;
			}
		/* months since year 0, rounded up to a multiple of k */
		mi = y0 * 12 + (m0 - 1);
		mi = (mi + k - 1) / k * k;
		for (int i = 0; i < 8; i++, mi += k) {
			char day[40], t[48];
			int64_t v;
			if (mi / 12 > 9999)
				break;
			snprintf(day, sizeof(day), "%04d-%02d-01", mi / 12, mi % 12 + 1);
			if (rq_time_parse(&v, day) != 0 || (double)v > a->hi)
				break;
			if ((double)v < a->lo)
				continue;
			snprintf(t, sizeof(t), k >= 12 ? "%.4s" : "%.7s", day);
			time_tick(out, a, (double)v, t);
		}
	}
	svg_xlabel(out, label);
	rq_buf_puts(out, "</g>");
}

/* The points of the cumulative chart: versions' declared costs, then
 * updates with an actual or a forecast of carbon; sets *nact to those with
 * an actual. The caller frees the array. */
static upoint *cumulative_points(size_t *m, size_t *nact, const json_t *r)
{
	const json_t *updates = json_object_get(r, "updates"), *versions = json_object_get(r, "versions");
	size_t alloc = 0;
	upoint *pt = NULL;

	*m = *nact = 0;
	for (size_t i = 0; i < json_array_size(versions); i++) {
		const json_t *v = json_array_get(versions, i);
		upoint p = { 0, NAN, NAN, NAN, NAN, -1 };
		if (!json_is_string(json_object_get(v, "counted")) ||
		    strcmp(rq_json_str(v, "counted", ""), "declared") != 0)
			continue;
		p.actual = num(v, "cost", "carbon_kg", (const char *)NULL);
		if (isnan(p.actual) || !str_time(&p.t, json_object_get(v, "time")))
			continue;
		grow_points(&pt, &alloc, *m);
		pt[(*m)++] = p;
		(*nact)++;
	}
	for (size_t i = 0; i < json_array_size(updates); i++) {
		const json_t *u = json_array_get(updates, i);
		upoint p = { 0, NAN, NAN, NAN, NAN, -1 };
		p.actual = num(u, "actual", "carbon_kg", (const char *)NULL);
		p.mean = num(u, "forecast", "carbon_kg", "mean", (const char *)NULL);
		p.p10 = num(u, "forecast", "carbon_kg", "p10", (const char *)NULL);
		p.p90 = num(u, "forecast", "carbon_kg", "p90", (const char *)NULL);
		if (isnan(p.actual) && isnan(p.mean))
			continue;
		if (!str_time(&p.t, get(u, "actual", "time", (const char *)NULL)) && !str_time(&p.t, get(u, "time", (const char *)NULL)))
			continue;
		grow_points(&pt, &alloc, *m);
		pt[(*m)++] = p;
		if (!isnan(p.actual))
			(*nact)++;
	}
	return pt;
}

/* Axes of the cumulative chart over time-sorted points (m > 0): up to the
 * highest total or forecast; the span with 5 % padding on each side, or a
 * day around a single instant. */
static void cumulative_axes(axis *ya, axis *xa, const upoint *pt, size_t m)
{
	double cum = 0, top = 0;
	double span = (double)pt[m - 1].t - (double)pt[0].t, pad = span > 0 ? fmax(span * 0.05, 1) : 43200;

	for (size_t i = 0; i < m; i++) {
		double lo = cum;
		if (!isnan(pt[i].actual))
			cum += pt[i].actual;
		top = fmax(top, cum);
		if (!isnan(pt[i].p90))
			top = fmax(top, lo + pt[i].p90);
		if (!isnan(pt[i].mean))
			top = fmax(top, lo + pt[i].mean);
	}
	nice_axis(ya, 0, top, true);
	xa->lo = (double)pt[0].t - pad;
	xa->hi = (double)pt[m - 1].t + pad;
}

/* 80 % bands and forecast means, each from where the total stood before. */
static void cumulative_forecasts(rq_buf *out, const axis *ya, const axis *xa, const upoint *pt, size_t m)
{
	double cum = 0;

	for (size_t i = 0; i < m; i++) {
		double x = ax_x(xa, (double)pt[i].t);
		if (!isnan(pt[i].p10) && !isnan(pt[i].p90) && pt[i].p90 >= pt[i].p10) {
			double y1 = ax_y(ya, cum + pt[i].p90), y0 = ax_y(ya, cum + pt[i].p10);
			rq_buf_puts(out, "<rect class=\"band\" x=\"");
			px(out, x - 6);
			rq_buf_puts(out, "\" y=\"");
			px(out, y1);
			rq_buf_puts(out, "\" width=\"12\" height=\"");
			px(out, fmax(y0 - y1, 1));
			rq_buf_puts(out, "\"/>");
		}
		if (!isnan(pt[i].mean)) {
			rq_buf_puts(out, "<circle class=\"fc\" cx=\"");
			px(out, x);
			rq_buf_puts(out, "\" cy=\"");
			px(out, ax_y(ya, cum + pt[i].mean));
			rq_buf_puts(out, "\" r=\"4.5\"/>");
		}
		if (!isnan(pt[i].actual))
			cum += pt[i].actual;
	}
}

/* The recorded total as steps: flat until a cost, then up by it. */
static void cumulative_steps(rq_buf *out, const axis *ya, const axis *xa, const upoint *pt, size_t m)
{
	double cum = 0;

	rq_buf_puts(out, "<path class=\"actual\" d=\"M");
	px(out, ax_x(xa, xa->lo));
	rq_buf_putc(out, ' ');
	px(out, ax_y(ya, 0));
	for (size_t i = 0; i < m; i++) {
		if (isnan(pt[i].actual))
			continue;
		cum += pt[i].actual;
		rq_buf_puts(out, " H");
		px(out, ax_x(xa, (double)pt[i].t));
		rq_buf_puts(out, " V");
		px(out, ax_y(ya, cum));
	}
	rq_buf_puts(out, " H");
	px(out, ax_x(xa, xa->hi));
	rq_buf_puts(out, "\"/>");
}

/* Cumulative carbon over time: every counted cost (a version's declared
 * cost, an update's actual) as a step, so the line ends at the total; each
 * update's forecast (mean, 80 % interval) drawn from where the total stood
 * before it, planned updates without an actual included. */
static void chart_cumulative(rq_buf *out, const json_t *r)
{
	static const char *labels[] = { "recorded (cumulative)", "forecast mean", "80 % interval" };
	static const char *classes[] = { "actual", "fc", "band" };
	size_t m, nact;
	upoint *pt;
	axis ya, xa;

	svg_open(out, "chart-cumulative", "Cumulative carbon over time",
		 "Cumulative carbon in kg CO₂e: recorded costs as steps, each update's forecast with its 80 % interval");
	pt = cumulative_points(&m, &nact, r);
	if (m == 0) {
		svg_empty(out, "no costs or forecasts of carbon recorded");
		free(pt);
		return;
	}
	qsort(pt, m, sizeof(*pt), cmp_time);
	cumulative_axes(&ya, &xa, pt, m);
	svg_legend(out, labels, "lcb", classes, 3);
	svg_yaxis(out, &ya, "kg CO₂e, cumulative");
	svg_time_axis(out, &xa);
	rq_buf_puts(out, "</g>");
	/* bands and means under the recorded line */
	cumulative_forecasts(out, &ya, &xa, pt, m);
	if (nact)
		cumulative_steps(out, &ya, &xa, pt, m);
	rq_buf_puts(out, "</svg>\n");
	free(pt);
}

/* Forecast against actual energy, one point per update with its 80 %
 * interval as a vertical bar; the diagonal is "forecast = actual", so a
 * bar crossing it is an actual inside the interval. */
static void chart_scatter(rq_buf *out, const json_t *updates)
{
	size_t n = json_array_size(updates), m = 0;
	upoint *pt = rq_xcalloc(n ? n : 1, sizeof(*pt));
	double top = 0;
	axis a;
	static const char *labels[] = { "inside 80 %", "outside 80 %", "80 % interval",
					"forecast = actual" };
	static const char *classes[] = { "in", "out", "ibar", "diag" };

	svg_open(out, "chart-forecast", "Forecast against actual energy per update",
		 "Forecast energy (mean, with the 80 % interval) against the actual energy of each update, in kWh");
	for (size_t i = 0; i < n; i++) {
		const json_t *u = json_array_get(updates, i);
		const json_t *in = get(u, "error", "energy_kwh", "inside_p80", (const char *)NULL);
		upoint *p = &pt[m];
		p->actual = num(u, "actual", "energy_kwh", (const char *)NULL);
		p->mean = num(u, "forecast", "energy_kwh", "mean", (const char *)NULL);
		p->p10 = num(u, "forecast", "energy_kwh", "p10", (const char *)NULL);
		p->p90 = num(u, "forecast", "energy_kwh", "p90", (const char *)NULL);
		if (isnan(p->actual) || isnan(p->mean))
			continue;
		if (!json_is_boolean(in))
			in = get(u, "inside_p80", (const char *)NULL);
		p->inside = json_is_boolean(in) ? json_is_true(in) : -1;
		if (p->inside < 0 && !isnan(p->p10) && !isnan(p->p90))
			p->inside = p->actual >= p->p10 && p->actual <= p->p90;
		top = fmax(top, fmax(p->actual, p->mean));
		if (!isnan(p->p90))
			top = fmax(top, p->p90);
		m++;
	}
	if (m == 0) {
		svg_empty(out, "no update with both a forecast and an actual recorded");
		free(pt);
		return;
	}
	nice_axis(&a, 0, top, true);
	svg_legend(out, labels, "coll", classes, 4);
	svg_yaxis(out, &a, "forecast kWh");
	svg_xaxis_num(out, &a, "actual kWh");
	rq_buf_puts(out, "<line class=\"diag\" x1=\"");
	px(out, ax_x(&a, a.lo));
	rq_buf_puts(out, "\" y1=\"");
	px(out, ax_y(&a, a.lo));
	rq_buf_puts(out, "\" x2=\"");
	px(out, ax_x(&a, a.hi));
	rq_buf_puts(out, "\" y2=\"");
	px(out, ax_y(&a, a.hi));
	rq_buf_puts(out, "\"/>");
	for (size_t i = 0; i < m; i++) {
		double x = ax_x(&a, pt[i].actual);
		if (!isnan(pt[i].p10) && !isnan(pt[i].p90)) {
			rq_buf_puts(out, "<line class=\"ibar\" x1=\"");
			px(out, x);
			rq_buf_puts(out, "\" x2=\"");
			px(out, x);
			rq_buf_puts(out, "\" y1=\"");
			px(out, ax_y(&a, pt[i].p10));
			rq_buf_puts(out, "\" y2=\"");
			px(out, ax_y(&a, pt[i].p90));
			rq_buf_puts(out, "\"/>");
		}
		rq_buf_printf(out, "<circle class=\"%s\" cx=\"", pt[i].inside == 0 ? "out" : "in");
		px(out, x);
		rq_buf_puts(out, "\" cy=\"");
		px(out, ax_y(&a, pt[i].mean));
		rq_buf_puts(out, "\" r=\"5\"/>");
	}
	rq_buf_puts(out, "</svg>\n");
	free(pt);
}

static const char *version_name(const json_t *v)
{
	const char *s = rq_json_str(v, "name", NULL);
	return s ? s : rq_json_str(v, "id", "?");
}

/* Energy per version as bars, coloured by where the figure came from. */
static void chart_versions(rq_buf *out, const json_t *versions)
{
	size_t n = json_array_size(versions), m = 0;
	double top = 0, slot, every;
	axis a;
	static const char *labels[] = { "declared (cost file)", "from a recorded actual" };
	static const char *classes[] = { "bar", "bar2" };

	svg_open(out, "chart-versions", "Energy per version",
		 "Energy recorded to produce each version, in kWh");
	for (size_t i = 0; i < n; i++) {
		double e = num(json_array_get(versions, i), "cost", "energy_kwh", (const char *)NULL);
		if (!isnan(e))
			top = fmax(top, e), m++;
	}
	if (n == 0 || m == 0) {
		svg_empty(out, n ? "no version has an energy figure" : "no versions recorded");
		return;
	}
	nice_axis(&a, 0, top, true);
	svg_legend(out, labels, "rr", classes, 2);
	svg_yaxis(out, &a, "kWh");
	svg_xlabel(out, "version");
	slot = (CW - ML - MR) / (double)n;
	every = ceil(64.0 / slot); /* label every k-th bar so names do not overlap */
	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_array_get(versions, i);
		double e = num(v, "cost", "energy_kwh", (const char *)NULL), x = ML + slot * (double)i;
		const char *name = version_name(v);
		bool from_actual = strcmp(rq_json_str(v, "counted", ""), "actual") == 0;
		if (!isnan(e)) {
			double y = ax_y(&a, e);
			rq_buf_printf(out, "<rect class=\"%s\" x=\"", from_actual ? "bar2" : "bar");
			px(out, x + slot * 0.15);
			rq_buf_puts(out, "\" y=\"");
			px(out, y);
			rq_buf_puts(out, "\" width=\"");
			px(out, fmin(slot * 0.7, 90));
			rq_buf_puts(out, "\" height=\"");
			px(out, fmax(ax_y(&a, 0) - y, 0.5));
			rq_buf_puts(out, "\"><title>");
			esc(out, name);
			rq_buf_printf(out, ": %.4g kWh</title></rect>", e);
		}
		if (fmod((double)i, every) == 0) {
			size_t len = strlen(name);
			rq_buf_puts(out, "<text class=\"tick\" x=\"");
			px(out, x + slot * 0.15 + fmin(slot * 0.7, 90) / 2);
			rq_buf_printf(out, "\" y=\"%.0f\" text-anchor=\"middle\">", CH - MB + 18);
			if (len > 12) {
				/* cut at a character boundary */
				size_t cut = 11;
				while (cut > 0 && ((unsigned char)name[cut] & 0xc0) == 0x80)
					cut--;
				esc_n(out, name, cut);
				rq_buf_puts(out, "\xe2\x80\xa6");
			} else {
				esc(out, name);
			}
			rq_buf_puts(out, "</text>");
		}
	}
	rq_buf_puts(out, "</svg>\n");
}

/* ------------------------------------------------------------------ */
/* Tables                                                              */

static const char style[] =
	":root{color-scheme:light;--fg:#1d2329;--mute:#5b6670;--line:#d5dbe1;--head:#eef2f5;"
	"--actual:#1f5f99;--fc:#d9730d;--in:#2f8a45;--out:#c23b31;--bar:#4c83b8;--bar2:#8fb3d6}\n"
	"*{box-sizing:border-box}\n"
	"body{margin:0 auto;max-width:1140px;padding:24px 28px 48px;color:var(--fg);background:#fff;"
	"font:15px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,\"DejaVu Sans\",\"Liberation Sans\",sans-serif}\n"
	"h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:34px 0 10px;padding-bottom:4px;"
	"border-bottom:2px solid var(--line)}h3{font-size:16px;margin:20px 0 8px}\n"
	".sub{color:var(--mute);margin:0 0 16px}\n"
	"nav{margin:14px 0 8px;font-size:14px}nav a{color:var(--actual);margin-right:14px;text-decoration:none}\n"
	"table{border-collapse:collapse;margin:6px 0 14px;font-size:13.5px}\n"
	"th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}\n"
	"thead th{background:var(--head);font-weight:600}\n"
	"td[data-rq]{font-variant-numeric:tabular-nums}td.n{text-align:right}\n"
	"tr.total td,tr.total th{font-weight:600;background:#f7f9fb}\n"
	"td.na{color:var(--mute);text-align:center}td.t{white-space:nowrap}\n"
	"table.kv th{background:var(--head);width:15em;font-weight:600;white-space:nowrap}\n"
	"tr.uhead th{background:#f7f9fb;font-weight:400;border-top:2px solid #aab4be}\n"
	"tr.uhead b{margin-right:10px}tr.uhead .f{margin-right:14px;white-space:nowrap}\n"
	".id{font-family:ui-monospace,\"DejaVu Sans Mono\",monospace;font-size:12px}\n"
	"span.id{display:inline-block;max-width:9em;overflow:hidden;text-overflow:ellipsis;"
	"white-space:nowrap;vertical-align:bottom}td.id{word-break:break-all}\n"
	".wide{overflow-x:auto}\n"
	"p.none{color:var(--mute);font-style:italic}p.note{color:var(--mute);font-size:13px}\n"
	"pre{background:#f6f8fa;border:1px solid var(--line);padding:10px;font-size:12.5px;"
	"white-space:pre-wrap;word-break:break-all}\n"
	".charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:18px}\n"
	"figure{margin:0;border:1px solid var(--line);padding:8px}\n"
	"figure svg{display:block;width:100%;height:auto}\n"
	"figcaption{font-size:13px;color:var(--mute);margin-top:4px}\n"
	".ok{color:var(--in);font-weight:600}.bad{color:var(--out);font-weight:600}\n"
	"svg text{font-family:system-ui,\"DejaVu Sans\",sans-serif;font-size:12px;fill:var(--fg)}\n"
	"svg .ttl{font-size:16px;font-weight:600}svg .tick{fill:var(--mute);font-size:11.5px}\n"
	"svg .lbl{font-size:12.5px;fill:var(--mute)}svg .empty{text-anchor:middle;fill:var(--mute);font-size:14px}\n"
	"svg .bg{fill:#fff}svg .frame{fill:none;stroke:#9aa5b0}svg .grid{stroke:#e6eaee}\n"
	"svg .actual{fill:none;stroke:var(--actual);stroke-width:2.5}\n"
	"svg line.actual{stroke-width:3}\n"
	"svg circle.fc{fill:#fff;stroke:var(--fc);stroke-width:2}\n"
	"svg .band{fill:var(--fc);fill-opacity:.28;stroke:none}\n"
	"svg .ibar{stroke:#7d8a96;stroke-width:2}\n"
	"svg .diag{stroke:#333;stroke-dasharray:5 4;stroke-width:1.2}\n"
	"svg circle.in{fill:var(--in)}svg circle.out{fill:var(--out)}\n"
	"svg .bar{fill:var(--bar)}svg .bar2{fill:var(--bar2)}\n"
	"footer{margin-top:36px;font-size:13px;color:var(--mute)}\n"
	"@media print{body{max-width:none;padding:0;font-size:10pt}nav{display:none}"
	"h2{break-after:avoid}figure,table.kv,tbody,tr{break-inside:avoid}thead{display:table-header-group}"
	".charts{display:block}figure{margin:0 0 12px}a{color:inherit;text-decoration:none}"
	".wide{overflow:visible}span.id{max-width:none;white-space:normal;word-break:break-all}"
	"@page{margin:15mm}}\n";

static void section(rq_buf *out, const char *id, const char *title)
{
	rq_buf_printf(out, "<section id=\"%s\"><h2>", id);
	esc(out, title);
	rq_buf_puts(out, "</h2>\n");
}

static void thead(rq_buf *out, const char *const *cols, size_t n)
{
	rq_buf_puts(out, "<thead><tr>");
	for (size_t i = 0; i < n; i++) {
		rq_buf_puts(out, "<th>");
		esc(out, cols[i]);
		rq_buf_puts(out, "</th>");
	}
	rq_buf_puts(out, "</tr></thead>\n");
}

/* `open` (the table's start tag, and what precedes it), the head row of
 * `cols` and the start of the body. */
static void table_open(rq_buf *out, const char *open, const char *const *cols, size_t n)
{
	rq_buf_puts(out, open);
	thead(out, cols, n);
	rq_buf_puts(out, "<tbody>\n");
}

/* The start of a row headed by `label`; `attrs` (" class=...", or NULL)
 * go into the <tr>. */
static void row_head(rq_buf *out, const char *attrs, const char *label)
{
	rq_buf_printf(out, "<tr%s><th>", attrs ? attrs : "");
	esc(out, label);
	rq_buf_puts(out, "</th>");
}

/* A key/value row of a two-column table; `attrs` go into the value's cell. */
static void kv(rq_buf *out, const char *label, const char *attrs, rq_buf *path, const json_t *obj,
	       const char *key)
{
	row_head(out, NULL, label);
	cell(out, "td", attrs, path, obj, key, (const char *)NULL);
	rq_buf_puts(out, "</tr>\n");
}

static void none(rq_buf *out, const char *msg)
{
	rq_buf_puts(out, "<p class=\"none\">");
	esc(out, msg);
	rq_buf_puts(out, "</p>\n");
}

/* A section with nothing to show says `msg` and ends: true when `empty`. */
static bool empty_section(rq_buf *out, bool empty, const char *msg)
{
	if (empty) {
		none(out, msg);
		rq_buf_puts(out, "</section>\n");
	}
	return empty;
}

static void render_header(rq_buf *out, const json_t *r, rq_buf *path)
{
	const json_t *verified = json_object_get(r, "verified");
	size_t old;

	rq_buf_puts(out, "<header><h1>Sustainability report</h1>\n<p class=\"sub\">The energy and carbon "
		    "of a model's life, computed from resque's signed ledger. ");
	if (json_is_true(verified))
		rq_buf_puts(out, "<span class=\"ok\">The ledger verified.</span>");
	else if (json_is_false(verified))
		rq_buf_puts(out, "<span class=\"bad\">The ledger did NOT verify.</span>");
	rq_buf_puts(out, "</p>\n<table class=\"kv\"><tbody>\n");
	kv(out, "repository", "class=\"id\"", path, r, "repository");
	old = path_key(path, "period");
	kv(out, "period from", NULL, path, json_object_get(r, "period"), "since");
	kv(out, "period until", NULL, path, json_object_get(r, "period"), "until");
	rq_buf_truncate(path, old);
	if (json_is_string(json_object_get(r, "lineage"))) {
		kv(out, "lineage of version", "class=\"id\"", path, r, "lineage");
	}
	kv(out, "ledger entries read", NULL, path, r, "entries");
	rq_buf_puts(out, "</tbody></table>\n");
	rq_buf_puts(out, "<nav><a href=\"#totals\">Totals</a><a href=\"#charts\">Charts</a>"
		    "<a href=\"#versions\">Versions</a><a href=\"#updates\">Updates</a>"
		    "<a href=\"#quality\">Forecast quality</a><a href=\"#reuse\">Saved by reuse</a>"
		    "<a href=\"#grid\">Grid sources</a><a href=\"#verification\">Verification</a></nav>\n"
		    "</header>\n");
}

static const char *const methods[] = { "measured", "estimated", "imported", "declared" };

static void totals_row(rq_buf *out, const char *label, const char *cls, rq_buf *path, const json_t *obj)
{
	row_head(out, cls, label);
	cell(out, "td", NUM, path, obj, "energy_kwh", (const char *)NULL);
	cell(out, "td", NUM, path, obj, "carbon_kg", (const char *)NULL);
	cell(out, "td", NUM, path, obj, "count", (const char *)NULL);
	rq_buf_puts(out, "</tr>\n");
}

static void render_totals(rq_buf *out, const json_t *r, rq_buf *path)
{
	const json_t *totals = json_object_get(r, "totals");
	const json_t *years = json_object_get(r, "years");
	json_t *by = json_object_get(totals, "by_method");
	static const char *const cols[] = { "obtained", "energy (kWh)", "carbon (kg CO₂e)", "costs" };
	static const char *const ycols[] = { "year", "energy (kWh)", "carbon (kg CO₂e)", "costs" };
	size_t old, o2;

	section(out, "totals", "Totals");
	table_open(out, "<h3>Overall, by how the figures were obtained</h3>\n<table>", cols,
		   RQ_ARRAY_SIZE(cols));
	old = path_key(path, "totals");
	o2 = path_key(path, "by_method");
	/* The four methods of the schema first, then any other the report has. */
	for (size_t i = 0; i < RQ_ARRAY_SIZE(methods); i++) {
		size_t o3 = path_key(path, methods[i]);
		totals_row(out, methods[i], NULL, path, json_object_get(by, methods[i]));
		rq_buf_truncate(path, o3);
	}
	if (json_is_object(by)) {
		const char *key;
		json_t *val;
		json_object_foreach(by, key, val) {
			bool known = false;
			for (size_t i = 0; i < RQ_ARRAY_SIZE(methods); i++)
				known = known || strcmp(key, methods[i]) == 0;
			if (known || strchr(key, '.') || !*key)
				continue;
			size_t o3 = path_key(path, key);
			totals_row(out, key, NULL, path, val);
			rq_buf_truncate(path, o3);
		}
	}
	rq_buf_truncate(path, o2);
	totals_row(out, "all", " class=\"total\"", path, totals);
	rq_buf_puts(out, "</tbody></table>\n");
	if (json_object_get(totals, "missing_energy") || json_object_get(totals, "missing_carbon")) {
		rq_buf_puts(out, "<table class=\"kv\"><tbody>\n");
		kv(out, "costs without energy", NULL, path, totals, "missing_energy");
		kv(out, "costs without carbon", NULL, path, totals, "missing_carbon");
		rq_buf_puts(out, "</tbody></table>\n<p class=\"note\">Costs without a figure are left out of its sums.</p>\n");
	}
	rq_buf_truncate(path, old);

	rq_buf_puts(out, "<h3>Per calendar year</h3>\n");
	if (json_array_size(years) == 0) {
		none(out, "no costs in the period");
	} else {
		table_open(out, "<table>", ycols, RQ_ARRAY_SIZE(ycols));
		old = path_key(path, "years");
		for (size_t i = 0; i < json_array_size(years); i++) {
			const json_t *y = json_array_get(years, i);
			o2 = path_index(path, i);
			rq_buf_puts(out, "<tr>");
			cell(out, "td", NULL, path, y, "year", (const char *)NULL);
			cell(out, "td", NUM, path, y, "energy_kwh", (const char *)NULL);
			cell(out, "td", NUM, path, y, "carbon_kg", (const char *)NULL);
			cell(out, "td", NUM, path, y, "count", (const char *)NULL);
			rq_buf_puts(out, "</tr>\n");
			rq_buf_truncate(path, o2);
		}
		rq_buf_truncate(path, old);
		rq_buf_puts(out, "</tbody></table>\n");
	}
	rq_buf_puts(out, "</section>\n");
}

static void render_charts(rq_buf *out, const json_t *r)
{
	const json_t *updates = json_object_get(r, "updates");
	const json_t *versions = json_object_get(r, "versions");
	section(out, "charts", "Charts");
	rq_buf_puts(out, "<div class=\"charts\">\n<figure>");
	chart_cumulative(out, r);
	rq_buf_puts(out, "<figcaption>Each step is a recorded cost (an update's actual, a version's declared "
		    "cost); the circle and the band show what was forecast for an update (mean, 80 % "
		    "interval), starting from the total before it.</figcaption></figure>\n<figure>");
	chart_scatter(out, updates);
	rq_buf_puts(out, "<figcaption>A bar that crosses the dashed diagonal is an actual inside its "
		    "forecast's 80 % interval.</figcaption></figure>\n<figure>");
	chart_versions(out, versions);
	rq_buf_puts(out, "<figcaption>What producing each version cost, as recorded on it.</figcaption>"
		    "</figure>\n</div></section>\n");
}

static void render_versions(rq_buf *out, const json_t *r, rq_buf *path)
{
	const json_t *versions = json_object_get(r, "versions");
	static const char *const cols[] = { "version", "time", "parent", "epochs", "energy (kWh)",
					    "carbon (kg CO₂e)", "duration (s)", "method", "counted as",
					    "cumulative kWh", "cumulative kg CO₂e" };
	size_t old;

	section(out, "versions", "Versions");
	if (empty_section(out, json_array_size(versions) == 0, "no versions in the period"))
		return;
	table_open(out, "<div class=\"wide\"><table>", cols, RQ_ARRAY_SIZE(cols));
	old = path_key(path, "versions");
	for (size_t i = 0; i < json_array_size(versions); i++) {
		const json_t *v = json_array_get(versions, i);
		size_t o2 = path_index(path, i);
		rq_buf_puts(out, "<tr>");
		cell(out, "td", NULL, path, v, "name", (const char *)NULL);
		cell(out, "td", "class=\"t\"", path, v, "time", (const char *)NULL);
		cell(out, "td", NULL, path, v, "parent", (const char *)NULL);
		cell(out, "td", NUM, path, v, "cost", "epochs", (const char *)NULL);
		cell(out, "td", NUM, path, v, "cost", "energy_kwh", (const char *)NULL);
		cell(out, "td", NUM, path, v, "cost", "carbon_kg", (const char *)NULL);
		cell(out, "td", NUM, path, v, "cost", "duration_s", (const char *)NULL);
		cell(out, "td", NULL, path, v, "cost", "method", (const char *)NULL);
		cell(out, "td", NULL, path, v, "counted", (const char *)NULL);
		cell(out, "td", NUM, path, v, "cumulative", "energy_kwh", (const char *)NULL);
		cell(out, "td", NUM, path, v, "cumulative", "carbon_kg", (const char *)NULL);
		rq_buf_puts(out, "</tr>\n");
		rq_buf_truncate(path, o2);
	}
	rq_buf_truncate(path, old);
	rq_buf_puts(out, "</tbody></table></div>\n<p class=\"note\">Counted as: a cost declared on the "
		    "version counts in the totals; a cost taken from an actual is counted once, with that "
		    "actual. Cumulative figures add the costs of the version's ancestors.</p></section>\n");
}

static const struct {
	const char *key, *label;
} measures[] = {
	{ "epochs", "epochs" },
	{ "energy_kwh", "energy (kWh)" },
	{ "carbon_kg", "carbon (kg CO₂e)" },
	{ "duration_s", "duration (s)" },
};

/* A labelled figure inside an update's heading row. */
static void head_field(rq_buf *out, const char *label, const char *attrs, rq_buf *path, const json_t *u,
		       const char *k1, const char *k2)
{
	rq_buf_puts(out, "<span class=\"f\">");
	esc(out, label);
	rq_buf_putc(out, ' ');
	cell(out, "span", attrs, path, u, k1, k2, (const char *)NULL);
	rq_buf_puts(out, "</span>");
}

static void render_updates(rq_buf *out, const json_t *r, rq_buf *path)
{
	const json_t *updates = json_object_get(r, "updates");
	static const char *const cols[] = { "measure", "forecast mean", "p10", "p90", "actual",
					    "actual − mean", "APE %", "inside 80 %", "inside 95 %",
					    "from scratch" };
	size_t old;

	section(out, "updates", "Updates: forecast and actual");
	if (empty_section(out, json_array_size(updates) == 0, "no updates recorded"))
		return;
	rq_buf_puts(out, "<p>Each update's forecast (mean and 80 % interval, p10–p90) beside what it "
		    "really cost; APE is the absolute error in percent of the actual; <i>from scratch</i> "
		    "is the forecast cost of training a new model instead.</p>\n");
	rq_buf_puts(out, "<div class=\"wide\"><table>");
	thead(out, cols, RQ_ARRAY_SIZE(cols));
	old = path_key(path, "updates");
	for (size_t i = 0; i < json_array_size(updates); i++) {
		const json_t *u = json_array_get(updates, i);
		size_t o2 = path_index(path, i);
		rq_buf_printf(out, "<tbody>\n<tr class=\"uhead\"><th colspan=\"%zu\"><b>Update %zu</b>",
			      RQ_ARRAY_SIZE(cols), i + 1);
		head_field(out, "from", NULL, path, u, "from_name", NULL);
		head_field(out, "kind", NULL, path, u, "kind", NULL);
		head_field(out, "shift family", NULL, path, u, "shift_family", NULL);
		head_field(out, "planned", NULL, path, u, "time", NULL);
		head_field(out, "plan", "class=\"id\"", path, u, "plan", NULL);
		head_field(out, "actual", "class=\"id\"", path, u, "actual", "id");
		head_field(out, "recorded", NULL, path, u, "actual", "time");
		head_field(out, "method", NULL, path, u, "actual", "method");
		if (json_is_true(json_object_get(u, "superseded")))
			head_field(out, "older run of the plan:", NULL, path, u, "superseded", NULL);
		if (json_is_true(json_object_get(u, "target_missed")))
			head_field(out, "target missed (lower bound, not in the quality figures):", NULL, path, u,
				   "target_missed", NULL);
		rq_buf_puts(out, "</th></tr>\n");
		for (size_t k = 0; k < RQ_ARRAY_SIZE(measures); k++) {
			const char *m = measures[k].key;
			row_head(out, NULL, measures[k].label);
			cell(out, "td", NUM, path, u, "forecast", m, "mean", (const char *)NULL);
			cell(out, "td", NUM, path, u, "forecast", m, "p10", (const char *)NULL);
			cell(out, "td", NUM, path, u, "forecast", m, "p90", (const char *)NULL);
			cell(out, "td", NUM, path, u, "actual", m, (const char *)NULL);
			cell(out, "td", NUM, path, u, "error", m, "diff", (const char *)NULL);
			cell(out, "td", NUM, path, u, "error", m, "ape", (const char *)NULL);
			cell(out, "td", NULL, path, u, "error", m, "inside_p80", (const char *)NULL);
			cell(out, "td", NULL, path, u, "error", m, "inside_p95", (const char *)NULL);
			cell(out, "td", NUM, path, u, "scratch", m, (const char *)NULL);
			rq_buf_puts(out, "</tr>\n");
		}
		if (json_is_object(json_object_get(u, "saved"))) {
			rq_buf_printf(out, "<tr><th>saved by reuse</th><td colspan=\"%zu\">",
				      RQ_ARRAY_SIZE(cols) - 1);
			cell(out, "span", NULL, path, u, "saved", "energy_kwh", (const char *)NULL);
			rq_buf_puts(out, " kWh, ");
			cell(out, "span", NULL, path, u, "saved", "carbon_kg", (const char *)NULL);
			rq_buf_puts(out, " kg CO₂e</td></tr>\n");
		}
		rq_buf_puts(out, "</tbody>\n");
		rq_buf_truncate(path, o2);
	}
	rq_buf_truncate(path, old);
	rq_buf_puts(out, "</table></div></section>\n");
}

static void render_quality(rq_buf *out, const json_t *r, rq_buf *path)
{
	const json_t *q = json_object_get(r, "forecast_quality");
	static const char *const cols[] = { "outcome", "pairs", "median APE %", "share inside 80 %",
					    "share inside 95 %", "pairs with actual 0 (no APE)",
					    "pairs left out: target missed" };
	size_t old;
	bool any = false;

	section(out, "quality", "Forecast quality");
	for (size_t k = 0; k < RQ_ARRAY_SIZE(measures); k++)
		any = any || json_integer_value(get(q, measures[k].key, "n", (const char *)NULL)) > 0;
	if (!any)
		none(out, "no forecast/actual pairs recorded");
	if (!json_is_object(q) || json_object_size(q) == 0) {
		rq_buf_puts(out, "</section>\n");
		return;
	}
	table_open(out, "<table>", cols, RQ_ARRAY_SIZE(cols));
	old = path_key(path, "forecast_quality");
	for (size_t k = 0; k < RQ_ARRAY_SIZE(measures); k++) {
		const char *m = measures[k].key;
		if (!json_object_get(q, m))
			continue;
		row_head(out, NULL, measures[k].label);
		cell(out, "td", NUM, path, q, m, "n", (const char *)NULL);
		cell(out, "td", NUM, path, q, m, "median_ape", (const char *)NULL);
		cell(out, "td", NUM, path, q, m, "inside_p80", (const char *)NULL);
		cell(out, "td", NUM, path, q, m, "inside_p95", (const char *)NULL);
		cell(out, "td", NUM, path, q, m, "zero_actual", (const char *)NULL);
		cell(out, "td", NUM, path, q, m, "target_missed", (const char *)NULL);
		rq_buf_puts(out, "</tr>\n");
	}
	rq_buf_truncate(path, old);
	rq_buf_puts(out, "</tbody></table></section>\n");
}

static void render_reuse(rq_buf *out, const json_t *r, rq_buf *path)
{
	const json_t *s = json_object_get(r, "saved_by_reuse");
	size_t old;

	section(out, "reuse", "Saved by reuse");
	rq_buf_puts(out, "<p>For every update with an actual, the forecast cost of training from scratch "
		    "minus what the update really cost, summed.</p>\n");
	if (empty_section(out, !json_is_object(s), "no updates recorded"))
		return;
	old = path_key(path, "saved_by_reuse");
	rq_buf_puts(out, "<table class=\"kv\"><tbody>\n");
	kv(out, "energy saved (kWh)", NULL, path, s, "energy_kwh");
	kv(out, "carbon saved (kg CO₂e)", NULL, path, s, "carbon_kg");
	kv(out, "updates counted (energy)", NULL, path, s, "updates");
	if (json_object_get(s, "updates_carbon"))
		kv(out, "updates counted (carbon)", NULL, path, s, "updates_carbon");
	rq_buf_puts(out, "</tbody></table></section>\n");
	rq_buf_truncate(path, old);
}

/* Grid sources: the known columns first, then any other scalar field. */
static void render_grid(rq_buf *out, const json_t *r, rq_buf *path)
{
	static const char *const known[][2] = {
		{ "region", "region" }, { "name", "grid" }, { "intensity_g_per_kwh", "g CO₂e/kWh" },
		{ "pue", "PUE" }, { "source", "source" }, { "year", "year" }, { "used_by", "used by" },
	};
	const json_t *grid = json_object_get(r, "grid");
	const char **keys = NULL, **labels = NULL;
	size_t ncols = 0, alloc = 0, old;

	section(out, "grid", "Grid intensities, PUE and their sources");
	if (empty_section(out, json_array_size(grid) == 0, "no grid intensities used"))
		return;
	alloc = RQ_ARRAY_SIZE(known) + 8;
	keys = rq_xcalloc(alloc, sizeof(*keys));
	labels = rq_xcalloc(alloc, sizeof(*labels));
	for (size_t k = 0; k < RQ_ARRAY_SIZE(known); k++) {
		keys[ncols] = known[k][0];
		labels[ncols++] = known[k][1];
	}
	for (size_t i = 0; i < json_array_size(grid); i++) {
		const char *key;
		json_t *val;
		json_object_foreach(json_array_get(grid, i), key, val) {
			bool seen = false;
			if (json_is_object(val) || json_is_array(val) || strchr(key, '.') || !*key)
				continue;
			for (size_t c = 0; c < ncols && !seen; c++)
				seen = strcmp(keys[c], key) == 0;
			if (seen)
				continue;
			if (ncols == alloc) {
				alloc = rq_alloc_nr(alloc, ncols + 1);
				keys = rq_xreallocarray(keys, alloc, sizeof(*keys));
				labels = rq_xreallocarray(labels, alloc, sizeof(*labels));
			}
			keys[ncols] = key;
			labels[ncols++] = key;
		}
	}
	table_open(out, "<div class=\"wide\"><table>", labels, ncols);
	old = path_key(path, "grid");
	for (size_t i = 0; i < json_array_size(grid); i++) {
		const json_t *g = json_array_get(grid, i);
		size_t o2 = path_index(path, i);
		rq_buf_puts(out, "<tr>");
		for (size_t c = 0; c < ncols; c++)
			cell(out, "td", c == 2 || c == 3 || c == 6 ? NUM : NULL, path, g, keys[c], (const char *)NULL);
		rq_buf_puts(out, "</tr>\n");
		rq_buf_truncate(path, o2);
	}
	rq_buf_truncate(path, old);
	rq_buf_puts(out, "</tbody></table></div>\n<p class=\"note\">Carbon = energy × PUE × intensity; "
		    "\"as recorded\" means the intensity was given with the figure, not taken from "
		    "resque's table.</p></section>\n");
	free(keys);
	free(labels);
}

static void render_verification(rq_buf *out, const json_t *r, rq_buf *path)
{
	const json_t *cp = json_object_get(r, "checkpoint");
	const char *note = rq_json_str(cp, "note", NULL);
	size_t old;

	section(out, "verification", "Verification");
	rq_buf_puts(out, "<table class=\"kv\"><tbody>\n");
	kv(out, "ledger verified", NULL, path, r, "verified");
	old = path_key(path, "checkpoint");
	kv(out, "checkpoint origin", NULL, path, cp, "origin");
	kv(out, "checkpoint tree size", NULL, path, cp, "size");
	kv(out, "checkpoint root (base64)", "class=\"id\"", path, cp, "root");
	rq_buf_puts(out, "</tbody></table>\n");
	rq_buf_truncate(path, old);
	if (note) {
		rq_buf_puts(out, "<h3>Signed checkpoint</h3>\n<pre>");
		esc(out, note);
		rq_buf_puts(out, "</pre>\n");
	} else if (cp) {
		none(out, "the checkpoint is not signed");
	}
	if (json_object_get(r, "evidence"))
		rq_buf_puts(out, "<p>This file embeds its evidence: the checkpoint, and every ledger entry "
			    "its figures rest on with its signature, signer and inclusion proof. Check it "
			    "with nothing but the signer's public key:</p>\n"
			    "<pre>resque audit report THIS-FILE.html --key PUBKEY</pre>\n");
	else
		none(out, "this report carries no evidence");
	rq_buf_puts(out, "</section>\n");
}

/* The report JSON inside <script type="application/json">: every '<' (it
 * can only stand inside a JSON string) is written as the JSON escape
 * \u003c, so the block can neither end early ("</script") nor enter the
 * script-data escape states ("<!--"), and it stays valid JSON that any
 * parser (Python's json, a browser's JSON.parse) reads as it is. */
static void put_evidence(rq_buf *out, const char *json, size_t len)
{
	size_t i = 0;
	while (i < len) {
		const char *lt = memchr(json + i, '<', len - i);
		size_t at = lt ? (size_t)(lt - json) : len;
		rq_buf_put(out, json + i, at - i);
		if (at == len)
			break;
		rq_buf_puts(out, "\\u003c");
		i = at + 1;
	}
}

int rq_report_html(rq_buf *out, const json_t *report)
{
	rq_buf json = RQ_BUF_INIT, path = RQ_BUF_INIT;
	size_t start = out->len;
	const char *repo;
	int err;

	if (!json_is_object(report))
		return rq_error_set(RQ_EINVALID, "report: not a JSON object");
	if ((err = rq_json_dump(&json, report, RQ_JSON_PRETTY)) != 0)
		goto done;
	repo = rq_json_str(report, "repository", NULL);
	rq_buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		    /* Belt and braces: even an edited copy may fetch nothing. */
		    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		    "style-src 'unsafe-inline'\">\n"
		    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		    "<meta name=\"generator\" content=\"resque\">\n<title>Sustainability report");
	if (repo) {
		rq_buf_puts(out, " \xe2\x80\x94 ");
		esc(out, repo);
	}
	rq_buf_puts(out, "</title>\n<style>\n");
	rq_buf_puts(out, style);
	rq_buf_puts(out, "</style>\n</head>\n<body>\n");
	render_header(out, report, &path);
	render_totals(out, report, &path);
	render_charts(out, report);
	render_versions(out, report, &path);
	render_updates(out, report, &path);
	render_quality(out, report, &path);
	render_reuse(out, report, &path);
	render_grid(out, report, &path);
	render_verification(out, report, &path);
	rq_buf_puts(out, "<footer>Written by resque. Every figure in the tables carries its place in the "
		    "embedded report (data-rq); the charts are drawn from the same figures.</footer>\n");
	rq_buf_puts(out, "<script type=\"application/json\" id=\"resque-report\">\n");
	put_evidence(out, json.ptr, json.len);
	rq_buf_puts(out, "</script>\n</body>\n</html>\n");
done:
	if (err)
		rq_buf_truncate(out, start);
	rq_buf_release(&json);
	rq_buf_release(&path);
	return err;
}

/* ------------------------------------------------------------------ */
/* Reading a report back                                               */

/* This is a strict scanner for the HTML rq_report_html writes, not a
 * general HTML parser: it knows comments, a doctype, start and end tags
 * with quoted attributes, raw text in <style> and <title>, and exactly one
 * <script type="application/json" id="resque-report">. Anything else that
 * could make a browser show something other than what it reads (another
 * script, an event handler, a raw-text element, a nested or duplicated
 * figure, a stray '<' or '&', bytes that are not UTF-8) is refused. */

#define RQ_HTML_MAX ((size_t)256 << 20)

typedef struct scan {
	const char *s;
	size_t len, pos;
	const char *name;
} scan;

static int scan_fail(const scan *sc, size_t at, const char *reason)
{
	size_t line = 1;
	for (size_t i = 0; i < at && i < sc->len; i++)
		line += sc->s[i] == '\n';
	return rq_error_set(RQ_EINVALID, "%s: line %zu: %s", sc->name, line, reason);
}

static bool utf8_valid(const unsigned char *s, size_t len, size_t *bad)
{
	size_t i = 0, n;
	while (i < len) {
		if (!(n = rq_utf8_len(s + i, len - i))) {
			*bad = i;
			return false;
		}
		i += n;
	}
	return true;
}

static void put_utf8(rq_buf *out, unsigned long cp)
{
	if (cp < 0x80) {
		rq_buf_putc(out, (char)cp);
	} else if (cp < 0x800) {
		rq_buf_putc(out, (char)(0xc0 | (cp >> 6)));
		rq_buf_putc(out, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		rq_buf_putc(out, (char)(0xe0 | (cp >> 12)));
		rq_buf_putc(out, (char)(0x80 | ((cp >> 6) & 0x3f)));
		rq_buf_putc(out, (char)(0x80 | (cp & 0x3f)));
	} else {
		rq_buf_putc(out, (char)(0xf0 | (cp >> 18)));
		rq_buf_putc(out, (char)(0x80 | ((cp >> 12) & 0x3f)));
		rq_buf_putc(out, (char)(0x80 | ((cp >> 6) & 0x3f)));
		rq_buf_putc(out, (char)(0x80 | (cp & 0x3f)));
	}
}

/* Decode s[0, len) with the five entities we write and numeric references;
 * 0 or a reason. */
static const char *decode(rq_buf *out, const char *s, size_t len)
{
	static const struct {
		const char *name;
		char c;
	} named[] = { { "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' } };

	for (size_t i = 0; i < len;) {
		if (s[i] == '<')
			return "'<' in a figure";
		if (s[i] != '&') {
			rq_buf_putc(out, s[i++]);
			continue;
		}
		i++;
		if (i < len && s[i] == '#') {
			unsigned long cp = 0;
			bool hex = i + 1 < len && (s[i + 1] == 'x' || s[i + 1] == 'X');
			size_t digits = 0;
			i += hex ? 2 : 1;
			for (; i < len && s[i] != ';'; i++, digits++) {
				int d;
				char c = s[i];
				if (c >= '0' && c <= '9')
					d = c - '0';
				else if (hex && c >= 'a' && c <= 'f')
					d = c - 'a' + 10;
				else if (hex && c >= 'A' && c <= 'F')
					d = c - 'A' + 10;
				else
					return "malformed character reference";
				cp = cp * (hex ? 16 : 10) + (unsigned long)d;
				if (cp > 0x10ffff)
					return "character reference out of range";
			}
			if (i >= len || digits == 0)
				return "malformed character reference";
			if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
				return "character reference out of range";
			i++;
			put_utf8(out, cp);
			continue;
		}
		{
			size_t k;
			for (k = 0; k < RQ_ARRAY_SIZE(named); k++) {
				size_t n = strlen(named[k].name);
				if (len - i >= n && memcmp(s + i, named[k].name, n) == 0) {
					rq_buf_putc(out, named[k].c);
					i += n;
					break;
				}
			}
			if (k == RQ_ARRAY_SIZE(named))
				return "unknown or unterminated entity";
		}
	}
	return NULL;
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static bool name_char(char c)
{
	return !is_space(c) && c != '>' && c != '/' && c != '=' && c != '"' && c != '\'' && c != '<' &&
	       c != '\0';
}

static bool eq_nocase(const char *a, size_t alen, const char *b)
{
	return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

/* Find the first case-insensitive occurrence of `needle` at or after pos. */
static size_t find_nocase(const scan *sc, size_t pos, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = pos; i + n <= sc->len; i++)
		if (strncasecmp(sc->s + i, needle, n) == 0)
			return i;
	return SIZE_MAX;
}

#define MAX_ATTRS 16

typedef struct tag {
	const char *name;
	size_t nlen;
	bool end, selfclose;
	size_t nattr;
	struct {
		const char *name, *val;
		size_t nlen, vlen;
	} attr[MAX_ATTRS];
} tag;

/* Parse the tag starting at sc->pos ('<'); sc->pos moves after '>'. */
static int parse_tag(scan *sc, tag *t)
{
	size_t at = sc->pos, i = sc->pos + 1;
	const char *s = sc->s;

	memset(t, 0, sizeof(*t));
	if (i < sc->len && s[i] == '/')
		t->end = true, i++;
	if (i >= sc->len || !is_alpha(s[i]))
		return scan_fail(sc, at, "stray '<'");
	t->name = s + i;
	while (i < sc->len && name_char(s[i]))
		i++;
	t->nlen = (size_t)(s + i - t->name);
	for (;;) {
		while (i < sc->len && is_space(s[i]))
			i++;
		if (i >= sc->len)
			return scan_fail(sc, at, "unterminated tag");
		if (s[i] == '>') {
			i++;
			break;
		}
		if (s[i] == '/' && i + 1 < sc->len && s[i + 1] == '>') {
			t->selfclose = true;
			i += 2;
			break;
		}
		if (t->end)
			return scan_fail(sc, at, "attributes in an end tag");
		if (!name_char(s[i]))
			return scan_fail(sc, at, "malformed attribute");
		if (t->nattr == MAX_ATTRS)
			return scan_fail(sc, at, "too many attributes");
		t->attr[t->nattr].name = s + i;
		while (i < sc->len && name_char(s[i]))
			i++;
		t->attr[t->nattr].nlen = (size_t)(s + i - t->attr[t->nattr].name);
		while (i < sc->len && is_space(s[i]))
			i++;
		if (i < sc->len && s[i] == '=') {
			char q;
			size_t v;
			i++;
			while (i < sc->len && is_space(s[i]))
				i++;
			if (i >= sc->len)
				return scan_fail(sc, at, "unterminated tag");
			q = s[i];
			if (q != '"' && q != '\'')
				return scan_fail(sc, at, "unquoted attribute value");
			v = ++i;
			while (i < sc->len && s[i] != q)
				i++;
			if (i >= sc->len)
				return scan_fail(sc, at, "unterminated attribute value");
			t->attr[t->nattr].val = s + v;
			t->attr[t->nattr].vlen = i - v;
			i++;
		} else {
			t->attr[t->nattr].val = "";
		}
		for (size_t k = 0; k < t->nattr; k++)
			if (t->attr[k].nlen == t->attr[t->nattr].nlen &&
			    strncasecmp(t->attr[k].name, t->attr[t->nattr].name, t->attr[k].nlen) == 0)
				return scan_fail(sc, at, "duplicate attribute");
		if (t->attr[t->nattr].nlen > 2 && strncasecmp(t->attr[t->nattr].name, "on", 2) == 0)
			return scan_fail(sc, at, "event handler attribute");
		t->nattr++;
	}
	sc->pos = i;
	return 0;
}

static const char *attr(const tag *t, const char *name, size_t *vlen)
{
	for (size_t k = 0; k < t->nattr; k++)
		if (eq_nocase(t->attr[k].name, t->attr[k].nlen, name)) {
			*vlen = t->attr[k].vlen;
			return t->attr[k].val;
		}
	return NULL;
}

static bool attr_is(const tag *t, const char *name, const char *want)
{
	size_t vlen;
	const char *v = attr(t, name, &vlen);
	return v && vlen == strlen(want) && memcmp(v, want, vlen) == 0;
}

static int cmp_cells(const void *a, const void *b)
{
	return strcmp(((const rq_report_cell *)a)->path, ((const rq_report_cell *)b)->path);
}

/* The state of rq_report_html_extract: the scanner, the cells found so
 * far and where the evidence block lies. */
typedef struct extract {
	scan sc;
	rq_report_cell *c;
	size_t n, alloc;
	size_t ev_start, ev_end, nev;
	rq_buf text; /* scratch for decoding */
} extract;

static int check_bytes(const scan *sc)
{
	size_t bad;
	const char *nul;

	if (sc->len > RQ_HTML_MAX)
		return rq_error_set(RQ_EINVALID, "%s: larger than 256 MiB", sc->name);
	if (!utf8_valid((const unsigned char *)sc->s, sc->len, &bad))
		return scan_fail(sc, bad, "not UTF-8");
	if ((nul = memchr(sc->s, '\0', sc->len)) != NULL)
		return scan_fail(sc, (size_t)(nul - sc->s), "NUL byte");
	return 0;
}

/* Text outside figures: only check it is a reference. */
static int skip_reference(extract *x, size_t at)
{
	const char *s = x->sc.s;
	size_t len = x->sc.len, semi = at + 1;

	rq_buf_reset(&x->text);
	while (semi < len && semi - at < 12 && s[semi] != ';')
		semi++;
	if (semi >= len || s[semi] != ';' || decode(&x->text, s + at, semi + 1 - at))
		return scan_fail(&x->sc, at, "stray '&'");
	x->sc.pos = semi + 1;
	return 0;
}

/* A comment or the doctype at `at`: skipped (*skipped set). */
static int skip_declaration(extract *x, size_t at, bool *skipped)
{
	const char *s = x->sc.s, *e;
	size_t len = x->sc.len;

	*skipped = false;
	if (len - at >= 4 && memcmp(s + at, "<!--", 4) == 0) {
		if (!(e = memmem(s + at + 4, len - at - 4, "-->", 3)))
			return scan_fail(&x->sc, at, "unterminated comment");
		x->sc.pos = (size_t)(e - s) + 3;
		*skipped = true;
	} else if (len - at >= 9 && strncasecmp(s + at, "<!doctype", 9) == 0) {
		if (!(e = memchr(s + at, '>', len - at)))
			return scan_fail(&x->sc, at, "unterminated doctype");
		x->sc.pos = (size_t)(e - s) + 1;
		*skipped = true;
	}
	return 0;
}

/* The one script allowed: the evidence block, noted for later. */
static int take_evidence(extract *x, const tag *t, size_t at)
{
	size_t close;

	if (!attr_is(t, "type", "application/json") || !attr_is(t, "id", "resque-report"))
		return scan_fail(&x->sc, at, "a script other than the report's evidence");
	if (++x->nev > 1)
		return scan_fail(&x->sc, at, "more than one evidence block");
	close = find_nocase(&x->sc, x->sc.pos, "</script");
	if (close == SIZE_MAX)
		return scan_fail(&x->sc, at, "unterminated evidence block");
	x->ev_start = x->sc.pos;
	x->ev_end = close;
	x->sc.pos = close;
	return 0;
}

/* <style> and <title>: raw text up to their end tag. */
static int skip_raw_text(extract *x, const tag *t, size_t at)
{
	char want[16];
	size_t close;

	snprintf(want, sizeof(want), "</%.*s", (int)t->nlen, t->name);
	close = find_nocase(&x->sc, x->sc.pos, want);
	if (close == SIZE_MAX)
		return scan_fail(&x->sc, at, "unterminated element");
	x->sc.pos = close;
	return 0;
}

static bool refused_element(const tag *t)
{
	static const char *const refused[] = { "textarea", "xmp", "plaintext", "iframe", "noembed", "noframes",
					       "noscript", "template", "object", "embed", "math" };
	for (size_t k = 0; k < RQ_ARRAY_SIZE(refused); k++)
		if (eq_nocase(t->name, t->nlen, refused[k]))
			return true;
	return false;
}

/* The content of the data-rq element `t` (opened at `at`): text up to its
 * own end tag, into the last cell. */
static int cell_text(extract *x, const tag *t, size_t at)
{
	const char *s = x->sc.s, *reason;
	size_t vs = x->sc.pos, lt, dummy;
	tag e;
	int err;

	while (x->sc.pos < x->sc.len && s[x->sc.pos] != '<')
		x->sc.pos++;
	if (x->sc.pos >= x->sc.len)
		return scan_fail(&x->sc, at, "unterminated data-rq element");
	lt = x->sc.pos;
	if ((err = parse_tag(&x->sc, &e)) != 0)
		return err;
	if (!e.end)
		return scan_fail(&x->sc, lt, attr(&e, "data-rq", &dummy) ? "nested data-rq"
									  : "markup inside a data-rq element");
	if (e.nlen != t->nlen || strncasecmp(e.name, t->name, t->nlen) != 0)
		return scan_fail(&x->sc, lt, "data-rq element closed by another tag");
	rq_buf_reset(&x->text);
	if ((reason = decode(&x->text, s + vs, lt - vs)) != NULL)
		return scan_fail(&x->sc, vs, reason);
	x->c[x->n - 1].text = rq_buf_detach(&x->text, NULL);
	return 0;
}

/* An element with a data-rq path: a displayed figure. */
static int take_cell(extract *x, const tag *t, size_t at)
{
	size_t plen;
	const char *p = attr(t, "data-rq", &plen), *reason;

	if (!p)
		return 0;
	if (t->selfclose)
		return scan_fail(&x->sc, at, "empty data-rq element");
	/* Cannot overflow: each cell takes bytes of an input of at most
	 * RQ_HTML_MAX. */
	RQ_ALLOC_GROW(x->c, x->n + 1, x->alloc);
	rq_buf_reset(&x->text);
	if ((reason = decode(&x->text, p, plen)) != NULL)
		return scan_fail(&x->sc, at, reason);
	if (x->text.len == 0 || memchr(x->text.ptr, '\0', x->text.len))
		return scan_fail(&x->sc, at, "empty data-rq path");
	x->c[x->n].path = rq_buf_detach(&x->text, NULL);
	x->c[x->n].text = NULL;
	x->n++;
	return cell_text(x, t, at);
}

/* One step of the scan, at sc.pos: a reference, text, a declaration or a
 * tag (and what the tag opens). */
static int scan_step(extract *x)
{
	size_t at = x->sc.pos;
	bool skipped;
	tag t;
	int err;

	if (x->sc.s[at] == '&')
		return skip_reference(x, at);
	if (x->sc.s[at] != '<') {
		x->sc.pos++;
		return 0;
	}
	if ((err = skip_declaration(x, at, &skipped)) || skipped)
		return err;
	if ((err = parse_tag(&x->sc, &t)) != 0 || t.end)
		return err;
	if (eq_nocase(t.name, t.nlen, "script"))
		return take_evidence(x, &t, at);
	if (eq_nocase(t.name, t.nlen, "style") || eq_nocase(t.name, t.nlen, "title"))
		return skip_raw_text(x, &t, at);
	if (refused_element(&t))
		return scan_fail(&x->sc, at, "unsupported element");
	return take_cell(x, &t, at);
}

/* The evidence block, parsed as it is. */
static int parse_evidence(json_t **out, const extract *x)
{
	const char *block = x->sc.s + x->ev_start, *name = x->sc.name;
	size_t len = x->ev_end - x->ev_start;
	int err;

	*out = NULL;
	if (x->nev == 0)
		return rq_error_set(RQ_EINVALID, "%s: no evidence block (<script type=\"application/json\" "
				    "id=\"resque-report\">)", name);
	/* The block holds no '<' (put_evidence writes \u003c): what is
	 * there is parsed as it is. */
	if (memchr(block, '<', len))
		return rq_error_set(RQ_EINVALID, "%s: a '<' inside the evidence block (resque writes \\u003c)", name);
	if ((err = rq_json_parse(out, block, len, name)) != 0)
		return err;
	if (!json_is_object(*out))
		return rq_error_set(RQ_EINVALID, "%s: the evidence block is not a JSON object", name);
	return 0;
}

static int check_unique_paths(const rq_report_cell *c, size_t n, const char *name)
{
	rq_report_cell *sorted;
	int err = 0;

	if (n < 2)
		return 0;
	sorted = rq_xmallocarray(n, sizeof(*sorted));
	memcpy(sorted, c, n * sizeof(*c));
	qsort(sorted, n, sizeof(*sorted), cmp_cells);
	for (size_t i = 1; i < n && !err; i++)
		if (strcmp(sorted[i - 1].path, sorted[i].path) == 0)
			err = rq_error_set(RQ_EINVALID, "%s: duplicate data-rq path '%s'", name, sorted[i].path);
	free(sorted);
	return err;
}

int rq_report_html_extract(json_t **report, rq_report_cell **cells, size_t *ncells, const char *html,
			   size_t len, const char *name)
{
	extract x = { { html, len, 0, name }, NULL, 0, 0, 0, 0, 0, RQ_BUF_INIT };
	json_t *j = NULL;
	int err;

	*report = NULL;
	*cells = NULL;
	*ncells = 0;
	if ((err = check_bytes(&x.sc)))
		goto done;
	while (x.sc.pos < len)
		if ((err = scan_step(&x)))
			goto done;
	if ((err = parse_evidence(&j, &x)) || (err = check_unique_paths(x.c, x.n, name)))
		goto done;
	*report = j;
	*cells = x.c;
	*ncells = x.n;
	j = NULL;
	x.c = NULL;
	x.n = 0;
done:
	json_decref(j);
	rq_report_cells_free(x.c, x.n);
	rq_buf_release(&x.text);
	return err;
}

void rq_report_cells_free(rq_report_cell *cells, size_t n)
{
	if (!cells)
		return;
	for (size_t i = 0; i < n; i++) {
		free(cells[i].path);
		free(cells[i].text);
	}
	free(cells);
}
