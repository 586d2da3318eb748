/* Small helpers shared by every module: hex, overflow-checked sizes, files,
 * UTC time. */
#ifndef RESQUE_UTIL_H
#define RESQUE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <time.h>
#include "resque/buf.h"
#include "resque/sizes.h"

/* out must hold 2*n+1 chars; writes a NUL-terminated lower-case string. */
void rq_hex_encode(char *out, const uint8_t *in, size_t n);
/* Decode exactly 2*n hex chars of `hex` into out; RQ_EINVALID otherwise. */
int rq_hex_decode(uint8_t *out, size_t n, const char *hex);
bool rq_is_hex(const char *s, size_t len);
/* The value of the hex digit `c` (either case); -1 if it is not one. */
int rq_hex_digit(char c);

/* The length (1 to 4) of the well-formed UTF-8 sequence that starts
 * [s, s+len): no overlong form, surrogate or code point past U+10FFFF.
 * 0 when there is none (or len is 0). */
size_t rq_utf8_len(const unsigned char *s, size_t len);

/* Overflow-checked arithmetic: return false on overflow. */
static inline bool rq_mul_size(size_t *out, size_t a, size_t b)
{
	return !__builtin_mul_overflow(a, b, out);
}
static inline bool rq_add_size(size_t *out, size_t a, size_t b)
{
	return !__builtin_add_overflow(a, b, out);
}

/* Read a whole file into `out` (appended). Errors name the path. */
int rq_file_read(rq_buf *out, const char *path);
/* Append at most `max` bytes of `path` to `out`: RQ_EINVALID "PATH: larger
 * than MAX bytes" past that (whatever the file is: a pipe or /dev/zero too),
 * RQ_EIO for a directory; `out` is left as it was on error. */
int rq_file_read_max(rq_buf *out, const char *path, size_t max);
/* Write a file atomically: temp file in the same directory, fsync, rename.
 * `mode` is the permission of the new file (e.g. 0644, 0600). */
int rq_file_write_atomic(const char *path, const void *data, size_t len,
			 unsigned mode);
/* mkdir -p; existing directories are fine. */
int rq_mkdir_p(const char *path, unsigned mode);
bool rq_path_exists(const char *path);
bool rq_is_dir(const char *path);

/* Current UTC time as "YYYY-MM-DDTHH:MM:SSZ" (out holds 21 bytes). The
 * environment variable RESQUE_NOW (same format) overrides it for tests. */
void rq_time_now(char out[RQ_TIME_SIZE]);
/* Parse "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS[Z|+hh:mm]" to Unix seconds. */
int rq_time_parse(int64_t *out, const char *s);
void rq_time_format(char out[RQ_TIME_SIZE], int64_t unix_seconds);
/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d (m 1..12,
 * d 1..31, not checked against the month); negative before 1970. */
int64_t rq_days_from_civil(int64_t y, unsigned m, unsigned d);

/* A leftover named by a process id (DIGITS: the decimal pid): that
 * process no longer exists, or the file is older than RQ_STALE_AFTER
 * seconds (the pid may have been reused, or be another host's). */
#define RQ_STALE_AFTER 3600
bool rq_pid_file_stale(const char *digits, time_t mtime);

#endif
