/* resque commit --parent V --weights W: the parameter change of the update
 * (the measure of `resque diff --params`, docs/METHOD.md) against V's
 * weights when their file is at hand, and the update's actual it belongs
 * to (docs/FORMATS.md, "Version entries"). */
#include "common.h"
#include "cmd.h"
#include "commit_params.h"
#include "dataset.h"
#include "resque/fingerprint.h"
#include "json.h"
#include "ledger_int.h"
#include "tensors.h"

/* The parent's weights file, checked against its recorded fingerprint.
 * 0, or an error whose message says why the change cannot be computed. */
static int parent_weights(rq_buf *out, rq_ledger *l, const rq_entry *parent)
{
	const json_t *w = json_object_get(parent->body, "weights");
	const char *path = rq_json_str(w, "path", NULL), *name = rq_json_str(parent->body, "name", "?");
	rq_fp_result r;
	int err;

	if (!path)
		return rq_error_set(RQ_ENOTFOUND, "version %s records no weights path", name);
	rq_dataset_abspath(out, l, path);
	rq_fp_result_init(&r);
	if ((err = rq_fingerprint_path(&r, out->ptr, NULL)))
		err = rq_error_prefix(err, "the weights of version %s are not at hand: ", name);
	else if (strcmp(r.fingerprint, rq_json_str(w, "fingerprint", "")) != 0)
		err = rq_error_set(RQ_EINVALID, "%s is no longer the weights of version %s (its fingerprint changed)",
				   out->ptr, name);
	rq_fp_result_release(&r);
	return err;
}

/* Finding the update's actual: the newest actual of a plan from the
 * parent that no version has taken yet (as its cost or its change). */
struct find {
	const char *parent;
	json_t *plans;   /* ids of plans from the parent */
	json_t *taken;   /* ids of actuals versions name */
	char found[RQ_ID_HEX_SIZE];
};

static int on_version(const rq_entry *e, void *ctx)
{
	struct find *f = ctx;
	const char *src = rq_json_str(json_object_get(e->body, "cost"), "source", "");
	const char *pc = rq_json_str(json_object_get(e->body, "param_change"), "actual", NULL);

	if (strncmp(src, "actual:", 7) == 0)
		json_object_set_new(f->taken, src + 7, json_true());
	if (pc)
		json_object_set_new(f->taken, pc, json_true());
	return 0;
}

static int on_plan(const rq_entry *e, void *ctx)
{
	struct find *f = ctx;

	if (strcmp(rq_json_str(e->body, "from", ""), f->parent) == 0)
		json_object_set_new(f->plans, e->id, json_true());
	return 0;
}

static int on_actual(const rq_entry *e, void *ctx)
{
	struct find *f = ctx;

	if (json_object_get(f->plans, rq_json_str(e->body, "plan", "")) && !json_object_get(f->taken, e->id))
		snprintf(f->found, sizeof(f->found), "%s", e->id); /* the newest wins */
	return 0;
}

static int update_actual(char out[RQ_ID_HEX_SIZE], rq_ledger *l, const rq_entry *parent)
{
	struct find f = { parent->id, json_object(), json_object(), "" };
	int err;

	if (!(err = rq_ledger_foreach(l, "version", on_version, &f)) &&
	    !(err = rq_ledger_foreach(l, "plan", on_plan, &f)))
		err = rq_ledger_foreach(l, "actual", on_actual, &f);
	snprintf(out, RQ_ID_HEX_SIZE, "%s", f.found);
	json_decref(f.plans);
	json_decref(f.taken);
	return err;
}

int commit_param_change(json_t **out, rq_ledger *l, const rq_entry *parent, const char *weights,
			const rq_entry *actual)
{
	rq_buf from = RQ_BUF_INIT;
	rq_param_diff d;
	char a[RQ_ID_HEX_SIZE] = "";
	int err;

	*out = NULL;
	memset(&d, 0, sizeof(d));
	if ((err = parent_weights(&from, l, parent)) || (err = rq_param_diff_compute(&d, from.ptr, weights)))
		goto note;
	if (!d.n) {
		err = rq_error_set(RQ_EINVALID, "%s and %s have no floating-point tensor in common", from.ptr, weights);
		goto note;
	}
	if (actual)
		snprintf(a, sizeof(a), "%s", actual->id);
	else if ((err = update_actual(a, l, parent)))
		goto done;
	*out = json_pack("{s:f, s:s, s:I}", "value", d.mean, "parent", parent->id, "tensors", (json_int_t)d.n);
	if (*a)
		json_object_set_new(*out, "actual", json_string(a));
	else
		fprintf(stderr, "note: no actual of a plan from %s to attach the parameter change to (give --actual): "
			"recorded on the version only\n", rq_json_str(parent->body, "name", "?"));
	goto done;
note:
	/* the version is recorded all the same: the change is a bonus */
	fprintf(stderr, "note: parameter change not computed: %s\n", rq_error_last());
	err = 0;
done:
	rq_param_diff_release(&d);
	rq_buf_release(&from);
	rq_error_clear();
	return err;
}
