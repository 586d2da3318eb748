/* The fixed sizes of the ledger's binary and text forms, named once. A
 * "_LEN" is a count of bytes; a "_SIZE" is a text buffer's size, counting
 * its terminating NUL. */
#ifndef RESQUE_SIZES_H
#define RESQUE_SIZES_H

/* Every hash of the ledger: SHA-256 (entry ids, Merkle nodes) and
 * BLAKE2b-256 (fingerprints) are both 32 bytes. */
#define RQ_HASH_LEN 32
/* A hash as lower-case hex: 64 digits and a NUL (entry ids, leaves). */
#define RQ_HASH_HEX_SIZE (2 * RQ_HASH_LEN + 1)
#define RQ_ID_HEX_SIZE RQ_HASH_HEX_SIZE
/* A fingerprint as text: "b2:" + 64 hex digits + NUL. */
#define RQ_FINGERPRINT_SIZE (3 + 2 * RQ_HASH_LEN + 1)
/* Ed25519 (libsodium's crypto_sign_*BYTES, checked in core/entry/key.c). */
#define RQ_PUBKEY_LEN 32
#define RQ_SECKEY_LEN 64
#define RQ_SIG_LEN 64
#define RQ_PUBKEY_HEX_SIZE (2 * RQ_PUBKEY_LEN + 1)
#define RQ_SIG_HEX_SIZE (2 * RQ_SIG_LEN + 1)
/* Key ids: the first 8 bytes of SHA-256(public key), as 16 hex digits. */
#define RQ_KEY_ID_HEX 16
#define RQ_KEY_ID_SIZE (RQ_KEY_ID_HEX + 1)
/* A git object id (SHA-1) as hex + NUL. */
#define RQ_OID_HEX_SIZE 41
/* A UTC time "YYYY-MM-DDTHH:MM:SSZ" + NUL. */
#define RQ_TIME_SIZE 21

#endif
