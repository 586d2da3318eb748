/* The ledger's transparency log (docs/FORMATS.md): the RFC 9162 tree over the
 * ledger's entries in sequence order, its roots, proofs and signed
 * checkpoints (store/tlog.c).
 *
 * Two kinds of answer. The perfect subtrees are cached in index.db (table
 * `merkle`, derived data rebuilt by reindex), so rq_ledger_tree_root and
 * the proofs cost O(log² n) look-ups; but index.db can be edited by anyone
 * without the signing key, so these vouch for nothing. Whatever this
 * program signs or states as checked (a checkpoint, the root a proof is
 * checked against, the root a report or 'audit report -C' compares with)
 * comes from rq_ledger_verified_root: leaf hashes of entries that passed
 * rq_ledger_verify, taken from verify's memory under $RESQUE_HOME
 * (resque/known.h) when it covers the tree and still matches index.db and
 * the ledger's tip, else from a full verification (remembered, as verify
 * remembers it). */
#ifndef RESQUE_TLOG_H
#define RESQUE_TLOG_H

#include <stdint.h>
#include "resque/buf.h"
#include "checkpoint.h"
#include "key_int.h"
#include "ledger_int.h"
#include "merkle.h"

/* The repository id, as the genesis entry records it (body.repository). */
int rq_ledger_repository_id(rq_buf *out, rq_ledger *l);
/* The checkpoint origin of this ledger: RQ_ORIGIN_PREFIX + repository id. */
int rq_ledger_origin(rq_buf *out, rq_ledger *l);

/* Root of the tree of the first `size` entries (size <= rq_ledger_size)
 * as index.db's cache gives it: fast, and vouches for nothing (an edited
 * index.db gives another root). For display where nothing is signed or
 * said to be checked (an unsigned report of a ledger that failed
 * verification); RQ_EINTEGRITY naming index.db for a missing node. */
int rq_ledger_tree_root(rq_hash out, rq_ledger *l, uint64_t size);
/* Inclusion proof of entry `seq` in the tree of `size` entries, from
 * index.db's cache: check it against rq_ledger_verified_root before
 * handing it out (an edited index.db gives a proof that fails). */
int rq_ledger_inclusion_proof(rq_proof *out, rq_ledger *l, uint64_t seq, uint64_t size);
/* Consistency proof between trees of `old_size` and `size` entries, from
 * index.db's cache: check it against the two verified roots likewise. */
int rq_ledger_consistency_proof(rq_proof *out, rq_ledger *l, uint64_t old_size, uint64_t size);

/* Root of the tree of the first `size` entries, vouched for by a
 * verification (never by index.db alone). Warm: verify's memory covers
 * K >= `size` entries and still describes the ledger (its leaf hashes are
 * index.db's, its genesis is the ledger's, the tip git holds is index.db's
 * last entry with the expected leaf hash); then the root of K is the
 * remembered root, and a smaller size's root is index.db's provided its
 * consistency proof to the remembered root holds. Cold (no memory, too
 * few entries remembered, or any check failing): the whole ledger is
 * verified first (rq_tlog_set_notice's function is told so), compared with
 * and added to the memory as verify does (rq_known_remember), and the root
 * computed from the verified leaves. RQ_EINTEGRITY "the ledger does not
 * verify (run 'resque verify'): FIRST PROBLEM", or verify's message when
 * the ledger was rolled back, rewritten or re-created since it was
 * remembered; RQ_EINVALID for a size past the ledger's or a memory file
 * that cannot be read. Warm, O(n) for the scan of index.db's leaf hashes
 * (~60 ms a command at 100,000 entries) plus O(log n); cold, a
 * verification. */
int rq_ledger_verified_root(rq_hash out, rq_ledger *l, uint64_t size);
/* The same for `count` sizes at once (out[i] for sizes[i]), sharing one
 * pass: a consistency proof needs two roots. */
int rq_ledger_verified_roots(rq_hash *out, rq_ledger *l, const uint64_t *sizes, size_t count);

/* A checkpoint of the first `size` entries signed by `k` (a current
 * signer holding its secret key), over rq_ledger_verified_root's root;
 * RQ_EINTEGRITY naming index.db (run 'resque reindex') when index.db's
 * cached root of that size disagrees, since the proofs it gives would
 * then fail against the checkpoint. The caller releases `out`. */
int rq_ledger_checkpoint(rq_checkpoint *out, rq_ledger *l, uint64_t size, const rq_key *k);

/* Library code never prints: a command that wants its user told when a
 * verified root needs a full verification first ("verifying the ledger
 * first (no record of an earlier verify)") or when the result could not be
 * remembered sets a function here (NULL, the default: silent). */
typedef void (*rq_tlog_notice_fn)(void *ctx, const char *message);
void rq_tlog_set_notice(rq_tlog_notice_fn fn, void *ctx);

#endif
