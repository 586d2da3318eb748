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
	"computed them. A run already imported (same run_id; without one, same\n"
	"timestamp, duration and energy) is skipped; when every run was, the\n"
	"command says \"already imported as ID\" and exits 0 (--json prints them).\n"
	"A run_id None, nan or empty is no id: each such row is a run. A run\n"
	"whose duration or energy falls back restarted: its segments are summed,\n"
	"with a warning. A negative or implausible cpu/gpu/ram energy or pue is\n"
	"dropped with a warning. The ISO-3 country (DEU) becomes the region DE.\n"
	"--plan, --name, --epochs and --target-missed/--target-reached need a\n"
	"single run: choose it with --run-id (--line N: the run whose last row\n"
	"is line N of FILE, for a run without an id). --target-missed: the run\n"
	"stopped (at a budget) before reaching its target, so its epochs are a\n"
	"lower bound (docs/FORMATS.md, \"Actual entries\").\n"
	"--json prints a JSON array with one object per recorded actual (the\n"
	"fields of 'resque show ACTUAL --json').",
};

static const struct cmd_help nv_help = {
	"import nvidia-smi", "record the energy of nvidia-smi power logs",
	"Integrates the power over the timestamps of logs written by\n"
	"`nvidia-smi --query-gpu=timestamp,name,index,power.draw --format=csv -l 1`\n"
	"(trapezoid rule, per GPU, summed) and records them as one `actual` with\n"
	"method \"imported\", meter \"nvidia-smi\". The header variants people keep\n"
	"are recognised (pandas rewrites such as gpu_power_draw, power_draw_w,\n"
	"an index column; timestamps as nvidia-smi writes them, ISO 8601 with an\n"
	"optional zone, or seconds since 1970); --power-column and --time-column\n"
	"name the columns of other files. Several files are one run: one per GPU\n"
	"(overlapping in time: summed) or one log in parts (one after the other:\n"
	"joined; parts of one GPU that overlap are refused, a gap longer than 10\n"
	"sampling intervals is left out with a warning); with --per-node each\n"
	"file is another machine's log (a multi-node run, GPUs numbered from 0\n"
	"on each): nothing is joined, every GPU is summed, the GPU ids become\n"
	"FILE:ID. A last line cut short\n"
	"is skipped with a warning. Carbon uses --region/--pue or 'resque\n"
	"config'. The same files (by fingerprint) are imported once: again, the\n"
	"command says \"already imported as ID\" and exits 0 (--json prints that\n"
	"actual). --target-missed: the run stopped (at a budget) before reaching\n"
	"its target. --json prints a JSON array with the recorded actual.",
};

/* What makes two imports "the same" (docs/FORMATS.md, "Importing the
 * same files again"): an nvidia-smi import is the set of its files'
 * fingerprints (a file of the same name with other bytes is another
 * import); a CodeCarbon run is its run_id, or, for a run without one, its
 * last row's timestamp, duration and energy. */
enum dup_kind { DUP_FINGERPRINTS, DUP_RUN_ID, DUP_ROW };

/* One source to import at most once. */
struct dup_check {
	const char *file;
	const char *meter;    /* "codecarbon" or "nvidia-smi" */
	enum dup_kind kind;
	const char *const *fps; /* DUP_FINGERPRINTS: the files' fingerprints */
	const char *const *names; /* ... and names */
	size_t nfps;
	const char *value;    /* DUP_RUN_ID: the run id; DUP_ROW: the timestamp */
	double duration_s, energy_kwh; /* DUP_ROW, and compared for DUP_RUN_ID */
	bool found;           /* set when an earlier import was found */
	char found_id[RQ_ID_HEX_SIZE];
	/* DUP_FINGERPRINTS: the first earlier import sharing some files */
	bool partial;
	char partial_id[RQ_ID_HEX_SIZE];
	size_t shared;        /* one of our files it holds */
	bool partial_alone;   /* it held that file alone */
};

/* Whether fingerprint `fp` is one of the check's files (its index in
 * `*at`). */
static bool has_fp(const struct dup_check *c, const char *fp, size_t *at)
{
	for (size_t j = 0; j < c->nfps; j++)
		if (!strcmp(fp, c->fps[j])) {
			*at = j;
			return true;
		}
	return false;
}

/* 2 when the actual imported exactly the same files (its source.files, or
 * source.fingerprint for a single file; the check's files are distinct),
 * 1 when some of them (as part of another set), 0 when none. */
static int fps_match(struct dup_check *c, const json_t *src)
{
	const json_t *files = json_object_get(src, "files"), *f;
	size_t i, n = 0, common = 0, at = 0, shared = 0;
	if (json_is_array(files)) {
		json_array_foreach(files, i, f) {
			n++;
			if (has_fp(c, rq_json_str(f, "fingerprint", ""), &at) && !common++)
				shared = at;
		}
	} else {
		n = 1;
		common = has_fp(c, rq_json_str(src, "fingerprint", ""), &shared);
	}
	if (!common)
		return 0;
	if (common == n && n == c->nfps)
		return 2;
	if (!c->partial) {
		c->shared = shared;
		c->partial_alone = n == 1;
	}
	return 1;
}

/* A CodeCarbon run id as stored: "" for none. Older versions stored a
 * tracker's missing id as "None" (rq_cc_no_run_id). */
static const char *stored_run_id(const json_t *src)
{
	const char *id = rq_json_str(src, "run_id", "");
	return rq_cc_no_run_id(id) ? "" : id;
}

/* foreach callback: 2 (stop) for the same import, 0 to go on (a partial
 * one, some of the same files, is remembered: an exact match later in the
 * ledger still counts). */
static int find_dup(const rq_entry *e, void *arg)
{
	struct dup_check *c = arg;
	const json_t *src = json_object_get(e->body, "source");
	int m = 0;
	if (strcmp(rq_json_str(e->body, "meter", ""), c->meter) != 0 || !json_is_object(src))
		return 0;
	if (c->kind == DUP_FINGERPRINTS)
		m = fps_match(c, src);
	else if (c->kind == DUP_RUN_ID)
		m = strcmp(stored_run_id(src), c->value) == 0 ? 2 : 0;
	else if (!*stored_run_id(src) && strcmp(rq_json_str(src, "timestamp", ""), c->value) == 0 &&
		 rq_json_num(e->body, "duration_s", NAN) == c->duration_s &&
		 rq_json_num(e->body, "energy_kwh", NAN) == c->energy_kwh)
		m = 2;
	if (m == 1 && !c->partial) {
		c->partial = true;
		snprintf(c->partial_id, sizeof(c->partial_id), "%s", e->id);
	}
	if (m == 2) {
		snprintf(c->found_id, sizeof(c->found_id), "%s", e->id);
		if (c->kind == DUP_RUN_ID && rq_json_num(e->body, "energy_kwh", NAN) != c->energy_kwh)
			cmd_warn("%s: run '%s' was imported as %.12s with %g kWh; the file now says %g kWh (not updated)",
				 c->file, c->value, e->id, rq_json_num(e->body, "energy_kwh", NAN), c->energy_kwh);
	}
	return m == 2 ? 2 : 0;
}

/* RQ_EEXISTS when the source was imported already (c->found set; the
 * message says as what); RQ_EEXISTS with c->found unset when some of the
 * files were imported as part of another set (importing them again would
 * count their energy twice); 0 when not; another error when the ledger
 * cannot be read. Run when the command starts and again under the
 * writer's lock (so that two concurrent imports cannot both record it). */
static int already_imported(rq_ledger *l, struct dup_check *c)
{
	int err;
	c->found = c->partial = false;
	if (c->kind == DUP_RUN_ID && !*c->value)
		return 0;
	err = rq_ledger_foreach(l, "actual", find_dup, c);
	if (err == 2) {
		c->found = true;
		if (c->kind == DUP_RUN_ID)
			err = rq_error_set(RQ_EEXISTS, "%s: run '%s' was imported already as %.12s", c->file, c->value,
					   c->found_id);
		else
			err = rq_error_set(RQ_EEXISTS, "%s: already imported as %.12s", c->file, c->found_id);
	} else if (!err && c->partial && c->partial_alone) {
		err = rq_error_set(RQ_EEXISTS,
				   "%s: imported already (alone) as %.12s: importing it again with other files would count its energy twice (import the others without it)",
				   c->names[c->shared], c->partial_id);
	} else if (!err && c->partial) {
		err = rq_error_set(RQ_EEXISTS,
				   "%s: imported already as part of %.12s, with other files: importing it again would count its energy twice",
				   c->names[c->shared], c->partial_id);
	} else if (!err) {
		rq_error_clear();
	}
	return err;
}

static int dup_check_fn(rq_ledger *l, void *ctx)
{
	return already_imported(l, ctx);
}

/* Everything was imported already: say as what (on stdout, or on stderr
 * with --json, which prints the existing actuals as an import would
 * have), exit 0, so that a CI step can run again. */
static int print_already(rq_ledger *l, const struct dup_check *checks, size_t n, bool json)
{
	json_t *out = json_array();
	int rc = EXIT_OK;
	for (size_t i = 0; i < n && rc == EXIT_OK; i++) {
		rq_entry *e = NULL, *plan = NULL;
		int err = rq_ledger_lookup(&e, l, checks[i].found_id, "actual");
		if (err) {
			rc = cmd_fail_code(err);
			break;
		}
		const char *plan_id = rq_json_str(e->body, "plan", NULL);
		if (plan_id && rq_ledger_lookup(&plan, l, plan_id, "plan"))
			plan = NULL;
		if (checks[i].kind == DUP_RUN_ID)
			fprintf(json ? stderr : stdout, "%s: run '%s' already imported as %.12s\n", checks[i].file,
				checks[i].value, e->id);
		else
			fprintf(json ? stderr : stdout, "%s: already imported as %.12s\n", checks[i].file, e->id);
		json_array_append_new(out, actual_json(e, plan));
		rq_entry_free(plan);
		rq_entry_free(e);
	}
	if (json && rc == EXIT_OK)
		rc = cmd_print_json(out) ? EXIT_FAIL : EXIT_OK;
	json_decref(out);
	return rc;
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

/* Append every body (ownership taken; NULL for a source found imported
 * when the command started), each if its source was not imported
 * meanwhile (checks[i], under the writer's lock: then it is skipped with a
 * warning), print them, and return the status. When every source was
 * imported already, say as what and exit 0 (print_already). */
static int record_all(rq_ledger *l, const struct actual_ctx *ctx, json_t **bodies, struct dup_check *checks,
		      size_t n, bool json)
{
	json_t *out = json_array();
	int rc = EXIT_OK;
	size_t i, recorded = 0;
	for (i = 0; i < n; i++) {
		rq_entry *e = NULL;
		if (!bodies[i])
			continue;
		int err = rq_ledger_append_if(&e, l, "actual", bodies[i], NULL, 0, dup_check_fn, &checks[i]);
		bodies[i] = NULL;
		if (err && checks[i].found) {
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
		rc = print_already(l, checks, n, json);
	else if (json && rc == EXIT_OK)
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

/* On an import found already: options that would have changed the actual
 * are not applied (the ledger keeps what was recorded); say so. `more`:
 * some of the importer's own (--power-column, --time-column, --per-node). */
static void warn_unapplied(const struct import_opts *o, bool more)
{
	if (o->plan || o->name || o->epochs || o->target_missed || o->target_reached || !isnan(o->train_size) ||
	    o->region || !isnan(o->pue) || o->hardware || more)
		cmd_warn("%s: imported already: the options given are not applied (the actual stays as recorded)",
			 o->file);
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
	if (run->region_code && *run->region_code) /* "DE" for CodeCarbon's "DEU" */
		json_object_set_new(body, "region", json_string(run->region_code));
	/* CodeCarbon's `region` is a province name, not a grid code:
	 * everything the file says about the run stays under source */
	set_common(body, o, "codecarbon", fp, cc, ctx);
	return body;
}

/* The bodies of the runs not imported yet (NULL for a run imported
 * already), with every run's check; the runs imported already are named in
 * a warning when others are new. 0, or the exit status. */
static int cc_gather(json_t **bodies, struct dup_check *checks, rq_ledger *l, const rq_cc_import *r,
		     const struct import_opts *o, const char *fp, const struct actual_ctx *ctx)
{
	size_t nnew = 0;
	for (size_t i = 0; i < r->n; i++) {
		const rq_cc_run *run = &r->runs[i];
		int err;
		checks[i] = (struct dup_check){ .file = o->file, .meter = "codecarbon",
						.kind = *run->run_id ? DUP_RUN_ID : DUP_ROW,
						.value = *run->run_id ? run->run_id : run->timestamp,
						.duration_s = run->duration_s, .energy_kwh = run->energy_kwh };
		if ((err = already_imported(l, &checks[i])) && !checks[i].found)
			return cmd_fail_code(err);
		if (!err) {
			bodies[i] = cc_run_body(run, o, fp, ctx);
			nnew++;
		}
	}
	for (size_t i = 0; i < r->n && nnew; i++)
		if (checks[i].found && checks[i].kind == DUP_RUN_ID)
			cmd_warn("%s: run '%s' was imported already as %.12s; skipped", o->file, checks[i].value,
				 checks[i].found_id);
		else if (checks[i].found)
			cmd_warn("%s: the run of %s was imported already as %.12s; skipped", o->file, checks[i].value,
				 checks[i].found_id);
	return 0;
}

static int import_codecarbon(int argc, char **argv)
{
	struct import_opts o = { .pue = NAN, .train_size = NAN };
	const char *run_id = NULL;
	long long line = 0;
	const struct opt opts[] = {
		{ OPT_STRING, 0, "run-id", &run_id, "R", "import only run R" },
		{ OPT_INT, 0, "line", &line, "N", "import only the run whose last row is line N (a run without an id)" },
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
	int rc = EXIT_OK, err;

	state_init(&st);
	rq_cc_import_init(&r);
	if (!opt_parse(&rc, &cc_help, opts, argc, argv) || (rc = check_opts(&cc_help, opts, &o)))
		goto done;
	if (line < 0) {
		rc = cmd_usage(&cc_help, opts, "--line must be a line number (>= 2)");
		goto done;
	}
	if ((err = rq_file_read(&st.data, o.file)) ||
	    (err = rq_import_codecarbon_run(&r, st.data.ptr, st.data.len, o.file, run_id, (size_t)line))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	cmd_warn_lines(r.warnings.ptr);
	if (r.n > 1 && (o.plan || o.name || o.epochs || o.target_missed || o.target_reached || !isnan(o.train_size))) {
		rq_buf runs = RQ_BUF_INIT;
		for (size_t i = 0; i < r.n && i < 10; i++)
			if (*r.runs[i].run_id)
				rq_buf_printf(&runs, "%s%s", runs.len ? ", " : "", r.runs[i].run_id);
			else
				rq_buf_printf(&runs, "%s--line %zu", runs.len ? ", " : "", r.runs[i].line);
		rc = cmd_error("%s holds %zu runs: choose one with --run-id R (or --line N for a run without an id) to give it --plan, --name, --epochs, --train-size or --target-* (%s%s)",
			       o.file, r.n, runs.ptr, r.n > 10 ? ", ..." : "");
		rq_buf_release(&runs);
		goto done;
	}
	if ((rc = state_open(&st, &o)))
		goto done;
	bodies = rq_xcalloc(r.n, sizeof(*bodies));
	checks = rq_xcalloc(r.n, sizeof(*checks));
	if (!(rc = cc_gather(bodies, checks, st.l, &r, &o, st.fp, &st.ctx))) {
		bool any = false;
		for (size_t i = 0; i < r.n; i++)
			any = any || bodies[i];
		if (!any)
			warn_unapplied(&o, false);
		rc = record_all(st.l, &st.ctx, bodies, checks, r.n, o.json);
	} else {
		for (size_t i = 0; i < r.n; i++)
			json_decref(bodies[i]);
	}
done:
	free(bodies);
	free(checks);
	rq_cc_import_release(&r);
	state_release(&st);
	return rc;
}

/* The logs of one nvidia-smi import: read, fingerprinted and parsed. */
struct nv_files {
	const char *const *names;
	size_t n;
	rq_buf *data;
	char (*fps)[RQ_FINGERPRINT_SIZE];
	const char **fp_of;       /* fps[i], as strings for dup_check */
	rq_nvsmi_import *parts;
	rq_nvsmi_import all;      /* the parts combined, when n > 1 */
	const rq_nvsmi_import *result;
};

static void nv_files_init(struct nv_files *nf, const struct opt_list *files)
{
	memset(nf, 0, sizeof(*nf));
	nf->names = files->v;
	nf->n = files->n;
	nf->data = rq_xcalloc(nf->n, sizeof(*nf->data));
	nf->fps = rq_xcalloc(nf->n, sizeof(*nf->fps));
	nf->fp_of = rq_xcalloc(nf->n, sizeof(*nf->fp_of));
	nf->parts = rq_xcalloc(nf->n, sizeof(*nf->parts));
	for (size_t i = 0; i < nf->n; i++) {
		rq_buf_init(&nf->data[i]);
		rq_nvsmi_import_init(&nf->parts[i]);
	}
	rq_nvsmi_import_init(&nf->all);
}

static void nv_files_release(struct nv_files *nf)
{
	for (size_t i = 0; i < nf->n; i++) {
		rq_buf_release(&nf->data[i]);
		rq_nvsmi_import_release(&nf->parts[i]);
	}
	rq_nvsmi_import_release(&nf->all);
	free(nf->data);
	free(nf->fps);
	free(nf->fp_of);
	free(nf->parts);
}

/* Read, fingerprint and parse every file (printing the warnings), then
 * combine them. 0, or an RQ_E* code. */
static int nv_files_read(struct nv_files *nf, const char *power_column, const char *time_column, bool per_node)
{
	int err;
	for (size_t i = 0; i < nf->n; i++) {
		if ((err = rq_file_read(&nf->data[i], nf->names[i])))
			return err;
		rq_fingerprint_bytes(nf->fps[i], nf->data[i].ptr, nf->data[i].len);
		nf->fp_of[i] = nf->fps[i];
		for (size_t j = 0; j < i; j++)
			if (!strcmp(nf->fps[i], nf->fps[j]))
				return rq_error_set(RQ_EINVALID,
						    "%s and %s are the same file (same fingerprint): give each log once",
						    nf->names[j], nf->names[i]);
		if ((err = rq_import_nvsmi_columns(&nf->parts[i], nf->data[i].ptr, nf->data[i].len, nf->names[i],
						   power_column, time_column)))
			return err;
		cmd_warn_lines(nf->parts[i].warnings.ptr);
	}
	nf->result = &nf->parts[0];
	if (nf->n > 1) {
		if ((err = rq_nvsmi_combine_nodes(&nf->all, nf->parts, nf->names, nf->n, per_node)))
			return err;
		cmd_warn_lines(nf->all.warnings.ptr);
		nf->result = &nf->all;
	}
	return 0;
}

/* The body of the actual. New reference. */
static json_t *nv_body(const struct nv_files *nf, const struct import_opts *o, const struct actual_ctx *ctx)
{
	static const char *const top[] = { "energy_kwh", "duration_s", "method", "meter", "gpus" };
	json_t *nv = rq_nvsmi_json(nf->result);
	json_t *body = take_fields(nv, top, RQ_ARRAY_SIZE(top));
	json_object_set_new(nv, "skipped", json_integer((json_int_t)nf->result->nskipped));
	if (nf->n > 1) {
		json_t *files = json_array();
		for (size_t i = 0; i < nf->n; i++)
			json_array_append_new(files, json_pack("{s:s, s:s}", "file", nf->names[i], "fingerprint",
							       nf->fps[i]));
		json_object_set_new(nv, "files", files);
	}
	set_common(body, o, "nvidia-smi", nf->fps[0], nv, ctx);
	return body;
}

static int import_nvsmi(int argc, char **argv)
{
	struct import_opts o = { .pue = NAN, .train_size = NAN };
	struct opt_list files = { 0 };
	const char *power_column = NULL, *time_column = NULL;
	bool per_node = false;
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
		{ OPT_STRING, 0, "power-column", &power_column, "NAME", "the column of power in W (when not recognised)" },
		{ OPT_STRING, 0, "time-column", &time_column, "NAME", "the column of timestamps (when not recognised)" },
		{ OPT_BOOL, 0, "per-node", &per_node, NULL, "each file is another machine's log: its GPUs are summed, never joined" },
		{ OPT_BOOL, 0, "json", &o.json, NULL, "print the recorded actual as JSON" },
		{ OPT_ARGS, 0, "FILE", &files, NULL, "nvidia-smi CSV logs of one run", OPT_REQUIRED },
		{ OPT_END },
	};
	struct import_state st;
	struct nv_files nf;
	json_t *body = NULL;
	int rc = EXIT_OK, err;

	state_init(&st);
	memset(&nf, 0, sizeof(nf));
	if (!opt_parse(&rc, &nv_help, opts, argc, argv) || (rc = check_opts(&nv_help, opts, &o)))
		goto done;
	o.file = files.v[0];
	nv_files_init(&nf, &files);
	if ((err = nv_files_read(&nf, power_column, time_column, per_node))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if ((rc = state_open(&st, &o)))
		goto done;
	struct dup_check check = { .file = o.file, .meter = "nvidia-smi", .kind = DUP_FINGERPRINTS,
				   .fps = nf.fp_of, .names = nf.names, .nfps = nf.n };
	if ((err = already_imported(st.l, &check)) && !check.found) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if (!err)
		body = nv_body(&nf, &o, &st.ctx);
	else
		warn_unapplied(&o, power_column || time_column || per_node);
	rc = record_all(st.l, &st.ctx, &body, &check, 1, o.json);
	body = NULL;
done:
	json_decref(body);
	if (nf.n)
		nv_files_release(&nf);
	opt_list_release(&files);
	state_release(&st);
	return rc;
}

int cmd_import(int argc, char **argv)
{
	static const struct subcmd subs[] = {
		{ "codecarbon", import_codecarbon, "record the runs of a CodeCarbon emissions.csv" },
		{ "nvidia-smi", import_nvsmi, "record the energy of nvidia-smi power logs" },
		{ NULL, NULL, NULL },
	};
	return cmd_dispatch_sub("import", subs, argc, argv);
}
