/* Lloyd's k-means over streamed row blocks with sgemm distances (threads
 * over row ranges), k-means++ seeding, and RESQUE_task (docs/METHOD.md).
 * Its steps are also the steps of RESQUE_task over shards
 * (core/measure/shard.c): the column sums, class sums, seeds, one pass, the
 * update and the stopping rule are functions both call. */
#include "common.h"
#include "resque/forecast.h"
#include "kmeans.h"
#include "resque/measure.h"
#include "linalg_int.h"

#include <math.h>
#include <pthread.h>

#define BLOCK_ROWS 512 /* rows per sgemm: 512 rows of 512 float32 are 1 MiB */
#define MAX_THREADS 256

/* RESQUE_task 1 (an ARI of 0: the clusters ignore the labels) is a new task
 * from scratch. */
const rq_shift_kind rq_shift_task = { "task", 1.0 };

void rq_rows_from_f32(rq_rows *out, const float *x, size_t n, size_t d)
{
	out->n = n;
	out->d = d;
	out->read = NULL;
	out->ctx = NULL;
	out->mem = x;
}

/* The wrapping sum of the float32 bit patterns of n values: a shard's
 * content checksum (core/measure/shard.c), exact and order-independent. */
static uint64_t bits_sum(const float *v, size_t n)
{
	uint64_t s = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t b;
		memcpy(&b, &v[i], 4);
		s += b;
	}
	return s;
}

/* Rows [row0, row0+n) minus `shift`, as float32 (the subtraction in
 * float32, as scikit-learn centres its float32 data); with `checksum`
 * non-NULL, adds bits_sum of the values as read (before the shift). */
static int read_rows(const rq_rows *x, const float *shift, size_t row0, size_t n, float *out,
		     uint64_t *checksum)
{
	size_t d = x->d;
	if (x->read) {
		int err = x->read(x->ctx, row0, n, out);
		if (err)
			return err;
	} else {
		memcpy(out, x->mem + row0 * d, n * d * sizeof(float));
	}
	if (checksum)
		*checksum += bits_sum(out, n * d);
	if (shift)
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < d; j++)
				out[i * d + j] -= shift[j];
	return 0;
}

int rq_kmeans_column_sums(float *origin, double *s, double *ss, uint64_t *checksum, const rq_rows *x)
{
	size_t n = x->n, d = x->d;
	float *blk = rq_xmallocarray(BLOCK_ROWS * d, sizeof(float));
	int err = 0;

	/* Sums of deviations from the first row, for a variance without
	 * catastrophic cancellation in one pass. */
	memset(s, 0, d * sizeof(double));
	memset(ss, 0, d * sizeof(double));
	memset(origin, 0, d * sizeof(float));
	if (checksum)
		*checksum = 0;
	if (n && (err = read_rows(x, NULL, 0, 1, origin, NULL)))
		goto done;
	for (size_t r0 = 0; r0 < n; r0 += BLOCK_ROWS) {
		size_t m = n - r0 < BLOCK_ROWS ? n - r0 : BLOCK_ROWS;
		if ((err = read_rows(x, NULL, r0, m, blk, checksum)))
			goto done;
		for (size_t i = 0; i < m; i++)
			for (size_t j = 0; j < d; j++) {
				double v = (double)blk[i * d + j] - origin[j];
				s[j] += v;
				ss[j] += v * v;
			}
	}
done:
	free(blk);
	return err;
}

void rq_kmeans_column_finish(double *mean, double *mean_var, const float *origin, const double *s,
			     const double *ss, uint64_t n, size_t d)
{
	double var = 0;
	for (size_t j = 0; j < d; j++) {
		double mu = n ? s[j] / (double)n : 0;
		if (mean)
			mean[j] = origin[j] + mu;
		double v = n ? ss[j] / (double)n - mu * mu : 0;
		var += v > 0 ? v : 0;
	}
	*mean_var = var / (double)d;
}

int rq_kmeans_column_stats(double *mean, double *mean_var, const rq_rows *x)
{
	size_t d = x->d;
	double *s = rq_xcalloc(d, sizeof(double)), *ss = rq_xcalloc(d, sizeof(double));
	float *x0 = rq_xmallocarray(d, sizeof(float));
	int err = rq_kmeans_column_sums(x0, s, ss, NULL, x);

	if (!err)
		rq_kmeans_column_finish(mean, mean_var, x0, s, ss, x->n, d);
	free(s);
	free(ss);
	free(x0);
	return err;
}

/* One assignment pass over a row range, run by each thread. */
struct lloyd_job {
	const rq_rows *x;
	const float *shift, *centers, *cnorm;
	size_t k, row0, row1;
	const struct rq_blas *blas;
	int32_t *labels;
	bool update;
	double *sums;     /* k×d, this job's share */
	uint64_t *counts; /* k */
	size_t changed;
	bool want_checksum;
	uint64_t checksum; /* this job's rows, with want_checksum */
	int err;
	char msg[512];
};

static void *lloyd_pass(void *arg)
{
	struct lloyd_job *j = arg;
	size_t d = j->x->d, k = j->k;
	float *xb = rq_xmallocarray(BLOCK_ROWS * d, sizeof(float));
	float *dist = rq_xmallocarray(BLOCK_ROWS * k, sizeof(float));

	for (size_t r0 = j->row0; r0 < j->row1; r0 += BLOCK_ROWS) {
		size_t m = j->row1 - r0 < BLOCK_ROWS ? j->row1 - r0 : BLOCK_ROWS;
		if ((j->err = read_rows(j->x, j->shift, r0, m, xb,
					j->want_checksum ? &j->checksum : NULL))) {
			snprintf(j->msg, sizeof(j->msg), "%s", rq_error_last());
			break;
		}
		/* ‖x‖² does not change the argmin: dist = ‖μ‖² − 2 x·μ, the form
		 * and the float32 rounding of scikit-learn's Lloyd step. */
		for (size_t i = 0; i < m; i++)
			memcpy(dist + i * k, j->cnorm, k * sizeof(float));
		j->blas->sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)m, (blasint)k,
			       (blasint)d, -2.0f, xb, (blasint)d, j->centers, (blasint)d, 1.0f, dist,
			       (blasint)k);
		for (size_t i = 0; i < m; i++) {
			const float *di = dist + i * k;
			size_t best = 0;
			float bd = di[0];
			for (size_t c = 1; c < k; c++)
				if (di[c] < bd) {
					bd = di[c];
					best = c;
				}
			if (j->labels[r0 + i] != (int32_t)best) {
				j->labels[r0 + i] = (int32_t)best;
				j->changed++;
			}
			if (j->update) {
				double *s = j->sums + best * d;
				const float *row = xb + i * d;
				for (size_t t = 0; t < d; t++)
					s[t] += row[t];
				j->counts[best]++;
			}
		}
	}
	free(xb);
	free(dist);
	return NULL;
}

static size_t thread_count(const struct rq_blas *blas, size_t want, size_t n)
{
	size_t t = want ? want : (size_t)blas->get_num_threads();
	if (t < 1)
		t = 1;
	if (t > MAX_THREADS)
		t = MAX_THREADS;
	/* At least a few blocks per thread. */
	size_t blocks = (n + BLOCK_ROWS - 1) / BLOCK_ROWS;
	if (t > blocks)
		t = blocks ? blocks : 1;
	return t;
}

/* Run one pass on `nt` threads; sums and counts are reduced in thread
 * order, so results depend only on the thread count. */
static int run_pass(struct lloyd_job *jobs, size_t nt, size_t *changed, double *sums,
		    uint64_t *counts, size_t kd, size_t k, uint64_t *checksum)
{
	pthread_t tid[MAX_THREADS];
	bool started[MAX_THREADS] = { false };
	int err = 0;

	if (nt == 1) {
		lloyd_pass(&jobs[0]);
	} else {
		int prev = jobs[0].blas->get_num_threads();
		jobs[0].blas->set_num_threads(1); /* our threads split the rows */
		for (size_t t = 1; t < nt; t++)
			started[t] = pthread_create(&tid[t], NULL, lloyd_pass, &jobs[t]) == 0;
		lloyd_pass(&jobs[0]);
		for (size_t t = 1; t < nt; t++) {
			if (started[t])
				pthread_join(tid[t], NULL);
			else
				lloyd_pass(&jobs[t]);
		}
		jobs[0].blas->set_num_threads(prev);
	}
	*changed = 0;
	if (sums) {
		memset(sums, 0, kd * sizeof(double));
		memset(counts, 0, k * sizeof(uint64_t));
	}
	for (size_t t = 0; t < nt; t++) {
		if (jobs[t].err && !err)
			err = rq_error_set(jobs[t].err, "%s", jobs[t].msg);
		*changed += jobs[t].changed;
		if (checksum)
			*checksum += jobs[t].checksum;
		if (sums && jobs[t].update) {
			for (size_t i = 0; i < kd; i++)
				sums[i] += jobs[t].sums[i];
			for (size_t c = 0; c < k; c++)
				counts[c] += jobs[t].counts[c];
		}
	}
	return err;
}

static void center_norms(float *cnorm, const float *centers, size_t k, size_t d)
{
	for (size_t c = 0; c < k; c++) {
		double s = 0;
		for (size_t t = 0; t < d; t++)
			s += (double)centers[c * d + t] * centers[c * d + t];
		cnorm[c] = (float)s;
	}
}

static void lloyd_job_init(struct lloyd_job *j, const rq_rows *x, const float *shift,
			   const float *centers, int32_t *labels, const float *cnorm, size_t k,
			   const struct rq_blas *blas, size_t row0, size_t row1, bool update)
{
	j->x = x;
	j->shift = shift;
	j->centers = centers;
	j->cnorm = cnorm;
	j->k = k;
	j->blas = blas;
	j->row0 = row0;
	j->row1 = row1;
	j->labels = labels;
	j->update = update;
	if (update) {
		j->sums = rq_xcalloc(k * x->d, sizeof(double));
		j->counts = rq_xcalloc(k, sizeof(uint64_t));
	}
}

int rq_kmeans_pass(size_t *changed, double *sums, uint64_t *counts, int32_t *labels,
		   const rq_rows *x, const float *shift, const float *centers, size_t k,
		   size_t nthreads, uint64_t *checksum)
{
	const struct rq_blas *blas;
	int err;

	*changed = 0;
	if (checksum)
		*checksum = 0;
	if ((err = rq_blas_load(&blas)))
		return err;
	size_t n = x->n, d = x->d, kd = k * d;
	size_t nt = thread_count(blas, nthreads, n);
	struct lloyd_job *jobs = rq_xcalloc(nt, sizeof(*jobs));
	float *cnorm = rq_xmallocarray(k, sizeof(float));

	center_norms(cnorm, centers, k, d);
	for (size_t t = 0; t < nt; t++)
		lloyd_job_init(&jobs[t], x, shift, centers, labels, cnorm, k, blas, n * t / nt,
			       n * (t + 1) / nt, sums != NULL);
	for (size_t t = 0; t < nt; t++)
		jobs[t].want_checksum = checksum != NULL;
	err = run_pass(jobs, nt, changed, sums, counts, kd, k, checksum);
	for (size_t t = 0; t < nt; t++) {
		free(jobs[t].sums);
		free(jobs[t].counts);
	}
	free(jobs);
	free(cnorm);
	return err;
}

double rq_kmeans_update(float *centers, const double *sums, const uint64_t *counts, size_t k,
			size_t d)
{
	double shift2 = 0;
	for (size_t c = 0; c < k; c++) {
		if (!counts[c])
			continue; /* an empty cluster keeps its centre */
		for (size_t t = 0; t < d; t++) {
			float nc = (float)(sums[c * d + t] / (double)counts[c]);
			double diff = (double)nc - centers[c * d + t];
			shift2 += diff * diff;
			centers[c * d + t] = nc;
		}
	}
	return shift2;
}

bool rq_kmeans_stop(int *strict, uint64_t changed, double shift2, double tol, size_t iterations,
		    size_t max_iter)
{
	*strict = changed == 0;
	return changed == 0 || shift2 <= tol || iterations >= max_iter;
}

int rq_kmeans_lloyd(rq_kmeans_result *r, const rq_rows *x, const float *shift, size_t k,
		    size_t max_iter, double tol, size_t nthreads)
{
	size_t n = x->n, d = x->d, changed = 0;
	double *sums = rq_xmallocarray(k * d, sizeof(double));
	uint64_t *counts = rq_xmallocarray(k, sizeof(uint64_t));
	bool done = max_iter == 0;
	int err = 0;

	r->iterations = 0;
	r->strict = 0;
	for (size_t i = 0; i < n; i++)
		r->labels[i] = -1;
	/* The loop body is the driver's `resque shard update` (core/measure/shard.c)
	 * over a pass summed across shards: keep the two on these functions. */
	while (!done) {
		if ((err = rq_kmeans_pass(&changed, sums, counts, r->labels, x, shift, r->centers, k,
					  nthreads, NULL)))
			goto done;
		double shift2 = rq_kmeans_update(r->centers, sums, counts, k, d);
		r->iterations++;
		done = rq_kmeans_stop(&r->strict, changed, shift2, tol, r->iterations, max_iter);
	}
	/* The final labels are the assignment to the final centres. */
	if (!r->strict)
		err = rq_kmeans_pass(&changed, NULL, NULL, r->labels, x, shift, r->centers, k, nthreads,
				     NULL);
done:
	free(sums);
	free(counts);
	return err;
}

/* xoshiro256** (Blackman & Vigna), seeded by splitmix64. */
struct prng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t prng_next(struct prng *p)
{
	uint64_t *s = p->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

static double prng_uniform(struct prng *p) /* [0, 1) */
{
	return (double)(prng_next(p) >> 11) * 0x1.0p-53;
}

/* d2[i] = min(d2[i], ‖x_i − c‖²) over m candidate centres, or when
 * `pot` is non-NULL, pot[c] = Σ_i min(d2[i], ‖x_i − c‖²) without
 * updating d2. Squared distances in float64 from float32 rows. */
static int candidate_pass(double *pot, double *d2, const rq_rows *x, const float *shift,
			  const float *cand, size_t m, bool init)
{
	size_t n = x->n, d = x->d;
	float *blk = rq_xmallocarray(BLOCK_ROWS * d, sizeof(float));
	int err = 0;

	if (pot)
		memset(pot, 0, m * sizeof(double));
	for (size_t r0 = 0; r0 < n; r0 += BLOCK_ROWS) {
		size_t b = n - r0 < BLOCK_ROWS ? n - r0 : BLOCK_ROWS;
		if ((err = read_rows(x, shift, r0, b, blk, NULL)))
			break;
		for (size_t i = 0; i < b; i++) {
			const float *row = blk + i * d;
			for (size_t c = 0; c < m; c++) {
				double s = 0;
				for (size_t t = 0; t < d; t++) {
					double v = (double)row[t] - cand[c * d + t];
					s += v * v;
				}
				double cur = init ? s : (s < d2[r0 + i] ? s : d2[r0 + i]);
				if (pot)
					pot[c] += cur;
				else
					d2[r0 + i] = cur;
			}
		}
	}
	free(blk);
	return err;
}

int rq_kmeans_plusplus(float *centers, const rq_rows *x, const float *shift, size_t k,
		       uint64_t seed)
{
	size_t n = x->n, d = x->d;
	size_t trials = 2 + (size_t)floor(log((double)k));
	double *d2 = rq_xmallocarray(n, sizeof(double)), *cum = rq_xmallocarray(n, sizeof(double));
	double *pot = rq_xmallocarray(trials, sizeof(double));
	float *cand = rq_xmallocarray(trials * d, sizeof(float));
	size_t *ids = rq_xmallocarray(trials, sizeof(size_t));
	struct prng p;
	uint64_t sm = seed;
	int err;

	for (int i = 0; i < 4; i++)
		p.s[i] = splitmix64(&sm);
	size_t first = (size_t)(prng_uniform(&p) * (double)n);
	if (first >= n)
		first = n - 1;
	if ((err = read_rows(x, shift, first, 1, centers, NULL)))
		goto done;
	if ((err = candidate_pass(NULL, d2, x, shift, centers, 1, true)))
		goto done;
	for (size_t c = 1; c < k; c++) {
		double acc = 0;
		for (size_t i = 0; i < n; i++)
			cum[i] = (acc += d2[i]);
		for (size_t t = 0; t < trials; t++) {
			double v = prng_uniform(&p) * acc;
			size_t lo = 0, hi = n; /* first i with cum[i] >= v */
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;
				if (cum[mid] < v)
					lo = mid + 1;
				else
					hi = mid;
			}
			ids[t] = lo < n ? lo : n - 1;
			if ((err = read_rows(x, shift, ids[t], 1, cand + t * d, NULL)))
				goto done;
		}
		if ((err = candidate_pass(pot, d2, x, shift, cand, trials, false)))
			goto done;
		size_t best = 0;
		for (size_t t = 1; t < trials; t++)
			if (pot[t] < pot[best])
				best = t;
		memcpy(centers + c * d, cand + best * d, d * sizeof(float));
		if ((err = candidate_pass(NULL, d2, x, shift, cand + best * d, 1, false)))
			goto done;
	}
done:
	free(d2);
	free(cum);
	free(pot);
	free(cand);
	free(ids);
	return err;
}

/* RESQUE_task. */

void rq_task_init_result(rq_task *t)
{
	memset(t, 0, sizeof(*t));
}

void rq_task_release(rq_task *t)
{
	free(t->assignment);
	free(t->classes);
	rq_task_init_result(t);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int rq_kmeans_class_sums(double *sums, uint64_t *counts, const rq_rows *x, const int32_t *cls)
{
	size_t n = x->n, d = x->d;
	float *blk = rq_xmallocarray(BLOCK_ROWS * d, sizeof(float));
	int err = 0;
	for (size_t r0 = 0; r0 < n; r0 += BLOCK_ROWS) {
		size_t b = n - r0 < BLOCK_ROWS ? n - r0 : BLOCK_ROWS;
		if ((err = read_rows(x, NULL, r0, b, blk, NULL)))
			break;
		for (size_t i = 0; i < b; i++) {
			double *s = sums + (size_t)cls[r0 + i] * d;
			for (size_t t = 0; t < d; t++)
				s[t] += blk[i * d + t];
			counts[cls[r0 + i]]++;
		}
	}
	free(blk);
	return err;
}

size_t rq_kmeans_rank_labels(int32_t *classes, int64_t *uniq, const int64_t *y, size_t n)
{
	size_t k = 0;

	memcpy(uniq, y, n * sizeof(*uniq));
	qsort(uniq, n, sizeof(*uniq), cmp_i64);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || uniq[i] != uniq[k - 1])
			uniq[k++] = uniq[i];
	for (size_t i = 0; i < n; i++) {
		size_t lo = 0, hi = k;
		while (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;
			if (uniq[mid] <= y[i])
				lo = mid;
			else
				hi = mid;
		}
		classes[i] = (int32_t)lo; /* lo < k <= n <= INT32_MAX */
	}
	return k;
}

void rq_kmeans_seed_centroids(float *centers, const double *sums, const uint64_t *counts,
			      const float *shift, size_t k, size_t d)
{
	/* μ_c rounded to float32, then centred in float32, as scikit-learn
	 * treats a float64 init array for float32 data. */
	for (size_t c = 0; c < k; c++)
		for (size_t t = 0; t < d; t++)
			centers[c * d + t] = (float)(sums[c * d + t] / (double)counts[c]) - shift[t];
}

/* The k initial centres (kd = k·d values), centred by `shift`: k-means++
 * or the class centroids. */
static int seed_centers(float *centers, const rq_rows *x, const float *shift, const int32_t *classes,
			size_t k, size_t kd, const rq_task_opts *o)
{
	double *sums = NULL;
	uint64_t *counts = NULL;
	size_t d = x->d;
	int err;

	if (o->init == RQ_INIT_KMEANSPP)
		return rq_kmeans_plusplus(centers, x, shift, k, o->seed);
	sums = rq_xcalloc(kd, sizeof(double));
	counts = rq_xcalloc(k, sizeof(uint64_t));
	if (!(err = rq_kmeans_class_sums(sums, counts, x, classes)))
		rq_kmeans_seed_centroids(centers, sums, counts, shift, k, d);
	free(sums);
	free(counts);
	return err;
}

int rq_task_compute(rq_task *out, const rq_rows *x, const int64_t *y, const rq_task_opts *o,
		    const char *name)
{
	size_t n = x->n, d = x->d, k, kd;
	double *mean = NULL, mean_var = 0;
	float *shift = NULL, *centers = NULL;
	int err = 0;

	rq_task_init_result(out);
	if (n == 0 || d == 0) {
		err = rq_error_set(RQ_EINVALID, "%s: no rows to cluster", name);
		goto done;
	}
	const struct rq_blas *blas; /* loaded before the seeding's pass over the rows */
	if ((err = rq_blas_load(&blas)))
		goto done;
	if (n > INT32_MAX) {
		err = rq_error_set(RQ_EINVALID, "%s: %zu rows is more than k-means supports (%d)", name,
				   n, INT32_MAX);
		goto done;
	}
	out->classes = rq_xmallocarray(n, sizeof(int32_t));
	int64_t *uniq = rq_xmallocarray(n, sizeof(*uniq));
	k = rq_kmeans_rank_labels(out->classes, uniq, y, n);
	free(uniq);
	if (!rq_mul_size(&kd, k, d) || kd > SIZE_MAX / sizeof(double) / 4) {
		err = rq_error_set(RQ_EINVALID, "%s: %zu classes of dimension %zu are too many", name, k, d);
		goto done;
	}
	out->n = n;
	out->k = k;
	out->assignment = rq_xmallocarray(n, sizeof(int32_t));
	mean = rq_xmallocarray(d, sizeof(double));
	if ((err = rq_kmeans_column_stats(mean, &mean_var, x)))
		goto done;
	shift = rq_xmallocarray(d, sizeof(float));
	for (size_t t = 0; t < d; t++)
		shift[t] = (float)mean[t];
	centers = rq_xmallocarray(kd, sizeof(float));
	if ((err = seed_centers(centers, x, shift, out->classes, k, kd, o)))
		goto done;
	rq_kmeans_result r = { out->assignment, centers, 0, 0 };
	double tol = (o->tol > 0 ? o->tol : 1e-4) * mean_var;
	if ((err = rq_kmeans_lloyd(&r, x, shift, k, o->max_iter ? o->max_iter : 300, tol, o->nthreads)))
		goto done;
	out->iterations = r.iterations;
	if ((err = rq_ari(&out->ari, out->classes, k, out->assignment, k, n)))
		goto done;
	out->value = 1.0 - out->ari;
done:
	if (err)
		rq_task_release(out);
	free(mean);
	free(shift);
	free(centers);
	return err;
}
