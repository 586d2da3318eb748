/* libFuzzer target: the one-pass canonical JSON reader (core/entry/canon.c)
 * against jansson's parse and the canonical re-encoding it replaces on
 * verify's path. Aborts when they disagree: a tree the slow path refuses,
 * a different tree, or a canonical object refused (but for nesting deeper
 * than RQ_CANON_MAX_DEPTH and numbers of RQ_CANON_MAX_NUMBER bytes or more,
 * which are left to the slow path by design). */
#include "common.h"
#include "canon.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What canon.h says the reader may leave to the slow path. */
static bool unusual(const uint8_t *s, size_t n)
{
	int depth = 0, num = 0;
	bool in_str = false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
			continue;
		}
		num = (c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' || (c >= '0' && c <= '9')) ? num + 1 : 0;
		if (num >= RQ_CANON_MAX_NUMBER)
			return true;
		if (c == '"')
			in_str = true;
		else if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
			depth--;
		if (depth > RQ_CANON_MAX_DEPTH)
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je;
	json_t *f = rq_canon_load(data, size);
	json_t *r = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
	rq_buf canon = RQ_BUF_INIT;
	bool ref = r && json_is_object(r) && rq_json_dump(&canon, r, RQ_JSON_CANONICAL) == 0 &&
		   canon.len == size && memcmp(canon.ptr, data, size) == 0;
	if (f && (!ref || !json_equal(f, r)))
		abort();
	if (!f && ref && !unusual(data, size))
		abort();
	rq_buf_release(&canon);
	rq_error_clear();
	json_decref(f);
	json_decref(r);
	return 0;
}
