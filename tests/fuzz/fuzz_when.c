/* libFuzzer target: the grid-intensity forecast CSV of `plan --when`
 * (parse, then search the best start for a few durations). */
#include "common.h"
#include "when.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rq_when_series s;
	rq_when_result r;
	double durations[] = { 1, 3600, 86400 * 3.5 };

	if (rq_when_parse(&s, (const char *)data, size, "fuzz.csv") != 0)
		return 0;
	for (size_t i = 0; i < RQ_ARRAY_SIZE(durations); i++)
		(void)rq_when_best(&r, &s, durations[i], INT64_MIN, 12.5, 1.1, "fuzz.csv");
	(void)rq_when_best(&r, &s, 60, s.t[s.n / 2], NAN, NAN, "fuzz.csv");
	rq_when_release(&s);
	return 0;
}
