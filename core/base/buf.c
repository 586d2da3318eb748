/* rq_buf, the growable buffer, and the aborting allocators. */
#include "common.h"

#include <jansson.h>

char rq_buf__empty[1];

static _Noreturn void oom(size_t n)
{
	fprintf(stderr, "resque: out of memory (allocating %zu bytes)\n", n);
	abort();
}

void *rq_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

/* jansson's allocations follow the same policy: a failure aborts with
 * oom()'s message instead of coming back as a NULL json_t that every
 * caller would have to test. Installed before main() by a constructor in
 * this file, which every program linking libresque (static or shared)
 * contains, so neither the command nor a library user calls anything.
 * The functions stay malloc/free underneath, so a value allocated before
 * (or by a program that installs its own functions afterwards) is freed
 * correctly. */
static void *json_xmalloc(size_t n)
{
	return rq_xmalloc(n);
}

__attribute__((constructor)) static void install_json_alloc(void)
{
	json_set_alloc_funcs(json_xmalloc, free);
}

void *rq_xcalloc(size_t n, size_t size)
{
	size_t total;
	if (!rq_mul_size(&total, n, size))
		oom(SIZE_MAX);
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(total);
	return p;
}

void *rq_xmallocarray(size_t n, size_t size)
{
	size_t total;
	if (!rq_mul_size(&total, n, size))
		oom(SIZE_MAX);
	return rq_xmalloc(total);
}

void *rq_xreallocarray(void *p, size_t n, size_t size)
{
	size_t total;
	if (!rq_mul_size(&total, n, size))
		oom(SIZE_MAX);
	return rq_xrealloc(p, total);
}

size_t rq_alloc_nr(size_t alloc, size_t need)
{
	size_t next;
	if (!rq_add_size(&next, alloc, alloc / 2) ||
	    !rq_add_size(&next, next, 16))
		oom(SIZE_MAX);
	return next < need ? need : next;
}

void *rq_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *rq_xstrdup(const char *s)
{
	return rq_xstrndup(s, strlen(s));
}

char *rq_xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = rq_xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void rq_buf_init(rq_buf *b)
{
	b->ptr = rq_buf__empty;
	b->len = 0;
	b->alloc = 0;
}

void rq_buf_grow(rq_buf *b, size_t extra)
{
	size_t need;
	if (!rq_add_size(&need, b->len, extra) || !rq_add_size(&need, need, 1))
		oom(SIZE_MAX);
	if (need <= b->alloc)
		return;
	size_t alloc = b->alloc ? b->alloc : 64;
	while (alloc < need) {
		if (alloc > SIZE_MAX / 2) {
			alloc = need;
			break;
		}
		alloc *= 2;
	}
	if (b->alloc == 0) {
		b->ptr = rq_xmalloc(alloc);
		b->ptr[0] = '\0';
	} else {
		b->ptr = rq_xrealloc(b->ptr, alloc);
	}
	b->alloc = alloc;
}

void rq_buf_put(rq_buf *b, const void *data, size_t len)
{
	if (!len)
		return;
	rq_buf_grow(b, len);
	memmove(b->ptr + b->len, data, len);
	b->len += len;
	b->ptr[b->len] = '\0';
}

void rq_buf_puts(rq_buf *b, const char *s)
{
	rq_buf_put(b, s, strlen(s));
}

void rq_buf_putc(rq_buf *b, char c)
{
	rq_buf_grow(b, 1);
	b->ptr[b->len++] = c;
	b->ptr[b->len] = '\0';
}

void rq_buf_vprintf(rq_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	rq_buf_grow(b, (size_t)n);
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void rq_buf_printf(rq_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rq_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void rq_buf_put_hex(rq_buf *b, const uint8_t *data, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	rq_buf_grow(b, 2 * n);
	for (size_t i = 0; i < n; i++) {
		b->ptr[b->len++] = digits[data[i] >> 4];
		b->ptr[b->len++] = digits[data[i] & 15];
	}
	b->ptr[b->len] = '\0';
}

void rq_buf_truncate(rq_buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->ptr[len] = '\0';
	}
}

void rq_buf_reset(rq_buf *b)
{
	rq_buf_truncate(b, 0);
}

void rq_buf_release(rq_buf *b)
{
	if (b->alloc)
		free(b->ptr);
	rq_buf_init(b);
}

char *rq_buf_detach(rq_buf *b, size_t *len_out)
{
	char *p;
	if (len_out)
		*len_out = b->len;
	if (b->alloc)
		p = b->ptr;
	else
		p = rq_xstrdup("");
	rq_buf_init(b);
	return p;
}

void rq_buf_put_le32(rq_buf *b, uint32_t v)
{
	uint8_t p[4];
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	rq_buf_put(b, p, 4);
}

void rq_buf_put_le64(rq_buf *b, uint64_t v)
{
	uint8_t p[8];
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	rq_buf_put(b, p, 8);
}

void rq_buf_put_f32(rq_buf *b, float x)
{
	uint32_t v;
	memcpy(&v, &x, 4);
	rq_buf_put_le32(b, v);
}

void rq_buf_put_f64(rq_buf *b, double x)
{
	uint64_t v;
	memcpy(&v, &x, 8);
	rq_buf_put_le64(b, v);
}

uint32_t rq_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t rq_get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

double rq_get_f64(const uint8_t *p)
{
	uint64_t v = rq_get_le64(p);
	double x;
	memcpy(&x, &v, 8);
	return x;
}
