/* RFC 9162 Merkle tree hashes, inclusion and consistency proofs over
 * perfect aligned subtrees, and the RFC's bit-manipulation verifiers. */
#include "common.h"
#include "merkle.h"

#include <sodium.h>

void rq_merkle_leaf_hash(rq_hash out, const void *data, size_t len)
{
	crypto_hash_sha256_state st;
	const unsigned char prefix = 0x00;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, &prefix, 1);
	crypto_hash_sha256_update(&st, data, len);
	crypto_hash_sha256_final(&st, out);
}

void rq_merkle_node_hash(rq_hash out, const rq_hash left, const rq_hash right)
{
	unsigned char in[1 + 2 * RQ_HASH_LEN];
	in[0] = 0x01;
	memcpy(in + 1, left, RQ_HASH_LEN);
	memcpy(in + 1 + RQ_HASH_LEN, right, RQ_HASH_LEN);
	crypto_hash_sha256(out, in, sizeof(in));
}

/* The largest power of two strictly below n (n >= 2). */
static uint64_t split_point(uint64_t n)
{
	uint64_t k = 1;
	while (k < n - k)
		k <<= 1;
	return k;
}

/* MTH of leaves [start, start+len), len >= 1, where start is a multiple of
 * a power of two >= len: every range RFC 9162's recursion visits is so
 * aligned. It splits into the perfect subtrees of len's set bits, highest
 * first, and hashes them together from the right. */
static int range_hash(rq_hash out, uint64_t start, uint64_t len, rq_merkle_node_fn get, void *ctx)
{
	rq_hash acc, piece;
	bool have = false;
	int rc = 0;
	/* lowest bits first: that is the right-to-left fold */
	uint64_t end = start + len;
	for (unsigned b = 0; b < 64 && len; b++) {
		uint64_t w = (uint64_t)1 << b;
		if (!(len & w))
			continue;
		end -= w;
		len &= ~w;
		if ((rc = get(have ? piece : acc, b, end >> b, ctx)) < 0)
			goto done;
		if (have)
			rq_merkle_node_hash(acc, piece, acc);
		have = true;
	}
done:
	if (rc == 0)
		memcpy(out, acc, RQ_HASH_LEN);
	return rc;
}

int rq_merkle_root(rq_hash out, uint64_t size, rq_merkle_node_fn get, void *ctx)
{
	if (size == 0) {
		crypto_hash_sha256(out, NULL, 0);
		return 0;
	}
	if (size > (uint64_t)1 << 63)
		return rq_error_set(RQ_EINVALID, "tree size %" PRIu64 " is too large", size);
	return range_hash(out, 0, size, get, ctx);
}

static void reverse(rq_hash *h, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		rq_hash t;
		memcpy(t, h[i], RQ_HASH_LEN);
		memcpy(h[i], h[n - 1 - i], RQ_HASH_LEN);
		memcpy(h[n - 1 - i], t, RQ_HASH_LEN);
	}
}

int rq_merkle_inclusion_proof(rq_hash *out, size_t *n, uint64_t index, uint64_t size,
			      rq_merkle_node_fn get, void *ctx)
{
	uint64_t start = 0, m = index, len = size;
	size_t k = 0;
	int rc = 0;
	*n = 0;
	if (index >= size || size > (uint64_t)1 << 63) {
		rc = rq_error_set(RQ_EINVALID, "no inclusion proof of leaf %" PRIu64
				  " in a tree of %" PRIu64 " leaves", index, size);
		goto done;
	}
	/* PATH(m, D[start:start+len]) appends the sibling of the outer split
	 * last, so the siblings come out in reverse order. */
	while (len > 1) {
		uint64_t split = split_point(len);
		if (k >= RQ_MERKLE_MAX_PROOF) {
			rc = rq_error_set(RQ_EINVALID, "inclusion proof too long");
			goto done;
		}
		if (m < split) {
			rc = range_hash(out[k], start + split, len - split, get, ctx);
			len = split;
		} else {
			rc = range_hash(out[k], start, split, get, ctx);
			start += split;
			m -= split;
			len -= split;
		}
		if (rc < 0)
			goto done;
		k++;
	}
	reverse(out, k);
	*n = k;
done:
	return rc;
}

int rq_merkle_consistency_proof(rq_hash *out, size_t *n, uint64_t old_size, uint64_t size,
				rq_merkle_node_fn get, void *ctx)
{
	uint64_t start = 0, m = old_size, len = size;
	bool whole = true; /* SUBPROOF's b: the subtree is the old tree itself */
	rq_hash sib[RQ_MERKLE_MAX_PROOF];
	rq_hash term;
	bool have_term = false;
	size_t k = 0;
	int rc = 0;
	*n = 0;
	if (old_size == 0 || old_size > size || size > (uint64_t)1 << 63) {
		rc = rq_error_set(RQ_EINVALID, "no consistency proof from %" PRIu64
				  " to %" PRIu64 " leaves", old_size, size);
		goto done;
	}
	for (;;) {
		if (m == len) {
			if (!whole) {
				if ((rc = range_hash(term, start, len, get, ctx)) < 0)
					goto done;
				have_term = true;
			}
			break;
		}
		uint64_t split = split_point(len);
		if (k >= RQ_MERKLE_MAX_PROOF - 1) {
			rc = rq_error_set(RQ_EINVALID, "consistency proof too long");
			goto done;
		}
		if (m <= split) {
			rc = range_hash(sib[k], start + split, len - split, get, ctx);
			len = split;
		} else {
			rc = range_hash(sib[k], start, split, get, ctx);
			start += split;
			m -= split;
			len -= split;
			whole = false;
		}
		if (rc < 0)
			goto done;
		k++;
	}
	size_t j = 0;
	if (have_term)
		memcpy(out[j++], term, RQ_HASH_LEN);
	while (k > 0)
		memcpy(out[j++], sib[--k], RQ_HASH_LEN);
	*n = j;
done:
	return rc;
}

int rq_merkle_verify_inclusion(const rq_hash leaf, uint64_t index, uint64_t size,
			       const rq_hash *proof, size_t n, const rq_hash root)
{
	uint64_t fn = index, sn;
	rq_hash r;
	int rc = 0;
	if (index >= size) {
		rc = rq_error_set(RQ_EINVALID, "leaf index %" PRIu64 " is not below the tree size %" PRIu64,
				  index, size);
		goto done;
	}
	sn = size - 1;
	memcpy(r, leaf, RQ_HASH_LEN);
	for (size_t i = 0; i < n; i++) {
		if (sn == 0) {
			rc = rq_error_set(RQ_EINTEGRITY, "inclusion proof has %zu hashes, more than the tree needs", n);
			goto done;
		}
		if ((fn & 1) || fn == sn) {
			rq_merkle_node_hash(r, proof[i], r);
			if (!(fn & 1))
				while (fn != 0 && !(fn & 1)) {
					fn >>= 1;
					sn >>= 1;
				}
		} else {
			rq_merkle_node_hash(r, r, proof[i]);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0) {
		rc = rq_error_set(RQ_EINTEGRITY, "inclusion proof has %zu hashes, fewer than the tree needs", n);
		goto done;
	}
	if (sodium_memcmp(r, root, RQ_HASH_LEN) != 0) {
		rc = rq_error_set(RQ_EINTEGRITY, "inclusion proof does not lead to the root");
		goto done;
	}
done:
	return rc;
}

int rq_merkle_verify_consistency(uint64_t size1, uint64_t size2, const rq_hash root1,
				 const rq_hash root2, const rq_hash *proof, size_t n)
{
	uint64_t fn, sn;
	rq_hash fr, sr;
	size_t i = 0;
	int rc = 0;
	if (size1 == 0) {
		rc = rq_error_set(RQ_EINVALID, "a consistency proof from the empty tree proves nothing");
		goto done;
	}
	if (size1 > size2) {
		rc = rq_error_set(RQ_EINVALID, "old tree size %" PRIu64 " is larger than the new size %" PRIu64,
				  size1, size2);
		goto done;
	}
	if (size1 == size2) {
		if (n != 0)
			rc = rq_error_set(RQ_EINTEGRITY, "consistency proof between equal sizes is not empty");
		else if (sodium_memcmp(root1, root2, RQ_HASH_LEN) != 0)
			rc = rq_error_set(RQ_EINTEGRITY, "trees of the same size have different roots");
		goto done;
	}
	if (n == 0) {
		rc = rq_error_set(RQ_EINTEGRITY, "consistency proof is empty");
		goto done;
	}
	/* RFC 9162 §2.1.4.2: when size1 is a power of two, the old root is the
	 * proof's implicit first element. */
	if ((size1 & (size1 - 1)) == 0) {
		memcpy(fr, root1, RQ_HASH_LEN);
	} else {
		memcpy(fr, proof[0], RQ_HASH_LEN);
		i = 1;
	}
	memcpy(sr, fr, RQ_HASH_LEN);
	fn = size1 - 1;
	sn = size2 - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < n; i++) {
		if (sn == 0) {
			rc = rq_error_set(RQ_EINTEGRITY, "consistency proof has %zu hashes, more than the trees need", n);
			goto done;
		}
		if ((fn & 1) || fn == sn) {
			rq_merkle_node_hash(fr, proof[i], fr);
			rq_merkle_node_hash(sr, proof[i], sr);
			if (!(fn & 1))
				while (fn != 0 && !(fn & 1)) {
					fn >>= 1;
					sn >>= 1;
				}
		} else {
			rq_merkle_node_hash(sr, sr, proof[i]);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0) {
		rc = rq_error_set(RQ_EINTEGRITY, "consistency proof has %zu hashes, fewer than the trees need", n);
		goto done;
	}
	if (sodium_memcmp(fr, root1, RQ_HASH_LEN) != 0) {
		rc = rq_error_set(RQ_EINTEGRITY, "consistency proof does not lead to the old root");
		goto done;
	}
	if (sodium_memcmp(sr, root2, RQ_HASH_LEN) != 0) {
		rc = rq_error_set(RQ_EINTEGRITY, "consistency proof does not lead to the new root");
		goto done;
	}
done:
	return rc;
}

void rq_merkle_levels_init(rq_merkle_levels *t)
{
	memset(t, 0, sizeof(*t));
}

void rq_merkle_levels_release(rq_merkle_levels *t)
{
	for (unsigned l = 0; l < 64; l++)
		free(t->level[l]);
	rq_merkle_levels_init(t);
}

static void level_push(rq_merkle_levels *t, unsigned l, const rq_hash h)
{
	/* count[l] <= cap[l], a size_t: the cast cannot truncate. */
	RQ_ALLOC_GROW(t->level[l], (size_t)t->count[l] + 1, t->cap[l]);
	memcpy(t->level[l][t->count[l]++], h, RQ_HASH_LEN);
	if (l + 1 > t->depth)
		t->depth = l + 1;
}

void rq_merkle_levels_append(rq_merkle_levels *t, const rq_hash leaf)
{
	rq_hash h;
	unsigned l = 0;
	memcpy(h, leaf, RQ_HASH_LEN);
	level_push(t, 0, h);
	/* an even count at a level means its last two nodes just paired up */
	while (l + 1 < 64 && t->count[l] % 2 == 0) {
		rq_merkle_node_hash(h, t->level[l][t->count[l] - 2], t->level[l][t->count[l] - 1]);
		level_push(t, ++l, h);
	}
}

int rq_merkle_levels_node(rq_hash out, unsigned level, uint64_t index, void *ctx)
{
	const rq_merkle_levels *t = ctx;
	if (level >= 64 || index >= t->count[level])
		return rq_error_set(RQ_ENOTFOUND, "merkle subtree (%u, %" PRIu64 ") is not in the tree",
				    level, index);
	memcpy(out, t->level[level][index], RQ_HASH_LEN);
	return 0;
}
