/* libFuzzer target: inclusion and consistency proofs in text and JSON
 * form (rq_proof_parse), which must print back to what parses the same,
 * then verification against a fixed root. */
#include "common.h"
#include "checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rq_proof p, q;
	rq_buf b = RQ_BUF_INIT;
	rq_hash leaf, root, old_root;
	if (rq_proof_parse(&p, (const char *)data, size, "fuzz.proof") != 0)
		return 0;
	/* both printed forms parse back to the same proof */
	rq_proof_format(&b, &p);
	if (rq_proof_parse(&q, b.ptr, b.len, "text") != 0 || memcmp(&p, &q, sizeof(p)) != 0)
		abort();
	rq_buf_reset(&b);
	rq_proof_format_json(&b, &p);
	if (rq_proof_parse(&q, b.ptr, b.len, "json") != 0 || memcmp(&p, &q, sizeof(p)) != 0)
		abort();
	rq_buf_release(&b);
	rq_merkle_leaf_hash(leaf, "leaf", 4);
	memset(root, 0x5a, sizeof(root));
	memset(old_root, 0xa5, sizeof(old_root));
	if (p.kind == RQ_PROOF_INCLUSION)
		(void)rq_merkle_verify_inclusion(leaf, p.index, p.size, p.hashes, p.n, root);
	else
		(void)rq_merkle_verify_consistency(p.old_size, p.size, old_root, root, p.hashes, p.n);
	return 0;
}
