/* The measures' view of the arrays users hand us: summaries streamed from
 * an embeddings/labels pair, and k-means row sources over an rq_array. */
#include "common.h"
#include "resque/array.h"
#include "resque/measure.h"

#define SUMMARY_BLOCK_BYTES (4u << 20) /* target size of one row block */

int rq_summary_from_arrays(rq_summary **out, const rq_array *emb, const rq_array *labels,
			   int moments)
{
	rq_summary *s = NULL;
	void *block = NULL;
	int64_t *lab = NULL;
	size_t n = rq_array_rows(emb), d = rq_array_cols(emb);
	bool use_f64 = moments == 2 || rq_array_dtype(emb) == RQ_DT_F64;
	size_t width = use_f64 ? sizeof(double) : sizeof(float);
	size_t rows = SUMMARY_BLOCK_BYTES / (d * width) + 1;
	int err;

	*out = NULL;
	if (rq_array_rows(labels) != n) {
		err = rq_error_set(RQ_EINVALID, "%s has %zu labels but %s has %zu rows",
				   rq_array_name(labels), rq_array_rows(labels), rq_array_name(emb), n);
		goto done;
	}
	if ((err = rq_summary_new(&s, d, moments)))
		goto done;
	if (rows > n)
		rows = n ? n : 1;
	block = rq_xmallocarray(rows * d, width);
	lab = rq_xmallocarray(rows, sizeof(*lab));
	for (size_t r0 = 0; r0 < n; r0 += rows) {
		size_t m = n - r0 < rows ? n - r0 : rows;
		if ((err = rq_array_read_labels(labels, r0, m, lab)))
			goto done;
		if (use_f64) {
			if ((err = rq_array_read_f64(emb, r0, m, block)))
				goto done;
			if ((err = rq_summary_add_f64(s, block, lab, m)))
				goto done;
		} else {
			if ((err = rq_array_read_f32(emb, r0, m, block)))
				goto done;
			if ((err = rq_summary_add_f32(s, block, lab, m)))
				goto done;
		}
		/* one pass: what was read leaves memory (peak = a block) */
		rq_array_evict(emb, r0, m);
		rq_array_evict(labels, r0, m);
	}
	*out = s;
	s = NULL;
done:
	rq_summary_free(s);
	free(block);
	free(lab);
	return err;
}

static int array_read(const void *ctx, size_t row0, size_t n, float *out)
{
	return rq_array_read_f32(ctx, row0, n, out);
}

void rq_rows_from_array(rq_rows *out, const rq_array *a)
{
	out->n = rq_array_rows(a);
	out->d = rq_array_cols(a);
	out->read = array_read;
	out->ctx = a;
	out->mem = NULL;
}

int rq_labels_read_all(int64_t **out, const rq_array *labels)
{
	size_t n = rq_array_rows(labels);
	int64_t *y = rq_xmallocarray(n ? n : 1, sizeof(*y));
	int err = rq_array_read_labels(labels, 0, n, y);
	if (err) {
		free(y);
		y = NULL;
	}
	*out = y;
	return err;
}
