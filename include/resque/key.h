/* Ed25519 signing keys (libsodium) and their file formats: a secret key
 * file, optionally encrypted with a passphrase (crypto_pwhash Argon2id +
 * crypto_secretbox), and a public key file. Formats: docs/FORMATS.md. */
#ifndef RESQUE_KEY_H
#define RESQUE_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "resque/buf.h"
#include "resque/sizes.h"

typedef struct rq_key {
	uint8_t pk[RQ_PUBKEY_LEN];
	unsigned char *sk; /* 64 bytes in sodium_malloc'd memory; NULL if public only */
	char id[RQ_KEY_ID_SIZE];
} rq_key;

int rq_key_generate(rq_key **out);
void rq_key_free(rq_key *k); /* wipes the secret; accepts NULL */
void rq_key_id_of(char out[RQ_KEY_ID_SIZE], const uint8_t pk[RQ_PUBKEY_LEN]);

/* Detached Ed25519 signature over `prefix || msg`. */
int rq_key_sign(uint8_t sig[RQ_SIG_LEN], const rq_key *k, const char *prefix,
		const void *msg, size_t len);
bool rq_key_check(const uint8_t pk[RQ_PUBKEY_LEN], const uint8_t sig[RQ_SIG_LEN], const char *prefix,
		  const void *msg, size_t len);

/* Secret key file text; encrypted when `passphrase` is non-NULL. */
int rq_key_encode_secret(rq_buf *out, const rq_key *k, const char *passphrase);
bool rq_key_file_is_encrypted(const char *text, size_t len);
/* `name` is used in messages (the file path). A wrong passphrase gives
 * RQ_EINVALID "NAME: wrong passphrase". */
int rq_key_decode_secret(rq_key **out, const char *text, size_t len,
			 const char *passphrase, const char *name);
int rq_key_encode_public(rq_buf *out, const rq_key *k);
/* Accepts a public key file's text or a bare 64-hex public key. */
int rq_key_decode_public(rq_key **out, const char *text, size_t len, const char *name);

#endif
