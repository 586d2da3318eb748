/* libFuzzer target: cost files given to `resque commit --cost`. */
#include "common.h"
#include "cost.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rq_cost c;
	if (rq_cost_parse(&c, (const char *)data, size, "fuzz.json") == 0) {
		/* what was accepted is finite and non-negative */
		if (!(c.epochs >= 0) || !(c.energy_kwh >= 0) || !(c.duration_s >= 0) || !c.method)
			abort();
		json_t *j = rq_cost_to_json(&c);
		json_decref(j);
		rq_cost_release(&c);
	}
	return 0;
}
