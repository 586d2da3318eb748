/* Unit tests of the CSV reader: quoting, line ends, BOM, trimming, errors,
 * header lookup. */
#include "unit.h"
#include "csv.h"

/* Read every row of `text` into one string "a|b;c|d;" for comparison. */
static int flatten(rq_buf *out, const char *text, size_t len, bool trim)
{
	rq_csv *c = NULL;
	size_t nf;
	const char *const *f;
	int rc;
	rq_csv_open_buffer(&c, text, len, "t.csv");
	rq_csv_set_trim(c, trim);
	while ((rc = rq_csv_next(c, &nf, &f)) == 1) {
		for (size_t i = 0; i < nf; i++)
			rq_buf_printf(out, "%s%s", i ? "|" : "", f[i]);
		rq_buf_putc(out, ';');
	}
	rq_csv_free(c);
	return rc;
}

#define CHECK_CSV(text, trim, want)                                   \
	do {                                                          \
		rq_buf fl_ = RQ_BUF_INIT;                             \
		CHECK_OK(flatten(&fl_, text, sizeof(text) - 1, trim)); \
		CHECK_STR_EQ(fl_.ptr, want);                           \
		rq_buf_release(&fl_);                                 \
	} while (0)

TEST(csv_plain_rows)
{
	CHECK_CSV("a,b,c\n1,2,3\n", false, "a|b|c;1|2|3;");
	CHECK_CSV("a,b\n1,2", false, "a|b;1|2;");
	CHECK_CSV("a,,\n,x,\n", false, "a||;|x|;");
	CHECK_CSV("", false, "");
	CHECK_CSV("\n\n\n", false, "");
	CHECK_CSV("a\n\n\nb\n", false, "a;b;");
}

TEST(csv_crlf_and_bom)
{
	CHECK_CSV("\xef\xbb\xbfname,TDP\r\nx,1\r\n", false, "name|TDP;x|1;");
	CHECK_CSV("a,b\r\n\r\n1,2\r", false, "a|b;1|2;");
	/* a lone CR inside a line is data */
	CHECK_CSV("a\rb,c\n", false, "a\rb|c;");
}

TEST(csv_quotes)
{
	CHECK_CSV("\"a,b\",\"say \"\"hi\"\"\"\n", false, "a,b|say \"hi\";");
	CHECK_CSV("\"multi\nline\",x\r\ny\n", false, "multi\nline|x;y;");
	CHECK_CSV("\"\",\"\"\n", false, "|;");
	/* a quote inside an unquoted field is an ordinary character */
	CHECK_CSV("ab\"c,d\n", false, "ab\"c|d;");
	CHECK_CSV("\"q\"\r\n", false, "q;");
}

TEST(csv_trim)
{
	CHECK_CSV("timestamp, name, power.draw [W]\n2023/03/08 13:11:36.142, NVIDIA X, 30.98 W\n",
		  true, "timestamp|name|power.draw [W];2023/03/08 13:11:36.142|NVIDIA X|30.98 W;");
	CHECK_CSV("a , b ,  \"c \" \n", true, "a|b|c ;");
	CHECK_CSV("a , b\n", false, "a | b;");
}

TEST(csv_line_numbers_and_termination)
{
	const char text[] = "h1,h2\n\"x\ny\",1\n\nlast,2";
	rq_csv *c = NULL;
	size_t nf;
	const char *const *f;
	CHECK_OK(rq_csv_open_buffer(&c, text, sizeof(text) - 1, "t.csv"));
	CHECK_INT_EQ(rq_csv_next(c, &nf, &f), 1);
	CHECK_INT_EQ(rq_csv_line(c), 1);
	CHECK(rq_csv_row_terminated(c));
	CHECK_INT_EQ(rq_csv_next(c, &nf, &f), 1);
	CHECK_INT_EQ(rq_csv_line(c), 2);
	CHECK_INT_EQ(nf, 2);
	CHECK_STR_EQ(f[0], "x\ny");
	CHECK_INT_EQ(rq_csv_next(c, &nf, &f), 1);
	CHECK_INT_EQ(rq_csv_line(c), 5);
	CHECK(!rq_csv_row_terminated(c));
	CHECK_STR_EQ(f[0], "last");
	CHECK_INT_EQ(rq_csv_next(c, &nf, &f), 0);
	CHECK_INT_EQ(rq_csv_next(c, &nf, &f), 0);
	rq_csv_free(c);
}

TEST(csv_errors)
{
	rq_buf b = RQ_BUF_INIT;
	CHECK_ERR(flatten(&b, "a,b\n\"open,x\n", 12, false), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "t.csv: line 2: unterminated quoted field");
	rq_buf_reset(&b);
	CHECK_ERR(flatten(&b, "a\n\n\"q\"x,1\n", 10, false), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "t.csv: line 3: unexpected character after a closing quote");
	rq_buf_reset(&b);
	CHECK_ERR(flatten(&b, "a,b\nc\0d\n", 8, false), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "t.csv: line 2: NUL byte");
	rq_buf_release(&b);
}

TEST(csv_columns)
{
	const char *const h[] = { " timestamp", "Power.Draw [W]", "run_id", "energy_consumed" };
	CHECK_INT_EQ(rq_csv_column(4, h, "timestamp"), 0);
	CHECK_INT_EQ(rq_csv_column(4, h, "power.draw"), 1);
	CHECK_INT_EQ(rq_csv_column(4, h, "power"), -1);
	CHECK_INT_EQ(rq_csv_column(4, h, "RUN_ID"), 2);
	CHECK_INT_EQ(rq_csv_column(4, h, "energy"), -1);
	const char *const alt[] = { "energy_kwh", "energy_consumed", NULL };
	CHECK_INT_EQ(rq_csv_column_any(4, h, alt), 3);
	const char *const none[] = { "nope", NULL };
	CHECK_INT_EQ(rq_csv_column_any(4, h, none), -1);
}

TEST(csv_separator)
{
	const char text[] = "a;b,c\n";
	rq_csv *c = NULL;
	size_t nf;
	const char *const *f;
	rq_csv_open_buffer(&c, text, sizeof(text) - 1, "t.csv");
	rq_csv_set_separator(c, ';');
	CHECK_INT_EQ(rq_csv_next(c, &nf, &f), 1);
	CHECK_INT_EQ(nf, 2);
	CHECK_STR_EQ(f[1], "b,c");
	rq_csv_free(c);
}
