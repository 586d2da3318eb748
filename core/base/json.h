/* JSON output over jansson trees: a canonical compact form (sorted keys,
 * no white space, shortest round-trip numbers) used for ledger entries, and
 * an indented form for `--json` output. jansson parses; we print, because
 * jansson's own real formatting is not the shortest round-trip form. */
#ifndef RESQUE_JSON_H
#define RESQUE_JSON_H

#include <jansson.h>
#include "resque/buf.h"

enum {
	RQ_JSON_CANONICAL = 1, /* keys sorted by bytes, compact */
	RQ_JSON_PRETTY = 2     /* insertion order, two-space indent, newline */
};

/* Append the encoding of `j` to `out`. Fails (RQ_EINVALID) on a
 * non-finite real, which JSON cannot represent. */
int rq_json_dump(rq_buf *out, const json_t *j, unsigned flags);

/* Shortest "%.{15,16,17}g" spelling of d that reads back as d
 * ("-1.2345678901234567e-308" and its NUL fit in the size). */
#define RQ_JSON_DOUBLE_SIZE 32
void rq_json_format_double(char out[RQ_JSON_DOUBLE_SIZE], double d);

/* Parse `len` bytes (strict: one value, no duplicate keys, UTF-8 checked).
 * On failure sets an error mentioning `name` and the line/column. */
int rq_json_parse(json_t **out, const char *data, size_t len, const char *name);

/* Typed getters that tolerate absence: return the default when missing or
 * of another type. Borrowed strings. */
const char *rq_json_str(const json_t *obj, const char *key, const char *def);
double rq_json_num(const json_t *obj, const char *key, double def);
json_int_t rq_json_int(const json_t *obj, const char *key, json_int_t def);

/* A new real for `d`, or JSON null when `d` is not finite (NaN marks a
 * figure that is unknown; JSON has no infinity). */
json_t *rq_json_number(double d);

/* Set `key` of `obj` to the real `d` when `d` is finite; otherwise leave
 * `obj` as it is (NaN marks a figure not given, which an entry omits). */
void rq_json_set_number(json_t *obj, const char *key, double d);

#endif
