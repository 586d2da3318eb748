/* NumPy .npy reader: the magic, the version, and the header, a Python dict
 * literal that we parse ourselves (it is not JSON) from untrusted bytes. */
#include "common.h"
#include "array_int.h"

#define NPY_MAX_DIMS 64
#define NPY_MAX_STRING 32 /* the longest key or descr accepted, with its NUL */

struct npy_header {
	char descr[NPY_MAX_STRING];
	bool fortran;
	size_t dims[NPY_MAX_DIMS];
	int ndim;
	unsigned seen; /* bit 0 descr, 1 fortran_order, 2 shape */
};

struct cursor {
	const char *p, *end;
	const char *start;
	const char *name;
};

static int bad(const struct cursor *c, const char *what)
{
	return rq_error_set(RQ_EINVALID, "%s: malformed .npy header: %s at byte %zu", c->name,
			    what, (size_t)(c->p - c->start));
}

static void skip_ws(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static bool accept(struct cursor *c, char ch)
{
	skip_ws(c);
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		return true;
	}
	return false;
}

/* A quoted string without escapes; copies at most outsz-1 bytes. */
static int parse_string(struct cursor *c, char *out, size_t outsz)
{
	char q;
	size_t n = 0;

	skip_ws(c);
	if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
		return bad(c, "expected a quoted string");
	q = *c->p++;
	while (c->p < c->end && *c->p != q) {
		if (*c->p == '\\')
			return bad(c, "escapes are not supported");
		if (n + 1 >= outsz)
			return bad(c, "string too long");
		out[n++] = *c->p++;
	}
	if (c->p >= c->end)
		return bad(c, "unterminated string");
	c->p++;
	out[n] = '\0';
	return 0;
}

static int parse_bool(struct cursor *c, bool *out)
{
	skip_ws(c);
	if ((size_t)(c->end - c->p) >= 4 && memcmp(c->p, "True", 4) == 0) {
		c->p += 4;
		*out = true;
		return 0;
	}
	if ((size_t)(c->end - c->p) >= 5 && memcmp(c->p, "False", 5) == 0) {
		c->p += 5;
		*out = false;
		return 0;
	}
	return bad(c, "expected True or False");
}

static int parse_dim(struct cursor *c, size_t *out)
{
	size_t v = 0;
	const char *digits;

	skip_ws(c);
	if (c->p < c->end && *c->p == '-')
		return rq_error_set(RQ_EINVALID, "%s: negative dimension in .npy shape", c->name);
	digits = c->p;
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
		if (!rq_mul_size(&v, v, 10) || !rq_add_size(&v, v, (size_t)(*c->p - '0')))
			return rq_error_set(RQ_EINVALID, "%s: dimension in .npy shape is too "
					    "large", c->name);
		c->p++;
	}
	if (c->p == digits)
		return bad(c, "expected a dimension");
	if (c->p < c->end && *c->p == 'L') /* Python 2 long */
		c->p++;
	*out = v;
	return 0;
}

static int parse_shape(struct cursor *c, struct npy_header *h)
{
	int err;

	if (!accept(c, '('))
		return bad(c, "expected '(' starting the shape");
	h->ndim = 0;
	if (accept(c, ')'))
		return 0;
	for (;;) {
		if (h->ndim == NPY_MAX_DIMS)
			return bad(c, "too many dimensions");
		if ((err = parse_dim(c, &h->dims[h->ndim])))
			return err;
		h->ndim++;
		if (accept(c, ')'))
			return 0;
		if (!accept(c, ','))
			return bad(c, "expected ',' or ')' in the shape");
		if (accept(c, ')'))
			return 0;
	}
}

static int parse_dict(struct cursor *c, struct npy_header *h)
{
	char key[NPY_MAX_STRING];
	int err;

	if (!accept(c, '{'))
		return bad(c, "expected '{'");
	while (!accept(c, '}')) {
		unsigned bit;
		if ((err = parse_string(c, key, sizeof(key))))
			return err;
		if (!accept(c, ':'))
			return bad(c, "expected ':' after a key");
		if (!strcmp(key, "descr")) {
			bit = 1;
			skip_ws(c);
			if (c->p < c->end && *c->p == '[')
				return rq_error_set(RQ_EINVALID, "%s: structured dtypes (record "
						    "arrays) are not supported", c->name);
			err = parse_string(c, h->descr, sizeof(h->descr));
		} else if (!strcmp(key, "fortran_order")) {
			bit = 2;
			err = parse_bool(c, &h->fortran);
		} else if (!strcmp(key, "shape")) {
			bit = 4;
			err = parse_shape(c, h);
		} else {
			return rq_error_set(RQ_EINVALID, "%s: unexpected key '%s' in .npy header",
					    c->name, key);
		}
		if (err)
			return err;
		if (h->seen & bit)
			return rq_error_set(RQ_EINVALID, "%s: duplicate key '%s' in .npy header",
					    c->name, key);
		h->seen |= bit;
		if (accept(c, '}'))
			break;
		if (!accept(c, ','))
			return bad(c, "expected ',' or '}'");
	}
	skip_ws(c);
	if (c->p != c->end)
		return bad(c, "unexpected bytes after the header dict");
	if (h->seen != 7)
		return rq_error_set(RQ_EINVALID, "%s: .npy header lacks '%s'", c->name,
				    !(h->seen & 1) ? "descr" : !(h->seen & 2) ? "fortran_order"
									 : "shape");
	return 0;
}

static bool host_big_endian(void)
{
	return __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__;
}

/* "<f4" -> dtype and byte order. */
static int parse_descr(rq_array *a, const char *d)
{
	static const struct {
		const char *code;
		rq_dtype t;
	} codes[] = {
		{ "f2", RQ_DT_F16 }, { "f4", RQ_DT_F32 }, { "f8", RQ_DT_F64 },
		{ "i1", RQ_DT_I8 },  { "i2", RQ_DT_I16 }, { "i4", RQ_DT_I32 }, { "i8", RQ_DT_I64 },
		{ "u1", RQ_DT_U8 },  { "u2", RQ_DT_U16 }, { "u4", RQ_DT_U32 }, { "u8", RQ_DT_U64 },
		{ "b1", RQ_DT_BOOL },
	};
	char order = d[0];
	const char *code = d + 1;
	bool big;

	if (order != '<' && order != '>' && order != '=' && order != '|')
		return rq_error_set(RQ_EINVALID, "%s: dtype '%s' has no byte order", a->name, d);
	for (size_t i = 0; i < RQ_ARRAY_SIZE(codes); i++) {
		if (strcmp(code, codes[i].code) != 0)
			continue;
		a->dtype = codes[i].t;
		a->itemsize = rq_dtype_size(a->dtype);
		if (order == '|' && a->itemsize != 1)
			return rq_error_set(RQ_EINVALID, "%s: dtype '%s' lacks a byte order",
					    a->name, d);
		big = order == '>' || (order == '=' && host_big_endian());
		a->swap = a->itemsize > 1 && big != host_big_endian();
		return 0;
	}
	if (code[0] == 'O')
		return rq_error_set(RQ_EINVALID, "%s: object arrays (pickled Python objects) "
				    "are not supported", a->name);
	return rq_error_set(RQ_EINVALID, "%s: unsupported dtype '%s' (expected f2, f4, f8 "
			    "for embeddings or an integer type for labels)", a->name, d);
}

int rq_npy_parse(rq_array *a, const uint8_t *buf, size_t len)
{
	struct npy_header h;
	struct cursor c;
	size_t hlen, off, need = 0, row_bytes;
	unsigned major, minor;
	int err;

	memset(&h, 0, sizeof(h));
	if (len < 10)
		return rq_error_set(RQ_EINVALID, "%s: truncated .npy header (%zu bytes)", a->name,
				    len);
	major = buf[6];
	minor = buf[7];
	if ((major != 1 && major != 2 && major != 3) || minor != 0)
		return rq_error_set(RQ_EINVALID, "%s: unsupported .npy format version %u.%u",
				    a->name, major, minor);
	if (major == 1) {
		hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
		off = 10;
	} else {
		if (len < 12)
			return rq_error_set(RQ_EINVALID, "%s: truncated .npy header (%zu bytes)",
					    a->name, len);
		hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 |
		       (size_t)buf[11] << 24;
		off = 12;
	}
	if (hlen > len - off)
		return rq_error_set(RQ_EINVALID, "%s: truncated .npy header: it says %zu bytes "
				    "but the file holds %zu", a->name, hlen, len - off);
	c.start = c.p = (const char *)buf + off;
	c.end = c.p + hlen;
	c.name = a->name;
	/* the header is text: a NUL would cut a key or descr short unseen */
	const char *nul = memchr(c.p, '\0', hlen);
	if (nul)
		return rq_error_set(RQ_EINVALID, "%s: malformed .npy header: a NUL byte at byte %zu", a->name,
				    off + (size_t)(nul - c.p));
	if ((err = parse_dict(&c, &h)) || (err = parse_descr(a, h.descr)) ||
	    (err = rq_array_set_shape(a, h.dims, h.ndim)))
		return err;
	off += hlen;
	a->fortran = h.fortran && a->ndim == 2 && a->cols > 1;
	a->data = buf + off;
	a->data_len = len - off;
	if (!rq_mul_size(&row_bytes, a->cols, a->itemsize) ||
	    !rq_mul_size(&need, a->rows, row_bytes))
		return rq_error_set(RQ_EINVALID, "%s: shape (%zu,%s%.0zu) of %s is too large",
				    a->name, a->rows, a->ndim == 2 ? " " : "",
				    a->ndim == 2 ? a->cols : 0, rq_dtype_long_name(a->dtype));
	if (need != a->data_len) {
		double held = (double)a->data_len / (double)row_bytes;
		if (a->ndim == 1)
			return rq_error_set(RQ_EINVALID, "%s: header says %zu values of %s but "
					    "the file holds %.10g", a->name, a->rows,
					    rq_dtype_long_name(a->dtype), held);
		return rq_error_set(RQ_EINVALID, "%s: header says %zu rows of %zu %s but the "
				    "file holds %.10g rows", a->name, a->rows, a->cols,
				    rq_dtype_long_name(a->dtype), held);
	}
	return 0;
}
