/* RESQUE_task over shards: the map steps on one shard (stats, a Lloyd
 * step, the final contingency table) and the driver's reduce steps (init,
 * check, update, the ARI), on the single-machine k-means functions of
 * core/measure/kmeans.c (docs/METHOD.md, "Shards"). */
#include "common.h"
#include "resque/array.h"
#include "resque/fingerprint.h"
#include "resque/measure.h"
#include "resque/shard.h"
#include "kmeans.h"

#include <float.h>
#include <math.h>
#include <sodium.h>

_Static_assert(RQ_SHARD_MAX_ROWS == RQ_ARI_MAX_ITEMS, "the row limit is the ARI's");

static void hash_u64(crypto_generichash_state *st, uint64_t v)
{
	uint8_t p[8];
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	crypto_generichash_update(st, p, 8);
}

static void hash_row(crypto_generichash_state *st, const float *row, size_t d)
{
	for (size_t j = 0; j < d; j++) {
		uint32_t v;
		uint8_t p[4];
		memcpy(&v, &row[j], 4);
		for (int i = 0; i < 4; i++)
			p[i] = (uint8_t)(v >> (8 * i));
		crypto_generichash_update(st, p, 4);
	}
}

/* The shard's identity: BLAKE2b-256 over n, d, every label (int64 LE) and
 * the first and last rows (float32 LE). No pass over the rows. */
static int shard_identity(uint8_t id[32], const rq_array *emb, const int64_t *y)
{
	size_t n = rq_array_rows(emb), d = rq_array_cols(emb);
	float *row = rq_xmallocarray(d, sizeof(float));
	crypto_generichash_state st;
	int err;

	crypto_generichash_init(&st, NULL, 0, 32);
	hash_u64(&st, n);
	hash_u64(&st, d);
	for (size_t i = 0; i < n; i++)
		hash_u64(&st, (uint64_t)y[i]);
	if (!(err = rq_array_read_f32(emb, 0, 1, row))) {
		hash_row(&st, row, d);
		if (!(err = rq_array_read_f32(emb, n - 1, 1, row)))
			hash_row(&st, row, d);
	}
	crypto_generichash_final(&st, id, 32);
	free(row);
	return err;
}

/* The labels of a shard of at least one row and at most INT32_MAX rows. */
static int shard_labels(int64_t **y, const rq_array *emb, const rq_array *labels)
{
	size_t n = rq_array_rows(emb);
	*y = NULL;
	if (n == 0 || rq_array_cols(emb) == 0)
		return rq_error_set(RQ_EINVALID, "%s: no rows to cluster", rq_array_name(emb));
	if (n > INT32_MAX)
		return rq_error_set(RQ_EINVALID, "%s: %zu rows is more than a shard supports (%d)",
				    rq_array_name(emb), n, INT32_MAX);
	if (rq_array_rows(labels) != n)
		return rq_error_set(RQ_EINVALID, "%s has %zu labels but %s has %zu rows",
				    rq_array_name(labels), rq_array_rows(labels), rq_array_name(emb), n);
	return rq_labels_read_all(y, labels);
}

static int parse_fp(uint8_t out[32], const char *fp, const char *what)
{
	if (rq_fingerprint_parse(out, fp))
		return rq_error_set(RQ_EINVALID, "%s: not a fingerprint: %s", what, fp);
	return 0;
}

int rq_shard_stats(rq_partial **out, const rq_array *emb, const rq_array *labels, const char *emb_fp,
		   const char *lab_fp)
{
	rq_partial *p = rq_xcalloc(1, sizeof(*p));
	int64_t *y = NULL;
	int32_t *cls = NULL;
	rq_rows x;
	int err;

	*out = NULL;
	p->kind = RQ_PARTIAL_STATS;
	p->nshards = 1;
	p->shards = rq_xcalloc(1, sizeof(*p->shards));
	if ((err = parse_fp(p->shards[0].embeddings, emb_fp, rq_array_name(emb))) ||
	    (err = parse_fp(p->shards[0].labels, lab_fp, rq_array_name(labels))) ||
	    (err = shard_labels(&y, emb, labels)))
		goto done;
	p->n = p->shards[0].rows = rq_array_rows(emb);
	p->d = rq_array_cols(emb);
	if ((err = shard_identity(p->shards[0].id, emb, y)))
		goto done;
	size_t n = (size_t)p->n, d = p->d;
	cls = rq_xmallocarray(n, sizeof(int32_t));
	p->labels = rq_xmallocarray(n, sizeof(int64_t));
	p->k = rq_kmeans_rank_labels(cls, p->labels, y, n);
	if (p->k > SIZE_MAX / sizeof(double) / 4 / d) {
		err = rq_error_set(RQ_EINVALID, "%s: %zu classes of dimension %zu are too many",
				   rq_array_name(emb), p->k, d);
		goto done;
	}
	p->origin = rq_xmallocarray(d, sizeof(float));
	p->colsum = rq_xmallocarray(d, sizeof(double));
	p->colsq = rq_xmallocarray(d, sizeof(double));
	p->sums = rq_xcalloc(p->k * d, sizeof(double));
	p->counts = rq_xcalloc(p->k, sizeof(uint64_t));
	rq_rows_from_array(&x, emb);
	if ((err = rq_kmeans_column_sums(p->origin, p->colsum, p->colsq, &p->shards[0].checksum, &x)) ||
	    (err = rq_kmeans_class_sums(p->sums, p->counts, &x, cls)))
		goto done;
	*out = p;
	p = NULL;
done:
	rq_partial_free(p);
	free(y);
	free(cls);
	return err;
}

/* Each row's class: the rank of its label in the state's label list. */
static int state_classes(int32_t *cls, const rq_partial *state, const int64_t *y, size_t n,
			 const char *name)
{
	for (size_t i = 0; i < n; i++) {
		size_t lo = 0, hi = state->k;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (state->labels[mid] < y[i])
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == state->k || state->labels[lo] != y[i])
			return rq_error_set(RQ_EINVALID, "%s: label %" PRId64 " (row %zu) is not one of "
					    "the state's %zu labels", name, y[i], i, state->k);
		cls[i] = (int32_t)lo;
	}
	return 0;
}

static rq_partial *new_step(const rq_partial *state, const uint8_t state_id[32], bool final,
			    size_t n)
{
	rq_partial *p = rq_xcalloc(1, sizeof(*p));
	size_t k = state->k, d = state->d;
	p->kind = final ? RQ_PARTIAL_FINAL : RQ_PARTIAL_STEP;
	p->d = d;
	p->k = k;
	p->n = n;
	p->nshards = 1;
	p->shards = rq_xcalloc(1, sizeof(*p->shards));
	p->shards[0].rows = n;
	memcpy(p->state_id, state_id, 32);
	p->state_iteration = state->iteration;
	p->changed = RQ_PARTIAL_CHANGED_UNKNOWN;
	if (!final) {
		p->counts = rq_xcalloc(k, sizeof(uint64_t));
		p->sums = rq_xcalloc(k * d, sizeof(double));
	}
	return p;
}

static int step_check(const rq_partial *state, const char *state_name, const rq_array *emb,
		      bool final, bool previous, const char *name)
{
	if (state->kind != RQ_PARTIAL_STATE)
		return rq_error_set(RQ_EINVALID, "%s: a %s partial, not a state", state_name,
				    rq_partial_kind_name(state->kind));
	if (rq_array_cols(emb) != state->d)
		return rq_error_set(RQ_EINVALID, "%s: dimension %zu differs from the state's %zu", name,
				    rq_array_cols(emb), state->d);
	if (final && !state->done)
		return rq_error_set(RQ_EINVALID, "%s: the state is not done (iteration %" PRIu64
				    "): --final needs the last state", state_name, state->iteration);
	if (!final && state->done)
		return rq_error_set(RQ_EINVALID, "%s: the state is done (iteration %" PRIu64
				    "): run the final step (--final)", state_name, state->iteration);
	if (previous && state->iteration == 0)
		return rq_error_set(RQ_EINVALID, "%s: a previous assignment is given but the state is at "
				    "iteration 0, before any assignment: run the first step without "
				    "--previous", state_name);
	return 0;
}

/* The final partial of a shard: the fingerprints of the files read and
 * the non-zero cells of its class × cluster table. */
static int final_cells(rq_partial *p, const int32_t *cls, const int32_t *lab, size_t k,
		       const char *emb_fp, const char *lab_fp, const char *emb_name, const char *lab_name)
{
	int err;
	if ((err = parse_fp(p->shards[0].embeddings, emb_fp ? emb_fp : "", emb_name)) ||
	    (err = parse_fp(p->shards[0].labels, lab_fp ? lab_fp : "", lab_name)))
		return err;
	return rq_ari_count_cells(&p->cells, &p->ncells, cls, k, lab, k, (size_t)p->n);
}

int rq_shard_step(rq_partial **out, const rq_partial *state, const uint8_t state_id[32],
		  const char *state_name, const rq_array *emb, const rq_array *labels, const int32_t *previous,
		  int32_t *assignment, bool final, const char *emb_fp, const char *lab_fp, size_t nthreads)
{
	const char *name = rq_array_name(emb);
	rq_partial *p = NULL;
	int64_t *y = NULL;
	int32_t *lab = NULL, *cls = NULL;
	size_t n = 0, changed = 0;
	rq_rows x;
	int err;

	*out = NULL;
	if ((err = step_check(state, state_name, emb, final, previous != NULL, name)) ||
	    (err = shard_labels(&y, emb, labels)))
		goto done;
	n = rq_array_rows(emb);
	p = new_step(state, state_id, final, n);
	lab = rq_xmallocarray(n, sizeof(int32_t));
	for (size_t i = 0; i < n; i++) {
		lab[i] = previous ? previous[i] : -1;
		if (previous && (lab[i] < 0 || (size_t)lab[i] >= state->k)) {
			err = rq_error_set(RQ_EINVALID, "the previous assignment's cluster %" PRId32
					   " (row %zu) is not one of the state's %zu", lab[i], i, state->k);
			goto done;
		}
	}
	if ((err = shard_identity(p->shards[0].id, emb, y)))
		goto done;
	if (final) {
		cls = rq_xmallocarray(n, sizeof(int32_t));
		if ((err = state_classes(cls, state, y, n, rq_array_name(labels))))
			goto done;
	}
	rq_rows_from_array(&x, emb);
	if ((err = rq_kmeans_pass(&changed, p->sums, p->counts, lab, &x, state->shift, state->centers,
				  state->k, nthreads, &p->shards[0].checksum)))
		goto done;
	if (final) {
		if ((err = final_cells(p, cls, lab, state->k, emb_fp, lab_fp, name, rq_array_name(labels))))
			goto done;
	} else if (previous)
		p->changed = changed;
	if (assignment)
		memcpy(assignment, lab, n * sizeof(int32_t));
	*out = p;
	p = NULL;
done:
	rq_partial_free(p);
	free(y);
	free(lab);
	free(cls);
	return err;
}

/* Whether every sum/count (count > 0) of k rows of d is within float32's
 * range, so that the conversions of the update are defined (partials from
 * real data always are: their rows are float32). */
static bool means_fit_f32(const double *sums, const uint64_t *counts, size_t k, size_t d)
{
	for (size_t c = 0; c < k; c++)
		for (size_t t = 0; counts[c] && t < d; t++)
			if (!(fabs(sums[c * d + t] / (double)counts[c]) <= FLT_MAX))
				return false;
	return true;
}

static bool all_finite(const float *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return false;
	return true;
}

int rq_shard_init(rq_partial **out, const rq_partial *stats, size_t max_iter, double tol,
		  const char *name)
{
	size_t d = stats->d, k = stats->k;
	double *mean = NULL, mean_var = 0;

	*out = NULL;
	if (stats->kind != RQ_PARTIAL_STATS)
		return rq_error_set(RQ_EINVALID, "%s: init needs stats partials, not a %s partial", name,
				    rq_partial_kind_name(stats->kind));
	if (stats->n > RQ_SHARD_MAX_ROWS)
		return rq_error_set(RQ_EINVALID, "%s: %" PRIu64 " rows in all, more than the %u the ARI's "
				    "exact arithmetic takes", name, stats->n, RQ_SHARD_MAX_ROWS);
	mean = rq_xmallocarray(d, sizeof(double));
	rq_kmeans_column_finish(mean, &mean_var, stats->origin, stats->colsum, stats->colsq, stats->n, d);
	bool fits = isfinite(mean_var) && means_fit_f32(stats->sums, stats->counts, k, d);
	for (size_t t = 0; t < d && fits; t++)
		fits = fabs(mean[t]) <= FLT_MAX;
	if (!fits) {
		free(mean);
		return rq_error_set(RQ_EINVALID, "%s: the stats' means are outside float32's range", name);
	}
	rq_partial *p = rq_xcalloc(1, sizeof(*p));
	p->kind = RQ_PARTIAL_STATE;
	p->d = d;
	p->k = k;
	p->n = stats->n;
	p->nshards = stats->nshards;
	p->shards = rq_xmallocarray(p->nshards, sizeof(*p->shards));
	memcpy(p->shards, stats->shards, p->nshards * sizeof(*p->shards));
	p->labels = rq_xmallocarray(k, sizeof(int64_t));
	memcpy(p->labels, stats->labels, k * sizeof(int64_t));
	p->counts = rq_xmallocarray(k, sizeof(uint64_t));
	memcpy(p->counts, stats->counts, k * sizeof(uint64_t));
	/* As rq_task_compute: the float32 shift, the tolerance, the seeds. */
	p->shift = rq_xmallocarray(d, sizeof(float));
	for (size_t t = 0; t < d; t++)
		p->shift[t] = (float)mean[t];
	p->rel_tol = tol > 0 ? tol : 1e-4;
	p->tol = p->rel_tol * mean_var;
	p->max_iter = max_iter ? max_iter : 300;
	p->centers = rq_xmallocarray(k * d, sizeof(float));
	rq_kmeans_seed_centroids(p->centers, stats->sums, stats->counts, p->shift, k, d);
	p->last_changed = RQ_PARTIAL_CHANGED_UNKNOWN;
	free(mean);
	if (!all_finite(p->centers, k * d) || !isfinite(p->tol)) {
		rq_partial_free(p);
		return rq_error_set(RQ_EINVALID, "%s: the stats' centred means are outside float32's range",
				    name);
	}
	*out = p;
	return 0;
}

/* One of the state's shards, for matching a partial's shard list against
 * the state's as multisets: `pos` is its place in the state (0-based), `by`
 * the file that covered it plus one (0: none yet). */
struct slot {
	const rq_shard_ref *ref;
	size_t pos, by;
};

/* Shard records compared by identity (level 1), then rows (2), then the
 * content checksum (3), then the content fingerprints (4). */
static int cmp_key(const rq_shard_ref *a, const rq_shard_ref *b, int level)
{
	int c = memcmp(a->id, b->id, 32);
	if (!c && level >= 2)
		c = (a->rows > b->rows) - (a->rows < b->rows);
	if (!c && level >= 3)
		c = (a->checksum > b->checksum) - (a->checksum < b->checksum);
	if (!c && level >= 4)
		c = memcmp(a->embeddings, b->embeddings, 32);
	if (!c && level >= 4)
		c = memcmp(a->labels, b->labels, 32);
	return c;
}

static int cmp_slot(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;
	int c = cmp_key(x->ref, y->ref, 4);
	return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/* The state's shard of `ref`'s key at `level` of the sorted `v` (m of
 * them), the first in state order that is uncovered (or, with `covered`,
 * covered); NULL when none. */
static struct slot *find(struct slot *v, size_t m, const rq_shard_ref *ref, int level, bool covered)
{
	size_t lo = 0, hi = m;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp_key(v[mid].ref, ref, level) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	struct slot *best = NULL;
	for (; lo < m && cmp_key(v[lo].ref, ref, level) == 0; lo++)
		if ((v[lo].by != 0) == covered && (!best || v[lo].pos < best->pos))
			best = &v[lo];
	return best;
}

static size_t count_key(const struct slot *v, size_t m, const rq_shard_ref *ref, int level)
{
	size_t c = 0;
	for (size_t i = 0; i < m; i++)
		c += cmp_key(v[i].ref, ref, level) == 0;
	return c;
}

/* Which of a final record's fingerprints differs from `want`'s, both
 * formatted; the embeddings when both do. */
static const char *which_file(char got_fp[RQ_FINGERPRINT_SIZE], char want_fp[RQ_FINGERPRINT_SIZE],
			      const rq_shard_ref *got, const rq_shard_ref *want)
{
	bool emb = memcmp(got->embeddings, want->embeddings, 32) != 0;
	rq_fingerprint_format(got_fp, emb ? got->embeddings : got->labels);
	rq_fingerprint_format(want_fp, emb ? want->embeddings : want->labels);
	return emb ? "embeddings" : "labels";
}

/* Whether a record of the state's identity and rows differs from it by
 * its fingerprints (a final partial's), not only by its content checksum. */
static bool files_differ(const rq_shard_ref *got, const rq_shard_ref *want, rq_partial_kind kind)
{
	return kind == RQ_PARTIAL_FINAL && (memcmp(got->embeddings, want->embeddings, 32) != 0 ||
					    memcmp(got->labels, want->labels, 32) != 0);
}

/* The record `e` (entry s + 1 of t of `name`) has the identity and rows of
 * the state's shard `twin` but another content checksum. */
static int checksum_differs(const struct slot *twin, size_t m, const rq_shard_ref *e,
			    const char *name, size_t s, size_t t, const struct slot *same,
			    const char *const *names, rq_partial_kind kind)
{
	if (same)
		return rq_error_set(RQ_EINVALID, "%s, entry %zu of %zu: shard %zu of %zu (%" PRIu64 " rows) "
				    "again, already covered by %s, and no %s partial has the content "
				    "of shard %zu of %zu (%" PRIu64 " rows), of the same identity (its "
				    "content checksum %016" PRIx64 "): one shard given twice in place of "
				    "another", name, s + 1, t, same->pos + 1, m, e->rows,
				    names[same->by - 1], rq_partial_kind_name(kind), twin->pos + 1, m,
				    twin->ref->rows, twin->ref->checksum);
	return rq_error_set(RQ_EINVALID, "%s, entry %zu of %zu: shard %zu of %zu (%" PRIu64 " rows) by "
			    "its identity, but the embeddings it read have content checksum %016"
			    PRIx64 ", the stats' %016" PRIx64 ": another shard's rows of the same "
			    "identity, or the embeddings changed since `resque shard stats`", name,
			    s + 1, t, twin->pos + 1, m, e->rows, e->checksum, twin->ref->checksum);
}

/* Why the record `e` (entry s + 1 of t of the file `name`) covers none of
 * the state's shards `v` (m, sorted, the covering done): "shard P of M (R
 * rows)" always names the state's shard P in state order. */
static int explain_extra(struct slot *v, size_t m, const rq_shard_ref *e, const char *const *names,
			 size_t f, size_t s, size_t t, rq_partial_kind kind)
{
	const char *name = names[f];
	int level = kind == RQ_PARTIAL_FINAL ? 4 : 3;
	const struct slot *same = find(v, m, e, level, true); /* its shard, covered already */
	const struct slot *twin = find(v, m, e, 2, false);    /* its identity and rows, uncovered */
	const struct slot *kin = twin ? twin : find(v, m, e, 1, false);
	char a[RQ_FINGERPRINT_SIZE], b[RQ_FINGERPRINT_SIZE];

	if (twin && !files_differ(e, twin->ref, kind))
		return checksum_differs(twin, m, e, name, s, t, same, names, kind);
	if (same && twin) /* a final partial: twin differs in content */
		return rq_error_set(RQ_EINVALID, "%s, entry %zu of %zu: shard %zu of %zu (%" PRIu64 " rows) "
				    "again, already covered by %s, and no final partial has the content "
				    "of shard %zu of %zu (%" PRIu64 " rows), of the same identity (its %s "
				    "file %s): one shard given twice in place of another", name, s + 1, t,
				    same->pos + 1, m, e->rows, names[same->by - 1], twin->pos + 1, m,
				    twin->ref->rows, which_file(a, b, e, twin->ref), b);
	if (same) {
		size_t c = count_key(v, m, e, level);
		return rq_error_set(RQ_EINVALID, "%s, entry %zu of %zu: shard %zu of %zu (%" PRIu64 " rows) "
				    "again, already covered by %s: the state holds it %zu time%s",
				    name, s + 1, t, same->pos + 1, m, e->rows, names[same->by - 1], c,
				    c == 1 ? "" : "s");
	}
	if (twin) /* a final partial: the content differs */
		return rq_error_set(RQ_EINVALID, "%s, entry %zu of %zu: shard %zu of %zu (%" PRIu64 " rows) "
				    "by its identity, but its %s file changed since `resque shard stats` "
				    "(%s then, %s at the final step)", name, s + 1, t, twin->pos + 1, m,
				    e->rows, which_file(a, b, e, twin->ref), b, a);
	if (kin)
		return rq_error_set(RQ_EINVALID, "%s, entry %zu of %zu: %" PRIu64 " rows, but shard %zu of "
				    "%zu (%" PRIu64 " rows) has its identity: the partial is inconsistent",
				    name, s + 1, t, e->rows, kin->pos + 1, m, kin->ref->rows);
	if ((kin = find(v, m, e, 1, true)))
		return rq_error_set(RQ_EINVALID, "%s, entry %zu of %zu (%" PRIu64 " rows): not one of the "
				    "state's shards (shard %zu of %zu (%" PRIu64 " rows) has its identity but "
				    "other rows or files, and is covered by %s)", name, s + 1, t, e->rows,
				    kin->pos + 1, m, kin->ref->rows, names[kin->by - 1]);
	return rq_error_set(RQ_EINVALID, "%s, entry %zu of %zu (%" PRIu64 " rows): not one of the state's "
			    "shards", name, s + 1, t, e->rows);
}

static int check_one(const rq_partial *state, const uint8_t state_id[32], const rq_partial *p,
		     const char *name, rq_partial_kind want)
{
	if (p->kind != want)
		return rq_error_set(RQ_EINVALID, "%s: a %s partial, not a %s partial", name,
				    rq_partial_kind_name(p->kind), rq_partial_kind_name(want));
	if (memcmp(p->state_id, state_id, 32) != 0)
		return rq_error_set(RQ_EINVALID, "%s: computed against another state (of iteration %"
				    PRIu64 "; this state is at iteration %" PRIu64 ")", name,
				    p->state_iteration, state->iteration);
	if (p->state_iteration != state->iteration)
		return rq_error_set(RQ_EINVALID, "%s: says iteration %" PRIu64 " but names this state, "
				    "which is at iteration %" PRIu64 ": the partial is inconsistent", name,
				    p->state_iteration, state->iteration);
	if (p->d != state->d || p->k != state->k)
		return rq_error_set(RQ_EINVALID, "%s: %zu clusters of dimension %zu, the state has %zu of %zu",
				    name, p->k, p->d, state->k, state->d);
	return 0;
}

/* The state's shard first in state order that no partial covers. */
static const struct slot *first_uncovered(const struct slot *v, size_t m)
{
	const struct slot *best = NULL;
	for (size_t i = 0; i < m; i++)
		if (!v[i].by && (!best || v[i].pos < best->pos))
			best = &v[i];
	return best;
}

int rq_shard_check(const rq_partial *state, const uint8_t state_id[32], const char *state_name,
		   rq_partial *const *parts, const char *const *names, size_t n, rq_partial_kind want)
{
	size_t m = state->nshards, ef = 0, es = 0;
	int level = want == RQ_PARTIAL_FINAL ? 4 : 3, err = 0;
	struct slot *v = rq_xmallocarray(m, sizeof(*v)), *at;
	bool extra = false;

	for (size_t s = 0; s < m; s++)
		v[s] = (struct slot){ &state->shards[s], s, 0 };
	qsort(v, m, sizeof(*v), cmp_slot);
	for (size_t f = 0; f < n && !err; f++)
		err = check_one(state, state_id, parts[f], names[f], want);
	/* Equal multisets: each record covers an uncovered shard of its key. */
	for (size_t f = 0; f < n && !err; f++)
		for (size_t s = 0; s < parts[f]->nshards; s++) {
			if ((at = find(v, m, &parts[f]->shards[s], level, false)))
				at->by = f + 1;
			else if (!extra)
				extra = true, ef = f, es = s;
		}
	if (!err && extra)
		err = explain_extra(v, m, &parts[ef]->shards[es], names, ef, es, parts[ef]->nshards, want);
	const struct slot *miss = err ? NULL : first_uncovered(v, m);
	if (miss)
		err = rq_error_set(RQ_EINVALID, "%s: shard %zu of %zu (%" PRIu64 " rows) has no %s partial "
				   "among the files given", state_name, miss->pos + 1, m, miss->ref->rows,
				   rq_partial_kind_name(want));
	free(v);
	return err;
}

int rq_shard_update(rq_partial *state, const rq_partial *step, const char *state_name)
{
	int strict = 0;
	if (state->done)
		return rq_error_set(RQ_EINVALID, "%s: the state is done (iteration %" PRIu64
				    "): run the final step and `resque shard result`", state_name,
				    state->iteration);
	if (!step || step->n != state->n || step->kind != RQ_PARTIAL_STEP)
		return rq_error_set(RQ_EINVALID, "%s: the steps hold %" PRIu64 " rows, the state %" PRIu64,
				    state_name, step ? step->n : 0, state->n);
	if (!means_fit_f32(step->sums, step->counts, state->k, state->d))
		return rq_error_set(RQ_EINVALID, "%s: the steps' means are outside float32's range",
				    state_name);
	size_t kd = state->k * state->d;
	float *before = rq_xmallocarray(kd, sizeof(float));
	memcpy(before, state->centers, kd * sizeof(float));
	/* The body of rq_kmeans_lloyd's loop. */
	double shift2 = rq_kmeans_update(state->centers, step->sums, step->counts, state->k, state->d);
	if (step->changed == 0 && shift2 != 0) {
		/* Unchanged assignments give unchanged sums: the count is wrong. */
		memcpy(state->centers, before, kd * sizeof(float));
		free(before);
		return rq_error_set(RQ_EINVALID, "%s: the steps say no row changed but the centres moved "
				    "(squared shift %g): a --previous was not its shard's previous "
				    "assignment (a retried step that read its own output?); nothing "
				    "written", state_name, shift2);
	}
	free(before);
	state->iteration++;
	state->done = rq_kmeans_stop(&strict, step->changed, shift2, state->tol,
				     (size_t)state->iteration, (size_t)state->max_iter);
	state->strict = strict;
	state->last_shift = shift2;
	state->last_changed = step->changed;
	return 0;
}

/* The first class whose rows in the table (cells sorted by class, as
 * decoded and merged) differ from the state's count of it; k if none. */
static size_t class_mismatch(uint64_t *got, const rq_partial *state, const rq_partial *final)
{
	size_t i = 0;
	for (size_t c = 0; c < state->k; c++) {
		*got = 0;
		for (; i < final->ncells && final->cells[i].cls == c; i++)
			*got += final->cells[i].count;
		if (*got != state->counts[c])
			return c;
	}
	return state->k;
}

int rq_shard_ari(double *out, const rq_partial *state, const rq_partial *final, const char *state_name,
		 const char *final_name)
{
	*out = 0;
	if (!state->done)
		return rq_error_set(RQ_EINVALID, "%s: the state is not done (iteration %" PRIu64
				    "): run `resque shard update` until it is", state_name,
				    state->iteration);
	if (final->kind != RQ_PARTIAL_FINAL || final->n != state->n)
		return rq_error_set(RQ_EINVALID, "%s: the final partials hold %" PRIu64 " rows, the state %"
				    PRIu64, state_name, final->n, state->n);
	uint64_t got = 0;
	size_t c = class_mismatch(&got, state, final);
	if (c < state->k)
		return rq_error_set(RQ_EINVALID, "%s: the table has %" PRIu64 " rows of label %" PRId64
				    ", the stats counted %" PRIu64 " (%s): a final partial is forged or "
				    "inconsistent", final_name, got, state->labels[c], state->counts[c],
				    state_name);
	return rq_ari_cells(out, final->cells, final->ncells, state->k, state->k);
}

void rq_shard_list_fingerprint(char *out, const rq_partial *state)
{
	rq_buf b = RQ_BUF_INIT;
	char e[RQ_FINGERPRINT_SIZE], l[RQ_FINGERPRINT_SIZE];
	for (size_t i = 0; i < state->nshards; i++) {
		rq_fingerprint_format(e, state->shards[i].embeddings);
		rq_fingerprint_format(l, state->shards[i].labels);
		rq_buf_printf(&b, "%s %s %" PRIu64 "\n", e, l, state->shards[i].rows);
	}
	rq_fingerprint_bytes(out, b.ptr, b.len);
	rq_buf_release(&b);
}
