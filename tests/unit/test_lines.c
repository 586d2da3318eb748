/* Unit tests of the line iterator: empty text, a missing final newline,
 * blank lines, and bytes it leaves to the caller (CR, NUL). */
#include "unit.h"
#include "lines.h"

/* Every line of text[0..len) as "[LINE]" with '\r' as 'R' and NUL as '0',
 * then "+" when the last line ended with a newline. */
static void flatten(rq_buf *out, const char *text, size_t len)
{
	rq_lines it;
	const char *line;
	size_t n, count = 0;

	rq_lines_init(&it, text, len);
	while (rq_lines_next(&it, &line, &n)) {
		rq_buf_putc(out, '[');
		for (size_t i = 0; i < n; i++)
			rq_buf_putc(out, line[i] == '\r' ? 'R' : line[i] == '\0' ? '0' : line[i]);
		rq_buf_putc(out, ']');
		CHECK_INT_EQ(it.lineno, ++count);
	}
	if (it.newline)
		rq_buf_putc(out, '+');
	CHECK(!rq_lines_next(&it, &line, &n)); /* stays at the end */
}

#define CHECK_LINES(text, want)                               \
	do {                                                  \
		rq_buf fl_ = RQ_BUF_INIT;                     \
		flatten(&fl_, text, sizeof(text) - 1);        \
		CHECK_STR_EQ(fl_.ptr, want);                  \
		rq_buf_release(&fl_);                         \
	} while (0)

TEST(lines_empty)
{
	rq_lines it;
	const char *line = NULL;
	size_t n = 7;
	rq_lines_init(&it, "", 0);
	CHECK(!rq_lines_next(&it, &line, &n));
	CHECK_INT_EQ(it.lineno, 0);
	CHECK_LINES("", "");
}

TEST(lines_final_newline)
{
	CHECK_LINES("a\nbc\n", "[a][bc]+");
	CHECK_LINES("a\nbc", "[a][bc]");
	CHECK_LINES("\n", "[]+");
	CHECK_LINES("x", "[x]");
}

TEST(lines_blank)
{
	CHECK_LINES("\n\na\n\n", "[][][a][]+");
	CHECK_LINES("a\n\nb", "[a][][b]");
}

TEST(lines_cr_and_nul_are_the_callers)
{
	CHECK_LINES("a\r\nb\r\n", "[aR][bR]+");
	CHECK_LINES("a\0b\n\0\n", "[a0b][0]+");
	CHECK_LINES("\r", "[R]");
}

TEST(lines_long)
{
	rq_buf text = RQ_BUF_INIT;
	rq_lines it;
	const char *line;
	size_t n;
	for (size_t i = 0; i < 100000; i++)
		rq_buf_putc(&text, 'x');
	rq_buf_puts(&text, "\ny");
	rq_lines_init(&it, text.ptr, text.len);
	CHECK(rq_lines_next(&it, &line, &n));
	CHECK_INT_EQ(n, 100000);
	CHECK(line == text.ptr);
	CHECK(it.newline);
	CHECK(rq_lines_next(&it, &line, &n));
	CHECK_INT_EQ(n, 1);
	CHECK(*line == 'y');
	CHECK(!it.newline);
	CHECK_INT_EQ(it.lineno, 2);
	CHECK(!rq_lines_next(&it, &line, &n));
	rq_buf_release(&text);
}
