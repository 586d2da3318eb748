/* Setting the last error: for the library's own code (the public half,
 * reading it, is resque/error.h). */
#ifndef RESQUE_ERROR_INT_H
#define RESQUE_ERROR_INT_H

#include "resque/error.h"

/* Set the message (printf-style) and return code, so callers can write
 * `return rq_error_set(RQ_EINVALID, "%s: bad magic", path);` */
int rq_error_set(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefix the current message with more context ("reading x: " + old). */
int rq_error_prefix(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A refusal of the operating system, after libgit2's GIT_ERROR_OS: the
 * message is the formatted context (usually the path), ": ", and
 * strerror(errno); the code is RQ_ENOTFOUND when errno is ENOENT, RQ_EIO
 * otherwise. Call it straight after the failing call (errno is read first).
 *     return rq_error_os("%s", path); */
int rq_error_os(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
