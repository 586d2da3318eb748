/* The .rqp partial files of sharded RESQUE_task (docs/FORMATS.md): their
 * checksummed little-endian encoding, the checking decoder, and merging
 * partials of the same kind by addition. */
#include "common.h"
#include "resque/shard.h"

#include <math.h>
#include <sodium.h>

#define REF_LEN_SHORT 48 /* identity 32, rows 8, content checksum 8 */
#define REF_LEN_LONG 112 /* and the two fingerprints */

void rq_partial_free(rq_partial *p)
{
	if (!p)
		return;
	free(p->shards);
	free(p->origin);
	free(p->colsum);
	free(p->colsq);
	free(p->labels);
	free(p->counts);
	free(p->sums);
	free(p->shift);
	free(p->centers);
	free(p->cells);
	free(p);
}

const char *rq_partial_kind_name(rq_partial_kind kind)
{
	switch (kind) {
	case RQ_PARTIAL_STATS: return "stats";
	case RQ_PARTIAL_STATE: return "state";
	case RQ_PARTIAL_STEP: return "step";
	case RQ_PARTIAL_FINAL: return "final";
	}
	return "unknown";
}

static bool has_fingerprints(rq_partial_kind kind)
{
	return kind != RQ_PARTIAL_STEP;
}

/* ---- encoding ---- */

static void encode_body(rq_buf *out, const rq_partial *p)
{
	size_t d = p->d, k = p->k;
	switch (p->kind) {
	case RQ_PARTIAL_STATS:
		for (size_t j = 0; j < d; j++)
			rq_buf_put_f32(out, p->origin[j]);
		for (size_t j = 0; j < d; j++)
			rq_buf_put_f64(out, p->colsum[j]);
		for (size_t j = 0; j < d; j++)
			rq_buf_put_f64(out, p->colsq[j]);
		for (size_t c = 0; c < k; c++) {
			rq_buf_put_le64(out, (uint64_t)p->labels[c]);
			rq_buf_put_le64(out, p->counts[c]);
			for (size_t j = 0; j < d; j++)
				rq_buf_put_f64(out, p->sums[c * d + j]);
		}
		break;
	case RQ_PARTIAL_STATE:
		rq_buf_put_f64(out, p->tol);
		rq_buf_put_f64(out, p->rel_tol);
		rq_buf_put_le64(out, p->max_iter);
		rq_buf_put_le64(out, p->iteration);
		rq_buf_put_le64(out, (p->done ? 1u : 0u) | (p->strict ? 2u : 0u));
		rq_buf_put_f64(out, p->last_shift);
		rq_buf_put_le64(out, p->last_changed);
		for (size_t c = 0; c < k; c++)
			rq_buf_put_le64(out, (uint64_t)p->labels[c]);
		for (size_t c = 0; c < k; c++)
			rq_buf_put_le64(out, p->counts[c]);
		for (size_t j = 0; j < d; j++)
			rq_buf_put_f32(out, p->shift[j]);
		for (size_t i = 0; i < k * d; i++)
			rq_buf_put_f32(out, p->centers[i]);
		break;
	case RQ_PARTIAL_STEP:
		rq_buf_put(out, p->state_id, 32);
		rq_buf_put_le64(out, p->state_iteration);
		rq_buf_put_le64(out, p->changed);
		for (size_t c = 0; c < k; c++) {
			rq_buf_put_le64(out, p->counts[c]);
			for (size_t j = 0; j < d; j++)
				rq_buf_put_f64(out, p->sums[c * d + j]);
		}
		break;
	case RQ_PARTIAL_FINAL:
		rq_buf_put(out, p->state_id, 32);
		rq_buf_put_le64(out, p->state_iteration);
		rq_buf_put_le64(out, p->ncells);
		for (size_t i = 0; i < p->ncells; i++) {
			rq_buf_put_le64(out, p->cells[i].cls);
			rq_buf_put_le64(out, p->cells[i].cluster);
			rq_buf_put_le64(out, p->cells[i].count);
		}
		break;
	}
}

void rq_partial_encode(rq_buf *out, const rq_partial *p)
{
	size_t start = out->len;
	uint8_t hash[RQ_PARTIAL_HASH_LEN];

	rq_buf_put(out, RQ_PARTIAL_MAGIC, 8); /* the literal's NUL is the 8th byte */
	rq_buf_put_le32(out, RQ_PARTIAL_VERSION);
	rq_buf_put_le32(out, (uint32_t)p->kind);
	rq_buf_put_le64(out, p->d);
	rq_buf_put_le64(out, p->k);
	rq_buf_put_le64(out, p->n);
	rq_buf_put_le64(out, p->nshards);
	for (size_t i = 0; i < p->nshards; i++) {
		rq_buf_put(out, p->shards[i].id, 32);
		rq_buf_put_le64(out, p->shards[i].rows);
		rq_buf_put_le64(out, p->shards[i].checksum);
		if (has_fingerprints(p->kind)) {
			rq_buf_put(out, p->shards[i].embeddings, 32);
			rq_buf_put(out, p->shards[i].labels, 32);
		}
	}
	encode_body(out, p);
	crypto_generichash(hash, sizeof(hash), (const unsigned char *)out->ptr + start,
			   out->len - start, NULL, 0);
	rq_buf_put(out, hash, sizeof(hash));
}

int rq_partial_write(const char *path, const rq_partial *p)
{
	rq_buf b = RQ_BUF_INIT;
	rq_partial_encode(&b, p);
	int err = rq_file_write_atomic(path, b.ptr, b.len, 0644);
	rq_buf_release(&b);
	return err;
}

/* ---- decoding ---- */

/* A reader over bytes whose total length was checked against the layout
 * first: it cannot run past the end. */
struct rd {
	const uint8_t *p;
	size_t off;
};

static uint64_t rd_u64(struct rd *r)
{
	uint64_t v = rq_get_le64(r->p + r->off);
	r->off += 8;
	return v;
}

static double rd_f64(struct rd *r)
{
	uint64_t v = rd_u64(r);
	double x;
	memcpy(&x, &v, 8);
	return x;
}

static float rd_f32(struct rd *r)
{
	uint32_t v = rq_get_le32(r->p + r->off);
	float x;
	r->off += 4;
	memcpy(&x, &v, 4);
	return x;
}

static void rd_bytes(struct rd *r, uint8_t *out, size_t n)
{
	memcpy(out, r->p + r->off, n);
	r->off += n;
}

/* The body's size for a kind (a final one holds `ncells` cells), or false
 * on overflow. */
static bool body_len(size_t *out, rq_partial_kind kind, size_t d, size_t k, size_t ncells)
{
	size_t kd, a, b;
	if (!rq_mul_size(&kd, k, d))
		return false;
	switch (kind) {
	case RQ_PARTIAL_STATS: /* origin, colsum, colsq; k × (label, count, sums) */
		return rq_mul_size(&a, d, 20) && rq_mul_size(&b, kd, 8) &&
		       rq_mul_size(out, k, 16) && rq_add_size(out, *out, b) && rq_add_size(out, *out, a);
	case RQ_PARTIAL_STATE: /* 56 bytes of scalars, labels, class counts, shift, centres */
		return rq_mul_size(&a, k, 16) && rq_mul_size(&b, kd, 4) && rq_add_size(out, a, b) &&
		       rq_mul_size(&a, d, 4) && rq_add_size(out, *out, a) && rq_add_size(out, *out, 56);
	case RQ_PARTIAL_STEP: /* state id, iteration, changed; k × (count, sums) */
		return rq_mul_size(&b, kd, 8) && rq_mul_size(&a, k, 8) && rq_add_size(out, a, b) &&
		       rq_add_size(out, *out, 48);
	case RQ_PARTIAL_FINAL: /* state id, iteration, cell count; (class, cluster, count) cells */
		return rq_mul_size(&a, ncells, 24) && rq_add_size(out, a, 48);
	}
	return false;
}

struct header {
	rq_partial_kind kind;
	size_t d, k, nshards, ncells;
	uint64_t n;
};

/* A final partial's cell count, read where its body says (0 when the file
 * is too short to hold it: the length check refuses it then). */
static uint64_t final_cells(const uint8_t *p, size_t len, size_t refs)
{
	size_t at;
	if (!rq_add_size(&at, refs, RQ_PARTIAL_HEADER_LEN + 8 + 40) || at > len || len - at < 8)
		return 0;
	return rq_get_le64(p + at);
}

static int decode_header(struct header *h, const uint8_t *p, size_t len, const char *name)
{
	uint8_t hash[RQ_PARTIAL_HASH_LEN];
	size_t want, refs, body;

	if (len < RQ_PARTIAL_HEADER_LEN + 8 + RQ_PARTIAL_HASH_LEN || memcmp(p, RQ_PARTIAL_MAGIC, 8) != 0)
		return rq_error_set(RQ_EINVALID, "%s: not a resque partial (bad magic or too short)", name);
	uint32_t version = rq_get_le32(p + 8), kind = rq_get_le32(p + 12);
	uint64_t d64 = rq_get_le64(p + 16), k64 = rq_get_le64(p + 24), ns64 = rq_get_le64(p + 40), nc64 = 0;
	h->n = rq_get_le64(p + 32);
	if (version != RQ_PARTIAL_VERSION)
		return rq_error_set(RQ_EUNSUPPORTED, "%s: partial format version %" PRIu32
				    " is not supported (this resque reads version %d)", name, version,
				    RQ_PARTIAL_VERSION);
	if (kind < RQ_PARTIAL_STATS || kind > RQ_PARTIAL_FINAL)
		return rq_error_set(RQ_EINVALID, "%s: unknown partial kind %" PRIu32, name, kind);
	h->kind = (rq_partial_kind)kind;
	if (h->n > INT64_MAX)
		return rq_error_set(RQ_EINVALID, "%s: header says %" PRIu64 " rows, more than %" PRId64,
				    name, h->n, INT64_MAX);
	bool ok = d64 && k64 && ns64 && h->n && ns64 <= h->n && d64 <= SIZE_MAX && k64 <= SIZE_MAX &&
		  ns64 <= SIZE_MAX && !((h->kind == RQ_PARTIAL_STATS || h->kind == RQ_PARTIAL_STATE) &&
					k64 > h->n) &&
		  rq_mul_size(&refs, (size_t)ns64,
			      has_fingerprints(h->kind) ? REF_LEN_LONG : REF_LEN_SHORT);
	if (ok && h->kind == RQ_PARTIAL_FINAL)
		ok = (nc64 = final_cells(p, len, refs)) <= h->n;
	if (!ok || !body_len(&body, h->kind, (size_t)d64, (size_t)k64, (size_t)nc64) ||
	    !rq_add_size(&want, refs, body) ||
	    !rq_add_size(&want, want, RQ_PARTIAL_HEADER_LEN + 8 + RQ_PARTIAL_HASH_LEN) || want != len)
		return rq_error_set(RQ_EINVALID, "%s: header says %" PRIu64 " shards, %" PRIu64
				    " classes of dimension %" PRIu64 " and %" PRIu64
				    " rows, which does not fit the file's %zu bytes", name, ns64, k64,
				    d64, h->n, len);
	h->d = (size_t)d64;
	h->k = (size_t)k64;
	h->nshards = (size_t)ns64;
	h->ncells = (size_t)nc64;
	crypto_generichash(hash, sizeof(hash), p, len - RQ_PARTIAL_HASH_LEN, NULL, 0);
	if (sodium_memcmp(hash, p + len - RQ_PARTIAL_HASH_LEN, sizeof(hash)) != 0)
		return rq_error_set(RQ_EINTEGRITY, "%s: checksum mismatch (the partial is corrupt or truncated)",
				    name);
	return 0;
}

static int decode_refs(rq_partial *p, struct rd *r, const char *name)
{
	uint64_t total = 0;
	p->shards = rq_xcalloc(p->nshards, sizeof(*p->shards));
	for (size_t i = 0; i < p->nshards; i++) {
		rq_shard_ref *s = &p->shards[i];
		rd_bytes(r, s->id, 32);
		s->rows = rd_u64(r);
		s->checksum = rd_u64(r);
		if (has_fingerprints(p->kind)) {
			rd_bytes(r, s->embeddings, 32);
			rd_bytes(r, s->labels, 32);
		}
		if (s->rows == 0 || s->rows > p->n - total)
			return rq_error_set(RQ_EINVALID, "%s: entry %zu of %zu of the shard list has an "
					    "invalid row count", name, i + 1, p->nshards);
		total += s->rows;
	}
	if (total != p->n)
		return rq_error_set(RQ_EINVALID, "%s: header says %" PRIu64 " rows but the shards count %"
				    PRIu64, name, p->n, total);
	return 0;
}

static int finite_f64(const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return 0;
	return 1;
}

static int finite_f32(const float *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return 0;
	return 1;
}

/* Labels strictly ascending. */
static int check_labels(const rq_partial *p, const char *name)
{
	for (size_t c = 1; c < p->k; c++)
		if (p->labels[c] <= p->labels[c - 1])
			return rq_error_set(RQ_EINVALID, "%s: labels are not in ascending order at class %zu",
					    name, c);
	return 0;
}

/* k counts (each >= 1 when `positive`) adding up to n. */
static int check_counts(const rq_partial *p, const uint64_t *counts, size_t m, bool positive,
			const char *name)
{
	uint64_t total = 0;
	for (size_t c = 0; c < m; c++) {
		if ((positive && counts[c] == 0) || counts[c] > p->n - total)
			return rq_error_set(RQ_EINVALID, "%s: count %zu is invalid", name, c + 1);
		total += counts[c];
	}
	if (total != p->n)
		return rq_error_set(RQ_EINVALID, "%s: header says %" PRIu64 " rows but the counts add up to %"
				    PRIu64, name, p->n, total);
	return 0;
}

static int decode_stats(rq_partial *p, struct rd *r, const char *name)
{
	size_t d = p->d, k = p->k;
	p->origin = rq_xmallocarray(d, sizeof(float));
	p->colsum = rq_xmallocarray(d, sizeof(double));
	p->colsq = rq_xmallocarray(d, sizeof(double));
	p->labels = rq_xmallocarray(k, sizeof(int64_t));
	p->counts = rq_xmallocarray(k, sizeof(uint64_t));
	p->sums = rq_xmallocarray(k * d, sizeof(double));
	for (size_t j = 0; j < d; j++)
		p->origin[j] = rd_f32(r);
	for (size_t j = 0; j < d; j++)
		p->colsum[j] = rd_f64(r);
	for (size_t j = 0; j < d; j++)
		p->colsq[j] = rd_f64(r);
	for (size_t c = 0; c < k; c++) {
		p->labels[c] = (int64_t)rd_u64(r);
		p->counts[c] = rd_u64(r);
		for (size_t j = 0; j < d; j++)
			p->sums[c * d + j] = rd_f64(r);
	}
	if (!finite_f32(p->origin, d) || !finite_f64(p->colsum, d) || !finite_f64(p->colsq, d) ||
	    !finite_f64(p->sums, k * d))
		return rq_error_set(RQ_EINVALID, "%s: non-finite value in the stats", name);
	int err = check_labels(p, name);
	return err ? err : check_counts(p, p->counts, k, true, name);
}

static int decode_state(rq_partial *p, struct rd *r, const char *name)
{
	size_t d = p->d, k = p->k;
	p->tol = rd_f64(r);
	p->rel_tol = rd_f64(r);
	p->max_iter = rd_u64(r);
	p->iteration = rd_u64(r);
	uint64_t flags = rd_u64(r);
	p->last_shift = rd_f64(r);
	p->last_changed = rd_u64(r);
	p->labels = rq_xmallocarray(k, sizeof(int64_t));
	p->counts = rq_xmallocarray(k, sizeof(uint64_t));
	p->shift = rq_xmallocarray(d, sizeof(float));
	p->centers = rq_xmallocarray(k * d, sizeof(float));
	for (size_t c = 0; c < k; c++)
		p->labels[c] = (int64_t)rd_u64(r);
	for (size_t c = 0; c < k; c++)
		p->counts[c] = rd_u64(r);
	for (size_t j = 0; j < d; j++)
		p->shift[j] = rd_f32(r);
	for (size_t i = 0; i < k * d; i++)
		p->centers[i] = rd_f32(r);
	if (flags > 3 || (flags & 2 && !(flags & 1)))
		return rq_error_set(RQ_EINVALID, "%s: invalid state flags %" PRIu64, name, flags);
	p->done = flags & 1;
	p->strict = flags & 2;
	if (p->max_iter == 0 || p->iteration > p->max_iter || (p->iteration == p->max_iter && !p->done) ||
	    (p->done && p->iteration == 0))
		return rq_error_set(RQ_EINVALID, "%s: iteration %" PRIu64 " of at most %" PRIu64
				    " is inconsistent", name, p->iteration, p->max_iter);
	if (!isfinite(p->tol) || p->tol < 0 || !isfinite(p->rel_tol) || !(p->rel_tol > 0) ||
	    !isfinite(p->last_shift) ||
	    !finite_f32(p->shift, d) || !finite_f32(p->centers, k * d))
		return rq_error_set(RQ_EINVALID, "%s: non-finite value in the state", name);
	int err = check_labels(p, name);
	return err ? err : check_counts(p, p->counts, k, true, name);
}

/* A final partial's cells: inside the k×k table, sorted strictly by
 * (class, cluster), each count >= 1, adding up to n. */
static int decode_cells(rq_partial *p, struct rd *r, const char *name)
{
	uint64_t total = 0;
	rq_partial_cell *c;
	r->off += 8; /* the cell count, read by decode_header */
	p->cells = rq_xmallocarray(p->ncells ? p->ncells : 1, sizeof(*p->cells));
	for (size_t i = 0; i < p->ncells; i++) {
		c = &p->cells[i];
		c->cls = rd_u64(r);
		c->cluster = rd_u64(r);
		c->count = rd_u64(r);
		if (c->cls >= p->k || c->cluster >= p->k || c->count == 0 || c->count > p->n - total ||
		    (i && (c->cls < c[-1].cls || (c->cls == c[-1].cls && c->cluster <= c[-1].cluster))))
			return rq_error_set(RQ_EINVALID, "%s: cell %zu of the contingency table is invalid "
					    "(out of range, empty or out of order)", name, i + 1);
		total += c->count;
	}
	if (total != p->n)
		return rq_error_set(RQ_EINVALID, "%s: header says %" PRIu64 " rows but the cells add up to %"
				    PRIu64, name, p->n, total);
	return 0;
}

static int decode_step(rq_partial *p, struct rd *r, const char *name)
{
	size_t d = p->d, k = p->k;
	rd_bytes(r, p->state_id, 32);
	p->state_iteration = rd_u64(r);
	if (p->kind == RQ_PARTIAL_FINAL)
		return decode_cells(p, r, name);
	p->changed = rd_u64(r);
	p->counts = rq_xmallocarray(k, sizeof(uint64_t));
	p->sums = rq_xmallocarray(k * d, sizeof(double));
	for (size_t c = 0; c < k; c++) {
		p->counts[c] = rd_u64(r);
		for (size_t j = 0; j < d; j++)
			p->sums[c * d + j] = rd_f64(r);
	}
	if (!finite_f64(p->sums, k * d))
		return rq_error_set(RQ_EINVALID, "%s: non-finite value in the step", name);
	if (p->changed != RQ_PARTIAL_CHANGED_UNKNOWN && p->changed > p->n)
		return rq_error_set(RQ_EINVALID, "%s: %" PRIu64 " changed rows of %" PRIu64, name,
				    p->changed, p->n);
	return check_counts(p, p->counts, k, false, name);
}

int rq_partial_decode(rq_partial **out, const void *data, size_t len, const char *name)
{
	struct header h = { 0 };
	struct rd r = { data, RQ_PARTIAL_HEADER_LEN + 8 };
	rq_partial *p = NULL;
	int err;

	*out = NULL;
	if ((err = decode_header(&h, data, len, name)))
		return err;
	p = rq_xcalloc(1, sizeof(*p));
	p->kind = h.kind;
	p->d = h.d;
	p->k = h.k;
	p->n = h.n;
	p->nshards = h.nshards;
	p->ncells = h.ncells;
	if ((err = decode_refs(p, &r, name)))
		goto done;
	if (h.kind == RQ_PARTIAL_STATS)
		err = decode_stats(p, &r, name);
	else if (h.kind == RQ_PARTIAL_STATE)
		err = decode_state(p, &r, name);
	else
		err = decode_step(p, &r, name);
done:
	if (err)
		rq_partial_free(p);
	else
		*out = p;
	return err;
}

int rq_partial_read(rq_partial **out, uint8_t id[32], const char *path)
{
	rq_buf b = RQ_BUF_INIT;
	int err = rq_file_read(&b, path);
	*out = NULL;
	if (!err) {
		err = rq_partial_decode(out, b.ptr, b.len, path);
		if (!err && id)
			crypto_generichash(id, 32, (const unsigned char *)b.ptr, b.len, NULL, 0);
	}
	rq_buf_release(&b);
	return err;
}

/* ---- merging ---- */

static void append_shards(rq_partial *into, const rq_partial *from)
{
	into->shards = rq_xreallocarray(into->shards, into->nshards + from->nshards, sizeof(rq_shard_ref));
	memcpy(into->shards + into->nshards, from->shards, from->nshards * sizeof(rq_shard_ref));
	into->nshards += from->nshards;
}

/* Stats: the column sums of `from` re-based from its origin o to into's
 * x0 (δ = o − x0: S' = S + nδ, Q' = Q + 2δS + nδ²), the class lists united
 * in ascending label order. */
static void merge_stats(rq_partial *into, const rq_partial *from)
{
	size_t d = into->d, ka = into->k, kb = from->k, k = 0, a = 0, b = 0;
	double nb = (double)from->n;
	for (size_t j = 0; j < d; j++) {
		double delta = (double)from->origin[j] - (double)into->origin[j];
		into->colsum[j] += from->colsum[j] + nb * delta;
		into->colsq[j] += from->colsq[j] + 2 * delta * from->colsum[j] + nb * delta * delta;
	}
	int64_t *labels = rq_xmallocarray(ka + kb, sizeof(int64_t));
	uint64_t *counts = rq_xmallocarray(ka + kb, sizeof(uint64_t));
	double *sums = rq_xcalloc((ka + kb) * d, sizeof(double));
	while (a < ka || b < kb) {
		bool ta = a < ka && (b >= kb || into->labels[a] <= from->labels[b]);
		bool tb = b < kb && (a >= ka || from->labels[b] <= into->labels[a]);
		labels[k] = ta ? into->labels[a] : from->labels[b];
		counts[k] = 0;
		if (ta) {
			counts[k] += into->counts[a];
			for (size_t j = 0; j < d; j++)
				sums[k * d + j] += into->sums[a * d + j];
			a++;
		}
		if (tb) {
			counts[k] += from->counts[b];
			for (size_t j = 0; j < d; j++)
				sums[k * d + j] += from->sums[b * d + j];
			b++;
		}
		k++;
	}
	free(into->labels);
	free(into->counts);
	free(into->sums);
	into->labels = labels;
	into->counts = counts;
	into->sums = sums;
	into->k = k;
}

/* Final: the sorted cell lists of both merged into one sorted list,
 * equal cells added. O(cells). */
static void merge_cells(rq_partial *into, const rq_partial *from)
{
	size_t na = into->ncells, nb = from->ncells, a = 0, b = 0, m = 0;
	rq_partial_cell *out = rq_xmallocarray(na + nb ? na + nb : 1, sizeof(*out));
	while (a < na || b < nb) {
		const rq_partial_cell *x = a < na ? &into->cells[a] : NULL, *y = b < nb ? &from->cells[b] : NULL;
		int c = !x ? 1 : !y ? -1 : x->cls != y->cls ? (x->cls < y->cls ? -1 : 1)
			 : x->cluster != y->cluster ? (x->cluster < y->cluster ? -1 : 1) : 0;
		out[m] = c <= 0 ? *x : *y;
		if (c == 0)
			out[m].count += y->count;
		a += c <= 0;
		b += c >= 0;
		m++;
	}
	free(into->cells);
	into->cells = out;
	into->ncells = m;
}

int rq_partial_merge(rq_partial *into, const rq_partial *from, const char *name)
{
	if (from->kind != into->kind || into->kind == RQ_PARTIAL_STATE)
		return rq_error_set(RQ_EINVALID, "%s: a %s partial cannot be merged with a %s partial%s",
				    name, rq_partial_kind_name(from->kind), rq_partial_kind_name(into->kind),
				    into->kind == RQ_PARTIAL_STATE ? " (states do not merge)" : "");
	if (from->d != into->d)
		return rq_error_set(RQ_EINVALID, "%s: dimension %zu differs from %zu", name, from->d, into->d);
	if (from->n > (uint64_t)INT64_MAX - into->n)
		return rq_error_set(RQ_EINVALID, "%s: row count overflows", name);
	if (into->kind != RQ_PARTIAL_STATS &&
	    (from->k != into->k || memcmp(from->state_id, into->state_id, 32) != 0 ||
	     from->state_iteration != into->state_iteration))
		return rq_error_set(RQ_EINVALID, "%s: computed against another state (iteration %" PRIu64
				    ") than the partials before it (iteration %" PRIu64 ")", name,
				    from->state_iteration, into->state_iteration);
	if (into->kind == RQ_PARTIAL_STATS) {
		merge_stats(into, from);
	} else if (into->kind == RQ_PARTIAL_STEP) {
		for (size_t c = 0; c < into->k; c++)
			into->counts[c] += from->counts[c];
		for (size_t i = 0; i < into->k * into->d; i++)
			into->sums[i] += from->sums[i];
		if (from->changed == RQ_PARTIAL_CHANGED_UNKNOWN)
			into->changed = RQ_PARTIAL_CHANGED_UNKNOWN;
		else if (into->changed != RQ_PARTIAL_CHANGED_UNKNOWN)
			into->changed += from->changed;
	} else {
		merge_cells(into, from);
	}
	into->n += from->n;
	append_shards(into, from);
	return 0;
}
