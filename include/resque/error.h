/* Error codes and the thread-local last-error message of libresque.
 * Every library function returns 0 or one of the negative codes below and,
 * on failure, leaves a message naming the file and the reason. */
#ifndef RESQUE_ERROR_H
#define RESQUE_ERROR_H

enum {
	RQ_OK = 0,
	RQ_ERROR = -1,      /* generic failure */
	RQ_ENOTFOUND = -2,  /* a named thing does not exist */
	RQ_EEXISTS = -3,    /* it exists already */
	RQ_EINVALID = -4,   /* an input was rejected (bad file, bad value) */
	RQ_EINTEGRITY = -5, /* tampering or corruption was detected */
	RQ_ENOMEM = -6,
	RQ_EIO = -7,        /* the operating system refused a read or write */
	RQ_EAMBIGUOUS = -8, /* a short id matches several entries */
	RQ_ELOCKED = -9,    /* another writer holds the repository */
	RQ_EUNSUPPORTED = -10
};

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

/* Borrowed; valid until the next rq_error_* call on this thread. Never NULL. */
const char *rq_error_last(void);

/* Code of the last error set on this thread (0 when none). */
int rq_error_code(void);

void rq_error_clear(void);

/* A short English name for a code ("not found"), static: for a program
 * that reports or maps codes (a binding's exception names) without the
 * message. */
const char *rq_error_name(int code);

#endif
