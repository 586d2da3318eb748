/* resque plan: forecast an update's epochs, energy, carbon and more from its
 * RESQUE index calibrated on the lineage's history; rank candidates; sign. */
#include "common.h"
#include "cmd.h"
#include "resque/array.h"
#include "resque/bounds.h"
#include "resque/fingerprint.h"
#include "resque/forecast.h"
#include "resque/history.h"
#include "resque/json.h"
#include "resque/ledger.h"
#include "resque/lineage.h"
#include "resque/measure.h"
#include "resque/summary.h"
#include "resque/when.h"

#include <math.h>

static const struct cmd_help help = {
	"plan", "forecast what an update will cost, before running it",
	"Computes the RESQUE index of the proposed update against the base version\n"
	"(--kind dist: the base's recorded summary against the new data's; --kind\n"
	"task: 1 - ARI of k-means on the new task's embeddings), then forecasts\n"
	"epochs, energy (kWh), carbon (kg CO2e), duration, parameter change and\n"
	"gradient norm, each with its mean and 80 % and 95 % intervals, from a\n"
	"Bayesian regression on the lineage's past updates (the shift family's own\n"
	"when it has two or more, else all of them pooled and widened), or from an\n"
	"uncalibrated prior when there is no history. Energy per epoch follows STEP\n"
	"on the same hardware; carbon uses the region's grid intensity (--region,\n"
	"else 'resque config region') and PUE, or --intensity. Also shows training\n"
	"from scratch and what reuse saves. Several --from, or several candidates\n"
	"(--embeddings/--labels pairs, --summary, --dataset), are ranked by carbon.\n"
	"Unless --dry-run, each plan is recorded as a signed 'plan' entry.\n"
	"--json prints {\"plans\": [{\"from\", \"kind\", \"index\", \"calibration\": {\"n\",\n"
	"\"prior_only\", \"basis\"}, \"forecast\": {\"epochs\": {\"mean\", \"p10\", \"p90\",\n"
	"\"p2_5\", \"p97_5\"}, \"energy_kwh\", \"carbon_kg\", \"duration_s\",\n"
	"\"param_change\", \"grad_norm\"}, \"scratch\", \"saving\", \"when\", \"id\"}, ...]}\n"
	"ranked by carbon; figures that cannot be forecast are null.",
};

/* One candidate training set. */
struct candidate {
	char label[256];        /* for messages and the text output */
	json_t *desc;           /* body.candidate */
	rq_summary *sum;        /* dist: its summary */
	rq_array *emb, *lab;    /* task: its rows */
	double rows;
	double task_index;      /* computed once, NaN before */
};

/* One base version and its history. */
struct base {
	rq_entry *v;
	rq_summary *sum;        /* dist: the base's recorded summary */
	rq_history h;
};

struct result {
	struct base *b;
	struct candidate *c;
	size_t order;           /* position given on the command line */
	double index;
	size_t shared;          /* dist: classes shared */
	rq_forecast f;
	bool has_when;
	rq_when_result when;
	char id[65];
};

static json_t *quantiles_json(const rq_quantiles *q)
{
	if (!q->known)
		return json_null();
	return json_pack("{s:o, s:o, s:o, s:o, s:o}", "mean", rq_json_number(q->mean), "p10",
			 rq_json_number(q->p10), "p90", rq_json_number(q->p90), "p2_5", rq_json_number(q->p2_5),
			 "p97_5", rq_json_number(q->p97_5));
}

/* Drop JSON nulls from an object, recursively (the ledger omits unknowns). */
static void strip_nulls(json_t *o)
{
	const char *k;
	json_t *v;
	void *tmp;

	json_object_foreach_safe(o, tmp, k, v) {
		if (json_is_null(v))
			json_object_del(o, k);
		else if (json_is_object(v))
			strip_nulls(v);
	}
}

/* The candidate's file as given, with its fingerprint when the plan is
 * recorded (a dry run need not read the whole file twice). */
static int fingerprint_into(json_t *desc, const char *key, const char *path, bool record)
{
	rq_fp_result r;
	int err = 0;

	rq_fp_result_init(&r);
	if (!record)
		json_object_set_new(desc, key, json_pack("{s:s}", "path", path));
	else if (!(err = rq_fingerprint_path(&r, path, NULL)))
		json_object_set_new(desc, key, json_pack("{s:s, s:s}", "path", path, "fingerprint", r.fingerprint));
	rq_fp_result_release(&r);
	return err;
}

static int load_arrays(struct candidate *c, const char *emb, const char *lab, const char *tensor,
		       rq_shift_kind kind, bool record)
{
	int err;

	if ((err = rq_array_open_pair(&c->emb, &c->lab, emb, lab, tensor)))
		return err;
	c->rows = (double)rq_array_rows(c->emb);
	if (kind == RQ_SHIFT_DIST && (err = rq_summary_from_arrays(&c->sum, c->emb, c->lab, 1)))
		return err;
	if ((err = fingerprint_into(c->desc, "embeddings", emb, record)) ||
	    (err = fingerprint_into(c->desc, "labels", lab, record)))
		return err;
	return 0;
}

/* The candidates: --embeddings/--labels pairs and --summary files, in that
 * order; --dataset names the recorded dataset of each, in the same order,
 * or stands alone when its entry carries a summary attachment. */
static int load_candidates(struct candidate **out, size_t *n_out, rq_ledger *l,
			   const struct opt_list *emb, const struct opt_list *lab,
			   const struct opt_list *sums, const struct opt_list *ds,
			   const char *tensor, rq_shift_kind kind, bool record)
{
	size_t nrep = emb->n + sums->n, n = nrep ? nrep : ds->n;
	struct candidate *c = rq_xcalloc(n + 1, sizeof(*c));
	rq_entry *d = NULL;
	rq_buf bytes = RQ_BUF_INIT;
	int err = 0;

	*out = c;
	*n_out = n;
	for (size_t i = 0; i < n; i++) {
		c[i].desc = json_object();
		c[i].task_index = NAN;
		c[i].rows = NAN;
	}
	for (size_t i = 0; i < emb->n; i++) {
		snprintf(c[i].label, sizeof(c[i].label), "%s", emb->v[i]);
		if ((err = load_arrays(&c[i], emb->v[i], lab->v[i], tensor, kind, record)))
			goto done;
	}
	for (size_t i = 0; i < sums->n; i++) {
		struct candidate *s = &c[emb->n + i];
		snprintf(s->label, sizeof(s->label), "%s", sums->v[i]);
		if ((err = rq_summary_read(&s->sum, sums->v[i])))
			goto done;
		s->rows = (double)s->sum->n;
		if ((err = fingerprint_into(s->desc, "summary", sums->v[i], record)))
			goto done;
	}
	for (size_t i = 0; i < ds->n; i++) {
		struct candidate *s = &c[i];
		rq_entry_free(d);
		d = NULL;
		if ((err = rq_ledger_lookup(&d, l, ds->v[i], "dataset"))) {
			rq_error_prefix(err, "--dataset %s: ", ds->v[i]);
			goto done;
		}
		json_object_set_new(s->desc, "dataset", json_pack("{s:s, s:s, s:s}", "id", d->id, "name",
			rq_json_str(d->body, "name", ""), "fingerprint", rq_json_str(d->body, "fingerprint", "")));
		if (nrep) {
			char tmp[256];
			snprintf(tmp, sizeof(tmp), "%s (%s)", rq_json_str(d->body, "name", ds->v[i]), s->label);
			snprintf(s->label, sizeof(s->label), "%s", tmp);
			continue;
		}
		snprintf(s->label, sizeof(s->label), "%s", rq_json_str(d->body, "name", ds->v[i]));
		if (!json_object_get(json_object_get(d->body, "attachments"), "summary.rqs")) {
			err = rq_error_set(RQ_EINVALID,
					   "dataset %s records no representation: give its --embeddings and --labels (or --summary) with --dataset",
					   ds->v[i]);
			goto done;
		}
		if (kind == RQ_SHIFT_TASK) {
			err = rq_error_set(RQ_EINVALID, "dataset %s: --kind task needs the rows, give --embeddings and --labels",
					   ds->v[i]);
			goto done;
		}
		rq_buf_reset(&bytes);
		if ((err = rq_ledger_attachment(&bytes, l, d, "summary.rqs")) ||
		    (err = rq_summary_decode(&s->sum, bytes.ptr, bytes.len, s->label)))
			goto done;
		s->rows = (double)s->sum->n;
	}
done:
	rq_entry_free(d);
	rq_buf_release(&bytes);
	return err;
}

static void candidates_free(struct candidate *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++) {
		json_decref(c[i].desc);
		rq_summary_free(c[i].sum);
		rq_array_free(c[i].emb);
		rq_array_free(c[i].lab);
	}
	free(c);
}

static int load_base(struct base *b, rq_ledger *l, const char *ref, rq_shift_kind kind,
		     const char *family)
{
	rq_buf bytes = RQ_BUF_INIT;
	int err;

	if ((err = rq_version_resolve(&b->v, l, ref))) {
		rq_error_prefix(err, "--from %s: ", ref);
		goto done;
	}
	if (kind == RQ_SHIFT_DIST) {
		const char *name = rq_json_str(b->v->body, "name", ref);
		if (!json_object_get(json_object_get(b->v->body, "attachments"), "summary.rqs")) {
			err = rq_error_set(RQ_EINVALID,
					   "version %s records no representation summary: a dist plan compares it with the new data's "
					   "(commit the version with --embeddings/--labels or --summary)", name);
			goto done;
		}
		if ((err = rq_ledger_attachment(&bytes, l, b->v, "summary.rqs")) ||
		    (err = rq_summary_decode(&b->sum, bytes.ptr, bytes.len, name)))
			goto done;
	}
	err = rq_history_gather(&b->h, l, b->v, family, kind);
done:
	rq_buf_release(&bytes);
	return err;
}

static int compute_index(struct result *r, rq_shift_kind kind)
{
	struct candidate *c = r->c;
	int err = 0;

	if (kind == RQ_SHIFT_DIST) {
		rq_dist d;
		rq_dist_init(&d);
		if ((err = rq_dist_compute(&d, r->b->sum, c->sum)))
			rq_error_prefix(err, "%s against version %s: ", c->label,
					rq_json_str(r->b->v->body, "name", "?"));
		r->index = d.value;
		r->shared = d.nclasses;
		rq_dist_release(&d);
		return err;
	}
	if (isnan(c->task_index)) {
		rq_task t;
		rq_task_opts o = { 0 };
		rq_rows rows;
		int64_t *y = NULL;
		rq_task_init_result(&t);
		if (!(err = rq_labels_read_all(&y, c->lab))) {
			rq_rows_from_array(&rows, c->emb);
			err = rq_task_compute(&t, &rows, y, &o, c->label);
		}
		c->task_index = t.value;
		free(y);
		rq_task_release(&t);
	}
	r->index = c->task_index;
	return err;
}

static int by_carbon(const void *pa, const void *pb)
{
	const struct result *a = pa, *b = pb;
	const rq_quantiles *qa[3] = { &a->f.carbon_kg, &a->f.energy_kwh, &a->f.epochs };
	const rq_quantiles *qb[3] = { &b->f.carbon_kg, &b->f.energy_kwh, &b->f.epochs };

	for (int i = 0; i < 3; i++) {
		if (qa[i]->known != qb[i]->known)
			return qa[i]->known ? -1 : 1;
		if (qa[i]->known && qa[i]->mean != qb[i]->mean)
			return qa[i]->mean < qb[i]->mean ? -1 : 1;
	}
	return (a->order > b->order) - (a->order < b->order);
}

static json_t *calibration_json(const rq_forecast *f, const char *shift_family)
{
	const rq_calibration *c = &f->cal_epochs;
	json_t *j = json_pack("{s:I, s:b, s:s, s:s, s:I}", "n", (json_int_t)c->n, "prior_only",
			      f->prior_only, "basis", rq_calibration_name(c->source), "shift_family",
			      shift_family, "families", (json_int_t)c->n_families);
	json_object_set_new(j, "tau2", rq_json_number(c->source == RQ_CAL_POOLED ? c->tau2 : NAN));
	json_object_set_new(j, "a", rq_json_number(c->a));
	json_object_set_new(j, "b", rq_json_number(c->b));
	return j;
}

static json_t *forecast_json(const rq_forecast *f)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "epochs", quantiles_json(&f->epochs),
			 "energy_kwh", quantiles_json(&f->energy_kwh), "carbon_kg",
			 quantiles_json(&f->carbon_kg), "duration_s", quantiles_json(&f->duration_s),
			 "param_change", quantiles_json(&f->param_change), "grad_norm",
			 quantiles_json(&f->grad_norm));
}

static json_t *when_json(const struct result *r)
{
	char start[21], base[21];

	if (!r->has_when)
		return json_null();
	rq_time_format(start, r->when.start);
	rq_time_format(base, r->when.baseline_start);
	return json_pack("{s:s, s:o, s:s, s:o, s:o, s:o}", "start", start, "mean_g_per_kwh",
			 rq_json_number(r->when.mean_g_per_kwh), "baseline_start", base, "baseline_g_per_kwh",
			 rq_json_number(r->when.baseline_g_per_kwh), "saving_fraction",
			 rq_json_number(r->when.saving_fraction), "saving_kg", rq_json_number(r->when.saving_kg));
}

/* The fields shared by the entry body and the --json output. */
static json_t *result_json(const struct result *r, const char *kind, const char *shift_family,
			   const char *hardware, const rq_grid *g)
{
	const rq_forecast *f = &r->f;
	json_t *j = json_object();

	json_object_set_new(j, "from", json_string(r->b->v->id));
	json_object_set_new(j, "from_name", json_string(rq_json_str(r->b->v->body, "name", "")));
	json_object_set_new(j, "kind", json_string(kind));
	json_object_set_new(j, "index", json_real(r->index));
	json_object_set_new(j, "shift_family", json_string(shift_family));
	if (rq_json_str(r->b->v->body, "family", NULL))
		json_object_set_new(j, "family", json_string(rq_json_str(r->b->v->body, "family", "")));
	json_object_set_new(j, "hardware", json_string(hardware));
	json_object_set_new(j, "region", g->region ? json_string(g->region->code) : json_null());
	json_object_set_new(j, "pue", json_real(g->pue));
	json_object_set_new(j, "intensity_g_per_kwh", rq_json_number(g->intensity));
	json_object_set_new(j, "candidate", json_deep_copy(r->c->desc));
	json_object_set_new(j, "train_size", isfinite(r->c->rows) ? json_integer((json_int_t)r->c->rows) : json_null());
	json_object_set_new(j, "calibration", calibration_json(f, shift_family));
	json_object_set_new(j, "energy_per_epoch",
			    json_pack("{s:o, s:s, s:I, s:I}", "kwh",
				      rq_json_number(f->kwh_per_epoch.known ? f->kwh_per_epoch.loc : NAN), "source",
				      f->kwh_per_epoch.source, "runs", (json_int_t)f->kwh_per_epoch.runs,
				      "epochs", (json_int_t)f->kwh_per_epoch.epochs));
	json_object_set_new(j, "forecast", forecast_json(f));
	json_object_set_new(j, "scratch", json_pack("{s:o, s:o, s:o, s:o}", "epochs", rq_json_number(f->scratch_epochs),
						    "energy_kwh", quantiles_json(&f->scratch_energy_kwh),
						    "carbon_kg", quantiles_json(&f->scratch_carbon_kg),
						    "duration_s", quantiles_json(&f->scratch_duration_s)));
	json_object_set_new(j, "saving", json_pack("{s:o, s:o}", "energy_kwh", rq_json_number(f->saving_kwh),
						   "carbon_kg", rq_json_number(f->saving_kg)));
	json_object_set_new(j, "when", when_json(r));
	if (f->not_forecast[0])
		json_object_set_new(j, "not_forecast", json_string(f->not_forecast));
	return j;
}

static void print_q(const char *what, const rq_quantiles *q)
{
	if (!q->known) {
		printf("  %-18s %12s\n", what, "not forecast");
		return;
	}
	printf("  %-18s %12.4g   [%.4g, %.4g]   [%.4g, %.4g]\n", what, q->mean, q->p10, q->p90,
	       q->p2_5, q->p97_5);
}

static void print_calibration(const struct result *r, rq_shift_kind kind, const char *shift_family)
{
	const rq_calibration *c = &r->f.cal_epochs;
	const char *root = r->b->h.root_name;

	switch (c->source) {
	case RQ_CAL_PRIOR:
		printf("  calibration: UNCALIBRATED prior (no past %s update of this lineage has a recorded actual):\n"
		       "    epochs ~ E0 x min(1, R / %.2g), E0 = %.4g epochs of training %s from scratch\n",
		       rq_shift_kind_name(kind), rq_forecast_r_full(kind), r->b->h.scratch_epochs,
		       *root ? root : "the first version");
		break;
	case RQ_CAL_FAMILY:
		printf("  calibration: %zu past update(s) of shift family '%s' (basis: family)\n", c->n,
		       shift_family);
		break;
	case RQ_CAL_POOLED:
		printf("  calibration: %zu past update(s) pooled over %zu shift famil%s (basis: pooled; '%s' has fewer\n"
		       "    than 2), spread widened by the between-family variance tau2 = %.4g\n",
		       c->n, c->n_families, c->n_families == 1 ? "y" : "ies", shift_family, c->tau2);
		break;
	default:
		printf("  calibration: none\n");
	}
}

static void print_result(const struct result *r, size_t rank, size_t n, rq_shift_kind kind,
			 const char *shift_family, const char *hardware, const rq_grid *g, bool dry_run)
{
	const rq_forecast *f = &r->f;
	char t[21];

	if (n > 1)
		printf("%s#%zu of %zu by carbon: ", rank ? "\n" : "", rank + 1, n);
	printf("plan from %s on %s", rq_json_str(r->b->v->body, "name", "?"), r->c->label);
	if (dry_run)
		printf(" (dry run, not recorded)\n");
	else
		printf(" (recorded as %.12s)\n", r->id);
	if (kind == RQ_SHIFT_DIST)
		printf("  RESQUE_dist %.6f over %zu shared classes\n", r->index, r->shared);
	else
		printf("  RESQUE_task %.6f\n", r->index);
	print_calibration(r, kind, shift_family);
	printf("  %-18s %12s   %-18s %s\n", "", "mean", "80 % interval", "95 % interval");
	print_q("epochs", &f->epochs);
	print_q("energy (kWh)", &f->energy_kwh);
	print_q("carbon (kg CO2e)", &f->carbon_kg);
	print_q("duration (s)", &f->duration_s);
	print_q("param change", &f->param_change);
	print_q("grad norm", &f->grad_norm);
	if (f->not_forecast[0])
		printf("  not forecast: %s\n", f->not_forecast);
	if (f->kwh_per_epoch.known)
		printf("  energy per epoch: %.4g kWh (%s)\n", f->kwh_per_epoch.loc, f->kwh_per_epoch.source);
	else
		printf("  energy per epoch: unknown (%s): energy and carbon are not forecast\n",
		       f->kwh_per_epoch.source);
	if (!isnan(g->intensity) && strcmp(g->intensity_source, "region") == 0)
		printf("  grid: %.4g g CO2e/kWh (region %s, %s), PUE %.3g (%s)\n", g->intensity,
		       g->region->code, g->region->name, g->pue, g->pue_source);
	else if (!isnan(g->intensity))
		printf("  grid: %.4g g CO2e/kWh (--intensity), PUE %.3g (%s)\n", g->intensity, g->pue,
		       g->pue_source);
	else
		printf("  grid: no region (set one with 'resque config region CODE', --region or --intensity):\n"
		       "    carbon is not forecast\n");
	printf("  hardware: %s\n", hardware);
	if (isfinite(f->scratch_epochs)) {
		printf("  from scratch: %.4g epochs", f->scratch_epochs);
		if (f->scratch_energy_kwh.known)
			printf(", %.4g kWh", f->scratch_energy_kwh.mean);
		if (f->scratch_carbon_kg.known)
			printf(", %.4g kg CO2e", f->scratch_carbon_kg.mean);
		printf("\n");
		if (isfinite(f->saving_kwh))
			printf("  reuse saves %.4g kWh%s", f->saving_kwh, isfinite(f->saving_kg) ? "" : "\n");
		if (isfinite(f->saving_kg))
			printf(", %.4g kg CO2e\n", f->saving_kg);
	}
	if (r->has_when) {
		rq_time_format(t, r->when.start);
		printf("  best start: %s (mean %.4g g/kWh over the run; %.1f %% less than starting at ", t,
		       r->when.mean_g_per_kwh, 100 * r->when.saving_fraction);
		rq_time_format(t, r->when.baseline_start);
		printf("%s", t);
		if (isfinite(r->when.saving_kg))
			printf(", %.4g kg CO2e saved", r->when.saving_kg);
		printf(")\n");
	}
}

int cmd_plan(int argc, char **argv)
{
	struct opt_list from = { 0 }, emb = { 0 }, lab = { 0 }, sums = { 0 }, ds = { 0 };
	const char *kind_s = "dist", *family = NULL, *shift_family = "unspecified", *region = NULL;
	const char *hardware = NULL, *when_path = NULL, *tensor = NULL;
	double pue = NAN, intensity = NAN;
	bool dry_run = false, json = false;
	const struct opt opts[] = {
		{ OPT_LIST, 0, "from", &from, "REF", "the base version (repeatable: candidates are ranked)" },
		{ OPT_LIST, 'e', "embeddings", &emb, "FILE", "the new data's embeddings under the base model (repeatable)" },
		{ OPT_LIST, 'l', "labels", &lab, "FILE", "their labels (one per --embeddings)" },
		{ OPT_LIST, 0, "summary", &sums, "FILE", "a summary (.rqs) of the new data instead (repeatable)" },
		{ OPT_LIST, 0, "dataset", &ds, "NAME", "the recorded dataset of each candidate (repeatable)" },
		{ OPT_STRING, 0, "tensor", &tensor, "NAME", "the embeddings tensor of safetensors files" },
		{ OPT_STRING, 0, "kind", &kind_s, "dist|task", "distribution shift (default) or task shift" },
		{ OPT_STRING, 0, "family", &family, "F", "lineage label (default: the base's family)" },
		{ OPT_STRING, 0, "shift-family", &shift_family, "NAME", "the kind of shift: noise, blur... (default unspecified)" },
		{ OPT_STRING, 0, "region", &region, "CODE", "grid region (default: resque config region)" },
		{ OPT_DOUBLE, 0, "pue", &pue, "X", "power usage effectiveness (default: config, region, 1)" },
		{ OPT_DOUBLE, 0, "intensity", &intensity, "G", "grid intensity in g CO2e/kWh (overrides the region)" },
		{ OPT_STRING, 0, "hardware", &hardware, "H", "hardware profile of the run (default: config hardware, else the base version's)" },
		{ OPT_STRING, 0, "when", &when_path, "FILE", "intensity forecast CSV (time, g/kWh): propose a start" },
		{ OPT_BOOL, 'n', "dry-run", &dry_run, NULL, "forecast only, record nothing" },
		{ OPT_BOOL, 0, "json", &json, NULL, "print one JSON document" },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	rq_key *k = NULL;
	rq_shift_kind kind;
	struct candidate *cands = NULL;
	struct base *bases = NULL;
	struct result *res = NULL;
	size_t ncand = 0, nres = 0;
	rq_grid grid;
	rq_when_series series = { 0 };
	rq_buf hw = RQ_BUF_INIT, text = RQ_BUF_INIT;
	json_t *out = NULL;
	int64_t now;
	char nowbuf[21];
	int rc = EXIT_OK, err = 0;

	if (!opt_parse(&rc, &help, opts, argc, argv))
		goto out;
	if (strcmp(kind_s, "dist") == 0)
		kind = RQ_SHIFT_DIST;
	else if (strcmp(kind_s, "task") == 0)
		kind = RQ_SHIFT_TASK;
	else {
		rc = cmd_usage(&help, opts, "--kind is dist or task, not '%s'", kind_s);
		goto out;
	}
	if (!from.n) {
		rc = cmd_usage(&help, opts, "say which version the update starts from (--from REF)");
		goto out;
	}
	if (emb.n != lab.n) {
		rc = cmd_usage(&help, opts, "give one --labels per --embeddings (%zu and %zu given)", emb.n, lab.n);
		goto out;
	}
	if (!emb.n && !sums.n && !ds.n) {
		rc = cmd_usage(&help, opts, "give the new data: --embeddings and --labels, --summary or --dataset");
		goto out;
	}
	if (kind == RQ_SHIFT_TASK && sums.n) {
		rc = cmd_usage(&help, opts, "--kind task clusters the rows: give --embeddings and --labels, not --summary");
		goto out;
	}
	if (ds.n && (emb.n || sums.n) && ds.n != emb.n + sums.n) {
		rc = cmd_usage(&help, opts, "give one --dataset per candidate (%zu datasets, %zu candidates)", ds.n,
			       emb.n + sums.n);
		goto out;
	}
	if (!*shift_family || strlen(shift_family) > 64) {
		rc = cmd_usage(&help, opts, "--shift-family must be 1 to 64 characters");
		goto out;
	}
	if (!isnan(pue) && pue < 1) {
		rc = cmd_usage(&help, opts, "--pue must be at least 1, not %g", pue);
		goto out;
	}
	if (!isnan(intensity) && intensity < 0) {
		rc = cmd_usage(&help, opts, "--intensity must not be negative, not %g", intensity);
		goto out;
	}
	if ((!isnan(pue) && rq_bound_check("pue", pue, "--pue")) ||
	    (!isnan(intensity) && rq_bound_check("intensity_g_per_kwh", intensity, "--intensity"))) {
		rc = cmd_usage(&help, opts, "%s", rq_error_last());
		goto out;
	}
	if ((rc = cmd_open_ledger(&l, dry_run ? NULL : &k)))
		goto out;

	/* Everything is read and computed before anything is written. */
	if ((err = rq_grid_resolve(&grid, l, region, pue, intensity)))
		goto fail;
	if (hardware)
		rq_buf_puts(&hw, hardware);
	else
		rq_ledger_config_get(&hw, l, "resque.hardware");
	rq_error_clear();
	if (when_path) {
		if ((err = rq_file_read(&text, when_path)) ||
		    (err = rq_when_parse(&series, text.ptr, text.len, when_path)))
			goto fail;
	}
	rq_time_now(nowbuf);
	if (rq_time_parse(&now, nowbuf))
		now = INT64_MIN;
	if ((err = load_candidates(&cands, &ncand, l, &emb, &lab, &sums, &ds, tensor, kind, !dry_run)))
		goto fail;
	bases = rq_xcalloc(from.n, sizeof(*bases));
	for (size_t i = 0; i < from.n; i++) {
		rq_history_init(&bases[i].h);
		if ((err = load_base(&bases[i], l, from.v[i], kind, family)))
			goto fail;
	}
	/* Without --hardware or config, the update runs where the (first) base
	 * version was trained, if its cost says where. */
	if (!hw.len)
		rq_buf_puts(&hw, rq_json_str(json_object_get(bases[0].v->body, "cost"), "hardware", "unknown"));
	res = rq_xcalloc(from.n * ncand + 1, sizeof(*res));
	for (size_t i = 0; i < from.n; i++) {
		for (size_t j = 0; j < ncand; j++) {
			struct result *r = &res[nres];
			rq_forecast_input in = { 0 };
			r->b = &bases[i];
			r->c = &cands[j];
			r->order = nres++;
			if ((err = compute_index(r, kind)))
				goto fail;
			in.kind = kind;
			in.index = r->index;
			in.family = shift_family;
			in.hardware = hw.ptr;
			in.train_size = r->c->rows;
			in.scratch_epochs = r->b->h.scratch_epochs;
			in.history = r->b->h.points;
			in.n_history = r->b->h.n_points;
			in.traces = r->b->h.traces;
			in.n_traces = r->b->h.n_traces;
			in.intensity = grid.intensity;
			in.pue = grid.pue;
			if ((err = rq_forecast_compute(&r->f, &in))) {
				rq_error_prefix(err, "plan from %s on %s: ",
						rq_json_str(r->b->v->body, "name", "?"), r->c->label);
				goto fail;
			}
			if (when_path) {
				if (!r->f.duration_s.known) {
					err = rq_error_set(RQ_EINVALID,
							   "%s: --when needs the run's duration, and no past run on '%s' of this lineage recorded one",
							   when_path, hw.ptr);
					goto fail;
				}
				if ((err = rq_when_best(&r->when, &series, r->f.duration_s.mean, now,
							r->f.energy_kwh.known ? r->f.energy_kwh.mean : NAN,
							grid.pue, when_path)))
					goto fail;
				r->has_when = true;
			}
		}
	}
	qsort(res, nres, sizeof(*res), by_carbon);

	if (!dry_run) {
		for (size_t i = 0; i < nres; i++) {
			rq_entry *e = NULL;
			json_t *body = result_json(&res[i], kind_s, shift_family, hw.ptr, &grid);
			strip_nulls(body);
			if ((err = rq_ledger_append(&e, l, "plan", body, NULL, 0)))
				goto fail;
			snprintf(res[i].id, sizeof(res[i].id), "%s", e->id);
			rq_entry_free(e);
		}
	}
	if (json) {
		json_t *plans = json_array();
		out = json_pack("{s:o}", "plans", plans);
		for (size_t i = 0; i < nres; i++) {
			json_t *j = result_json(&res[i], kind_s, shift_family, hw.ptr, &grid);
			json_object_set_new(j, "from_id", json_string(res[i].b->v->id));
			json_object_set_new(j, "from", json_string(rq_json_str(res[i].b->v->body, "name", "")));
			json_object_set_new(j, "rank", json_integer((json_int_t)i + 1));
			json_object_set_new(j, "id", dry_run ? json_null() : json_string(res[i].id));
			json_array_append_new(plans, j);
		}
		rc = cmd_print_json(out);
	} else {
		for (size_t i = 0; i < nres; i++)
			print_result(&res[i], i, nres, kind, shift_family, hw.ptr, &grid, dry_run);
	}
	goto out;
fail:
	rc = cmd_fail_code(err);
out:
	json_decref(out);
	free(res);
	for (size_t i = 0; bases && i < from.n; i++) {
		rq_entry_free(bases[i].v);
		rq_summary_free(bases[i].sum);
		rq_history_release(&bases[i].h);
	}
	free(bases);
	candidates_free(cands, ncand);
	rq_when_release(&series);
	rq_buf_release(&hw);
	rq_buf_release(&text);
	opt_list_release(&from);
	opt_list_release(&emb);
	opt_list_release(&lab);
	opt_list_release(&sums);
	opt_list_release(&ds);
	cmd_close_ledger(l, k);
	return rc;
}
