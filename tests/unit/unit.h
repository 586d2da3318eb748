/* A minimal unit-test framework: TEST(name) registers itself; CHECK* record
 * failures and go on; the runner prints "unit: N passed, N failed". */
#ifndef RESQUE_UNIT_H
#define RESQUE_UNIT_H

#include "common.h"
#include <math.h>

struct unit_test {
	const char *name;
	const char *file;
	void (*fn)(void);
	struct unit_test *next;
};
void unit_register(struct unit_test *t);
void unit_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A fresh empty directory, removed when the runner exits. Borrowed. */
const char *unit_tmpdir(void);
/* Write `len` bytes to `dir/name`; returns the malloc'd path. */
char *unit_write_file(const char *dir, const char *name, const void *data, size_t len);

#define TEST(name)                                                         \
	static void name(void);                                            \
	static struct unit_test name##_reg_ = { #name, __FILE__, name, NULL }; \
	__attribute__((constructor)) static void name##_ctor_(void)        \
	{                                                                  \
		unit_register(&name##_reg_);                               \
	}                                                                  \
	static void name(void)

#define CHECK(c)                                                    \
	do {                                                        \
		if (!(c))                                           \
			unit_fail(__FILE__, __LINE__, "CHECK(%s)", #c); \
	} while (0)

#define CHECK_OK(expr)                                                         \
	do {                                                                   \
		int rc_ = (expr);                                              \
		if (rc_ != 0)                                                  \
			unit_fail(__FILE__, __LINE__, "%s returned %d: %s", #expr, \
				  rc_, rq_error_last());                       \
	} while (0)

#define CHECK_ERR(expr, code)                                                   \
	do {                                                                    \
		int rc_ = (expr);                                               \
		if (rc_ != (code))                                              \
			unit_fail(__FILE__, __LINE__, "%s returned %d, expected %d (%s)", \
				  #expr, rc_, (int)(code), rq_error_last());    \
	} while (0)

#define CHECK_INT_EQ(a, b)                                                       \
	do {                                                                     \
		long long a_ = (long long)(a), b_ = (long long)(b);              \
		if (a_ != b_)                                                    \
			unit_fail(__FILE__, __LINE__, "%s == %lld, expected %lld", #a, a_, b_); \
	} while (0)

#define CHECK_STR_EQ(a, b)                                                    \
	do {                                                                  \
		const char *a_ = (a), *b_ = (b);                              \
		if (!a_ || !b_ || strcmp(a_, b_) != 0)                        \
			unit_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #a, \
				  a_ ? a_ : "(null)", b_ ? b_ : "(null)");    \
	} while (0)

#define CHECK_NEAR(a, b, tol)                                                    \
	do {                                                                     \
		double a_ = (a), b_ = (b);                                       \
		if (!(fabs(a_ - b_) <= (tol)))                                   \
			unit_fail(__FILE__, __LINE__, "%s == %.17g, expected %.17g (tol %g)", \
				  #a, a_, b_, (double)(tol));                    \
	} while (0)

#define CHECK_CONTAINS(hay, needle)                                               \
	do {                                                                      \
		const char *h_ = (hay), *n_ = (needle);                           \
		if (!h_ || !strstr(h_, n_))                                       \
			unit_fail(__FILE__, __LINE__, "\"%s\" does not contain \"%s\"", \
				  h_ ? h_ : "(null)", n_);                        \
	} while (0)

#endif
