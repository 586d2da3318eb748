/* libFuzzer target: checkpoint notes (rq_checkpoint_parse, then
 * rq_checkpoint_verify with a fixed key) and verifier keys. */
#include "common.h"
#include "checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the Go-made test key of tests/data/checkpoint/go-test-key.vkey */
static const char vkey[] = "resque-key-efebf19f48816d7e+9920fb2f+AbYgARV8ilogSHVGVzNVDqbgqbpdHeYQ6vm3zH0/4ayR";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static rq_verifier v;
	static bool ready;
	rq_checkpoint c;
	rq_verifier p;
	if (!ready) {
		if (rq_verifier_parse(&v, vkey, strlen(vkey), "vkey") != 0)
			abort();
		ready = true;
	}
	if (rq_checkpoint_parse(&c, (const char *)data, size, "fuzz.checkpoint") == 0) {
		/* what parsed is a note whose body ends the way the format says */
		if (c.body_len == 0 || c.body_len >= c.text_len || c.text[c.body_len - 1] != '\n' ||
		    c.text[c.body_len] != '\n' || c.origin[0] == '\0')
			abort();
		(void)rq_checkpoint_verify(&c, &v, "fuzz.checkpoint");
	}
	rq_checkpoint_release(&c);
	(void)rq_verifier_parse(&p, (const char *)data, size, "fuzz.vkey");
	return 0;
}
