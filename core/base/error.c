/* The thread-local last-error message (after libgit2's git_error_last). */
#include "common.h"

static _Thread_local char msg[2048];
static _Thread_local int last_code;

int rq_error_set(int code, const char *fmt, ...)
{
	char next[sizeof(msg)];
	va_list ap;
	/* Through a copy, so that a caller may pass rq_error_last() itself as
	 * an argument ("%s (hint)"): formatting into `msg` while reading it is
	 * undefined. */
	va_start(ap, fmt);
	vsnprintf(next, sizeof(next), fmt, ap);
	va_end(ap);
	memcpy(msg, next, sizeof(msg));
	last_code = code;
	return code;
}

int rq_error_prefix(int code, const char *fmt, ...)
{
	char old[sizeof(msg)];
	char pre[sizeof(msg)];
	va_list ap;

	memcpy(old, msg, sizeof(msg));
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	/* pre + old, cut to fit (by hand: snprintf's "%s%s" draws a
	 * truncation warning that here is intended) */
	size_t np = strlen(pre), no = strlen(old);
	if (np > sizeof(msg) - 1)
		np = sizeof(msg) - 1;
	if (no > sizeof(msg) - 1 - np)
		no = sizeof(msg) - 1 - np;
	memcpy(msg, pre, np);
	memcpy(msg + np, old, no);
	msg[np + no] = '\0';
	last_code = code;
	return code;
}

int rq_error_os(const char *fmt, ...)
{
	int err = errno;
	char ctx[sizeof(msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	return rq_error_set(err == ENOENT ? RQ_ENOTFOUND : RQ_EIO, "%.1500s: %s",
			   ctx, strerror(err));
}

const char *rq_error_last(void)
{
	return msg[0] ? msg : "unknown error";
}

int rq_error_code(void)
{
	return last_code;
}

void rq_error_clear(void)
{
	msg[0] = '\0';
	last_code = 0;
}

const char *rq_error_name(int code)
{
	switch (code) {
	case RQ_OK: return "success";
	case RQ_ENOTFOUND: return "not found";
	case RQ_EEXISTS: return "already exists";
	case RQ_EINVALID: return "invalid input";
	case RQ_EINTEGRITY: return "integrity violation";
	case RQ_ENOMEM: return "out of memory";
	case RQ_EIO: return "input/output error";
	case RQ_EAMBIGUOUS: return "ambiguous";
	case RQ_ELOCKED: return "locked";
	case RQ_EUNSUPPORTED: return "unsupported";
	default: return "error";
	}
}
