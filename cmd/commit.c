/* resque commit: record a model version — weights fingerprint, datasets,
 * representation summary, parent, cost and metadata — as a signed entry. */
#include "common.h"
#include "cmd.h"
#include "resque/array.h"
#include "resque/bounds.h"
#include "resque/cost.h"
#include "resque/fingerprint.h"
#include "resque/history.h"
#include "resque/json.h"
#include "resque/ledger.h"
#include "resque/lineage.h"
#include "resque/repo.h"
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
	"carbon_kg, pue, intensity_g_per_kwh, hardware, region, method; carbon is\n"
	"computed from the region's grid intensity when absent), or --actual REF:\n"
	"the cost recorded by 'resque run' or 'resque import' (epochs, energy_kwh,\n"
	"duration_s, carbon_kg, method, hardware, region; source \"actual:ID\").\n"
	"Weights and data are never copied into the ledger.",
};

/* A path as recorded: relative to the project root when inside it. */
static void record_path(rq_buf *out, const char *resque_dir, const char *path)
{
	char abs[PATH_MAX];
	rq_buf root = RQ_BUF_INIT;
	rq_repo_root(&root, resque_dir);
	if (realpath(path, abs) && strncmp(abs, root.ptr, root.len) == 0 && abs[root.len] == '/')
		rq_buf_puts(out, abs + root.len + 1);
	else if (realpath(path, abs))
		rq_buf_puts(out, abs);
	else
		rq_buf_puts(out, path);
	rq_buf_release(&root);
}

static bool same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Fingerprint the weights, refusing a file that changes while it is read. */
static int weights_json(json_t **out, const char *resque_dir, const char *path)
{
	struct stat before, after;
	rq_fp_result r;
	rq_buf rel = RQ_BUF_INIT;
	int err;

	*out = NULL;
	if (stat(path, &before) < 0)
		return rq_error_set(RQ_EINVALID, "%s: %s", path, strerror(errno));
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
	record_path(&rel, resque_dir, path);
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
					    "intensity_g_per_kwh" };
	double *dst[] = { &c->epochs, &c->energy_kwh, &c->duration_s, &c->carbon_kg, &c->pue, &c->intensity };
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
static int version_name_free(rq_ledger *l, const char *name)
{
	rq_entry *e = NULL;
	int err = rq_ledger_lookup(&e, l, name, "version");
	if (!err && rq_entry_name(e) && strcmp(rq_entry_name(e), name) == 0)
		err = rq_error_set(RQ_EEXISTS, "a version named '%s' exists already (%.12s)", name, e->id);
	else if (!err || err == RQ_ENOTFOUND || err == RQ_EAMBIGUOUS)
		err = 0;
	if (!err)
		rq_error_clear();
	rq_entry_free(e);
	return err;
}

static int version_name_check(rq_ledger *l, void *name)
{
	return version_name_free(l, name);
}

int cmd_commit(int argc, char **argv)
{
	const char *weights = NULL, *name = NULL, *parent_ref = NULL, *emb = NULL, *labels = NULL;
	const char *summary_path = NULL, *cost_path = NULL, *actual_ref = NULL, *family = NULL, *message = NULL, *tensor = NULL;
	struct opt_list data = { 0 }, meta = { 0 };
	bool json = false;
	const struct opt opts[] = {
		{ OPT_STRING, 'w', "weights", &weights, "PATH", "the model's weights file (required)" },
		{ OPT_STRING, 0, "name", &name, "NAME", "the version's name, e.g. v2 (required)" },
		{ OPT_STRING, 'p', "parent", &parent_ref, "REF", "the version it was trained from" },
		{ OPT_LIST, 'd', "data", &data, "DATASET", "a dataset it was trained on: a dataset name or id, or a directory to record (repeatable)" },
		{ OPT_STRING, 0, "embeddings", &emb, "FILE", "embeddings of its training data (.npy, safetensors)" },
		{ OPT_STRING, 0, "labels", &labels, "FILE", "the labels of those embeddings" },
		{ OPT_STRING, 0, "tensor", &tensor, "NAME", "the tensor to read from a safetensors embeddings file" },
		{ OPT_STRING, 0, "summary", &summary_path, "FILE", "a representation summary (.rqs) instead" },
		{ OPT_STRING, 0, "cost", &cost_path, "FILE", "JSON cost of producing this version" },
		{ OPT_STRING, 0, "actual", &actual_ref, "REF", "take the cost from a recorded actual (resque run/import)" },
		{ OPT_STRING, 0, "family", &family, "F", "a lineage label for forecasting" },
		{ OPT_LIST, 0, "meta", &meta, "KEY=VALUE", "free metadata (repeatable)" },
		{ OPT_STRING, 'm', "message", &message, "TEXT", "what this version is" },
		{ OPT_BOOL, 0, "json", &json, NULL, "print the new entry as JSON" },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	rq_key *k = NULL;
	rq_entry *parent = NULL, *e = NULL, *actual = NULL;
	rq_summary *sum = NULL, *psum = NULL;
	rq_cost cost;
	rq_buf enc = RQ_BUF_INIT, text = RQ_BUF_INIT;
	json_t *body = NULL, *w = NULL;
	rq_attachment att[1];
	size_t natt = 0;
	bool *data_paths = NULL;
	int rc = EXIT_OK, err;

	rq_cost_init(&cost);
	if (!opt_parse(&rc, &help, opts, argc, argv))
		goto out;
	if (!weights || !name) {
		rc = cmd_usage(&help, opts, "a version needs --weights PATH and --name NAME");
		goto out;
	}
	if (!rq_name_valid(name)) {
		rc = cmd_usage(&help, opts, "'%s' is not a valid name (letters, digits, . _ + -; not 'latest')", name);
		goto out;
	}
	if ((emb || labels) && !(emb && labels)) {
		rc = cmd_usage(&help, opts, "--embeddings and --labels go together");
		goto out;
	}
	if (emb && summary_path) {
		rc = cmd_usage(&help, opts, "give either --embeddings/--labels or --summary, not both");
		goto out;
	}
	if (cost_path && actual_ref) {
		rc = cmd_usage(&help, opts, "give either --cost or --actual, not both");
		goto out;
	}
	for (size_t i = 0; i < meta.n; i++)
		if (!strchr(meta.v[i], '=') || meta.v[i][0] == '=') {
			rc = cmd_usage(&help, opts, "--meta takes KEY=VALUE, not '%s'", meta.v[i]);
			goto out;
		}
	if ((rc = cmd_open_ledger(&l, &k)))
		goto out;
	/* Everything is checked and computed before anything is written. */
	if ((err = version_name_free(l, name))) {
		rc = cmd_fail_code(err);
		goto out;
	}
	if (parent_ref && (err = rq_version_resolve(&parent, l, parent_ref))) {
		rc = cmd_fail_code(err);
		goto out;
	}
	if (cost_path) {
		if ((err = rq_file_read(&text, cost_path)) ||
		    (err = rq_cost_parse(&cost, text.ptr, text.len, cost_path))) {
			rc = cmd_fail_code(err);
			goto out;
		}
		/* No carbon figure: the grid of the cost's region, else of the
		 * repository's; an unknown region is refused, never averaged. */
		if (isnan(cost.carbon_kg) && isnan(cost.intensity)) {
			rq_grid grid;
			if ((err = rq_grid_resolve(&grid, l, cost.region, cost.pue, NAN))) {
				rq_error_prefix(err, "%s: ", cost_path);
				rc = cmd_fail_code(err);
				goto out;
			}
			if (grid.region) {
				rq_cost_compute_carbon(&cost, grid.intensity, grid.pue);
				if (!cost.region)
					cost.region = rq_xstrdup(grid.region->code);
			}
		}
	}
	data_paths = rq_xcalloc(data.n ? data.n : 1, sizeof(*data_paths));
	for (size_t i = 0; i < data.n; i++) {
		rq_entry *d = NULL;
		err = rq_ledger_lookup(&d, l, data.v[i], "dataset");
		rq_entry_free(d);
		if (err == RQ_ENOTFOUND && rq_is_dir(data.v[i])) {
			data_paths[i] = true;
		} else if (err == RQ_ENOTFOUND) {
			rc = cmd_error("--data %s: no dataset of that name or id, nor a directory to record", data.v[i]);
			goto out;
		} else if (err) {
			rc = cmd_fail_code(err);
			goto out;
		}
	}
	rq_error_clear();
	if (actual_ref) {
		if ((err = rq_ledger_lookup(&actual, l, actual_ref, "actual"))) {
			rc = cmd_fail_code(rq_error_prefix(err, "--actual %s: ", actual_ref));
			goto out;
		}
		if ((err = cost_from_actual(&cost, actual))) {
			rc = cmd_fail_code(err);
			goto out;
		}
		if (strcmp(rq_json_str(actual->body, "status", "succeeded"), "succeeded") != 0)
			cmd_warn("actual %.12s is the record of a failed run (exit status %" JSON_INTEGER_FORMAT ")",
				 actual->id, rq_json_int(actual->body, "exit_status", -1));
	}
	if ((err = weights_json(&w, rq_ledger_dir(l), weights))) {
		rc = cmd_fail_code(err);
		goto out;
	}
	if (summary_path)
		err = rq_summary_read(&sum, summary_path);
	else if (emb)
		err = summary_from_files(&sum, emb, labels, tensor);
	if (err) {
		rc = cmd_fail_code(err);
		goto out;
	}
	if (sum && parent && json_object_get(json_object_get(parent->body, "attachments"), "summary.rqs")) {
		rq_buf pbytes = RQ_BUF_INIT;
		err = rq_ledger_attachment(&pbytes, l, parent, "summary.rqs");
		if (!err)
			err = rq_summary_decode(&psum, pbytes.ptr, pbytes.len, "parent summary");
		rq_buf_release(&pbytes);
		if (err) {
			rc = cmd_fail_code(err);
			goto out;
		}
		if (psum->d != sum->d) {
			rc = cmd_error("%s: the representation has dimension %zu but the parent %s's has %zu "
				       "(embeddings from another layer?)",
				       summary_path ? summary_path : emb, sum->d, rq_json_str(parent->body, "name", "?"),
				       psum->d);
			goto out;
		}
	}

	body = json_pack("{s:s, s:o}", "name", name, "weights", w);
	w = NULL;
	if (parent) {
		json_object_set_new(body, "parent", json_string(parent->id));
		json_object_set_new(body, "parent_name", json_string(rq_json_str(parent->body, "name", "")));
	}
	if (data.n) {
		json_t *ds = json_array();
		for (size_t i = 0; i < data.n; i++) {
			rq_entry *d = NULL;
			/* A directory not recorded yet is recorded now, as 'dataset add'. */
			if (data_paths[i] && (err = cmd_dataset_record(&d, l, data.v[i], NULL, NULL, NULL, NULL))) {
				json_decref(ds);
				rc = cmd_fail_code(err);
				goto out;
			}
			if (!d && (err = rq_ledger_lookup(&d, l, data.v[i], "dataset"))) {
				json_decref(ds);
				rc = cmd_fail_code(err);
				goto out;
			}
			if (data_paths[i])
				fprintf(stderr, "recorded dataset %s (%.12s)\n", rq_entry_name(d), d->id);
			json_array_append_new(ds, json_pack("{s:s, s:s, s:s}", "id", d->id, "name",
							    rq_json_str(d->body, "name", ""), "fingerprint",
							    rq_json_str(d->body, "fingerprint", "")));
			rq_entry_free(d);
		}
		json_object_set_new(body, "datasets", ds);
	}
	if (sum) {
		if ((err = rq_summary_encode(&enc, sum))) {
			rc = cmd_fail_code(err);
			goto out;
		}
		att[natt++] = (rq_attachment){ "summary.rqs", enc.ptr, enc.len };
		json_object_set_new(body, "summary", json_pack("{s:s, s:I, s:I, s:I, s:i}", "attachment", "summary.rqs",
							      "classes", (json_int_t)sum->k, "dim",
							      (json_int_t)sum->d, "rows", (json_int_t)sum->n,
							      "moments", sum->moments));
	}
	if (cost_path) {
		if (isnan(cost.carbon_kg) && !isnan(cost.intensity))
			rq_cost_compute_carbon(&cost, cost.intensity, cost.pue);
		if (isnan(cost.carbon_kg))
			cmd_warn("%s: no carbon_kg nor intensity_g_per_kwh: carbon is not recorded for %s", cost_path, name);
		json_t *cj = rq_cost_to_json(&cost);
		json_object_set_new(cj, "source", json_string("cost file"));
		json_object_set_new(body, "cost", cj);
	} else if (actual) {
		json_t *cj = rq_cost_to_json(&cost);
		rq_buf src = RQ_BUF_INIT;
		rq_buf_printf(&src, "actual:%s", actual->id);
		json_object_set_new(cj, "source", json_string(src.ptr));
		rq_buf_release(&src);
		json_object_set_new(body, "cost", cj);
	}
	if (family)
		json_object_set_new(body, "family", json_string(family));
	if (meta.n) {
		json_t *m = json_object();
		for (size_t i = 0; i < meta.n; i++) {
			const char *eq = strchr(meta.v[i], '=');
			char *key = rq_xstrndup(meta.v[i], (size_t)(eq - meta.v[i]));
			json_object_set_new(m, key, json_string(eq + 1));
			free(key);
		}
		json_object_set_new(body, "meta", m);
	}
	if (message)
		json_object_set_new(body, "message", json_string(message));
	err = rq_ledger_append_if(&e, l, "version", body, att, natt, version_name_check, (void *)name);
	body = NULL;
	if (err) {
		rc = cmd_fail_code(err);
		goto out;
	}
	if (json) {
		rc = cmd_print_entry(e);
	} else {
		printf("%.12s version %s", e->id, name);
		if (parent)
			printf(" (from %s)", rq_json_str(parent->body, "name", "?"));
		printf(": weights %.15s..., %s\n", rq_json_str(json_object_get(e->body, "weights"), "fingerprint", ""),
		       sum ? "with representation summary" : "no representation summary");
	}
out:
	free(data_paths);
	json_decref(body);
	json_decref(w);
	rq_summary_free(sum);
	rq_summary_free(psum);
	rq_cost_release(&cost);
	rq_entry_free(parent);
	rq_entry_free(actual);
	rq_entry_free(e);
	rq_buf_release(&enc);
	rq_buf_release(&text);
	opt_list_release(&data);
	opt_list_release(&meta);
	cmd_close_ledger(l, k);
	return rc;
}
