/* Checkpoints, proofs and verifier keys as text (docs/FORMATS.md): the C2SP
 * tlog-checkpoint body inside a C2SP signed note, Ed25519 signature lines,
 * the one-line verifier key that `resque key export` prints, and the text
 * and JSON forms of inclusion and consistency proofs. Pure computation
 * (core/entry/checkpoint.c); formats in docs/FORMATS.md, "Transparency".
 *
 * A checkpoint:
 *
 *   resque/0f6c...(repository id)\n
 *   12\n
 *   BASE64(root)\n
 *   \n
 *   — resque-key-a2237d373bb0ab30 BASE64(key id[4] || signature[64])\n
 *
 * The signature is Ed25519 over the note text (the three body lines with
 * their newlines). Key names are "resque-key-" + the signer's 16-hex key
 * id; the 4-byte key id is SHA-256(name || 0x0A || 0x01 || public key)[:4]
 * as C2SP signed-note defines it for Ed25519. */
#ifndef RESQUE_CHECKPOINT_H
#define RESQUE_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "resque/buf.h"
#include "key_int.h"
#include "merkle.h"

#define RQ_ORIGIN_PREFIX "resque/"        /* origin: "resque/" + repository id */
#define RQ_KEY_NAME_PREFIX "resque-key-"  /* signer name: prefix + 16-hex key id */
#define RQ_CHECKPOINT_MAX (64 * 1024)     /* larger files are refused unread */
#define RQ_PROOF_MAX (64 * 1024)
/* A signed note's key id: the first 4 bytes of SHA-256(name "\n" 0x01 key). */
#define RQ_NOTE_KEY_ID_LEN 4

typedef struct rq_checkpoint {
	char origin[256];
	uint64_t size;
	rq_hash root;
	char *text;     /* the whole note as read or written (owned) */
	size_t text_len;
	size_t body_len; /* bytes of the signed body (the text before the blank line) */
} rq_checkpoint;

/* A verifier: a signer's name and Ed25519 public key. */
typedef struct rq_verifier {
	char name[128];
	uint8_t pk[RQ_PUBKEY_LEN];
	uint8_t key_id[RQ_NOTE_KEY_ID_LEN];
} rq_verifier;

/* The verifier of key `k` (name RQ_KEY_NAME_PREFIX + k->id). */
void rq_verifier_of(rq_verifier *out, const rq_key *k);
/* One line "NAME+HEX8+BASE64(0x01 || pk)" (C2SP vkey), no newline. */
void rq_verifier_format(rq_buf *out, const rq_verifier *v);
/* Parse a verifier key: the vkey line above, a resque public key file's
 * text, or a bare 64-hex public key (the name is then derived from the
 * key's id). `name` is for messages (a file path or "--key").
 * RQ_EINVALID with "NAME: reason". */
int rq_verifier_parse(rq_verifier *out, const char *text, size_t len, const char *name);

/* Build and sign a checkpoint of (origin, size, root) with `k` (which must
 * hold a secret key). The caller releases `out`. */
int rq_checkpoint_sign(rq_checkpoint *out, const char *origin, uint64_t size, const rq_hash root,
		       const rq_key *k);
/* Parse a checkpoint note (untrusted bytes): the body lines, the blank
 * line, then at least one signature line. `name` is used in messages.
 * RQ_EINVALID with "NAME: reason" when it is not a well-formed note. */
int rq_checkpoint_parse(rq_checkpoint *out, const char *text, size_t len, const char *name);
/* 0 when a signature line by `v` (matching name and key id) verifies;
 * RQ_EINTEGRITY "NAME: not signed by KEYNAME" / "bad signature" else. */
int rq_checkpoint_verify(const rq_checkpoint *c, const rq_verifier *v, const char *name);
void rq_checkpoint_release(rq_checkpoint *c);

/* Proofs. */
typedef enum { RQ_PROOF_INCLUSION = 1, RQ_PROOF_CONSISTENCY = 2 } rq_proof_kind;

typedef struct rq_proof {
	rq_proof_kind kind;
	uint64_t index;    /* inclusion: the leaf's index (= the entry's seq) */
	uint64_t old_size; /* consistency: the older tree's size */
	uint64_t size;     /* the tree's size (inclusion), the newer size (consistency) */
	rq_hash hashes[RQ_MERKLE_MAX_PROOF];
	size_t n;
} rq_proof;

/* Text form:
 *   resque inclusion proof v1        |  resque consistency proof v1
 *   index N                          |  old-size M
 *   size N                           |  size N
 *   BASE64 (one hash a line)         |  BASE64 ...
 */
void rq_proof_format(rq_buf *out, const rq_proof *p);
/* The JSON form below, indented, with a final newline. */
void rq_proof_format_json(rq_buf *out, const rq_proof *p);
/* Parse the text form or the JSON form ({"type": "inclusion" |
 * "consistency", "index"/"old_size", "size", "hashes": [BASE64...]}).
 * RQ_EINVALID with "NAME: reason". */
int rq_proof_parse(rq_proof *out, const char *text, size_t len, const char *name);

/* Standard base64 with padding (as C2SP notes use). */
void rq_base64_encode(rq_buf *out, const void *data, size_t len);
/* Strict decode: exactly `len` bytes, canonical padding; -1 otherwise. */
int rq_base64_decode_exact(uint8_t *out, size_t len, const char *b64, size_t b64len);

#endif
