/* libFuzzer target: ledger entry bytes and signature files, as read from a
 * ledger someone else may have written. */
#include "common.h"
#include "entry_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rq_entry *e = NULL;
	if (rq_entry_parse(&e, data, size) == 0) {
		rq_buf s = RQ_BUF_INIT;
		rq_entry_summary(&s, e);
		/* a parsed entry is canonical: its bytes are the input */
		if (e->bytes.len != size || memcmp(e->bytes.ptr, data, size) != 0)
			abort();
		rq_buf_release(&s);
		rq_entry_free(e);
	}
	char kid[RQ_KEY_ID_HEX + 1];
	uint8_t sig[64];
	rq_entry_sig_parse(kid, sig, (const char *)data, size);
	return 0;
}
