/* Test helper: fault injection by LD_PRELOAD (built as a shared object,
 * build/helpers/rq-fail.so). Writes to a file whose path contains
 * RQ_FAIL_PATH fail with RQ_FAIL_ERRNO (EIO, ENOSPC, EROFS or a number;
 * default EIO), after the first RQ_FAIL_AFTER such writes (default 0), as
 * a failing disk or a full one would make them fail. Covered: write,
 * pwrite, pwrite64, writev, fsync, fdatasync, ftruncate (the calls libgit2
 * and SQLite write with); the path is the descriptor's, read from
 * /proc/self/fd. Every injected failure is counted on stderr as
 * "rq-fail: PATH: injected ERRNO" when RQ_FAIL_VERBOSE is set.
 *   LD_PRELOAD=build/helpers/rq-fail.so RQ_FAIL_PATH=/objects/ \
 *       RQ_FAIL_ERRNO=ENOSPC resque note -m x */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static long matched;

static int fail_errno(void)
{
	const char *e = getenv("RQ_FAIL_ERRNO");
	if (!e || !*e || strcmp(e, "EIO") == 0)
		return EIO;
	if (strcmp(e, "ENOSPC") == 0)
		return ENOSPC;
	if (strcmp(e, "EROFS") == 0)
		return EROFS;
	if (strcmp(e, "EDQUOT") == 0)
		return EDQUOT;
	return atoi(e) > 0 ? atoi(e) : EIO;
}

/* Whether this call on fd must fail (errno set when so). */
static int inject(int fd)
{
	const char *want = getenv("RQ_FAIL_PATH");
	char link[64], path[4096];
	ssize_t n;

	if (!want || !*want || fd < 0)
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return 0;
	path[n] = '\0';
	if (!strstr(path, want))
		return 0;
	const char *after = getenv("RQ_FAIL_AFTER");
	if (after && matched++ < atol(after))
		return 0;
	int e = fail_errno();
	if (getenv("RQ_FAIL_VERBOSE"))
		fprintf(stderr, "rq-fail: %s: injected %s\n", path, strerror(e));
	errno = e;
	return 1;
}

#define NEXT(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

ssize_t write(int fd, const void *buf, size_t len)
{
	if (inject(fd))
		return -1;
	return NEXT(write)(fd, buf, len);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	if (inject(fd))
		return -1;
	return NEXT(pwrite)(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
	if (inject(fd))
		return -1;
	return NEXT(pwrite64)(fd, buf, len, off);
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
	if (inject(fd))
		return -1;
	return NEXT(writev)(fd, iov, n);
}

int fsync(int fd)
{
	if (inject(fd))
		return -1;
	return NEXT(fsync)(fd);
}

int fdatasync(int fd)
{
	if (inject(fd))
		return -1;
	return NEXT(fdatasync)(fd);
}

int ftruncate(int fd, off_t len)
{
	if (inject(fd))
		return -1;
	return NEXT(ftruncate)(fd, len);
}
