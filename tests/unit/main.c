/* The unit-test runner: runs every registered TEST (or those whose name
 * contains argv[1]) and closes with "unit: N passed, N failed". */
#include "unit.h"

#include <ftw.h>
#include <sodium.h>
#include <unistd.h>

static struct unit_test *tests, **tail = &tests;
static int failures_here;
static const char *current;
static rq_buf tmproot = RQ_BUF_INIT;
static int tmpcount;

void unit_register(struct unit_test *t)
{
	*tail = t;
	tail = &t->next;
}

void unit_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "  FAIL %s (%s:%d): ", current, file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	failures_here++;
}

const char *unit_tmpdir(void)
{
	static rq_buf path = RQ_BUF_INIT;
	if (!tmproot.len) {
		const char *t = getenv("TMPDIR");
		rq_buf_printf(&tmproot, "%s/resque-unit.XXXXXX", t && *t ? t : "/tmp");
		if (!mkdtemp(tmproot.ptr)) {
			perror("mkdtemp");
			exit(1);
		}
	}
	rq_buf_reset(&path);
	rq_buf_printf(&path, "%s/%d", tmproot.ptr, ++tmpcount);
	if (rq_mkdir_p(path.ptr, 0700)) {
		fprintf(stderr, "%s\n", rq_error_last());
		exit(1);
	}
	return path.ptr;
}

char *unit_write_file(const char *dir, const char *name, const void *data, size_t len)
{
	rq_buf p = RQ_BUF_INIT;
	rq_buf_printf(&p, "%s/%s", dir, name);
	FILE *f = fopen(p.ptr, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(p.ptr);
		exit(1);
	}
	return rq_buf_detach(&p, NULL);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;
	if (sodium_init() < 0)
		return 1;
	for (struct unit_test *t = tests; t; t = t->next) {
		if (argc > 1 && !strstr(t->name, argv[1]))
			continue;
		current = t->name;
		failures_here = 0;
		rq_error_clear();
		t->fn();
		if (failures_here) {
			failed++;
			fprintf(stderr, "not ok %s\n", t->name);
		} else {
			passed++;
			if (getenv("UNIT_VERBOSE"))
				fprintf(stderr, "ok %s\n", t->name);
		}
	}
	if (tmproot.len && !getenv("UNIT_KEEP_TMP"))
		nftw(tmproot.ptr, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
