/* The ledger as an RFC 9162 transparency log (docs/FORMATS.md): the Merkle
 * tree hash over the entries in sequence order, inclusion and consistency
 * proofs, and their verification. Pure computation (core/entry/merkle.c).
 *
 * Leaf hash: SHA-256(0x00 || canonical entry bytes); node hash:
 * SHA-256(0x01 || left || right); the tree of 0 leaves hashes to SHA-256
 * of the empty string (RFC 9162 §2.1.1).
 *
 * Proof generation asks a callback for the hashes of *perfect, aligned*
 * subtrees: level L, index I is the hash of leaves [I·2^L, (I+1)·2^L).
 * RFC 9162's recursion only ever needs such subtrees, so a store that keeps
 * them (store/tlog.c keeps them in index.db) answers any proof or root in
 * O(log² n) look-ups, and rq_merkle_levels keeps them in memory. */
#ifndef RESQUE_MERKLE_H
#define RESQUE_MERKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "resque/sizes.h"

#define RQ_MERKLE_MAX_PROOF 64 /* hashes in any proof of a tree of < 2^63 leaves */

typedef uint8_t rq_hash[RQ_HASH_LEN];

void rq_merkle_leaf_hash(rq_hash out, const void *data, size_t len);
void rq_merkle_node_hash(rq_hash out, const rq_hash left, const rq_hash right);

/* The hash of the perfect subtree at (level, index); 0 or a negative
 * error code (with a message), which the caller passes on. */
typedef int (*rq_merkle_node_fn)(rq_hash out, unsigned level, uint64_t index, void *ctx);

/* MTH of leaves [0, size). */
int rq_merkle_root(rq_hash out, uint64_t size, rq_merkle_node_fn get, void *ctx);
/* PATH(index, D[size]): RFC 9162 §2.1.3.1. `out` holds RQ_MERKLE_MAX_PROOF
 * hashes; *n receives how many. RQ_EINVALID unless index < size. */
int rq_merkle_inclusion_proof(rq_hash *out, size_t *n, uint64_t index, uint64_t size,
			      rq_merkle_node_fn get, void *ctx);
/* PROOF(old_size, D[size]): RFC 9162 §2.1.4.1. RQ_EINVALID unless
 * 0 < old_size <= size. Empty when old_size == size. */
int rq_merkle_consistency_proof(rq_hash *out, size_t *n, uint64_t old_size, uint64_t size,
				rq_merkle_node_fn get, void *ctx);

/* Verification (RFC 9162 §2.1.3.2 and §2.1.4.2): 0 when the proof is
 * valid, RQ_EINTEGRITY with a reason otherwise (RQ_EINVALID for sizes that
 * cannot be right, such as index >= size). */
int rq_merkle_verify_inclusion(const rq_hash leaf, uint64_t index, uint64_t size,
			       const rq_hash *proof, size_t n, const rq_hash root);
int rq_merkle_verify_consistency(uint64_t size1, uint64_t size2, const rq_hash root1,
				 const rq_hash root2, const rq_hash *proof, size_t n);

/* Every perfect subtree of a list of leaves, in memory: levels[0] are the
 * leaves, levels[L][I] the perfect subtree (L, I). Appending a leaf adds
 * the subtrees it completes, so a tree built leaf by leaf costs O(n). */
/* A tree of at most 2^64 leaves has at most 64 levels of perfect subtrees. */
#define RQ_MERKLE_MAX_LEVELS 64
typedef struct rq_merkle_levels {
	rq_hash *level[RQ_MERKLE_MAX_LEVELS];
	uint64_t count[RQ_MERKLE_MAX_LEVELS]; /* nodes at each level */
	size_t cap[RQ_MERKLE_MAX_LEVELS];     /* room at each level, in nodes */
	unsigned depth;     /* levels in use */
} rq_merkle_levels;

void rq_merkle_levels_init(rq_merkle_levels *t);
void rq_merkle_levels_release(rq_merkle_levels *t);
void rq_merkle_levels_append(rq_merkle_levels *t, const rq_hash leaf);
/* An rq_merkle_node_fn over an rq_merkle_levels passed as `ctx`. */
int rq_merkle_levels_node(rq_hash out, unsigned level, uint64_t index, void *ctx);

#endif
