/* resque shard: RESQUE_task over shards. Map steps a worker runs on one
 * shard (stats, step) and reduce steps a driver runs (merge, init, update,
 * result), exchanging .rqp partial files (docs/METHOD.md, "Shards";
 * docs/FORMATS.md). */
#include "common.h"
#include "cmd.h"
#include "resque/array.h"
#include "resque/fingerprint.h"
#include "resque/measure.h"
#include "resque/shard.h"

#include <errno.h>
#include <math.h>
#include <unistd.h>

/* ---- shared helpers ---- */

/* Read the partials `files`, with each one's name; 0 or the exit status
 * of the error printed. The caller frees with free_partials. */
static int read_partials(rq_partial ***out, const struct opt_list *files)
{
	rq_partial **v = rq_xcalloc(files->n ? files->n : 1, sizeof(*v));
	int err;
	*out = v;
	for (size_t i = 0; i < files->n; i++)
		if ((err = rq_partial_read(&v[i], NULL, files->v[i])))
			return cmd_fail_code(err);
	return EXIT_OK;
}

static void free_partials(rq_partial **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		rq_partial_free(v[i]);
	free(v);
}

/* Merge `v` (n >= 1) in argument order into v[0]; 0 or the exit status. */
static int merge_into_first(rq_partial **v, const struct opt_list *files)
{
	int err;
	for (size_t i = 1; i < files->n; i++)
		if ((err = rq_partial_merge(v[0], v[i], files->v[i])))
			return cmd_fail_code(err);
	return EXIT_OK;
}

static int print_partial(bool json, const char *path, const rq_partial *p)
{
	if (json) {
		json_t *j = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I}", "path", path, "kind",
				      rq_partial_kind_name(p->kind), "shards", (json_int_t)p->nshards,
				      "rows", (json_int_t)p->n, "dim", (json_int_t)p->d, "k",
				      (json_int_t)p->k);
		if (p->kind == RQ_PARTIAL_STEP)
			json_object_set_new(j, "changed", p->changed == RQ_PARTIAL_CHANGED_UNKNOWN
								  ? json_null()
								  : json_integer((json_int_t)p->changed));
		if (p->kind == RQ_PARTIAL_STEP || p->kind == RQ_PARTIAL_FINAL)
			json_object_set_new(j, "iteration", json_integer((json_int_t)p->state_iteration));
		int rc = cmd_print_json(j);
		json_decref(j);
		return rc;
	}
	printf("%s: %s of %zu shard%s, %" PRIu64 " rows, k %zu, dimension %zu\n", path,
	       rq_partial_kind_name(p->kind), p->nshards, p->nshards == 1 ? "" : "s", p->n, p->k, p->d);
	return EXIT_OK;
}

/* ---- stats ---- */

static const struct cmd_help stats_help = {
	"shard stats", "the column and class statistics of one shard (map)",
	"One pass over the shard EMB with its labels: the rows, the first row,\n"
	"the float64 column sums and sums of squares about it, and per label the\n"
	"count and float64 sum of the rows; with the shard's identity, the\n"
	"content checksum of the embeddings as read, and the fingerprints of\n"
	"both files (as `resque fingerprint` prints them).\n"
	"Writes the stats partial OUT (.rqp, docs/FORMATS.md) atomically.",
};

static int fingerprint_of(char out[RQ_FINGERPRINT_SIZE], const char *path)
{
	rq_fp_result r;
	int err;
	rq_fp_result_init(&r);
	if (!(err = rq_fingerprint_path(&r, path, NULL)))
		memcpy(out, r.fingerprint, RQ_FINGERPRINT_SIZE);
	rq_fp_result_release(&r);
	return err;
}

static int shard_stats(int argc, char **argv)
{
	const char *emb_path = NULL, *lab_path = NULL, *tensor = NULL, *output = NULL;
	bool json = false;
	const struct opt opts[] = {
		{ OPT_STRING, 'e', "embeddings", &emb_path, "EMB", "the shard's embeddings (required)", OPT_REQUIRED },
		{ OPT_STRING, 'l', "labels", &lab_path, "LAB", "its labels (required)", OPT_REQUIRED },
		{ OPT_STRING, 0, "tensor", &tensor, "NAME", "the embeddings tensor of a safetensors file" },
		{ OPT_STRING, 'o', "output", &output, "OUT", "the stats partial to write (required)", OPT_REQUIRED },
		{ OPT_BOOL, 0, "json", &json, NULL, "describe the written partial as JSON" },
		{ OPT_END },
	};
	char efp[RQ_FINGERPRINT_SIZE], lfp[RQ_FINGERPRINT_SIZE];
	rq_array *emb = NULL, *lab = NULL;
	rq_partial *p = NULL;
	int rc = EXIT_OK, err;

	OPT_PARSE(&stats_help, opts, argc, argv);
	if ((err = rq_array_open_pair(&emb, &lab, emb_path, lab_path, tensor)) ||
	    (err = fingerprint_of(efp, emb_path)) || (err = fingerprint_of(lfp, lab_path)) ||
	    (err = rq_shard_stats(&p, emb, lab, efp, lfp)) || (err = rq_partial_write(output, p))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	rc = print_partial(json, output, p);
done:
	rq_partial_free(p);
	rq_array_free(emb);
	rq_array_free(lab);
	return rc;
}

/* ---- step ---- */

static const struct cmd_help step_help = {
	"shard step", "one Lloyd step of one shard against a state (map)",
	"Assigns each row of the shard EMB to the nearest of the state's centres\n"
	"(in its centred float32 coordinates, as `resque measure task` does) and\n"
	"writes the per-cluster float64 sums and counts (a step partial) to OUT.\n"
	"With --previous (the shard's assignment of the step before, an int32\n"
	".npy; not against a state of iteration 0) it counts the rows whose\n"
	"cluster changed; without, the count is unknown (null). --assignment\n"
	"writes this step's assignment as an int32 .npy: use a file per\n"
	"iteration, so that a retried step reads the one before. OUT and the\n"
	"assignment are written together or not at all. With --final (the state\n"
	"must be done) OUT holds the non-zero cells of the label × cluster\n"
	"contingency table instead (a final partial) and the fingerprints of EMB\n"
	"and LAB; a label the state does not know is an error. Threads:\n"
	"OpenBLAS's unless --threads is given (keep it the same every iteration).",
};

/* The int32 .npy of `a` (n values), appended to `b`. */
static void npy_i32(rq_buf *b, const int32_t *a, size_t n)
{
	rq_buf h = RQ_BUF_INIT;
	rq_buf_printf(&h, "{'descr': '<i4', 'fortran_order': False, 'shape': (%zu,), }", n);
	while ((10 + h.len + 1) % 64)
		rq_buf_putc(&h, ' ');
	rq_buf_putc(&h, '\n');
	rq_buf_put(b, "\x93NUMPY\x01\x00", 8);
	uint8_t hl[2] = { (uint8_t)(h.len & 0xff), (uint8_t)(h.len >> 8) };
	rq_buf_put(b, hl, 2);
	rq_buf_put(b, h.ptr, h.len);
	for (size_t i = 0; i < n; i++) {
		uint32_t v = (uint32_t)a[i];
		uint8_t p[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
		rq_buf_put(b, p, 4);
	}
	rq_buf_release(&h);
}

/* A file written beside `path` under a temporary name, renamed over
 * `path` by commit, so that two outputs appear together or not at all. */
struct staged {
	rq_buf tmp;
	const char *path;
	bool live;
};

static int stage(struct staged *s, const char *path, const void *data, size_t len)
{
	int err;
	rq_buf_init(&s->tmp);
	s->path = path;
	s->live = false;
	rq_buf_printf(&s->tmp, "%s.new.%ld", path, (long)getpid());
	if (!(err = rq_file_write_atomic(s->tmp.ptr, data, len, 0644))) {
		s->live = true;
		return 0;
	}
	/* Name the file asked for, not its temporary name. */
	const char *m = rq_error_last();
	if (strncmp(m, s->tmp.ptr, s->tmp.len) == 0) {
		char *rest = rq_xstrdup(m + s->tmp.len);
		rq_error_set(err, "%s%s", path, rest);
		free(rest);
	}
	return err;
}

static int commit(struct staged *s)
{
	if (rename(s->tmp.ptr, s->path) < 0)
		return rq_error_set(RQ_EIO, "%s: %s", s->path, strerror(errno));
	s->live = false;
	return 0;
}

static void discard(struct staged *s) /* accepts one never staged */
{
	if (s->live)
		unlink(s->tmp.ptr);
	s->live = false;
	rq_buf_release(&s->tmp);
}

/* OUT (the partial) and, when asked, the assignment: both or neither. */
static int write_step(const char *out, const rq_partial *p, const char *assignment,
		      const int32_t *asg)
{
	struct staged a = { RQ_BUF_INIT, NULL, false }, o = { RQ_BUF_INIT, NULL, false };
	rq_buf bo = RQ_BUF_INIT, ba = RQ_BUF_INIT;
	int err;

	rq_partial_encode(&bo, p);
	if (assignment)
		npy_i32(&ba, asg, (size_t)p->n);
	if (!(err = stage(&o, out, bo.ptr, bo.len)) &&
	    !(err = assignment ? stage(&a, assignment, ba.ptr, ba.len) : 0) &&
	    !(err = assignment ? commit(&a) : 0) && (err = commit(&o)) && assignment)
		unlink(assignment); /* OUT failed after the assignment went in */
	discard(&a);
	discard(&o);
	rq_buf_release(&bo);
	rq_buf_release(&ba);
	return err;
}

/* The previous assignment: n cluster indices from an integer .npy. */
static int read_previous(int32_t **out, const char *path, size_t n, size_t k)
{
	rq_array *a = NULL;
	int64_t *v = NULL;
	int err;
	*out = NULL;
	if ((err = rq_array_open(&a, path, NULL)))
		goto done;
	if (rq_array_ndim(a) != 1 || rq_dtype_is_float(rq_array_dtype(a))) {
		err = rq_error_set(RQ_EINVALID, "%s: not an assignment (a 1-D integer .npy of cluster "
				   "indices, as --assignment writes): %s of %d dimension%s", path,
				   rq_dtype_name(rq_array_dtype(a)), rq_array_ndim(a),
				   rq_array_ndim(a) == 1 ? "" : "s");
		goto done;
	}
	if ((err = rq_labels_read_all(&v, a)))
		goto done;
	if (rq_array_rows(a) != n) {
		err = rq_error_set(RQ_EINVALID, "%s: an assignment of %zu rows for a shard of %zu rows",
				   path, rq_array_rows(a), n);
		goto done;
	}
	*out = rq_xmallocarray(n ? n : 1, sizeof(int32_t));
	for (size_t i = 0; i < n && !err; i++) {
		if (v[i] < 0 || (uint64_t)v[i] >= k)
			err = rq_error_set(RQ_EINVALID, "%s: cluster %" PRId64 " at row %zu is not one of "
					   "the state's %zu", path, v[i], i, k);
		(*out)[i] = (int32_t)v[i];
	}
	if (err) {
		free(*out);
		*out = NULL;
	}
done:
	free(v);
	rq_array_free(a);
	return err;
}

struct step_opts {
	const char *state, *emb, *lab, *tensor, *output, *previous, *assignment;
	bool final, json;
	long long threads;
};

static int step_run(const struct step_opts *o)
{
	uint8_t id[32];
	rq_partial *state = NULL, *p = NULL;
	rq_array *emb = NULL, *lab = NULL;
	int32_t *prev = NULL, *asg = NULL;
	char efp[RQ_FINGERPRINT_SIZE] = "", lfp[RQ_FINGERPRINT_SIZE] = "";
	int rc = EXIT_OK, err;

	if ((err = rq_partial_read(&state, id, o->state)) ||
	    (err = rq_array_open_pair(&emb, &lab, o->emb, o->lab, o->tensor)) ||
	    (o->previous &&
	     (err = read_previous(&prev, o->previous, rq_array_rows(emb), state->k))))
		goto done;
	/* The final step fingerprints the files it reads, as stats did. */
	if (o->final && ((err = fingerprint_of(efp, o->emb)) || (err = fingerprint_of(lfp, o->lab))))
		goto done;
	asg = rq_xmallocarray(rq_array_rows(emb) ? rq_array_rows(emb) : 1, sizeof(int32_t));
	if ((err = rq_shard_step(&p, state, id, o->state, emb, lab, prev, asg, o->final, efp, lfp,
				 (size_t)o->threads)) ||
	    (err = write_step(o->output, p, o->assignment, asg)))
		goto done;
	rc = print_partial(o->json, o->output, p);
done:
	if (err)
		rc = cmd_fail_code(err);
	rq_partial_free(state);
	rq_partial_free(p);
	rq_array_free(emb);
	rq_array_free(lab);
	free(prev);
	free(asg);
	return rc;
}

static int shard_step(int argc, char **argv)
{
	struct step_opts o = { 0 };
	const struct opt opts[] = {
		{ OPT_STRING, 0, "state", &o.state, "STATE", "the driver's state (required)", OPT_REQUIRED },
		{ OPT_STRING, 'e', "embeddings", &o.emb, "EMB", "the shard's embeddings (required)", OPT_REQUIRED },
		{ OPT_STRING, 'l', "labels", &o.lab, "LAB", "its labels (required)", OPT_REQUIRED },
		{ OPT_STRING, 0, "tensor", &o.tensor, "NAME", "the embeddings tensor of a safetensors file" },
		{ OPT_STRING, 'o', "output", &o.output, "OUT", "the step partial to write (required)", OPT_REQUIRED },
		{ OPT_BOOL, 0, "final", &o.final, NULL, "write the contingency table (a done state)" },
		{ OPT_STRING, 0, "previous", &o.previous, "PREV", "the shard's previous assignment (int32 .npy)" },
		{ OPT_STRING, 0, "assignment", &o.assignment, "FILE", "write this step's assignment (int32 .npy)" },
		{ OPT_INT, 0, "threads", &o.threads, "N", "threads (default: OpenBLAS's count)" },
		{ OPT_BOOL, 0, "json", &o.json, NULL, "describe the written partial as JSON" },
		{ OPT_END },
	};
	OPT_PARSE(&step_help, opts, argc, argv);
	if (o.threads < 0 || o.threads > 256)
		return cmd_usage(&step_help, opts, "--threads must be between 0 and 256");
	return step_run(&o);
}

/* ---- merge ---- */

static const struct cmd_help merge_help = {
	"shard merge", "add partials of the same kind (reduce, as a tree if wanted)",
	"Adds the partials IN (stats + stats: labels united, column sums\n"
	"re-based to the first one's origin; step + step or final + final: the\n"
	"same state required) and writes the sum to OUT atomically. Their shard\n"
	"lists are concatenated in argument order.",
};

static int shard_merge(int argc, char **argv)
{
	const char *output = NULL;
	bool json = false;
	struct opt_list files = { NULL, 0 };
	const struct opt opts[] = {
		{ OPT_STRING, 'o', "output", &output, "OUT", "the merged partial to write (required)", OPT_REQUIRED },
		{ OPT_BOOL, 0, "json", &json, NULL, "describe the written partial as JSON" },
		{ OPT_ARGS, 0, "IN", &files, NULL, "the partials, in shard order", OPT_REQUIRED },
		{ OPT_END },
	};
	rq_partial **v = NULL;
	int rc, err;

	OPT_PARSE(&merge_help, opts, argc, argv);
	if (!(rc = read_partials(&v, &files)) && !(rc = merge_into_first(v, &files))) {
		if ((err = rq_partial_write(output, v[0])))
			rc = cmd_fail_code(err);
		else
			rc = print_partial(json, output, v[0]);
	}
	free_partials(v, files.n);
	opt_list_release(&files);
	return rc;
}

/* ---- init ---- */

static const struct cmd_help init_help = {
	"shard init", "the k-means state of iteration 0 from the shards' stats (reduce)",
	"Merges the stats partials (argument order = shard order) and writes\n"
	"the state: shift = the column means in float32, tol = T (default 1e-4)\n"
	"× the mean column variance, the centres = the class centroids in\n"
	"ascending label order, exactly as `resque measure task` seeds them.\n"
	"The same shard may be given more than once (it counts each time, as\n"
	"its rows would in the concatenation); more than 3037000499 rows in all\n"
	"are refused.\n"
	"k-means++ is not offered on shards (its seeding is sequential).",
};

static int print_state(bool json, const char *path, const rq_partial *s)
{
	if (json) {
		json_t *j = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:f,s:I,s:b}", "path", path, "kind",
				      "state", "shards", (json_int_t)s->nshards, "rows", (json_int_t)s->n,
				      "dim", (json_int_t)s->d, "k", (json_int_t)s->k, "iteration",
				      (json_int_t)s->iteration, "tol", s->tol, "max_iter",
				      (json_int_t)s->max_iter, "done", s->done);
		int rc = cmd_print_json(j);
		json_decref(j);
		return rc;
	}
	printf("%s: state of %zu shard%s, %" PRIu64 " rows, k %zu, dimension %zu, tol %.6g, "
	       "iteration %" PRIu64 " of at most %" PRIu64 "\n", path, s->nshards,
	       s->nshards == 1 ? "" : "s", s->n, s->k, s->d, s->tol, s->iteration, s->max_iter);
	return EXIT_OK;
}

/* init's inputs: stats partials of at most RQ_SHARD_MAX_ROWS rows in all
 * (the file that passes it named). */
static int init_check(rq_partial **v, const struct opt_list *files)
{
	uint64_t total = 0;
	for (size_t i = 0; i < files->n; i++) {
		if (v[i]->kind != RQ_PARTIAL_STATS)
			return cmd_error("%s: a %s partial, not a stats partial", files->v[i],
					 rq_partial_kind_name(v[i]->kind));
		total += v[i]->n; /* each n <= INT64_MAX and the sum stops early */
		if (total > RQ_SHARD_MAX_ROWS)
			return cmd_error("%s: the stats reach %" PRIu64 " rows here, more than the %u "
					 "that RESQUE_task's exact ARI takes", files->v[i], total,
					 RQ_SHARD_MAX_ROWS);
	}
	return EXIT_OK;
}

/* "F" or "the stats F1, F2 and F3" (the first few named) for messages. */
static void names_of(rq_buf *out, const struct opt_list *files)
{
	if (files->n == 1) {
		rq_buf_puts(out, files->v[0]);
		return;
	}
	rq_buf_puts(out, "the stats ");
	for (size_t i = 0; i < files->n && i < 4; i++)
		rq_buf_printf(out, "%s%s", i == 0 ? "" : i + 1 == files->n ? " and " : ", ", files->v[i]);
	if (files->n > 4)
		rq_buf_printf(out, " and %zu more", files->n - 4);
}

static int shard_init(int argc, char **argv)
{
	const char *output = NULL;
	long long max_iter = 300;
	double tol = 1e-4;
	bool json = false;
	struct opt_list files = { NULL, 0 };
	const struct opt opts[] = {
		{ OPT_STRING, 'o', "output", &output, "STATE", "the state to write (required)", OPT_REQUIRED },
		{ OPT_INT, 0, "max-iter", &max_iter, "N", "most Lloyd iterations (default 300)" },
		{ OPT_DOUBLE, 0, "tol", &tol, "T", "relative tolerance (default 1e-4)" },
		{ OPT_BOOL, 0, "json", &json, NULL, "describe the written state as JSON" },
		{ OPT_ARGS, 0, "STATS", &files, NULL, "the shards' stats partials, in shard order", OPT_REQUIRED },
		{ OPT_END },
	};
	rq_partial **v = NULL, *state = NULL;
	rq_buf names = RQ_BUF_INIT;
	int rc, err;

	OPT_PARSE(&init_help, opts, argc, argv);
	if (max_iter < 1 || max_iter > 1000000000)
		rc = cmd_usage(&init_help, opts, "--max-iter must be between 1 and 1000000000");
	else if (!isfinite(tol) || tol <= 0)
		rc = cmd_usage(&init_help, opts, "--tol must be a positive number");
	else if (!(rc = read_partials(&v, &files)))
		rc = init_check(v, &files);
	if (!rc && !(rc = merge_into_first(v, &files))) {
		names_of(&names, &files);
		if ((err = rq_shard_init(&state, v[0], (size_t)max_iter, tol, names.ptr)) ||
		    (err = rq_partial_write(output, state)))
			rc = cmd_fail_code(err);
		else
			rc = print_state(json, output, state);
	}
	rq_buf_release(&names);
	rq_partial_free(state);
	free_partials(v, files.n);
	opt_list_release(&files);
	return rc;
}

/* ---- update ---- */

static const struct cmd_help update_help = {
	"shard update", "the next k-means state from every shard's step (reduce)",
	"Checks that the steps were computed against STATE and that their shards\n"
	"(identity, rows and content checksum) are the state's, each as often as\n"
	"the state holds it, so one shard's step given in place of another's of\n"
	"the same identity is refused; sums them and runs the single-machine update: new centres\n"
	"(float)(sum/count), an empty cluster keeps its centre; done when no row\n"
	"changed (when known), when the squared shift is <= tol, or at max_iter.\n"
	"Steps that count no changed row while the centres moved are refused (a\n"
	"--previous that was not the shard's previous assignment). Prints its\n"
	"line, then writes the new state atomically to OUT (default: over STATE);\n"
	"on any error, a failed print included, nothing is written. A done state\n"
	"is refused.\n"
	"--json prints {\"iteration\": I, \"shift\": S, \"tol\": T, \"changed\": C|null,\n"
	"\"done\": true|false}.",
};

/* Read the state and the partials of kind `want` and check them: 0 or
 * the exit status. */
static int load_checked(rq_partial **state, uint8_t id[32], rq_partial ***parts, const char *state_path,
			const struct opt_list *files, rq_partial_kind want)
{
	int rc, err;
	*parts = NULL;
	if ((err = rq_partial_read(state, id, state_path)))
		return cmd_fail_code(err);
	if ((*state)->kind != RQ_PARTIAL_STATE)
		return cmd_error("%s: a %s partial, not a state", state_path,
				 rq_partial_kind_name((*state)->kind));
	if (want == RQ_PARTIAL_STEP && (*state)->done) /* refused before looking at the steps */
		return cmd_fail_code(rq_shard_update(*state, NULL, state_path));
	if ((rc = read_partials(parts, files)))
		return rc;
	if ((err = rq_shard_check(*state, id, state_path, *parts, files->v, files->n, want)))
		return cmd_fail_code(err);
	return merge_into_first(*parts, files);
}

static int print_update(bool json, const rq_partial *state)
{
	bool known = state->last_changed != RQ_PARTIAL_CHANGED_UNKNOWN;
	if (json) {
		json_t *j = json_pack("{s:I,s:f,s:f,s:o,s:b}", "iteration", (json_int_t)state->iteration,
				      "shift", state->last_shift, "tol", state->tol, "changed",
				      known ? json_integer((json_int_t)state->last_changed) : json_null(),
				      "done", state->done);
		int rc = cmd_print_json(j);
		json_decref(j);
		return rc;
	}
	printf("iteration %" PRIu64 ": shift %.6g, tol %.6g, changed ", state->iteration,
	       state->last_shift, state->tol);
	if (known)
		printf("%" PRIu64, state->last_changed);
	else
		printf("unknown");
	printf(", %s\n", state->done ? "done" : "not done");
	return EXIT_OK;
}

static int shard_update(int argc, char **argv)
{
	const char *state_path = NULL, *output = NULL;
	bool json = false;
	struct opt_list files = { NULL, 0 };
	const struct opt opts[] = {
		{ OPT_STRING, 0, "state", &state_path, "STATE", "the current state (required)", OPT_REQUIRED },
		{ OPT_STRING, 'o', "output", &output, "NEW", "where to write the new state (default: STATE)" },
		{ OPT_BOOL, 0, "json", &json, NULL, "print one JSON document" },
		{ OPT_ARGS, 0, "STEP", &files, NULL, "the step partials of every shard", OPT_REQUIRED },
		{ OPT_END },
	};
	uint8_t id[32];
	rq_partial *state = NULL, **v = NULL;
	int rc, err;

	OPT_PARSE(&update_help, opts, argc, argv);
	if ((rc = load_checked(&state, id, &v, state_path, &files, RQ_PARTIAL_STEP)))
		goto done;
	if ((err = rq_shard_update(state, v[0], state_path))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	/* Printed first: a failed print leaves the state as it was. */
	if ((rc = print_update(json, state)))
		goto done;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		rc = cmd_error("write error on standard output: %s; %s not written", strerror(errno),
			       output ? output : state_path);
		goto done;
	}
	if ((err = rq_partial_write(output ? output : state_path, state)))
		rc = cmd_fail_code(err);
done:
	rq_partial_free(state);
	free_partials(v, files.n);
	opt_list_release(&files);
	return rc;
}

/* ---- result ---- */

static const struct cmd_help result_help = {
	"shard result", "RESQUE_task from a done state and every shard's final step",
	"Checks the final partials against STATE (done) as update does, and their\n"
	"shards' content too: (identity, rows, checksum, embeddings and labels\n"
	"fingerprints) must be the state's, each as often as the state holds it,\n"
	"so a shard whose files changed since `resque shard stats`, or one\n"
	"shard's final step given in place of another's of the same identity, is\n"
	"refused. Adds their contingency tables, whose per-class totals must be\n"
	"the stats' class counts (kept in the state), and prints what `resque measure task` prints,\n"
	"the ARI computed by the same integer arithmetic. --json adds\n"
	"\"shards\": {\"count\": C, \"rows\": N, \"fingerprint\": F, \"list\":\n"
	"[{\"embeddings\": FP, \"labels\": FP, \"rows\": n}...]}, F being the\n"
	"fingerprint of the lines \"EMBFP LABFP ROWS\\n\" in shard order, and\n"
	"\"max_iter\" and \"tol\" when init was given other values than 300 and\n"
	"1e-4 (the text output says so on a last line).",
};

static json_t *shards_json(const rq_partial *s)
{
	char fp[RQ_FINGERPRINT_SIZE], e[RQ_FINGERPRINT_SIZE], l[RQ_FINGERPRINT_SIZE];
	json_t *list = json_array();
	for (size_t i = 0; i < s->nshards; i++) {
		rq_fingerprint_format(e, s->shards[i].embeddings);
		rq_fingerprint_format(l, s->shards[i].labels);
		json_array_append_new(list, json_pack("{s:s,s:s,s:I}", "embeddings", e, "labels", l,
						      "rows", (json_int_t)s->shards[i].rows));
	}
	rq_shard_list_fingerprint(fp, s);
	return json_pack("{s:I,s:I,s:s,s:o}", "count", (json_int_t)s->nshards, "rows",
			 (json_int_t)s->n, "fingerprint", fp, "list", list);
}

static int shard_result(int argc, char **argv)
{
	const char *state_path = NULL;
	bool json = false;
	struct opt_list files = { NULL, 0 };
	const struct opt opts[] = {
		{ OPT_STRING, 0, "state", &state_path, "STATE", "the done state (required)", OPT_REQUIRED },
		{ OPT_BOOL, 0, "json", &json, NULL, "print one JSON document" },
		{ OPT_ARGS, 0, "FINAL", &files, NULL, "the final partials of every shard", OPT_REQUIRED },
		{ OPT_END },
	};
	uint8_t id[32];
	rq_partial *state = NULL, **v = NULL;
	rq_buf names = RQ_BUF_INIT;
	double ari = 0;
	int rc, err;

	OPT_PARSE(&result_help, opts, argc, argv);
	if ((rc = load_checked(&state, id, &v, state_path, &files, RQ_PARTIAL_FINAL)))
		goto done;
	for (size_t i = 0; i < files.n; i++)
		rq_buf_printf(&names, "%s%s", i ? ", " : "", files.v[i]);
	if ((err = rq_shard_ari(&ari, state, v[0], state_path, names.ptr))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if (json) {
		json_t *j = json_pack("{s:s,s:f,s:f,s:I,s:I,s:I,s:s,s:o}", "kind", "task", "value",
				      1.0 - ari, "ari", ari, "iterations", (json_int_t)state->iteration,
				      "k", (json_int_t)state->k, "n", (json_int_t)state->n, "init",
				      "centroids", "shards", shards_json(state));
		if (state->max_iter != 300)
			json_object_set_new(j, "max_iter", json_integer((json_int_t)state->max_iter));
		if (state->rel_tol != 1e-4)
			json_object_set_new(j, "tol", json_real(state->rel_tol));
		rc = cmd_print_json(j);
		json_decref(j);
	} else {
		printf("RESQUE_task %.9f\nari %.12f\niterations %" PRIu64 "\nclasses %zu, rows %" PRIu64
		       ", init centroids\n", 1.0 - ari, ari, state->iteration, state->k, state->n);
		if (state->max_iter != 300 || state->rel_tol != 1e-4)
			printf("max_iter %" PRIu64 ", tol %.6g (not the defaults 300, 1e-4)\n",
			       state->max_iter, state->rel_tol);
	}
done:
	rq_buf_release(&names);
	rq_partial_free(state);
	free_partials(v, files.n);
	opt_list_release(&files);
	return rc;
}

int cmd_shard(int argc, char **argv)
{
	static const struct subcmd subs[] = {
		{ "stats", shard_stats, "the column and class statistics of one shard (map)" },
		{ "step", shard_step, "one Lloyd step of one shard against a state (map)" },
		{ "merge", shard_merge, "add partials of the same kind (reduce)" },
		{ "init", shard_init, "the k-means state of iteration 0 from the stats (reduce)" },
		{ "update", shard_update, "the next state from every shard's step (reduce)" },
		{ "result", shard_result, "RESQUE_task from a done state and the final steps" },
		{ NULL, NULL, NULL },
	};
	return cmd_dispatch_sub("shard", subs, argc, argv);
}
