/* libFuzzer target: CodeCarbon emissions.csv files, all runs and one
 * selected run, plus their JSON form. */
#include "common.h"
#include "import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rq_cc_import r;
	for (int sel = 0; sel < 2; sel++) {
		if (rq_import_codecarbon(&r, (const char *)data, size, "fuzz.csv", sel ? "a" : NULL) < 0)
			continue;
		if (r.n == 0)
			abort();
		for (size_t i = 0; i < r.n; i++) {
			if (!(r.runs[i].energy_kwh >= 0) || !(r.runs[i].duration_s >= 0))
				abort();
			json_decref(rq_cc_run_json(&r.runs[i]));
		}
		rq_cc_import_release(&r);
	}
	return 0;
}
