/* One-pass reading of canonical JSON (canon.h): every byte is checked
 * against the one spelling rq_json_dump(RQ_JSON_CANONICAL) gives the value
 * jansson would read from it, while the tree is built. */
#include "common.h"
#include "canon.h"
#include "json.h"

#include <locale.h>
#include <math.h>

struct cj {
	const unsigned char *p, *end;
	rq_buf tmp; /* a string value's bytes, when it holds an escape */
	int depth;
};

static json_t *cj_value(struct cj *c);

static bool is_digit(unsigned char ch)
{
	return ch >= '0' && ch <= '9';
}

/* The byte an escape "\X" stands for in the canonical spelling, or -1
 * when the encoder never writes that escape: it writes '"', '\\', \b \f
 * \n \r \t and \u00xx (lower-case hex) for the other bytes below 0x20, and
 * every other character as itself. */
static int unescape(struct cj *c)
{
	const unsigned char *q = c->p + 1; /* after the backslash */
	if (q >= c->end)
		return -1;
	c->p = q + 1;
	switch (*q) {
	case '"': return '"';
	case '\\': return '\\';
	case 'b': return '\b';
	case 'f': return '\f';
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	case 'u': break;
	default: return -1;
	}
	if (c->end - q < 5 || q[1] != '0' || q[2] != '0' || (q[3] != '0' && q[3] != '1'))
		return -1;
	int lo = is_digit(q[4]) ? q[4] - '0' : (q[4] >= 'a' && q[4] <= 'f') ? q[4] - 'a' + 10 : -1;
	if (lo < 0)
		return -1;
	int ch = (q[3] - '0') * 16 + lo;
	c->p = q + 5;
	/* \u0000 is refused by jansson; the others have a short form */
	if (ch == 0 || ch == '\b' || ch == '\f' || ch == '\n' || ch == '\r' || ch == '\t')
		return -1;
	return ch;
}

/* The string at c->p (its opening quote): *s and *n its bytes, which are
 * the input itself or, when it holds an escape, `scratch`. */
static bool cj_string(struct cj *c, const char **s, size_t *n, rq_buf *scratch)
{
	const unsigned char *run = ++c->p; /* bytes not yet copied to scratch */
	bool escaped = false;

	for (;;) {
		if (c->p >= c->end)
			return false;
		unsigned char ch = *c->p;
		if (ch >= 0x20 && ch < 0x80 && ch != '"' && ch != '\\') {
			c->p++;
		} else if (ch >= 0x80) {
			size_t k = rq_utf8_len(c->p, (size_t)(c->end - c->p));
			if (!k)
				return false;
			c->p += k;
		} else if (ch == '"') {
			break;
		} else if (ch == '\\') {
			if (!escaped)
				rq_buf_reset(scratch);
			escaped = true;
			rq_buf_put(scratch, run, (size_t)(c->p - run));
			int u = unescape(c);
			if (u < 0)
				return false;
			rq_buf_putc(scratch, (char)u);
			run = c->p;
		} else {
			return false; /* a control character as itself */
		}
	}
	if (escaped) {
		rq_buf_put(scratch, run, (size_t)(c->p - run));
		*s = scratch->ptr;
		*n = scratch->len;
	} else {
		*s = (const char *)run;
		*n = (size_t)(c->p - run);
	}
	c->p++; /* the closing quote */
	return true;
}

/* An integer token: jansson reads it with strtoll (out of range is an
 * error); the encoder writes it back in decimal, so only "-0" is not
 * canonical. */
static json_t *cj_integer(const unsigned char *s, const unsigned char *end)
{
	bool neg = *s == '-';
	unsigned long long u = 0, limit = neg ? 9223372036854775808ULL : 9223372036854775807ULL;

	if (neg && end - s == 2 && s[1] == '0')
		return NULL;
	for (const unsigned char *q = s + neg; q < end; q++) {
		unsigned d = (unsigned)(*q - '0');
		if (u > (limit - d) / 10)
			return NULL;
		u = u * 10 + d;
	}
	return json_integer(neg ? -(json_int_t)(u - 1) - 1 : (json_int_t)u);
}

/* A real token: canonical when the shortest round-trip spelling of what
 * strtod reads (as jansson reads it, in a locale whose decimal point is
 * '.') is the token itself. */
static json_t *cj_real(const unsigned char *s, size_t len)
{
	char buf[RQ_CANON_MAX_NUMBER], back[RQ_JSON_DOUBLE_SIZE], *endp;
	const struct lconv *lc = localeconv();

	if (len >= sizeof(buf) || strcmp(lc->decimal_point, ".") != 0)
		return NULL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	double d = strtod(buf, &endp);
	if (endp != buf + len || !isfinite(d))
		return NULL;
	rq_json_format_double(back, d);
	if (strlen(back) != len || memcmp(back, buf, len) != 0)
		return NULL;
	return json_real(d);
}

/* JSON's number grammar (jansson's: no leading zero, digits after '.'
 * and after the exponent's sign). */
static json_t *cj_number(struct cj *c)
{
	const unsigned char *s = c->p, *q = s, *end = c->end;
	bool real = false;

	if (q < end && *q == '-')
		q++;
	if (q >= end || !is_digit(*q))
		return NULL;
	if (*q == '0') {
		if (++q < end && is_digit(*q))
			return NULL;
	} else {
		while (q < end && is_digit(*q))
			q++;
	}
	if (q < end && *q == '.') {
		real = true;
		if (++q >= end || !is_digit(*q))
			return NULL;
		while (q < end && is_digit(*q))
			q++;
	}
	if (q < end && (*q == 'e' || *q == 'E')) {
		real = true;
		if (++q < end && (*q == '+' || *q == '-'))
			q++;
		if (q >= end || !is_digit(*q))
			return NULL;
		while (q < end && is_digit(*q))
			q++;
	}
	c->p = q;
	if ((size_t)(q - s) >= RQ_CANON_MAX_NUMBER)
		return NULL;
	return real ? cj_real(s, (size_t)(q - s)) : cj_integer(s, q);
}

/* Bytes a before bytes b, as strcmp orders keys (neither holds a NUL). */
static int key_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int r = memcmp(a, b, an < bn ? an : bn);
	return r ? r : (an > bn) - (an < bn);
}

/* Keys in strictly increasing byte order: sorted, and no duplicate. */
static json_t *cj_object(struct cj *c)
{
	json_t *o = json_object();
	rq_buf kb[2] = { RQ_BUF_INIT, RQ_BUF_INIT }; /* the last two keys, when escaped */
	const char *pk = NULL, *k;
	size_t pn = 0, kn;
	int w = 0;
	bool ok = o != NULL;

	c->p++;
	if (ok && c->p < c->end && *c->p == '}') {
		c->p++;
		return o;
	}
	while (ok) {
		json_t *v;
		ok = c->p < c->end && *c->p == '"' && cj_string(c, &k, &kn, &kb[w]) &&
		     (!pk || key_cmp(pk, pn, k, kn) < 0) && c->p < c->end && *c->p++ == ':';
		if (!ok)
			break;
		v = cj_value(c);
		ok = v && json_object_setn_new_nocheck(o, k, kn, v) == 0;
		if (!ok)
			break;
		pk = k;
		pn = kn;
		w ^= 1;
		if (c->p < c->end && *c->p == '}') {
			c->p++;
			break;
		}
		ok = c->p < c->end && *c->p++ == ',';
	}
	rq_buf_release(&kb[0]);
	rq_buf_release(&kb[1]);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *cj_array(struct cj *c)
{
	json_t *a = json_array();
	bool ok = a != NULL;

	c->p++;
	if (ok && c->p < c->end && *c->p == ']') {
		c->p++;
		return a;
	}
	while (ok) {
		json_t *v = cj_value(c);
		ok = v && json_array_append_new(a, v) == 0;
		if (!ok)
			break;
		if (c->p < c->end && *c->p == ']') {
			c->p++;
			break;
		}
		ok = c->p < c->end && *c->p++ == ',';
	}
	if (!ok) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static json_t *cj_word(struct cj *c, const char *word, json_t *v)
{
	size_t n = strlen(word);
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
		return NULL;
	c->p += n;
	return v;
}

static json_t *cj_value(struct cj *c)
{
	json_t *v = NULL;
	const char *s;
	size_t n;

	if (c->p >= c->end)
		return NULL;
	switch (*c->p) {
	case '{':
	case '[':
		if (c->depth >= RQ_CANON_MAX_DEPTH)
			return NULL;
		c->depth++;
		v = *c->p == '{' ? cj_object(c) : cj_array(c);
		c->depth--;
		return v;
	case '"':
		return cj_string(c, &s, &n, &c->tmp) ? json_stringn_nocheck(s, n) : NULL;
	case 't': return cj_word(c, "true", json_true());
	case 'f': return cj_word(c, "false", json_false());
	case 'n': return cj_word(c, "null", json_null());
	default: return cj_number(c);
	}
}

json_t *rq_canon_load(const void *bytes, size_t len)
{
	struct cj c = { (const unsigned char *)bytes, (const unsigned char *)bytes + len, RQ_BUF_INIT, 0 };
	json_t *v = NULL;

	if (len && *c.p == '{')
		v = cj_value(&c);
	if (v && c.p != c.end) {
		json_decref(v);
		v = NULL;
	}
	rq_buf_release(&c.tmp);
	return v;
}
