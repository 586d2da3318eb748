/* libFuzzer target: safetensors bytes as a user may hand them to us; opens
 * the only tensor and the tensor "emb", and reads every row of what opens. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rq_array *a = NULL;
	/* a copy of exactly `size` bytes, so ASan sees any over-read */
	uint8_t *copy = rq_xmalloc(size ? size : 1);
	memcpy(copy, data, size);
	if (rq_array_open_buffer(&a, copy, size, "fuzz.st", size % 2 ? "emb" : NULL) == 0) {
		if (rq_array_cols(a) == 0 || rq_array_ndim(a) < 1 || rq_array_ndim(a) > 2)
			abort();
		read_all(a);
	}
	rq_array_free(a);
	free(copy);
	return 0;
}
