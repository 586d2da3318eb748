/* Hex, files and time: the few system helpers every module needs. */
#include "common.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void rq_hex_encode(char *out, const uint8_t *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int rq_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t rq_utf8_len(const unsigned char *s, size_t len)
{
	unsigned c, min, cp;
	size_t k;
	if (len == 0)
		return 0;
	c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		k = 1, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		k = 2, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		k = 3, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (len <= k)
		return 0;
	for (size_t j = 1; j <= k; j++) {
		if ((s[j] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[j] & 0x3fu);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return k + 1;
}

bool rq_is_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (rq_hex_digit(s[i]) < 0)
			return false;
	return true;
}

int rq_hex_decode(uint8_t *out, size_t n, const char *hex)
{
	if (strlen(hex) != 2 * n)
		return rq_error_set(RQ_EINVALID, "expected %zu hex digits", 2 * n);
	for (size_t i = 0; i < n; i++) {
		int hi = rq_hex_digit(hex[2 * i]), lo = rq_hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return rq_error_set(RQ_EINVALID, "not a hex string");
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int rq_file_read(rq_buf *out, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rq_error_os("%s", path);
	char tmp[65536];
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = rq_error_os("%s", path);
			close(fd);
			return e;
		}
		if (n == 0)
			break;
		rq_buf_put(out, tmp, (size_t)n);
	}
	close(fd);
	return 0;
}

int rq_file_read_max(rq_buf *out, const char *path, size_t max)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;
	size_t start = out->len;

	if (fd < 0)
		return rq_error_os("%s: cannot read", path);
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		err = rq_error_set(RQ_EIO, "%s: is a directory", path);
		goto done;
	}
	/* Read in chunks whatever the file is (a pipe, /dev/zero): the cap,
	 * not the file's claimed size, bounds the memory. */
	for (;;) {
		rq_buf_grow(out, 65536);
		ssize_t got = read(fd, out->ptr + out->len, 65536);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = rq_error_os("%s: cannot read", path);
			goto done;
		}
		if (got == 0)
			break;
		out->len += (size_t)got;
		out->ptr[out->len] = '\0';
		if (out->len - start > max) {
			err = rq_error_set(RQ_EINVALID, "%s: larger than %zu bytes: not a file this command reads", path,
					   max);
			goto done;
		}
	}
done:
	if (err)
		rq_buf_truncate(out, start);
	close(fd);
	return err;
}

int rq_file_write_atomic(const char *path, const void *data, size_t len,
			 unsigned mode)
{
	rq_buf tmp = RQ_BUF_INIT;
	int fd = -1, err = 0;
	const char *p = data;

	rq_buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp.ptr, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		err = rq_error_os("%s", path); /* the file asked for, not its temporary */
		goto done;
	}
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = rq_error_os("%s", path);
			goto done;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0) {
		err = rq_error_os("%s", path);
		goto done;
	}
	if (close(fd) < 0) {
		fd = -1;
		err = rq_error_os("%s", path);
		goto done;
	}
	fd = -1;
	if (rename(tmp.ptr, path) < 0) {
		err = rq_error_os("%s", path);
		goto done;
	}
done:
	if (fd >= 0)
		close(fd);
	if (err)
		unlink(tmp.ptr);
	rq_buf_release(&tmp);
	return err;
}

int rq_mkdir_p(const char *path, unsigned mode)
{
	char *p = rq_xstrdup(path);
	int err = 0;
	for (char *s = p + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, mode) < 0 && errno != EEXIST) {
				err = rq_error_os("%s", p);
				break;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	free(p);
	if (!err && !rq_is_dir(path))
		err = rq_error_set(RQ_EIO, "%s: not a directory", path);
	return err;
}

bool rq_path_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

bool rq_is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

void rq_time_format(char out[RQ_TIME_SIZE], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, RQ_TIME_SIZE, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void rq_time_now(char out[RQ_TIME_SIZE])
{
	const char *env = getenv("RESQUE_NOW");
	int64_t t;
	if (env && rq_time_parse(&t, env) == 0) {
		rq_time_format(out, t);
		return;
	}
	rq_time_format(out, (int64_t)time(NULL));
}

int64_t rq_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* Howard Hinnant's algorithm: days since 1970-01-01. */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int rq_time_parse(int64_t *out, const char *s)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
		goto bad;
	const char *p = s + 10;
	if (*p == 'T' || *p == ' ') {
		int m2 = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &m2) != 2 || m2 != 5)
			goto bad;
		p += 1 + m2;
		if (*p == ':') {
			if (sscanf(p + 1, "%2d%n", &sec, &m2) != 1 || m2 != 2)
				goto bad;
			p += 3;
			if (*p == '.') /* fractional seconds are dropped */
				for (p++; *p >= '0' && *p <= '9'; p++)
					;
		}
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		goto bad;
	int64_t t = rq_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
		    h * 3600 + mi * 60 + sec;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om, m3 = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &m3) != 2 || m3 != 5)
			goto bad;
		int off = oh * 3600 + om * 60;
		t += (*p == '+') ? -off : off;
		p += 1 + m3;
	}
	if (*p)
		goto bad;
	*out = t;
	return 0;
bad:
	return rq_error_set(RQ_EINVALID, "'%s' is not a date (YYYY-MM-DD[THH:MM:SSZ])", s);
}

bool rq_pid_file_stale(const char *digits, time_t mtime)
{
	long pid = 0;

	if (!*digits || strlen(digits) > 9)
		return false;
	for (const char *p = digits; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		pid = pid * 10 + (*p - '0');
	}
	if (pid <= 0 || pid == (long)getpid())
		return false;
	if (time(NULL) - mtime > RQ_STALE_AFTER)
		return true;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}
