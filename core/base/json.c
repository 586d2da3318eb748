/* Canonical and pretty JSON printing, strict parsing (see json.h). */
#include "common.h"
#include "json.h"

#include <math.h>

/* The reference spelling: the shortest of %.15g, %.16g, %.17g that reads
 * back as d. Slow (glibc formats and parses through big numbers). */
static void format_double_slow(char out[RQ_JSON_DOUBLE_SIZE], double d)
{
	snprintf(out, RQ_JSON_DOUBLE_SIZE, "%.15g", d);
	if (strtod(out, NULL) == d)
		return;
	snprintf(out, RQ_JSON_DOUBLE_SIZE, "%.16g", d);
	if (strtod(out, NULL) == d)
		return;
	snprintf(out, RQ_JSON_DOUBLE_SIZE, "%.17g", d);
}

typedef unsigned __int128 u128;

/* The same spelling computed exactly in 128-bit integers, for
 * 1e-4 <= |d| < 1e15 (every figure a ledger entry holds in practice):
 * |d| = m·2^q with q <= 0; for P = 15, 16, 17 the P significant digits
 * N = round-half-even(m·10^s / 2^-q), s = P-1-E, as printf rounds them;
 * N·10^-s reads back as d iff it lies within half a gap of d (the gap
 * below a power of two is half the one above; a tie reads back as d iff
 * m is even, as strtod rounds). Then %g's layout. Returns false outside
 * that range. Checked equal to the slow path on 2e7 doubles of every kind
 * (random bits, short decimals, neighbours of powers of 2 and 10). */
/* E = floor(log10 a) for a = m·2^-k in [1e-4, 1e15), exactly: 10^E <= a
 * < 10^(E+1). */
static int decimal_exponent(double a, uint64_t m, int k, const u128 *pow10)
{
	int E;
	if (a >= 1) {
		E = 0;
		while (E < 15 && a >= (double)pow10[E + 1]) /* 10^E is exact as a double */
			E++;
	} else {
		/* a >= 10^-j  <=>  m·10^j >= 2^k */
		E = -1;
		while (E > -4 && !((u128)m * pow10[-E] >= ((u128)1 << k)))
			E--;
	}
	return E;
}

/* N = round-half-even(m·10^s / 2^k), and in *ok whether N·10^-s reads back
 * as m·2^-k. False when the check would overflow 128 bits. */
static bool round_digits(u128 *N_out, bool *ok, uint64_t m, int k, int s, const u128 *pow10)
{
	u128 num = (u128)m * pow10[s];
	u128 N = k ? num >> k : num, rem = k ? num & (((u128)1 << k) - 1) : 0;
	if (k) {
		u128 half = (u128)1 << (k - 1);
		if (rem > half || (rem == half && (N & 1)))
			N++;
	}
	/* round trip: |N·2^(k+2) - 4·m·10^s| against the half gaps */
	if (k + 2 > 127 - 57)
		return false;
	u128 A = N << (k + 2), B = (u128)4 * m * pow10[s], lim;
	bool pow2 = m == (UINT64_C(1) << 52);
	if (A >= B) {
		lim = 2 * pow10[s];
		*ok = A - B < lim || (A - B == lim && !(m & 1));
	} else {
		lim = (pow2 ? 1 : 2) * pow10[s];
		*ok = B - A < lim || (B - A == lim && !(m & 1));
	}
	*N_out = N;
	return true;
}

/* %.Pg's layout of the P digits N·10^(E-P+1). */
static void layout_g(char out[RQ_JSON_DOUBLE_SIZE], bool neg, u128 N, int E, int P,
		     const u128 *pow10)
{
	int X = E;
	if (N >= pow10[P]) { /* rounded up to 10^P */
		N /= 10;
		X++;
	}
	char ds[24];
	int L = P;
	for (int i = P - 1; i >= 0; i--) {
		ds[i] = (char)('0' + (int)(N % 10));
		N /= 10;
	}
	while (L > 1 && ds[L - 1] == '0')
		L--;
	char *o = out;
	if (neg)
		*o++ = '-';
	if (X < -4 || X >= P) {
		*o++ = ds[0];
		if (L > 1) {
			*o++ = '.';
			memcpy(o, ds + 1, (size_t)(L - 1));
			o += L - 1;
		}
		int ax = X < 0 ? -X : X;
		*o++ = 'e';
		*o++ = X < 0 ? '-' : '+';
		if (ax >= 100)
			*o++ = (char)('0' + ax / 100);
		*o++ = (char)('0' + ax / 10 % 10);
		*o++ = (char)('0' + ax % 10);
	} else if (X >= 0) {
		memcpy(o, ds, (size_t)(X + 1));
		o += X + 1;
		if (L > X + 1) {
			*o++ = '.';
			memcpy(o, ds + X + 1, (size_t)(L - X - 1));
			o += L - X - 1;
		}
	} else {
		*o++ = '0';
		*o++ = '.';
		for (int i = 0; i < -X - 1; i++)
			*o++ = '0';
		memcpy(o, ds, (size_t)L);
		o += L;
	}
	*o = '\0';
}

static bool format_double_fast(char out[RQ_JSON_DOUBLE_SIZE], double d)
{
	uint64_t bits;
	memcpy(&bits, &d, sizeof(bits));
	bool neg = bits >> 63;
	int be = (int)((bits >> 52) & 0x7ff);
	if (be == 0 || be == 0x7ff)
		return false;
	uint64_t m = (bits & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1) << 52);
	int q = be - 1075;
	double a = neg ? -d : d;
	if (!(a >= 1e-4 && a < 1e15) || q > 0 || q < -120)
		return false;
	int k = -q;
	u128 pow10[21];
	pow10[0] = 1;
	for (int i = 1; i < 21; i++)
		pow10[i] = pow10[i - 1] * 10;
	int E = decimal_exponent(a, m, k, pow10);
	for (int P = 15; P <= 17; P++) {
		int s = P - 1 - E;
		u128 N;
		bool ok;
		if (s < 0 || s > 20 || !round_digits(&N, &ok, m, k, s, pow10))
			return false;
		if (!ok && P < 17)
			continue;
		layout_g(out, neg, N, E, P, pow10);
		return ok; /* P = 17 always reads back; !ok cannot happen */
	}
	return false;
}

void rq_json_format_double(char out[RQ_JSON_DOUBLE_SIZE], double d)
{
	/* "-0" would read back as the integer 0 and re-encode as "0": one
	 * spelling for zero keeps entries canonical. */
	if (d == 0) {
		snprintf(out, RQ_JSON_DOUBLE_SIZE, "0");
		return;
	}
	if (!format_double_fast(out, d))
		format_double_slow(out, d);
	/* Keep the spelling a JSON number: "inf" cannot happen (checked by the
	 * caller); "1e+20" is valid JSON, as is "-0". */
}

static void dump_string(rq_buf *out, const char *s, size_t len)
{
	size_t run = 0; /* s[run..i) needs no escape: copied at once */
	rq_buf_grow(out, len + 2);
	rq_buf_putc(out, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		rq_buf_put(out, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': rq_buf_puts(out, "\\\""); break;
		case '\\': rq_buf_puts(out, "\\\\"); break;
		case '\b': rq_buf_puts(out, "\\b"); break;
		case '\f': rq_buf_puts(out, "\\f"); break;
		case '\n': rq_buf_puts(out, "\\n"); break;
		case '\r': rq_buf_puts(out, "\\r"); break;
		case '\t': rq_buf_puts(out, "\\t"); break;
		default: rq_buf_printf(out, "\\u%04x", c);
		}
	}
	rq_buf_put(out, s + run, len - run);
	rq_buf_putc(out, '"');
}

/* printf's "%" JSON_INTEGER_FORMAT, without printf */
static void dump_integer(rq_buf *out, json_int_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		*--p = (char)('0' + (int)(u % 10));
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	rq_buf_put(out, p, (size_t)(tmp + sizeof(tmp) - p));
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
	char num[RQ_JSON_DOUBLE_SIZE];

	switch (json_typeof(j)) {
	case JSON_NULL: rq_buf_puts(out, "null"); return 0;
	case JSON_TRUE: rq_buf_puts(out, "true"); return 0;
	case JSON_FALSE: rq_buf_puts(out, "false"); return 0;
	case JSON_INTEGER:
		dump_integer(out, json_integer_value(j));
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
		/* jansson's iterators take a non-const object but only read it */
		json_t *obj = (json_t *)(uintptr_t)j;
		json_object_foreach(obj, key, val)
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

json_t *rq_json_number(double d)
{
	return isfinite(d) ? json_real(d) : json_null();
}

void rq_json_set_number(json_t *obj, const char *key, double d)
{
	if (isfinite(d))
		json_object_set_new(obj, key, json_real(d));
}
