/* resque plan: forecast an update's epochs, energy, carbon and more from its
 * RESQUE index calibrated on the lineage's history; rank candidates; sign. */
#include "common.h"
#include "cmd.h"
#include "measures.h"
#include "resque/array.h"
#include "bounds.h"
#include "resque/fingerprint.h"
#include "resque/forecast.h"
#include "dataset.h"
#include "history.h"
#include "resque/meter.h"
#include "json.h"
#include "ledger_int.h"
#include "measured.h"
#include "lineage.h"
#include "plan_backtest.h"
#include "resque/sizes.h"
#include "resque/summary.h"
#include "when.h"

#include <math.h>

static const struct cmd_help help = {
	"plan", "forecast what an update will cost, before running it",
	"Computes the RESQUE index of the proposed update against the base version\n"
	"(--kind dist: the base's recorded summary against the new data's; --kind\n"
	"task: 1 - ARI of k-means on the new task's embeddings), then forecasts\n"
	"epochs, energy (kWh), carbon (kg CO2e), duration, parameter change and\n"
	"gradient norm, each with its median, mean and 80 % and 95 % intervals,\n"
	"from a hierarchical Bayesian model of the lineage's past updates: each\n"
	"shift family's line drawn around the lineage's, so a family's first points\n"
	"borrow from the others; runs that missed their target count as lower\n"
	"bounds (docs/METHOD.md); or from an uncalibrated prior when there is no\n"
	"history. When training from scratch is forecast to cost less, it says so\n"
	"and ranks it with the plans. Energy per epoch follows STEP\n"
	"on the same hardware profile (--hardware, else config hardware, else the\n"
	"base version's, else this machine's); carbon uses the region's grid\n"
	"intensity (--region, else 'resque config region') and PUE, or\n"
	"--intensity. Also shows training\n"
	"from scratch and what reuse saves. Several --from, or several candidates\n"
	"(--embeddings/--labels pairs, --summary, --dataset), are ranked by carbon.\n"
	"Unless --dry-run, each plan is recorded as a signed 'plan' entry.\n"
	"The training set's size (STEP scales energy per epoch by it) is\n"
	"--train-size, else the --dataset entry's sample count, else unknown.\n"
	"--task-from FILE plans on a RESQUE_task computed elsewhere: the JSON of\n"
	"'resque measure task --json' or of 'resque shard result --json' (a\n"
	"cluster's, with its \"shards\"); it implies --kind task, takes the place of\n"
	"--embeddings/--labels, and is refused (exit 1, nothing recorded) unless\n"
	"its kind is \"task\", its value a number in [0, 2] and n, k and\n"
	"iterations whole numbers >= 1. --shards FILE goes with one --summary merged\n"
	"from shards: a JSON with \"shards\": {\"count\", \"rows\", \"fingerprint\"}\n"
	"whose rows must be the summary's. Such a plan records the file's\n"
	"fingerprint (candidate.task_from or candidate.shards) and \"shards\":\n"
	"{\"count\", \"rows\", \"fingerprint\"} (not the list).\n"
	"--backtest replays the lineage of --from (or --lineage) REF: each past\n"
	"update forecast from the entries before it only, with the median absolute\n"
	"percentage error and the share of actuals inside the 80 % and 95 %\n"
	"intervals per outcome, and a line per update; it records nothing.\n"
	"--json prints {\"plans\": [{\"from\", \"kind\", \"index\", \"train_size\",\n"
	"\"train_size_source\", \"calibration\": {\"n\",\n"
	"\"prior_only\", \"basis\", \"n_family\", \"n_censored\"}, \"forecast\": {\"epochs\":\n"
	"{\"mean\", \"p50\", \"p10\", \"p90\",\n"
	"\"p2_5\", \"p97_5\"}, \"energy_kwh\", \"carbon_kg\", \"duration_s\",\n"
	"\"param_change\", \"grad_norm\"}, \"scratch\", \"saving\", \"advice\", \"when\", \"shards\"\n"
	"(from shards only), \"id\"},\n"
	"...], \"ranking\": {\"by\", \"options\": [...]}} ranked by carbon; figures that\n"
	"cannot be forecast are null. docs/FORMATS.md has the --backtest --json schema.",
};

/* What the command line asks for, filled by parse_options. */
struct plan_opts {
	struct opt_list from, emb, lab, sums, ds;
	const char *kind_s, *family, *shift_family, *region, *hardware, *when_path, *tensor, *lineage;
	const char *task_from;  /* --task-from: a RESQUE_task computed elsewhere (JSON) */
	const char *shards;     /* --shards: the shards the one --summary was merged from (JSON) */
	double pue, intensity, train_size;
	bool dry_run, json, backtest;
	const struct measure_entry *m; /* the measure --kind names */
};

/* One candidate training set. */
struct candidate {
	char label[256];        /* for messages and the text output */
	json_t *desc;           /* body.candidate */
	rq_summary *sum;        /* MEASURE_BASE_SUMMARY: its summary */
	rq_array *emb, *lab;    /* its rows, when given */
	double train_size;      /* samples of its training set (NaN: unknown) */
	char size_source[96];   /* "--train-size", "dataset NAME", "" */
	bool has_value;         /* `value` computed (a measure that ignores the base) */
	struct measure_value value;
	json_t *shards;         /* {count, rows, fingerprint} when it came from shards, else NULL */
};

/* One base version and its history. */
struct base {
	rq_entry *v;
	rq_summary *sum;        /* MEASURE_BASE_SUMMARY: the base's recorded summary */
	rq_history h;
};

struct result {
	struct base *b;
	struct candidate *c;
	size_t order;           /* position given on the command line */
	struct measure_value value;
	rq_forecast f;
	bool has_when;
	rq_when_result when;
	char id[RQ_ID_HEX_SIZE];
};

/* What gather reads (everything is read and computed before anything is
 * written) and build computes. */
struct plan {
	rq_ledger *l;
	rq_key *k;
	rq_grid grid;
	rq_buf hw;              /* the hardware of the coming run */
	rq_when_series series;  /* --when */
	int64_t now;
	struct candidate *cands;
	size_t ncand;
	struct base *bases;     /* one per --from */
	size_t nbases;
	struct result *res;     /* ranked by carbon after build */
	size_t nres;
};

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


/* --- parse ------------------------------------------------------------- */

/* The checks of the options among themselves: 0, or the usage error's exit
 * status. */
static int check_options(struct plan_opts *o, const struct opt *opts)
{
	rq_buf names = RQ_BUF_INIT;
	int rc = 0;

	if (o->task_from && o->kind_s && strcmp(o->kind_s, "task") != 0)
		return cmd_usage(&help, opts, "--task-from FILE gives a RESQUE_task index: it goes with --kind task, not --kind %s",
				 o->kind_s);
	if (!o->kind_s)
		o->kind_s = o->task_from ? "task" : cmd_measures[0].kind->name;
	if (!(o->m = cmd_measure_find(o->kind_s))) {
		cmd_measure_names(&names, ", ", " or ");
		rc = cmd_usage(&help, opts, "--kind is %s, not '%s'", names.ptr, o->kind_s);
	} else if (o->backtest) {
		if (o->from.n + (o->lineage != NULL) != 1)
			rc = cmd_usage(&help, opts, "--backtest replays one lineage: give one --from REF or --lineage REF");
		else if (o->emb.n || o->lab.n || o->sums.n || o->ds.n || o->task_from || o->shards || o->when_path ||
			 o->dry_run)
			rc = cmd_usage(&help, opts, "--backtest replays recorded history: it takes no new data, --when or --dry-run");
		else if (strcmp(o->shift_family, "unspecified") != 0 || o->region || o->hardware || o->tensor ||
			 !isnan(o->pue) || !isnan(o->intensity) || !isnan(o->train_size))
			rc = cmd_usage(&help, opts,
				       "--backtest replays each update with what it recorded: no --shift-family, --region, "
				       "--pue, --intensity, --hardware, --train-size or --tensor");
	} else if (o->lineage) {
		rc = cmd_usage(&help, opts, "--lineage goes with --backtest");
	} else if (!o->from.n) {
		rc = cmd_usage(&help, opts, "say which version the update starts from (--from REF)");
	} else if (o->task_from && (o->emb.n || o->lab.n || o->sums.n || o->shards || o->tensor || o->ds.n > 1)) {
		rc = cmd_usage(&help, opts, "--task-from FILE is the new data's index: no --embeddings, --labels, --summary, "
			       "--shards or --tensor with it, and at most one --dataset");
	} else if (o->emb.n != o->lab.n) {
		rc = cmd_usage(&help, opts, "give one --labels per --embeddings (%zu and %zu given)", o->emb.n,
			       o->lab.n);
	} else if (o->shards && (o->sums.n != 1 || o->emb.n)) {
		rc = cmd_usage(&help, opts, "--shards FILE says which shards the --summary was merged from: give one "
			       "--summary and no --embeddings");
	} else if (!o->emb.n && !o->sums.n && !o->ds.n && !o->task_from) {
		rc = cmd_usage(&help, opts, "give the new data: --embeddings and --labels, --summary, --dataset or --task-from");
	} else if ((o->m->needs & MEASURE_ROWS) && o->sums.n) {
		rc = cmd_usage(&help, opts, "--kind %s %s: give --embeddings and --labels, not --summary",
			       o->m->kind->name, o->m->rows_why);
	} else if (o->ds.n && (o->emb.n || o->sums.n) && o->ds.n != o->emb.n + o->sums.n) {
		rc = cmd_usage(&help, opts, "give one --dataset per candidate (%zu datasets, %zu candidates)",
			       o->ds.n, o->emb.n + o->sums.n);
	} else if (!*o->shift_family || strlen(o->shift_family) > 64) {
		rc = cmd_usage(&help, opts, "--shift-family must be 1 to 64 characters");
	} else if (!isnan(o->pue) && o->pue < 1) {
		rc = cmd_usage(&help, opts, "--pue must be at least 1, not %g", o->pue);
	} else if (!isnan(o->intensity) && o->intensity < 0) {
		rc = cmd_usage(&help, opts, "--intensity must not be negative, not %g", o->intensity);
	} else if (cmd_train_size_check(o->train_size) ||
		   (!isnan(o->pue) && rq_bound_check("pue", o->pue, "--pue")) ||
		   (!isnan(o->intensity) && rq_bound_check("intensity_g_per_kwh", o->intensity, "--intensity"))) {
		rc = cmd_usage(&help, opts, "%s", rq_error_last());
	}
	rq_buf_release(&names);
	return rc;
}

/* Fill `o` from argv. Returns true when the command goes on, else false
 * with *rc the exit status (after --help or a usage error). */
static bool parse_options(struct plan_opts *o, int *rc, int argc, char **argv)
{
	rq_buf kinds = RQ_BUF_INIT;
	bool go_on;

	cmd_measure_names(&kinds, "|", "|");
	const struct opt opts[] = {
		{ OPT_LIST, 0, "from", &o->from, "REF", "the base version (repeatable: candidates are ranked)" },
		{ OPT_LIST, 'e', "embeddings", &o->emb, "FILE", "the new data's embeddings under the base model (repeatable)" },
		{ OPT_LIST, 'l', "labels", &o->lab, "FILE", "their labels (one per --embeddings)" },
		{ OPT_LIST, 0, "summary", &o->sums, "FILE", "a summary (.rqs) of the new data instead (repeatable)" },
		{ OPT_STRING, 0, "shards", &o->shards, "FILE", "JSON with the \"shards\" {count, rows, fingerprint} the one --summary merges" },
		{ OPT_STRING, 0, "task-from", &o->task_from, "FILE", "RESQUE_task already computed: the JSON of measure task or shard result --json (implies --kind task)" },
		{ OPT_LIST, 0, "dataset", &o->ds, "NAME", "the recorded dataset of each candidate (repeatable)" },
		{ OPT_STRING, 0, "tensor", &o->tensor, "NAME", "the embeddings tensor of safetensors files" },
		{ OPT_DOUBLE, 0, "train-size", &o->train_size, "N", "samples in the training set (default: the --dataset's, else unknown)" },
		{ OPT_STRING, 0, "kind", &o->kind_s, kinds.ptr, "distribution shift (default) or task shift" },
		{ OPT_STRING, 0, "family", &o->family, "F", "lineage label (default: the base's family)" },
		{ OPT_STRING, 0, "shift-family", &o->shift_family, "NAME", "the kind of shift: noise, blur... (default unspecified)" },
		{ OPT_STRING, 0, "region", &o->region, "CODE", "grid region (default: resque config region)" },
		{ OPT_DOUBLE, 0, "pue", &o->pue, "X", "power usage effectiveness (default: config, region, 1)" },
		{ OPT_DOUBLE, 0, "intensity", &o->intensity, "G", "grid intensity in g CO2e/kWh (overrides the region)" },
		{ OPT_STRING, 0, "hardware", &o->hardware, "H", "hardware profile of the run (default: config hardware, else the base version's, else this machine's: cpu:MODEL xN; gpu:NAME xK)" },
		{ OPT_STRING, 0, "when", &o->when_path, "FILE", "intensity forecast CSV (time, g/kWh): propose a start" },
		{ OPT_BOOL, 'n', "dry-run", &o->dry_run, NULL, "forecast only, record nothing" },
		{ OPT_BOOL, 0, "backtest", &o->backtest, NULL, "replay the lineage's history: error and interval coverage" },
		{ OPT_STRING, 0, "lineage", &o->lineage, "REF", "with --backtest: the lineage of version REF (as --from)" },
		{ OPT_BOOL, 0, "json", &o->json, NULL, "print one JSON document" },
		{ OPT_END },
	};

	o->shift_family = "unspecified";
	o->pue = o->intensity = o->train_size = NAN;
	go_on = opt_parse(rc, &help, opts, argc, argv) && !(*rc = check_options(o, opts));
	rq_buf_release(&kinds);
	return go_on;
}

static void plan_opts_release(struct plan_opts *o)
{
	opt_list_release(&o->from);
	opt_list_release(&o->emb);
	opt_list_release(&o->lab);
	opt_list_release(&o->sums);
	opt_list_release(&o->ds);
}

/* --- gather ------------------------------------------------------------ */

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

static int load_arrays(struct candidate *c, const struct plan_opts *o, size_t i)
{
	int err;

	if ((err = rq_array_open_pair(&c->emb, &c->lab, o->emb.v[i], o->lab.v[i], o->tensor)))
		return err;
	if ((o->m->needs & MEASURE_BASE_SUMMARY) && (err = rq_summary_from_arrays(&c->sum, c->emb, c->lab, 1)))
		return err;
	if ((err = fingerprint_into(c->desc, "embeddings", o->emb.v[i], !o->dry_run)) ||
	    (err = fingerprint_into(c->desc, "labels", o->lab.v[i], !o->dry_run)))
		return err;
	return 0;
}

/* The recorded dataset of candidate `s`: named in its description, and,
 * standing alone (`alone`), its representation summary. */
static int load_dataset(struct candidate *s, rq_ledger *l, const struct plan_opts *o, const char *ref,
			bool alone)
{
	rq_entry *d = NULL;
	rq_buf bytes = RQ_BUF_INIT;
	char tmp[256];
	int err;

	if ((err = rq_ledger_lookup(&d, l, ref, "dataset"))) {
		rq_error_prefix(err, "--dataset %s: ", ref);
		goto done;
	}
	json_object_set_new(s->desc, "dataset", json_pack("{s:s, s:s, s:s}", "id", d->id, "name",
		rq_json_str(d->body, "name", ""), "fingerprint", rq_json_str(d->body, "fingerprint", "")));
	if (isnan(o->train_size) && isfinite(rq_dataset_samples(d->body))) {
		s->train_size = rq_dataset_samples(d->body);
		snprintf(s->size_source, sizeof(s->size_source), "dataset %s", rq_json_str(d->body, "name", ref));
	}
	if (!alone) {
		/* a long label is cut for display; the result is used so that
		 * GCC below -O2 does not take the cut for a mistake */
		if (snprintf(tmp, sizeof(tmp), "%s (%s)", rq_json_str(d->body, "name", ref),
			     s->label) >= (int)sizeof(tmp))
			tmp[sizeof(tmp) - 1] = '\0';
		memcpy(s->label, tmp, sizeof(s->label));
		goto done;
	}
	snprintf(s->label, sizeof(s->label), "%s", rq_json_str(d->body, "name", ref));
	if (!json_object_get(json_object_get(d->body, "attachments"), "summary.rqs")) {
		err = rq_error_set(RQ_EINVALID,
				   "dataset %s records no representation: give its --embeddings and --labels (or --summary) with --dataset",
				   ref);
		goto done;
	}
	if (o->m->needs & MEASURE_ROWS) {
		err = rq_error_set(RQ_EINVALID, "dataset %s: --kind %s needs the rows, give --embeddings and --labels",
				   ref, o->m->kind->name);
		goto done;
	}
	if ((err = rq_ledger_attachment(&bytes, l, d, "summary.rqs")) ||
	    (err = rq_summary_decode(&s->sum, bytes.ptr, bytes.len, s->label)))
		goto done;
done:
	rq_entry_free(d);
	rq_buf_release(&bytes);
	return err;
}

/* --- an index computed elsewhere: --task-from, --shards ------------------ */

/* The one candidate of --task-from: its index as the file gives it, the
 * file (and its fingerprint) as the input, its shards when it has them. */
static int load_task_from(struct candidate *c, const struct plan_opts *o)
{
	rq_buf text = RQ_BUF_INIT;
	rq_measured_task t = { 0 };
	int err;

	snprintf(c->label, sizeof(c->label), "%s", o->task_from);
	if (!(err = rq_file_read_max(&text, o->task_from, RQ_MEASURED_MAX)) &&
	    !(err = rq_measured_task_parse(&t, text.ptr, text.len, o->task_from))) {
		c->value.index = t.value;
		c->value.detail[0] = '\0';
		c->has_value = true;
		c->shards = t.shards;
		t.shards = NULL;
		err = fingerprint_into(c->desc, "task_from", o->task_from, !o->dry_run);
	}
	rq_measured_task_release(&t);
	rq_buf_release(&text);
	return err;
}

/* --shards of the --summary candidate `s`. */
static int load_shards(struct candidate *s, const struct plan_opts *o)
{
	rq_buf text = RQ_BUF_INIT;
	int err;

	if (s->sum->n > (uint64_t)INT64_MAX)
		return rq_error_set(RQ_EINVALID, "%s: too many rows", s->label);
	if (!(err = rq_file_read_max(&text, o->shards, RQ_MEASURED_MAX)) &&
	    !(err = rq_measured_shards_parse(&s->shards, text.ptr, text.len, o->shards, (int64_t)s->sum->n,
					     "the --summary")))
		err = fingerprint_into(s->desc, "shards", o->shards, !o->dry_run);
	rq_buf_release(&text);
	return err;
}

/* The candidates: --embeddings/--labels pairs and --summary files, in that
 * order, or the one --task-from; --dataset names the recorded dataset of each, in the same order,
 * or stands alone when its entry carries a summary attachment. */
static int load_candidates(struct plan *p, const struct plan_opts *o)
{
	size_t nrep = o->emb.n + o->sums.n + (o->task_from != NULL), n = nrep ? nrep : o->ds.n;
	struct candidate *c = rq_xcalloc(n + 1, sizeof(*c));
	int err = 0;

	p->cands = c;
	p->ncand = n;
	for (size_t i = 0; i < n; i++) {
		c[i].desc = json_object();
		/* the size of the training set is what the user states, never the
		 * rows of the embeddings (a training split is often smaller) */
		c[i].train_size = o->train_size;
		if (!isnan(o->train_size))
			snprintf(c[i].size_source, sizeof(c[i].size_source), "--train-size");
	}
	for (size_t i = 0; i < o->emb.n; i++) {
		snprintf(c[i].label, sizeof(c[i].label), "%s", o->emb.v[i]);
		if ((err = load_arrays(&c[i], o, i)))
			return err;
	}
	for (size_t i = 0; i < o->sums.n; i++) {
		struct candidate *s = &c[o->emb.n + i];
		snprintf(s->label, sizeof(s->label), "%s", o->sums.v[i]);
		if ((err = rq_summary_read(&s->sum, o->sums.v[i])))
			return err;
		if ((err = fingerprint_into(s->desc, "summary", o->sums.v[i], !o->dry_run)))
			return err;
		if (o->shards && (err = load_shards(s, o)))
			return err;
	}
	if (o->task_from && (err = load_task_from(&c[0], o)))
		return err;
	for (size_t i = 0; i < o->ds.n; i++)
		if ((err = load_dataset(&c[i], p->l, o, o->ds.v[i], !nrep)))
			return err;
	return 0;
}

static void candidates_free(struct candidate *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++) {
		json_decref(c[i].desc);
		json_decref(c[i].shards);
		rq_summary_free(c[i].sum);
		rq_array_free(c[i].emb);
		rq_array_free(c[i].lab);
	}
	free(c);
}

static int load_base(struct base *b, rq_ledger *l, const char *ref, const struct plan_opts *o)
{
	rq_buf bytes = RQ_BUF_INIT;
	int err;

	if ((err = rq_version_resolve(&b->v, l, ref))) {
		rq_error_prefix(err, "--from %s: ", ref);
		goto done;
	}
	if (o->m->needs & MEASURE_BASE_SUMMARY) {
		const char *name = rq_json_str(b->v->body, "name", ref);
		if (!json_object_get(json_object_get(b->v->body, "attachments"), "summary.rqs")) {
			err = rq_error_set(RQ_EINVALID,
					   "version %s records no representation summary: a %s plan compares it with the new data's "
					   "(commit the version with --embeddings/--labels or --summary)", name, o->m->kind->name);
			goto done;
		}
		if ((err = rq_ledger_attachment(&bytes, l, b->v, "summary.rqs")) ||
		    (err = rq_summary_decode(&b->sum, bytes.ptr, bytes.len, name)))
			goto done;
	}
	err = rq_history_gather(&b->h, l, b->v, o->family, o->m->kind);
done:
	rq_buf_release(&bytes);
	return err;
}

static int load_when(rq_when_series *out, const char *path)
{
	rq_buf text = RQ_BUF_INIT;
	int err;

	if (!(err = rq_file_read(&text, path)))
		err = rq_when_parse(out, text.ptr, text.len, path);
	rq_buf_release(&text);
	return err;
}

/* Read everything the forecasts need: grid, hardware, --when, the
 * candidates, the bases and their histories. */
static int gather(struct plan *p, const struct plan_opts *o)
{
	char nowbuf[RQ_TIME_SIZE];
	int err;

	if ((err = rq_grid_resolve(&p->grid, p->l, o->region, o->pue, o->intensity)))
		return err;
	if (o->hardware)
		rq_buf_puts(&p->hw, o->hardware);
	else
		rq_ledger_config_get(&p->hw, p->l, "resque.hardware");
	rq_error_clear();
	if (o->when_path && (err = load_when(&p->series, o->when_path)))
		return err;
	rq_time_now(nowbuf);
	if (rq_time_parse(&p->now, nowbuf))
		p->now = INT64_MIN;
	if ((err = load_candidates(p, o)))
		return err;
	p->bases = rq_xcalloc(o->from.n, sizeof(*p->bases));
	p->nbases = o->from.n;
	for (size_t i = 0; i < o->from.n; i++)
		rq_history_init(&p->bases[i].h);
	for (size_t i = 0; i < o->from.n; i++)
		if ((err = load_base(&p->bases[i], p->l, o->from.v[i], o)))
			return err;
	/* Without --hardware or config, the update runs where the (first) base
	 * version was trained, if its cost says where; else on this machine. */
	if (!p->hw.len) {
		const char *base_hw = rq_json_str(json_object_get(p->bases[0].v->body, "cost"), "hardware", NULL);
		if (base_hw)
			rq_buf_puts(&p->hw, base_hw);
		else
			rq_meter_machine_profile(&p->hw);
	}
	return 0;
}

/* --- build ------------------------------------------------------------- */

static int compute_index(struct result *r, const struct plan_opts *o)
{
	struct candidate *c = r->c;
	struct measure_input in = { r->b->sum, c->sum, c->emb, c->lab, c->label,
				    rq_json_str(r->b->v->body, "name", "?") };
	bool per_candidate = !(o->m->needs & MEASURE_BASE_SUMMARY);
	int err;

	if (per_candidate && c->has_value) {
		r->value = c->value;
		return 0;
	}
	err = o->m->plan_index(&r->value, &in);
	if (per_candidate && !err) {
		c->value = r->value;
		c->has_value = true;
	}
	return err;
}

/* Forecast result `r` (its index computed) and, with --when, its best start. */
static int forecast_one(struct result *r, const struct plan *p, const struct plan_opts *o)
{
	rq_forecast_input in = { 0 };
	int err;

	in.kind = o->m->kind;
	in.index = r->value.index;
	in.family = o->shift_family;
	in.hardware = p->hw.ptr;
	in.train_size = r->c->train_size;
	in.scratch_epochs = r->b->h.scratch_epochs;
	in.history = r->b->h.points;
	in.n_history = r->b->h.n_points;
	in.traces = r->b->h.traces;
	in.n_traces = r->b->h.n_traces;
	in.intensity = p->grid.intensity;
	in.pue = p->grid.pue;
	if ((err = rq_forecast_compute(&r->f, &in)))
		return rq_error_prefix(err, "plan from %s on %s: ", rq_json_str(r->b->v->body, "name", "?"),
				       r->c->label);
	if (!o->when_path)
		return 0;
	if (!r->f.duration_s.known)
		return rq_error_set(RQ_EINVALID,
				    "%s: --when needs the run's duration, and no past run on '%s' of this lineage recorded one",
				    o->when_path, p->hw.ptr);
	if ((err = rq_when_best(&r->when, &p->series, r->f.duration_s.mean, p->now,
				r->f.energy_kwh.known ? r->f.energy_kwh.mean : NAN, p->grid.pue, o->when_path)))
		return err;
	r->has_when = true;
	return 0;
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

/* One result per base and candidate, ranked by carbon. */
static int build(struct plan *p, const struct plan_opts *o)
{
	int err;

	/* Both counts are counts of arguments: their product cannot overflow. */
	p->res = rq_xcalloc(p->nbases * p->ncand + 1, sizeof(*p->res));
	for (size_t i = 0; i < p->nbases; i++) {
		for (size_t j = 0; j < p->ncand; j++) {
			struct result *r = &p->res[p->nres];
			r->b = &p->bases[i];
			r->c = &p->cands[j];
			r->order = p->nres++;
			if ((err = compute_index(r, o)) || (err = forecast_one(r, p, o)))
				return err;
		}
	}
	qsort(p->res, p->nres, sizeof(*p->res), by_carbon);
	return 0;
}

/* --- append and print ---------------------------------------------------- */

/* Which is forecast to cost less, by carbon when both are known, else by
 * energy: "reuse", "scratch", or NULL (unknown). */
static const char *advice(const rq_forecast *f)
{
	double s = isfinite(f->saving_kg) ? f->saving_kg : f->saving_kwh;
	if (!isfinite(s))
		return NULL;
	return s < 0 ? "scratch" : "reuse";
}

static json_t *calibration_json(const rq_forecast *f, const char *shift_family)
{
	const rq_calibration *c = &f->cal_epochs;
	json_t *j = json_pack("{s:I, s:b, s:s, s:s, s:I}", "n", (json_int_t)c->n, "prior_only",
			      f->prior_only, "basis", rq_calibration_name(c->source), "shift_family",
			      shift_family, "families", (json_int_t)c->n_families);
	json_object_set_new(j, "a", rq_json_number(c->a));
	json_object_set_new(j, "b", rq_json_number(c->b));
	if (c->source == RQ_CAL_FAMILY || c->source == RQ_CAL_POOLED) {
		json_object_set_new(j, "model", json_string("hierarchical"));
		json_object_set_new(j, "scale", json_string("log(epochs + 1)"));
		json_object_set_new(j, "n_family", json_integer((json_int_t)c->n_family));
		json_object_set_new(j, "n_censored", json_integer((json_int_t)c->n_censored));
		json_object_set_new(j, "sigma", rq_json_number(c->sigma));
		json_object_set_new(j, "tau_a", rq_json_number(c->tau_a));
		json_object_set_new(j, "tau_b", rq_json_number(c->tau_b));
		json_object_set_new(j, "tau2", rq_json_number(c->tau2));
	}
	return j;
}

static json_t *forecast_json(const rq_forecast *f)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "epochs", plan_quantiles_json(&f->epochs),
			 "energy_kwh", plan_quantiles_json(&f->energy_kwh), "carbon_kg",
			 plan_quantiles_json(&f->carbon_kg), "duration_s", plan_quantiles_json(&f->duration_s),
			 "param_change", plan_quantiles_json(&f->param_change), "grad_norm",
			 plan_quantiles_json(&f->grad_norm));
}

static json_t *when_json(const struct result *r)
{
	char start[RQ_TIME_SIZE], base[RQ_TIME_SIZE];

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
static json_t *result_json(const struct result *r, const struct plan *p, const struct plan_opts *o)
{
	const rq_forecast *f = &r->f;
	const rq_grid *g = &p->grid;
	json_t *j = json_object();

	json_object_set_new(j, "from", json_string(r->b->v->id));
	json_object_set_new(j, "from_name", json_string(rq_json_str(r->b->v->body, "name", "")));
	json_object_set_new(j, "kind", json_string(o->m->kind->name));
	json_object_set_new(j, "index", json_real(r->value.index));
	json_object_set_new(j, "shift_family", json_string(o->shift_family));
	if (rq_json_str(r->b->v->body, "family", NULL))
		json_object_set_new(j, "family", json_string(rq_json_str(r->b->v->body, "family", "")));
	json_object_set_new(j, "hardware", json_string(p->hw.ptr));
	json_object_set_new(j, "region", g->region ? json_string(g->region->code) : json_null());
	json_object_set_new(j, "pue", json_real(g->pue));
	json_object_set_new(j, "intensity_g_per_kwh", rq_json_number(g->intensity));
	json_object_set_new(j, "candidate", json_deep_copy(r->c->desc));
	if (r->c->shards)
		json_object_set_new(j, "shards", json_deep_copy(r->c->shards));
	json_object_set_new(j, "train_size",
			    isfinite(r->c->train_size) ? json_integer((json_int_t)r->c->train_size) : json_null());
	json_object_set_new(j, "train_size_source", r->c->size_source[0] ? json_string(r->c->size_source) : json_null());
	json_object_set_new(j, "calibration", calibration_json(f, o->shift_family));
	json_object_set_new(j, "energy_per_epoch",
			    json_pack("{s:o, s:s, s:I, s:I}", "kwh",
				      rq_json_number(f->kwh_per_epoch.known ? f->kwh_per_epoch.loc : NAN), "source",
				      f->kwh_per_epoch.source, "runs", (json_int_t)f->kwh_per_epoch.runs,
				      "epochs", (json_int_t)f->kwh_per_epoch.epochs));
	json_object_set_new(j, "forecast", forecast_json(f));
	json_object_set_new(j, "scratch", json_pack("{s:o, s:o, s:o, s:o}", "epochs", rq_json_number(f->scratch_epochs),
						    "energy_kwh", plan_quantiles_json(&f->scratch_energy_kwh),
						    "carbon_kg", plan_quantiles_json(&f->scratch_carbon_kg),
						    "duration_s", plan_quantiles_json(&f->scratch_duration_s)));
	json_object_set_new(j, "saving", json_pack("{s:o, s:o}", "energy_kwh", rq_json_number(f->saving_kwh),
						   "carbon_kg", rq_json_number(f->saving_kg)));
	json_object_set_new(j, "when", when_json(r));
	json_object_set_new(j, "advice", advice(f) ? json_string(advice(f)) : json_null());
	if (f->not_forecast[0])
		json_object_set_new(j, "not_forecast", json_string(f->not_forecast));
	return j;
}

/* One signed `plan` entry per result, in rank order. */
static int append(struct plan *p, const struct plan_opts *o)
{
	int err = 0;

	for (size_t i = 0; i < p->nres && !err; i++) {
		rq_entry *e = NULL;
		json_t *body = result_json(&p->res[i], p, o);
		strip_nulls(body);
		if (!(err = rq_ledger_append(&e, p->l, "plan", body, NULL, 0)))
			snprintf(p->res[i].id, sizeof(p->res[i].id), "%s", e->id);
		rq_entry_free(e);
	}
	return err;
}

static void print_q(const char *what, const rq_quantiles *q)
{
	if (!q->known) {
		printf("  %-18s %12s\n", what, "not forecast");
		return;
	}
	char i80[48], i95[48];

	snprintf(i80, sizeof(i80), "[%.4g, %.4g]", q->p10, q->p90);
	snprintf(i95, sizeof(i95), "[%.4g, %.4g]", q->p2_5, q->p97_5);
	printf("  %-18s %12.4g   %-20s %-20s %.4g\n", what, q->p50, i80, i95, q->mean);
}

static void print_calibration(const struct result *r, const struct plan_opts *o)
{
	const rq_calibration *c = &r->f.cal_epochs;
	const char *root = r->b->h.root_name;

	switch (c->source) {
	case RQ_CAL_PRIOR:
		printf("  calibration: UNCALIBRATED prior (no past %s update of this lineage has a recorded actual):\n"
		       "    epochs ~ E0 x min(1, R / %.2g), E0 = %.4g epochs of training %s from scratch\n",
		       o->m->kind->name, o->m->kind->r_full, r->b->h.scratch_epochs,
		       *root ? root : "the first version");
		break;
	case RQ_CAL_FAMILY:
	case RQ_CAL_POOLED:
		printf("  calibration: %zu past update(s) in %zu shift famil%s, %zu of them '%s' (basis: %s)\n",
		       c->n, c->n_families, c->n_families == 1 ? "y" : "ies", c->n_family, o->shift_family,
		       rq_calibration_name(c->source));
		printf("    partial pooling: each family's line log(epochs + 1) = a + b R is drawn around the\n"
		       "    lineage's (spread %.2g), noise shared (sd %.2g)%s\n", c->tau_a, c->sigma,
		       c->n_family ? "" : "; this family has no point yet: its line is a new draw");
		if (c->n_censored)
			printf("    %zu of the points missed their target: taken as lower bounds (censored)\n",
			       c->n_censored);
		break;
	default:
		printf("  calibration: none\n");
	}
}

/* The figures of one result: the forecast table and the energy per epoch. */
static void print_figures(const rq_forecast *f)
{
	printf("  %-18s %12s   %-20s %-20s %s\n", "", "median", "80 % interval", "95 % interval", "mean");
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
}

static void print_grid(const rq_grid *g)
{
	if (!isnan(g->intensity) && strcmp(g->intensity_source, "region") == 0)
		printf("  grid: %.4g g CO2e/kWh (region %s, %s), PUE %.3g (%s)\n", g->intensity,
		       g->region->code, g->region->name, g->pue, g->pue_source);
	else if (!isnan(g->intensity))
		printf("  grid: %.4g g CO2e/kWh (--intensity), PUE %.3g (%s)\n", g->intensity, g->pue,
		       g->pue_source);
	else
		printf("  grid: no region (set one with 'resque config region CODE', --region or --intensity):\n"
		       "    carbon is not forecast\n");
}

/* Training from scratch, what reuse saves, and the best start. */
static void print_advice(const struct result *r)
{
	const rq_forecast *f = &r->f;
	const char *a = advice(f);
	bool kg = isfinite(f->saving_kg);
	double reuse = kg ? f->carbon_kg.mean : f->energy_kwh.mean;
	double scratch = kg ? f->scratch_carbon_kg.mean : f->scratch_energy_kwh.mean;

	if (!a)
		return;
	if (strcmp(a, "scratch") == 0)
		printf("  ADVICE: training from scratch is forecast to cost LESS than reusing %s:\n"
		       "    %.4g %s from scratch against %.4g %s for the update (%.4g %s more to reuse)\n",
		       rq_json_str(r->b->v->body, "name", "the base"), scratch, kg ? "kg CO2e" : "kWh", reuse,
		       kg ? "kg CO2e" : "kWh", reuse - scratch, kg ? "kg CO2e" : "kWh");
	else if (kg)
		printf("  reuse saves %.4g kWh, %.4g kg CO2e (%.0f %% of training from scratch)\n", f->saving_kwh,
		       f->saving_kg, scratch > 0 ? 100 * (scratch - reuse) / scratch : 0.0);
	else
		printf("  reuse saves %.4g kWh (%.0f %% of training from scratch)\n", f->saving_kwh,
		       scratch > 0 ? 100 * (scratch - reuse) / scratch : 0.0);
}

static void print_alternatives(const struct result *r)
{
	const rq_forecast *f = &r->f;
	char t[RQ_TIME_SIZE];

	if (isfinite(f->scratch_epochs)) {
		printf("  from scratch: %.4g epochs", f->scratch_epochs);
		if (f->scratch_energy_kwh.known)
			printf(", %.4g kWh", f->scratch_energy_kwh.mean);
		if (f->scratch_carbon_kg.known)
			printf(", %.4g kg CO2e", f->scratch_carbon_kg.mean);
		printf("\n");
		print_advice(r);
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

static void print_result(const struct result *r, size_t rank, const struct plan *p, const struct plan_opts *o)
{
	if (p->nres > 1)
		printf("%s#%zu of %zu by carbon: ", rank ? "\n" : "", rank + 1, p->nres);
	printf("plan from %s on %s", rq_json_str(r->b->v->body, "name", "?"), r->c->label);
	if (o->dry_run)
		printf(" (dry run, not recorded)\n");
	else
		printf(" (recorded as %.12s)\n", r->id);
	printf("  %s %.6f%s\n", o->m->title, r->value.index, r->value.detail);
	if (r->c->shards)
		printf("  from %" JSON_INTEGER_FORMAT " shards, %" JSON_INTEGER_FORMAT " rows (shard list %s)\n",
		       rq_json_int(r->c->shards, "count", 0), rq_json_int(r->c->shards, "rows", 0),
		       rq_json_str(r->c->shards, "fingerprint", "?"));
	print_calibration(r, o);
	print_figures(&r->f);
	print_grid(&p->grid);
	printf("  hardware: %s\n", p->hw.ptr);
	if (isfinite(r->c->train_size))
		printf("  training set: %.0f samples (%s)\n", r->c->train_size, r->c->size_source);
	else
		printf("  training set: size unknown (give --train-size or a --dataset recorded with --labels):\n"
		       "    energy per epoch is not scaled by it\n");
	print_alternatives(r);
}

/* The plans ranked together with training from scratch (one option per
 * base version): by carbon when every option has it, else by energy.
 * NULL when no option has a figure to rank by. */
static json_t *ranking_json(const struct plan *p)
{
	bool kg = true;
	json_t *opts = json_array(), *o;
	size_t i;

	for (i = 0; i < p->nres; i++)
		kg = kg && p->res[i].f.carbon_kg.known && p->res[i].f.scratch_carbon_kg.known;
	for (i = 0; i < p->nres; i++) {
		const struct result *r = &p->res[i];
		const rq_quantiles *q = kg ? &r->f.carbon_kg : &r->f.energy_kwh;
		if (q->known)
			json_array_append_new(opts, json_pack("{s:s, s:s, s:s, s:o, s:f}", "option", "reuse", "from",
							      rq_json_str(r->b->v->body, "name", ""), "candidate",
							      r->c->label, "id", r->id[0] ? json_string(r->id) : json_null(),
							      "cost", q->mean));
	}
	for (size_t b = 0; b < p->nbases; b++) {
		size_t dup = 0;
		while (dup < b && strcmp(p->bases[dup].v->id, p->bases[b].v->id) != 0)
			dup++;
		if (dup < b)
			continue; /* the same version given twice: one scratch option */
		for (i = 0; i < p->nres && p->res[i].b != &p->bases[b]; i++)
			;
		const rq_quantiles *q = i < p->nres ? (kg ? &p->res[i].f.scratch_carbon_kg
							: &p->res[i].f.scratch_energy_kwh) : NULL;
		if (q && q->known)
			json_array_append_new(opts, json_pack("{s:s, s:s, s:f}", "option", "scratch", "from",
							      rq_json_str(p->bases[b].v->body, "name", ""), "cost",
							      q->mean));
	}
	if (json_array_size(opts) == 0) {
		json_decref(opts);
		return NULL;
	}
	/* insertion sort by cost: a handful of options */
	for (i = 1; i < json_array_size(opts); i++)
		for (size_t k = i; k > 0 && rq_json_num(json_array_get(opts, k), "cost", 0) <
						rq_json_num(json_array_get(opts, k - 1), "cost", 0); k--) {
			o = json_incref(json_array_get(opts, k));
			json_array_set(opts, k, json_array_get(opts, k - 1));
			json_array_set_new(opts, k - 1, o);
		}
	return json_pack("{s:s, s:o}", "by", kg ? "carbon_kg" : "energy_kwh", "options", opts);
}

/* The ranking with scratch, when scratch beats at least one plan. */
static void print_ranking(const struct plan *p)
{
	json_t *r = ranking_json(p), *o;
	bool kg, scratch_wins = false;
	size_t i;

	for (i = 0; i < p->nres; i++)
		scratch_wins = scratch_wins || (advice(&p->res[i].f) && strcmp(advice(&p->res[i].f), "scratch") == 0);
	if (!r || !scratch_wins) {
		json_decref(r);
		return;
	}
	kg = strcmp(rq_json_str(r, "by", ""), "carbon_kg") == 0;
	printf("\nranked with training from scratch (by %s):\n", kg ? "carbon" : "energy");
	json_array_foreach(json_object_get(r, "options"), i, o) {
		bool s = strcmp(rq_json_str(o, "option", ""), "scratch") == 0;
		printf("  %zu. %s %s%s%s: %.4g %s\n", i + 1, s ? "train from scratch, as" : "reuse",
		       rq_json_str(o, "from", "?"), s ? "" : " on ", s ? "" : rq_json_str(o, "candidate", ""),
		       rq_json_num(o, "cost", NAN), kg ? "kg CO2e" : "kWh");
	}
	json_decref(r);
}

/* The results in rank order, as text or one JSON document. */
static int print(const struct plan *p, const struct plan_opts *o)
{
	json_t *plans, *out;
	int rc;

	if (!o->json) {
		for (size_t i = 0; i < p->nres; i++)
			print_result(&p->res[i], i, p, o);
		print_ranking(p);
		return EXIT_OK;
	}
	plans = json_array();
	out = json_pack("{s:o}", "plans", plans);
	{
		json_t *rk = ranking_json(p);
		json_object_set_new(out, "ranking", rk ? rk : json_null());
	}
	for (size_t i = 0; i < p->nres; i++) {
		const struct result *r = &p->res[i];
		json_t *j = result_json(r, p, o);
		json_object_set_new(j, "from_id", json_string(r->b->v->id));
		json_object_set_new(j, "from", json_string(rq_json_str(r->b->v->body, "name", "")));
		json_object_set_new(j, "rank", json_integer((json_int_t)i + 1));
		json_object_set_new(j, "id", o->dry_run ? json_null() : json_string(r->id));
		json_array_append_new(plans, j);
	}
	rc = cmd_print_json(out);
	json_decref(out);
	return rc;
}

static void plan_release(struct plan *p)
{
	free(p->res);
	for (size_t i = 0; p->bases && i < p->nbases; i++) {
		rq_entry_free(p->bases[i].v);
		rq_summary_free(p->bases[i].sum);
		rq_history_release(&p->bases[i].h);
	}
	free(p->bases);
	candidates_free(p->cands, p->ncand);
	rq_when_release(&p->series);
	rq_buf_release(&p->hw);
	cmd_close_ledger(p->l, p->k);
}

int cmd_plan(int argc, char **argv)
{
	struct plan_opts o = { 0 };
	struct plan p = { 0 };
	int rc = EXIT_OK, err;

	rq_buf_init(&p.hw);
	if (!parse_options(&o, &rc, argc, argv))
		goto out;
	if (o.backtest) {
		rc = plan_backtest(o.lineage ? o.lineage : o.from.v[0], o.family, o.m->kind, o.json);
		goto out;
	}
	if ((rc = cmd_open_ledger(&p.l, o.dry_run ? NULL : &p.k)))
		goto out;
	if ((err = gather(&p, &o)) || (err = build(&p, &o)) || (!o.dry_run && (err = append(&p, &o))))
		rc = cmd_fail_code(err);
	else
		rc = print(&p, &o);
out:
	plan_release(&p);
	plan_opts_release(&o);
	return rc;
}
