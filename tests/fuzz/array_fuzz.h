/* Shared by fuzz_npy.c and fuzz_safetensors.c: open untrusted bytes as an
 * array and, when they open, read every row as float32, float64 and labels
 * (the conversions must never read past the bytes, whatever they say). */
#ifndef RESQUE_ARRAY_FUZZ_H
#define RESQUE_ARRAY_FUZZ_H

#include "common.h"
#include "resque/array.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void read_all(const rq_array *a)
{
	size_t rows = rq_array_rows(a), cols = rq_array_cols(a), block = 5;
	float *f = NULL;
	double *d = NULL;
	int64_t *y = rq_xmalloc(block * sizeof(*y));

	if (rows == 0) /* then cols is unbounded by the data: allocate nothing */
		goto done;
	/* data bytes == rows * cols * itemsize <= size, so this is bounded */
	f = rq_xmalloc(block * cols * sizeof(*f));
	d = rq_xmalloc(block * cols * sizeof(*d));
	for (size_t r = 0; r < rows; r += block) {
		size_t m = rows - r < block ? rows - r : block;
		rq_array_read_f32(a, r, m, f);
		rq_array_read_f64(a, r, m, d);
		rq_array_read_labels(a, r, m, y);
	}
done:
	free(f);
	free(d);
	free(y);
}

static int fuzz_array(const uint8_t *data, size_t size, const char *name, const char *tensor)
{
	rq_array *a = NULL;
	/* a copy of exactly `size` bytes, so ASan sees any over-read */
	uint8_t *copy = rq_xmalloc(size ? size : 1);
	memcpy(copy, data, size);
	if (rq_array_open_buffer(&a, copy, size, name, tensor) == 0) {
		if (rq_array_cols(a) == 0 || rq_array_ndim(a) < 1 || rq_array_ndim(a) > 2)
			abort();
		read_all(a);
	}
	rq_array_free(a);
	free(copy);
	return 0;
}

#endif
