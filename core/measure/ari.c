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

int rq_ari(double *out, const int32_t *a, size_t ka, const int32_t *b, size_t kb, size_t n)
{
	uint64_t *row = NULL, *col = NULL, *cells = NULL;
	int err = 0;

	*out = 0;
	/* n² must fit in an int64 and the products below in 128 bits. */
	if (n > 3037000499u) {
		err = rq_error_set(RQ_EINVALID, "ari: %zu items are too many", n);
		goto done;
	}
	row = rq_xcalloc(ka ? ka : 1, sizeof(*row));
	col = rq_xcalloc(kb ? kb : 1, sizeof(*col));
	cells = rq_xmallocarray(n ? n : 1, sizeof(*cells));
	for (size_t i = 0; i < n; i++) {
		if (a[i] < 0 || (size_t)a[i] >= ka || b[i] < 0 || (size_t)b[i] >= kb) {
			err = rq_error_set(RQ_EINVALID, "ari: label out of range at item %zu", i);
			goto done;
		}
		row[a[i]]++;
		col[b[i]]++;
		cells[i] = (uint64_t)a[i] * kb + (uint64_t)b[i];
	}
	/* The non-zero cells of the contingency table are the runs of the
	 * sorted cell ids: O(n log n) time and O(n) memory whatever ka·kb. */
	qsort(cells, n, sizeof(*cells), cmp_u64);
	int64_t sum_sq = 0, row_sq = 0, col_sq = 0, nn = (int64_t)n;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && cells[j] == cells[i])
			j++;
		sum_sq += (int64_t)(j - i) * (int64_t)(j - i);
		i = j;
	}
	for (size_t i = 0; i < ka; i++)
		row_sq += (int64_t)(row[i] * row[i]);
	for (size_t i = 0; i < kb; i++)
		col_sq += (int64_t)(col[i] * col[i]);
	/* Pair confusion matrix (ordered pairs). */
	int64_t tp = sum_sq - nn, fp = col_sq - sum_sq, fn = row_sq - sum_sq;
	int64_t tn = nn * nn - fp - fn - sum_sq;
	if (fn == 0 && fp == 0) {
		*out = 1.0;
		goto done;
	}
	__int128 num = (__int128)tp * tn - (__int128)fn * fp;
	__int128 den = (__int128)(tp + fn) * (fn + tn) + (__int128)(tp + fp) * (fp + tn);
	*out = 2.0 * (double)num / (double)den;
done:
	free(row);
	free(col);
	free(cells);
	return err;
}
