/* Lifetime reports (docs/FORMATS.md): the figures of a repository's life computed
 * from ledger entries alone, and their text, Markdown and CSV renderings.
 * The rules (what is counted once, how a period and a lineage select, how
 * forecasts pair with actuals) are in docs/FORMATS.md "Reports" and
 * docs/METHOD.md "Reports"; `resque audit report` re-runs this very code
 * on the entries a report embeds, so every rule here is part of the proof. */
#include "common.h"
#include "resque/carbon.h"
#include "actual.h"
#include "json.h"
#include "report.h"

#include <math.h>

static const char *const outcomes[] = { "epochs", "energy_kwh", "carbon_kg", "duration_s" };
#define NOUT RQ_ARRAY_SIZE(outcomes)
static const char *const methods[] = { "measured", "estimated", "imported", "declared" };
#define NMETH RQ_ARRAY_SIZE(methods)

/* A figure: a finite number >= 0, else NaN (absent, null, a string, ...). */
static double fig(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	double d = json_is_number(v) ? json_number_value(v) : NAN;
	return isfinite(d) && d >= 0 ? d : NAN;
}

/* A forecast figure may be a number or {"mean", ...}: its mean. */
static double mean_of(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	if (json_is_object(v))
		return fig(v, "mean");
	return fig(obj, key);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

struct sums {
	double energy, carbon;
	json_int_t count;
};

static void sums_add(struct sums *s, double energy, double carbon)
{
	if (!isnan(energy))
		s->energy += energy;
	if (!isnan(carbon))
		s->carbon += carbon;
	s->count++;
}

static json_t *sums_json(const struct sums *s)
{
	return json_pack("{s:o, s:o, s:I}", "energy_kwh", rq_json_number(s->energy), "carbon_kg",
			 rq_json_number(s->carbon), "count", s->count);
}

struct year {
	int year;
	struct sums s;
};

struct ctx {
	rq_entry *const *e;
	size_t n;
	const rq_report_params *p;
	int64_t since, until;
	json_t *pos;          /* entry id -> position */
	int64_t *t;           /* entry times, Unix seconds */
	bool *in_lineage;     /* per position: selected by --lineage (all when none) */
	ptrdiff_t *newest;    /* plan position -> its newest linked actual's position, or -1 */
	ptrdiff_t *link_of;   /* actual position -> the later actual linking it to a plan
			       * (`record --plan P --actual A`), or -1 */
	struct sums total, by_method[NMETH];
	json_int_t missing_energy, missing_carbon;
	struct year *years;
	size_t nyears, ayears;
	json_t *grid;         /* "region|intensity|pue" -> {region, intensity, pue, used_by} */
};

static ptrdiff_t position(const struct ctx *c, const char *id)
{
	json_t *v = id ? json_object_get(c->pos, id) : NULL;
	return v ? (ptrdiff_t)json_integer_value(v) : -1;
}

static bool is_type(const struct ctx *c, ptrdiff_t i, const char *type)
{
	return i >= 0 && strcmp(c->e[i]->type, type) == 0;
}

/* The earlier actual that actual `i` links to a plan (its body.linked_from),
 * or -1: the link copies that actual's figures, which count once, there. */
static ptrdiff_t linked_from(const struct ctx *c, size_t i)
{
	ptrdiff_t a = position(c, rq_json_str(c->e[i]->body, "linked_from", NULL));
	return is_type(c, a, "actual") && (size_t)a < i ? a : -1;
}

static bool in_period(const struct ctx *c, size_t i)
{
	return c->t[i] >= c->since && c->t[i] <= c->until;
}

static int year_of(const rq_entry *e)
{
	return (e->time[0] - '0') * 1000 + (e->time[1] - '0') * 100 + (e->time[2] - '0') * 10 + (e->time[3] - '0');
}

/* Record the grid context of a figure (an actual, a cost, a plan). */
static void grid_use(struct ctx *c, const json_t *obj)
{
	const char *region = rq_json_str(obj, "region", NULL);
	double intensity = fig(obj, "intensity_g_per_kwh"), pue = fig(obj, "pue");
	char a[32] = "null", b[32] = "null";
	rq_buf key = RQ_BUF_INIT;
	json_t *g;

	if (!region && isnan(intensity))
		return;
	if (!isnan(intensity))
		rq_json_format_double(a, intensity);
	if (!isnan(pue))
		rq_json_format_double(b, pue);
	rq_buf_printf(&key, "%s\x1f%s\x1f%s", region ? region : "", a, b);
	g = json_object_get(c->grid, key.ptr);
	if (!g) {
		g = json_pack("{s:o, s:o, s:o, s:I}", "region", str_or_null(region), "intensity_g_per_kwh",
			      rq_json_number(intensity), "pue", rq_json_number(pue), "used_by", (json_int_t)0);
		json_object_set_new(c->grid, key.ptr, g);
	}
	json_object_set_new(g, "used_by", json_integer(json_integer_value(json_object_get(g, "used_by")) + 1));
	rq_buf_release(&key);
}

/* Count one cost (energy, carbon) under `method` at entry `i`. */
static void count_cost(struct ctx *c, size_t i, const char *method, double energy, double carbon,
		       const json_t *ctxobj)
{
	size_t m = NMETH - 1;
	int y = year_of(c->e[i]);
	size_t k;

	for (k = 0; k < NMETH; k++)
		if (strcmp(methods[k], method) == 0)
			m = k;
	sums_add(&c->total, energy, carbon);
	sums_add(&c->by_method[m], energy, carbon);
	if (isnan(energy))
		c->missing_energy++;
	else if (isnan(carbon))
		c->missing_carbon++;
	for (k = 0; k < c->nyears && c->years[k].year != y; k++)
		;
	if (k == c->nyears) {
		RQ_ALLOC_GROW(c->years, c->nyears + 1, c->ayears);
		memset(&c->years[k], 0, sizeof(c->years[k]));
		c->years[k].year = y;
		c->nyears++;
	}
	sums_add(&c->years[k].s, energy, carbon);
	grid_use(c, ctxobj);
}

/* The actual a version's cost was taken from ("actual:ID"), or -1. */
static ptrdiff_t cost_source_actual(const struct ctx *c, const json_t *cost)
{
	const char *src = rq_json_str(cost, "source", "");
	ptrdiff_t a;

	if (strncmp(src, "actual:", 7) != 0)
		return -1;
	a = position(c, src + 7);
	return is_type(c, a, "actual") ? a : -1;
}

static int parse_params(struct ctx *c)
{
	const rq_report_params *p = c->p;
	int err = 0;

	c->since = INT64_MIN;
	c->until = INT64_MAX;
	if (p->since && (err = rq_time_parse(&c->since, p->since)))
		return rq_error_prefix(err, "--since: ");
	if (p->until) {
		if ((err = rq_time_parse(&c->until, p->until)))
			return rq_error_prefix(err, "--until: ");
		if (strlen(p->until) == 10) /* a bare date: through the end of that day */
			c->until += 86399;
	}
	if (c->since > c->until)
		return rq_error_set(RQ_EINVALID, "the period is empty: --since %s is after --until %s", p->since,
				    p->until);
	return 0;
}

/* Lineage: every version sharing the given version's first ancestor (as
 * rq_history_gather draws it), the plans from them, the actuals of those
 * plans and the actuals their costs came from. */
static int select_lineage(struct ctx *c)
{
	size_t n = c->n;
	ptrdiff_t *root = NULL, base;
	int err = 0;

	for (size_t i = 0; i < n; i++)
		c->in_lineage[i] = c->p->lineage == NULL;
	if (!c->p->lineage)
		return 0;
	base = position(c, c->p->lineage);
	if (!is_type(c, base, "version"))
		return rq_error_set(RQ_EINVALID, "--lineage %s is not a version among the report's entries",
				    c->p->lineage);
	root = rq_xcalloc(n, sizeof(*root));
	for (size_t i = 0; i < n; i++) {
		ptrdiff_t par;
		root[i] = (ptrdiff_t)i;
		if (strcmp(c->e[i]->type, "version") != 0)
			continue;
		par = position(c, rq_json_str(c->e[i]->body, "parent", NULL));
		if (par >= 0 && (size_t)par < i && is_type(c, par, "version"))
			root[i] = root[par];
	}
	for (size_t i = 0; i < n; i++) {
		const rq_entry *e = c->e[i];
		if (strcmp(e->type, "version") == 0 && root[i] == root[base]) {
			ptrdiff_t a = cost_source_actual(c, json_object_get(e->body, "cost"));
			c->in_lineage[i] = true;
			if (a >= 0)
				c->in_lineage[a] = true;
		} else if (strcmp(e->type, "plan") == 0) {
			ptrdiff_t from = position(c, rq_json_str(e->body, "from", NULL));
			c->in_lineage[i] = from >= 0 && c->in_lineage[from] && is_type(c, from, "version");
		} else if (strcmp(e->type, "actual") == 0) {
			ptrdiff_t plan = position(c, rq_json_str(e->body, "plan", NULL));
			if (is_type(c, plan, "plan") && (size_t)plan < i && c->in_lineage[plan]) {
				c->in_lineage[i] = true;
				if (linked_from(c, i) >= 0)
					c->in_lineage[linked_from(c, i)] = true;
			}
		}
	}
	free(root);
	return err;
}

/* The figure errors are measured from: the median when the plan records
 * one (plans since issue 14), else the mean (docs/METHOD.md "Reports"). */
static double point_forecast(const json_t *q)
{
	double m = fig(q, "p50");
	return isnan(m) ? fig(q, "mean") : m;
}

static json_t *quantiles(const json_t *q)
{
	static const char *const keys[] = { "mean", "p50", "p10", "p90", "p2_5", "p97_5" };
	json_t *o;

	if (!json_is_object(q))
		return json_null();
	o = json_object();
	for (size_t k = 0; k < RQ_ARRAY_SIZE(keys); k++)
		json_object_set_new(o, keys[k], rq_json_number(fig(q, keys[k])));
	return o;
}

static json_t *version_json(struct ctx *c, size_t i, double *cum_e, double *cum_c, bool *cum_ok)
{
	const rq_entry *e = c->e[i];
	const json_t *cost = json_object_get(e->body, "cost");
	ptrdiff_t par = position(c, rq_json_str(e->body, "parent", NULL));
	double en = fig(cost, "energy_kwh"), co = fig(cost, "carbon_kg");
	const char *counted = "none";
	json_t *v, *cj = json_null();

	/* Cumulative along the ancestors, whatever the period. */
	if (par >= 0 && (size_t)par < i && is_type(c, par, "version")) {
		cum_e[i] = cum_e[par];
		cum_c[i] = cum_c[par];
		cum_ok[i] = cum_ok[par];
	} else {
		cum_e[i] = cum_c[i] = 0;
		cum_ok[i] = true;
	}
	if (json_is_object(cost)) {
		counted = cost_source_actual(c, cost) >= 0 ? "actual" : "declared";
		cj = json_object();
		json_object_set_new(cj, "epochs", rq_json_number(fig(cost, "epochs")));
		json_object_set_new(cj, "energy_kwh", rq_json_number(en));
		json_object_set_new(cj, "carbon_kg", rq_json_number(co));
		json_object_set_new(cj, "duration_s", rq_json_number(fig(cost, "duration_s")));
		json_object_set_new(cj, "method", str_or_null(rq_json_str(cost, "method", NULL)));
		json_object_set_new(cj, "source", str_or_null(rq_json_str(cost, "source", NULL)));
	}
	if (isnan(en) || isnan(co))
		cum_ok[i] = false;
	if (!isnan(en))
		cum_e[i] += en;
	if (!isnan(co))
		cum_c[i] += co;
	v = json_object();
	json_object_set_new(v, "id", json_string(e->id));
	json_object_set_new(v, "seq", json_integer((json_int_t)e->seq));
	json_object_set_new(v, "time", json_string(e->time));
	json_object_set_new(v, "name", str_or_null(rq_json_str(e->body, "name", NULL)));
	json_object_set_new(v, "parent", par >= 0 ? str_or_null(rq_json_str(c->e[par]->body, "name", NULL))
						  : json_null());
	json_object_set_new(v, "parent_id", str_or_null(rq_json_str(e->body, "parent", NULL)));
	json_object_set_new(v, "cost", cj);
	json_object_set_new(v, "counted", json_string(counted));
	json_object_set_new(v, "cumulative", json_pack("{s:o, s:o, s:b}", "energy_kwh", rq_json_number(cum_e[i]),
						       "carbon_kg", rq_json_number(cum_c[i]), "complete", cum_ok[i]));
	return v;
}

/* The actual's `target`: "reached", "missed", or null when it says
 * neither (then taken as reached). */
static json_t *target_json(const json_t *body)
{
	const char *t = rq_json_str(body, "target", NULL);
	if (t && (!strcmp(t, "reached") || !strcmp(t, "missed")))
		return json_string(t);
	return json_null();
}

static json_t *actual_json(const rq_entry *a)
{
	const json_t *b = a->body;
	json_t *o = json_object();

	json_object_set_new(o, "id", json_string(a->id));
	json_object_set_new(o, "seq", json_integer((json_int_t)a->seq));
	json_object_set_new(o, "time", json_string(a->time));
	for (size_t k = 0; k < NOUT; k++)
		json_object_set_new(o, outcomes[k], rq_json_number(fig(b, outcomes[k])));
	json_object_set_new(o, "method", str_or_null(rq_json_str(b, "method", NULL)));
	json_object_set_new(o, "status", str_or_null(rq_json_str(b, "status", NULL)));
	json_object_set_new(o, "target", target_json(b));
	return o;
}

/* Whether `a` lies in [lo, hi]; null when the interval is not known. */
static json_t *inside(double a, const json_t *q, const char *lo, const char *hi)
{
	double l = fig(q, lo), h = fig(q, hi);
	if (isnan(a) || isnan(l) || isnan(h))
		return json_null();
	return json_boolean(a >= l && a <= h);
}

struct quality {
	double *ape;
	size_t n, n_ape, cap;
	size_t n80, in80, n95, in95;
	size_t missed; /* pairs left out: the actual missed its target */
};

static void quality_add(struct quality *q, double a, double m, const json_t *err)
{
	json_t *i80 = json_object_get(err, "inside_p80"), *i95 = json_object_get(err, "inside_p95");

	q->n++;
	if (a > 0) {
		RQ_ALLOC_GROW(q->ape, q->n_ape + 1, q->cap);
		q->ape[q->n_ape++] = 100 * fabs(a - m) / a;
	}
	if (json_is_boolean(i80)) {
		q->n80++;
		q->in80 += json_is_true(i80);
	}
	if (json_is_boolean(i95)) {
		q->n95++;
		q->in95 += json_is_true(i95);
	}
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

static json_t *quality_json(struct quality *q)
{
	double med = NAN;

	if (q->n_ape) {
		qsort(q->ape, q->n_ape, sizeof(double), cmp_double);
		med = q->n_ape % 2 ? q->ape[q->n_ape / 2] : (q->ape[q->n_ape / 2 - 1] + q->ape[q->n_ape / 2]) / 2;
	}
	return json_pack("{s:I, s:I, s:I, s:I, s:o, s:I, s:o, s:I, s:o}", "n", (json_int_t)q->n, "n_ape",
			 (json_int_t)q->n_ape, "zero_actual", (json_int_t)(q->n - q->n_ape), "target_missed",
			 (json_int_t)q->missed, "median_ape", rq_json_number(med),
			 "n_p80", (json_int_t)q->n80, "inside_p80", q->n80 ? json_real((double)q->in80 / (double)q->n80) : json_null(),
			 "n_p95", (json_int_t)q->n95, "inside_p95",
			 q->n95 ? json_real((double)q->in95 / (double)q->n95) : json_null());
}

/* The errors of a forecast `fc` against the actual `act`, per outcome,
 * added to the quality figures; an actual that missed its target is a
 * lower bound, not an observation: its errors are shown, but only counted
 * in `missed` (docs/METHOD.md "Reports"). */
static json_t *errors_json(const json_t *fc, const json_t *act, struct quality *qual)
{
	json_t *err = json_object();
	bool missed = rq_actual_target_missed(act);

	for (size_t k = 0; k < NOUT; k++) {
		const json_t *q = json_object_get(fc, outcomes[k]);
		double a = fig(act, outcomes[k]), m = point_forecast(q);
		json_t *ek;
		if (isnan(a) || isnan(m)) {
			json_object_set_new(err, outcomes[k], json_null());
			continue;
		}
		ek = json_pack("{s:o, s:o, s:o, s:o}", "diff", rq_json_number(a - m), "ape",
			       a > 0 ? rq_json_number(100 * fabs(a - m) / a) : json_null(), "inside_p80",
			       inside(a, q, "p10", "p90"), "inside_p95", inside(a, q, "p2_5", "p97_5"));
		if (missed)
			qual[k].missed++;
		else
			quality_add(&qual[k], a, m, ek);
		json_object_set_new(err, outcomes[k], ek);
	}
	return err;
}

/* One update: plan `pi` (or -1) with actual `ai` (or -1). */
static json_t *update_json(struct ctx *c, ptrdiff_t pi, ptrdiff_t ai, bool superseded, struct quality *qual,
			   struct sums *saved_e, struct sums *saved_c)
{
	const json_t *plan = pi >= 0 ? c->e[pi]->body : NULL, *act = ai >= 0 ? c->e[ai]->body : NULL;
	const json_t *fc = json_object_get(plan, "forecast"), *sc = json_object_get(plan, "scratch");
	json_t *u = json_object(), *f = json_null(), *err = json_null(), *scratch = json_null(), *saved = json_null();
	const char *fam;

	json_object_set_new(u, "plan", pi >= 0 ? json_string(c->e[pi]->id) : json_null());
	/* the actual's id also at the top, for scripts that read the issue's
	 * sketch `"plan": ID, "actual": ID` (the "actual" object holds it too) */
	json_object_set_new(u, "actual_id", ai >= 0 ? json_string(c->e[ai]->id) : json_null());
	json_object_set_new(u, "time", pi >= 0 ? json_string(c->e[pi]->time) : json_null());
	json_object_set_new(u, "from", str_or_null(rq_json_str(plan, "from", NULL)));
	json_object_set_new(u, "from_name", str_or_null(rq_json_str(plan, "from_name", NULL)));
	json_object_set_new(u, "kind", str_or_null(rq_json_str(plan, "kind", NULL)));
	fam = rq_json_str(plan, "shift_family", NULL);
	json_object_set_new(u, "shift_family", str_or_null(fam ? fam : rq_json_str(act, "shift_family", NULL)));
	json_object_set_new(u, "index", rq_json_number(plan ? rq_json_num(plan, "index", NAN) : NAN));
	json_object_set_new(u, "superseded", json_boolean(superseded));
	if (pi >= 0 && !superseded) {
		f = json_object();
		for (size_t k = 0; k < NOUT; k++)
			json_object_set_new(f, outcomes[k], quantiles(json_object_get(fc, outcomes[k])));
		if (json_is_object(sc)) {
			scratch = json_object();
			for (size_t k = 0; k < NOUT; k++)
				json_object_set_new(scratch, outcomes[k], rq_json_number(mean_of(sc, outcomes[k])));
		}
	}
	json_object_set_new(u, "forecast", f);
	json_object_set_new(u, "actual", ai >= 0 ? actual_json(c->e[ai]) : json_null());
	json_object_set_new(u, "target_missed", json_boolean(ai >= 0 && rq_actual_target_missed(act)));
	if (pi >= 0 && ai >= 0 && !superseded) {
		err = errors_json(fc, act, qual);
		if (json_is_object(sc)) {
			double se = mean_of(sc, "energy_kwh") - fig(act, "energy_kwh");
			double scb = mean_of(sc, "carbon_kg") - fig(act, "carbon_kg");
			saved = json_pack("{s:o, s:o}", "energy_kwh", rq_json_number(se), "carbon_kg", rq_json_number(scb));
			if (!isnan(se)) {
				saved_e->energy += se;
				saved_e->count++;
			}
			if (!isnan(scb)) {
				saved_c->carbon += scb;
				saved_c->count++;
			}
		}
	}
	json_object_set_new(u, "error", err);
	{
		json_t *e80 = json_object_get(json_object_get(err, "energy_kwh"), "inside_p80");
		json_object_set_new(u, "inside_p80", e80 ? json_incref(e80) : json_null());
	}
	json_object_set_new(u, "scratch", scratch);
	json_object_set_new(u, "saved", saved);
	return u;
}

static int cmp_years(const void *x, const void *y)
{
	const struct year *a = x, *b = y;
	return (a->year > b->year) - (a->year < b->year);
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static json_t *grid_json(struct ctx *c)
{
	size_t n = json_object_size(c->grid), k = 0;
	const char **keys = rq_xcalloc(n + 1, sizeof(*keys));
	const char *key;
	json_t *g, *out = json_array();

	json_object_foreach(c->grid, key, g)
		keys[k++] = key;
	qsort(keys, n, sizeof(*keys), cmp_str);
	for (k = 0; k < n; k++) {
		const rq_region *r = NULL;
		g = json_object_get(c->grid, keys[k]);
		const char *code = json_string_value(json_object_get(g, "region"));
		double in = json_number_value(json_object_get(g, "intensity_g_per_kwh"));
		json_t *o = json_deep_copy(g);
		if (code && rq_carbon_lookup(&r, code) != 0)
			r = NULL;
		rq_error_clear();
		/* The table's source only when the figure is the table's. */
		if (r && json_is_number(json_object_get(g, "intensity_g_per_kwh")) && fabs(in - r->g_per_kwh) <= 1e-9 * fmax(1, in)) {
			json_object_set_new(o, "name", json_string(r->name));
			json_object_set_new(o, "source", json_string(r->source));
			json_object_set_new(o, "year", r->year ? json_integer(r->year) : json_null());
		} else {
			json_object_set_new(o, "name", r ? json_string(r->name) : json_null());
			json_object_set_new(o, "source", json_string(json_is_number(json_object_get(g, "intensity_g_per_kwh"))
								 ? "as recorded" : "not recorded"));
			json_object_set_new(o, "year", json_null());
		}
		json_array_append_new(out, o);
	}
	free(keys);
	return out;
}

/* What the walk over the entries gathers besides the context's sums. */
struct figures {
	json_t *versions, *updates;
	struct quality qual[NOUT];
	struct sums saved_e, saved_c;
	double *cum_e, *cum_c; /* per position: cumulative cost of a version's line */
	bool *cum_ok;
};

static void ctx_init(struct ctx *c, struct figures *f, rq_entry *const *entries, size_t n, const rq_report_params *p)
{
	static const rq_report_params none = { NULL, NULL, NULL };

	memset(c, 0, sizeof(*c));
	memset(f, 0, sizeof(*f));
	c->e = entries;
	c->n = n;
	c->p = p ? p : &none;
	c->pos = json_object();
	c->grid = json_object();
	c->t = rq_xcalloc(n + 1, sizeof(*c->t));
	c->in_lineage = rq_xcalloc(n + 1, sizeof(*c->in_lineage));
	c->newest = rq_xcalloc(n + 1, sizeof(*c->newest));
	c->link_of = rq_xcalloc(n + 1, sizeof(*c->link_of));
	f->cum_e = rq_xcalloc(n + 1, sizeof(double));
	f->cum_c = rq_xcalloc(n + 1, sizeof(double));
	f->cum_ok = rq_xcalloc(n + 1, sizeof(bool));
	f->versions = json_array();
	f->updates = json_array();
}

static void ctx_release(struct ctx *c, struct figures *f)
{
	json_decref(f->versions);
	json_decref(f->updates);
	for (size_t k = 0; k < NOUT; k++)
		free(f->qual[k].ape);
	free(f->cum_e);
	free(f->cum_c);
	free(f->cum_ok);
	json_decref(c->pos);
	json_decref(c->grid);
	free(c->t);
	free(c->in_lineage);
	free(c->newest);
	free(c->link_of);
	free(c->years);
}

/* Times and positions of the entries; the repository named by the genesis. */
static int index_entries(struct ctx *c, const char **repo)
{
	int err;

	*repo = NULL;
	for (size_t i = 0; i < c->n; i++) {
		const rq_entry *e = c->e[i];
		if ((err = rq_time_parse(&c->t[i], e->time)))
			return rq_error_prefix(err, "entry %zu: ", i);
		json_object_set_new(c->pos, e->id, json_integer((json_int_t)i));
		c->newest[i] = c->link_of[i] = -1;
		if (i == 0 && strcmp(e->type, "init") == 0)
			*repo = rq_json_str(e->body, "repository", NULL);
	}
	return 0;
}

/* Link actuals to plans: the newest wins; and the actuals linked after
 * the fact to the links that did it. */
static void link_actuals(struct ctx *c)
{
	for (size_t i = 0; i < c->n; i++) {
		const rq_entry *e = c->e[i];
		if (strcmp(e->type, "actual") == 0) {
			ptrdiff_t pl = position(c, rq_json_str(e->body, "plan", NULL)), a = linked_from(c, i);
			if (is_type(c, pl, "plan") && (size_t)pl < i)
				c->newest[pl] = (ptrdiff_t)i;
			if (a >= 0 && c->link_of[a] < 0)
				c->link_of[a] = (ptrdiff_t)i;
		}
	}
}

static void add_version(struct ctx *c, struct figures *f, size_t i)
{
	const rq_entry *e = c->e[i];
	json_t *v = version_json(c, i, f->cum_e, f->cum_c, f->cum_ok);
	const json_t *cost = json_object_get(e->body, "cost");

	if (!c->in_lineage[i] || !in_period(c, i)) {
		json_decref(v);
		return;
	}
	json_array_append_new(f->versions, v);
	/* A cost taken from an actual is that actual's, counted there. */
	if (json_is_object(cost) && cost_source_actual(c, cost) < 0)
		count_cost(c, i, "declared", fig(cost, "energy_kwh"), fig(cost, "carbon_kg"), cost);
}

static void add_plan(struct ctx *c, struct figures *f, size_t i)
{
	ptrdiff_t a = c->newest[i];

	if (!c->in_lineage[i])
		return;
	/* An update is dated by its actual, else by its plan. */
	if (in_period(c, a >= 0 ? (size_t)a : i))
		json_array_append_new(f->updates, update_json(c, (ptrdiff_t)i, a, false, f->qual, &f->saved_e,
								&f->saved_c));
	grid_use(c, c->e[i]->body);
}

static void add_actual(struct ctx *c, struct figures *f, size_t i)
{
	const rq_entry *e = c->e[i];
	ptrdiff_t pl = position(c, rq_json_str(e->body, "plan", NULL));
	const char *method = rq_json_str(e->body, "method", "imported");

	if (!c->in_lineage[i] || !in_period(c, i))
		return;
	if (strcmp(method, "measured") != 0 && strcmp(method, "estimated") != 0)
		method = "imported";
	/* A link's figures are those of the actual it links, counted there. */
	if (linked_from(c, i) < 0)
		count_cost(c, i, method, fig(e->body, "energy_kwh"), fig(e->body, "carbon_kg"), e->body);
	if (c->link_of[i] >= 0 && (!is_type(c, pl, "plan") || (size_t)pl > i))
		return; /* shown as its plan's update, through the link */
	if (!is_type(c, pl, "plan") || (size_t)pl > i)
		json_array_append_new(f->updates, update_json(c, -1, (ptrdiff_t)i, false, f->qual, &f->saved_e,
								&f->saved_c));
	else if (c->newest[pl] != (ptrdiff_t)i)
		json_array_append_new(f->updates, update_json(c, pl, (ptrdiff_t)i, true, f->qual, &f->saved_e,
								&f->saved_c));
}

static json_t *years_json(struct ctx *c)
{
	json_t *years = json_array();

	if (c->nyears)
		qsort(c->years, c->nyears, sizeof(*c->years), cmp_years);
	for (size_t k = 0; k < c->nyears; k++) {
		json_t *y = json_pack("{s:i}", "year", c->years[k].year), *s = sums_json(&c->years[k].s);
		json_object_update(y, s);
		json_decref(s);
		json_array_append_new(years, y);
	}
	return years;
}

static json_t *totals_json(const struct ctx *c)
{
	json_t *tot = sums_json(&c->total), *bym = json_object();

	for (size_t k = 0; k < NMETH; k++)
		json_object_set_new(bym, methods[k], sums_json(&c->by_method[k]));
	json_object_set_new(tot, "missing_energy", json_integer(c->missing_energy));
	json_object_set_new(tot, "missing_carbon", json_integer(c->missing_carbon));
	json_object_set_new(tot, "by_method", bym);
	return tot;
}

/* The report object, its fields in the order docs/FORMATS.md gives. */
static json_t *report_json(struct ctx *c, struct figures *f, const char *repo)
{
	json_t *r = json_object(), *fq = json_object();

	for (size_t k = 0; k < NOUT; k++)
		json_object_set_new(fq, outcomes[k], quality_json(&f->qual[k]));
	json_object_set_new(r, "repository", str_or_null(repo));
	json_object_set_new(r, "period", json_pack("{s:o, s:o}", "since", str_or_null(c->p->since), "until",
						   str_or_null(c->p->until)));
	json_object_set_new(r, "lineage", str_or_null(c->p->lineage));
	json_object_set_new(r, "entries", json_integer((json_int_t)c->n));
	json_object_set_new(r, "totals", totals_json(c));
	json_object_set_new(r, "years", years_json(c));
	json_object_set_new(r, "versions", f->versions);
	json_object_set_new(r, "updates", f->updates);
	f->versions = f->updates = NULL;
	json_object_set_new(r, "forecast_quality", fq);
	json_object_set_new(r, "saved_by_reuse", json_pack("{s:o, s:o, s:I, s:I}",
							    "energy_kwh", rq_json_number(f->saved_e.energy),
							    "carbon_kg", rq_json_number(f->saved_c.carbon), "updates",
							    f->saved_e.count, "updates_carbon", f->saved_c.count));
	json_object_set_new(r, "grid", grid_json(c));
	return r;
}

int rq_report_compute(json_t **out, rq_entry *const *entries, size_t n, const rq_report_params *p)
{
	struct ctx c;
	struct figures f;
	const char *repo = NULL;
	int err;

	*out = NULL;
	ctx_init(&c, &f, entries, n, p);
	if ((err = parse_params(&c)) || (err = index_entries(&c, &repo)) || (err = select_lineage(&c)))
		goto done;
	link_actuals(&c);
	for (size_t i = 0; i < n; i++) {
		const char *type = entries[i]->type;
		if (strcmp(type, "version") == 0)
			add_version(&c, &f, i);
		else if (strcmp(type, "plan") == 0)
			add_plan(&c, &f, i);
		else if (strcmp(type, "actual") == 0)
			add_actual(&c, &f, i);
	}
	*out = report_json(&c, &f, repo);
done:
	ctx_release(&c, &f);
	return err;
}

/* ---- renderings ---- */

void rq_report_format_value(rq_buf *out, const json_t *v)
{
	char b[40];

	if (!v) {
		rq_buf_puts(out, "—");
		return;
	}
	switch (json_typeof(v)) {
	case JSON_INTEGER:
		rq_buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL: {
		/* A whole number shows in full, as an integer does: the JSON
		 * form writes 14400.0 as 14400, which reads back as an integer,
		 * and both must show alike (an auditor re-renders from it). */
		double d = json_real_value(v);
		if (d == floor(d) && fabs(d) < 1e15)
			snprintf(b, sizeof(b), "%.0f", d == 0 ? 0.0 : d); /* no "-0" */
		else
			snprintf(b, sizeof(b), "%.4g", d);
		rq_buf_puts(out, b);
		break;
	}
	case JSON_STRING:
		rq_buf_put(out, json_string_value(v), json_string_length(v));
		break;
	case JSON_TRUE:
		rq_buf_puts(out, "yes");
		break;
	case JSON_FALSE:
		rq_buf_puts(out, "no");
		break;
	default: /* null, absent, objects and arrays are no single figure */
		rq_buf_puts(out, "—");
		break;
	}
}

const json_t *rq_report_at(const json_t *j, const char *path)
{
	char key[64];

	while (j && *path) {
		size_t len = strcspn(path, ".");
		if (len >= sizeof(key))
			return NULL;
		memcpy(key, path, len);
		key[len] = '\0';
		if (json_is_array(j)) {
			char *end;
			unsigned long i = strtoul(key, &end, 10);
			j = *end || key[0] < '0' || key[0] > '9' ? NULL : json_array_get(j, i);
		} else {
			j = json_object_get(j, key);
		}
		path += len + (path[len] == '.');
	}
	return j;
}

#define at rq_report_at

static void put_value(rq_buf *out, const json_t *j, const char *path)
{
	rq_report_format_value(out, at(j, path));
}

/* A table as rows of cells; rendered aligned (text) or as Markdown. */
struct table {
	char **cell;   /* nrows x ncols, row-major; room for `alloc` cells */
	size_t ncols, nrows, alloc;
	bool *right; /* right-aligned columns (numbers) */
};

static void table_init(struct table *t, size_t ncols, const char *const *head)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->right = rq_xcalloc(ncols, sizeof(bool));
	t->cell = rq_xcalloc(ncols, sizeof(char *));
	t->alloc = ncols;
	for (size_t k = 0; k < ncols; k++)
		t->cell[k] = rq_xstrdup(head[k]);
	t->nrows = 1;
}

/* Append a row; cells are given as "path" into `row` (a leading '=' gives
 * a literal text instead). */
static void table_row(struct table *t, const json_t *row, const char *const *paths)
{
	RQ_ALLOC_GROW(t->cell, (t->nrows + 1) * t->ncols, t->alloc);
	for (size_t k = 0; k < t->ncols; k++) {
		rq_buf b = RQ_BUF_INIT;
		if (paths[k][0] == '=')
			rq_buf_puts(&b, paths[k] + 1);
		else
			put_value(&b, row, paths[k]);
		t->cell[t->nrows * t->ncols + k] = rq_buf_detach(&b, NULL);
	}
	t->nrows++;
}

static void table_release(struct table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cell[i]);
	free(t->cell);
	free(t->right);
}

static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80; /* UTF-8 lead bytes */
	return w;
}

static void pad(rq_buf *out, size_t n)
{
	while (n--)
		rq_buf_putc(out, ' ');
}

static void table_text(rq_buf *out, const struct table *t)
{
	size_t *w = rq_xcalloc(t->ncols, sizeof(size_t));

	for (size_t i = 0; i < t->nrows; i++)
		for (size_t k = 0; k < t->ncols; k++)
			if (width(t->cell[i * t->ncols + k]) > w[k])
				w[k] = width(t->cell[i * t->ncols + k]);
	for (size_t i = 0; i < t->nrows; i++) {
		size_t start = out->len;
		rq_buf_puts(out, "  ");
		for (size_t k = 0; k < t->ncols; k++) {
			const char *c = t->cell[i * t->ncols + k];
			size_t gap = w[k] - width(c);
			if (k)
				rq_buf_puts(out, "  ");
			if (t->right[k] && i)
				pad(out, gap);
			rq_buf_puts(out, c);
			if (!(t->right[k] && i))
				pad(out, gap);
		}
		while (out->len > start && out->ptr[out->len - 1] == ' ')
			rq_buf_truncate(out, out->len - 1);
		rq_buf_putc(out, '\n');
	}
	free(w);
}

static void md_cell(rq_buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			rq_buf_putc(out, '\\');
		rq_buf_putc(out, *s == '\n' ? ' ' : *s);
	}
}

static void table_md(rq_buf *out, const struct table *t)
{
	for (size_t i = 0; i < t->nrows; i++) {
		rq_buf_putc(out, '|');
		for (size_t k = 0; k < t->ncols; k++) {
			rq_buf_putc(out, ' ');
			md_cell(out, t->cell[i * t->ncols + k]);
			rq_buf_puts(out, " |");
		}
		rq_buf_putc(out, '\n');
		if (i == 0) {
			rq_buf_putc(out, '|');
			for (size_t k = 0; k < t->ncols; k++)
				rq_buf_puts(out, t->right[k] ? " ---: |" : " --- |");
			rq_buf_putc(out, '\n');
		}
	}
}

static void right_from(struct table *t, size_t k)
{
	for (; k < t->ncols; k++)
		t->right[k] = true;
}

static void render_section(rq_buf *out, bool md, const char *title, const struct table *t, const char *empty)
{
	if (md)
		rq_buf_printf(out, "\n## %s\n\n", title);
	else
		rq_buf_printf(out, "\n%s\n", title);
	if (t->nrows <= 1) {
		rq_buf_printf(out, "%s%s\n", md ? "" : "  ", empty);
		return;
	}
	if (md)
		table_md(out, t);
	else
		table_text(out, t);
}

/* Fill `t` with a row per element of `list`, render it and release it. */
static void render_rows(rq_buf *out, bool md, struct table *t, const json_t *list, const char *const *paths,
			const char *title, const char *empty)
{
	size_t i;
	const json_t *row;

	json_array_foreach(list, i, row)
		table_row(t, row, paths);
	render_section(out, md, title, t, empty);
	table_release(t);
}

static void render_header(rq_buf *out, const json_t *r, bool md)
{
	const json_t *ck = json_object_get(r, "checkpoint");
	const char *since = rq_json_str(json_object_get(r, "period"), "since", NULL);
	const char *until = rq_json_str(json_object_get(r, "period"), "until", NULL);
	const char *lin = rq_json_str(r, "lineage", NULL);

	if (md)
		rq_buf_printf(out, "# resque report: repository %s\n\n", rq_json_str(r, "repository", "?"));
	else
		rq_buf_printf(out, "resque report: repository %s\n", rq_json_str(r, "repository", "?"));
	rq_buf_printf(out, "%speriod: %s to %s", md ? "- " : "", since ? since : "the beginning", until ? until : "now");
	if (lin)
		rq_buf_printf(out, "; lineage of version %.12s", lin);
	rq_buf_putc(out, '\n');
	if (ck) {
		rq_buf_printf(out, "%scheckpoint: %" JSON_INTEGER_FORMAT " entries, root %s", md ? "- " : "",
			      rq_json_int(ck, "size", 0), rq_json_str(ck, "root", "?"));
		rq_buf_puts(out, json_is_string(json_object_get(ck, "note")) ? " (signed)\n" : " (unsigned: no signing key)\n");
	}
	if (json_object_get(r, "verified"))
		rq_buf_printf(out, "%sledger verified: %s\n", md ? "- " : "",
			      json_is_true(json_object_get(r, "verified")) ? "yes" : "NO: the ledger failed verification");
}

static void render_totals(rq_buf *out, const json_t *r, bool md)
{
	static const char *const head[] = { "obtained", "energy (kWh)", "carbon (kg CO2e)", "costs" };
	static const char *const total[] = { "=total", "energy_kwh", "carbon_kg", "count" };
	const json_t *tot = json_object_get(r, "totals");
	struct table t;

	table_init(&t, 4, head);
	right_from(&t, 1);
	for (size_t k = 0; k < NMETH; k++) {
		rq_buf p[3] = { RQ_BUF_INIT, RQ_BUF_INIT, RQ_BUF_INIT };
		const char *paths[4];
		char lit[24];
		snprintf(lit, sizeof(lit), "=%s", methods[k]);
		rq_buf_printf(&p[0], "by_method.%s.energy_kwh", methods[k]);
		rq_buf_printf(&p[1], "by_method.%s.carbon_kg", methods[k]);
		rq_buf_printf(&p[2], "by_method.%s.count", methods[k]);
		paths[0] = lit;
		paths[1] = p[0].ptr;
		paths[2] = p[1].ptr;
		paths[3] = p[2].ptr;
		table_row(&t, tot, paths);
		for (int q = 0; q < 3; q++)
			rq_buf_release(&p[q]);
	}
	table_row(&t, tot, total);
	render_section(out, md, "Totals", &t, "none");
	table_release(&t);
	if (rq_json_int(tot, "missing_energy", 0) || rq_json_int(tot, "missing_carbon", 0))
		rq_buf_printf(out, "%s%" JSON_INTEGER_FORMAT " cost(s) without energy, %" JSON_INTEGER_FORMAT
			      " without carbon (not in the sums)\n", md ? "\n" : "  ",
			      rq_json_int(tot, "missing_energy", 0), rq_json_int(tot, "missing_carbon", 0));
}

static void render_years(rq_buf *out, const json_t *r, bool md)
{
	static const char *const head[] = { "year", "energy (kWh)", "carbon (kg CO2e)", "costs" };
	static const char *const paths[] = { "year", "energy_kwh", "carbon_kg", "count" };
	struct table t;

	table_init(&t, 4, head);
	right_from(&t, 1);
	render_rows(out, md, &t, json_object_get(r, "years"), paths, "By year", "no costs in the period");
}

static void render_versions(rq_buf *out, const json_t *r, bool md)
{
	static const char *const head[] = { "version", "time", "epochs", "energy (kWh)", "carbon (kg)",
					    "method", "counted", "cumulative kWh", "cumulative kg" };
	static const char *const paths[] = { "name", "time", "cost.epochs", "cost.energy_kwh", "cost.carbon_kg",
					     "cost.method", "counted", "cumulative.energy_kwh",
					     "cumulative.carbon_kg" };
	struct table t;

	table_init(&t, 9, head);
	right_from(&t, 2);
	t.right[5] = t.right[6] = false;
	render_rows(out, md, &t, json_object_get(r, "versions"), paths, "Versions", "no versions in the period");
}

/* "=[p10, p90]" of a forecast outcome. */
static void interval_cell(rq_buf *out, const json_t *row, const char *outcome)
{
	rq_buf path = RQ_BUF_INIT;

	rq_buf_puts(out, "=[");
	rq_buf_printf(&path, "forecast.%s.p10", outcome);
	put_value(out, row, path.ptr);
	rq_buf_puts(out, ", ");
	rq_buf_reset(&path);
	rq_buf_printf(&path, "forecast.%s.p90", outcome);
	put_value(out, row, path.ptr);
	rq_buf_puts(out, "]");
	rq_buf_release(&path);
}

static void update_row(struct table *t, const json_t *row)
{
	const char *plan = rq_json_str(row, "plan", NULL);
	const json_t *a = json_object_get(row, "actual");
	rq_buf c[4] = { RQ_BUF_INIT, RQ_BUF_INIT, RQ_BUF_INIT, RQ_BUF_INIT };
	const char *paths[13] = { NULL, "from_name", NULL, "forecast.epochs.mean", NULL, "actual.epochs",
				  "forecast.energy_kwh.mean", NULL, "actual.energy_kwh",
				  "error.energy_kwh.ape", "forecast.carbon_kg.mean", "actual.carbon_kg",
				  "inside_p80" };

	rq_buf_printf(&c[0], "=%.12s%s", plan ? plan : "(none)",
		      json_is_true(json_object_get(row, "superseded")) ? " (older run)" : "");
	rq_buf_printf(&c[1], "=%.12s%s", json_is_object(a) ? rq_json_str(a, "id", "?") : "(none)",
		      json_is_true(json_object_get(row, "target_missed")) ? " missed (lower bound)" : "");
	interval_cell(&c[2], row, "epochs");
	interval_cell(&c[3], row, "energy_kwh");
	paths[0] = c[0].ptr;
	paths[2] = c[1].ptr;
	paths[4] = c[2].ptr;
	paths[7] = c[3].ptr;
	table_row(t, row, paths);
	for (int q = 0; q < 4; q++)
		rq_buf_release(&c[q]);
}

static void render_updates(rq_buf *out, const json_t *r, bool md)
{
	static const char *const head[] = { "plan", "from", "actual", "epochs fc", "[p10, p90]", "epochs",
					    "energy fc", "[p10, p90]", "energy", "APE %", "carbon fc", "carbon",
					    "in 80 %" };
	struct table t;
	size_t i;
	const json_t *row;

	table_init(&t, 13, head);
	right_from(&t, 3);
	json_array_foreach(json_object_get(r, "updates"), i, row)
		update_row(&t, row);
	render_section(out, md, "Updates: forecast (fc) against actual", &t, "no updates in the period");
	table_release(&t);
}

static void render_quality(rq_buf *out, const json_t *r, bool md)
{
	static const char *const head[] = { "outcome", "pairs", "median APE %", "inside 80 %", "inside 95 %",
					    "actual 0 (no APE)", "missed target (left out)" };
	const json_t *fq = json_object_get(r, "forecast_quality");
	struct table t;

	table_init(&t, 7, head);
	right_from(&t, 1);
	for (size_t k = 0; k < NOUT; k++) {
		const char *paths[] = { NULL, "n", "median_ape", "inside_p80", "inside_p95", "zero_actual",
					"target_missed" };
		char lit[24];
		snprintf(lit, sizeof(lit), "=%s", outcomes[k]);
		paths[0] = lit;
		table_row(&t, json_object_get(fq, outcomes[k]), paths);
	}
	render_section(out, md, "Forecast quality", &t, "no forecast with an actual");
	table_release(&t);
}

static void render_saved(rq_buf *out, const json_t *r, bool md)
{
	const json_t *s = json_object_get(r, "saved_by_reuse");
	rq_buf e = RQ_BUF_INIT, c = RQ_BUF_INIT;

	put_value(&e, s, "energy_kwh");
	put_value(&c, s, "carbon_kg");
	rq_buf_printf(out, "\n%sSaved by reuse%s\n%s%s kWh and %s kg CO2e against training from scratch, over %"
		      JSON_INTEGER_FORMAT " update(s)\n", md ? "## " : "", md ? "\n" : "", md ? "" : "  ", e.ptr,
		      c.ptr, rq_json_int(s, "updates", 0));
	rq_buf_release(&e);
	rq_buf_release(&c);
}

static void render_grid(rq_buf *out, const json_t *r, bool md)
{
	static const char *const head[] = { "region", "g CO2e/kWh", "PUE", "source", "year", "used by" };
	static const char *const paths[] = { "region", "intensity_g_per_kwh", "pue", "source", "year", "used_by" };
	struct table t;

	table_init(&t, 6, head);
	t.right[1] = t.right[2] = t.right[5] = true;
	render_rows(out, md, &t, json_object_get(r, "grid"), paths, "Grid intensities and PUE", "none recorded");
}

static void render(rq_buf *out, const json_t *r, bool md)
{
	render_header(out, r, md);
	render_totals(out, r, md);
	render_years(out, r, md);
	render_versions(out, r, md);
	render_updates(out, r, md);
	render_quality(out, r, md);
	render_saved(out, r, md);
	render_grid(out, r, md);
}

int rq_report_text(rq_buf *out, const json_t *report)
{
	render(out, report, false);
	return 0;
}

int rq_report_markdown(rq_buf *out, const json_t *report)
{
	render(out, report, true);
	return 0;
}

/* CSV: one row per update, full precision (shortest round-trip numbers),
 * empty cells for null. Columns in docs/FORMATS.md "Reports". */
static const char *const csv_cols[] = {
	"plan", "time", "from", "from_name", "kind", "shift_family", "superseded",
	"actual.id", "actual.time", "actual.method", "actual.status",
	"forecast.epochs.mean", "forecast.epochs.p10", "forecast.epochs.p90", "actual.epochs",
	"forecast.energy_kwh.mean", "forecast.energy_kwh.p10", "forecast.energy_kwh.p90", "actual.energy_kwh",
	"forecast.carbon_kg.mean", "forecast.carbon_kg.p10", "forecast.carbon_kg.p90", "actual.carbon_kg",
	"forecast.duration_s.mean", "forecast.duration_s.p10", "forecast.duration_s.p90", "actual.duration_s",
	"error.epochs.ape", "error.energy_kwh.ape", "error.carbon_kg.ape", "error.duration_s.ape",
	"inside_p80", "scratch.energy_kwh", "scratch.carbon_kg", "saved.energy_kwh", "saved.carbon_kg",
	"target_missed",
};

static void csv_field(rq_buf *out, const json_t *v)
{
	char b[32];

	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		if (strpbrk(s, ",\"\r\n")) {
			rq_buf_putc(out, '"');
			for (; *s; s++) {
				if (*s == '"')
					rq_buf_putc(out, '"');
				rq_buf_putc(out, *s);
			}
			rq_buf_putc(out, '"');
		} else {
			rq_buf_puts(out, s);
		}
	} else if (json_is_integer(v)) {
		rq_buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else if (json_is_real(v)) {
		rq_json_format_double(b, json_real_value(v));
		rq_buf_puts(out, b);
	} else if (json_is_boolean(v)) {
		rq_buf_puts(out, json_is_true(v) ? "true" : "false");
	}
}

int rq_report_csv(rq_buf *out, const json_t *report)
{
	const json_t *row;
	size_t i;

	for (size_t k = 0; k < RQ_ARRAY_SIZE(csv_cols); k++) {
		if (k)
			rq_buf_putc(out, ',');
		for (const char *c = csv_cols[k]; *c; c++)
			rq_buf_putc(out, *c == '.' ? '_' : *c);
	}
	rq_buf_puts(out, "\r\n");
	json_array_foreach(json_object_get(report, "updates"), i, row) {
		for (size_t k = 0; k < RQ_ARRAY_SIZE(csv_cols); k++) {
			if (k)
				rq_buf_putc(out, ',');
			csv_field(out, at(row, csv_cols[k]));
		}
		rq_buf_puts(out, "\r\n");
	}
	return 0;
}
