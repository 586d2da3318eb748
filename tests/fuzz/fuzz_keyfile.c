/* libFuzzer target: secret and public key files (never decrypting with a
 * real passphrase cost: encrypted inputs are refused for want of one). */
#include "common.h"
#include "key_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rq_key *k = NULL;
	if (rq_key_decode_secret(&k, (const char *)data, size, NULL, "fuzz.key") == 0)
		rq_key_free(k);
	k = NULL;
	if (rq_key_decode_public(&k, (const char *)data, size, "fuzz.pub") == 0)
		rq_key_free(k);
	return 0;
}
