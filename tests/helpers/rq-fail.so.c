/* Test helper: fault injection by LD_PRELOAD (built as a shared object,
 * build/helpers/rq-fail.so), as a failing disk, a full one or a library
 * failing inside store/ would make the calls fail.
 *
 *   RQ_FAIL_CALLS  the calls that fail, comma-separated (default: the write
 *                  family: write,pwrite,pwrite64,writev,fsync,fdatasync,
 *                  ftruncate -- the calls libgit2 and SQLite write with)
 *   RQ_FAIL_PATH   only calls whose subject contains this text fail: the
 *                  file (a descriptor's path read from /proc/self/fd), the
 *                  SQL text of a statement, a reference's name. Required
 *                  for the default calls; for the others, unset = any.
 *   RQ_FAIL_ERRNO  EIO, ENOSPC, EROFS, EDQUOT, EACCES or a number (default
 *                  EIO): errno of a failing system call
 *   RQ_FAIL_AFTER  let this many matching calls through first (default 0)
 *   RQ_FAIL_VERBOSE  say "rq-fail: CALL SUBJECT: injected" on stderr, and
 *                  at exit "rq-fail: N matching calls"
 *
 * The calls it can fail:
 *   system   write pwrite pwrite64 writev fsync fdatasync ftruncate read
 *            pread pread64 (by descriptor), open openat (by path; opens
 *            for writing only, with `open+`: any open), rename link unlink
 *            mkdir (by path; rename and link by either path)
 *   SQLite   sqlite3_prepare_v2 (by SQL: the statement is then prepared
 *            from text SQLite refuses, so its error message is SQLite's
 *            own), sqlite3_step (by SQL: SQLITE_ERROR, the connection's
 *            message "rq-fail: injected sqlite3_step failure")
 *   libgit2  git_odb_write git_blob_create_from_buffer git_treebuilder_write
 *            git_commit_create git_reference_create git_reference_create_matching
 *            (by reference name) git_repository_open_bare git_repository_config
 *            git_config_set_string (by key): fail with GIT_ERROR
 *            "rq-fail: injected CALL failure"
 * Library calls are caught where the program calls them (through the PLT):
 * calls inside libgit2 and SQLite go to the system calls above.
 *   LD_PRELOAD=build/helpers/rq-fail.so RQ_FAIL_PATH=/objects/ \
 *       RQ_FAIL_ERRNO=ENOSPC resque note -m x */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static long matched;

/* With RQ_FAIL_VERBOSE, how many calls matched (to size a sweep). */
__attribute__((destructor)) static void report(void)
{
	if (getenv("RQ_FAIL_VERBOSE"))
		fprintf(stderr, "rq-fail: %ld matching calls\n", matched);
}

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
	if (strcmp(e, "EACCES") == 0)
		return EACCES;
	return atoi(e) > 0 ? atoi(e) : EIO;
}

static const char default_calls[] = "write,pwrite,pwrite64,writev,fsync,fdatasync,ftruncate";

/* Whether `call` is one of RQ_FAIL_CALLS. */
static int selected(const char *call)
{
	const char *calls = getenv("RQ_FAIL_CALLS");
	size_t n = strlen(call);
	const char *p;

	if (!calls || !*calls)
		calls = default_calls;
	for (p = calls; (p = strstr(p, call)) != NULL; p += n)
		if ((p == calls || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return 1;
	return 0;
}

/* Whether this call on `subject` must fail; counts it and says so. The
 * default calls need RQ_FAIL_PATH (they are everywhere). */
static int inject(const char *call, const char *subject)
{
	const char *want = getenv("RQ_FAIL_PATH");
	const char *calls = getenv("RQ_FAIL_CALLS");
	const char *after;

	if (!selected(call))
		return 0;
	if ((!calls || !*calls) && (!want || !*want))
		return 0;
	if (want && *want && (!subject || !strstr(subject, want)))
		return 0;
	after = getenv("RQ_FAIL_AFTER");
	if (matched++ < (after ? atol(after) : 0))
		return 0;
	if (getenv("RQ_FAIL_VERBOSE"))
		fprintf(stderr, "rq-fail: %s %s: injected\n", call, subject ? subject : "");
	return 1;
}

/* inject() for a call on descriptor fd (errno set when it fails). */
static int inject_fd(const char *call, int fd)
{
	char link[64], path[4096];
	ssize_t n;

	if (fd < 0 || !selected(call))
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return 0;
	path[n] = '\0';
	if (!inject(call, path))
		return 0;
	errno = fail_errno();
	return 1;
}

/* inject() for a call on a path (errno set when it fails). */
static int inject_path(const char *call, const char *path)
{
	if (!inject(call, path))
		return 0;
	errno = fail_errno();
	return 1;
}

#define NEXT(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

ssize_t write(int fd, const void *buf, size_t len)
{
	if (inject_fd("write", fd))
		return -1;
	return NEXT(write)(fd, buf, len);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	if (inject_fd("pwrite", fd))
		return -1;
	return NEXT(pwrite)(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
	if (inject_fd("pwrite64", fd))
		return -1;
	return NEXT(pwrite64)(fd, buf, len, off);
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
	if (inject_fd("writev", fd))
		return -1;
	return NEXT(writev)(fd, iov, n);
}

int fsync(int fd)
{
	if (inject_fd("fsync", fd))
		return -1;
	return NEXT(fsync)(fd);
}

int fdatasync(int fd)
{
	if (inject_fd("fdatasync", fd))
		return -1;
	return NEXT(fdatasync)(fd);
}

int ftruncate(int fd, off_t len)
{
	if (inject_fd("ftruncate", fd))
		return -1;
	return NEXT(ftruncate)(fd, len);
}

ssize_t read(int fd, void *buf, size_t len)
{
	if (inject_fd("read", fd))
		return -1;
	return NEXT(read)(fd, buf, len);
}

ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	if (inject_fd("pread", fd))
		return -1;
	return NEXT(pread)(fd, buf, len, off);
}

ssize_t pread64(int fd, void *buf, size_t len, off64_t off)
{
	if (inject_fd("pread64", fd))
		return -1;
	return NEXT(pread64)(fd, buf, len, off);
}

/* `open` fails opens for writing; `open+` any open. */
static int inject_open(const char *path, int flags)
{
	if ((flags & (O_WRONLY | O_RDWR | O_CREAT)) && inject_path("open", path))
		return 1;
	return inject_path("open+", path);
}

static mode_t open_mode(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (inject_open(path, flags))
		return -1;
	return NEXT(open)(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (inject_open(path, flags))
		return -1;
	return NEXT(open64)(path, flags, mode);
}

int openat(int dir, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (inject_open(path, flags))
		return -1;
	return NEXT(openat)(dir, path, flags, mode);
}

int openat64(int dir, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (inject_open(path, flags))
		return -1;
	return NEXT(openat64)(dir, path, flags, mode);
}

/* rename and link fail when either path matches. */
static int inject_two(const char *call, const char *from, const char *to)
{
	const char *want = getenv("RQ_FAIL_PATH");
	const char *subject = want && *want && from && strstr(from, want) ? from : to;
	return inject_path(call, subject);
}

int rename(const char *from, const char *to)
{
	if (inject_two("rename", from, to))
		return -1;
	return NEXT(rename)(from, to);
}

int renameat(int fd1, const char *from, int fd2, const char *to)
{
	if (inject_two("rename", from, to))
		return -1;
	return NEXT(renameat)(fd1, from, fd2, to);
}

int link(const char *from, const char *to)
{
	if (inject_two("link", from, to))
		return -1;
	return NEXT(link)(from, to);
}

int unlink(const char *path)
{
	if (inject_path("unlink", path))
		return -1;
	return NEXT(unlink)(path);
}

int mkdir(const char *path, mode_t mode)
{
	if (inject_path("mkdir", path))
		return -1;
	return NEXT(mkdir)(path, mode);
}

/* ---- SQLite (declared here: the shim is built without its headers) ---- */
typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
typedef struct sqlite3_context sqlite3_context;
typedef struct sqlite3_value sqlite3_value;
#define RQ_SQLITE_ERROR 1
#define RQ_SQLITE_UTF8 1
int sqlite3_prepare_v2(sqlite3 *db, const char *sql, int n, sqlite3_stmt **stmt, const char **tail);
int sqlite3_step(sqlite3_stmt *stmt);
int sqlite3_finalize(sqlite3_stmt *stmt);
const char *sqlite3_sql(sqlite3_stmt *stmt);
sqlite3 *sqlite3_db_handle(sqlite3_stmt *stmt);
void sqlite3_result_error(sqlite3_context *c, const char *msg, int n);
int sqlite3_create_function(sqlite3 *db, const char *name, int nargs, int enc, void *app,
			    void (*fn)(sqlite3_context *, int, sqlite3_value **),
			    void (*step)(sqlite3_context *, int, sqlite3_value **),
			    void (*final)(sqlite3_context *));

int sqlite3_prepare_v2(sqlite3 *db, const char *sql, int n, sqlite3_stmt **stmt, const char **tail)
{
	/* SQLite's own error on the connection: a statement it refuses */
	if (inject("sqlite3_prepare_v2", sql))
		return NEXT(sqlite3_prepare_v2)(db, "SELECT * FROM \"rq-fail: injected sqlite3_prepare_v2 failure\"",
						-1, stmt, tail);
	return NEXT(sqlite3_prepare_v2)(db, sql, n, stmt, tail);
}

static void fail_fn(sqlite3_context *c, int n, sqlite3_value **v)
{
	(void)n;
	(void)v;
	sqlite3_result_error(c, "rq-fail: injected sqlite3_step failure", -1);
}

int sqlite3_step(sqlite3_stmt *stmt)
{
	if (stmt && inject("sqlite3_step", sqlite3_sql(stmt))) {
		/* the connection's error message set as SQLite sets it: a
		 * statement whose function fails, run and finalised */
		sqlite3 *db = sqlite3_db_handle(stmt);
		sqlite3_stmt *f = NULL;
		sqlite3_create_function(db, "rq_fail", 0, RQ_SQLITE_UTF8, NULL, fail_fn, NULL, NULL);
		if (NEXT(sqlite3_prepare_v2)(db, "SELECT rq_fail()", -1, &f, NULL) == 0) {
			NEXT(sqlite3_step)(f);
			sqlite3_finalize(f);
		}
		return RQ_SQLITE_ERROR;
	}
	return NEXT(sqlite3_step)(stmt);
}

/* ---- libgit2 (likewise declared here) ---- */
#define RQ_GIT_ERROR (-1)
#define RQ_GIT_ERROR_OS 2
typedef struct git_oid git_oid;

/* A libgit2 failure with its error message set, as libgit2 would. */
static int git_fail(const char *call)
{
	int (*set)(int, const char *) = (int (*)(int, const char *))dlsym(RTLD_DEFAULT, "git_error_set_str");
	char msg[128];

	snprintf(msg, sizeof(msg), "rq-fail: injected %s failure", call);
	if (set)
		set(RQ_GIT_ERROR_OS, msg);
	return RQ_GIT_ERROR;
}

#define GIT_SHIM(name, subject, params, args)                        \
	int name params;                                              \
	int name params                                               \
	{                                                             \
		if (inject(#name, subject))                           \
			return git_fail(#name);                        \
		return NEXT(name) args;                               \
	}

GIT_SHIM(git_odb_write, NULL, (git_oid *out, void *odb, const void *data, size_t len, int type),
	 (out, odb, data, len, type))
GIT_SHIM(git_blob_create_from_buffer, NULL, (git_oid *id, void *repo, const void *buf, size_t len),
	 (id, repo, buf, len))
GIT_SHIM(git_treebuilder_write, NULL, (git_oid *id, void *bld), (id, bld))
GIT_SHIM(git_commit_create, NULL,
	 (git_oid *id, void *repo, const char *ref, const void *author, const void *committer,
	  const char *enc, const char *msg, const void *tree, size_t n, const void **parents),
	 (id, repo, ref, author, committer, enc, msg, tree, n, parents))
GIT_SHIM(git_reference_create, name,
	 (void **out, void *repo, const char *name, const git_oid *id, int force, const char *log),
	 (out, repo, name, id, force, log))
GIT_SHIM(git_reference_create_matching, name,
	 (void **out, void *repo, const char *name, const git_oid *id, int force,
	  const git_oid *current, const char *log),
	 (out, repo, name, id, force, current, log))
GIT_SHIM(git_repository_open_bare, path, (void **out, const char *path), (out, path))
GIT_SHIM(git_repository_config, NULL, (void **out, void *repo), (out, repo))
GIT_SHIM(git_config_set_string, name, (void *cfg, const char *name, const char *value),
	 (cfg, name, value))
