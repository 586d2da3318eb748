/* Parameter change between two safetensors weight files, streamed. */
#include "common.h"
#include "resque/array.h"
#include "tensors.h"

#include <math.h>

#define BLOCK 65536

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void rq_param_diff_release(rq_param_diff *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].name);
	free(d->v);
	free_names(d->only_from, d->nonly_from);
	free_names(d->only_to, d->nonly_to);
	free_names(d->skipped, d->nskipped);
	memset(d, 0, sizeof(*d));
}

/* Append to a list allocated for every name it can receive. */
static void push(char **v, size_t *n, const char *s)
{
	v[(*n)++] = rq_xstrdup(s);
}

/* Sum of squared differences of one tensor, in float64. */
static int tensor_change(rq_param_diff *d, const char *from, const char *to, const char *name,
			 double *buf0, double *buf1)
{
	rq_array *a = NULL, *b = NULL;
	int err;
	if ((err = rq_array_open_flat(&a, from, name)) || (err = rq_array_open_flat(&b, to, name)))
		goto done;
	if (!rq_dtype_is_float(rq_array_dtype(a)) || !rq_dtype_is_float(rq_array_dtype(b))) {
		push(d->skipped, &d->nskipped, name);
		goto done;
	}
	size_t n = rq_array_rows(a);
	if (n != rq_array_rows(b)) {
		err = rq_error_set(RQ_EINVALID, "tensor '%s' has %zu elements in %s but %zu in %s", name, n, from,
				   rq_array_rows(b), to);
		goto done;
	}
	double ss = 0;
	for (size_t at = 0; at < n; at += BLOCK) {
		size_t m = n - at < BLOCK ? n - at : BLOCK;
		if ((err = rq_array_read_f64(a, at, m, buf0)) || (err = rq_array_read_f64(b, at, m, buf1)))
			goto done;
		for (size_t i = 0; i < m; i++) {
			double x = buf1[i] - buf0[i];
			ss += x * x;
		}
		rq_array_evict(a, at, m); /* one pass: memory stays at a block */
		rq_array_evict(b, at, m);
	}
	d->v[d->n].name = rq_xstrdup(name);
	d->v[d->n].change = n ? sqrt(ss) / sqrt((double)n) : 0.0;
	d->v[d->n].elements = n;
	d->n++;
done:
	rq_array_free(a);
	rq_array_free(b);
	return err;
}

int rq_param_diff_compute(rq_param_diff *d, const char *from, const char *to)
{
	char **na = NULL, **nb = NULL;
	size_t ka = 0, kb = 0;
	double *buf0 = NULL, *buf1 = NULL;
	int err;

	memset(d, 0, sizeof(*d));
	if ((err = rq_array_tensor_names(&na, &ka, from)) || (err = rq_array_tensor_names(&nb, &kb, to)))
		goto done;
	/* Each list is allocated once for all the names it can receive. */
	d->v = rq_xcalloc((ka < kb ? ka : kb) + 1, sizeof(*d->v));
	d->skipped = rq_xcalloc((ka < kb ? ka : kb) + 1, sizeof(*d->skipped));
	d->only_from = rq_xcalloc(ka + 1, sizeof(*d->only_from));
	d->only_to = rq_xcalloc(kb + 1, sizeof(*d->only_to));
	buf0 = rq_xmallocarray(BLOCK, sizeof(double));
	buf1 = rq_xmallocarray(BLOCK, sizeof(double));
	/* both lists are sorted: merge them */
	size_t i = 0, j = 0;
	while (i < ka || j < kb) {
		int c = i >= ka ? 1 : j >= kb ? -1 : strcmp(na[i], nb[j]);
		if (c < 0) {
			push(d->only_from, &d->nonly_from, na[i++]);
		} else if (c > 0) {
			push(d->only_to, &d->nonly_to, nb[j++]);
		} else {
			if ((err = tensor_change(d, from, to, na[i], buf0, buf1)))
				goto done;
			i++;
			j++;
		}
	}
	double sum = 0;
	for (size_t k = 0; k < d->n; k++)
		sum += d->v[k].change;
	d->mean = d->n ? sum / (double)d->n : 0.0;
done:
	free(buf0);
	free(buf1);
	free_names(na, ka);
	free_names(nb, kb);
	if (err)
		rq_param_diff_release(d);
	return err;
}
