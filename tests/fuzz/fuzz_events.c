/* libFuzzer target: RESQUE_EVENTS bytes written by any training script,
 * fed in two pieces, then split against a small timeline. */
#include "common.h"
#include "events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rq_events *e = NULL;
	rq_events_open(&e, NULL);
	size_t half = size / 2;
	rq_events_feed(e, (const char *)data, half, 1.0);
	rq_events_feed(e, (const char *)data + half, size - half, 2.0);
	rq_events_finish(e, 3.0);
	if (rq_events_status(e) > RQ_RUN_STATUS_FAILED || rq_events_target(e) > RQ_TARGET_MISSED)
		abort();
	rq_energy_point tl[] = { { 0, 0 }, { 1.5, 10 }, { 3, 30 } };
	double *j = NULL, tail, s;
	size_t n;
	rq_events_epoch_energy(&j, &n, &tail, e, tl, 3);
	for (size_t i = 0; i < n; i++)
		if (!(j[i] >= 0))
			abort();
	rq_epoch_energy_stable(&s, j, n);
	free(j);
	rq_events_free(e);
	return 0;
}
