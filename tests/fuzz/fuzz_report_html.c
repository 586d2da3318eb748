/* libFuzzer target: the HTML report scanner of `resque audit report`
 * (untrusted bytes). A report it accepts is rendered again, and the new
 * HTML must extract to the same JSON with every cell the formatted value
 * at its path: rendering never writes what the scanner refuses. */
#include "common.h"
#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *r = NULL, *again = NULL;
	rq_report_cell *cells = NULL, *cells2 = NULL;
	size_t n = 0, n2 = 0;
	rq_buf html = RQ_BUF_INIT;

	if (rq_report_html_extract(&r, &cells, &n, (const char *)data, size, "fuzz.html") != 0)
		return 0;
	if (rq_report_html(&html, r) == 0) {
		if (rq_report_html_extract(&again, &cells2, &n2, html.ptr, html.len, "again.html") != 0)
			abort();
		if (!json_equal(r, again))
			abort();
	}
	json_decref(r);
	json_decref(again);
	rq_report_cells_free(cells, n);
	rq_report_cells_free(cells2, n2);
	rq_buf_release(&html);
	return 0;
}
