/* The adjusted Rand index (Hubert & Arabie 1985) from a 64-bit
 * contingency table, computed exactly in integers (pair counts as
 * scikit-learn's pair_confusion_matrix) and rounded once at the end. */
#include "common.h"
#include "kmeans.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* The contingency -> ARI step of rq_ari_cells (which rq_ari and sharded
 * RESQUE_task both end in): from the
 * sums of squares of the cells, of the row sums and of the column sums,
 * the pair confusion matrix (ordered pairs) and the index, exact in
 * 64/128-bit integers and rounded once. */
static double ari_of_squares(int64_t sum_sq, int64_t row_sq, int64_t col_sq, int64_t nn)
{
	int64_t tp = sum_sq - nn, fp = col_sq - sum_sq, fn = row_sq - sum_sq;
	int64_t tn = nn * nn - fp - fn - sum_sq;
	if (fn == 0 && fp == 0)
		return 1.0;
	__int128 num = (__int128)tp * tn - (__int128)fn * fp;
	__int128 den = (__int128)(tp + fn) * (fn + tn) + (__int128)(tp + fp) * (fp + tn);
	return 2.0 * (double)num / (double)den;
}

static int64_t sum_of_squares(const uint64_t *v, size_t n)
{
	int64_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += (int64_t)(v[i] * v[i]);
	return s;
}

int rq_ari_count_cells(rq_partial_cell **out, size_t *m, const int32_t *a, size_t ka,
		       const int32_t *b, size_t kb, size_t n)
{
	uint64_t *ids = rq_xmallocarray(n ? n : 1, sizeof(*ids));
	rq_partial_cell *cells = NULL;
	size_t nc = 0;
	int err = 0;

	*out = NULL;
	*m = 0;
	for (size_t i = 0; i < n; i++) {
		if (a[i] < 0 || (size_t)a[i] >= ka || b[i] < 0 || (size_t)b[i] >= kb) {
			err = rq_error_set(RQ_EINVALID, "ari: label out of range at item %zu", i);
			goto done;
		}
		ids[i] = (uint64_t)a[i] * kb + (uint64_t)b[i];
	}
	/* The non-zero cells of the contingency table are the runs of the
	 * sorted cell ids: O(n log n) time and O(n) memory whatever ka·kb. */
	qsort(ids, n, sizeof(*ids), cmp_u64);
	cells = rq_xmallocarray(n ? n : 1, sizeof(*cells));
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && ids[j] == ids[i])
			j++;
		cells[nc].cls = ids[i] / kb;
		cells[nc].cluster = ids[i] % kb;
		cells[nc++].count = j - i;
		i = j;
	}
	*out = cells;
	*m = nc;
done:
	free(ids);
	return err;
}

int rq_ari(double *out, const int32_t *a, size_t ka, const int32_t *b, size_t kb, size_t n)
{
	rq_partial_cell *cells = NULL;
	size_t m = 0;
	int err;

	*out = 0;
	/* n² must fit in an int64 and the products below in 128 bits. */
	if (n > RQ_ARI_MAX_ITEMS)
		return rq_error_set(RQ_EINVALID, "ari: %zu items are too many", n);
	if (!(err = rq_ari_count_cells(&cells, &m, a, ka, b, kb, n)))
		err = rq_ari_cells(out, cells, m, ka, kb);
	free(cells);
	return err;
}

int rq_ari_cells(double *out, const rq_partial_cell *cells, size_t m, size_t ka, size_t kb)
{
	uint64_t *row = rq_xcalloc(ka ? ka : 1, sizeof(*row)), *col = rq_xcalloc(kb ? kb : 1, sizeof(*col));
	uint64_t n = 0;
	int64_t sum_sq = 0;
	int err = 0;

	*out = 0;
	for (size_t i = 0; i < m; i++) {
		uint64_t c = cells[i].count;
		if (cells[i].cls >= ka || cells[i].cluster >= kb) {
			err = rq_error_set(RQ_EINVALID, "ari: cell %zu is outside the %zu×%zu table", i, ka, kb);
			goto done;
		}
		if (c > RQ_ARI_MAX_ITEMS || n + c > RQ_ARI_MAX_ITEMS) {
			err = rq_error_set(RQ_EINVALID, "ari: more than %u items are too many",
					   RQ_ARI_MAX_ITEMS);
			goto done;
		}
		n += c;
		row[cells[i].cls] += c;
		col[cells[i].cluster] += c;
		sum_sq += (int64_t)(c * c);
	}
	*out = ari_of_squares(sum_sq, sum_of_squares(row, ka), sum_of_squares(col, kb), (int64_t)n);
done:
	free(row);
	free(col);
	return err;
}
