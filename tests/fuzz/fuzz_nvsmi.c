/* libFuzzer target: nvidia-smi CSV power logs. An input with a form feed
 * is two logs of one run (split there), parsed apart and combined. */
#include "common.h"
#include "import.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const rq_nvsmi_import *r)
{
	if (r->nrows == 0 || !(r->joules >= 0) || !(r->duration_s >= 0))
		abort();
	json_decref(rq_nvsmi_json(r));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *ff = memchr(s, '\f', size);
	rq_nvsmi_import r, parts[2], all;
	if (!ff) {
		if (rq_import_nvsmi(&r, s, size, "fuzz.csv") == 0) {
			check(&r);
			rq_nvsmi_import_release(&r);
		}
		return 0;
	}
	size_t n1 = (size_t)(ff - s);
	static const char *const names[] = { "a.csv", "b.csv" };
	if (rq_import_nvsmi(&parts[0], s, n1, names[0]) == 0) {
		if (rq_import_nvsmi_columns(&parts[1], ff + 1, size - n1 - 1, names[1], NULL, "timestamp") == 0) {
			if (rq_nvsmi_combine(&all, parts, names, 2) == 0) {
				check(&all);
				rq_nvsmi_import_release(&all);
			}
			if (rq_nvsmi_combine_nodes(&all, parts, names, 2, true) == 0) {
				check(&all);
				rq_nvsmi_import_release(&all);
			}
			rq_nvsmi_import_release(&parts[1]);
		}
		rq_nvsmi_import_release(&parts[0]);
	}
	return 0;
}
