/* Private to the array readers (core/input/array.c, core/input/npy.c,
 * core/input/safetensors.c): the layout of an opened array and the parsers that
 * fill it from untrusted header bytes. */
#ifndef RESQUE_ARRAY_INT_H
#define RESQUE_ARRAY_INT_H

#include "resque/array.h"

struct rq_array {
	char *name;              /* path or buffer name, for messages */
	char *tensor;            /* safetensors tensor name; NULL for .npy */
	void *map;               /* our mmap of the file, NULL for buffers */
	size_t map_len;
	const uint8_t *data;     /* first element */
	size_t data_len;         /* rows * cols * itemsize, checked */
	size_t rows, cols;
	size_t itemsize;
	int ndim;                /* 1 or 2 */
	rq_dtype dtype;
	rq_array_format format;
	bool swap;               /* element bytes are in the other byte order */
	bool fortran;            /* column-major: (i, j) at j * rows + i */
	bool flat;               /* any rank, seen as one column of numel rows */
};

/* Size in bytes of one element of `t`. */
size_t rq_dtype_size(rq_dtype t);

/* "float32", "int64", ... for messages. */
const char *rq_dtype_long_name(rq_dtype t);

/* Fill a->data, rows, cols, dtype, swap, fortran, ndim from the `len`
 * bytes at `buf` (a->name set already, used in messages). */
int rq_npy_parse(rq_array *a, const uint8_t *buf, size_t len);
int rq_safetensors_parse(rq_array *a, const uint8_t *buf, size_t len, const char *tensor);
/* The names of every tensor in a safetensors file, sorted by bytes. */
int rq_safetensors_names(char ***out, size_t *n, const uint8_t *buf, size_t len, const char *name);

/* RQ_EINVALID with a message saying what the file is and what to save
 * instead when its first bytes are a format people hand us by mistake: a
 * zip archive (a PyTorch checkpoint of torch.save, a NumPy .npz) or a
 * Python pickle (a legacy PyTorch checkpoint); 0 otherwise. `weights`:
 * the file was given as a model's weights (safetensors only). */
int rq_array_foreign(const uint8_t *buf, size_t len, const char *name, bool weights);

/* Shared shape checks once the dimensions are known: 0 dims and more than
 * 2 refused, 0 columns refused; sets rows/cols/ndim. `dims` has `ndim`
 * entries. */
int rq_array_set_shape(rq_array *a, const size_t *dims, int ndim);

#endif
