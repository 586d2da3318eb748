/* One-pass reading of canonical JSON: the bytes that rq_json_dump(...,
 * RQ_JSON_CANONICAL) writes, checked while the jansson tree is built (no
 * jansson lexer, no second encoding to compare with). Used by
 * rq_entry_parse on every entry verify reads. */
#ifndef RESQUE_CANON_H
#define RESQUE_CANON_H

#include <jansson.h>
#include <stddef.h>

/* Nesting and number lengths beyond these are left to the slow path. */
#define RQ_CANON_MAX_DEPTH 64
#define RQ_CANON_MAX_NUMBER 40

/* The tree of `bytes` (a new reference) when they are a JSON object that
 * jansson's json_loadb(JSON_REJECT_DUPLICATES) reads and that encodes back
 * to exactly `bytes` canonically; NULL otherwise, and also for what is
 * merely unusual (nesting deeper than RQ_CANON_MAX_DEPTH, a number longer
 * than RQ_CANON_MAX_NUMBER, a locale whose decimal point is not '.', out
 * of memory): the caller then parses with jansson and re-encodes, which
 * says why. Never a tree where that slow path would fail; the same tree
 * where it succeeds (tests/unit/test_canon.c, tests/fuzz/fuzz_canon.c). */
json_t *rq_canon_load(const void *bytes, size_t len);

#endif
