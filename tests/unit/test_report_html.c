/* Unit tests of the HTML report: the evidence block extracts back to the
 * same JSON, every displayed figure is rq_report_format_value of the value
 * at its path, degenerate reports draw without NaN, and the scanner refuses
 * what is not an HTML report as we write it. */
#include "unit.h"
#include "json.h"
#include "report.h"

static const char sample[] =
	"{\"repository\":\"r<1>&\",\"period\":{\"since\":null,\"until\":\"2025-12-31\"},"
	"\"checkpoint\":{\"origin\":\"o\",\"size\":3,\"root\":\"abc=\",\"note\":\"o\\n3\\nabc=\\n\\n\\u2014 k x\\n\"},"
	"\"verified\":true,"
	"\"totals\":{\"energy_kwh\":1.5,\"carbon_kg\":0.25,\"count\":2,\"by_method\":{"
	"\"measured\":{\"energy_kwh\":1.5,\"carbon_kg\":0.25,\"count\":2},\"odd.key\":{\"energy_kwh\":1}}},"
	"\"years\":[{\"year\":2025,\"energy_kwh\":1.5,\"carbon_kg\":0.25,\"count\":2}],"
	"\"versions\":[{\"name\":\"v1 </script><!-- \\u0001 \\\"q\\\" 'a' &amp;\",\"time\":\"2025-01-01T00:00:00Z\","
	"\"parent\":null,\"cost\":{\"epochs\":3,\"energy_kwh\":1,\"carbon_kg\":0.2,\"duration_s\":60,"
	"\"method\":\"measured\"},\"counted\":\"declared\",\"cumulative\":{\"energy_kwh\":1,\"carbon_kg\":0.2}}],"
	"\"updates\":[{\"plan\":\"p1\",\"time\":\"2025-02-01T00:00:00Z\",\"from_name\":\"v1\",\"kind\":\"dist\","
	"\"shift_family\":\"<i>\",\"superseded\":false,"
	"\"forecast\":{\"energy_kwh\":{\"mean\":0.4,\"p10\":0.1,\"p90\":0.9},\"carbon_kg\":{\"mean\":0.05,"
	"\"p10\":0.01,\"p90\":0.1}},\"actual\":{\"id\":\"a1\",\"time\":\"2025-02-02T00:00:00Z\","
	"\"energy_kwh\":0.5,\"carbon_kg\":0.05,\"epochs\":null},"
	"\"error\":{\"energy_kwh\":{\"diff\":0.1,\"ape\":20,\"inside_p80\":true,\"inside_p95\":true}},"
	"\"inside_p80\":true,\"scratch\":{\"energy_kwh\":3},\"saved\":{\"energy_kwh\":2.5,\"carbon_kg\":0.1}}],"
	"\"forecast_quality\":{\"energy_kwh\":{\"n\":1,\"median_ape\":20,\"inside_p80\":1,\"inside_p95\":1}},"
	"\"saved_by_reuse\":{\"energy_kwh\":2.5,\"carbon_kg\":0.1,\"updates\":1},"
	"\"grid\":[{\"region\":\"FR\",\"intensity_g_per_kwh\":56.04,\"pue\":1.2,\"source\":\"t & u\",\"year\":2023}],"
	"\"evidence\":{\"entries\":[{\"bytes\":\"</script><script>alert(1)</script><!--<script>\"}]}}";

static json_t *load(const char *s)
{
	json_t *j = NULL;
	if (rq_json_parse(&j, s, strlen(s), "test.json") != 0)
		unit_fail(__FILE__, __LINE__, "%s", rq_error_last());
	return j;
}


/* Render, extract, and check the round trip and every cell; returns the
 * number of cells (or -1). */
static long roundtrip(const json_t *report, rq_buf *html)
{
	json_t *back = NULL;
	rq_report_cell *cells = NULL;
	size_t n = 0;
	long ret = -1;

	rq_buf_reset(html);
	if (rq_report_html(html, report) != 0) {
		unit_fail(__FILE__, __LINE__, "render: %s", rq_error_last());
		return -1;
	}
	if (rq_report_html_extract(&back, &cells, &n, html->ptr, html->len, "r.html") != 0) {
		unit_fail(__FILE__, __LINE__, "extract: %s", rq_error_last());
		return -1;
	}
	if (!json_equal(back, report))
		unit_fail(__FILE__, __LINE__, "the evidence block does not give back the report");
	ret = (long)n;
	for (size_t i = 0; i < n; i++) {
		const json_t *v = rq_report_at(report, cells[i].path);
		rq_buf want = RQ_BUF_INIT;
		if (!v) {
			unit_fail(__FILE__, __LINE__, "cell %s: no such value", cells[i].path);
			ret = -1;
			continue;
		}
		rq_report_format_value(&want, v);
		if (strcmp(want.ptr, cells[i].text) != 0) {
			unit_fail(__FILE__, __LINE__, "cell %s shows '%s', want '%s'", cells[i].path,
				  cells[i].text, want.ptr);
			ret = -1;
		}
		rq_buf_release(&want);
	}
	/* Nothing the charts draw may be NaN or infinite. */
	if (strstr(html->ptr, "nan") || strstr(html->ptr, "NaN") || strstr(html->ptr, "=\"inf") ||
	    strstr(html->ptr, "=\"-inf") || strstr(html->ptr, " inf") || strstr(html->ptr, "Infinity"))
		unit_fail(__FILE__, __LINE__, "a non-finite number in the HTML");
	json_decref(back);
	rq_report_cells_free(cells, n);
	return ret;
}

static bool has_cell(const char *html, const char *path, const char *text)
{
	rq_buf want = RQ_BUF_INIT;
	bool ok;
	rq_buf_printf(&want, "data-rq=\"%s\">%s<", path, text);
	ok = strstr(html, want.ptr) != NULL;
	rq_buf_release(&want);
	return ok;
}

TEST(report_html_round_trips_and_every_cell_is_the_formatted_value)
{
	json_t *r = load(sample);
	rq_buf html = RQ_BUF_INIT;
	long n = roundtrip(r, &html);

	CHECK(n > 40);
	CHECK(has_cell(html.ptr, "totals.energy_kwh", "1.5"));
	CHECK(has_cell(html.ptr, "verified", "yes"));
	CHECK(has_cell(html.ptr, "updates.0.error.energy_kwh.inside_p80", "yes"));
	CHECK(has_cell(html.ptr, "updates.0.actual.epochs", "\xe2\x80\x94")); /* null */
	CHECK(has_cell(html.ptr, "grid.0.source", "t &amp; u"));
	/* strings from users are escaped, control characters as references */
	CHECK(has_cell(html.ptr, "versions.0.name",
		       "v1 &lt;/script&gt;&lt;!-- &#1; &quot;q&quot; &#39;a&#39; &amp;amp;"));
	CHECK(has_cell(html.ptr, "updates.0.shift_family", "&lt;i&gt;"));
	/* a key with a dot makes no ambiguous path: it is not shown */
	CHECK(strstr(html.ptr, "odd.key") == NULL || strstr(html.ptr, "data-rq=\"totals.by_method.odd") == NULL);
	/* the evidence block: one script, nothing that closes it early */
	CHECK(strstr(html.ptr, "\\u003c/script>\\u003cscript>alert(1)\\u003c/script>\\u003c!--\\u003cscript>") != NULL);
	{
		const char *p = strstr(html.ptr, "</script>");
		CHECK(p && strstr(p + 1, "</script>") == NULL);
	}
	/* the charts are there, each with a title and an aria-label */
	CHECK(strstr(html.ptr, "<svg id=\"chart-cumulative\"") != NULL);
	CHECK(strstr(html.ptr, "<svg id=\"chart-forecast\"") != NULL);
	CHECK(strstr(html.ptr, "<svg id=\"chart-versions\"") != NULL);
	CHECK(strstr(html.ptr, "aria-label=\"Cumulative carbon") != NULL);
	CHECK(strstr(html.ptr, "<title>Forecast against actual energy per update</title>") != NULL);
	CHECK(strstr(html.ptr, "@media print") != NULL);
	json_decref(r);
	rq_buf_release(&html);
}

TEST(report_html_draws_degenerate_reports_without_nan)
{
	static const char *const reports[] = {
		"{}",
		"{\"versions\":[],\"updates\":[],\"years\":[],\"grid\":[],\"totals\":null}",
		"{\"versions\":null,\"updates\":{},\"totals\":{\"by_method\":[]},\"forecast_quality\":[]}",
		/* one point of each */
		"{\"versions\":[{\"name\":\"v\",\"cost\":{\"energy_kwh\":0},\"counted\":\"declared\","
		"\"time\":\"2025-01-01T00:00:00Z\"}],\"updates\":[{\"time\":\"2025-01-01T00:00:00Z\","
		"\"actual\":{\"energy_kwh\":0,\"carbon_kg\":0,\"time\":\"2025-01-01T00:00:00Z\"},"
		"\"forecast\":{\"energy_kwh\":{\"mean\":0,\"p10\":0,\"p90\":0}}}]}",
		/* huge, tiny, negative, wrong types, inverted intervals, bad times */
		"{\"versions\":[{\"name\":null,\"cost\":{\"energy_kwh\":1e300}},{\"cost\":{\"energy_kwh\":-5}},"
		"{\"cost\":{\"energy_kwh\":\"x\"}},{\"cost\":{\"energy_kwh\":1e-300}}],"
		"\"updates\":[{\"time\":\"not a time\",\"actual\":{\"energy_kwh\":1e308,\"carbon_kg\":1e308,"
		"\"time\":\"2025-01-01T00:00:00Z\"},\"forecast\":{\"energy_kwh\":{\"mean\":-1e308,\"p10\":5,"
		"\"p90\":1}}},{\"actual\":{\"energy_kwh\":5e-324,\"carbon_kg\":-1,\"time\":\"2100-01-01T00:00:00Z\"},"
		"\"forecast\":{\"energy_kwh\":{\"mean\":5e-324},\"carbon_kg\":{\"mean\":1e308,\"p10\":0,\"p90\":1e308}}},"
		"{\"actual\":null,\"forecast\":null,\"error\":null},{}, 3, null],"
		"\"years\":[1,{\"year\":\"x\"}],\"grid\":[{\"a\":{\"b\":1},\"c\":[1]},2],"
		"\"checkpoint\":{\"note\":5},\"verified\":false}",
		/* time axes from seconds to millennia */
		"{\"updates\":[{\"actual\":{\"carbon_kg\":1,\"time\":\"2025-01-01T00:00:10Z\"}},"
		"{\"actual\":{\"carbon_kg\":1,\"time\":\"2025-01-01T00:00:13Z\"}}]}",
		"{\"updates\":[{\"actual\":{\"carbon_kg\":1,\"time\":\"2025-01-01T00:00:00Z\"}},"
		"{\"actual\":{\"carbon_kg\":1,\"time\":\"2025-01-01T05:00:00Z\"}}]}",
		"{\"updates\":[{\"actual\":{\"carbon_kg\":1,\"time\":\"2015-01-01T00:00:00Z\"}},"
		"{\"actual\":{\"carbon_kg\":1,\"time\":\"2025-06-01T00:00:00Z\"}}]}",
		"{\"updates\":[{\"actual\":{\"carbon_kg\":1,\"time\":\"1900-01-01T00:00:00Z\"}},"
		"{\"actual\":{\"carbon_kg\":1,\"time\":\"9999-12-31T23:59:59Z\"}}]}",
		NULL,
	};
	rq_buf html = RQ_BUF_INIT, many = RQ_BUF_INIT;

	for (size_t i = 0; reports[i]; i++) {
		json_t *r = load(reports[i]);
		CHECK(roundtrip(r, &html) >= 0);
		if (i >= 5) /* the timed ones draw at least two labelled ticks */
			CHECK(strstr(html.ptr, "text-anchor=\"middle\">") != NULL);
		json_decref(r);
	}
	{
		/* seconds apart: ticks of the time of day, the date below */
		json_t *r = load(reports[5]);
		CHECK(roundtrip(r, &html) >= 0);
		CHECK(strstr(html.ptr, ">00:00:11<") != NULL);
		CHECK(strstr(html.ptr, "time on 2025-01-01 (UTC)") != NULL);
		json_decref(r);
		r = load(reports[7]);
		CHECK(roundtrip(r, &html) >= 0);
		CHECK(strstr(html.ptr, ">2020<") != NULL);
		json_decref(r);
	}
	rq_buf_puts(&many, "{\"versions\":[");
	for (int i = 0; i < 300; i++)
		rq_buf_printf(&many, "%s{\"name\":\"version-with-a-long-name-%d\",\"cost\":{\"energy_kwh\":%d}}",
			      i ? "," : "", i, i % 7);
	rq_buf_puts(&many, "]}");
	{
		json_t *r = load(many.ptr);
		CHECK(roundtrip(r, &html) >= 0);
		json_decref(r);
	}
	{
		json_t *r = load("{\"updates\":[]}");
		CHECK(roundtrip(r, &html) >= 0);
		CHECK(strstr(html.ptr, "no updates recorded") != NULL);
		CHECK(strstr(html.ptr, "class=\"empty\"") != NULL);
		json_decref(r);
	}
	{
		json_t *arr = json_array();
		CHECK_ERR(rq_report_html(&html, arr), RQ_EINVALID);
		json_decref(arr);
	}
	rq_buf_release(&html);
	rq_buf_release(&many);
}

#define EV "<script type=\"application/json\" id=\"resque-report\">{\"a\":1}</script>"

TEST(report_html_extract_reads_the_html_we_write)
{
	static const char doc[] = "<!DOCTYPE html>\n<html><head><title>a <b> & c</title><style>td>x{}</style>"
				  "</head><body><!-- c <td data-rq=\"no\"> --><p title='x > y'>a &amp; b &#x41;</p>"
				  "<td data-rq=\"a\">1</td><span data-rq=\"b.0\" class=\"n\">&lt;&gt;&quot;&#39;&amp;&#8212;&#x2014;</span>"
				  "<td data-rq=\"c\"></td>" EV "</body></html>";
	json_t *r = NULL;
	rq_report_cell *cells = NULL;
	size_t n = 0;

	CHECK_OK(rq_report_html_extract(&r, &cells, &n, doc, sizeof(doc) - 1, "d.html"));
	CHECK_INT_EQ(n, 3);
	if (n == 3) {
		CHECK(strcmp(cells[0].path, "a") == 0 && strcmp(cells[0].text, "1") == 0);
		CHECK(strcmp(cells[1].path, "b.0") == 0);
		CHECK(strcmp(cells[1].text, "<>\"'&\xe2\x80\x94\xe2\x80\x94") == 0);
		CHECK(strcmp(cells[2].text, "") == 0);
	}
	CHECK(json_integer_value(json_object_get(r, "a")) == 1);
	json_decref(r);
	rq_report_cells_free(cells, n);
	rq_report_cells_free(NULL, 0);
}

TEST(report_html_extract_refuses_what_is_not_a_report)
{
	static const struct {
		const char *html, *msg;
	} bad[] = {
		{ "<p>no evidence</p>", "x.html: no evidence block" },
		{ EV EV, "x.html: line 1: more than one evidence block" },
		{ "<script>alert(1)</script>" EV, "a script other than the report's evidence" },
		{ "<script type=\"application/json\" id=\"other\">{}</script>" EV, "a script other than" },
		{ "<script type=\"application/json\" id=\"resque-report\">{\"a\":1}", "unterminated evidence block" },
		{ "<script type=\"application/json\" id=\"resque-report\">[1]</script>", "not a JSON object" },
		{ "<script type=\"application/json\" id=\"resque-report\">{\"a\":</script>", "x.html: invalid JSON" },
		{ "<script type=\"application/json\" id=\"resque-report\">{\"a\":1,\"a\":2}</script>", "invalid JSON" },
		{ "<td data-rq=\"a\">1", "unterminated data-rq element" },
		{ "<td data-rq=\"a\"", "unterminated tag" },
		{ "<td data-rq=\"a>1</td>", "unterminated attribute value" },
		{ "<td data-rq=a>1</td>" EV, "unquoted attribute value" },
		{ "<td data-rq=\"a\"><span data-rq=\"b\">1</span></td>" EV, "nested data-rq" },
		{ "<td data-rq=\"a\"><b>1</b></td>" EV, "markup inside a data-rq element" },
		{ "<td data-rq=\"a\">1</span>" EV, "closed by another tag" },
		{ "<td data-rq=\"a\">1</td><td data-rq=\"a\">1</td>" EV, "duplicate data-rq path 'a'" },
		{ "<td data-rq=\"a\" data-rq=\"b\">1</td>" EV, "duplicate attribute" },
		{ "<td DATA-RQ=\"a\" data-rq=\"b\">1</td>" EV, "duplicate attribute" },
		{ "<td data-rq=\"\">1</td>" EV, "empty data-rq path" },
		{ "<td data-rq=\"a\"/>" EV, "empty data-rq element" },
		{ "<td data-rq=\"a\">1 &nbsp;</td>" EV, "unknown or unterminated entity" },
		{ "<td data-rq=\"a\">1 & 2</td>" EV, "unknown or unterminated entity" },
		{ "<td data-rq=\"a\">&#0;</td>" EV, "character reference out of range" },
		{ "<td data-rq=\"a\">&#xD800;</td>" EV, "character reference out of range" },
		{ "<td data-rq=\"a\">&#x110000;</td>" EV, "character reference out of range" },
		{ "<td data-rq=\"a\">&#;</td>" EV, "malformed character reference" },
		{ "<td data-rq=\"a\">&#12a;</td>" EV, "malformed character reference" },
		{ "<p onload=\"x()\">" EV, "event handler attribute" },
		{ "<textarea><td data-rq=\"a\">1</td></textarea>" EV, "unsupported element" },
		{ "<p>a < b</p>" EV, "stray '<'" },
		{ "<p>a &amp b</p>" EV, "stray '&'" },
		{ "<!-- never closed" EV, "unterminated comment" },
		{ "<p>\xff</p>" EV, "x.html: line 1: not UTF-8" },
		{ "\n\n<p>\xc0\x80</p>" EV, "x.html: line 3: not UTF-8" },
		{ "<p>\xed\xa0\x80</p>" EV, "not UTF-8" },
		{ "<p>\xe2\x82</p>" EV, "not UTF-8" },
		{ "<style>p{}" EV, "unterminated element" },
		{ "</td foo=\"1\">" EV, "attributes in an end tag" },
	};
	for (size_t i = 0; i < RQ_ARRAY_SIZE(bad); i++) {
		json_t *r = NULL;
		rq_report_cell *cells = NULL;
		size_t n = 0;
		int rc = rq_report_html_extract(&r, &cells, &n, bad[i].html, strlen(bad[i].html), "x.html");
		if (rc != RQ_EINVALID || !strstr(rq_error_last(), bad[i].msg))
			unit_fail(__FILE__, __LINE__, "case %zu: rc %d, '%s', want '%s'", i, rc, rq_error_last(),
				  bad[i].msg);
		CHECK(r == NULL && cells == NULL && n == 0);
	}
	{
		/* a NUL byte, and the size limit (checked before any byte is read) */
		static const char nul[] = "<p>a\0b</p>" EV;
		json_t *r = NULL;
		rq_report_cell *cells = NULL;
		size_t n = 0;
		CHECK_ERR(rq_report_html_extract(&r, &cells, &n, nul, sizeof(nul) - 1, "x.html"), RQ_EINVALID);
		CHECK(strstr(rq_error_last(), "NUL byte") != NULL);
		CHECK_ERR(rq_report_html_extract(&r, &cells, &n, nul, ((size_t)256 << 20) + 1, "x.html"),
			  RQ_EINVALID);
		CHECK(strstr(rq_error_last(), "x.html: larger than 256 MiB") != NULL);
	}
}

TEST(report_html_extract_undoes_exactly_the_evidence_escapes)
{
	/* strings holding what the escaping produces, backslashes and '<' */
	json_t *r = load("{\"s\":\"<\\\\/ <\\\\!-- </ <!-- <\\\\\\\\/ \\\\ </script <!--<script>\","
			 "\"t\":[\"<\",\"<\\\\\",\"</\"]}");
	rq_buf html = RQ_BUF_INIT;
	CHECK(roundtrip(r, &html) >= 0);
	json_decref(r);
	rq_buf_release(&html);
}
