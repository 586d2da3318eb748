/* Ed25519 signing keys (libsodium underneath) and their file formats: a
 * secret key file, optionally encrypted with a passphrase (Argon2id +
 * secretbox), and a public key file. Formats: docs/FORMATS.md.
 *
 * rq_key is opaque: a program gets one from the key store
 * (resque/keystore.h), rq_key_generate or a decoder, hands it to the
 * ledger and frees it with rq_key_free. The secret lives in guarded memory
 * and is wiped when freed. */
#ifndef RESQUE_KEY_H
#define RESQUE_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include "resque/buf.h"
#include "resque/export.h"
#include "resque/sizes.h"

RQ_BEGIN_DECLS

typedef struct rq_key rq_key;

/* A new key pair into *out (the caller frees it with rq_key_free). Always
 * 0: running out of memory aborts. */
RQ_EXTERN int rq_key_generate(rq_key **out);
/* Wipe the secret and free the key; accepts NULL. */
RQ_EXTERN void rq_key_free(rq_key *k);
/* The key's id: 16 lower-case hex digits (the first 8 bytes of the
 * SHA-256 of its public key). Borrowed: lives as long as the key. */
RQ_EXTERN const char *rq_key_id(const rq_key *k);

/* Append the secret key file's text to `out` (the caller's buffer),
 * encrypted when `passphrase` is non-NULL. 0; RQ_EINVALID for a key with
 * no secret (a public key); RQ_ENOMEM when there is not enough (secure)
 * memory to derive the encryption key. */
RQ_EXTERN int rq_key_encode_secret(rq_buf *out, const rq_key *k, const char *passphrase);
/* Whether `len` bytes of `text` are an encrypted secret key file. */
RQ_EXTERN bool rq_key_file_is_encrypted(const char *text, size_t len);
/* Read a secret key file's text into *out (the caller frees it). `name`
 * is used in messages (the file path). RQ_EINVALID when it is not a key
 * file, "NAME: wrong passphrase", or encrypted with `passphrase` NULL. */
RQ_EXTERN int rq_key_decode_secret(rq_key **out, const char *text, size_t len,
				   const char *passphrase, const char *name);
/* Append the public key file's text to `out` (the caller's buffer). 0. */
RQ_EXTERN int rq_key_encode_public(rq_buf *out, const rq_key *k);
/* Read a public key file's text, or a bare 64-hex public key, into *out (a
 * key with no secret; the caller frees it). RQ_EINVALID naming `name`. */
RQ_EXTERN int rq_key_decode_public(rq_key **out, const char *text, size_t len, const char *name);

RQ_END_DECLS

#endif
