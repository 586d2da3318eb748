/* libFuzzer target: nvidia-smi CSV power logs. */
#include "common.h"
#include "import.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rq_nvsmi_import r;
	if (rq_import_nvsmi(&r, (const char *)data, size, "fuzz.csv") == 0) {
		if (r.nrows == 0 || !(r.joules >= 0) || !(r.duration_s >= 0))
			abort();
		json_decref(rq_nvsmi_json(&r));
		rq_nvsmi_import_release(&r);
	}
	return 0;
}
