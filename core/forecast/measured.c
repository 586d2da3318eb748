/* An index measured elsewhere: the JSON files `resque plan --task-from` and
 * `--shards` read (measured.h). */
#include "common.h"
#include "json.h"
#include "measured.h"
#include "resque/fingerprint.h"

#include <math.h>

/* The key before the first bare NaN or Infinity of JSON text: JSON has
 * neither, Python's json module writes both. False when there is none. */
static bool nonfinite_key(char key[64], const char *s, size_t len)
{
	size_t start = 0, end = 0, kstart = 0, kend = 0;
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		if (in_str) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				in_str = false, end = i;
		} else if (s[i] == '"') {
			in_str = true;
			start = i + 1;
		} else if (s[i] == ':') {
			kstart = start;
			kend = end;
		} else if ((len - i >= 3 && memcmp(s + i, "NaN", 3) == 0) ||
			   (len - i >= 8 && memcmp(s + i, "Infinity", 8) == 0)) {
			snprintf(key, 64, "%.*s", (int)(kend > kstart && kend - kstart < 60 ? kend - kstart : 0),
				 s + kstart);
			return true;
		}
	}
	return false;
}

/* The JSON object of `data`, a new reference. */
static int parse_object(json_t **out, const char *data, size_t len, const char *name)
{
	char key[64];
	int err;

	if ((err = rq_json_parse(out, data, len, name))) {
		if (nonfinite_key(key, data, len))
			err = rq_error_set(RQ_EINVALID, "%s: '%s' is not a finite number (JSON has no NaN or Infinity)",
					   name, key);
		return err;
	}
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return rq_error_set(RQ_EINVALID, "%s: not a JSON object", name);
	}
	return 0;
}

/* Field `key` of `obj` (named `what` in messages) as a whole number >= 1. */
static int count_field(int64_t *out, const json_t *obj, const char *key, const char *name, const char *what)
{
	const json_t *v = json_object_get(obj, key);

	if (!v)
		return rq_error_set(RQ_EINVALID, "%s: '%s' is missing", name, what);
	if (!json_is_integer(v))
		return rq_error_set(RQ_EINVALID, "%s: '%s' must be a whole number", name, what);
	if (json_integer_value(v) < 1)
		return rq_error_set(RQ_EINVALID, "%s: '%s' is %" JSON_INTEGER_FORMAT ", it must be at least 1", name,
				    what, json_integer_value(v));
	*out = (int64_t)json_integer_value(v);
	return 0;
}

/* A "shards" object's optional "list": each element {"embeddings",
 * "labels", "rows"}, `count` of them, rows adding to `rows`, and the lines
 * "EMBFP LABFP ROWS\n" hashing to `fp` (rq_shard_list_fingerprint's). */
static int shard_list(const json_t *list, const char *name, int64_t count, int64_t rows, const char *fp)
{
	char got[RQ_FINGERPRINT_SIZE];
	rq_buf lines = RQ_BUF_INIT;
	uint8_t hash[RQ_HASH_LEN];
	int64_t sum = 0, r;
	size_t i;
	int err = 0;

	if (!json_is_array(list))
		return rq_error_set(RQ_EINVALID, "%s: 'shards.list' must be an array", name);
	if ((int64_t)json_array_size(list) != count)
		return rq_error_set(RQ_EINVALID, "%s: 'shards.list' has %zu shards, 'shards.count' says %" PRId64, name,
				    json_array_size(list), count);
	for (i = 0; i < json_array_size(list) && !err; i++) {
		const json_t *e = json_array_get(list, i);
		const char *ef = rq_json_str(e, "embeddings", NULL), *lf = rq_json_str(e, "labels", NULL);
		if (!json_is_object(e) || !ef || !lf || rq_fingerprint_parse(hash, ef) || rq_fingerprint_parse(hash, lf)) {
			rq_error_clear();
			err = rq_error_set(RQ_EINVALID, "%s: 'shards.list[%zu]' must have fingerprints \"embeddings\" and \"labels\"",
					   name, i);
		} else if (!(err = count_field(&r, e, "rows", name, "shards.list[].rows"))) {
			if (r > rows - sum)
				err = rq_error_set(RQ_EINVALID, "%s: the rows of 'shards.list' add up to more than "
						   "'shards.rows' %" PRId64, name, rows);
			else
				sum += r;
			rq_buf_printf(&lines, "%s %s %" PRId64 "\n", ef, lf, r);
		}
	}
	if (!err && sum != rows)
		err = rq_error_set(RQ_EINVALID, "%s: the rows of 'shards.list' add up to %" PRId64 ", not 'shards.rows' %" PRId64,
				   name, sum, rows);
	if (!err) {
		rq_fingerprint_bytes(got, lines.ptr ? lines.ptr : "", lines.len);
		if (strcmp(got, fp) != 0)
			err = rq_error_set(RQ_EINVALID, "%s: 'shards.fingerprint' is not the fingerprint of 'shards.list' (%s)",
					   name, got);
	}
	rq_buf_release(&lines);
	return err;
}

/* The "shards" object of `j`, checked, as a plan records it. */
static int shards_of(json_t **out, const json_t *j, const char *name, int64_t n, const char *n_what)
{
	const json_t *s = json_object_get(j, "shards");
	const char *fp = rq_json_str(s, "fingerprint", NULL);
	uint8_t hash[RQ_HASH_LEN];
	int64_t count, rows;
	int err;

	*out = NULL;
	if (!json_is_object(s))
		return rq_error_set(RQ_EINVALID, "%s: 'shards' %s", name,
				    s ? "must be an object {\"count\", \"rows\", \"fingerprint\"}" : "is missing");
	if ((err = count_field(&count, s, "count", name, "shards.count")) ||
	    (err = count_field(&rows, s, "rows", name, "shards.rows")))
		return err;
	if (!fp || rq_fingerprint_parse(hash, fp)) {
		rq_error_clear();
		return rq_error_set(RQ_EINVALID, "%s: 'shards.fingerprint' must be a fingerprint, \"b2:\" and 64 hex digits",
				    name);
	}
	if (rows != n)
		return rq_error_set(RQ_EINVALID, "%s: 'shards.rows' is %" PRId64 ", not the %" PRId64 " rows of %s", name,
				    rows, n, n_what);
	if (count > rows)
		return rq_error_set(RQ_EINVALID, "%s: 'shards.count' is %" PRId64 ", more shards than rows (%" PRId64 ")",
				    name, count, rows);
	if (json_object_get(s, "list") && (err = shard_list(json_object_get(s, "list"), name, count, rows, fp)))
		return err;
	*out = json_pack("{s:I, s:I, s:s}", "count", (json_int_t)count, "rows", (json_int_t)rows, "fingerprint", fp);
	return 0;
}

/* An "ari" must be the one the value came from, and a task computed with
 * another iteration limit or tolerance than RESQUE_task's (300, 1e-4; a
 * `resque shard init --max-iter/--tol` says so in its result) is not
 * RESQUE_task. */
static int task_consistent(const rq_measured_task *t, const json_t *j, const char *name)
{
	const json_t *ari = json_object_get(j, "ari"), *mi = json_object_get(j, "max_iter"),
		     *tol = json_object_get(j, "tol");

	if (ari && (!json_is_number(ari) || !(fabs(1.0 - json_number_value(ari) - t->value) <= 1e-9)))
		return rq_error_set(RQ_EINVALID, "%s: 'ari' is not 1 - 'value' (RESQUE_task = 1 - ARI)", name);
	if (mi && !(json_is_integer(mi) && json_integer_value(mi) == 300))
		return rq_error_set(RQ_EINVALID,
				    "%s: 'max_iter' is not 300: computed with another iteration limit, it is not RESQUE_task", name);
	if (tol && !(json_is_number(tol) && json_number_value(tol) == 1e-4))
		return rq_error_set(RQ_EINVALID,
				    "%s: 'tol' is not 1e-4: computed with another tolerance, it is not RESQUE_task", name);
	return 0;
}

/* The checks of a task measure's own fields. */
static int task_fields(rq_measured_task *t, const json_t *j, const char *name)
{
	const json_t *kind = json_object_get(j, "kind"), *v = json_object_get(j, "value");
	int err;

	if (!json_is_string(kind) || strcmp(json_string_value(kind), "task") != 0)
		return rq_error_set(RQ_EINVALID,
				    "%s: 'kind' is %s%s%s, not \"task\" (--task-from reads what 'resque measure task "
				    "--json' or 'resque shard result --json' prints)", name, json_is_string(kind) ? "\"" : "",
				    json_is_string(kind) ? json_string_value(kind) : kind ? "not a string" : "missing",
				    json_is_string(kind) ? "\"" : "");
	if (!v)
		return rq_error_set(RQ_EINVALID, "%s: 'value' is missing", name);
	if (!json_is_number(v))
		return rq_error_set(RQ_EINVALID, "%s: 'value' must be a number", name);
	t->value = json_number_value(v);
	if (!(t->value >= 0 && t->value <= 2))
		return rq_error_set(RQ_EINVALID, "%s: 'value' is %g, outside RESQUE_task's range [0, 2]", name, t->value);
	if ((err = count_field(&t->n, j, "n", name, "n")) || (err = count_field(&t->k, j, "k", name, "k")) ||
	    (err = count_field(&t->iterations, j, "iterations", name, "iterations")))
		return err;
	if ((err = task_consistent(t, j, name)))
		return err;
	if (t->k > t->n)
		return rq_error_set(RQ_EINVALID, "%s: 'k' is %" PRId64 ", more classes than rows ('n' %" PRId64 ")", name,
				    t->k, t->n);
	return 0;
}

int rq_measured_task_parse(rq_measured_task *out, const char *data, size_t len, const char *name)
{
	json_t *j = NULL;
	int err;

	memset(out, 0, sizeof(*out));
	if (!(err = parse_object(&j, data, len, name)) && !(err = task_fields(out, j, name)) &&
	    json_object_get(j, "shards"))
		err = shards_of(&out->shards, j, name, out->n, "its 'n'");
	json_decref(j);
	if (err)
		rq_measured_task_release(out);
	return err;
}

void rq_measured_task_release(rq_measured_task *t)
{
	json_decref(t->shards);
	t->shards = NULL;
}

int rq_measured_shards_parse(json_t **out, const char *data, size_t len, const char *name, int64_t rows,
			     const char *rows_what)
{
	json_t *j = NULL;
	int err;

	*out = NULL;
	if (!(err = parse_object(&j, data, len, name)))
		err = shards_of(out, j, name, rows, rows_what);
	json_decref(j);
	return err;
}
