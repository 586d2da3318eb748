/* Representation summaries: per-class float64 sums (and the Gram matrix
 * by dsyrk), exact merging of shards, and the checksummed .rqs encoding. */
#include "common.h"
#include "resque/summary.h"
#include "linalg_int.h"

#include <math.h>
#include <sodium.h>

#define SUMMARY_BLOCK_BYTES (4u << 20) /* target size of one row block */

/* The label -> class index hash table and the capacity of the class
 * arrays: private to this file. */
struct rq_summary_index {
	size_t cap, *slots; /* slots hold class index + 1; 0 is empty */
	size_t alloc;       /* the classes that labels, counts and sums have room for */
};

static size_t hash_label(int64_t label)
{
	uint64_t z = (uint64_t)label + 0x9e3779b97f4a7c15u;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return (size_t)(z ^ (z >> 31));
}

/* Slots hold class index + 1; 0 is empty. The table is kept at most half
 * full and sized to a power of two. */
static void rehash(rq_summary *s, size_t cap)
{
	free(s->index->slots);
	s->index->slots = rq_xcalloc(cap, sizeof(*s->index->slots));
	s->index->cap = cap;
	for (size_t c = 0; c < s->k; c++) {
		size_t h = hash_label(s->labels[c]) & (cap - 1);
		while (s->index->slots[h])
			h = (h + 1) & (cap - 1);
		s->index->slots[h] = c + 1;
	}
}

long rq_summary_find(const rq_summary *s, int64_t label)
{
	if (!s->index->cap)
		return -1;
	size_t h = hash_label(label) & (s->index->cap - 1);
	while (s->index->slots[h]) {
		size_t c = s->index->slots[h] - 1;
		if (s->labels[c] == label)
			return (long)c;
		h = (h + 1) & (s->index->cap - 1);
	}
	return -1;
}

/* The index of class `label`, creating the class if it is new. */
static size_t class_of(rq_summary *s, int64_t label)
{
	long c = rq_summary_find(s, label);
	if (c >= 0)
		return (size_t)c;
	size_t k = s->k, rowlen;
	if (k + 1 > s->index->alloc) {
		/* Three arrays share one capacity: grown together, as ALLOC_GROW would. */
		size_t alloc = rq_alloc_nr(s->index->alloc, k + 1);
		if (!rq_mul_size(&rowlen, alloc, s->d)) {
			fprintf(stderr, "resque: summary too large\n");
			abort();
		}
		s->labels = rq_xreallocarray(s->labels, alloc, sizeof(*s->labels));
		s->counts = rq_xreallocarray(s->counts, alloc, sizeof(*s->counts));
		s->sums = rq_xreallocarray(s->sums, rowlen, sizeof(double));
		s->index->alloc = alloc;
	}
	s->labels[k] = label;
	s->counts[k] = 0;
	memset(s->sums + k * s->d, 0, s->d * sizeof(double));
	s->k = k + 1;
	if (2 * s->k > s->index->cap)
		rehash(s, s->index->cap ? 2 * s->index->cap : 16);
	else {
		size_t h = hash_label(label) & (s->index->cap - 1);
		while (s->index->slots[h])
			h = (h + 1) & (s->index->cap - 1);
		s->index->slots[h] = k + 1;
	}
	return k;
}

int rq_summary_new(rq_summary **out, size_t d, int moments)
{
	size_t dd;
	*out = NULL;
	if (d == 0)
		return rq_error_set(RQ_EINVALID, "summary: dimension must be at least 1");
	if (moments != 1 && moments != 2)
		return rq_error_set(RQ_EINVALID, "summary: moments must be 1 or 2, not %d", moments);
	if (moments == 2 && (!rq_mul_size(&dd, d, d) || dd > SIZE_MAX / sizeof(double)))
		return rq_error_set(RQ_EINVALID, "summary: dimension %zu too large for a Gram matrix", d);
	rq_summary *s = rq_xcalloc(1, sizeof(*s));
	s->index = rq_xcalloc(1, sizeof(*s->index));
	s->d = d;
	s->moments = moments;
	if (moments == 2) {
		s->total = rq_xcalloc(d, sizeof(double));
		s->gram = rq_xcalloc(d * d, sizeof(double));
	}
	*out = s;
	return 0;
}

void rq_summary_free(rq_summary *s)
{
	if (!s)
		return;
	free(s->labels);
	free(s->counts);
	free(s->sums);
	free(s->total);
	free(s->gram);
	if (s->index)
		free(s->index->slots);
	free(s->index);
	free(s);
}

static int add_gram(rq_summary *s, const double *x, size_t n)
{
	const struct rq_blas *blas;
	int err;

	if (!n)
		return 0;
	if ((err = rq_blas_load(&blas)))
		return err;
	/* G += Xᵀ X on the upper triangle; the lower one is filled on encode. */
	blas->dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (blasint)s->d, (blasint)n, 1.0, x,
		    (blasint)s->d, 1.0, s->gram, (blasint)s->d);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < s->d; j++)
			s->total[j] += x[i * s->d + j];
	return 0;
}

int rq_summary_add_f64(rq_summary *s, const double *x, const int64_t *labels, size_t n)
{
	size_t d = s->d;
	int err;

	/* The Gram matrix first: a missing BLAS leaves the summary unchanged. */
	if (s->moments == 2 && (err = add_gram(s, x, n)))
		return err;
	for (size_t i = 0; i < n; i++) {
		size_t c = class_of(s, labels[i]);
		double *sum = s->sums + c * d;
		const double *row = x + i * d;
		for (size_t j = 0; j < d; j++)
			sum[j] += row[j];
		s->counts[c]++;
	}
	s->n += n;
	return 0;
}

int rq_summary_add_f32(rq_summary *s, const float *x, const int64_t *labels, size_t n)
{
	size_t d = s->d;
	if (s->moments == 2) {
		/* dsyrk needs float64 rows: convert in bounded chunks. */
		size_t chunk = SUMMARY_BLOCK_BYTES / (d * sizeof(double)) + 1;
		double *tmp = rq_xmallocarray((chunk < n ? chunk : n) * d + 1, sizeof(double));
		int err = 0;
		for (size_t i0 = 0; i0 < n && !err; i0 += chunk) {
			size_t m = n - i0 < chunk ? n - i0 : chunk;
			for (size_t t = 0; t < m * d; t++)
				tmp[t] = x[i0 * d + t];
			err = rq_summary_add_f64(s, tmp, labels + i0, m);
		}
		free(tmp);
		return err;
	}
	for (size_t i = 0; i < n; i++) {
		size_t c = class_of(s, labels[i]);
		double *sum = s->sums + c * d;
		const float *row = x + i * d;
		for (size_t j = 0; j < d; j++)
			sum[j] += (double)row[j];
		s->counts[c]++;
	}
	s->n += n;
	return 0;
}

int rq_summary_merge(rq_summary *into, const rq_summary *from, const char *name)
{
	if (into->d != from->d)
		return rq_error_set(RQ_EINVALID, "%s: dimension %zu differs from %zu", name,
				    from->d, into->d);
	if (into->moments == 2 && from->moments != 2)
		return rq_error_set(RQ_EINVALID, "%s: has no second moments (summarize it with --moments 2)",
				    name);
	if (into->n > UINT64_MAX - from->n)
		return rq_error_set(RQ_EINVALID, "%s: row count overflows", name);
	for (size_t c = 0; c < from->k; c++) {
		size_t t = class_of(into, from->labels[c]);
		if (into->counts[t] > UINT64_MAX - from->counts[c])
			return rq_error_set(RQ_EINVALID, "%s: class count overflows", name);
		into->counts[t] += from->counts[c];
		double *dst = into->sums + t * into->d;
		const double *src = from->sums + c * from->d;
		for (size_t j = 0; j < into->d; j++)
			dst[j] += src[j];
	}
	if (into->moments == 2) {
		for (size_t j = 0; j < into->d; j++)
			into->total[j] += from->total[j];
		for (size_t i = 0; i < into->d; i++)
			for (size_t j = i; j < into->d; j++)
				into->gram[i * into->d + j] += from->gram[i * into->d + j];
	}
	into->n += from->n;
	return 0;
}

static const int64_t *sort_labels;

static int cmp_by_label(const void *a, const void *b)
{
	int64_t x = sort_labels[*(const size_t *)a], y = sort_labels[*(const size_t *)b];
	return (x > y) - (x < y);
}

size_t *rq_summary_order(const rq_summary *s)
{
	size_t *ord = rq_xmallocarray(s->k ? s->k : 1, sizeof(*ord));
	for (size_t c = 0; c < s->k; c++)
		ord[c] = c;
	/* qsort has no context argument in C11; labels are unique, so a
	 * file-scope pointer is safe as long as callers are single-threaded. */
	sort_labels = s->labels;
	qsort(ord, s->k, sizeof(*ord), cmp_by_label);
	sort_labels = NULL;
	return ord;
}

int rq_summary_encode(rq_buf *out, const rq_summary *s)
{
	size_t start = out->len, d = s->d;
	size_t *ord = rq_summary_order(s);
	uint8_t hash[RQ_SUMMARY_HASH_LEN];

	rq_buf_put(out, RQ_SUMMARY_MAGIC, 8);
	rq_buf_put_le32(out, RQ_SUMMARY_VERSION);
	rq_buf_put_le32(out, (uint32_t)s->moments);
	rq_buf_put_le64(out, d);
	rq_buf_put_le64(out, s->k);
	rq_buf_put_le64(out, s->n);
	for (size_t i = 0; i < s->k; i++) {
		size_t c = ord[i];
		rq_buf_put_le64(out, (uint64_t)s->labels[c]);
		rq_buf_put_le64(out, s->counts[c]);
		for (size_t j = 0; j < d; j++)
			rq_buf_put_f64(out, s->sums[c * d + j]);
	}
	if (s->moments == 2) {
		for (size_t j = 0; j < d; j++)
			rq_buf_put_f64(out, s->total[j]);
		for (size_t i = 0; i < d; i++)
			for (size_t j = i; j < d; j++)
				rq_buf_put_f64(out, s->gram[i * d + j]);
	}
	crypto_generichash(hash, sizeof(hash), (const unsigned char *)out->ptr + start,
			   out->len - start, NULL, 0);
	rq_buf_put(out, hash, sizeof(hash));
	free(ord);
	return 0;
}

/* The encoded size of a summary, or false on overflow. */
static bool encoded_len(size_t *out, size_t d, size_t k, int moments)
{
	size_t rec, body, tri, extra = 0;
	if (!rq_mul_size(&rec, d, 8) || !rq_add_size(&rec, rec, 16) ||
	    !rq_mul_size(&body, rec, k))
		return false;
	if (moments == 2) {
		if (!rq_add_size(&tri, d, 1) || !rq_mul_size(&tri, tri, d))
			return false;
		tri /= 2;
		if (!rq_add_size(&extra, tri, d) || !rq_mul_size(&extra, extra, 8))
			return false;
	}
	return rq_add_size(out, body, extra) &&
	       rq_add_size(out, *out, RQ_SUMMARY_HEADER_LEN + RQ_SUMMARY_HASH_LEN);
}

/* The header of an encoded summary, checked against the length and the
 * checksum. */
struct header {
	int moments;
	size_t d, k;
	uint64_t n;
};

static int decode_header(struct header *h, const uint8_t *p, size_t len, const char *name)
{
	uint8_t hash[RQ_SUMMARY_HASH_LEN];
	uint32_t version, moments;
	uint64_t d64, k64;
	size_t want;

	if (len < RQ_SUMMARY_HEADER_LEN + RQ_SUMMARY_HASH_LEN || memcmp(p, RQ_SUMMARY_MAGIC, 8) != 0)
		return rq_error_set(RQ_EINVALID, "%s: not a resque summary (bad magic or too short)", name);
	version = rq_get_le32(p + 8);
	moments = rq_get_le32(p + 12);
	d64 = rq_get_le64(p + 16);
	k64 = rq_get_le64(p + 24);
	h->n = rq_get_le64(p + 32);
	if (version != RQ_SUMMARY_VERSION)
		return rq_error_set(RQ_EUNSUPPORTED, "%s: summary format version %" PRIu32
				    " is not supported (this resque reads version %d)", name, version,
				    RQ_SUMMARY_VERSION);
	if (moments != 1 && moments != 2)
		return rq_error_set(RQ_EINVALID, "%s: moments must be 1 or 2, not %" PRIu32, name, moments);
	if (d64 == 0 || d64 > SIZE_MAX || k64 > SIZE_MAX ||
	    !encoded_len(&want, (size_t)d64, (size_t)k64, (int)moments) || want != len)
		return rq_error_set(RQ_EINVALID, "%s: header says %" PRIu64 " classes of dimension %" PRIu64
				    " but the file holds %zu bytes", name, k64, d64, len);
	h->moments = (int)moments;
	h->d = (size_t)d64;
	h->k = (size_t)k64;
	crypto_generichash(hash, sizeof(hash), p, len - RQ_SUMMARY_HASH_LEN, NULL, 0);
	if (sodium_memcmp(hash, p + len - RQ_SUMMARY_HASH_LEN, sizeof(hash)) != 0)
		return rq_error_set(RQ_EINTEGRITY, "%s: checksum mismatch (the summary is corrupt)", name);
	return 0;
}

/* The k classes (label, count, sums) from *off on; their counts must add
 * up to the header's rows. */
static int decode_classes(rq_summary *s, const struct header *h, const uint8_t *p, size_t *off,
			  const char *name)
{
	uint64_t total_n = 0;
	size_t d = h->d;

	for (size_t c = 0; c < h->k; c++) {
		int64_t label = (int64_t)rq_get_le64(p + *off);
		uint64_t count = rq_get_le64(p + *off + 8);
		if (c > 0 && label <= s->labels[c - 1])
			return rq_error_set(RQ_EINVALID, "%s: labels are not in ascending order at class %zu",
					    name, c);
		if (count == 0 || count > UINT64_MAX - total_n)
			return rq_error_set(RQ_EINVALID, "%s: class %" PRId64 " has an invalid count", name, label);
		total_n += count;
		size_t idx = class_of(s, label);
		s->counts[idx] = count;
		*off += 16;
		for (size_t j = 0; j < d; j++, *off += 8) {
			double x = rq_get_f64(p + *off);
			if (!isfinite(x))
				return rq_error_set(RQ_EINVALID, "%s: non-finite sum in class %" PRId64, name, label);
			s->sums[idx * d + j] = x;
		}
	}
	if (total_n != h->n)
		return rq_error_set(RQ_EINVALID, "%s: header says %" PRIu64 " rows but the classes count %"
				    PRIu64, name, h->n, total_n);
	return 0;
}

/* The total and the upper triangle of the Gram matrix, from `off` on. */
static int decode_moments(rq_summary *s, const uint8_t *p, size_t off, const char *name)
{
	size_t d = s->d;

	for (size_t j = 0; j < d; j++, off += 8)
		s->total[j] = rq_get_f64(p + off);
	for (size_t i = 0; i < d; i++)
		for (size_t j = i; j < d; j++, off += 8)
			s->gram[i * d + j] = s->gram[j * d + i] = rq_get_f64(p + off);
	for (size_t j = 0; j < d * d; j++)
		if (!isfinite(s->gram[j]) || (j < d && !isfinite(s->total[j])))
			return rq_error_set(RQ_EINVALID, "%s: non-finite second moments", name);
	return 0;
}

int rq_summary_decode(rq_summary **out, const void *data, size_t len, const char *name)
{
	const uint8_t *p = data;
	rq_summary *s = NULL;
	struct header h = { 0 };
	size_t off = RQ_SUMMARY_HEADER_LEN;
	int err;

	*out = NULL;
	if ((err = decode_header(&h, p, len, name)) || (err = rq_summary_new(&s, h.d, h.moments)) ||
	    (err = decode_classes(s, &h, p, &off, name)))
		goto done;
	s->n = h.n;
	if (h.moments == 2 && (err = decode_moments(s, p, off, name)))
		goto done;
	*out = s;
	s = NULL;
done:
	rq_summary_free(s);
	return err;
}

int rq_summary_read(rq_summary **out, const char *path)
{
	rq_buf b = RQ_BUF_INIT;
	int err = rq_file_read(&b, path);
	if (!err)
		err = rq_summary_decode(out, b.ptr, b.len, path);
	else
		*out = NULL;
	rq_buf_release(&b);
	return err;
}
