/* libFuzzer target: the .rqp partial parser (rq_partial_decode) must reject
 * or accept any bytes without crashing, and what it accepts must encode
 * back to the same bytes; accepted partials are then merged with
 * themselves, a stats partial seeds a state and a state checks the input
 * (once and twice) against its own shards as multisets, and a final one
 * against its class counts. The input is sealed with a valid checksum first,
 * so that mutations reach the checks behind it; the raw input is parsed
 * too, to exercise the checksum path. */
#include "common.h"
#include "resque/shard.h"

#include <sodium.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void use(rq_partial *p, const uint8_t *data, size_t size)
{
	rq_partial *q = NULL, *state = NULL;
	uint8_t id[32] = { 0 };

	if (rq_partial_decode(&q, data, size, "fuzz.rqp") == 0 && p->kind != RQ_PARTIAL_STATE)
		rq_partial_merge(p, q, "fuzz.rqp");
	if (p->kind == RQ_PARTIAL_STATS && p->k <= 64 && p->d <= 64 && rq_shard_init(&state, p, 3, 0, "fuzz.rqp") == 0)
		rq_partial_free(state);
	if (p->kind == RQ_PARTIAL_STATE) {
		const char *names[2] = { "fuzz.rqp", "again.rqp" };
		rq_partial *twice[2] = { q, q };
		rq_shard_check(p, id, "state.rqp", &q, names, q ? 1 : 0, RQ_PARTIAL_STEP);
		rq_shard_check(p, id, "state.rqp", &q, names, q ? 1 : 0, RQ_PARTIAL_FINAL);
		rq_shard_check(p, id, "state.rqp", twice, names, q ? 2 : 0, RQ_PARTIAL_FINAL);
		double ari;
		if (q && q->kind == RQ_PARTIAL_FINAL) /* the class counts against the table */
			rq_shard_ari(&ari, p, q, "state.rqp", "fuzz.rqp");
	}
	rq_partial_free(q);
}

static void check(const uint8_t *data, size_t size)
{
	rq_partial *p = NULL;
	if (rq_partial_decode(&p, data, size, "fuzz.rqp") == 0) {
		rq_buf b = RQ_BUF_INIT;
		rq_partial_encode(&b, p);
		if (b.len != size || memcmp(b.ptr, data, size) != 0)
			abort(); /* encode ∘ decode must be the identity */
		rq_buf_release(&b);
		use(p, data, size);
	}
	rq_partial_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size);
	if (size >= RQ_PARTIAL_HASH_LEN) {
		uint8_t *sealed = rq_xmalloc(size);
		memcpy(sealed, data, size);
		crypto_generichash(sealed + size - RQ_PARTIAL_HASH_LEN, RQ_PARTIAL_HASH_LEN, sealed,
				   size - RQ_PARTIAL_HASH_LEN, NULL, 0);
		check(sealed, size);
		free(sealed);
	}
	return 0;
}
