/* Filling an rq_buf, and the allocators that abort on failure: the
 * library's own tools (the public half of rq_buf is resque/buf.h). */
#ifndef RESQUE_BUF_INT_H
#define RESQUE_BUF_INT_H

#include <stdarg.h>
#include <stdint.h>
#include "resque/buf.h"

void rq_buf_grow(rq_buf *b, size_t extra);
void rq_buf_put(rq_buf *b, const void *data, size_t len);
void rq_buf_puts(rq_buf *b, const char *s);
void rq_buf_putc(rq_buf *b, char c);
void rq_buf_printf(rq_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void rq_buf_vprintf(rq_buf *b, const char *fmt, va_list ap);
/* Lower-case hex of `n` bytes. */
void rq_buf_put_hex(rq_buf *b, const uint8_t *data, size_t n);
/* Little-endian integers and IEEE-754 floats, as the binary formats
 * (.rqs, .rqp) store them. */
void rq_buf_put_le32(rq_buf *b, uint32_t v);
void rq_buf_put_le64(rq_buf *b, uint64_t v);
void rq_buf_put_f32(rq_buf *b, float x);
void rq_buf_put_f64(rq_buf *b, double x);
uint32_t rq_get_le32(const uint8_t *p);
uint64_t rq_get_le64(const uint8_t *p);
double rq_get_f64(const uint8_t *p);
void rq_buf_truncate(rq_buf *b, size_t len);
void rq_buf_reset(rq_buf *b);

/* Allocation helpers that abort with a message on failure (so they never
 * return NULL), and on a size that overflows size_t. */
#define RQ_XALLOC __attribute__((returns_nonnull, warn_unused_result))
void *rq_xmalloc(size_t n) RQ_XALLOC;
/* n * size bytes, zeroed / not zeroed / resized: the product is checked. */
void *rq_xcalloc(size_t n, size_t size) RQ_XALLOC;
void *rq_xmallocarray(size_t n, size_t size) RQ_XALLOC;
void *rq_xreallocarray(void *p, size_t n, size_t size) RQ_XALLOC;
void *rq_xrealloc(void *p, size_t n) RQ_XALLOC;
char *rq_xstrdup(const char *s) RQ_XALLOC;
char *rq_xstrndup(const char *s, size_t n) RQ_XALLOC;

/* The next capacity of an array that must hold `need` elements and holds
 * `alloc` now: at least need, and half as much again, so that appending
 * one at a time costs amortised O(1) (git's alloc_nr). Aborts on overflow. */
size_t rq_alloc_nr(size_t alloc, size_t need);
/* Make the array `x` (capacity `alloc`, both size_t lvalues) hold at least
 * `need` elements, after git's ALLOC_GROW:
 *     RQ_ALLOC_GROW(v, n + 1, alloc); v[n++] = item; */
#define RQ_ALLOC_GROW(x, need, alloc) \
	do { \
		if ((need) > (alloc)) { \
			(alloc) = rq_alloc_nr((alloc), (need)); \
			(x) = rq_xreallocarray((x), (alloc), sizeof(*(x))); \
		} \
	} while (0)

#endif
