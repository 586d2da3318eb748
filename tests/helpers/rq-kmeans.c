/* Test program: the centroid-seeded k-means of `resque measure task`
 * stopped after at most ITERS iterations, to compare it step by step with
 * scikit-learn's KMeans(max_iter=ITERS, tol=0) (tests/t0420-measure-task.sh).
 *
 *   rq-kmeans EMB LABELS ITERS THREADS ASSIGNMENT
 *
 * Runs with a tolerance of 1e-300 (in effect 0: only an unchanged labelling
 * stops it early), writes each row's cluster to ASSIGNMENT, one per line,
 * and prints the iterations run. Exit 0, 1 on error (message on stderr),
 * 2 on usage. */
#include "common.h"
#include "resque/array.h"
#include "resque/measure.h"

int main(int argc, char **argv)
{
	rq_array *emb = NULL, *lab = NULL;
	int64_t *y = NULL;
	rq_rows rows;
	rq_task t;
	rq_task_opts o = { RQ_INIT_CENTROIDS, 0, 0, 1e-300, 0 };
	FILE *f = NULL;
	int rc = 1;

	rq_task_init_result(&t);
	if (argc != 6 || atoi(argv[3]) < 1 || atoi(argv[4]) < 1) {
		fprintf(stderr, "usage: rq-kmeans EMB LABELS ITERS THREADS ASSIGNMENT\n");
		return 2;
	}
	o.max_iter = (size_t)atoi(argv[3]);
	o.nthreads = (size_t)atoi(argv[4]);
	if (rq_array_open_pair(&emb, &lab, argv[1], argv[2], NULL) || rq_labels_read_all(&y, lab))
		goto done;
	rq_rows_from_array(&rows, emb);
	if (rq_task_compute(&t, &rows, y, &o, argv[1]))
		goto done;
	if (!(f = fopen(argv[5], "w"))) {
		rq_error_os("%s", argv[5]);
		goto done;
	}
	for (size_t i = 0; i < t.n; i++)
		fprintf(f, "%d\n", (int)t.assignment[i]);
	if (fclose(f) != 0) {
		rq_error_os("%s", argv[5]);
		goto done;
	}
	printf("%zu\n", t.iterations);
	rc = 0;
done:
	if (rc)
		fprintf(stderr, "rq-kmeans: %s\n", rq_error_last());
	rq_task_release(&t);
	free(y);
	rq_array_free(emb);
	rq_array_free(lab);
	return rc;
}
