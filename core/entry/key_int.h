/* Ed25519 keys inside the library: the struct, signing and checking (the
 * public half is resque/key.h). */
#ifndef RESQUE_KEY_INT_H
#define RESQUE_KEY_INT_H

#include <stdint.h>
#include "resque/key.h"

struct rq_key {
	uint8_t pk[RQ_PUBKEY_LEN];
	unsigned char *sk; /* 64 bytes in sodium_malloc'd memory; NULL if public only */
	char id[RQ_KEY_ID_SIZE];
};

void rq_key_id_of(char out[RQ_KEY_ID_SIZE], const uint8_t pk[RQ_PUBKEY_LEN]);

/* Detached Ed25519 signature over `prefix || msg`. */
int rq_key_sign(uint8_t sig[RQ_SIG_LEN], const rq_key *k, const char *prefix,
		const void *msg, size_t len);
bool rq_key_check(const uint8_t pk[RQ_PUBKEY_LEN], const uint8_t sig[RQ_SIG_LEN], const char *prefix,
		  const void *msg, size_t len);

#endif
