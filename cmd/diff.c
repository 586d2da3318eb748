/* resque diff: what changed between two versions — datasets (and their
 * files), the representation (RESQUE_dist between the versions' summaries)
 * and, with --params, the weights (‖w − w₀‖₂/√n per tensor, docs/METHOD.md). */
#include "common.h"
#include "cmd.h"
#include "resque/fingerprint.h"
#include "json.h"
#include "ledger_int.h"
#include "lineage.h"
#include "resque/measure.h"
#include "resque/repo.h"
#include "resque/summary.h"
#include "tensors.h"

#include <math.h>

static const struct cmd_help help = {
	"diff", "compare two versions: datasets, representation, parameters",
	"Lists the datasets added, removed and changed between REF1 and REF2\n"
	"(with --files, every file added, removed or changed inside them); the\n"
	"representation shift between the versions' summaries (RESQUE_dist over\n"
	"the classes both have); and with --params the change of the weights:\n"
	"each tensor's ||w - w0||_2 / sqrt(n) and their mean, read from the\n"
	"recorded safetensors files when their fingerprints still match, or from\n"
	"the files W1 W2 given after --params, which must have the fingerprints the\n"
	"versions recorded (--force compares other files, with a warning). Weights\n"
	"must be safetensors files: a PyTorch checkpoint (.pt, .pth, .bin: a zip\n"
	"archive or a pickle) is refused with what to save instead. Tensors present\n"
	"on one side only are listed.\n"
	"--json prints {\"from\", \"to\", \"datasets\": {\"added\", \"removed\",\n"
	"\"changed\"}, \"representation\": {\"kind\": \"dist\", \"value\",\n"
	"\"classes\": [{\"label\", \"angle\"}], \"old_only\", \"new_only\"} or null,\n"
	"\"params\": {\"mean\", \"tensors\": [{\"name\", \"change\", \"elements\"}],\n"
	"\"only_from\", \"only_to\"} (with --params)}.",
};

/* A version's dataset, and the key that pairs it with the other
 * version's: its recorded directory (the same directory recorded again
 * under another name is the same dataset, changed), else its name. */
struct ds {
	const char *name, *fp, *id;
	char *key;
};

/* The datasets of version `v` (caller frees each key and the array). */
static struct ds *datasets_of(size_t *count, rq_ledger *l, const rq_entry *v)
{
	json_t *a = json_object_get(v->body, "datasets");
	struct ds *out = rq_xcalloc(json_array_size(a) + 1, sizeof(*out));
	size_t n = 0;
	for (size_t i = 0; i < json_array_size(a); i++) {
		json_t *d = json_array_get(a, i);
		rq_entry *e = NULL;
		out[n].name = rq_json_str(d, "name", "");
		out[n].fp = rq_json_str(d, "fingerprint", "");
		out[n].id = rq_json_str(d, "id", "");
		if (rq_ledger_lookup(&e, l, out[n].id, "dataset") == 0 && rq_json_str(e->body, "path", NULL))
			out[n].key = rq_xstrdup(rq_json_str(e->body, "path", NULL));
		else
			out[n].key = rq_xstrdup(out[n].name);
		rq_entry_free(e);
		n++;
	}
	rq_error_clear();
	*count = n;
	return out;
}

static const struct ds *find_ds(const struct ds *v, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].key, key) == 0)
			return &v[i];
	return NULL;
}

static int manifest_of(rq_manifest *out, rq_ledger *l, const char *dataset_id)
{
	rq_entry *e = NULL;
	rq_buf bytes = RQ_BUF_INIT;
	int err = rq_ledger_lookup(&e, l, dataset_id, "dataset");
	if (!err)
		err = rq_ledger_attachment(&bytes, l, e, "manifest");
	if (!err)
		err = rq_manifest_parse(out, bytes.ptr, bytes.len, "dataset manifest");
	rq_entry_free(e);
	rq_buf_release(&bytes);
	return err;
}

static int diff_datasets(json_t **out, rq_ledger *l, const rq_entry *a, const rq_entry *b, bool files, bool json)
{
	size_t na, nb;
	struct ds *da = datasets_of(&na, l, a), *db = datasets_of(&nb, l, b);
	json_t *added = json_array(), *removed = json_array(), *changed = json_array();
	int err = 0;

	for (size_t i = 0; i < nb; i++)
		if (!find_ds(da, na, db[i].key)) {
			json_array_append_new(added, json_pack("{s:s, s:s}", "name", db[i].name, "fingerprint", db[i].fp));
			if (!json)
				printf("  + %s  %s\n", db[i].name, db[i].fp);
		}
	for (size_t i = 0; i < na; i++)
		if (!find_ds(db, nb, da[i].key)) {
			json_array_append_new(removed, json_pack("{s:s, s:s}", "name", da[i].name, "fingerprint", da[i].fp));
			if (!json)
				printf("  - %s  %s\n", da[i].name, da[i].fp);
		}
	for (size_t i = 0; i < na; i++) {
		const struct ds *o = find_ds(db, nb, da[i].key);
		if (!o || strcmp(o->fp, da[i].fp) == 0)
			continue;
		json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", o->name, "from_name", da[i].name, "path",
				      da[i].key, "from", da[i].fp, "to", o->fp);
		if (!json)
			printf("  ~ %s -> %s  %.15s... -> %.15s...\n", da[i].name, o->name, da[i].fp, o->fp);
		if (files) {
			rq_manifest ma, mb;
			rq_manifest_change *ch = NULL;
			size_t nch = 0;
			rq_manifest_init(&ma);
			rq_manifest_init(&mb);
			if ((err = manifest_of(&ma, l, da[i].id)) || (err = manifest_of(&mb, l, o->id))) {
				rq_manifest_release(&ma);
				rq_manifest_release(&mb);
				json_decref(c);
				goto done;
			}
			rq_manifest_diff(&ch, &nch, &ma, &mb);
			json_t *fl = json_array();
			for (size_t k = 0; k < nch; k++) {
				const char *kind = ch[k].kind == RQ_CHANGE_ADDED ? "added"
						   : ch[k].kind == RQ_CHANGE_REMOVED ? "removed" : "changed";
				json_array_append_new(fl, json_pack("{s:s, s:s}", "path", ch[k].path, "change", kind));
				if (!json)
					printf("      %c %s\n", (char)ch[k].kind, ch[k].path);
			}
			json_object_set_new(c, "files", fl);
			free(ch);
			rq_manifest_release(&ma);
			rq_manifest_release(&mb);
		}
		json_array_append_new(changed, c);
	}
	if (!json && !json_array_size(added) && !json_array_size(removed) && !json_array_size(changed))
		printf("  (no change)\n");
done:
	for (size_t i = 0; i < na; i++)
		free(da[i].key);
	for (size_t i = 0; i < nb; i++)
		free(db[i].key);
	free(da);
	free(db);
	*out = json_pack("{s:o, s:o, s:o}", "added", added, "removed", removed, "changed", changed);
	return err;
}

static int summary_of(rq_summary **out, rq_ledger *l, const rq_entry *v)
{
	rq_buf bytes = RQ_BUF_INIT;
	int err;
	*out = NULL;
	if (!json_object_get(json_object_get(v->body, "attachments"), "summary.rqs"))
		return RQ_ENOTFOUND;
	err = rq_ledger_attachment(&bytes, l, v, "summary.rqs");
	if (!err)
		err = rq_summary_decode(out, bytes.ptr, bytes.len, "version summary");
	rq_buf_release(&bytes);
	return err;
}

static json_t *label_array(const int64_t *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer(v[i]));
	return a;
}

static int diff_representation(json_t **out, rq_ledger *l, const rq_entry *a, const rq_entry *b, bool json)
{
	rq_summary *sa = NULL, *sb = NULL;
	rq_dist d;
	int err;

	*out = json_null();
	rq_dist_init(&d);
	err = summary_of(&sa, l, a);
	if (!err)
		err = summary_of(&sb, l, b);
	if (err == RQ_ENOTFOUND) {
		if (!json)
			printf("  (a version has no representation summary)\n");
		err = 0;
		goto done;
	}
	if (err)
		goto done;
	err = rq_dist_compute(&d, sa, sb);
	if (err) {
		/* different dimensions or no shared class: say so, not fail */
		if (!json)
			printf("  not comparable: %s\n", rq_error_last());
		json_decref(*out);
		*out = json_pack("{s:s, s:n, s:s}", "kind", "dist", "value", "reason", rq_error_last());
		rq_error_clear();
		err = 0;
		goto done;
	}
	json_t *cl = json_array();
	for (size_t i = 0; i < d.nclasses; i++)
		json_array_append_new(cl, json_pack("{s:I, s:f}", "label", (json_int_t)d.classes[i].label, "angle",
						    d.classes[i].angle));
	*out = json_pack("{s:s, s:f, s:o, s:o, s:o}", "kind", "dist", "value", d.value, "classes", cl, "old_only",
			 label_array(d.old_only, d.nold_only), "new_only", label_array(d.new_only, d.nnew_only));
	if (!json) {
		printf("  RESQUE_dist %.6f over %zu shared classes\n", d.value, d.nclasses);
		for (size_t i = 0; i < d.nclasses && i < 5; i++)
			printf("    class %" PRId64 "  angle %.6f\n", d.classes[i].label, d.classes[i].angle);
		if (d.nold_only)
			printf("  classes only in the first: %zu\n", d.nold_only);
		if (d.nnew_only)
			printf("  classes only in the second: %zu\n", d.nnew_only);
	}
done:
	rq_dist_release(&d);
	rq_summary_free(sa);
	rq_summary_free(sb);
	return err;
}

/* The weights file of version `v`: `given` (a file named after --params)
 * or the recorded path, checked against the recorded fingerprint. A
 * mismatch is refused, or with `force` warned about and used. */
static int version_weights(rq_buf *out, rq_ledger *l, const rq_entry *v, const char *given, bool force)
{
	json_t *w = json_object_get(v->body, "weights");
	const char *path = rq_json_str(w, "path", NULL), *fp = rq_json_str(w, "fingerprint", NULL);
	const char *name = rq_json_str(v->body, "name", "?");
	rq_buf why = RQ_BUF_INIT;
	rq_fp_result r;
	int err;

	if (given) {
		rq_buf_puts(out, given);
	} else if (!path) {
		return rq_error_set(RQ_ENOTFOUND, "version %s records no weights path; give the files: --params W1 W2",
				    name);
	} else {
		if (path[0] != '/') {
			rq_repo_root(out, rq_ledger_dir(l));
			rq_buf_putc(out, '/');
		}
		rq_buf_puts(out, path);
	}
	rq_fp_result_init(&r);
	if ((err = rq_fingerprint_path(&r, out->ptr, NULL))) {
		err = rq_error_prefix(err, "weights of version %s: ", name);
		goto done;
	}
	if (fp && strcmp(r.fingerprint, fp) == 0)
		goto done;
	if (!fp)
		rq_buf_printf(&why, "%s: version %s records no weights fingerprint to check it against", out->ptr, name);
	else if (given)
		rq_buf_printf(&why, "%s: not the weights of version %s (its fingerprint %.15s... is not the recorded %.15s...)",
			      out->ptr, name, r.fingerprint, fp);
	else
		rq_buf_printf(&why, "%s: no longer the weights of version %s (fingerprint changed)", out->ptr, name);
	if (force)
		cmd_warn("%s; compared anyway (--force)", why.ptr);
	else if (given)
		err = rq_error_set(RQ_EINVALID, "%s; give version %s's weights, or --force to compare these files anyway",
				   why.ptr, name);
	else
		err = rq_error_set(RQ_EINVALID, "%s; give the files: --params W1 W2, or --force to compare anyway",
				   why.ptr);
done:
	rq_fp_result_release(&r);
	rq_buf_release(&why);
	return err;
}

static int both_weights(rq_buf *pa, rq_buf *pb, rq_ledger *l, const rq_entry *a, const rq_entry *b,
			const struct opt_list *given, bool force)
{
	int err = version_weights(pa, l, a, given->n ? given->v[0] : NULL, force);
	return err ? err : version_weights(pb, l, b, given->n ? given->v[1] : NULL, force);
}

static int diff_params(json_t **out, const char *w0, const char *w1, bool json)
{
	rq_param_diff d;
	int err = rq_param_diff_compute(&d, w0, w1);
	*out = NULL;
	if (err)
		return err;
	json_t *t = json_array(), *of = json_array(), *ot = json_array();
	for (size_t i = 0; i < d.n; i++) {
		json_array_append_new(t, json_pack("{s:s, s:f, s:I}", "name", d.v[i].name, "change", d.v[i].change,
						   "elements", (json_int_t)d.v[i].elements));
		if (!json)
			printf("    %-40s %.6g\n", d.v[i].name, d.v[i].change);
	}
	for (size_t i = 0; i < d.nonly_from; i++)
		json_array_append_new(of, json_string(d.only_from[i]));
	for (size_t i = 0; i < d.nonly_to; i++)
		json_array_append_new(ot, json_string(d.only_to[i]));
	*out = json_pack("{s:o, s:o, s:o, s:o}", "mean", d.n ? json_real(d.mean) : json_null(), "tensors", t,
			 "only_from", of, "only_to", ot);
	json_t *sk = json_array();
	for (size_t i = 0; i < d.nskipped; i++)
		json_array_append_new(sk, json_string(d.skipped[i]));
	json_object_set_new(*out, "skipped", sk);
	if (!json) {
		printf("  mean ||w - w0|| / sqrt(n) over %zu tensors: %.6g\n", d.n, d.mean);
		for (size_t i = 0; i < d.nskipped; i++)
			printf("  not floating point, skipped: %s\n", d.skipped[i]);
		for (size_t i = 0; i < d.nonly_from; i++)
			printf("  only in the first: %s\n", d.only_from[i]);
		for (size_t i = 0; i < d.nonly_to; i++)
			printf("  only in the second: %s\n", d.only_to[i]);
	}
	rq_param_diff_release(&d);
	return 0;
}

int cmd_diff(int argc, char **argv)
{
	const char *r1 = NULL, *r2 = NULL;
	bool files = false, params = false, json = false, force = false;
	struct opt_list wfiles = { 0 };
	const struct opt opts[] = {
		{ OPT_BOOL, 0, "files", &files, NULL, "list the files changed inside changed datasets" },
		{ OPT_BOOL, 0, "params", &params, NULL, "compare the weights (optionally the files W1 W2)" },
		{ OPT_BOOL, 0, "force", &force, NULL, "with --params: compare weights that are not the versions' (a warning)" },
		{ OPT_BOOL, 0, "json", &json, NULL, "print as JSON" },
		{ OPT_ARG, 0, "REF1", &r1, NULL, "the first version", OPT_REQUIRED },
		{ OPT_ARG, 0, "REF2", &r2, NULL, "the second version", OPT_REQUIRED },
		{ OPT_ARGS, 0, "W1 W2", &wfiles, NULL, "with --params: weights files to use instead" },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	rq_entry *a = NULL, *b = NULL;
	json_t *out = NULL, *part = NULL;
	rq_buf pa = RQ_BUF_INIT, pb = RQ_BUF_INIT;
	int rc = 0, err;

	if (!opt_parse(&rc, &help, opts, argc, argv))
		goto out;
	if (wfiles.n && (!params || wfiles.n != 2)) {
		rc = cmd_usage(&help, opts, "weights files go with --params, two of them (W1 W2)");
		goto out;
	}
	if (force && !params) {
		rc = cmd_usage(&help, opts, "--force goes with --params");
		goto out;
	}
	if ((rc = cmd_open_ledger(&l, NULL)))
		goto out;
	if ((err = rq_version_resolve(&a, l, r1)) || (err = rq_version_resolve(&b, l, r2))) {
		rc = cmd_fail_code(err);
		goto out;
	}
	/* the weights are checked before anything is printed */
	if (params && (err = both_weights(&pa, &pb, l, a, b, &wfiles, force))) {
		rc = cmd_fail_code(err);
		goto out;
	}
	out = json_pack("{s:s, s:s}", "from", rq_json_str(a->body, "name", ""), "to", rq_json_str(b->body, "name", ""));
	if (!json)
		printf("%s -> %s\ndatasets:\n", rq_json_str(a->body, "name", "?"), rq_json_str(b->body, "name", "?"));
	if ((err = diff_datasets(&part, l, a, b, files, json))) {
		json_decref(part);
		rc = cmd_fail_code(err);
		goto out;
	}
	json_object_set_new(out, "datasets", part);
	if (!json)
		printf("representation:\n");
	if ((err = diff_representation(&part, l, a, b, json))) {
		json_decref(part);
		rc = cmd_fail_code(err);
		goto out;
	}
	json_object_set_new(out, "representation", part);
	if (params) {
		if (!json)
			printf("params:\n");
		if ((err = diff_params(&part, pa.ptr, pb.ptr, json))) {
			rc = cmd_fail_code(err);
			goto out;
		}
		json_object_set_new(out, "params", part);
	}
	if (json)
		rc = cmd_print_json(out);
out:
	json_decref(out);
	rq_entry_free(a);
	rq_entry_free(b);
	rq_buf_release(&pa);
	rq_buf_release(&pb);
	opt_list_release(&wfiles);
	cmd_close_ledger(l, NULL);
	return rc;
}
