/* Unit tests of core/entry/merkle.c: every transparency-dev vector (valid ones
 * verify, mutated ones are rejected), generated proofs for every index and
 * old size of trees up to 70 leaves against a naive RFC 9162 recursion, and
 * known answers computed with Python's hashlib. */
#include "unit.h"
#include "merkle.h"

#include <ftw.h>
#include <jansson.h>
#include <sodium.h>

/* ---- a naive reference: RFC 9162 §2.1 written as the text reads ---- */

static uint64_t ref_split(uint64_t n)
{
	uint64_t k = 1;
	while (k * 2 < n)
		k *= 2;
	return k;
}

static void ref_mth(rq_hash out, const rq_hash *d, uint64_t n)
{
	if (n == 0) {
		crypto_hash_sha256(out, NULL, 0);
	} else if (n == 1) {
		memcpy(out, d[0], RQ_HASH_LEN);
	} else {
		uint64_t k = ref_split(n);
		rq_hash l, r;
		ref_mth(l, d, k);
		ref_mth(r, d + k, n - k);
		rq_merkle_node_hash(out, l, r);
	}
}

static void ref_path(rq_hash *out, size_t *n, uint64_t m, const rq_hash *d, uint64_t len)
{
	if (len <= 1)
		return;
	uint64_t k = ref_split(len);
	if (m < k) {
		ref_path(out, n, m, d, k);
		ref_mth(out[(*n)++], d + k, len - k);
	} else {
		ref_path(out, n, m - k, d + k, len - k);
		ref_mth(out[(*n)++], d, k);
	}
}

static void ref_subproof(rq_hash *out, size_t *n, uint64_t m, const rq_hash *d, uint64_t len, bool b)
{
	if (m == len) {
		if (!b)
			ref_mth(out[(*n)++], d, len);
		return;
	}
	uint64_t k = ref_split(len);
	if (m <= k) {
		ref_subproof(out, n, m, d, k, b);
		ref_mth(out[(*n)++], d + k, len - k);
	} else {
		ref_subproof(out, n, m - k, d + k, len - k, false);
		ref_mth(out[(*n)++], d, k);
	}
}

static void leaves_of(rq_hash *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char s[32];
		int len = snprintf(s, sizeof(s), "leaf %zu", i);
		rq_merkle_leaf_hash(d[i], s, (size_t)len);
	}
}

static void hex_of(char out[RQ_HASH_HEX_SIZE], const rq_hash h)
{
	rq_hex_encode(out, h, RQ_HASH_LEN);
}

/* A node callback that counts the look-ups and refuses imperfect ones. */
struct counting {
	rq_merkle_levels *t;
	unsigned calls;
};

static int counting_node(rq_hash out, unsigned level, uint64_t index, void *ctx)
{
	struct counting *c = ctx;
	c->calls++;
	return rq_merkle_levels_node(out, level, index, c->t);
}

TEST(merkle_hashes_known)
{
	/* SHA-256("") is the empty tree; leaf and node domain separation */
	rq_hash h, a, b;
	char hex[RQ_HASH_HEX_SIZE];
	CHECK_OK(rq_merkle_root(h, 0, rq_merkle_levels_node, NULL));
	hex_of(hex, h);
	CHECK_STR_EQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	rq_merkle_leaf_hash(h, "", 0);
	hex_of(hex, h);
	CHECK_STR_EQ(hex, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
	memset(a, 0, sizeof(a));
	memset(b, 0xff, sizeof(b));
	rq_merkle_node_hash(h, a, b);
	rq_hash h2;
	rq_merkle_node_hash(h2, b, a);
	CHECK(memcmp(h, h2, RQ_HASH_LEN) != 0);
}

/* Roots and proofs over leaves "leaf 0", "leaf 1", ... from Python:
 * /usr/bin/python3 with hashlib, the RFC recursion written independently. */
TEST(merkle_known_answers_python)
{
	static const struct {
		uint64_t n;
		const char *root;
	} roots[] = {
		{ 1, "1bb97dcc21635d47e2663efdfd0a174686d98dd701352dd2cd06e8b43fd3d305" },
		{ 2, "fc5f6b88ff8554f75bb2f9e6f39c31b1936d44b69276edf7b1205a955b9761e3" },
		{ 3, "d4f92c8fbb89720eb3b55677c7d7efaddfeb10d11a1a84a0ba8f1a23337faa95" },
		{ 5, "341515982d650e23520dbd54d7fcf0afa1b70cc3a16a411d464dc9c1ac96c301" },
		{ 7, "5a61fc2b54f9cfa71774f2432143dd40c6cb2b11947faf65a7d3da5cb65199c8" },
		{ 8, "c5c2c820ed342fdda8ce896b6b9cf5b8c00a21cc4b20714cc6e5d3c05c35240b" },
		{ 13, "cf9b4c2a44a7caa722d5d548ee64ff90a119b0c31acac3444dc583000a39d3ca" },
		{ 64, "f261e23692d978fdac3fd949db5495940a437ae671b9a6dde9aa6118d003652f" },
		{ 65, "a3829b45308adda5051c52c277756a3322ca8f75c41ac23b3b2a36b39cf8e96d" },
		{ 100, "13f88915c560dc911a1da0fb209d84a20971051f294ebeb428fb3fc293af2743" },
	};
	static const char *incl_5_13[] = {
		"83115f8947955fafdc2a27e7f4c0854bbd8da27bb1b3e3405db571c9af8dbe1a",
		"6ebcc54b6710ee0610a7fc82cde51713db280e3dc84515bde9632a19b65a0b93",
		"4f631084a157c54f54fcfb23ff5eb8650c4ba160c295bb13a9832b109d52677e",
		"14a20345371e2cf4d6bb34adec274a9f95fc30f31508d70465a56f868b601975",
	};
	static const char *cons_6_13[] = {
		"75ab928268c86f44da5d4241188ed71e4aab2d4d77d6d50117dad94a842ede03",
		"6ebcc54b6710ee0610a7fc82cde51713db280e3dc84515bde9632a19b65a0b93",
		"4f631084a157c54f54fcfb23ff5eb8650c4ba160c295bb13a9832b109d52677e",
		"14a20345371e2cf4d6bb34adec274a9f95fc30f31508d70465a56f868b601975",
	};
	static const char *cons_4_13[] = {
		"c3e6b3b91f3a13b9a4270b2cd911623abb3a7a855af5e6e4b71c84f990cdc469",
		"14a20345371e2cf4d6bb34adec274a9f95fc30f31508d70465a56f868b601975",
	};
	rq_hash d[100], h, proof[RQ_MERKLE_MAX_PROOF];
	char hex[RQ_HASH_HEX_SIZE];
	size_t n;
	rq_merkle_levels t;
	leaves_of(d, 100);
	rq_merkle_levels_init(&t);
	uint64_t have = 0;
	for (size_t i = 0; i < RQ_ARRAY_SIZE(roots); i++) {
		while (have < roots[i].n)
			rq_merkle_levels_append(&t, d[have++]);
		CHECK_OK(rq_merkle_root(h, roots[i].n, rq_merkle_levels_node, &t));
		hex_of(hex, h);
		CHECK_STR_EQ(hex, roots[i].root);
	}
	CHECK_OK(rq_merkle_inclusion_proof(proof, &n, 5, 13, rq_merkle_levels_node, &t));
	CHECK_INT_EQ(n, RQ_ARRAY_SIZE(incl_5_13));
	for (size_t i = 0; i < n && i < RQ_ARRAY_SIZE(incl_5_13); i++) {
		hex_of(hex, proof[i]);
		CHECK_STR_EQ(hex, incl_5_13[i]);
	}
	CHECK_OK(rq_merkle_consistency_proof(proof, &n, 6, 13, rq_merkle_levels_node, &t));
	CHECK_INT_EQ(n, RQ_ARRAY_SIZE(cons_6_13));
	for (size_t i = 0; i < n && i < RQ_ARRAY_SIZE(cons_6_13); i++) {
		hex_of(hex, proof[i]);
		CHECK_STR_EQ(hex, cons_6_13[i]);
	}
	CHECK_OK(rq_merkle_consistency_proof(proof, &n, 4, 13, rq_merkle_levels_node, &t));
	CHECK_INT_EQ(n, RQ_ARRAY_SIZE(cons_4_13));
	for (size_t i = 0; i < n && i < RQ_ARRAY_SIZE(cons_4_13); i++) {
		hex_of(hex, proof[i]);
		CHECK_STR_EQ(hex, cons_4_13[i]);
	}
	rq_merkle_levels_release(&t);
}

TEST(merkle_levels_linear)
{
	rq_hash d[300];
	rq_merkle_levels t;
	leaves_of(d, 300);
	rq_merkle_levels_init(&t);
	for (size_t i = 0; i < 300; i++) {
		rq_merkle_levels_append(&t, d[i]);
		/* exactly the perfect subtrees of i+1 leaves exist */
		for (unsigned l = 0; l < 64; l++)
			if (t.count[l] != (uint64_t)(i + 1) >> l)
				unit_fail(__FILE__, __LINE__, "after %zu leaves level %u has %" PRIu64,
					  i + 1, l, t.count[l]);
	}
	CHECK_INT_EQ(t.depth, 9); /* 256 <= 300 < 512 */
	/* a perfect subtree is the MTH of its leaves */
	rq_hash h;
	ref_mth(h, d + 128, 64);
	CHECK(memcmp(h, t.level[6][2], RQ_HASH_LEN) == 0);
	CHECK_ERR(rq_merkle_levels_node(h, 8, 2, &t), RQ_ENOTFOUND);
	CHECK_ERR(rq_merkle_levels_node(h, 64, 0, &t), RQ_ENOTFOUND);
	rq_merkle_levels_release(&t);
	CHECK_INT_EQ(t.depth, 0);
	rq_merkle_levels_release(&t); /* twice is harmless */
}

static bool proofs_equal(const rq_hash *a, size_t na, const rq_hash *b, size_t nb)
{
	return na == nb && (na == 0 || memcmp(a, b, na * sizeof(rq_hash)) == 0);
}

/* Every index and every old size of every tree of 1..70 leaves. */
TEST(merkle_proofs_exhaustive)
{
	enum { N = 70 };
	rq_hash d[N], root, ref_root, roots[N + 1];
	rq_hash proof[RQ_MERKLE_MAX_PROOF], ref[RQ_MERKLE_MAX_PROOF];
	size_t n, nref;
	rq_merkle_levels t;
	struct counting c;
	unsigned checked = 0, rejected = 0, max_calls = 0;
	leaves_of(d, N);
	rq_merkle_levels_init(&t);
	c.t = &t;
	for (uint64_t size = 1; size <= N; size++) {
		rq_merkle_levels_append(&t, d[size - 1]);
		c.calls = 0;
		CHECK_OK(rq_merkle_root(root, size, counting_node, &c));
		ref_mth(ref_root, d, size);
		if (memcmp(root, ref_root, RQ_HASH_LEN) != 0)
			unit_fail(__FILE__, __LINE__, "root of %" PRIu64 " leaves differs", size);
		memcpy(roots[size], root, RQ_HASH_LEN);
		for (uint64_t i = 0; i < size; i++) {
			c.calls = 0;
			CHECK_OK(rq_merkle_inclusion_proof(proof, &n, i, size, counting_node, &c));
			if (c.calls > max_calls)
				max_calls = c.calls;
			nref = 0;
			ref_path(ref, &nref, i, d, size);
			if (!proofs_equal(proof, n, ref, nref))
				unit_fail(__FILE__, __LINE__, "inclusion proof %" PRIu64 "/%" PRIu64
					  " differs from the reference", i, size);
			if (rq_merkle_verify_inclusion(d[i], i, size, proof, n, root) != 0)
				unit_fail(__FILE__, __LINE__, "inclusion %" PRIu64 "/%" PRIu64 ": %s", i,
					  size, rq_error_last());
			checked++;
			/* every single-bit change of a proof hash, the leaf, the root */
			for (size_t j = 0; j < n; j++) {
				proof[j][j % RQ_HASH_LEN] ^= 0x10;
				if (rq_merkle_verify_inclusion(d[i], i, size, proof, n, root) == 0)
					unit_fail(__FILE__, __LINE__, "tampered proof accepted");
				else
					rejected++;
				proof[j][j % RQ_HASH_LEN] ^= 0x10;
			}
			if (rq_merkle_verify_inclusion(d[(i + 1) % size], i, size, proof, n, root) == 0 &&
			    size > 1)
				unit_fail(__FILE__, __LINE__, "wrong leaf accepted");
			if (size > 1 && rq_merkle_verify_inclusion(d[i], (i + 1) % size, size, proof, n, root) == 0)
				unit_fail(__FILE__, __LINE__, "wrong index accepted at %" PRIu64 "/%" PRIu64, i, size);
			if (n > 0 && rq_merkle_verify_inclusion(d[i], i, size, proof, n - 1, root) == 0)
				unit_fail(__FILE__, __LINE__, "truncated proof accepted");
		}
		for (uint64_t m = 1; m <= size; m++) {
			CHECK_OK(rq_merkle_consistency_proof(proof, &n, m, size, counting_node, &c));
			nref = 0;
			ref_subproof(ref, &nref, m, d, size, true);
			if (!proofs_equal(proof, n, ref, nref))
				unit_fail(__FILE__, __LINE__, "consistency proof %" PRIu64 "->%" PRIu64
					  " differs from the reference", m, size);
			if (rq_merkle_verify_consistency(m, size, roots[m], root, proof, n) != 0)
				unit_fail(__FILE__, __LINE__, "consistency %" PRIu64 "->%" PRIu64 ": %s", m,
					  size, rq_error_last());
			checked++;
			for (size_t j = 0; j < n; j++) {
				proof[j][31 - j % RQ_HASH_LEN] ^= 0x01;
				if (rq_merkle_verify_consistency(m, size, roots[m], root, proof, n) == 0)
					unit_fail(__FILE__, __LINE__, "tampered consistency proof accepted");
				else
					rejected++;
				proof[j][31 - j % RQ_HASH_LEN] ^= 0x01;
			}
			if (m > 1 && m < size &&
			    rq_merkle_verify_consistency(m, size, roots[m - 1], root, proof, n) == 0)
				unit_fail(__FILE__, __LINE__, "wrong old root accepted");
			if (m < size && rq_merkle_verify_consistency(m, size, roots[m], roots[size - 1], proof,
								     n) == 0)
				unit_fail(__FILE__, __LINE__, "wrong new root accepted");
		}
	}
	CHECK(checked == 70 * 71);
	CHECK(rejected > 1000);
	CHECK(max_calls > 0 && max_calls < 64);
	rq_merkle_levels_release(&t);
}

TEST(merkle_bad_sizes)
{
	rq_hash d[4], proof[RQ_MERKLE_MAX_PROOF], h;
	size_t n = 99;
	rq_merkle_levels t;
	leaves_of(d, 4);
	rq_merkle_levels_init(&t);
	for (int i = 0; i < 4; i++)
		rq_merkle_levels_append(&t, d[i]);
	CHECK_ERR(rq_merkle_inclusion_proof(proof, &n, 4, 4, rq_merkle_levels_node, &t), RQ_EINVALID);
	CHECK_INT_EQ(n, 0);
	CHECK_ERR(rq_merkle_inclusion_proof(proof, &n, 0, 0, rq_merkle_levels_node, &t), RQ_EINVALID);
	CHECK_ERR(rq_merkle_consistency_proof(proof, &n, 0, 4, rq_merkle_levels_node, &t), RQ_EINVALID);
	CHECK_ERR(rq_merkle_consistency_proof(proof, &n, 5, 4, rq_merkle_levels_node, &t), RQ_EINVALID);
	CHECK_OK(rq_merkle_consistency_proof(proof, &n, 4, 4, rq_merkle_levels_node, &t));
	CHECK_INT_EQ(n, 0);
	/* a tree larger than the store: the callback's error comes through */
	CHECK_ERR(rq_merkle_root(h, 5, rq_merkle_levels_node, &t), RQ_ENOTFOUND);
	CHECK_ERR(rq_merkle_inclusion_proof(proof, &n, 0, 6, rq_merkle_levels_node, &t), RQ_ENOTFOUND);
	CHECK_ERR(rq_merkle_verify_inclusion(d[0], 4, 4, proof, 0, h), RQ_EINVALID);
	CHECK_ERR(rq_merkle_verify_consistency(0, 4, h, h, proof, 0), RQ_EINVALID);
	CHECK_ERR(rq_merkle_verify_consistency(5, 4, h, h, proof, 0), RQ_EINVALID);
	rq_merkle_levels_release(&t);
}

/* ---- the transparency-dev vectors ---- */

static rq_buf vector_files = RQ_BUF_INIT; /* NUL-separated paths */

static int collect(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	size_t len = strlen(path);
	if (flag == FTW_F && len > 5 && strcmp(path + len - 5, ".json") == 0)
		rq_buf_put(&vector_files, path, len + 1);
	return 0;
}

static const char *testdata(void)
{
	const char *d = getenv("RQ_TESTDATA");
	return d && *d ? d : "tests/data";
}

/* Decode a base64 field. Leaf hashes and proof hashes must be 32 bytes
 * (anything else is rejected, as rq_proof_parse does). Roots the vectors
 * give in another length ("don't care" placeholders, truncated roots) can
 * never equal a computed root; they map to SHA-256(0xff || bytes), a
 * 32-byte stand-in that keeps equality between two such roots and equals
 * no tree hash, so the verifier still decides. */
static bool field(rq_hash out, json_t *v, bool is_root)
{
	const char *s = json_string_value(v);
	uint8_t raw[256];
	size_t len;
	if (!s || sodium_base642bin(raw, sizeof(raw), s, strlen(s), NULL, &len, NULL,
				    sodium_base64_VARIANT_ORIGINAL) != 0)
		return false;
	if (len == RQ_HASH_LEN) {
		memcpy(out, raw, RQ_HASH_LEN);
		return true;
	}
	if (!is_root)
		return false;
	crypto_hash_sha256_state st;
	const uint8_t ff = 0xff;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, &ff, 1);
	crypto_hash_sha256_update(&st, raw, len);
	crypto_hash_sha256_final(&st, out);
	return true;
}

/* A size or index read as a real: integral values below 2^53 are exact;
 * 2^64 (how 2^64-1 rounds) becomes UINT64_MAX, the vector's intent. */
static bool to_u64(uint64_t *out, json_t *v)
{
	double x = json_real_value(v);
	if (!json_is_real(v) || x < 0 || x != floor(x))
		return false;
	if (x >= 18446744073709551616.0)
		*out = UINT64_MAX;
	else if (x <= 9007199254740992.0)
		*out = (uint64_t)x;
	else
		return false;
	return true;
}

/* 1 accepted, 0 rejected, -1 the file is not a vector we understand. */
static int run_vector(const char *path, bool *want_err, bool *by_decoding)
{
	json_error_t e;
	/* as reals: one vector's index is 2^64-1, beyond jansson's integers */
	json_t *j = json_load_file(path, JSON_DECODE_INT_AS_REAL, &e);
	rq_hash proof[RQ_MERKLE_MAX_PROOF + 1], r1, r2, leaf;
	int result = -1;
	bool ok = true;
	*by_decoding = false;
	if (!j || !json_is_boolean(json_object_get(j, "wantErr")))
		goto done;
	*want_err = json_is_true(json_object_get(j, "wantErr"));
	json_t *p = json_object_get(j, "proof");
	size_t n = json_is_array(p) ? json_array_size(p) : 0;
	if (!json_is_array(p) && !json_is_null(p))
		goto done;
	if (n > RQ_MERKLE_MAX_PROOF) {
		ok = false;
	} else {
		for (size_t i = 0; i < n; i++)
			if (!field(proof[i], json_array_get(p, i), false))
				ok = false;
	}
	if (json_object_get(j, "leafIdx")) {
		json_t *idx = json_object_get(j, "leafIdx"), *size = json_object_get(j, "treeSize");
		uint64_t ix, sz;
		if (!to_u64(&ix, idx) || !to_u64(&sz, size))
			goto done;
		if (!field(r1, json_object_get(j, "root"), true) || !field(leaf, json_object_get(j, "leafHash"), false))
			ok = false;
		if (!ok) {
			*by_decoding = true;
			result = 0;
			goto done;
		}
		result = rq_merkle_verify_inclusion(leaf, ix, sz, proof, n, r1) == 0;
	} else if (json_object_get(j, "size1")) {
		uint64_t s1, s2;
		if (!to_u64(&s1, json_object_get(j, "size1")) || !to_u64(&s2, json_object_get(j, "size2")))
			goto done;
		if (!field(r1, json_object_get(j, "root1"), true) || !field(r2, json_object_get(j, "root2"), true))
			ok = false;
		if (!ok) {
			*by_decoding = true;
			result = 0;
			goto done;
		}
		result = rq_merkle_verify_consistency(s1, s2, r1, r2, proof, n) == 0;
	}
	if (result == 0 && strlen(rq_error_last()) == 0)
		unit_fail(__FILE__, __LINE__, "%s: rejected without a message", path);
done:
	json_decref(j);
	return result;
}

TEST(merkle_transparency_dev_vectors)
{
	rq_buf dir = RQ_BUF_INIT;
	unsigned valid = 0, rejected = 0, by_decoding = 0, inclusion = 0, consistency = 0;
	rq_buf_printf(&dir, "%s/merkle-vectors", testdata());
	rq_buf_reset(&vector_files);
	if (nftw(dir.ptr, collect, 16, FTW_PHYS) != 0) {
		unit_fail(__FILE__, __LINE__, "%s: cannot walk the vectors (set RQ_TESTDATA)", dir.ptr);
		goto done;
	}
	for (size_t off = 0; off < vector_files.len;) {
		const char *path = vector_files.ptr + off;
		off += strlen(path) + 1;
		bool want_err = false, dec = false;
		int r = run_vector(path, &want_err, &dec);
		if (strstr(path, "/inclusion/"))
			inclusion++;
		else
			consistency++;
		if (r < 0) {
			unit_fail(__FILE__, __LINE__, "%s: not a vector", path);
		} else if (!want_err && r != 1) {
			unit_fail(__FILE__, __LINE__, "%s: valid vector rejected: %s", path, rq_error_last());
		} else if (want_err && r != 0) {
			unit_fail(__FILE__, __LINE__, "%s: mutated vector accepted", path);
		} else if (want_err) {
			rejected++;
			by_decoding += dec;
		} else {
			valid++;
		}
	}
	if (getenv("UNIT_VERBOSE"))
		printf("merkle vectors: %u valid, %u rejected (%u at decoding), %u inclusion, %u consistency\n",
		       valid, rejected, by_decoding, inclusion, consistency);
	/* the counts of the copied set: the test cannot pass on an empty dir */
	CHECK_INT_EQ(valid + rejected, 196);
	CHECK(valid >= 10);
	CHECK(rejected >= 150);
	CHECK(rejected - by_decoding >= 120); /* most rejections by the verifier itself */
	CHECK(inclusion > 0 && consistency > 0);
done:
	rq_buf_release(&dir);
	rq_buf_release(&vector_files);
}
