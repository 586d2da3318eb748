/* libFuzzer target: verify's direct reading of packed objects
 * (rq_packs_read's first step, store/object.c) from a damaged or forged
 * pack and index. The input is a 2-byte little-endian index length, the
 * index, then the pack; each object id the index lists (the first 64) is
 * read as each type. Whatever is read must hash to its id (checked here
 * again); nothing may be read out of bounds. */
#include "common.h"
#include "object_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const git_object_t types[] = { GIT_OBJECT_COMMIT, GIT_OBJECT_TREE, GIT_OBJECT_BLOB };
	static bool inited;
	if (!inited) {
		git_libgit2_init();
		inited = true;
	}
	if (size < 2)
		return 0;
	size_t il = (size_t)data[0] | (size_t)data[1] << 8;
	if (il > size - 2)
		il = size - 2;
	/* copies, so that a read past either end is caught by ASan */
	uint8_t *idx = malloc(il ? il : 1), *pack = malloc(size - 2 - il ? size - 2 - il : 1);
	memcpy(idx, data + 2, il);
	memcpy(pack, data + 2 + il, size - 2 - il);
	size_t n = il >= 1072 ? (il - 1072) / 20 : 0;
	for (size_t i = 0; i < n && i < 64; i++) {
		git_oid id;
		memcpy(id.id, idx + 1032 + 20 * i, 20);
		for (size_t t = 0; t < 3; t++) {
			rq_buf out = RQ_BUF_INIT;
			git_oid calc;
			if (rq_packs__read_bytes(&out, idx, il, pack, size - 2 - il, &id, types[t]) == 0 &&
			    (git_odb_hash(&calc, out.ptr, out.len, types[t]) != 0 || !git_oid_equal(&calc, &id)))
				abort();
			rq_buf_release(&out);
		}
	}
	free(idx);
	free(pack);
	return 0;
}
