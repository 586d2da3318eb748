/* RESQUE_dist on the command line: `resque measure dist` between given
 * files, and the index of a `resque plan --kind dist` (cmd/measures.h). */
#include "common.h"
#include "cmd.h"
#include "measures.h"
#include "resque/array.h"
#include "resque/measure.h"

#include <sys/stat.h>

static bool is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* One side of `measure dist`: a summary file, or EMB:LABELS. */
static int load_side(rq_summary **out, const char *spec, const char *tensor, const char *which)
{
	rq_array *emb = NULL, *lab = NULL;
	char *copy = NULL;
	int err;

	*out = NULL;
	if (is_file(spec))
		return rq_summary_read(out, spec);
	/* Split at the first ':' that leaves two existing files. */
	copy = rq_xstrdup(spec);
	for (char *c = strchr(copy, ':'); c; c = strchr(c + 1, ':')) {
		*c = '\0';
		if (is_file(copy) && is_file(c + 1)) {
			err = rq_array_open_pair(&emb, &lab, copy, c + 1, tensor);
			if (!err)
				err = rq_summary_from_arrays(out, emb, lab, 1);
			goto done;
		}
		*c = ':';
	}
	err = rq_error_set(RQ_ENOTFOUND, "%s: no such file (--%s takes a summary or EMB:LABELS)",
			   spec, which);
done:
	rq_array_free(emb);
	rq_array_free(lab);
	free(copy);
	return err;
}

static json_t *label_array(const int64_t *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer((json_int_t)v[i]));
	return a;
}

static void print_labels(const char *what, const int64_t *v, size_t n)
{
	if (!n)
		return;
	printf("%s:", what);
	for (size_t i = 0; i < n; i++)
		printf(" %" PRId64, v[i]);
	printf("\n");
}

static const struct cmd_help dist_help = {
	"measure dist", "RESQUE_dist between old and new representations",
	"Each side is a summary (.rqs, see 'resque summarize') or EMB:LABELS, the\n"
	"embeddings and labels of a data set passed through the current model.\n"
	"Prints RESQUE_dist, the unweighted mean over shared classes of the angle\n"
	"between the old and new class sum vectors (divided by π, in [0, 1]),\n"
	"then each class's angle, the classes that moved most first, and the\n"
	"classes found on one side only (excluded).\n"
	"--json prints {\"kind\": \"dist\", \"value\": R, \"classes\": [{\"label\": L,\n"
	"\"angle\": A, \"n_old\": N, \"n_new\": N}, ...], \"old_only\": [...],\n"
	"\"new_only\": [...], \"zero_sum\": [...]}.",
};

int measure_dist_run(int argc, char **argv)
{
	const char *old_spec = NULL, *new_spec = NULL, *tensor = NULL;
	bool json = false;
	long long top = -1;
	const struct opt opts[] = {
		{ OPT_STRING, 0, "old", &old_spec, "OLD", "old side: SUMMARY.rqs or EMB:LABELS (required)", OPT_REQUIRED },
		{ OPT_STRING, 0, "new", &new_spec, "NEW", "new side: SUMMARY.rqs or EMB:LABELS (required)", OPT_REQUIRED },
		{ OPT_STRING, 0, "tensor", &tensor, "NAME", "the embeddings tensor of safetensors files" },
		{ OPT_INT, 'n', "top", &top, "N", "show only the N classes that moved most" },
		{ OPT_BOOL, 0, "json", &json, NULL, "print one JSON document" },
		{ OPT_END },
	};
	rq_summary *o = NULL, *n = NULL;
	rq_dist r;
	int rc = EXIT_OK, err;

	rq_dist_init(&r);
	OPT_PARSE(&dist_help, opts, argc, argv);
	if ((err = load_side(&o, old_spec, tensor, "old")) ||
	    (err = load_side(&n, new_spec, tensor, "new")) || (err = rq_dist_compute(&r, o, n))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	size_t shown = top >= 0 && (size_t)top < r.nclasses ? (size_t)top : r.nclasses;
	if (json) {
		json_t *cl = json_array();
		for (size_t i = 0; i < shown; i++)
			json_array_append_new(cl, json_pack("{s:I,s:f,s:I,s:I}", "label",
				(json_int_t)r.classes[i].label, "angle", r.classes[i].angle, "n_old",
				(json_int_t)r.classes[i].n_old, "n_new", (json_int_t)r.classes[i].n_new));
		json_t *j = json_pack("{s:s,s:f,s:I,s:o,s:o,s:o,s:o}", "kind", "dist", "value", r.value,
				      "shared", (json_int_t)r.nclasses, "classes", cl, "old_only",
				      label_array(r.old_only, r.nold_only), "new_only",
				      label_array(r.new_only, r.nnew_only), "zero_sum",
				      label_array(r.zero, r.nzero));
		rc = cmd_print_json(j);
		json_decref(j);
		goto done;
	}
	printf("RESQUE_dist %.9f over %zu shared classes\n", r.value, r.nclasses);
	printf("%-20s %12s %12s %12s\n", "class", "angle", "old rows", "new rows");
	for (size_t i = 0; i < shown; i++)
		printf("%-20" PRId64 " %12.9f %12" PRIu64 " %12" PRIu64 "\n", r.classes[i].label,
		       r.classes[i].angle, r.classes[i].n_old, r.classes[i].n_new);
	print_labels("old side only (excluded)", r.old_only, r.nold_only);
	print_labels("new side only (excluded)", r.new_only, r.nnew_only);
	print_labels("zero sum vector (excluded)", r.zero, r.nzero);
done:
	rq_dist_release(&r);
	rq_summary_free(o);
	rq_summary_free(n);
	return rc;
}

int measure_dist_plan_index(struct measure_value *out, const struct measure_input *in)
{
	rq_dist d;
	int err;

	rq_dist_init(&d);
	if ((err = rq_dist_compute(&d, in->base_sum, in->sum)))
		rq_error_prefix(err, "%s against version %s: ", in->label, in->base_name);
	out->index = d.value;
	snprintf(out->detail, sizeof(out->detail), " over %zu shared classes", d.nclasses);
	rq_dist_release(&d);
	return err;
}
