/* Unit tests of the array readers over hand-built .npy and safetensors
 * bytes: header dialects, conversions from the IEEE bit patterns, bounds. */
#include "unit.h"
#include "resque/array.h"

/* A .npy v1 file: header dict `dict`, then `len` data bytes. */
static void npy_build(rq_buf *out, const char *dict, const void *data, size_t len)
{
	size_t hl = strlen(dict) + 1;
	size_t pad = (64 - (10 + hl) % 64) % 64;
	rq_buf_reset(out);
	rq_buf_put(out, "\x93NUMPY\x01\x00", 8);
	rq_buf_putc(out, (char)((hl + pad) & 0xff));
	rq_buf_putc(out, (char)((hl + pad) >> 8));
	rq_buf_puts(out, dict);
	for (size_t i = 0; i < pad; i++)
		rq_buf_putc(out, ' ');
	rq_buf_putc(out, '\n');
	rq_buf_put(out, data, len);
}

static void st_build(rq_buf *out, const char *json, const void *data, size_t len)
{
	uint64_t n = strlen(json);
	rq_buf_reset(out);
	for (int i = 0; i < 8; i++)
		rq_buf_putc(out, (char)(n >> (8 * i)));
	rq_buf_puts(out, json);
	rq_buf_put(out, data, len);
}

TEST(array_npy_f32_accessors_and_blocks)
{
	float v[6] = { 1, 2, 3, 4, 5, 6 }, got[6];
	double d[6];
	rq_buf b = RQ_BUF_INIT;
	rq_array *a = NULL;

	npy_build(&b, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", v, sizeof(v));
	CHECK_OK(rq_array_open_buffer(&a, b.ptr, b.len, "m.npy", NULL));
	if (!a)
		goto done;
	CHECK_INT_EQ(rq_array_rows(a), 3);
	CHECK_INT_EQ(rq_array_cols(a), 2);
	CHECK_INT_EQ(rq_array_ndim(a), 2);
	CHECK(rq_array_dtype(a) == RQ_DT_F32);
	CHECK(rq_array_format_of(a) == RQ_FMT_NPY);
	CHECK_STR_EQ(rq_array_name(a), "m.npy");
	CHECK(rq_array_tensor(a) == NULL);
	CHECK_OK(rq_array_read_f32(a, 1, 2, got));
	CHECK(got[0] == 3 && got[1] == 4 && got[2] == 5 && got[3] == 6);
	CHECK_OK(rq_array_read_f64(a, 0, 3, d));
	CHECK(d[0] == 1 && d[5] == 6);
	CHECK_OK(rq_array_read_f32(a, 3, 0, got)); /* empty read at the end */
	CHECK_ERR(rq_array_read_f32(a, 2, 2, got), RQ_EINVALID);
	CHECK_ERR(rq_array_read_f64(a, 4, 0, d), RQ_EINVALID);
	CHECK_ERR(rq_array_read_labels(a, 0, 1, (int64_t *)(void *)d), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "m.npy: labels must be integers, found float32");
done:
	rq_array_free(a);
	rq_buf_release(&b);
}

TEST(array_npy_header_dialects)
{
	/* double quotes, no trailing comma, Python 2 longs, '=' byte order,
	 * keys in another order, a 1-tuple */
	static const char *dicts[] = {
		"{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 1)}",
		"{'shape': (2L, 1L), 'fortran_order': False, 'descr': '=f4'}",
		"{'descr':'<f4','fortran_order':True,'shape':(2,)}",
		"{ 'descr' : '<f4' , 'fortran_order' : False , 'shape' : ( 2 , 1 , ) , }",
	};
	float v[2] = { 0.5f, -2.5f }, got[2];
	rq_buf b = RQ_BUF_INIT;

	for (size_t i = 0; i < RQ_ARRAY_SIZE(dicts); i++) {
		rq_array *a = NULL;
		npy_build(&b, dicts[i], v, sizeof(v));
		CHECK_OK(rq_array_open_buffer(&a, b.ptr, b.len, "d.npy", NULL));
		if (!a)
			continue;
		CHECK_INT_EQ(rq_array_rows(a), 2);
		CHECK_INT_EQ(rq_array_cols(a), 1);
		CHECK_OK(rq_array_read_f32(a, 0, 2, got));
		CHECK(got[0] == 0.5f && got[1] == -2.5f);
		rq_array_free(a);
	}
	rq_buf_release(&b);
}

TEST(array_npy_bad_headers)
{
	static const struct {
		const char *dict, *msg;
	} cases[] = {
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), 'x': 1}",
		  "bad.npy: unexpected key 'x'" },
		{ "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3, 2)}",
		  "bad.npy: duplicate key 'descr'" },
		{ "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (3, 2)}",
		  "bad.npy: malformed .npy header: expected True or False" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2)} junk",
		  "unexpected bytes after the header dict" },
		{ "{'descr': '<f4\\n', 'fortran_order': False, 'shape': (3, 2)}",
		  "escapes are not supported" },
		{ "{'descr': 'f4', 'fortran_order': False, 'shape': (3, 2)}",
		  "bad.npy: dtype 'f4' has no byte order" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (3 2)}",
		  "expected ',' or ')' in the shape" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2)",
		  "expected ',' or '}'" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': 6}",
		  "expected '(' starting the shape" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2)}\x01", "unexpected bytes" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2)}",
		  "bad.npy: header says 1 rows of 2 float32 but the file holds 3 rows" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (7,)}",
		  "bad.npy: header says 7 values of float32 but the file holds 6" },
	};
	float v[6] = { 0 };
	rq_buf b = RQ_BUF_INIT;

	for (size_t i = 0; i < RQ_ARRAY_SIZE(cases); i++) {
		rq_array *a = (rq_array *)&b; /* must be reset to NULL */
		npy_build(&b, cases[i].dict, v, sizeof(v));
		CHECK_ERR(rq_array_open_buffer(&a, b.ptr, b.len, "bad.npy", NULL), RQ_EINVALID);
		CHECK(a == NULL);
		CHECK_CONTAINS(rq_error_last(), cases[i].msg);
	}
	rq_buf_release(&b);
}

TEST(array_f16_bit_patterns)
{
	/* IEEE binary16: 1, the smallest subnormal 2^-24, the largest
	 * subnormal, the smallest normal 2^-14, 65504, -0, -2 */
	static const uint16_t h[7] = { 0x3c00, 0x0001, 0x03ff, 0x0400, 0x7bff, 0x8000, 0xc000 };
	const double want[7] = { 1, ldexp(1, -24), ldexp(1023, -24), ldexp(1, -14), 65504, -0.0, -2 };
	uint16_t be[7];
	float got[7];
	double got64[7];
	rq_buf b = RQ_BUF_INIT;
	rq_array *a = NULL;

	npy_build(&b, "{'descr': '<f2', 'fortran_order': False, 'shape': (7,)}", h, sizeof(h));
	CHECK_OK(rq_array_open_buffer(&a, b.ptr, b.len, "h.npy", NULL));
	if (a) {
		CHECK_OK(rq_array_read_f32(a, 0, 7, got));
		CHECK_OK(rq_array_read_f64(a, 0, 7, got64));
		for (int i = 0; i < 7; i++) {
			CHECK(got[i] == (float)want[i]);
			CHECK(got64[i] == want[i]);
		}
		CHECK(signbit(got[5]));
	}
	rq_array_free(a);
	a = NULL;
	for (int i = 0; i < 7; i++)
		be[i] = __builtin_bswap16(h[i]);
	npy_build(&b, "{'descr': '>f2', 'fortran_order': False, 'shape': (7,)}", be, sizeof(be));
	CHECK_OK(rq_array_open_buffer(&a, b.ptr, b.len, "hb.npy", NULL));
	if (a) {
		CHECK_OK(rq_array_read_f32(a, 0, 7, got));
		for (int i = 0; i < 7; i++)
			CHECK(got[i] == (float)want[i]);
	}
	rq_array_free(a);
	a = NULL;
	/* 0x7c00 is +inf, 0xfe00 a NaN */
	uint16_t bad[3] = { 0x3c00, 0x7c00, 0xfe00 };
	npy_build(&b, "{'descr': '<f2', 'fortran_order': False, 'shape': (1, 3)}", bad, sizeof(bad));
	CHECK_OK(rq_array_open_buffer(&a, b.ptr, b.len, "hi.npy", NULL));
	if (a) {
		CHECK_ERR(rq_array_read_f32(a, 0, 1, got), RQ_EINVALID);
		CHECK_STR_EQ(rq_error_last(), "hi.npy: non-finite value (inf) at row 0, column 1");
	}
	rq_array_free(a);
	rq_buf_release(&b);
}

TEST(array_fortran_order_gathers_columns)
{
	/* 3×2 column-major: column 0 = 1 2 3, column 1 = 4 5 6 */
	double v[6] = { 1, 2, 3, 4, 5, 6 };
	float got[4];
	rq_buf b = RQ_BUF_INIT;
	rq_array *a = NULL;

	npy_build(&b, "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 2), }", v, sizeof(v));
	CHECK_OK(rq_array_open_buffer(&a, b.ptr, b.len, "f.npy", NULL));
	if (a) {
		CHECK_OK(rq_array_read_f32(a, 1, 2, got));
		CHECK(got[0] == 2 && got[1] == 5 && got[2] == 3 && got[3] == 6);
	}
	rq_array_free(a);
	rq_buf_release(&b);
}

TEST(array_f32_fast_path_finds_non_finite_anywhere)
{
	/* more than one chunk of the fast path; NaN near the end */
	size_t n = 10007, d = 3;
	float *v = rq_xcalloc(n * d, sizeof(float)), *got = rq_xmalloc(n * d * sizeof(float));
	rq_buf b = RQ_BUF_INIT, shape = RQ_BUF_INIT;
	rq_array *a = NULL;

	for (size_t i = 0; i < n * d; i++)
		v[i] = (float)i * 0.25f;
	v[10001 * 3 + 2] = NAN;
	rq_buf_printf(&shape, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", n, d);
	npy_build(&b, shape.ptr, v, n * d * sizeof(float));
	CHECK_OK(rq_array_open_buffer(&a, b.ptr, b.len, "big.npy", NULL));
	if (a) {
		CHECK_OK(rq_array_read_f32(a, 0, 10001, got));
		CHECK(got[10000 * 3 + 1] == (float)(10000 * 3 + 1) * 0.25f);
		CHECK_ERR(rq_array_read_f32(a, 9000, 1007, got), RQ_EINVALID);
		CHECK_STR_EQ(rq_error_last(), "big.npy: non-finite value (nan) at row 10001, column 2");
	}
	rq_array_free(a);
	free(v);
	free(got);
	rq_buf_release(&b);
	rq_buf_release(&shape);
}

TEST(array_labels_every_integer_type)
{
	int16_t i2[3] = { -32768, 0, 32767 };
	uint64_t u8[2] = { 5, UINT64_C(9223372036854775808) };
	uint8_t b1[3] = { 0, 1, 1 };
	int64_t got[3];
	rq_buf b = RQ_BUF_INIT;
	rq_array *a = NULL;

	npy_build(&b, "{'descr': '<i2', 'fortran_order': False, 'shape': (3,)}", i2, sizeof(i2));
	CHECK_OK(rq_array_open_buffer(&a, b.ptr, b.len, "l.npy", NULL));
	if (a) {
		CHECK_OK(rq_array_read_labels(a, 0, 3, got));
		CHECK(got[0] == -32768 && got[1] == 0 && got[2] == 32767);
		CHECK_ERR(rq_array_check_embeddings(a), RQ_EINVALID);
		CHECK_CONTAINS(rq_error_last(), "l.npy: embeddings must be floating point");
	}
	rq_array_free(a);
	a = NULL;
	npy_build(&b, "{'descr': '|b1', 'fortran_order': False, 'shape': (3, 1)}", b1, sizeof(b1));
	CHECK_OK(rq_array_open_buffer(&a, b.ptr, b.len, "b.npy", NULL));
	if (a) {
		CHECK_OK(rq_array_read_labels(a, 0, 3, got));
		CHECK(got[0] == 0 && got[1] == 1 && got[2] == 1);
	}
	rq_array_free(a);
	a = NULL;
	npy_build(&b, "{'descr': '<u8', 'fortran_order': False, 'shape': (2,)}", u8, sizeof(u8));
	CHECK_OK(rq_array_open_buffer(&a, b.ptr, b.len, "u.npy", NULL));
	if (a) {
		CHECK_OK(rq_array_read_labels(a, 0, 1, got));
		CHECK(got[0] == 5);
		CHECK_ERR(rq_array_read_labels(a, 0, 2, got), RQ_EINVALID);
		CHECK_STR_EQ(rq_error_last(),
			     "u.npy: label 9223372036854775808 at row 1 does not fit in int64");
	}
	rq_array_free(a);
	rq_buf_release(&b);
}

TEST(array_safetensors_bf16_and_choice)
{
	/* bfloat16 is the top half of a float32: 0x3f80 = 1, 0xc040 = -3,
	 * 0x0001 = the smallest subnormal bfloat16 */
	uint16_t bf[3] = { 0x3f80, 0xc040, 0x0001 };
	int32_t y[3] = { 7, -1, 2 };
	uint8_t data[sizeof(bf) + sizeof(y)];
	float got[3];
	int64_t lab[3];
	rq_buf b = RQ_BUF_INIT;
	rq_array *a = NULL;

	memcpy(data, bf, sizeof(bf));
	memcpy(data + sizeof(bf), y, sizeof(y));
	st_build(&b, "{\"__metadata__\": {\"a\": \"b\"}, "
		     "\"y\": {\"dtype\": \"I32\", \"shape\": [3], \"data_offsets\": [6, 18]}, "
		     "\"e\": {\"dtype\": \"BF16\", \"shape\": [3, 1], \"data_offsets\": [0, 6]}}",
		 data, sizeof(data));
	CHECK_ERR(rq_array_open_buffer(&a, b.ptr, b.len, "m.st", NULL), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "m.st: holds 2 tensors (e, y)");
	CHECK_ERR(rq_array_open_buffer(&a, b.ptr, b.len, "m.st", "z"), RQ_ENOTFOUND);
	CHECK_OK(rq_array_open_buffer(&a, b.ptr, b.len, "m.st", "e"));
	if (a) {
		CHECK(rq_array_format_of(a) == RQ_FMT_SAFETENSORS);
		CHECK_STR_EQ(rq_array_tensor(a), "e");
		CHECK(rq_array_dtype(a) == RQ_DT_BF16);
		CHECK_STR_EQ(rq_dtype_name(rq_array_dtype(a)), "bf16");
		CHECK_OK(rq_array_read_f32(a, 0, 3, got));
		CHECK(got[0] == 1.0f && got[1] == -3.0f && got[2] == ldexpf(1, -133));
	}
	rq_array_free(a);
	a = NULL;
	CHECK_OK(rq_array_open_buffer(&a, b.ptr, b.len, "m.st", "y"));
	if (a) {
		CHECK_OK(rq_array_check_labels(a));
		CHECK_OK(rq_array_read_labels(a, 0, 3, lab));
		CHECK(lab[0] == 7 && lab[1] == -1 && lab[2] == 2);
	}
	rq_array_free(a);
	rq_buf_release(&b);
}

TEST(array_safetensors_refuses_lies)
{
	static const struct {
		const char *json, *msg;
	} cases[] = {
		{ "{\"e\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 9]}}",
		  "s.st: tensor 'e': data_offsets [0, 9] lie outside the 8 data bytes" },
		{ "{\"e\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 8]}}",
		  "needs 4 bytes but its data_offsets [0, 8] span 8" },
		{ "{\"e\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, -8]}}",
		  "data_offsets must be two non-negative integers" },
		{ "{\"e\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0]}}",
		  "data_offsets must be two non-negative integers" },
		{ "{\"e\": {\"dtype\": \"F32\", \"shape\": [\"2\"], \"data_offsets\": [0, 8]}}",
		  "dimension 0 of its shape is not a non-negative integer" },
		{ "{\"e\": {\"shape\": [2], \"data_offsets\": [0, 8]}}", "tensor 'e' has no dtype" },
		{ "{\"e\": {\"dtype\": \"F32\", \"data_offsets\": [0, 8]}}", "has no shape array" },
		{ "{\"e\": 3}", "tensor 'e' is not described by an object" },
		{ "{\"e\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, \"e\": 1}",
		  "s.st: invalid JSON" },
		{ "{\"e\": {\"dtype\": \"F32\", \"shape\": [], \"data_offsets\": [0, 4]}, "
		  "\"f\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}",
		  "s.st: holds 2 tensors (e, f)" },
	};
	uint8_t data[8] = { 0 };
	rq_buf b = RQ_BUF_INIT;

	for (size_t i = 0; i < RQ_ARRAY_SIZE(cases); i++) {
		rq_array *a = NULL;
		st_build(&b, cases[i].json, data, sizeof(data));
		CHECK(rq_array_open_buffer(&a, b.ptr, b.len, "s.st", NULL) < 0);
		CHECK(a == NULL);
		CHECK_CONTAINS(rq_error_last(), cases[i].msg);
	}
	/* a scalar tensor, chosen */
	rq_array *a = NULL;
	st_build(&b, cases[9].json, data, sizeof(data));
	CHECK_ERR(rq_array_open_buffer(&a, b.ptr, b.len, "s.st", "e"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "s.st: array is a scalar");
	rq_buf_release(&b);
}

TEST(array_open_pair_checks_counts)
{
	const char *dir = unit_tmpdir();
	float e[4] = { 1, 2, 3, 4 };
	int64_t y[3] = { 0, 1, 0 };
	rq_buf b = RQ_BUF_INIT;
	rq_array *emb = (rq_array *)&b, *lab = (rq_array *)&b;
	char *ep, *yp;

	npy_build(&b, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)}", e, sizeof(e));
	ep = unit_write_file(dir, "e.npy", b.ptr, b.len);
	npy_build(&b, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,)}", y, sizeof(y));
	yp = unit_write_file(dir, "y.npy", b.ptr, b.len);
	CHECK_ERR(rq_array_open_pair(&emb, &lab, ep, yp, NULL), RQ_EINVALID);
	CHECK(emb == NULL && lab == NULL);
	CHECK_CONTAINS(rq_error_last(), "y.npy has 3 labels but ");
	CHECK_CONTAINS(rq_error_last(), "e.npy has 2 rows");
	npy_build(&b, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,)}", y, 16);
	free(unit_write_file(dir, "y.npy", b.ptr, b.len));
	CHECK_OK(rq_array_open_pair(&emb, &lab, ep, yp, NULL));
	CHECK(emb && lab && rq_array_rows(lab) == 2);
	rq_array_free(emb);
	rq_array_free(lab);
	CHECK_ERR(rq_array_open_pair(&emb, &lab, yp, ep, NULL), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "embeddings must be floating point");
	free(ep);
	free(yp);
	rq_buf_release(&b);
}

TEST(array_truncated_prefixes_never_open)
{
	/* every strict prefix of a valid file is refused, never read past */
	float v[6] = { 1, 2, 3, 4, 5, 6 };
	rq_buf b = RQ_BUF_INIT;
	npy_build(&b, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", v, sizeof(v));
	for (size_t len = 0; len < b.len; len++) {
		char *copy = rq_xmalloc(len + 1);
		rq_array *a = NULL;
		memcpy(copy, b.ptr, len);
		CHECK(rq_array_open_buffer(&a, copy, len, "p.npy", NULL) == RQ_EINVALID);
		rq_array_free(a);
		free(copy);
	}
	st_build(&b, "{\"e\": {\"dtype\": \"F32\", \"shape\": [3, 2], \"data_offsets\": [0, 24]}}",
		 v, sizeof(v));
	for (size_t len = 0; len < b.len; len++) {
		char *copy = rq_xmalloc(len + 1);
		rq_array *a = NULL;
		memcpy(copy, b.ptr, len);
		CHECK(rq_array_open_buffer(&a, copy, len, "p.st", NULL) == RQ_EINVALID);
		rq_array_free(a);
		free(copy);
	}
	rq_buf_release(&b);
}

/* rq_array_evict is advice only: rows read, evicted and read again are the
 * same; buffers and rows past the end are left alone. */
TEST(array_evict_then_read_again)
{
	const char *dir = unit_tmpdir();
	size_t rows = 3000, cols = 7; /* row boundaries fall inside pages */
	float *v = rq_xmallocarray(rows * cols, sizeof(float)), *got = rq_xmallocarray(rows * cols, sizeof(float));
	rq_buf b = RQ_BUF_INIT;
	rq_array *a = NULL, *m = NULL;
	char *p;

	for (size_t i = 0; i < rows * cols; i++)
		v[i] = (float)i * 0.5f;
	npy_build(&b, "{'descr': '<f4', 'fortran_order': False, 'shape': (3000, 7)}", v, rows * cols * 4);
	p = unit_write_file(dir, "ev.npy", b.ptr, b.len);
	CHECK_OK(rq_array_open(&a, p, NULL));
	CHECK_OK(rq_array_open_buffer(&m, b.ptr, b.len, "buf.npy", NULL));
	if (!a || !m)
		goto done;
	for (size_t r0 = 0; r0 < rows; r0 += 250) {
		CHECK_OK(rq_array_read_f32(a, r0, 250, got + r0 * cols));
		rq_array_evict(a, r0, 250);
		rq_array_evict(m, r0, 250);
	}
	CHECK(memcmp(got, v, rows * cols * 4) == 0);
	rq_array_evict(a, 0, rows);
	rq_array_evict(a, rows, 1);    /* past the end: nothing */
	rq_array_evict(a, 2, SIZE_MAX); /* overflowing: nothing */
	rq_array_evict(a, 5, 0);
	memset(got, 0, rows * cols * 4);
	CHECK_OK(rq_array_read_f32(a, 0, rows, got));
	CHECK(memcmp(got, v, rows * cols * 4) == 0);
	memset(got, 0, rows * cols * 4);
	CHECK_OK(rq_array_read_f32(m, 0, rows, got));
	CHECK(memcmp(got, v, rows * cols * 4) == 0);
done:
	rq_array_free(a);
	rq_array_free(m);
	free(p);
	free(v);
	free(got);
	rq_buf_release(&b);
}
