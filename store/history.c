/* Gathering a forecast's calibration history from the ledger — a lineage's
 * past updates with plan and actual, STEP traces, E₀ — and the grid context. */
#include "common.h"
#include "actual.h"
#include "history.h"
#include "json.h"
#include "ledger_int.h"

#include <math.h>

/* What a history's strings and traces point into. */
struct rq_history_store {
	json_t *keep;     /* the entry bodies the strings are borrowed from */
	double *values;   /* the traces' per-epoch values */
	size_t n_values;
};

void rq_history_init(rq_history *h)
{
	memset(h, 0, sizeof(*h));
	h->scratch_epochs = NAN;
	h->root_name = "";
}

void rq_history_release(rq_history *h)
{
	free(h->points);
	free(h->traces);
	if (h->store) {
		free(h->store->values);
		json_decref(h->store->keep);
		free(h->store);
	}
	rq_history_init(h);
}

struct gather {
	rq_history *h;
	const char *base_id;
	const char *family;
	json_t *roots;    /* version id -> root id */
	json_t *lineage;  /* version id -> body, versions of the lineage in order */
	json_t *plans;    /* [{"id", "body", "seq"}] of lineage plans in sequence order */
	json_t *plan_at;  /* plan id -> index in `plans` */
	json_t *actuals;  /* plan id -> newest linked actual body */
	json_t *known_at; /* plan id -> seq of that actual; version id -> its seq */
	json_t *cost_actuals; /* id of an actual a lineage version's cost came from
			       * -> {"body", "seq", "used"} */
	json_t *linked;   /* ids of actuals a link ties to a lineage plan */
	json_t *param_by_actual; /* actual id -> the parameter change a version
				  * recorded for it (commit --parent, body.param_change) */
};

static int on_version(const rq_entry *e, void *ctx)
{
	struct gather *g = ctx;
	const char *parent = rq_json_str(e->body, "parent", NULL);
	const char *root = parent ? rq_json_str(g->roots, parent, NULL) : NULL;

	/* Parents are always earlier in the ledger, so their root is known. */
	json_object_set_new(g->roots, e->id, json_string(root ? root : e->id));
	return 0;
}

static double measure(const json_t *obj, const char *key);

static int on_version_member(const rq_entry *e, void *ctx)
{
	struct gather *g = ctx;
	const char *root = rq_json_str(g->roots, e->id, "");
	const char *fam = rq_json_str(e->body, "family", NULL);
	const char *src = rq_json_str(json_object_get(e->body, "cost"), "source", "");
	const json_t *pc = json_object_get(e->body, "param_change");

	if (rq_json_str(pc, "actual", NULL) && measure(pc, "value") >= 0)
		json_object_set(g->param_by_actual, rq_json_str(pc, "actual", ""), json_object_get(pc, "value"));
	if (strcmp(root, g->h->root) == 0 || (g->family && fam && strcmp(fam, g->family) == 0)) {
		json_object_set(g->lineage, e->id, e->body);
		json_object_set_new(g->known_at, e->id, json_integer((json_int_t)rq_entry_seq(e)));
		if (strncmp(src, "actual:", 7) == 0)
			json_object_set_new(g->cost_actuals, src + 7, json_object());
	}
	if (strcmp(e->id, g->h->root) == 0) {
		double e0 = rq_json_num(json_object_get(e->body, "cost"), "epochs", NAN);
		g->h->scratch_epochs = isfinite(e0) && e0 > 0 ? e0 : NAN;
		json_array_append(g->h->store->keep, e->body);
		g->h->root_name = rq_json_str(e->body, "name", "");
	}
	return 0;
}

static int on_plan(const rq_entry *e, void *ctx)
{
	struct gather *g = ctx;
	const char *from = rq_json_str(e->body, "from", NULL);

	if (!from || !json_object_get(g->lineage, from))
		return 0;
	json_object_set_new(g->plan_at, e->id, json_integer((json_int_t)json_array_size(g->plans)));
	json_array_append_new(g->plans, json_pack("{s:s, s:O, s:I}", "id", e->id, "body", e->body,
						   "seq", (json_int_t)rq_entry_seq(e)));
	return 0;
}

static int on_actual(const rq_entry *e, void *ctx)
{
	struct gather *g = ctx;
	const char *plan = rq_json_str(e->body, "plan", NULL);
	json_t *rec = json_object_get(g->cost_actuals, e->id), *pc = json_object_get(g->param_by_actual, e->id);

	if (plan && json_object_get(g->plan_at, plan)) {
		json_t *b = json_incref(e->body);
		if (pc && !(measure(b, "param_change") >= 0)) {
			/* the change its version's commit computed (commit --parent) */
			json_decref(b);
			b = json_deep_copy(e->body);
			json_object_set(b, "param_change", pc);
		}
		json_object_set_new(g->actuals, plan, b); /* newest wins */
		json_object_set_new(g->known_at, plan, json_integer((json_int_t)rq_entry_seq(e)));
		if (rq_json_str(e->body, "linked_from", NULL))
			json_object_set_new(g->linked, rq_json_str(e->body, "linked_from", ""), json_true());
	}
	if (rec) {
		json_object_set(rec, "body", e->body);
		json_object_set_new(rec, "seq", json_integer((json_int_t)rq_entry_seq(e)));
	}
	return 0;
}

/* A field of the actual, else of the plan. */
static const char *str_of(const json_t *actual, const json_t *plan, const char *key)
{
	const char *v = rq_json_str(actual, key, NULL);
	return v && *v ? v : rq_json_str(plan, key, NULL);
}

static double num_of(const json_t *actual, const json_t *plan, const char *key)
{
	double v = rq_json_num(actual, key, NAN);
	return isfinite(v) ? v : rq_json_num(plan, key, NAN);
}

/* A non-negative finite value, or NaN. */
static double measure(const json_t *obj, const char *key)
{
	double v = rq_json_num(obj, key, NAN);
	return isfinite(v) && v >= 0 ? v : NAN;
}

/* Count the per-epoch values of `key` in `actual`: every element must be a
 * non-negative finite number, else the trace is ignored (0). */
static size_t trace_len(const json_t *actual, const char *key)
{
	json_t *a = json_object_get(actual, key), *v;
	size_t i;

	if (!json_is_array(a))
		return 0;
	json_array_foreach(a, i, v)
		if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < 0)
			return 0;
	return json_array_size(a);
}

/* The per-epoch energies (and durations, when as many) of `actual`, into
 * the store's values, as one more STEP trace. */
static void add_trace(rq_history *h, const json_t *actual, const json_t *plan, size_t n,
		      uint64_t order)
{
	struct rq_epoch_trace *t = &h->traces[h->n_traces++];
	struct rq_history_store *st = h->store;
	double *kwh = st->values + st->n_values, *sec = kwh + n;
	json_t *e = json_object_get(actual, "epoch_energy_kwh"), *d = json_object_get(actual, "epoch_duration_s");

	for (size_t j = 0; j < n; j++)
		kwh[j] = json_number_value(json_array_get(e, j));
	t->epoch_kwh = kwh;
	t->epoch_s = NULL;
	if (trace_len(actual, "epoch_duration_s") == n) {
		for (size_t j = 0; j < n; j++)
			sec[j] = json_number_value(json_array_get(d, j));
		t->epoch_s = sec;
	}
	st->n_values += 2 * n;
	t->n = n;
	t->hardware = str_of(actual, plan, "hardware");
	t->train_size = num_of(actual, plan, "train_size");
	t->order = order;
}

/* Room for the traces of the actuals versions' costs came from. */
static size_t cost_trace_values(const struct gather *g)
{
	const char *id;
	json_t *rec;
	size_t nv = 0;

	json_object_foreach(g->cost_actuals, id, rec)
		nv += 2 * trace_len(json_object_get(rec, "body"), "epoch_energy_kwh");
	return nv;
}

/* The lineage's plans with an actual: past updates of `kind`, and the
 * STEP traces of every run whatever its kind. */
static void build_updates(rq_history *h, struct gather *g, const rq_shift_kind *kind)
{
	size_t nv = 0, i;
	json_t *p;

	json_array_foreach(g->plans, i, p) {
		json_t *actual = json_object_get(g->actuals, rq_json_str(p, "id", ""));
		if (actual)
			nv += 2 * trace_len(actual, "epoch_energy_kwh");
	}
	h->store->values = rq_xcalloc(nv + cost_trace_values(g) + 1, sizeof(double));
	json_array_foreach(g->plans, i, p) {
		json_t *plan = json_object_get(p, "body");
		json_t *actual = json_object_get(g->actuals, rq_json_str(p, "id", ""));
		uint64_t order = (uint64_t)json_integer_value(json_object_get(p, "seq"));
		uint64_t known = (uint64_t)json_integer_value(json_object_get(g->known_at, rq_json_str(p, "id", "")));
		size_t n;

		if (!actual)
			continue;
		json_array_append(h->store->keep, actual);
		json_array_append(h->store->keep, plan);
		if (strcmp(rq_json_str(plan, "kind", ""), kind->name) == 0 &&
		    isfinite(rq_json_num(plan, "index", NAN))) {
			struct rq_history_point *pt = &h->points[h->n_points++];
			pt->kind = kind;
			pt->index = rq_json_num(plan, "index", NAN);
			pt->epochs = measure(actual, "epochs");
			pt->energy_kwh = measure(actual, "energy_kwh");
			pt->duration_s = measure(actual, "duration_s");
			pt->param_change = measure(actual, "param_change");
			pt->grad_norm = measure(actual, "grad_norm");
			pt->family = str_of(actual, plan, "shift_family");
			pt->hardware = str_of(actual, plan, "hardware");
			pt->train_size = num_of(actual, plan, "train_size");
			pt->censored = rq_actual_target_missed(actual);
			pt->order = order;
			pt->known_at = known;
		}
		if ((n = trace_len(actual, "epoch_energy_kwh")) > 0)
			add_trace(h, actual, plan, n, known);
	}
	h->n_updates = h->n_points;
}

/* Whether a version's cost taken from actual `id` is evidence of its own,
 * adding the actual's per-epoch trace when it is: a from-scratch run
 * committed with --actual carries out no plan, so nothing else counts it.
 * Not when build_updates counts it already (it carries out a lineage plan,
 * or a link ties it to one), nor twice for two versions. */
static bool cost_actual_evidence(rq_history *h, struct gather *g, const char *id)
{
	json_t *rec = json_object_get(g->cost_actuals, id);
	json_t *a = json_object_get(rec, "body");
	const char *plan = rq_json_str(a, "plan", NULL);
	size_t n;

	if (!a || json_is_true(json_object_get(rec, "used")) || (plan && json_object_get(g->plan_at, plan)) ||
	    json_object_get(g->linked, id))
		return false;
	json_object_set_new(rec, "used", json_true());
	if ((n = trace_len(a, "epoch_energy_kwh")) > 0) {
		json_array_append(h->store->keep, a);
		add_trace(h, a, NULL, n, (uint64_t)json_integer_value(json_object_get(rec, "seq")));
	}
	return true;
}

/* Versions trained from a cost file are from-scratch (or at least whole)
 * trainings: their totals/epochs feed STEP's fallback; so do versions whose
 * cost came from an actual nothing else counts (cost_actual_evidence). */
static void build_costs(rq_history *h, struct gather *g, const rq_shift_kind *kind)
{
	const char *id;
	json_t *body;

	json_object_foreach(g->lineage, id, body) {
		const json_t *cost = json_object_get(body, "cost");
		const char *src = rq_json_str(cost, "source", "");
		struct rq_history_point *pt;
		if (!cost || !(measure(cost, "epochs") > 0) ||
		    (strncmp(src, "actual:", 7) == 0 && !cost_actual_evidence(h, g, src + 7)))
			continue;
		json_array_append(h->store->keep, body);
		pt = &h->points[h->n_points++];
		pt->kind = kind;
		pt->index = NAN;
		pt->epochs = measure(cost, "epochs");
		pt->energy_kwh = measure(cost, "energy_kwh");
		pt->duration_s = measure(cost, "duration_s");
		pt->param_change = pt->grad_norm = NAN;
		pt->family = NULL;
		pt->hardware = rq_json_str(cost, "hardware", NULL);
		/* what the user stated (cost file, run/record --train-size), never
		 * the rows of the embeddings: a training split is often smaller */
		pt->train_size = rq_json_num(cost, "train_size", NAN);
		pt->known_at = (uint64_t)json_integer_value(json_object_get(g->known_at, id));
	}
}

/* The rows a history is gathered from, in sequence order: versions parsed
 * as they are read (every one is needed), plans and actuals kept as bytes
 * until the lineage says whether they can matter. */
struct hrow {
	uint64_t seq;
	rq_entry *e;   /* parsed, or NULL */
	void *bytes;   /* until parsed */
	size_t len;
};

struct hrows {
	struct hrow *v;
	size_t n, alloc;
};

static int keep_row(uint64_t seq, const void *bytes, size_t len, void *ctx)
{
	struct hrows *s = ctx;
	struct hrow r = { seq, NULL, NULL, len };

	if (rq_ledger__may_hold(bytes, len, "type", "version")) {
		int err = rq_entry_parse(&r.e, bytes, len);
		if (err)
			return rq_error_prefix(err, "entry %" PRIu64 ": ", seq);
		if (strcmp(r.e->type, "version") && strcmp(r.e->type, "plan") && strcmp(r.e->type, "actual")) {
			rq_entry_free(r.e);
			return 0;
		}
	} else if (rq_ledger__may_hold(bytes, len, "type", "plan") || rq_ledger__may_hold(bytes, len, "type", "actual")) {
		r.bytes = rq_xmalloc(len ? len : 1);
		memcpy(r.bytes, bytes, len);
	} else {
		return 0;
	}
	RQ_ALLOC_GROW(s->v, s->n + 1, s->alloc);
	s->v[s->n++] = r;
	return 0;
}

/* Whether `bytes` hold `"key":"X"` for some X that `set` has: false
 * means no member `key` of the entry names one of them. */
static bool links_into(const struct hrow *r, const char *key, const json_t *set)
{
	char pat[24];
	int n = snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	const char *p = r->bytes, *end = p + r->len;
	while (n > 0 && (p = memmem(p, (size_t)(end - p), pat, (size_t)n))) {
		p += n;
		const char *q = memchr(p, '"', (size_t)(end - p));
		if (!q)
			break;
		if (json_object_getn(set, p, (size_t)(q - p)))
			return true;
		p = q;
	}
	return false;
}

/* Row `r` as an entry of `type`, parsing it if `maybe` says it can matter;
 * NULL when it is not one that does. */
static const rq_entry *row_as(struct hrow *r, const char *type, bool (*maybe)(struct hrow *r, struct gather *g),
			      struct gather *g, int *err)
{
	if (!r->e && r->bytes && maybe(r, g)) {
		if ((*err = rq_entry_parse(&r->e, r->bytes, r->len)))
			return NULL;
		free(r->bytes);
		r->bytes = NULL;
	}
	return r->e && strcmp(r->e->type, type) == 0 ? r->e : NULL;
}

static bool plan_may_matter(struct hrow *r, struct gather *g)
{
	return rq_ledger__may_hold(r->bytes, r->len, "type", "plan") && links_into(r, "from", g->lineage);
}

static bool actual_may_matter(struct hrow *r, struct gather *g)
{
	char id[RQ_ID_HEX_SIZE];
	if (!rq_ledger__may_hold(r->bytes, r->len, "type", "actual"))
		return false;
	if (links_into(r, "plan", g->plan_at))
		return true;
	rq_sha256_hex(id, r->bytes, r->len); /* the entry's id */
	return json_object_get(g->cost_actuals, id) != NULL;
}

static bool any_row(struct hrow *r, struct gather *g)
{
	return false;
}

/* on_version .. on_actual over the rows, each kind in sequence order. */
static int each_of(struct hrows *s, const char *type, int (*fn)(const rq_entry *e, void *ctx), struct gather *g)
{
	bool (*maybe)(struct hrow *, struct gather *) =
		!strcmp(type, "plan") ? plan_may_matter : !strcmp(type, "actual") ? actual_may_matter : any_row;
	int err = 0;
	for (size_t i = 0; i < s->n && !err; i++) {
		const rq_entry *e = row_as(&s->v[i], type, maybe, g, &err);
		if (e)
			err = fn(e, g);
	}
	return err;
}

static void build(rq_history *h, struct gather *g, const rq_shift_kind *kind)
{
	size_t n_plans = json_array_size(g->plans), n_vers = json_object_size(g->lineage);

	h->points = rq_xcalloc(n_plans + n_vers + 1, sizeof(*h->points));
	h->traces = rq_xcalloc(n_plans + n_vers + 1, sizeof(*h->traces));
	build_updates(h, g, kind);
	build_costs(h, g, kind);
}

int rq_history_gather(rq_history *out, rq_ledger *l, const rq_entry *base,
		      const char *family, const rq_shift_kind *kind)
{
	struct hrows rows = { NULL, 0, 0 };
	struct gather g = { 0 };
	const char *root;
	int err;

	rq_history_init(out);
	out->store = rq_xcalloc(1, sizeof(*out->store));
	out->store->keep = json_array();
	g.h = out;
	g.base_id = base->id;
	g.family = family ? family : rq_json_str(base->body, "family", NULL);
	g.roots = json_object();
	g.lineage = json_object();
	g.plans = json_array();
	g.plan_at = json_object();
	g.actuals = json_object();
	g.known_at = json_object();
	g.cost_actuals = json_object();
	g.linked = json_object();
	g.param_by_actual = json_object();
	if (strcmp(base->type, "version") != 0) {
		err = rq_error_set(RQ_EINVALID, "entry %.12s is a %s entry, not a version", base->id, base->type);
		goto done;
	}
	/* One read of the rows, in sequence order; of the plans and actuals
	 * only those that can belong to the lineage are parsed. */
	if ((err = rq_ledger__scan_rows(l, false, keep_row, &rows)) || (err = each_of(&rows, "version", on_version, &g)))
		goto done;
	root = rq_json_str(g.roots, base->id, NULL);
	if (!root) {
		err = rq_error_set(RQ_ENOTFOUND, "version %.12s is not in the ledger's index", base->id);
		goto done;
	}
	snprintf(out->root, sizeof(out->root), "%s", root);
	if ((err = each_of(&rows, "version", on_version_member, &g)) || (err = each_of(&rows, "plan", on_plan, &g)) ||
	    (err = each_of(&rows, "actual", on_actual, &g)))
		goto done;
	out->n_versions = json_object_size(g.lineage);
	out->n_plans = json_array_size(g.plans);
	/* Keep the lineage's bodies alive: the points borrow their strings. */
	json_array_append(out->store->keep, g.lineage);
	build(out, &g, kind);
done:
	for (size_t i = 0; i < rows.n; i++) {
		rq_entry_free(rows.v[i].e);
		free(rows.v[i].bytes);
	}
	free(rows.v);
	json_decref(g.roots);
	json_decref(g.lineage);
	json_decref(g.plans);
	json_decref(g.plan_at);
	json_decref(g.actuals);
	json_decref(g.known_at);
	json_decref(g.cost_actuals);
	json_decref(g.linked);
	json_decref(g.param_by_actual);
	if (err)
		rq_history_release(out);
	return err;
}

int rq_grid_resolve(rq_grid *out, rq_ledger *l, const char *region, double pue,
		    double intensity)
{
	rq_buf v = RQ_BUF_INIT;
	int err = 0;

	memset(out, 0, sizeof(*out));
	out->intensity = NAN;
	out->pue = 1;
	out->intensity_source = "none";
	out->pue_source = "default";
	if (!region && l && rq_ledger_config_get(&v, l, "resque.region") == 0)
		region = v.ptr;
	rq_error_clear();
	if (region && (err = rq_carbon_lookup(&out->region, region)))
		goto done;
	if (!isnan(intensity)) {
		if (!(isfinite(intensity) && intensity >= 0)) {
			err = rq_error_set(RQ_EINVALID, "grid intensity %g g/kWh is not a non-negative number",
					   intensity);
			goto done;
		}
		out->intensity = intensity;
		out->intensity_source = "--intensity";
	} else if (out->region) {
		out->intensity = out->region->g_per_kwh;
		out->intensity_source = "region";
	}
	rq_buf_reset(&v);
	if (!isnan(pue)) {
		if (!(isfinite(pue) && pue >= 1)) {
			err = rq_error_set(RQ_EINVALID, "PUE %g is not a number of at least 1", pue);
			goto done;
		}
		out->pue = pue;
		out->pue_source = "--pue";
	} else if (l && rq_ledger_config_get(&v, l, "resque.pue") == 0) {
		char *end;
		double c = strtod(v.ptr, &end);
		if (end == v.ptr || *end || !isfinite(c) || c < 1) {
			err = rq_error_set(RQ_EINVALID, "%s/config: resque.pue '%s' is not a number of at least 1",
					   rq_ledger_dir(l), v.ptr);
			goto done;
		}
		out->pue = c;
		out->pue_source = "config";
	} else if (out->region && out->region->pue >= 1) {
		out->pue = out->region->pue;
		out->pue_source = "region";
	}
	rq_error_clear();
done:
	rq_buf_release(&v);
	return err;
}
