/* rq_buf: the one growable byte buffer of the project (after git's strbuf).
 * `ptr` is never NULL and always NUL-terminated, so it can be used as a C
 * string. Allocation failure aborts the process (like git's xmalloc). */
#ifndef RESQUE_BUF_H
#define RESQUE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

typedef struct {
	char *ptr;
	size_t len;   /* bytes used, not counting the terminating NUL */
	size_t alloc; /* 0 while ptr points at the shared empty string */
} rq_buf;

extern char rq_buf__empty[];
#define RQ_BUF_INIT { rq_buf__empty, 0, 0 }

void rq_buf_init(rq_buf *b);
void rq_buf_grow(rq_buf *b, size_t extra);
void rq_buf_put(rq_buf *b, const void *data, size_t len);
void rq_buf_puts(rq_buf *b, const char *s);
void rq_buf_putc(rq_buf *b, char c);
void rq_buf_printf(rq_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void rq_buf_vprintf(rq_buf *b, const char *fmt, va_list ap);
/* Lower-case hex of `n` bytes. */
void rq_buf_put_hex(rq_buf *b, const uint8_t *data, size_t n);
void rq_buf_truncate(rq_buf *b, size_t len);
void rq_buf_reset(rq_buf *b);
/* Free the contents; the buffer is left empty and reusable. */
void rq_buf_release(rq_buf *b);
/* Hand the malloc'd string to the caller (caller frees); buffer is reset. */
char *rq_buf_detach(rq_buf *b, size_t *len_out);

/* Allocation helpers that abort with a message on failure. */
void *rq_xmalloc(size_t n);
void *rq_xcalloc(size_t n, size_t size);
void *rq_xrealloc(void *p, size_t n);
char *rq_xstrdup(const char *s);
char *rq_xstrndup(const char *s, size_t n);

#endif
