/* Test helper: the HTML report without a repository.
 *   rq-report-html < report.json > report.html     render
 *   rq-report-html --extract NAME < report.html    the embedded JSON
 *       (canonical) on the first line, then "PATH\tTEXT" per figure, and
 *       "check PATH" lines for any figure whose text is not
 *       rq_report_format_value of the embedded value at PATH */
#include "common.h"
#include "json.h"
#include "report.h"

static int read_stdin(rq_buf *out)
{
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		rq_buf_put(out, chunk, n);
	return ferror(stdin) ? -1 : 0;
}


int main(int argc, char **argv)
{
	rq_buf in = RQ_BUF_INIT, out = RQ_BUF_INIT;
	json_t *report = NULL;
	rq_report_cell *cells = NULL;
	size_t n = 0;
	int status = 1;

	if (read_stdin(&in)) {
		fprintf(stderr, "rq-report-html: cannot read stdin\n");
		goto done;
	}
	if (argc == 3 && strcmp(argv[1], "--extract") == 0) {
		if (rq_report_html_extract(&report, &cells, &n, in.ptr, in.len, argv[2])) {
			fprintf(stderr, "rq-report-html: %s\n", rq_error_last());
			goto done;
		}
		if (rq_json_dump(&out, report, RQ_JSON_CANONICAL))
			goto done;
		rq_buf_putc(&out, '\n');
		for (size_t i = 0; i < n; i++) {
			const json_t *v = rq_report_at(report, cells[i].path);
			rq_buf want = RQ_BUF_INIT;
			rq_buf_printf(&out, "%s\t%s\n", cells[i].path, cells[i].text);
			if (v)
				rq_report_format_value(&want, v);
			if (!v || strcmp(want.ptr, cells[i].text) != 0)
				rq_buf_printf(&out, "check %s\n", cells[i].path);
			rq_buf_release(&want);
		}
	} else if (argc == 1) {
		if (rq_json_parse(&report, in.ptr, in.len, "stdin") || rq_report_html(&out, report)) {
			fprintf(stderr, "rq-report-html: %s\n", rq_error_last());
			goto done;
		}
	} else {
		fprintf(stderr, "usage: rq-report-html [--extract NAME] < input\n");
		status = 2;
		goto done;
	}
	if (fwrite(out.ptr, 1, out.len, stdout) != out.len || fflush(stdout)) {
		fprintf(stderr, "rq-report-html: cannot write stdout\n");
		goto done;
	}
	status = 0;
done:
	json_decref(report);
	rq_report_cells_free(cells, n);
	rq_buf_release(&in);
	rq_buf_release(&out);
	return status;
}
