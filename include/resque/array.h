/* Reading the arrays users hand us: NumPy .npy and safetensors files,
 * memory-mapped and streamed in row blocks converted to float32/float64 or
 * int64, so nothing ever needs N×D in memory (docs/METHOD.md).
 *
 * Every function that can fail returns 0 or a negative RQ_E* code and sets
 * a message naming the file and the problem. Untrusted bytes: every length
 * is checked against the file size before use. */
#ifndef RESQUE_ARRAY_H
#define RESQUE_ARRAY_H

#include <stddef.h>
#include <stdint.h>
#include "resque/export.h"

RQ_BEGIN_DECLS

typedef enum {
	RQ_DT_F16, RQ_DT_BF16, RQ_DT_F32, RQ_DT_F64,
	RQ_DT_I8, RQ_DT_I16, RQ_DT_I32, RQ_DT_I64,
	RQ_DT_U8, RQ_DT_U16, RQ_DT_U32, RQ_DT_U64,
	RQ_DT_BOOL
} rq_dtype;

typedef enum { RQ_FMT_NPY, RQ_FMT_SAFETENSORS } rq_array_format;

/* An opened 1-D or 2-D array: a view on a mapped file (or a caller's
 * buffer). A 1-D array of length n has n rows and 1 column. */
typedef struct rq_array rq_array;

/* Open `path`, detecting the format from its first bytes. For safetensors,
 * `tensor` names the tensor (NULL: the file must hold exactly one; an
 * error lists the names otherwise). Arrays of more than 2 dimensions are
 * refused with a message (pool conv outputs first). `path` and `tensor`
 * are copied. On success *out is a new array the caller frees with
 * rq_array_free; on failure it is NULL. Returns 0, RQ_ENOTFOUND (no such
 * file; no such tensor, with the names it holds), RQ_EIO (cannot read or
 * map it) or RQ_EINVALID (not an array this reader accepts, with why). */
RQ_EXTERN int rq_array_open(rq_array **out, const char *path, const char *tensor);

/* The same over bytes the caller keeps alive (fuzzing, tests): `data` is
 * borrowed and must outlive the array; `name` is used in messages and
 * copied. Returns 0, RQ_ENOTFOUND (no such tensor) or RQ_EINVALID. */
RQ_EXTERN int rq_array_open_buffer(rq_array **out, const void *data, size_t len,
			 const char *name, const char *tensor);

RQ_EXTERN void rq_array_free(rq_array *a); /* unmaps and frees; accepts NULL */

/* Accessors; they cannot fail. Strings are borrowed from the array (they
 * live until rq_array_free) or static (rq_dtype_name). */
RQ_EXTERN size_t rq_array_rows(const rq_array *a);
RQ_EXTERN size_t rq_array_cols(const rq_array *a);
RQ_EXTERN int rq_array_ndim(const rq_array *a);
RQ_EXTERN rq_dtype rq_array_dtype(const rq_array *a);
RQ_EXTERN rq_array_format rq_array_format_of(const rq_array *a);
RQ_EXTERN const char *rq_array_name(const rq_array *a); /* the path or buffer name */
/* The safetensors tensor read (borrowed); NULL for a .npy file. */
RQ_EXTERN const char *rq_array_tensor(const rq_array *a);
RQ_EXTERN const char *rq_dtype_name(rq_dtype t);        /* "f4", "bf16", ... */
RQ_EXTERN int rq_dtype_is_float(rq_dtype t);            /* 1 or 0 */

/* Convert rows [row0, row0+n) to row-major float32/float64 in `out`
 * (n*cols values). Non-finite values are refused: RQ_EINVALID with
 * "PATH: non-finite value (nan) at row R, column C" (rows and columns
 * counted from 0); a float64 too large for float32 is refused too.
 * Rows past the end are refused (RQ_EINVALID). `out` is the caller's.
 * Thread-safe: several threads may read one array concurrently. */
RQ_EXTERN int rq_array_read_f32(const rq_array *a, size_t row0, size_t n, float *out);
RQ_EXTERN int rq_array_read_f64(const rq_array *a, size_t row0, size_t n, double *out);

/* Labels: an integer array of 1 dimension (or N×1). Values outside int64
 * (u64 above INT64_MAX) are refused. Float arrays are refused. Into the
 * caller's `out` (n values); 0 or RQ_EINVALID with a message. */
RQ_EXTERN int rq_array_read_labels(const rq_array *a, size_t row0, size_t n, int64_t *out);

/* Advice from a reader that streams: rows [row0, row0+n) will not be read
 * again soon. The pages of a mapped file that hold them leave this
 * process's memory (the page cache keeps them, and a later read maps them
 * back), so a pass over a file of any size holds about one block of it.
 * The page where the range ends is kept (the next block starts in it).
 * Nothing happens for buffers, Fortran-order 2-D arrays (a block of rows
 * spans the whole file) or rows past the end. Thread-safe. */
RQ_EXTERN void rq_array_evict(const rq_array *a, size_t row0, size_t n);

/* What rq_array_read_f32/f64 and rq_array_read_labels check before
 * reading, for callers that want to fail early: embeddings must be a float
 * dtype; labels an integer or bool dtype with one column. 0 or
 * RQ_EINVALID with a message naming the file. */
RQ_EXTERN int rq_array_check_embeddings(const rq_array *a);
RQ_EXTERN int rq_array_check_labels(const rq_array *a);

/* Open a tensor of any rank as one column of numel rows (weights, for
 * `resque diff --params`); otherwise like rq_array_open. */
RQ_EXTERN int rq_array_open_flat(rq_array **out, const char *path, const char *tensor);

/* The names of the tensors of a safetensors file, sorted by bytes (only
 * the header is read; each tensor is validated when opened). On success
 * the caller frees each name and the array (free()); on failure *out is
 * NULL and *n 0. Errors as rq_array_open's. */
RQ_EXTERN int rq_array_tensor_names(char ***out, size_t *n, const char *path);

/* Open embeddings and labels together and check that their row counts
 * agree ("labels.npy has 999 labels but emb.npy has 1000 rows"). */
RQ_EXTERN int rq_array_open_pair(rq_array **emb, rq_array **labels, const char *emb_path,
		       const char *labels_path, const char *tensor);
/* `tensor` selects the embeddings tensor; the labels file must hold one
 * array. On success the caller frees both with rq_array_free; both are
 * NULL on failure. Errors as rq_array_open's, and RQ_EINVALID when the row
 * counts differ. */

RQ_END_DECLS

#endif
