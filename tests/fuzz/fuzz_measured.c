/* libFuzzer target: the files `resque plan --task-from` and `--shards` read. */
#include "common.h"
#include "measured.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rq_measured_task t;
	json_t *s = NULL;

	if (rq_measured_task_parse(&t, (const char *)data, size, "fuzz.json") == 0) {
		/* what was accepted is in range, and its shards add up */
		if (!(t.value >= 0 && t.value <= 2) || t.n < 1 || t.k < 1 || t.k > t.n || t.iterations < 1)
			abort();
		if (t.shards && json_integer_value(json_object_get(t.shards, "rows")) != t.n)
			abort();
		rq_measured_task_release(&t);
	}
	if (rq_measured_shards_parse(&s, (const char *)data, size, "fuzz.json", 300, "the summary") == 0) {
		if (json_integer_value(json_object_get(s, "rows")) != 300)
			abort();
		json_decref(s);
	}
	return 0;
}
