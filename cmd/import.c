/* resque import: record as `actual` entries what other tools measured —
 * CodeCarbon's emissions.csv and nvidia-smi power logs. */
#include "common.h"
#include "cmd.h"
#include "bounds.h"
#include "actual_context.h"
#include "resque/fingerprint.h"
#include "import.h"
#include "json.h"
#include "ledger_int.h"
#include "lineage.h"

#include <math.h>

static const struct cmd_help cc_help = {
	"import codecarbon", "record the runs of a CodeCarbon emissions.csv",
	"Reads FILE's columns by name (any CodeCarbon version: duration,\n"
	"emissions, energy_consumed required) and records one `actual` per run\n"
	"(rows sharing a run_id are snapshots of one run: the last counts), with\n"
	"method \"imported\", meter \"codecarbon\", energy and carbon as CodeCarbon\n"
	"computed them. A run already imported (same run_id) is skipped.\n"
	"--plan, --name, --epochs and --target-missed/--target-reached need a\n"
	"single run: choose it with --run-id. --target-missed: the run stopped\n"
	"(at a budget) before reaching its target, so its epochs are a lower\n"
	"bound (docs/FORMATS.md, \"Actual entries\").\n"
	"--json prints a JSON array with one object per recorded actual (the\n"
	"fields of 'resque show ACTUAL --json').",
};

static const struct cmd_help nv_help = {
	"import nvidia-smi", "record the energy of an nvidia-smi power log",
	"Integrates power.draw over the timestamps of a log written by\n"
	"`nvidia-smi --query-gpu=timestamp,name,index,power.draw --format=csv -l 1`\n"
	"(trapezoid rule, per GPU, summed) and records it as one `actual` with\n"
	"method \"imported\", meter \"nvidia-smi\". A last line cut short is skipped\n"
	"with a warning. Carbon uses --region/--pue or 'resque config'. The same\n"
	"file (by fingerprint) is imported once. --target-missed: the run stopped\n"
	"(at a budget) before reaching its target. --json prints a JSON array\n"
	"with the recorded actual.",
};

struct dup_search {
	const char *key;   /* "run_id" or "fingerprint" */
	const char *value;
	const char *meter;
	char found[RQ_ID_HEX_SIZE];
};

static int find_dup(const rq_entry *e, void *arg)
{
	struct dup_search *d = arg;
	const json_t *src = json_object_get(e->body, "source");
	if (strcmp(rq_json_str(e->body, "meter", ""), d->meter) == 0 &&
	    strcmp(rq_json_str(src, d->key, ""), d->value) == 0) {
		snprintf(d->found, sizeof(d->found), "%s", e->id);
		return 1;
	}
	return 0;
}

/* One source to import at most once: a CodeCarbon run id, or the
 * fingerprint of an nvidia-smi log. */
struct dup_check {
	const char *file;
	const char *meter; /* "codecarbon" or "nvidia-smi" */
	const char *key;   /* "run_id" or "fingerprint" */
	const char *value;
	bool found;        /* set when an earlier import was found */
};

/* RQ_EEXISTS, with the message both checks share, when the source was
 * imported already; 0 when not; another error when the ledger cannot be
 * read. Run when the command starts (so that a duplicate fails before any
 * work) and again under the writer's lock (so that two concurrent imports
 * of the same run cannot both record it). */
static int already_imported(rq_ledger *l, struct dup_check *c)
{
	struct dup_search d = { c->key, c->value, c->meter, "" };
	int err = 0;
	c->found = false;
	if (!*c->value)
		return 0;
	err = rq_ledger_foreach(l, "actual", find_dup, &d);
	if (err == 1) {
		c->found = true;
		if (strcmp(c->key, "run_id") == 0)
			err = rq_error_set(RQ_EEXISTS, "%s: run '%s' was imported already as %.12s", c->file,
					   c->value, d.found);
		else
			err = rq_error_set(RQ_EEXISTS, "%s: imported already as %.12s (same fingerprint)", c->file,
					   d.found);
	} else if (!err) {
		rq_error_clear();
	}
	return err;
}

static int dup_check_fn(rq_ledger *l, void *ctx)
{
	return already_imported(l, ctx);
}

/* Every run of the file was imported already (when the command started,
 * or by another process before this one took the writer's lock). */
static int nothing_to_import(const char *file)
{
	return cmd_error("%s: nothing to import: every run in it was imported already", file);
}

struct import_opts {
	const char *file, *plan, *name, *region, *hardware;
	double pue, train_size;
	long long epochs;
	bool json, target_missed, target_reached;
};

/* What an import holds while it records: the file, the ledger and the
 * actuals' context. */
struct import_state {
	rq_buf data;
	rq_ledger *l;
	rq_key *k;
	struct actual_ctx ctx;
	bool ctx_loaded;
	char fp[RQ_FINGERPRINT_SIZE]; /* of the file */
};

static void state_init(struct import_state *st)
{
	memset(st, 0, sizeof(*st));
	rq_buf_init(&st->data);
}

/* Once the file is read and parsed: open the ledger, load the context and
 * fingerprint the file. 0, or the exit status. */
static int state_open(struct import_state *st, const struct import_opts *o)
{
	int rc;
	if ((rc = cmd_open_ledger(&st->l, &st->k)) ||
	    (rc = actual_ctx_load(&st->ctx, st->l, o->plan, o->region, o->pue, o->hardware)))
		return rc;
	st->ctx_loaded = true;
	rq_fingerprint_bytes(st->fp, st->data.ptr, st->data.len);
	return 0;
}

static void state_release(struct import_state *st)
{
	if (st->ctx_loaded)
		actual_ctx_release(&st->ctx);
	rq_buf_release(&st->data);
	cmd_close_ledger(st->l, st->k);
}

/* Append every body (ownership taken), each if its source was not
 * imported meanwhile (checks[i], under the writer's lock), print them, and
 * return the status. With `skip_dups`, a source imported meanwhile is
 * skipped with a warning, as when the command started; a failure when
 * nothing was left to record. */
static int record_all(rq_ledger *l, const struct actual_ctx *ctx, json_t **bodies, struct dup_check *checks,
		      size_t n, bool skip_dups, bool json)
{
	json_t *out = json_array();
	int rc = EXIT_OK;
	size_t i, recorded = 0;
	for (i = 0; i < n; i++) {
		rq_entry *e = NULL;
		int err = rq_ledger_append_if(&e, l, "actual", bodies[i], NULL, 0, dup_check_fn, &checks[i]);
		bodies[i] = NULL;
		if (err && checks[i].found && skip_dups) {
			cmd_warn("%s; skipped", rq_error_last());
			continue;
		}
		if (err) {
			rc = cmd_fail_code(err);
			break;
		}
		recorded++;
		json_array_append_new(out, actual_json(e, ctx->plan));
		if (!json)
			actual_print(stdout, e, ctx->plan);
		rq_entry_free(e);
	}
	for (; i < n; i++)
		json_decref(bodies[i]);
	if (rc == EXIT_OK && recorded == 0)
		rc = nothing_to_import(checks[0].file);
	if (json && rc == EXIT_OK)
		rc = cmd_print_json(out) ? EXIT_FAIL : EXIT_OK;
	json_decref(out);
	return rc;
}

/* Finish the body of an imported run: `source` (consumed) is what the
 * importer said of the run that is not a field of the body; it gains the
 * file's format, path and fingerprint. Then the options and the context. */
static void set_common(json_t *body, const struct import_opts *o, const char *format,
		       const char *fingerprint, json_t *source, const struct actual_ctx *ctx)
{
	json_object_set_new(source, "format", json_string(format));
	json_object_set_new(source, "file", json_string(o->file));
	json_object_set_new(source, "fingerprint", json_string(fingerprint));
	json_object_set_new(body, "source", source);
	json_object_set_new(body, "status", json_string("succeeded"));
	if (o->name)
		json_object_set_new(body, "name", json_string(o->name));
	if (o->epochs > 0)
		json_object_set_new(body, "epochs", json_integer(o->epochs));
	if (o->target_missed || o->target_reached)
		json_object_set_new(body, "target", json_string(o->target_missed ? "missed" : "reached"));
	actual_ctx_apply(ctx, body, o->file);
	cmd_train_size_apply(body, o->train_size, ctx->plan);
}

static int check_opts(const struct cmd_help *h, const struct opt *opts, const struct import_opts *o)
{
	if (o->name && !rq_name_valid(o->name, RQ_NAME_VERSION))
		return cmd_usage(h, opts, "'%s' is not a valid name (letters, digits, . _ + -)", o->name);
	if (o->epochs < 0)
		return cmd_usage(h, opts, "--epochs must be a positive number");
	if (!isnan(o->pue) && (!isfinite(o->pue) || o->pue < 1))
		return cmd_usage(h, opts, "--pue must be a number >= 1");
	if (o->epochs > 0 && rq_bound_check("epochs", (double)o->epochs, "--epochs"))
		return cmd_usage(h, opts, "%s", rq_error_last());
	if (!isnan(o->pue) && rq_bound_check("pue", o->pue, "--pue"))
		return cmd_usage(h, opts, "%s", rq_error_last());
	if (o->target_missed && o->target_reached)
		return cmd_usage(h, opts, "--target-missed and --target-reached exclude each other");
	if (cmd_train_size_check(o->train_size))
		return cmd_usage(h, opts, "%s", rq_error_last());
	return 0;
}

/* Move `key` of `from` to `to` (renamed `as`), when present. */
static void move_field(json_t *to, const char *as, json_t *from, const char *key)
{
	json_t *v = json_object_get(from, key);
	if (v) {
		json_object_set(to, as, v);
		json_object_del(from, key);
	}
}

/* A new body holding the fields `top` of the importer's JSON `from`,
 * moved out of it. */
static json_t *take_fields(json_t *from, const char *const *top, size_t n)
{
	json_t *body = json_object();
	for (size_t f = 0; f < n; f++)
		move_field(body, top[f], from, top[f]);
	return body;
}

/* The body of the actual for one CodeCarbon run. New reference. */
static json_t *cc_run_body(const rq_cc_run *run, const struct import_opts *o, const char *fp,
			   const struct actual_ctx *ctx)
{
	static const char *const top[] = { "energy_kwh", "carbon_kg", "duration_s", "method", "meter", "pue" };
	json_t *cc = rq_cc_run_json(run), *body = take_fields(cc, top, RQ_ARRAY_SIZE(top)), *dom = json_object();
	move_field(dom, "cpu", cc, "cpu_kwh");
	move_field(dom, "gpu", cc, "gpu_kwh");
	move_field(dom, "ram", cc, "ram_kwh");
	if (json_object_size(dom))
		json_object_set(body, "domains_kwh", dom);
	json_decref(dom);
	if (run->country_iso_code && *run->country_iso_code)
		json_object_set_new(body, "region", json_string(run->country_iso_code));
	/* CodeCarbon's `region` is a province name, not a grid code:
	 * everything the file says about the run stays under source */
	set_common(body, o, "codecarbon", fp, cc, ctx);
	return body;
}

/* The bodies of the runs not imported yet, with their checks; a run
 * imported already is skipped with a warning. 0, or the exit status. */
static int cc_gather(json_t **bodies, struct dup_check *checks, size_t *nb, rq_ledger *l, const rq_cc_import *r,
		     const struct import_opts *o, const char *fp, const struct actual_ctx *ctx)
{
	for (size_t i = 0; i < r->n; i++) {
		int err;
		checks[*nb] = (struct dup_check){ o->file, "codecarbon", "run_id", r->runs[i].run_id, false };
		if ((err = already_imported(l, &checks[*nb]))) {
			if (!checks[*nb].found)
				return cmd_fail_code(err);
			cmd_warn("%s; skipped", rq_error_last());
			continue;
		}
		bodies[(*nb)++] = cc_run_body(&r->runs[i], o, fp, ctx);
	}
	return *nb ? 0 : nothing_to_import(o->file);
}

static int import_codecarbon(int argc, char **argv)
{
	struct import_opts o = { .pue = NAN, .train_size = NAN };
	const char *run_id = NULL;
	const struct opt opts[] = {
		{ OPT_STRING, 0, "run-id", &run_id, "R", "import only run R" },
		{ OPT_STRING, 0, "plan", &o.plan, "ID", "the plan the run carried out" },
		{ OPT_STRING, 0, "name", &o.name, "N", "a name for the run" },
		{ OPT_INT, 0, "epochs", &o.epochs, "N", "epochs the run trained (CodeCarbon does not know)" },
		{ OPT_BOOL, 0, "target-missed", &o.target_missed, NULL, "the run stopped before reaching its target" },
		{ OPT_BOOL, 0, "target-reached", &o.target_reached, NULL, "the run reached its target" },
		{ OPT_STRING, 0, "hardware", &o.hardware, "H", "hardware profile (default: config resque.hardware)" },
		{ OPT_DOUBLE, 0, "train-size", &o.train_size, "N", "samples in the training set (default: the plan's)" },
		{ OPT_BOOL, 0, "json", &o.json, NULL, "print the recorded actuals as JSON" },
		{ OPT_ARG, 0, "FILE", &o.file, NULL, "CodeCarbon's emissions.csv", OPT_REQUIRED },
		{ OPT_END },
	};
	struct import_state st;
	rq_cc_import r;
	json_t **bodies = NULL;
	struct dup_check *checks = NULL;
	size_t nb = 0;
	int rc = EXIT_OK, err;

	state_init(&st);
	rq_cc_import_init(&r);
	if (!opt_parse(&rc, &cc_help, opts, argc, argv) || (rc = check_opts(&cc_help, opts, &o)))
		goto done;
	if ((err = rq_file_read(&st.data, o.file)) ||
	    (err = rq_import_codecarbon(&r, st.data.ptr, st.data.len, o.file, run_id))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	fputs(r.warnings.ptr, stderr);
	if (r.n > 1 && (o.plan || o.name || o.epochs || o.target_missed || o.target_reached || !isnan(o.train_size))) {
		rc = cmd_error("%s holds %zu runs: choose one with --run-id to give it --plan, --name, --epochs, --train-size or --target-*",
			       o.file, r.n);
		goto done;
	}
	if ((rc = state_open(&st, &o)))
		goto done;
	bodies = rq_xcalloc(r.n, sizeof(*bodies));
	checks = rq_xcalloc(r.n, sizeof(*checks));
	if (!(rc = cc_gather(bodies, checks, &nb, st.l, &r, &o, st.fp, &st.ctx)))
		rc = record_all(st.l, &st.ctx, bodies, checks, nb, true, o.json);
	else
		for (size_t i = 0; i < nb; i++)
			json_decref(bodies[i]);
done:
	free(bodies);
	free(checks);
	rq_cc_import_release(&r);
	state_release(&st);
	return rc;
}

static int import_nvsmi(int argc, char **argv)
{
	struct import_opts o = { .pue = NAN, .train_size = NAN };
	const struct opt opts[] = {
		{ OPT_STRING, 0, "plan", &o.plan, "ID", "the plan the run carried out" },
		{ OPT_STRING, 0, "name", &o.name, "N", "a name for the run" },
		{ OPT_INT, 0, "epochs", &o.epochs, "N", "epochs the run trained" },
		{ OPT_BOOL, 0, "target-missed", &o.target_missed, NULL, "the run stopped before reaching its target" },
		{ OPT_BOOL, 0, "target-reached", &o.target_reached, NULL, "the run reached its target" },
		{ OPT_STRING, 0, "region", &o.region, "CODE", "grid region for carbon (default: config resque.region)" },
		{ OPT_DOUBLE, 0, "pue", &o.pue, "X", "data-centre PUE (default: config, the cloud region's, or 1)" },
		{ OPT_STRING, 0, "hardware", &o.hardware, "H", "hardware profile (default: config resque.hardware)" },
		{ OPT_DOUBLE, 0, "train-size", &o.train_size, "N", "samples in the training set (default: the plan's)" },
		{ OPT_BOOL, 0, "json", &o.json, NULL, "print the recorded actual as JSON" },
		{ OPT_ARG, 0, "FILE", &o.file, NULL, "the nvidia-smi CSV log", OPT_REQUIRED },
		{ OPT_END },
	};
	struct import_state st;
	rq_nvsmi_import r;
	json_t *body = NULL;
	int rc = EXIT_OK, err;

	state_init(&st);
	rq_nvsmi_import_init(&r);
	if (!opt_parse(&rc, &nv_help, opts, argc, argv) || (rc = check_opts(&nv_help, opts, &o)))
		goto done;
	if ((err = rq_file_read(&st.data, o.file)) ||
	    (err = rq_import_nvsmi(&r, st.data.ptr, st.data.len, o.file))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	fputs(r.warnings.ptr, stderr);
	if ((rc = state_open(&st, &o)))
		goto done;
	struct dup_check check = { o.file, "nvidia-smi", "fingerprint", st.fp, false };
	if ((err = already_imported(st.l, &check))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	static const char *const top[] = { "energy_kwh", "duration_s", "method", "meter", "gpus" };
	json_t *nv = rq_nvsmi_json(&r);
	body = take_fields(nv, top, RQ_ARRAY_SIZE(top));
	json_object_set_new(nv, "skipped", json_integer((json_int_t)r.nskipped));
	set_common(body, &o, "nvidia-smi", st.fp, nv, &st.ctx);
	rc = record_all(st.l, &st.ctx, &body, &check, 1, false, o.json);
	body = NULL;
done:
	json_decref(body);
	rq_nvsmi_import_release(&r);
	state_release(&st);
	return rc;
}

int cmd_import(int argc, char **argv)
{
	static const struct subcmd subs[] = {
		{ "codecarbon", import_codecarbon, "record the runs of a CodeCarbon emissions.csv" },
		{ "nvidia-smi", import_nvsmi, "record the energy of an nvidia-smi power log" },
		{ NULL, NULL, NULL },
	};
	return cmd_dispatch_sub("import", subs, argc, argv);
}
