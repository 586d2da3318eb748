/* libFuzzer target: CodeCarbon emissions.csv files, all runs and one
 * selected run (by id, and by line), plus their JSON form; the invariants of the import:
 * figures never negative, ids that are no id ("None") never kept, a grid
 * region for every run. */
#include "common.h"
#include "import.h"

#include <math.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_run(const rq_cc_run *r)
{
	if (!(r->energy_kwh >= 0) || !(r->duration_s >= 0) || !(r->emissions_kg >= 0))
		abort();
	/* summed segments stay in the plausible ranges too */
	if (r->energy_kwh > 1e9 || r->duration_s > 1e9 || r->emissions_kg > 1e9 || r->cpu_kwh > 1e9)
		abort();
	if (r->cpu_kwh < 0 || r->gpu_kwh < 0 || r->ram_kwh < 0) /* NaN (dropped) compares false */
		abort();
	if (!strcasecmp(r->run_id, "None") || !strcasecmp(r->run_id, "nan"))
		abort();
	if (!r->region_code || r->nsegments < 1 || (r->region_code[0] && !r->country_iso_code[0]))
		abort();
	json_decref(rq_cc_run_json(r));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rq_cc_import r;
	for (int sel = 0; sel < 3; sel++) {
		if (rq_import_codecarbon_run(&r, (const char *)data, size, "fuzz.csv", sel == 1 ? "a" : NULL,
					     sel == 2 ? 2 : 0) < 0)
			continue;
		if (sel == 2 && (r.n != 1 || r.runs[0].line != 2))
			abort();
		if (r.n == 0)
			abort();
		for (size_t i = 0; i < r.n; i++)
			check_run(&r.runs[i]);
		rq_cc_import_release(&r);
	}
	return 0;
}
