/* libFuzzer target: the bytes of a loose git object file (zlib stream of
 * "TYPE SIZE\0" and the body), as store/object.c reads them from a
 * repository someone else may have corrupted. It must always end, never
 * read out of bounds, and accept only what zlib, the header and the hash
 * agree on. */
#include "common.h"
#include "object_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rq_buf body = RQ_BUF_INIT;
	git_object_t type;
	git_oid id;

	/* Without an id: the framing checks alone. */
	if (rq_object_parse_loose(&body, &type, data, size, NULL) == 0) {
		/* a parsed object hashes to some id, and parses again under it */
		if (git_odb_hash(&id, body.ptr, body.len, type) != 0)
			abort();
		rq_buf_reset(&body);
		if (rq_object_parse_loose(&body, &type, data, size, &id) != 0)
			abort();
	} else if (body.len != 0) {
		abort(); /* a refused object leaves nothing behind */
	}
	rq_error_clear();
	rq_buf_release(&body);
	return 0;
}
