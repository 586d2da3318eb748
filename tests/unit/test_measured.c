/* Unit tests of an index measured elsewhere (`plan --task-from`, `--shards`). */
#include "unit.h"
#include "measured.h"

#define FP "\"b2:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\""

TEST(measured_task_reads_measure_task_and_shard_result)
{
	rq_measured_task t;
	const char plain[] = "{\"kind\": \"task\", \"value\": 0.125, \"ari\": 0.875, \"iterations\": 4, \"k\": 3, "
			     "\"n\": 300, \"init\": \"centroids\"}";
	const char sharded[] = "{\"kind\": \"task\", \"value\": 1, \"iterations\": 2, \"k\": 2, \"n\": 5, \"shards\": "
			       "{\"count\": 2, \"rows\": 5, \"fingerprint\": " FP "}}";
	CHECK_OK(rq_measured_task_parse(&t, plain, sizeof(plain) - 1, "t.json"));
	CHECK_NEAR(t.value, 0.125, 0);
	CHECK_INT_EQ(t.n, 300);
	CHECK_INT_EQ(t.k, 3);
	CHECK_INT_EQ(t.iterations, 4);
	CHECK(t.shards == NULL);
	rq_measured_task_release(&t);
	CHECK_OK(rq_measured_task_parse(&t, sharded, sizeof(sharded) - 1, "s.json"));
	CHECK(t.shards != NULL);
	CHECK_INT_EQ(json_integer_value(json_object_get(t.shards, "count")), 2);
	CHECK_INT_EQ(json_integer_value(json_object_get(t.shards, "rows")), 5);
	CHECK(json_object_get(t.shards, "list") == NULL);
	CHECK_INT_EQ(json_object_size(t.shards), 3);
	rq_measured_task_release(&t);
}

TEST(measured_task_refuses_naming_the_file_and_the_field)
{
	rq_measured_task t;
	struct { const char *json, *msg; } bad[] = {
		{ "kind: task", "f.json: invalid JSON" },
		{ "[1]", "f.json: not a JSON object" },
		{ "{\"kind\": \"dist\", \"value\": 0.1}", "f.json: 'kind' is \"dist\", not \"task\"" },
		{ "{\"kind\": 3}", "'kind' is not a string" },
		{ "{\"kind\": \"task\", \"value\": NaN, \"n\": 1}", "f.json: 'value' is not a finite number" },
		{ "{\"kind\": \"task\", \"value\": -Infinity}", "'value' is not a finite number" },
		{ "{\"kind\": \"task\", \"value\": \"0.1\"}", "'value' must be a number" },
		{ "{\"kind\": \"task\", \"value\": 2.5}", "'value' is 2.5, outside" },
		{ "{\"kind\": \"task\", \"value\": 0.5, \"n\": 0, \"k\": 1, \"iterations\": 1}", "'n' is 0, it must be at least 1" },
		{ "{\"kind\": \"task\", \"value\": 0.5, \"n\": 3, \"k\": 4, \"iterations\": 1}", "'k' is 4, more classes than rows" },
		{ "{\"kind\": \"task\", \"value\": 0.5, \"n\": 3, \"k\": 1}", "'iterations' is missing" },
		{ "{\"kind\": \"task\", \"value\": 0.5, \"n\": 3, \"k\": 1, \"iterations\": 1, \"shards\": {\"count\": 1, "
		  "\"rows\": 4, \"fingerprint\": " FP "}}", "'shards.rows' is 4, not the 3 rows of its 'n'" },
		{ "{\"kind\": \"task\", \"value\": 0.5, \"n\": 3, \"k\": 1, \"iterations\": 1, \"shards\": {\"count\": 4, "
		  "\"rows\": 3, \"fingerprint\": " FP "}}", "'shards.count' is 4, more shards than rows" },
		{ "{\"kind\": \"task\", \"value\": 0.5, \"n\": 3, \"k\": 1, \"iterations\": 1, \"shards\": {\"count\": 1, "
		  "\"rows\": 3, \"fingerprint\": \"b2:00\"}}", "'shards.fingerprint' must be a fingerprint" },
		{ "{\"kind\": \"task\", \"value\": 0.5, \"n\": 3, \"k\": 1, \"iterations\": 1, \"shards\": 3}",
		  "'shards' must be an object" },
	};
	for (size_t i = 0; i < RQ_ARRAY_SIZE(bad); i++) {
		CHECK_ERR(rq_measured_task_parse(&t, bad[i].json, strlen(bad[i].json), "f.json"), RQ_EINVALID);
		CHECK_CONTAINS(rq_error_last(), bad[i].msg);
		CHECK(t.shards == NULL);
	}
}

TEST(measured_shards_checks_the_rows_of_the_summary)
{
	json_t *s = NULL;
	const char ok[] = "{\"path\": \"m.rqs\", \"shards\": {\"count\": 3, \"rows\": 300, \"fingerprint\": " FP "}}";
	CHECK_OK(rq_measured_shards_parse(&s, ok, sizeof(ok) - 1, "s.json", 300, "the --summary"));
	CHECK_INT_EQ(json_integer_value(json_object_get(s, "count")), 3);
	json_decref(s);
	CHECK_ERR(rq_measured_shards_parse(&s, ok, sizeof(ok) - 1, "s.json", 299, "the --summary"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "s.json: 'shards.rows' is 300, not the 299 rows of the --summary");
	CHECK(s == NULL);
	CHECK_ERR(rq_measured_shards_parse(&s, "{}", 2, "s.json", 1, "x"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "s.json: 'shards' is missing");
}
