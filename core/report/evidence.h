/* The evidence of a report (docs/FORMATS.md): the signed checkpoint it was
 * computed at and every ledger entry of that tree — canonical bytes,
 * signature file, the entry that authorised its signer and, for the
 * entries that carry figures, the inclusion proof — so that an auditor
 * holding only the signer's public key can re-derive every figure
 * (core/report/evidence.c; format in docs/FORMATS.md, "Reports").
 *
 * Every entry of the tree [0, N) is embedded, not only those with
 * figures: an auditor detects a dropped update only if the evidence is
 * complete, by recomputing the Merkle root over all N leaves. */
#ifndef RESQUE_EVIDENCE_H
#define RESQUE_EVIDENCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "resque/buf.h"
#include "checkpoint.h"
#include "entry_int.h"
#include "merkle.h"

#define RQ_EVIDENCE_FORMAT 1
#define RQ_EVIDENCE_MAX_ENTRIES (1u << 24) /* more entries are refused unread */
#define RQ_EVIDENCE_MAX_ENTRY (4u << 20)   /* bytes of one entry */
#define RQ_EVIDENCE_MAX_SIG 1024           /* bytes of one signature file */

/* Signers authorised along a ledger, replayed entry by entry as
 * `resque verify` does: the genesis entry names the first signer; key
 * entries (by a current signer) add and revoke. Pure computation. */
typedef struct rq_signer_rec {
	char id[RQ_KEY_ID_SIZE];
	uint8_t pk[RQ_PUBKEY_LEN];
	bool revoked;
	uint64_t added_at;   /* seq of the init/key entry that added it */
	uint64_t revoked_at;
} rq_signer_rec;

typedef struct rq_signers {
	rq_signer_rec *v;
	size_t n, alloc;
} rq_signers;

void rq_signers_init(rq_signers *s);
void rq_signers_release(rq_signers *s);
/* Check entry `e` (at position e->seq of its ledger) against the signature
 * file `sig`: signed by a signer authorised at that point, with a valid
 * Ed25519 signature; then apply it (genesis, key add/revoke). 0, or
 * RQ_EINTEGRITY with "entry N: reason". `*signer_seq` (may be NULL)
 * receives the seq of the entry that added the signer. */
int rq_signers_apply(rq_signers *s, int64_t *signer_seq, const rq_entry *e, const char *sig, size_t sig_len);

/* One embedded entry. */
typedef struct rq_evidence_entry {
	rq_entry *entry;    /* parsed from the embedded bytes (owned) */
	char *sig;          /* the signature file's text (owned) */
	size_t sig_len;
	int64_t signer_seq; /* as stated in the evidence; -1 when absent */
	rq_hash *proof;     /* inclusion proof against the checkpoint (owned), or NULL */
	size_t nproof;
	bool has_proof;
} rq_evidence_entry;

typedef struct rq_evidence {
	rq_checkpoint checkpoint;
	rq_evidence_entry *entries;
	size_t n;
} rq_evidence;

void rq_evidence_release(rq_evidence *ev);

/* Whether an entry of this type carries proof in the evidence: versions,
 * plans, actuals (the figures) and init/key entries (their signers). */
bool rq_evidence_wants_proof(const char *type);

/* The evidence section {"format": 1, "checkpoint": NOTE, "entries": [{"seq",
 * "bytes": BASE64, "sig": TEXT, "signer": SEQ, "proof": [BASE64...]}]} of
 * the tree of `n` entries (all of them, in sequence order, with their
 * signature files) that checkpoint `c` signs. Fails (RQ_EINTEGRITY) when
 * the entries do not hash to the checkpoint's root or a signer cannot be
 * traced. With `signatures_checked` (the caller has just verified these
 * very entries and signature files, as rq_ledger_verify_entries does) the
 * Ed25519 checks are not repeated; the signer replay, chain and root are.
 * New reference in *out. */
int rq_evidence_build(json_t **out, rq_entry *const *entries, char *const *sigs, size_t n,
		      const rq_checkpoint *c, bool signatures_checked);

/* Parse an evidence section (untrusted): every length is checked, base64
 * decoded strictly, each entry parsed as canonical bytes. RQ_EINVALID
 * "NAME: reason" when it is malformed. */
int rq_evidence_parse(rq_evidence *out, const json_t *evidence, const char *name);

/* Check the evidence: the checkpoint is signed by `v`; its origin is
 * RQ_ORIGIN_PREFIX + the genesis entry's repository; the entries are
 * exactly seq 0..size-1 with an unbroken hash chain, each signed by a
 * signer authorised at that point (and the stated signer entry is the one
 * that added it); the Merkle root over all entries is the checkpoint's;
 * every given inclusion proof verifies. 0, or RQ_EINTEGRITY "NAME: reason"
 * naming the first failure. */
int rq_evidence_check(const rq_evidence *ev, const rq_verifier *v, const char *name);

/* Entries [0, size) of the ledger in sequence order and their signature
 * files' text, read from git (store/evidence_read.c). The caller frees
 * both arrays and their `size` elements. */
struct rq_ledger;
int rq_ledger_entries_signed(rq_entry ***entries, char ***sigs, struct rq_ledger *l, uint64_t size);

/* rq_ledger_verify, handing back what it read so that a report reads the
 * ledger once: when no problem was found, *entries and *sigs hold its
 * r->entries entries as rq_ledger_entries_signed gives them (the caller
 * frees them); otherwise both are NULL (store/verify.c). */
struct rq_verify_report;
int rq_ledger_verify_entries(struct rq_verify_report *r, rq_entry ***entries, char ***sigs, struct rq_ledger *l);

#endif
