/* libFuzzer target: dataset manifests, as read back from a ledger someone
 * else may have written. A parsed manifest must re-encode to the input. */
#include "common.h"
#include "resque/fingerprint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rq_manifest m;
	rq_manifest_init(&m);
	if (rq_manifest_parse(&m, data, size, "fuzz") == 0) {
		rq_buf enc = RQ_BUF_INIT;
		rq_manifest_encode(&enc, &m);
		if (enc.len != size || memcmp(enc.ptr, data, size) != 0)
			abort(); /* only the canonical spelling is accepted */
		rq_manifest_change *ch = NULL;
		size_t n = 1;
		rq_manifest_diff(&ch, &n, &m, &m);
		if (n != 0)
			abort();
		free(ch);
		rq_buf_release(&enc);
	}
	rq_manifest_release(&m);
	return 0;
}
