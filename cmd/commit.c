/* resque commit: record a model version — weights fingerprint, datasets,
 * representation summary, parent, cost and metadata — as a signed entry. */
#include "common.h"
#include "cmd.h"
#include "progress_named.h"
#include "resque/array.h"
#include "bounds.h"
#include "commit_params.h"
#include "cost.h"
#include "dataset.h"
#include "resque/fingerprint.h"
#include "history.h"
#include "json.h"
#include "ledger_int.h"
#include "lineage.h"
#include "provenance.h"
#include "resque/summary.h"

#include <math.h>
#include <sys/stat.h>

static const struct cmd_help help = {
	"commit", "record a model version in the ledger",
	"Records the weights' fingerprint, size and path; the datasets it was\n"
	"trained on (dataset names or ids from 'resque dataset add'); the summary\n"
	"of the model's representation (computed from --embeddings and --labels,\n"
	"or given with --summary); its parent version; and what producing it cost\n"
	"(--cost FILE: JSON with epochs, energy_kwh, duration_s and optionally\n"
	"carbon_kg, pue, intensity_g_per_kwh, hardware, region, method, train_size;\n"
	"carbon is computed from the region's grid intensity when absent), or\n"
	"--actual REF: the cost recorded by 'resque run' or 'resque import' (epochs,\n"
	"energy_kwh, duration_s, carbon_kg, method, hardware, region, train_size;\n"
	"source \"actual:ID\").\n"
	"With --parent, the parameter change (as 'resque diff --params') between\n"
	"the parent's weights, when their recorded file is at hand and unchanged,\n"
	"and --weights is recorded as param_change, with the update's actual it\n"
	"belongs to (--actual, else the newest actual of a plan from the parent):\n"
	"later plans calibrate their parameter change on it.\n"
	"Weights and data are never copied into the ledger.\n"
	"The version also records its provenance (docs/FORMATS.md): resque's\n"
	"command line, the directory relative to the project, the commit, branch\n"
	"and dirty flag (tracked files changed or staged; untracked files do not\n"
	"count) of the git work tree it runs in, and this machine's CPU and GPU\n"
	"models and counts. The command line is kept exactly as typed, absolute\n"
	"paths (home directory names) and all, signed into the ledger and pushed\n"
	"with it; RESQUE_NO_ARGV=1 (any non-empty value) leaves it out.",
};

static bool same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Fingerprint the weights, refusing a file that changes while it is read. */
static int weights_json(json_t **out, rq_ledger *l, const char *path)
{
	struct stat before, after;
	rq_fp_result r;
	rq_buf rel = RQ_BUF_INIT;
	int err;

	*out = NULL;
	if (stat(path, &before) < 0)
		return rq_error_os("%s", path);
	if (!S_ISREG(before.st_mode))
		return rq_error_set(RQ_EINVALID, "%s: weights must be a regular file", path);
	rq_fp_result_init(&r);
	if ((err = rq_fingerprint_path(&r, path, NULL)))
		goto done;
	if (stat(path, &after) < 0 || !same_stat(&before, &after)) {
		err = rq_error_set(RQ_EINVALID, "%s: the file changed while it was being hashed; commit it once it is complete",
				   path);
		goto done;
	}
	if ((err = rq_dataset_relpath(&rel, l, path)))
		goto done;
	*out = json_pack("{s:s, s:s, s:I}", "path", rel.ptr, "fingerprint", r.fingerprint, "bytes",
			 (json_int_t)r.bytes);
done:
	rq_fp_result_release(&r);
	rq_buf_release(&rel);
	return err;
}

static int summary_from_files(rq_summary **out, const char *emb, const char *labels, const char *tensor)
{
	rq_array *e = NULL, *y = NULL;
	int err = rq_array_open_pair(&e, &y, emb, labels, tensor);
	if (!err)
		err = rq_summary_from_arrays(out, e, y, 1);
	rq_array_free(e);
	rq_array_free(y);
	return err;
}

/* A version's cost from a recorded `actual` entry (docs/FORMATS.md). */
static int cost_from_actual(rq_cost *c, const rq_entry *a)
{
	static const char *const nums[] = { "epochs", "energy_kwh", "duration_s", "carbon_kg", "pue",
					    "intensity_g_per_kwh", "train_size" };
	double *dst[] = { &c->epochs, &c->energy_kwh, &c->duration_s, &c->carbon_kg, &c->pue, &c->intensity,
			  &c->train_size };
	char where[64];
	snprintf(where, sizeof(where), "actual %.12s", a->id);
	for (size_t i = 0; i < RQ_ARRAY_SIZE(nums); i++) {
		json_t *v = json_object_get(a->body, nums[i]);
		if (!json_is_number(v))
			continue;
		/* an actual recorded before the bounds existed may hold an absurd
		 * figure: refuse it here rather than sign it into a version */
		int err = rq_bound_check(nums[i], json_number_value(v), where);
		if (err)
			return err;
		*dst[i] = json_number_value(v);
	}
	if (isnan(c->energy_kwh))
		return rq_error_set(RQ_EINVALID, "actual %.12s: no energy_kwh recorded", a->id);
	if (isnan(c->epochs))
		cmd_warn("actual %.12s has no epochs (mark them with 'resque mark epoch' or import with --epochs)",
			 a->id);
	const char *hw = rq_json_str(a->body, "hardware", NULL), *region = rq_json_str(a->body, "region", NULL);
	c->hardware = hw ? rq_xstrdup(hw) : NULL;
	c->region = region ? rq_xstrdup(region) : NULL;
	c->method = rq_xstrdup(rq_json_str(a->body, "method", "imported"));
	return 0;
}

/* RQ_EEXISTS when a version is named `name` already: checked when the
 * command starts (to fail before the long work) and again under the
 * writer's lock (so that two concurrent commits cannot both take it). */
static int version_name_check(rq_ledger *l, void *name)
{
	return rq_name_free(l, name, RQ_NAME_VERSION);
}

struct commit_opts {
	const char *weights, *name, *parent, *emb, *labels, *tensor, *summary, *cost, *actual, *family, *message;
	struct opt_list data, meta;
	bool json;
};

/* What a version is built from, gathered and checked before anything is
 * written. */
struct commit_state {
	rq_ledger *l;
	rq_key *k;
	rq_entry *parent, *actual;
	rq_cost cost;
	json_t *weights;
	json_t *param_change; /* with --parent: commit_param_change's, or NULL */
	rq_summary *sum;
	bool *data_dirs; /* --data i names a directory to record now */
	json_t *provenance; /* what produced it, taken when the command starts */
};

static int commit_check_opts(const struct commit_opts *o, const struct opt *opts)
{
	if (!rq_name_valid(o->name, RQ_NAME_VERSION))
		return cmd_usage(&help, opts, "'%s' is not a valid name (letters, digits, . _ + -; not 'latest')", o->name);
	if ((o->emb || o->labels) && !(o->emb && o->labels))
		return cmd_usage(&help, opts, "--embeddings and --labels go together");
	if (o->emb && o->summary)
		return cmd_usage(&help, opts, "give either --embeddings/--labels or --summary, not both");
	if (o->cost && o->actual)
		return cmd_usage(&help, opts, "give either --cost or --actual, not both");
	for (size_t i = 0; i < o->meta.n; i++)
		if (!strchr(o->meta.v[i], '=') || o->meta.v[i][0] == '=')
			return cmd_usage(&help, opts, "--meta takes KEY=VALUE, not '%s'", o->meta.v[i]);
	return 0;
}

/* The cost file; with no carbon figure, the grid of the cost's region,
 * else of the repository's: an unknown region is refused, never averaged. */
static int gather_cost_file(struct commit_state *st, const char *path)
{
	rq_buf text = RQ_BUF_INIT;
	rq_grid grid;
	int err;

	if ((err = rq_file_read(&text, path)) || (err = rq_cost_parse(&st->cost, text.ptr, text.len, path)))
		goto done;
	if (!isnan(st->cost.carbon_kg) || !isnan(st->cost.intensity))
		goto done;
	if ((err = rq_grid_resolve(&grid, st->l, st->cost.region, st->cost.pue, NAN))) {
		rq_error_prefix(err, "%s: ", path);
		goto done;
	}
	if (grid.region) {
		rq_cost_compute_carbon(&st->cost, grid.intensity, grid.pue);
		if (!st->cost.region)
			st->cost.region = rq_xstrdup(grid.region->code);
	}
done:
	rq_buf_release(&text);
	return err;
}

/* Each --data is a recorded dataset, or a directory recorded when the
 * version is. 0, or the exit status after printing the error. */
static int gather_data(struct commit_state *st, const struct opt_list *data)
{
	st->data_dirs = rq_xcalloc(data->n ? data->n : 1, sizeof(*st->data_dirs));
	for (size_t i = 0; i < data->n; i++) {
		rq_entry *d = NULL;
		int err = rq_ledger_lookup(&d, st->l, data->v[i], "dataset");
		rq_entry_free(d);
		if (err == RQ_ENOTFOUND && rq_is_dir(data->v[i]))
			st->data_dirs[i] = true;
		else if (err == RQ_ENOTFOUND)
			return cmd_error("--data %s: no dataset of that name or id, nor a directory to record", data->v[i]);
		else if (err)
			return cmd_fail_code(err);
	}
	rq_error_clear();
	return 0;
}

static int gather_actual(struct commit_state *st, const char *ref)
{
	int err;
	if ((err = rq_ledger_lookup(&st->actual, st->l, ref, "actual")))
		return rq_error_prefix(err, "--actual %s: ", ref);
	if ((err = cost_from_actual(&st->cost, st->actual)))
		return err;
	if (strcmp(rq_json_str(st->actual->body, "status", "succeeded"), "succeeded") != 0)
		cmd_warn("actual %.12s is the record of a failed run (exit status %" JSON_INTEGER_FORMAT ")",
			 st->actual->id, rq_json_int(st->actual->body, "exit_status", -1));
	return 0;
}

/* The summary from --summary or --embeddings/--labels, refused when its
 * dimension differs from the parent's. 0, or the exit status. */
static int gather_summary(struct commit_state *st, const struct commit_opts *o)
{
	rq_summary *psum = NULL;
	rq_buf pbytes = RQ_BUF_INIT;
	int rc = 0, err = 0;

	if (o->summary)
		err = rq_summary_read(&st->sum, o->summary);
	else if (o->emb)
		err = summary_from_files(&st->sum, o->emb, o->labels, o->tensor);
	if (!err && st->sum && st->parent &&
	    json_object_get(json_object_get(st->parent->body, "attachments"), "summary.rqs")) {
		err = rq_ledger_attachment(&pbytes, st->l, st->parent, "summary.rqs");
		if (!err)
			err = rq_summary_decode(&psum, pbytes.ptr, pbytes.len, "parent summary");
		if (!err && psum->d != st->sum->d)
			rc = cmd_error("%s: the representation has dimension %zu but the parent %s's has %zu "
				       "(embeddings from another layer?)",
				       o->summary ? o->summary : o->emb, st->sum->d,
				       rq_json_str(st->parent->body, "name", "?"), psum->d);
	}
	if (err)
		rc = cmd_fail_code(err);
	rq_summary_free(psum);
	rq_buf_release(&pbytes);
	return rc;
}

/* Everything is checked and computed before anything is written. 0, or
 * the exit status after printing the error. */
static int commit_gather(struct commit_state *st, const struct commit_opts *o)
{
	int rc, err;
	if ((rc = cmd_open_ledger(&st->l, &st->k)))
		return rc;
	st->provenance = cmd_provenance(st->l, 0);
	if ((err = rq_name_free(st->l, o->name, RQ_NAME_VERSION)) ||
	    (o->parent && (err = rq_version_resolve(&st->parent, st->l, o->parent))) ||
	    (o->cost && (err = gather_cost_file(st, o->cost))))
		return cmd_fail_code(err);
	if ((rc = gather_data(st, &o->data)))
		return rc;
	if ((o->actual && (err = gather_actual(st, o->actual))) ||
	    (err = weights_json(&st->weights, st->l, o->weights)) ||
	    (st->parent && (err = commit_param_change(&st->param_change, st->l, st->parent, o->weights, st->actual))))
		return cmd_fail_code(err);
	return gather_summary(st, o);
}

/* The "datasets" array; a directory not recorded yet is recorded now, as
 * 'dataset add' would. */
static int build_datasets(json_t **out, struct commit_state *st, const struct opt_list *data)
{
	struct progress bar = { 0 };
	rq_dataset_options dopts = { .progress = progress_named, .progress_ctx = &bar };
	json_t *ds = json_array();
	int err = 0;

	for (size_t i = 0; i < data->n && !err; i++) {
		rq_entry *d = NULL;
		if (st->data_dirs[i])
			err = rq_dataset_record(&d, st->l, data->v[i], &dopts);
		else
			err = rq_ledger_lookup(&d, st->l, data->v[i], "dataset");
		if (err)
			break;
		if (st->data_dirs[i])
			fprintf(stderr, "recorded dataset %s (%.12s)\n", rq_entry_name(d), d->id);
		json_array_append_new(ds, json_pack("{s:s, s:s, s:s}", "id", d->id, "name",
						    rq_json_str(d->body, "name", ""), "fingerprint",
						    rq_json_str(d->body, "fingerprint", "")));
		rq_entry_free(d);
	}
	if (err)
		json_decref(ds);
	else
		*out = ds;
	return err;
}

static json_t *build_cost(struct commit_state *st, const struct commit_opts *o)
{
	json_t *cj;
	if (o->cost) {
		if (isnan(st->cost.carbon_kg) && !isnan(st->cost.intensity))
			rq_cost_compute_carbon(&st->cost, st->cost.intensity, st->cost.pue);
		if (isnan(st->cost.carbon_kg))
			cmd_warn("%s: no carbon_kg nor intensity_g_per_kwh: carbon is not recorded for %s", o->cost,
				 o->name);
		cj = rq_cost_to_json(&st->cost);
		json_object_set_new(cj, "source", json_string("cost file"));
		if (isfinite(st->cost.train_size))
			json_object_set_new(cj, "train_size_source", json_string("cost file"));
	} else {
		rq_buf src = RQ_BUF_INIT;
		cj = rq_cost_to_json(&st->cost);
		rq_buf_printf(&src, "actual:%s", st->actual->id);
		json_object_set_new(cj, "source", json_string(src.ptr));
		if (isfinite(st->cost.train_size))
			json_object_set_new(cj, "train_size_source", json_string(rq_json_str(st->actual->body,
				"train_size_source", "actual")));
		rq_buf_release(&src);
	}
	return cj;
}

static json_t *build_meta(const struct opt_list *meta)
{
	json_t *m = json_object();
	for (size_t i = 0; i < meta->n; i++) {
		const char *eq = strchr(meta->v[i], '=');
		char *key = rq_xstrndup(meta->v[i], (size_t)(eq - meta->v[i]));
		json_object_set_new(m, key, json_string(eq + 1));
		free(key);
	}
	return m;
}

/* The version's body (docs/FORMATS.md, "Versions"); the summary's
 * encoding goes to `enc`, attached as summary.rqs. */
static int commit_build(json_t **out, rq_buf *enc, struct commit_state *st, const struct commit_opts *o)
{
	json_t *body = json_pack("{s:s, s:o}", "name", o->name, "weights", st->weights), *ds = NULL;
	int err = 0;

	st->weights = NULL;
	if (st->parent) {
		json_object_set_new(body, "parent", json_string(st->parent->id));
		json_object_set_new(body, "parent_name", json_string(rq_json_str(st->parent->body, "name", "")));
	}
	if (o->data.n && (err = build_datasets(&ds, st, &o->data)))
		goto done;
	if (ds)
		json_object_set_new(body, "datasets", ds);
	if (st->sum) {
		if ((err = rq_summary_encode(enc, st->sum)))
			goto done;
		json_object_set_new(body, "summary",
				    json_pack("{s:s, s:I, s:I, s:I, s:i}", "attachment", "summary.rqs", "classes",
					      (json_int_t)st->sum->k, "dim", (json_int_t)st->sum->d, "rows",
					      (json_int_t)st->sum->n, "moments", st->sum->moments));
	}
	if (o->cost || st->actual)
		json_object_set_new(body, "cost", build_cost(st, o));
	if (st->param_change) {
		json_object_set_new(body, "param_change", st->param_change);
		st->param_change = NULL;
	}
	if (o->family)
		json_object_set_new(body, "family", json_string(o->family));
	if (o->meta.n)
		json_object_set_new(body, "meta", build_meta(&o->meta));
	if (o->message)
		json_object_set_new(body, "message", json_string(o->message));
	json_object_set(body, "provenance", st->provenance);
	*out = body;
	body = NULL;
done:
	json_decref(body);
	return err;
}

static int commit_print(const rq_entry *e, const struct commit_state *st, const struct commit_opts *o)
{
	if (o->json)
		return cmd_print_entry(e);
	printf("%.12s version %s", e->id, o->name);
	if (st->parent)
		printf(" (from %s)", rq_json_str(st->parent->body, "name", "?"));
	printf(": weights %.15s..., %s\n", rq_json_str(json_object_get(e->body, "weights"), "fingerprint", ""),
	       st->sum ? "with representation summary" : "no representation summary");
	return EXIT_OK;
}

static void commit_state_release(struct commit_state *st)
{
	free(st->data_dirs);
	json_decref(st->weights);
	json_decref(st->param_change);
	json_decref(st->provenance);
	rq_summary_free(st->sum);
	rq_cost_release(&st->cost);
	rq_entry_free(st->parent);
	rq_entry_free(st->actual);
	cmd_close_ledger(st->l, st->k);
}

int cmd_commit(int argc, char **argv)
{
	struct commit_opts o = { 0 };
	const struct opt opts[] = {
		{ OPT_STRING, 'w', "weights", &o.weights, "PATH", "the model's weights file (required)", OPT_REQUIRED },
		{ OPT_STRING, 0, "name", &o.name, "NAME", "the version's name, e.g. v2 (required)", OPT_REQUIRED },
		{ OPT_STRING, 'p', "parent", &o.parent, "REF", "the version it was trained from" },
		{ OPT_LIST, 'd', "data", &o.data, "DATASET", "a dataset it was trained on: a dataset name or id, or a directory to record (repeatable)" },
		{ OPT_STRING, 0, "embeddings", &o.emb, "FILE", "embeddings of its training data (.npy, safetensors)" },
		{ OPT_STRING, 0, "labels", &o.labels, "FILE", "the labels of those embeddings" },
		{ OPT_STRING, 0, "tensor", &o.tensor, "NAME", "the tensor to read from a safetensors embeddings file" },
		{ OPT_STRING, 0, "summary", &o.summary, "FILE", "a representation summary (.rqs) instead" },
		{ OPT_STRING, 0, "cost", &o.cost, "FILE", "JSON cost of producing this version" },
		{ OPT_STRING, 0, "actual", &o.actual, "REF", "take the cost from a recorded actual (resque run/import)" },
		{ OPT_STRING, 0, "family", &o.family, "F", "a lineage label for forecasting" },
		{ OPT_LIST, 0, "meta", &o.meta, "KEY=VALUE", "free metadata (repeatable)" },
		{ OPT_STRING, 'm', "message", &o.message, "TEXT", "what this version is" },
		{ OPT_BOOL, 0, "json", &o.json, NULL, "print the new entry as JSON" },
		{ OPT_END },
	};
	struct commit_state st = { 0 };
	rq_entry *e = NULL;
	rq_buf enc = RQ_BUF_INIT;
	json_t *body = NULL;
	int rc = EXIT_OK, err;

	rq_cost_init(&st.cost);
	if (!opt_parse(&rc, &help, opts, argc, argv) || (rc = commit_check_opts(&o, opts)) ||
	    (rc = commit_gather(&st, &o)))
		goto out;
	if ((err = commit_build(&body, &enc, &st, &o))) {
		rc = cmd_fail_code(err);
		goto out;
	}
	rq_attachment att[1] = { { "summary.rqs", enc.ptr, enc.len } };
	err = rq_ledger_append_if(&e, st.l, "version", body, att, st.sum ? 1 : 0, version_name_check,
				  (void *)(uintptr_t)o.name);
	if (err)
		rc = cmd_fail_code(err);
	else
		rc = commit_print(e, &st, &o);
out:
	rq_entry_free(e);
	rq_buf_release(&enc);
	opt_list_release(&o.data);
	opt_list_release(&o.meta);
	commit_state_release(&st);
	return rc;
}
