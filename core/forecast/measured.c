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
	*out = json_pack("{s:I, s:I, s:s}", "count", (json_int_t)count, "rows", (json_int_t)rows, "fingerprint", fp);
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
