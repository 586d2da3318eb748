/* Error codes and the thread-local last-error message of libresque.
 * Every library function returns 0 or one of the negative codes below and,
 * on failure, leaves a message naming the file and the reason, which
 * rq_error_last() returns (after libgit2's git_error_last). */
#ifndef RESQUE_ERROR_H
#define RESQUE_ERROR_H

#include "resque/export.h"

RQ_BEGIN_DECLS

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

/* The message of the last error on this thread. Borrowed: valid until the
 * next libresque call on this thread that fails or clears it. Never NULL
 * ("unknown error" when there was none). Cannot fail. */
RQ_EXTERN const char *rq_error_last(void);

/* The code of the last error set on this thread (0 when none). Cannot fail. */
RQ_EXTERN int rq_error_code(void);

/* Forget the last error of this thread (code 0, no message). */
RQ_EXTERN void rq_error_clear(void);

/* A short English name for a code ("not found"); static storage, never
 * NULL: for a program that reports or maps codes (a binding's exception
 * names) without the message. */
RQ_EXTERN const char *rq_error_name(int code);

RQ_END_DECLS

#endif
