/* Opening embeddings and labels (.npy or safetensors, mapped read-only) and
 * streaming row blocks of them converted to float32, float64 or int64. */
#include "common.h"
#include "array_int.h"

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Elements converted per inner step of the fast float32 path: small enough
 * that the finite check re-reads them from L1. */
#define F32_CHUNK 4096

static const struct {
	const char *name, *long_name;
	size_t size;
} dtypes[] = {
	[RQ_DT_F16] = { "f2", "float16", 2 },
	[RQ_DT_BF16] = { "bf16", "bfloat16", 2 },
	[RQ_DT_F32] = { "f4", "float32", 4 },
	[RQ_DT_F64] = { "f8", "float64", 8 },
	[RQ_DT_I8] = { "i1", "int8", 1 },
	[RQ_DT_I16] = { "i2", "int16", 2 },
	[RQ_DT_I32] = { "i4", "int32", 4 },
	[RQ_DT_I64] = { "i8", "int64", 8 },
	[RQ_DT_U8] = { "u1", "uint8", 1 },
	[RQ_DT_U16] = { "u2", "uint16", 2 },
	[RQ_DT_U32] = { "u4", "uint32", 4 },
	[RQ_DT_U64] = { "u8", "uint64", 8 },
	[RQ_DT_BOOL] = { "b1", "bool", 1 },
};

const char *rq_dtype_name(rq_dtype t)
{
	return (unsigned)t < RQ_ARRAY_SIZE(dtypes) ? dtypes[t].name : "?";
}

const char *rq_dtype_long_name(rq_dtype t)
{
	return (unsigned)t < RQ_ARRAY_SIZE(dtypes) ? dtypes[t].long_name : "?";
}

size_t rq_dtype_size(rq_dtype t)
{
	return (unsigned)t < RQ_ARRAY_SIZE(dtypes) ? dtypes[t].size : 1;
}

int rq_dtype_is_float(rq_dtype t)
{
	return t == RQ_DT_F16 || t == RQ_DT_BF16 || t == RQ_DT_F32 || t == RQ_DT_F64;
}

size_t rq_array_rows(const rq_array *a) { return a->rows; }
size_t rq_array_cols(const rq_array *a) { return a->cols; }
int rq_array_ndim(const rq_array *a) { return a->ndim; }
rq_dtype rq_array_dtype(const rq_array *a) { return a->dtype; }
rq_array_format rq_array_format_of(const rq_array *a) { return a->format; }
const char *rq_array_name(const rq_array *a) { return a->name; }
const char *rq_array_tensor(const rq_array *a) { return a->tensor; }

int rq_array_set_shape(rq_array *a, const size_t *dims, int ndim)
{
	if (a->flat) {
		/* weights: any rank, one element per row (a scalar is one row) */
		size_t n = 1;
		for (int i = 0; i < ndim; i++)
			if (!rq_mul_size(&n, n, dims[i]))
				return rq_error_set(RQ_EINVALID, "%s: shape is too large", a->name);
		a->ndim = 1;
		a->rows = n;
		a->cols = 1;
		return 0;
	}
	if (ndim == 0)
		return rq_error_set(RQ_EINVALID, "%s: array is a scalar (shape ()); expected N×D "
				    "embeddings or N labels", a->name);
	if (ndim > 2) {
		rq_buf s = RQ_BUF_INIT;
		for (int i = 0; i < ndim; i++)
			rq_buf_printf(&s, "%s%zu", i ? ", " : "", dims[i]);
		rq_error_set(RQ_EINVALID, "%s: array has %d dimensions (%s); expected N×D "
			     "(pool conv outputs over their spatial positions first)",
			     a->name, ndim, s.ptr);
		rq_buf_release(&s);
		return RQ_EINVALID;
	}
	a->ndim = ndim;
	a->rows = dims[0];
	a->cols = ndim == 2 ? dims[1] : 1;
	if (a->cols == 0)
		return rq_error_set(RQ_EINVALID, "%s: array has %zu rows of 0 columns", a->name,
				    a->rows);
	return 0;
}

void rq_array_free(rq_array *a)
{
	if (!a)
		return;
	if (a->map)
		munmap(a->map, a->map_len);
	free(a->name);
	free(a->tensor);
	free(a);
}

static int open_bytes(rq_array *a, const uint8_t *buf, size_t len, const char *tensor)
{
	static const uint8_t npy_magic[6] = { 0x93, 'N', 'U', 'M', 'P', 'Y' };

	if (len >= 6 && memcmp(buf, npy_magic, 6) == 0) {
		a->format = RQ_FMT_NPY;
		if (tensor)
			return rq_error_set(RQ_EINVALID, "%s: a .npy file holds one array; "
					    "--tensor %s applies to safetensors files only",
					    a->name, tensor);
		return rq_npy_parse(a, buf, len);
	}
	if (len >= 9 && buf[8] == '{') {
		a->format = RQ_FMT_SAFETENSORS;
		return rq_safetensors_parse(a, buf, len, tensor);
	}
	if (len == 0)
		return rq_error_set(RQ_EINVALID, "%s: empty file", a->name);
	int err = rq_array_foreign(buf, len, a->name, a->flat);
	if (err)
		return err;
	return rq_error_set(RQ_EINVALID, "%s: neither a .npy nor a safetensors file", a->name);
}

int rq_array_open_buffer(rq_array **out, const void *data, size_t len, const char *name,
			 const char *tensor)
{
	rq_array *a = rq_xcalloc(1, sizeof(*a));
	int err;

	*out = NULL;
	a->name = rq_xstrdup(name ? name : "(buffer)");
	if ((err = open_bytes(a, data, len, tensor)))
		goto done;
	*out = a;
	a = NULL;
done:
	rq_array_free(a);
	return err;
}

static int open_path(rq_array **out, const char *path, const char *tensor, bool flat)
{
	rq_array *a = rq_xcalloc(1, sizeof(*a));
	struct stat st;
	int fd = -1, err = 0;

	*out = NULL;
	a->name = rq_xstrdup(path);
	a->flat = flat;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		err = rq_error_os("%s", path);
		goto done;
	}
	if (fstat(fd, &st) < 0) {
		err = rq_error_os("%s", path);
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		err = rq_error_set(RQ_EINVALID, "%s: not a regular file", path);
		goto done;
	}
	if (st.st_size == 0) {
		err = rq_error_set(RQ_EINVALID, "%s: empty file", path);
		goto done;
	}
	if ((uintmax_t)st.st_size > SIZE_MAX) {
		err = rq_error_set(RQ_EINVALID, "%s: file too large to map", path);
		goto done;
	}
	a->map_len = (size_t)st.st_size;
	a->map = mmap(NULL, a->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (a->map == MAP_FAILED) {
		a->map = NULL;
		err = rq_error_os("%s: cannot map", path);
		goto done;
	}
	madvise(a->map, a->map_len, MADV_SEQUENTIAL);
	if ((err = open_bytes(a, a->map, a->map_len, tensor)))
		goto done;
	*out = a;
	a = NULL;
done:
	if (fd >= 0)
		close(fd);
	rq_array_free(a);
	return err;
}

int rq_array_open(rq_array **out, const char *path, const char *tensor)
{
	return open_path(out, path, tensor, false);
}

int rq_array_open_flat(rq_array **out, const char *path, const char *tensor)
{
	return open_path(out, path, tensor, true);
}

int rq_array_tensor_names(char ***out, size_t *n, const char *path)
{
	rq_buf bytes = RQ_BUF_INIT;
	int err;
	*out = NULL;
	*n = 0;
	/* Only the header is needed: read its length, then the header. */
	FILE *f = fopen(path, "rb");
	uint8_t len8[8], head[128];
	if (!f)
		return rq_error_os("%s", path);
	size_t nhead = fread(head, 1, sizeof(head), f);
	/* a safetensors header is a JSON object: '{' after the length */
	if ((nhead < 9 || head[8] != '{') && (err = rq_array_foreign(head, nhead, path, true))) {
		fclose(f);
		return err;
	}
	if (nhead < 8 || fseek(f, 8, SEEK_SET) != 0) {
		fclose(f);
		return rq_error_set(RQ_EINVALID, "%s: too short for a safetensors file", path);
	}
	memcpy(len8, head, 8);
	uint64_t hlen = 0;
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | len8[i];
	if (hlen > 100000000u) {
		fclose(f);
		return rq_error_set(RQ_EINVALID, "%s: safetensors header of %" PRIu64 " bytes is too large", path, hlen);
	}
	rq_buf_put(&bytes, len8, 8);
	rq_buf_grow(&bytes, (size_t)hlen);
	size_t got = fread(bytes.ptr + 8, 1, (size_t)hlen, f);
	fclose(f);
	if (got != hlen)
		return rq_error_set(RQ_EINVALID, "%s: safetensors header runs past the end of the file", path);
	bytes.len += got;
	err = rq_safetensors_names(out, n, (const uint8_t *)bytes.ptr, bytes.len, path);
	rq_buf_release(&bytes);
	return err;
}

int rq_array_check_embeddings(const rq_array *a)
{
	if (!rq_dtype_is_float(a->dtype))
		return rq_error_set(RQ_EINVALID, "%s: embeddings must be floating point "
				    "(float16, bfloat16, float32 or float64), found %s",
				    a->name, rq_dtype_long_name(a->dtype));
	return 0;
}

int rq_array_check_labels(const rq_array *a)
{
	if (!(a->dtype >= RQ_DT_I8 && a->dtype <= RQ_DT_BOOL))
		return rq_error_set(RQ_EINVALID, "%s: labels must be integers, found %s",
				    a->name, rq_dtype_long_name(a->dtype));
	if (a->cols != 1)
		return rq_error_set(RQ_EINVALID, "%s: labels must be 1-D (or N×1), found "
				    "%zu×%zu", a->name, a->rows, a->cols);
	return 0;
}

int rq_array_open_pair(rq_array **emb, rq_array **labels, const char *emb_path,
		       const char *labels_path, const char *tensor)
{
	rq_array *e = NULL, *y = NULL;
	int err;

	*emb = NULL;
	*labels = NULL;
	if ((err = rq_array_open(&e, emb_path, tensor)) ||
	    (err = rq_array_check_embeddings(e)) ||
	    (err = rq_array_open(&y, labels_path, NULL)) ||
	    (err = rq_array_check_labels(y)))
		goto done;
	if (y->rows != e->rows) {
		err = rq_error_set(RQ_EINVALID, "%s has %zu labels but %s has %zu rows",
				   y->name, y->rows, e->name, e->rows);
		goto done;
	}
	*emb = e;
	*labels = y;
	e = y = NULL;
done:
	rq_array_free(e);
	rq_array_free(y);
	return err;
}

/* ---- element loads ---- */

static inline uint16_t ld16(const uint8_t *p, bool swap)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return swap ? __builtin_bswap16(v) : v;
}

static inline uint32_t ld32(const uint8_t *p, bool swap)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return swap ? __builtin_bswap32(v) : v;
}

static inline uint64_t ld64(const uint8_t *p, bool swap)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return swap ? __builtin_bswap64(v) : v;
}

static inline float bits_f32(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static inline double bits_f64(uint64_t u)
{
	double d;
	memcpy(&d, &u, 8);
	return d;
}

/* IEEE 754 binary16 to binary32, exact (subnormals, infinities, NaN). */
static float half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;

	if (exp == 0) {
		float v = (float)man * 0x1p-24f; /* zero or subnormal */
		return sign ? -v : v;
	}
	if (exp == 31)
		return bits_f32(sign | 0x7f800000u | (man << 13));
	return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

static float half_table[65536];
static pthread_once_t half_once = PTHREAD_ONCE_INIT;

static void half_table_init(void)
{
	for (uint32_t i = 0; i < 65536; i++)
		half_table[i] = half_to_float((uint16_t)i);
}

/* Element at byte address p as a double (floats only). */
static double load_float(const rq_array *a, const uint8_t *p)
{
	switch (a->dtype) {
	case RQ_DT_F16: return half_to_float(ld16(p, a->swap));
	case RQ_DT_BF16: return bits_f32((uint32_t)ld16(p, a->swap) << 16);
	case RQ_DT_F32: return bits_f32(ld32(p, a->swap));
	case RQ_DT_F64: return bits_f64(ld64(p, a->swap));
	default: return 0;
	}
}

static const uint8_t *elem_addr(const rq_array *a, size_t r, size_t c)
{
	size_t i = a->fortran ? c * a->rows + r : r * a->cols + c;
	return a->data + i * a->itemsize;
}

static int check_range(const rq_array *a, size_t row0, size_t n)
{
	if (row0 > a->rows || n > a->rows - row0)
		return rq_error_set(RQ_EINVALID, "%s: rows %zu..%zu requested of %zu", a->name,
				    row0, row0 + n, a->rows);
	return 0;
}

/* Report the non-finite value at block index i (row-major in the block). */
static int non_finite(const rq_array *a, size_t row0, size_t i, bool to_f32)
{
	size_t r = row0 + i / a->cols, c = i % a->cols;
	double v = load_float(a, elem_addr(a, r, c));

	if (isfinite(v) && to_f32)
		return rq_error_set(RQ_EINVALID, "%s: value %g at row %zu, column %zu "
				    "overflows float32", a->name, v, r, c);
	return rq_error_set(RQ_EINVALID, "%s: non-finite value (%s) at row %zu, column %zu",
			    a->name, isnan(v) ? "nan" : v > 0 ? "inf" : "-inf", r, c);
}

/* Convert `count` consecutive source elements to dst[0], dst[ds], ... */
#define CONVERT(T)                                                                    \
	static void convert_##T(T *dst, size_t ds, const uint8_t *src, size_t count, \
				rq_dtype dt, bool swap)                               \
	{                                                                             \
		switch (dt) {                                                         \
		case RQ_DT_F16:                                                       \
			for (size_t i = 0; i < count; i++)                            \
				dst[i * ds] = (T)half_table[ld16(src + 2 * i, swap)]; \
			break;                                                        \
		case RQ_DT_BF16:                                                      \
			for (size_t i = 0; i < count; i++)                            \
				dst[i * ds] = (T)bits_f32((uint32_t)ld16(src + 2 * i, swap) << 16); \
			break;                                                        \
		case RQ_DT_F32:                                                       \
			for (size_t i = 0; i < count; i++)                            \
				dst[i * ds] = (T)bits_f32(ld32(src + 4 * i, swap));   \
			break;                                                        \
		case RQ_DT_F64:                                                       \
			for (size_t i = 0; i < count; i++)                            \
				dst[i * ds] = (T)bits_f64(ld64(src + 8 * i, swap));   \
			break;                                                        \
		default:                                                              \
			break;                                                        \
		}                                                                     \
	}
CONVERT(float)
CONVERT(double)

/* Any exponent all ones (inf or nan) among F32_CHUNK values? A fixed trip
 * count with no early exit, so the compiler vectorises it at -O2. */
static bool chunk_has_non_finite(const uint32_t *u)
{
	uint32_t bad = 0;
	for (size_t i = 0; i < F32_CHUNK; i++)
		bad |= (u[i] & 0x7f800000u) == 0x7f800000u;
	return bad != 0;
}

/* The hot path: little-endian float32 in C order. Copy a chunk, then test
 * the exponent bits of the copy while it is still in L1. Returns the index
 * of the first non-finite value, or count. */
static size_t copy_f32(float *out, const uint8_t *src, size_t count)
{
	for (size_t i0 = 0; i0 < count; i0 += F32_CHUNK) {
		size_t m = count - i0 < F32_CHUNK ? count - i0 : F32_CHUNK;
		const uint32_t *u = (const uint32_t *)(void *)(out + i0);

		memcpy(out + i0, src + i0 * 4, m * 4);
		if (m == F32_CHUNK && !chunk_has_non_finite(u))
			continue;
		for (size_t i = 0; i < m; i++)
			if ((u[i] & 0x7f800000u) == 0x7f800000u)
				return i0 + i;
	}
	return count;
}

#define READ_FLOATS(T, TO_F32)                                                          \
	int err;                                                                        \
	size_t total;                                                                   \
	if ((err = check_range(a, row0, n)) || (err = rq_array_check_embeddings(a)))    \
		return err;                                                             \
	total = n * a->cols; /* <= rows * cols, which fits */                           \
	if (a->dtype == RQ_DT_F16)                                                      \
		pthread_once(&half_once, half_table_init);                              \
	if (!a->fortran || a->cols == 1 || n == 0) {                                    \
		const uint8_t *src = a->data + row0 * a->cols * a->itemsize;            \
		convert_##T(out, 1, src, total, a->dtype, a->swap);                     \
	} else {                                                                        \
		for (size_t c = 0; c < a->cols; c++)                                    \
			convert_##T(out + c, a->cols,                                   \
				    a->data + (c * a->rows + row0) * a->itemsize, n,    \
				    a->dtype, a->swap);                                 \
	}                                                                               \
	for (size_t i = 0; i < total; i++)                                              \
		if (!isfinite(out[i]))                                                  \
			return non_finite(a, row0, i, TO_F32);                          \
	return 0;

int rq_array_read_f32(const rq_array *a, size_t row0, size_t n, float *out)
{
	if (a->dtype == RQ_DT_F32 && !a->swap && (!a->fortran || a->cols == 1) &&
	    row0 <= a->rows && n <= a->rows - row0) {
		size_t total = n * a->cols;
		size_t i = copy_f32(out, a->data + row0 * a->cols * 4, total);
		return i == total ? 0 : non_finite(a, row0, i, true);
	}
	READ_FLOATS(float, true)
}

int rq_array_read_f64(const rq_array *a, size_t row0, size_t n, double *out)
{
	READ_FLOATS(double, false)
}

void rq_array_evict(const rq_array *a, size_t row0, size_t n)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), lo, hi;

	if (!a->map || (a->fortran && a->cols > 1) || row0 > a->rows || n > a->rows - row0 || !n)
		return;
	/* From the page where the range starts (its head, if it is shared
	 * with earlier rows, was read before them) to the one where it ends. */
	lo = (uintptr_t)(a->data + row0 * a->cols * a->itemsize) & ~(page - 1);
	hi = (uintptr_t)(a->data + (row0 + n) * a->cols * a->itemsize) & ~(page - 1);
	if (lo < (uintptr_t)a->map)
		lo = (uintptr_t)a->map;
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

int rq_array_read_labels(const rq_array *a, size_t row0, size_t n, int64_t *out)
{
	const uint8_t *p;
	bool sw = a->swap;
	int err;

	if ((err = check_range(a, row0, n)) || (err = rq_array_check_labels(a)))
		return err;
	p = a->data + row0 * a->itemsize;
	switch (a->dtype) {
	case RQ_DT_I8:
		for (size_t i = 0; i < n; i++)
			out[i] = (int8_t)p[i];
		break;
	case RQ_DT_U8:
		for (size_t i = 0; i < n; i++)
			out[i] = p[i];
		break;
	case RQ_DT_BOOL:
		for (size_t i = 0; i < n; i++)
			out[i] = p[i] != 0;
		break;
	case RQ_DT_I16:
		for (size_t i = 0; i < n; i++)
			out[i] = (int16_t)ld16(p + 2 * i, sw);
		break;
	case RQ_DT_U16:
		for (size_t i = 0; i < n; i++)
			out[i] = ld16(p + 2 * i, sw);
		break;
	case RQ_DT_I32:
		for (size_t i = 0; i < n; i++)
			out[i] = (int32_t)ld32(p + 4 * i, sw);
		break;
	case RQ_DT_U32:
		for (size_t i = 0; i < n; i++)
			out[i] = ld32(p + 4 * i, sw);
		break;
	case RQ_DT_I64:
		for (size_t i = 0; i < n; i++)
			out[i] = (int64_t)ld64(p + 8 * i, sw);
		break;
	case RQ_DT_U64:
		for (size_t i = 0; i < n; i++) {
			uint64_t v = ld64(p + 8 * i, sw);
			if (v > INT64_MAX)
				return rq_error_set(RQ_EINVALID, "%s: label %" PRIu64 " at row %zu "
						    "does not fit in int64", a->name, v, row0 + i);
			out[i] = (int64_t)v;
		}
		break;
	default:
		break;
	}
	return 0;
}
