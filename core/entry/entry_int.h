/* Ledger entries inside the library: the struct over its jansson tree,
 * building, parsing and signing (the public half is resque/entry.h). Pure
 * computation: storage is in store/ledger.c. */
#ifndef RESQUE_ENTRY_INT_H
#define RESQUE_ENTRY_INT_H

#include <jansson.h>
#include <stdbool.h>
#include "resque/entry.h"
#include "key_int.h"

#define RQ_SIG_PREFIX "resque ledger entry v1\n"

struct rq_entry {
	uint64_t seq;
	char id[RQ_ID_HEX_SIZE];     /* hex SHA-256 of `bytes` */
	char prev[RQ_ID_HEX_SIZE];
	char type[RQ_ENTRY_TYPE_SIZE];
	char time[RQ_TIME_SIZE];
	char signer[RQ_KEY_ID_SIZE];
	json_t *root;    /* the whole entry (owned) */
	json_t *body;    /* borrowed from root */
	rq_buf bytes;    /* canonical encoding */
	char commit[RQ_OID_HEX_SIZE]; /* git commit holding it (filled by the store; "" if none) */
};

/* The entry types this version writes. Readers accept others (a newer
 * resque) and show them plainly. */
bool rq_entry_type_known(const char *type);

/* Build and encode a new entry; takes ownership of `body`. */
int rq_entry_build(rq_entry **out, uint64_t seq, const char *prev, const char *type,
		   const char *time, const char *signer, json_t *body);

/* Parse bytes read from the ledger: RQ_EINTEGRITY when they are not the
 * canonical encoding of a well-formed entry (the message says why). */
int rq_entry_parse(rq_entry **out, const void *bytes, size_t len);

/* The signature file: "ed25519 KEYID SIGHEX\n" over RQ_SIG_PREFIX||bytes. */
int rq_entry_sign(rq_buf *out, const rq_entry *e, const rq_key *k);
/* Parse the signature file; RQ_EINTEGRITY when malformed. */
int rq_entry_sig_parse(char keyid[RQ_KEY_ID_SIZE], uint8_t sig[RQ_SIG_LEN],
		       const char *text, size_t len);
bool rq_entry_sig_check(const rq_entry *e, const uint8_t sig[RQ_SIG_LEN], const uint8_t pk[RQ_PUBKEY_LEN]);

/* SHA-256 of bytes, hex. */
void rq_sha256_hex(char out[RQ_HASH_HEX_SIZE], const void *data, size_t len);

#endif
