/* The ledger's transparency log (design §2.3): the RFC 9162 tree over the
 * ledger's entries in sequence order, its roots, proofs and signed
 * checkpoints (store/tlog.c). The perfect subtrees are kept in index.db
 * (table `merkle`, derived data rebuilt by reindex), so a root or a proof
 * costs O(log² n) look-ups once the index is built. */
#ifndef RESQUE_TLOG_H
#define RESQUE_TLOG_H

#include <stdint.h>
#include "resque/buf.h"
#include "resque/checkpoint.h"
#include "resque/key.h"
#include "resque/ledger.h"
#include "resque/merkle.h"

/* The repository id, as the genesis entry records it (body.repository). */
int rq_ledger_repository_id(rq_buf *out, rq_ledger *l);
/* The checkpoint origin of this ledger: RQ_ORIGIN_PREFIX + repository id. */
int rq_ledger_origin(rq_buf *out, rq_ledger *l);

/* Root of the tree of the first `size` entries (size <= rq_ledger_size). */
int rq_ledger_tree_root(rq_hash out, rq_ledger *l, uint64_t size);
/* Inclusion proof of entry `seq` in the tree of `size` entries. */
int rq_ledger_inclusion_proof(rq_proof *out, rq_ledger *l, uint64_t seq, uint64_t size);
/* Consistency proof between trees of `old_size` and `size` entries. */
int rq_ledger_consistency_proof(rq_proof *out, rq_ledger *l, uint64_t old_size, uint64_t size);
/* A checkpoint of the first `size` entries signed by `k` (a current
 * signer holding its secret key). The caller releases `out`. */
int rq_ledger_checkpoint(rq_checkpoint *out, rq_ledger *l, uint64_t size, const rq_key *k);

#endif
