/* Unit tests of Lloyd's k-means, k-means++ seeding, the ARI and
 * RESQUE_task, against naive re-implementations written here. */
#include "unit.h"
#include "kmeans.h"
#include "resque/measure.h"

static uint64_t km_state = 7;
static double km_uniform(void)
{
	km_state = km_state * 6364136223846793005u + 1442695040888963407u;
	return (double)(km_state >> 11) * 0x1.0p-53;
}

static double km_normal(void)
{
	double u = km_uniform(), v = km_uniform();
	return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

/* Naive ARI from pair counts over all unordered pairs (Hubert & Arabie). */
static double naive_ari(const int32_t *a, const int32_t *b, size_t n)
{
	double same_both = 0, same_a = 0, same_b = 0, pairs = (double)n * (double)(n - 1) / 2;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			bool sa = a[i] == a[j], sb = b[i] == b[j];
			same_both += sa && sb;
			same_a += sa;
			same_b += sb;
		}
	double expected = same_a * same_b / pairs, max = (same_a + same_b) / 2;
	if (max == expected)
		return 1.0;
	return (same_both - expected) / (max - expected);
}

TEST(ari_matches_pair_counting)
{
	enum { N = 300 };
	int32_t a[N], b[N];
	double got;
	for (int trial = 0; trial < 20; trial++) {
		int ka = 1 + trial % 6, kb = 1 + (trial * 7) % 5;
		for (size_t i = 0; i < N; i++) {
			a[i] = (int32_t)(km_uniform() * ka);
			b[i] = km_uniform() < 0.3 * (trial % 4) ? a[i] % kb : (int32_t)(km_uniform() * kb);
		}
		CHECK_OK(rq_ari(&got, a, (size_t)ka, b, (size_t)kb, N));
		CHECK_NEAR(got, naive_ari(a, b, N), 1e-12);
	}
	/* Permuted cluster names: 1; both single clusters or all singletons: 1. */
	for (size_t i = 0; i < N; i++) {
		a[i] = (int32_t)(i % 4);
		b[i] = (int32_t)(3 - i % 4);
	}
	CHECK_OK(rq_ari(&got, a, 4, b, 4, N));
	CHECK(got == 1.0);
	for (size_t i = 0; i < N; i++)
		a[i] = b[i] = 0;
	CHECK_OK(rq_ari(&got, a, 1, b, 1, N));
	CHECK(got == 1.0);
	for (size_t i = 0; i < N; i++)
		a[i] = b[i] = (int32_t)i;
	CHECK_OK(rq_ari(&got, a, N, b, N, N));
	CHECK(got == 1.0);
	a[0] = 5;
	CHECK_ERR(rq_ari(&got, a, 4, b, N, N), RQ_EINVALID);
}

/* A plain double-precision Lloyd with the same rules, for comparison. */
static size_t naive_lloyd(int32_t *lab, double *c, const float *x, size_t n, size_t d, size_t k,
			  double tol)
{
	size_t it;
	bool strict = false;
	for (size_t i = 0; i < n; i++)
		lab[i] = -1;
	for (it = 0; it < 300; it++) {
		size_t changed = 0;
		double *s = calloc(k * d, sizeof(double));
		size_t *cnt = calloc(k, sizeof(size_t));
		for (size_t i = 0; i < n; i++) {
			size_t best = 0;
			double bd = INFINITY;
			for (size_t j = 0; j < k; j++) {
				double dd = 0;
				for (size_t t = 0; t < d; t++)
					dd += (x[i * d + t] - c[j * d + t]) * (x[i * d + t] - c[j * d + t]);
				if (dd < bd) {
					bd = dd;
					best = j;
				}
			}
			changed += lab[i] != (int32_t)best;
			lab[i] = (int32_t)best;
			cnt[best]++;
			for (size_t t = 0; t < d; t++)
				s[best * d + t] += x[i * d + t];
		}
		double sh = 0;
		for (size_t j = 0; j < k; j++)
			for (size_t t = 0; cnt[j] && t < d; t++) {
				double v = s[j * d + t] / (double)cnt[j];
				sh += (v - c[j * d + t]) * (v - c[j * d + t]);
				c[j * d + t] = v;
			}
		free(s);
		free(cnt);
		if (!changed) {
			strict = true;
			break;
		}
		if (sh <= tol)
			break;
	}
	if (!strict)
		for (size_t i = 0; i < n; i++) {
			size_t best = 0;
			double bd = INFINITY;
			for (size_t j = 0; j < k; j++) {
				double dd = 0;
				for (size_t t = 0; t < d; t++)
					dd += (x[i * d + t] - c[j * d + t]) * (x[i * d + t] - c[j * d + t]);
				if (dd < bd) {
					bd = dd;
					best = j;
				}
			}
			lab[i] = (int32_t)best;
		}
	return it + 1 > 300 ? 300 : it + 1;
}

TEST(lloyd_matches_naive_and_threads_agree)
{
	enum { N = 3000, D = 6, K = 4 };
	static float x[N * D];
	static int32_t l1[N], l2[N], ln[N];
	float c1[K * D], c2[K * D];
	double cn[K * D];
	for (size_t i = 0; i < N; i++)
		for (size_t t = 0; t < D; t++)
			x[i * D + t] = (float)(km_normal() + 2.0 * (double)(i % K) * (t == i % D));
	for (size_t j = 0; j < K * D; j++)
		cn[j] = c1[j] = c2[j] = x[j * 7 % (N * D)];
	rq_rows rows;
	rq_rows_from_f32(&rows, x, N, D);
	rq_kmeans_result r1 = { l1, c1, 0, 0 }, r2 = { l2, c2, 0, 0 };
	CHECK_OK(rq_kmeans_lloyd(&r1, &rows, NULL, K, 300, 1e-6, 1));
	CHECK_OK(rq_kmeans_lloyd(&r2, &rows, NULL, K, 300, 1e-6, 2));
	size_t it = naive_lloyd(ln, cn, x, N, D, K, 1e-6);
	CHECK_INT_EQ(r1.iterations, it);
	CHECK_INT_EQ(r2.iterations, it);
	size_t diff1 = 0, diff2 = 0;
	for (size_t i = 0; i < N; i++) {
		diff1 += l1[i] != ln[i];
		diff2 += l1[i] != l2[i];
	}
	CHECK_INT_EQ(diff1, 0);
	CHECK_INT_EQ(diff2, 0);
	for (size_t j = 0; j < K * D; j++)
		CHECK_NEAR(c1[j], cn[j], 1e-5);
}

TEST(lloyd_empty_cluster_keeps_its_centre)
{
	/* Three points near 0 and a seed far away: cluster 1 empties at once. */
	float x[] = { 0, 0.1f, 0.2f, 0.3f };
	float c[] = { 0.1f, 100 };
	int32_t lab[4];
	rq_rows rows;
	rq_rows_from_f32(&rows, x, 4, 1);
	rq_kmeans_result r = { lab, c, 0, 0 };
	CHECK_OK(rq_kmeans_lloyd(&r, &rows, NULL, 2, 300, 0, 1));
	CHECK(c[1] == 100);
	CHECK_NEAR(c[0], 0.15, 1e-7);
	for (int i = 0; i < 4; i++)
		CHECK_INT_EQ(lab[i], 0);
	CHECK(r.strict);
	CHECK_INT_EQ(r.iterations, 2);
}

TEST(task_separated_classes_score_zero_and_plusplus_is_deterministic)
{
	enum { N = 600, D = 3 };
	static float x[N * D];
	static int64_t y[N];
	for (size_t i = 0; i < N; i++) {
		y[i] = (int64_t)(i % 3) * 10 - 5;
		for (size_t t = 0; t < D; t++)
			x[i * D + t] = (float)(0.1 * km_normal() + (t == i % 3 ? 5.0 : 0.0));
	}
	rq_rows rows;
	rq_rows_from_f32(&rows, x, N, D);
	rq_task_opts o = { 0 };
	rq_task t, a, b, c;
	CHECK_OK(rq_task_compute(&t, &rows, y, &o, "x"));
	CHECK(t.ari == 1.0 && t.value == 0.0);
	CHECK_INT_EQ(t.k, 3);
	CHECK(t.iterations >= 1);
	o.init = RQ_INIT_KMEANSPP;
	o.seed = 3;
	CHECK_OK(rq_task_compute(&a, &rows, y, &o, "x"));
	CHECK_OK(rq_task_compute(&b, &rows, y, &o, "x"));
	o.seed = 4;
	CHECK_OK(rq_task_compute(&c, &rows, y, &o, "x"));
	CHECK(a.ari == b.ari && a.iterations == b.iterations);
	CHECK(memcmp(a.assignment, b.assignment, N * sizeof(int32_t)) == 0);
	CHECK_NEAR(a.ari, 1.0, 1e-12); /* k-means++ finds well-separated clusters */
	CHECK_NEAR(c.ari, 1.0, 1e-12);
	rq_task_release(&t);
	rq_task_release(&a);
	rq_task_release(&b);
	rq_task_release(&c);
	rq_rows_from_f32(&rows, x, 0, D);
	CHECK_ERR(rq_task_compute(&t, &rows, y, &o, "empty.npy"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "empty.npy: no rows to cluster");
}
