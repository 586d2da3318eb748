/* resque summarize: write the representation summary (.rqs) of embeddings
 * and labels, or merge the summaries of shards (docs/METHOD.md). */
#include "common.h"
#include "cmd.h"
#include "resque/array.h"
#include "resque/fingerprint.h"
#include "resque/summary.h"

static const struct cmd_help help = {
	"summarize", "write the representation summary of embeddings and labels",
	"Reads EMB (an N×D .npy or safetensors array) and --labels (N integers)\n"
	"and writes per-class counts and float64 sum vectors to OUT (default:\n"
	"EMB's name with .rqs, in the current directory). --moments 2 adds the\n"
	"total sum and the D×D Gram matrix. Memory stays O(K·D) whatever N.\n"
	"\n"
	"With --merge, the arguments are summaries of disjoint shards and OUT\n"
	"receives their sum, which equals the summary of the whole data set.\n"
	"The format is described in docs/FORMATS.md.",
};

static void default_output(rq_buf *out, const char *emb)
{
	const char *base = strrchr(emb, '/');
	base = base ? base + 1 : emb;
	const char *dot = strrchr(base, '.');
	size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
	rq_buf_put(out, base, len);
	rq_buf_puts(out, ".rqs");
}

static void print_result(bool json, const char *path, const rq_summary *s, const rq_buf *enc)
{
	char fp[RQ_FINGERPRINT_SIZE];
	rq_fingerprint_bytes(fp, enc->ptr, enc->len);
	if (json) {
		json_t *j = json_pack("{s:s,s:I,s:I,s:I,s:i,s:I,s:s}", "path", path, "rows",
				      (json_int_t)s->n, "classes", (json_int_t)s->k, "dim",
				      (json_int_t)s->d, "moments", s->moments, "bytes",
				      (json_int_t)enc->len, "fingerprint", fp);
		cmd_print_json(j);
		json_decref(j);
	} else {
		/* "b2:" and the first 16 hex digits */
		printf("%s: %" PRIu64 " rows, %zu classes, dimension %zu, moments %d, %.19s\n",
		       path, s->n, s->k, s->d, s->moments, fp);
	}
}

/* Merge the summaries `files` into *out: 0, or the exit status of the
 * error printed. */
static int merge_files(rq_summary **out, const struct opt_list *files)
{
	rq_summary *s = NULL, *part = NULL;
	int rc = EXIT_OK, err;

	for (size_t i = 0; i < files->n; i++) {
		if ((err = rq_summary_read(&part, files->v[i]))) {
			rc = cmd_fail_code(err);
			goto done;
		}
		if (!s) {
			s = part;
			part = NULL;
			continue;
		}
		if (part->moments != s->moments) {
			rc = cmd_error("%s has moments %d but %s has moments %d: merge summaries "
				       "made with the same --moments", files->v[i], part->moments,
				       files->v[0], s->moments);
			goto done;
		}
		if ((err = rq_summary_merge(s, part, files->v[i]))) {
			rc = cmd_fail_code(err);
			goto done;
		}
		rq_summary_free(part);
		part = NULL;
	}
	*out = s;
	s = NULL;
done:
	rq_summary_free(s);
	rq_summary_free(part);
	return rc;
}

static int summarize_file(rq_summary **out, const char *path, const char *labels, const char *tensor,
			  int moments)
{
	rq_array *emb = NULL, *lab = NULL;
	int err;

	if (!(err = rq_array_open_pair(&emb, &lab, path, labels, tensor)))
		err = rq_summary_from_arrays(out, emb, lab, moments);
	rq_array_free(emb);
	rq_array_free(lab);
	return err;
}

int cmd_summarize(int argc, char **argv)
{
	const char *labels = NULL, *output = NULL, *tensor = NULL;
	long long moments = 1;
	bool merge = false, json = false;
	struct opt_list files = { NULL, 0 };
	const struct opt opts[] = {
		{ OPT_STRING, 'l', "labels", &labels, "FILE", "the labels (N integers)" },
		{ OPT_STRING, 'o', "output", &output, "OUT", "where to write the summary (.rqs)" },
		{ OPT_INT, 0, "moments", &moments, "M", "1: counts and sums (default); 2: also the Gram matrix" },
		{ OPT_STRING, 0, "tensor", &tensor, "NAME", "the embeddings tensor of a safetensors file" },
		{ OPT_BOOL, 0, "merge", &merge, NULL, "merge the summaries given as arguments" },
		{ OPT_BOOL, 0, "json", &json, NULL, "describe the written summary as JSON" },
		{ OPT_ARGS, 0, "EMB|SUMMARY", &files, NULL, "the embeddings, or with --merge the summaries", OPT_REQUIRED },
		{ OPT_END },
	};
	rq_summary *s = NULL;
	rq_buf out = RQ_BUF_INIT, enc = RQ_BUF_INIT;
	int rc = EXIT_OK, err = 0;

	OPT_PARSE(&help, opts, argc, argv);
	if (merge && (labels || tensor || moments != 1))
		rc = cmd_usage(&help, opts, "--merge takes summaries only (no --labels, --tensor or --moments)");
	else if (merge && !output)
		rc = cmd_usage(&help, opts, "--merge needs an output file (-o OUT.rqs)");
	else if (!merge && files.n != 1)
		rc = cmd_usage(&help, opts, "give one embeddings file (or --merge with summaries)");
	else if (!merge && !labels)
		rc = cmd_usage(&help, opts, "a summary needs the labels (--labels FILE)");
	else if (!merge && moments != 1 && moments != 2)
		rc = cmd_usage(&help, opts, "--moments must be 1 or 2, not %lld", moments);
	else if (merge)
		rc = merge_files(&s, &files);
	else
		err = summarize_file(&s, files.v[0], labels, tensor, (int)moments);
	if (rc || err)
		goto done;
	if (output)
		rq_buf_puts(&out, output);
	else
		default_output(&out, files.v[0]);
	if ((err = rq_summary_encode(&enc, s)) ||
	    (err = rq_file_write_atomic(out.ptr, enc.ptr, enc.len, 0644)))
		goto done;
	print_result(json, out.ptr, s, &enc);
done:
	if (err)
		rc = cmd_fail_code(err);
	rq_summary_free(s);
	rq_buf_release(&out);
	rq_buf_release(&enc);
	opt_list_release(&files);
	return rc;
}
