/* RESQUE_task on the command line: `resque measure task` of given files,
 * and the index of a `resque plan --kind task` (cmd/measures.h). */
#include "common.h"
#include "cmd.h"
#include "measures.h"
#include "resque/array.h"
#include "resque/measure.h"

static const struct cmd_help task_help = {
	"measure task", "RESQUE_task of a new task's representation",
	"Clusters the embeddings with Lloyd's k-means (k = the number of distinct\n"
	"labels), seeded with the class centroids in ascending label order (or\n"
	"with k-means++ given --init kmeans++), and prints RESQUE_task = 1 − ARI\n"
	"between the labels and the clusters, the ARI and the iterations run.\n"
	"Threads: OpenBLAS's (OPENBLAS_NUM_THREADS) unless --threads is given.\n"
	"--json prints {\"kind\": \"task\", \"value\": R, \"ari\": A, \"iterations\": I,\n"
	"\"k\": K, \"n\": N, \"init\": \"centroids\"|\"kmeans++\", \"seed\": S}.",
};

static int write_assignment(const char *path, const int32_t *a, size_t n)
{
	rq_buf b = RQ_BUF_INIT;
	for (size_t i = 0; i < n; i++)
		rq_buf_printf(&b, "%" PRId32 "\n", a[i]);
	int err = rq_file_write_atomic(path, b.ptr, b.len, 0644);
	rq_buf_release(&b);
	return err;
}

int measure_task_run(int argc, char **argv)
{
	const char *emb_path = NULL, *lab_path = NULL, *init = "centroids", *tensor = NULL,
		   *assignment = NULL;
	long long seed = 0, threads = 0;
	bool json = false;
	const struct opt opts[] = {
		{ OPT_STRING, 'e', "embeddings", &emb_path, "FILE", "the new task's embeddings (required)", OPT_REQUIRED },
		{ OPT_STRING, 'l', "labels", &lab_path, "FILE", "its labels (required)", OPT_REQUIRED },
		{ OPT_STRING, 0, "init", &init, "HOW", "centroids (default) or kmeans++" },
		{ OPT_INT, 0, "seed", &seed, "S", "seed of k-means++ (default 0)" },
		{ OPT_INT, 0, "threads", &threads, "N", "threads (default: OpenBLAS's count)" },
		{ OPT_STRING, 0, "tensor", &tensor, "NAME", "the embeddings tensor of a safetensors file" },
		{ OPT_STRING, 0, "assignment", &assignment, "FILE", "write each row's cluster, one per line" },
		{ OPT_BOOL, 0, "json", &json, NULL, "print one JSON document" },
		{ OPT_END },
	};
	rq_array *emb = NULL, *lab = NULL;
	int64_t *y = NULL;
	rq_task t;
	rq_task_opts o = { 0 };
	rq_rows rows;
	int rc = EXIT_OK, err;

	rq_task_init_result(&t);
	OPT_PARSE(&task_help, opts, argc, argv);
	if (strcmp(init, "centroids") == 0)
		o.init = RQ_INIT_CENTROIDS;
	else if (strcmp(init, "kmeans++") == 0)
		o.init = RQ_INIT_KMEANSPP;
	else
		return cmd_usage(&task_help, opts, "--init is centroids or kmeans++, not '%s'", init);
	if (threads < 0 || threads > 256)
		return cmd_usage(&task_help, opts, "--threads must be between 0 and 256");
	o.seed = (uint64_t)seed;
	o.nthreads = (size_t)threads;
	if ((err = rq_array_open_pair(&emb, &lab, emb_path, lab_path, tensor)) ||
	    (err = rq_labels_read_all(&y, lab))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	rq_rows_from_array(&rows, emb);
	if ((err = rq_task_compute(&t, &rows, y, &o, emb_path)) ||
	    (assignment && (err = write_assignment(assignment, t.assignment, t.n)))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if (json) {
		json_t *j = json_pack("{s:s,s:f,s:f,s:I,s:I,s:I,s:s}", "kind", "task", "value", t.value,
				      "ari", t.ari, "iterations", (json_int_t)t.iterations, "k",
				      (json_int_t)t.k, "n", (json_int_t)t.n, "init", init);
		if (o.init == RQ_INIT_KMEANSPP)
			json_object_set_new(j, "seed", json_integer((json_int_t)seed));
		rc = cmd_print_json(j);
		json_decref(j);
	} else {
		printf("RESQUE_task %.9f\nari %.12f\niterations %zu\nclasses %zu, rows %zu, init %s\n",
		       t.value, t.ari, t.iterations, t.k, t.n, init);
	}
done:
	rq_task_release(&t);
	free(y);
	rq_array_free(emb);
	rq_array_free(lab);
	return rc;
}

int measure_task_plan_index(struct measure_value *out, const struct measure_input *in)
{
	rq_task t;
	rq_task_opts o = { 0 };
	rq_rows rows;
	int64_t *y = NULL;
	int err;

	rq_task_init_result(&t);
	if (!(err = rq_labels_read_all(&y, in->lab))) {
		rq_rows_from_array(&rows, in->emb);
		err = rq_task_compute(&t, &rows, y, &o, in->label);
	}
	out->index = t.value;
	out->detail[0] = '\0';
	free(y);
	rq_task_release(&t);
	return err;
}
