/* rq_buf: the growable byte buffer through which libresque hands out text
 * and bytes (after git's strbuf). `ptr` is never NULL and always
 * NUL-terminated, so it can be used as a C string. A program only
 * initialises, reads, releases or detaches one; the library fills it.
 * Allocation failure aborts the process (like git's xmalloc). */
#ifndef RESQUE_BUF_H
#define RESQUE_BUF_H

#include <stddef.h>
#include "resque/export.h"

RQ_BEGIN_DECLS

typedef struct {
	char *ptr;
	size_t len;   /* bytes used, not counting the terminating NUL */
	size_t alloc; /* 0 while ptr points at the shared empty string */
} rq_buf;

/* The shared empty string an unallocated buffer points at (never written). */
RQ_EXTERN extern char rq_buf__empty[];
#define RQ_BUF_INIT { rq_buf__empty, 0, 0 }

/* Make `b` empty without allocating (the same as RQ_BUF_INIT). Cannot fail. */
RQ_EXTERN void rq_buf_init(rq_buf *b);
/* Free the contents; the buffer is left empty and reusable. Cannot fail. */
RQ_EXTERN void rq_buf_release(rq_buf *b);
/* Hand the contents to the caller as a malloc'd NUL-terminated string
 * (the caller frees it with free(); never NULL) and its length through
 * `len_out` (may be NULL); the buffer is left empty. Cannot fail. */
RQ_EXTERN char *rq_buf_detach(rq_buf *b, size_t *len_out);

RQ_END_DECLS

#endif
