/* Unit tests of representation summaries (.rqs) and RESQUE_dist. */
#include "unit.h"
#include "resque/measure.h"
#include "resque/summary.h"

#include <sodium.h>

/* A small deterministic generator for fixtures. */
static uint64_t fx_state = 42;
static double fx_uniform(void)
{
	fx_state = fx_state * 6364136223846793005u + 1442695040888963407u;
	return (double)(fx_state >> 11) * 0x1.0p-53;
}

static void fixture(double *x, int64_t *y, size_t n, size_t d, int64_t k)
{
	for (size_t i = 0; i < n; i++) {
		y[i] = (int64_t)(fx_uniform() * (double)k) * 7 - 3; /* sparse, negative labels */
		for (size_t j = 0; j < d; j++)
			x[i * d + j] = fx_uniform() * 2 - 1 + (double)y[i] * 0.01;
	}
}

TEST(summary_sums_counts_and_gram)
{
	enum { N = 300, D = 5 };
	static double x[N * D];
	static int64_t y[N];
	rq_summary *s = NULL;
	fixture(x, y, N, D, 4);
	CHECK_OK(rq_summary_new(&s, D, 2));
	CHECK_OK(rq_summary_add_f64(s, x, y, 100));
	CHECK_OK(rq_summary_add_f64(s, x + 100 * D, y + 100, N - 100));
	CHECK_INT_EQ(s->n, N);
	CHECK_INT_EQ(s->k, 4);
	uint64_t total = 0;
	for (size_t c = 0; c < s->k; c++) {
		double want[D] = { 0 };
		uint64_t cnt = 0;
		for (size_t i = 0; i < N; i++)
			if (y[i] == s->labels[c]) {
				cnt++;
				for (size_t j = 0; j < D; j++)
					want[j] += x[i * D + j];
			}
		CHECK_INT_EQ(s->counts[c], cnt);
		total += cnt;
		for (size_t j = 0; j < D; j++)
			CHECK(s->sums[c * D + j] == want[j]); /* same order: bit-exact */
	}
	CHECK_INT_EQ(total, N);
	for (size_t a = 0; a < D; a++)
		for (size_t b = a; b < D; b++) {
			double g = 0;
			for (size_t i = 0; i < N; i++)
				g += x[i * D + a] * x[i * D + b];
			CHECK_NEAR(s->gram[a * D + b], g, 1e-12 * fabs(g) + 1e-12);
		}
	CHECK(rq_summary_find(s, 12345) == -1);
	rq_summary_free(s);
}

TEST(summary_merge_equals_whole_and_round_trips)
{
	enum { N = 500, D = 7 };
	static double x[N * D];
	static float xf[N * D];
	static int64_t y[N];
	rq_summary *whole = NULL, *a = NULL, *b = NULL, *back = NULL;
	rq_buf enc = RQ_BUF_INIT, enc2 = RQ_BUF_INIT;
	fixture(x, y, N, D, 6);
	for (size_t i = 0; i < N * D; i++)
		xf[i] = (float)x[i];
	CHECK_OK(rq_summary_new(&whole, D, 2));
	CHECK_OK(rq_summary_new(&a, D, 2));
	CHECK_OK(rq_summary_new(&b, D, 2));
	CHECK_OK(rq_summary_add_f32(whole, xf, y, N));
	CHECK_OK(rq_summary_add_f32(a, xf, y, 210));
	CHECK_OK(rq_summary_add_f32(b, xf + 210 * D, y + 210, N - 210));
	CHECK_OK(rq_summary_merge(a, b, "b.rqs"));
	CHECK_INT_EQ(a->n, whole->n);
	CHECK_INT_EQ(a->k, whole->k);
	for (size_t c = 0; c < whole->k; c++) {
		long t = rq_summary_find(a, whole->labels[c]);
		CHECK(t >= 0);
		if (t < 0)
			continue;
		CHECK_INT_EQ(a->counts[t], whole->counts[c]);
		for (size_t j = 0; j < D; j++)
			CHECK_NEAR(a->sums[(size_t)t * D + j], whole->sums[c * D + j],
				   1e-12 * fabs(whole->sums[c * D + j]) + 1e-13);
	}
	for (size_t i = 0; i < D; i++)
		for (size_t j = i; j < D; j++)
			CHECK_NEAR(a->gram[i * D + j], whole->gram[i * D + j], 1e-12 * fabs(whole->gram[i * D + j]));
	CHECK_OK(rq_summary_encode(&enc, whole));
	CHECK_OK(rq_summary_decode(&back, enc.ptr, enc.len, "x.rqs"));
	if (back) {
		CHECK_OK(rq_summary_encode(&enc2, back));
		CHECK(enc.len == enc2.len && memcmp(enc.ptr, enc2.ptr, enc.len) == 0);
		for (size_t c = 1; c < back->k; c++)
			CHECK(back->labels[c - 1] < back->labels[c]);
	}
	/* Dimensions and moments must agree. */
	rq_summary *odd = NULL, *m1 = NULL;
	CHECK_OK(rq_summary_new(&odd, D + 1, 1));
	CHECK_ERR(rq_summary_merge(whole, odd, "odd.rqs"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "odd.rqs: dimension 8 differs from 7");
	CHECK_OK(rq_summary_new(&m1, D, 1));
	CHECK_ERR(rq_summary_merge(whole, m1, "m1.rqs"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "m1.rqs: has no second moments");
	rq_summary_free(odd);
	rq_summary_free(m1);
	rq_summary_free(whole);
	rq_summary_free(a);
	rq_summary_free(b);
	rq_summary_free(back);
	rq_buf_release(&enc);
	rq_buf_release(&enc2);
}

/* Re-seal a tampered encoding with a valid checksum. */
static void reseal(rq_buf *b)
{
	crypto_generichash((unsigned char *)b->ptr + b->len - 32, 32, (unsigned char *)b->ptr,
			   b->len - 32, NULL, 0);
}

TEST(summary_decode_rejects_bad_bytes)
{
	double x[6] = { 1, 2, 3, 4, 5, 6 };
	int64_t y[3] = { 5, 1, 5 };
	rq_summary *s = NULL, *bad = NULL;
	rq_buf enc = RQ_BUF_INIT;
	CHECK_OK(rq_summary_new(&s, 2, 1));
	CHECK_OK(rq_summary_add_f64(s, x, y, 3));
	CHECK_OK(rq_summary_encode(&enc, s));
	CHECK_INT_EQ(enc.len, 40 + 2 * (16 + 16) + 32);
	/* Every truncation is refused without reading past the end. */
	for (size_t len = 0; len < enc.len; len++) {
		uint8_t *copy = rq_xmalloc(len + 1);
		memcpy(copy, enc.ptr, len);
		CHECK(rq_summary_decode(&bad, copy, len, "t.rqs") < 0);
		CHECK(bad == NULL);
		free(copy);
	}
	CHECK_ERR(rq_summary_decode(&bad, enc.ptr, enc.len - 1, "t.rqs"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "t.rqs: header says 2 classes of dimension 2 but the file holds");
	enc.ptr[0] = 'X';
	CHECK_ERR(rq_summary_decode(&bad, enc.ptr, enc.len, "t.rqs"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "t.rqs: not a resque summary");
	enc.ptr[0] = 'R';
	enc.ptr[50] ^= 1;
	CHECK_ERR(rq_summary_decode(&bad, enc.ptr, enc.len, "t.rqs"), RQ_EINTEGRITY);
	CHECK_CONTAINS(rq_error_last(), "t.rqs: checksum mismatch");
	enc.ptr[50] ^= 1;
	/* Labels out of order (swap the two labels), resealed. */
	int64_t l0, l1;
	memcpy(&l0, enc.ptr + 40, 8);
	memcpy(&l1, enc.ptr + 40 + 32, 8);
	memcpy(enc.ptr + 40, &l1, 8);
	memcpy(enc.ptr + 40 + 32, &l0, 8);
	reseal(&enc);
	CHECK_ERR(rq_summary_decode(&bad, enc.ptr, enc.len, "t.rqs"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "not in ascending order");
	memcpy(enc.ptr + 40, &l0, 8);
	memcpy(enc.ptr + 40 + 32, &l1, 8);
	/* Row count disagreeing with the counts. */
	enc.ptr[32] = 9;
	reseal(&enc);
	CHECK_ERR(rq_summary_decode(&bad, enc.ptr, enc.len, "t.rqs"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "t.rqs: header says 9 rows but the classes count 3");
	enc.ptr[32] = 3;
	/* Version and moments. */
	enc.ptr[8] = 2;
	reseal(&enc);
	CHECK_ERR(rq_summary_decode(&bad, enc.ptr, enc.len, "t.rqs"), RQ_EUNSUPPORTED);
	enc.ptr[8] = 1;
	enc.ptr[12] = 3;
	reseal(&enc);
	CHECK_ERR(rq_summary_decode(&bad, enc.ptr, enc.len, "t.rqs"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "moments must be 1 or 2");
	enc.ptr[12] = 1;
	/* A huge class count must not overflow the size computation. */
	memset(enc.ptr + 24, 0xff, 8);
	reseal(&enc);
	CHECK_ERR(rq_summary_decode(&bad, enc.ptr, enc.len, "t.rqs"), RQ_EINVALID);
	rq_summary_free(s);
	rq_buf_release(&enc);
}

static rq_summary *summary_of(size_t d, const double *x, const int64_t *y, size_t n)
{
	rq_summary *s = NULL;
	if (rq_summary_new(&s, d, 1) == 0)
		rq_summary_add_f64(s, x, y, n);
	return s;
}

TEST(dist_angles_of_known_geometry)
{
	/* Old: class 1 along e1, class 2 along e2, class 3 along e1, class 4 zero.
	 * New: class 1 along e2 (angle 1/2), class 2 along -e2 (angle 1),
	 * class 3 scaled e1 (angle 0), class 4 along e1 (zero sum, excluded),
	 * class 9 new only; class 7 old only. */
	double xo[] = { 1, 0, 0, 1, 2, 0, 1, 1, -1, -1, 5, 5 };
	int64_t yo[] = { 1, 2, 3, 4, 4, 7 };
	double xn[] = { 0, 3, 0, -2, 7, 0, 1, 0, 1, 1 };
	int64_t yn[] = { 1, 2, 3, 4, 9 };
	rq_summary *o = summary_of(2, xo, yo, 6), *nw = summary_of(2, xn, yn, 5);
	rq_dist r;
	CHECK_OK(rq_dist_compute(&r, o, nw));
	CHECK_INT_EQ(r.nclasses, 3);
	CHECK_NEAR(r.value, 0.5, 1e-15);
	if (r.nclasses == 3) {
		CHECK_INT_EQ(r.classes[0].label, 2);
		CHECK_NEAR(r.classes[0].angle, 1.0, 0);
		CHECK_INT_EQ(r.classes[1].label, 1);
		CHECK_NEAR(r.classes[1].angle, 0.5, 1e-15);
		CHECK_INT_EQ(r.classes[2].label, 3);
		CHECK_NEAR(r.classes[2].angle, 0.0, 0);
	}
	CHECK(r.nold_only == 1 && r.old_only[0] == 7);
	CHECK(r.nnew_only == 1 && r.new_only[0] == 9);
	CHECK(r.nzero == 1 && r.zero[0] == 4);
	rq_dist_release(&r);

	/* Nothing shared is an error; so is a dimension mismatch. */
	int64_t yx[] = { 100, 101, 102, 103, 104 };
	rq_summary *other = summary_of(2, xn, yx, 5), *d3 = summary_of(3, xo, yo, 4);
	CHECK_ERR(rq_dist_compute(&r, o, other), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "no class with a non-zero sum is present on both sides");
	CHECK_ERR(rq_dist_compute(&r, o, d3), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "dimension 2 but the new ones 3");
	rq_summary_free(o);
	rq_summary_free(nw);
	rq_summary_free(other);
	rq_summary_free(d3);
}

TEST(dist_matches_direct_formula_on_random_classes)
{
	enum { N = 400, D = 9 };
	static double xo[N * D], xn[N * D];
	static int64_t yo[N], yn[N];
	fixture(xo, yo, N, D, 5);
	fixture(xn, yn, N, D, 5);
	rq_summary *o = summary_of(D, xo, yo, N), *nw = summary_of(D, xn, yn, N);
	rq_dist r;
	CHECK_OK(rq_dist_compute(&r, o, nw));
	double total = 0;
	for (size_t c = 0; c < r.nclasses; c++) {
		double a[D] = { 0 }, b[D] = { 0 }, ab = 0, aa = 0, bb = 0;
		for (size_t i = 0; i < N; i++)
			for (size_t j = 0; j < D; j++) {
				if (yo[i] == r.classes[c].label)
					a[j] += xo[i * D + j];
				if (yn[i] == r.classes[c].label)
					b[j] += xn[i * D + j];
			}
		for (size_t j = 0; j < D; j++) {
			ab += a[j] * b[j];
			aa += a[j] * a[j];
			bb += b[j] * b[j];
		}
		/* An independent route: the angle from atan2 of sine and cosine. */
		double cross = sqrt(fmax(0, aa * bb - ab * ab));
		double want = atan2(cross, ab) / M_PI;
		CHECK_NEAR(r.classes[c].angle, want, 1e-9);
		if (c > 0)
			CHECK(r.classes[c - 1].angle >= r.classes[c].angle);
		total += want;
	}
	CHECK_NEAR(r.value, total / (double)r.nclasses, 1e-9);
	rq_dist_release(&r);
	rq_summary_free(o);
	rq_summary_free(nw);
}

/* Classes beyond the first allocation (the arrays grow geometrically):
 * every class keeps its own count and sums, and the encoding round-trips. */
TEST(summary_many_classes_grow_and_round_trip)
{
	enum { N = 2000, D = 3 };
	static double x[N * D];
	static int64_t y[N];
	rq_summary *s = NULL, *back = NULL;
	rq_buf enc = RQ_BUF_INIT;

	for (size_t i = 0; i < N; i++) {
		y[i] = (int64_t)(i % 700) * 3 - 1000;
		for (size_t j = 0; j < D; j++)
			x[i * D + j] = (double)y[i] + (double)j;
	}
	CHECK_OK(rq_summary_new(&s, D, 1));
	CHECK_OK(rq_summary_add_f64(s, x, y, N));
	CHECK_INT_EQ(s->k, 700);
	for (size_t c = 0; c < s->k; c++) {
		/* rows i, i+700, i+1400 for i < 600: labels below 600·3 − 1000 thrice */
		uint64_t want = s->labels[c] < 800 ? 3 : 2;
		CHECK_INT_EQ(s->counts[c], want);
		CHECK_NEAR(s->sums[c * D + 2], (double)want * ((double)s->labels[c] + 2), 0);
	}
	CHECK_OK(rq_summary_encode(&enc, s));
	CHECK_OK(rq_summary_decode(&back, enc.ptr, enc.len, "many"));
	CHECK_INT_EQ(back->k, 700);
	for (size_t c = 0; c < back->k; c++) {
		long i = rq_summary_find(s, back->labels[c]);
		CHECK(i >= 0);
		CHECK_INT_EQ(back->counts[c], s->counts[i]);
		CHECK_NEAR(back->sums[c * D + 1], s->sums[(size_t)i * D + 1], 0);
	}
	rq_buf_release(&enc);
	rq_summary_free(s);
	rq_summary_free(back);
}
