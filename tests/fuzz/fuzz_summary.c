/* libFuzzer target: the .rqs summary parser (rq_summary_decode) must reject
 * or accept any bytes without crashing, and what it accepts must encode
 * back to the same bytes. The input is sealed with a valid checksum first,
 * so that mutations reach the checks behind it; half the time the raw
 * input is parsed as is, to exercise the checksum path too. */
#include "common.h"
#include "resque/measure.h"
#include "resque/summary.h"

#include <sodium.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size)
{
	rq_summary *s = NULL;
	if (rq_summary_decode(&s, data, size, "fuzz.rqs") == 0) {
		rq_buf b = RQ_BUF_INIT;
		rq_summary_encode(&b, s);
		if (b.len != size || memcmp(b.ptr, data, size) != 0)
			abort(); /* encode ∘ decode must be the identity */
		rq_dist d;
		if (rq_dist_compute(&d, s, s) == 0)
			rq_dist_release(&d);
		rq_buf_release(&b);
	}
	rq_summary_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size);
	if (size >= RQ_SUMMARY_HASH_LEN) {
		uint8_t *sealed = rq_xmalloc(size);
		memcpy(sealed, data, size);
		crypto_generichash(sealed + size - RQ_SUMMARY_HASH_LEN, RQ_SUMMARY_HASH_LEN, sealed,
				   size - RQ_SUMMARY_HASH_LEN, NULL, 0);
		check(sealed, size);
		free(sealed);
	}
	return 0;
}
