/* Canonical and pretty JSON printing, strict parsing (see json.h). */
#include "common.h"
#include "resque/json.h"

#include <math.h>

void rq_json_format_double(char out[32], double d)
{
	/* "-0" would read back as the integer 0 and re-encode as "0": one
	 * spelling for zero keeps entries canonical. */
	if (d == 0) {
		snprintf(out, 32, "0");
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(out, 32, "%.*g", prec, d);
		if (strtod(out, NULL) == d)
			break;
	}
	/* Keep the spelling a JSON number: "inf" cannot happen (checked by the
	 * caller); "1e+20" is valid JSON, as is "-0". */
}

static void dump_string(rq_buf *out, const char *s, size_t len)
{
	rq_buf_putc(out, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': rq_buf_puts(out, "\\\""); break;
		case '\\': rq_buf_puts(out, "\\\\"); break;
		case '\b': rq_buf_puts(out, "\\b"); break;
		case '\f': rq_buf_puts(out, "\\f"); break;
		case '\n': rq_buf_puts(out, "\\n"); break;
		case '\r': rq_buf_puts(out, "\\r"); break;
		case '\t': rq_buf_puts(out, "\\t"); break;
		default:
			if (c < 0x20)
				rq_buf_printf(out, "\\u%04x", c);
			else
				rq_buf_putc(out, (char)c);
		}
	}
	rq_buf_putc(out, '"');
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void indent(rq_buf *out, int depth)
{
	rq_buf_putc(out, '\n');
	for (int i = 0; i < depth; i++)
		rq_buf_puts(out, "  ");
}

static int dump(rq_buf *out, const json_t *j, unsigned flags, int depth)
{
	bool pretty = flags & RQ_JSON_PRETTY;
	char num[32];

	switch (json_typeof(j)) {
	case JSON_NULL: rq_buf_puts(out, "null"); return 0;
	case JSON_TRUE: rq_buf_puts(out, "true"); return 0;
	case JSON_FALSE: rq_buf_puts(out, "false"); return 0;
	case JSON_INTEGER:
		rq_buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		return 0;
	case JSON_REAL: {
		double d = json_real_value(j);
		if (!isfinite(d))
			return rq_error_set(RQ_EINVALID, "cannot encode a non-finite number in JSON");
		rq_json_format_double(num, d);
		rq_buf_puts(out, num);
		return 0;
	}
	case JSON_STRING:
		dump_string(out, json_string_value(j), json_string_length(j));
		return 0;
	case JSON_ARRAY: {
		size_t n = json_array_size(j);
		rq_buf_putc(out, '[');
		for (size_t i = 0; i < n; i++) {
			if (i)
				rq_buf_putc(out, ',');
			if (pretty)
				indent(out, depth + 1);
			int err = dump(out, json_array_get(j, i), flags, depth + 1);
			if (err)
				return err;
		}
		if (pretty && n)
			indent(out, depth);
		rq_buf_putc(out, ']');
		return 0;
	}
	case JSON_OBJECT: {
		size_t n = json_object_size(j), i = 0;
		const char **keys = rq_xcalloc(n ? n : 1, sizeof(*keys));
		const char *key;
		json_t *val;
		int err = 0;
		json_object_foreach((json_t *)j, key, val)
			keys[i++] = key;
		if (!pretty)
			qsort(keys, n, sizeof(*keys), cmp_keys);
		rq_buf_putc(out, '{');
		for (i = 0; i < n && !err; i++) {
			if (i)
				rq_buf_putc(out, ',');
			if (pretty)
				indent(out, depth + 1);
			dump_string(out, keys[i], strlen(keys[i]));
			rq_buf_puts(out, pretty ? ": " : ":");
			err = dump(out, json_object_get(j, keys[i]), flags, depth + 1);
		}
		free(keys);
		if (err)
			return err;
		if (pretty && n)
			indent(out, depth);
		rq_buf_putc(out, '}');
		return 0;
	}
	}
	return rq_error_set(RQ_EINVALID, "unknown JSON type");
}

int rq_json_dump(rq_buf *out, const json_t *j, unsigned flags)
{
	size_t start = out->len;
	int err = dump(out, j, flags, 0);
	if (err) {
		rq_buf_truncate(out, start);
		return err;
	}
	if (flags & RQ_JSON_PRETTY)
		rq_buf_putc(out, '\n');
	return 0;
}

int rq_json_parse(json_t **out, const char *data, size_t len, const char *name)
{
	json_error_t e;
	json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
	*out = NULL;
	if (!j)
		return rq_error_set(RQ_EINVALID, "%s: invalid JSON at line %d, column %d: %s",
				    name, e.line, e.column, e.text);
	*out = j;
	return 0;
}

const char *rq_json_str(const json_t *obj, const char *key, const char *def)
{
	json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : def;
}

double rq_json_num(const json_t *obj, const char *key, double def)
{
	json_t *v = json_object_get(obj, key);
	return json_is_number(v) ? json_number_value(v) : def;
}

json_int_t rq_json_int(const json_t *obj, const char *key, json_int_t def)
{
	json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? json_integer_value(v) : def;
}
