/* RESQUE_dist (docs/METHOD.md): the angle between each class's old and new
 * sum vectors, over π, averaged without weights over the shared classes. */
#include "common.h"
#include "resque/forecast.h"
#include "resque/measure.h"

#include <math.h>

/* Orthogonal class sums (an angle of π/2 for every class) mean nothing of
 * the old representation carries over: a training from scratch. */
const rq_shift_kind rq_shift_dist = { "dist", 0.5 };

void rq_dist_init(rq_dist *d)
{
	memset(d, 0, sizeof(*d));
}

void rq_dist_release(rq_dist *d)
{
	free(d->classes);
	free(d->old_only);
	free(d->new_only);
	free(d->zero);
	rq_dist_init(d);
}

static int cmp_class(const void *a, const void *b)
{
	const rq_dist_class *x = a, *y = b;
	if (x->angle != y->angle)
		return x->angle < y->angle ? 1 : -1; /* largest angle first */
	return (x->label > y->label) - (x->label < y->label);
}

static double dot(const double *a, const double *b, size_t d)
{
	double s = 0;
	for (size_t j = 0; j < d; j++)
		s += a[j] * b[j];
	return s;
}

int rq_dist_compute(rq_dist *out, const rq_summary *old_s, const rq_summary *new_s)
{
	size_t *oo = NULL, *no = NULL, d = old_s->d;
	double total = 0;
	int err = 0;

	rq_dist_init(out);
	if (old_s->d != new_s->d) {
		err = rq_error_set(RQ_EINVALID, "the old embeddings have dimension %zu but the new ones %zu",
				   old_s->d, new_s->d);
		goto done;
	}
	oo = rq_summary_order(old_s);
	no = rq_summary_order(new_s);
	out->classes = rq_xmallocarray(old_s->k + 1, sizeof(*out->classes));
	out->old_only = rq_xmallocarray(old_s->k + 1, sizeof(int64_t));
	out->new_only = rq_xmallocarray(new_s->k + 1, sizeof(int64_t));
	out->zero = rq_xmallocarray(old_s->k + 1, sizeof(int64_t));
	/* Walk both label lists in ascending order. */
	for (size_t i = 0, j = 0; i < old_s->k || j < new_s->k;) {
		int64_t lo = i < old_s->k ? old_s->labels[oo[i]] : 0;
		int64_t ln = j < new_s->k ? new_s->labels[no[j]] : 0;
		if (j >= new_s->k || (i < old_s->k && lo < ln)) {
			out->old_only[out->nold_only++] = lo;
			i++;
			continue;
		}
		if (i >= old_s->k || ln < lo) {
			out->new_only[out->nnew_only++] = ln;
			j++;
			continue;
		}
		const double *a = old_s->sums + oo[i] * d, *b = new_s->sums + no[j] * d;
		double aa = dot(a, a, d), bb = dot(b, b, d);
		if (aa == 0 || bb == 0) {
			out->zero[out->nzero++] = lo;
		} else {
			/* sqrt(aa·bb) rather than ‖a‖·‖b‖: identical vectors then give
			 * a cosine of exactly 1 (sqrt(fl(x²)) = x), hence an angle of 0. */
			double ab = aa * bb;
			double norms = isfinite(ab) && ab > 0 ? sqrt(ab) : sqrt(aa) * sqrt(bb);
			double c = dot(a, b, d) / norms;
			c = c > 1 ? 1 : c < -1 ? -1 : c;
			rq_dist_class *dc = &out->classes[out->nclasses++];
			dc->label = lo;
			dc->angle = acos(c) / M_PI;
			dc->n_old = old_s->counts[oo[i]];
			dc->n_new = new_s->counts[no[j]];
			total += dc->angle;
		}
		i++;
		j++;
	}
	if (out->nclasses == 0) {
		err = rq_error_set(RQ_EINVALID, "no class with a non-zero sum is present on both sides "
				   "(old: %zu classes, new: %zu)", old_s->k, new_s->k);
		goto done;
	}
	out->value = total / (double)out->nclasses;
	qsort(out->classes, out->nclasses, sizeof(*out->classes), cmp_class);
done:
	free(oo);
	free(no);
	if (err)
		rq_dist_release(out);
	return err;
}
