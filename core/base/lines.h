/* Iterating over the lines of a text held in memory: one loop for every
 * line-oriented file (known_ledgers, the guard's state and names files,
 * trusted key lists). */
#ifndef RESQUE_LINES_H
#define RESQUE_LINES_H

#include <stdbool.h>
#include <stddef.h>

/* Lines end at '\n', which is not part of the line; a last line without
 * one is still a line, and an empty text has none. Nothing else is
 * special: a '\r', a NUL byte or any length is the caller's to judge. */
typedef struct rq_lines {
	const char *text;
	size_t len;
	size_t at;       /* where the next line starts */
	size_t lineno;   /* 1-based number of the line returned last */
	bool newline;    /* the line returned last ended with '\n' */
} rq_lines;

/* Iterate over text[0..len); `text` is borrowed and must outlive `it`. */
void rq_lines_init(rq_lines *it, const char *text, size_t len);

/* The next line (borrowed, not NUL-terminated) and its length, without
 * the '\n'; false at the end of the text. */
bool rq_lines_next(rq_lines *it, const char **line, size_t *len);

#endif
