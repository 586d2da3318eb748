/* Lifetime reports (docs/FORMATS.md): the figures of a repository's life, or a
 * period of it, computed from ledger entries alone (core/report/report.c), their
 * renderings (text, Markdown, CSV, JSON; HTML in core/report/report_html.c), and
 * the evidence that lets an auditor re-derive every figure from signed
 * entries with nothing but a public key. Schema: docs/FORMATS.md, "Reports".
 *
 * The same function computes the figures for `resque report` and for
 * `resque audit report`, which recomputes them from the entries embedded in
 * a report and compares: a figure is faithful only if it is what
 * rq_report_compute gives on the signed entries. */
#ifndef RESQUE_REPORT_H
#define RESQUE_REPORT_H

#include <jansson.h>
#include <stddef.h>
#include "resque/buf.h"
#include "entry_int.h"

typedef struct rq_report_params {
	const char *since;   /* "YYYY-MM-DD" or a UTC time, inclusive; NULL: the beginning */
	const char *until;   /* inclusive (a date: through that day's end); NULL: no end */
	const char *lineage; /* a version entry's full id: only its lineage; NULL: every version */
} rq_report_params;

/* The report's figures (everything but "checkpoint", "verified" and
 * "evidence") computed from entries [0, n) of a ledger in sequence order.
 * New reference in *out. RQ_EINVALID for bad params (an unparsable date, a
 * lineage that is not a version among the entries). */
int rq_report_compute(json_t **out, rq_entry *const *entries, size_t n, const rq_report_params *p);

/* How every figure is shown in text, Markdown, CSV and HTML: numbers with
 * 4 significant digits ("%.4g") unless whole (then in full, as integers),
 * null as "—", booleans "yes"/"no". The
 * auditor of an HTML report compares displayed cells with this. */
void rq_report_format_value(rq_buf *out, const json_t *v);

/* The value at a dot-separated PATH of keys and array indices
 * ("updates.3.forecast.epochs.mean"); borrowed, NULL when absent. */
const json_t *rq_report_at(const json_t *report, const char *path);

/* Renderings of a report object (with or without evidence). */
int rq_report_text(rq_buf *out, const json_t *report);
int rq_report_markdown(rq_buf *out, const json_t *report);
int rq_report_csv(rq_buf *out, const json_t *report);

/* HTML (core/report/report_html.c): one self-contained file, inline SVG charts,
 * the whole report JSON (evidence included) in
 * <script type="application/json" id="resque-report">. Every figure shown
 * in a table is an element carrying data-rq="PATH", PATH being the
 * figure's place in the report JSON as dot-separated keys and array
 * indices ("totals.energy_kwh", "updates.3.forecast.epochs.mean"), whose
 * text is rq_report_format_value of that value. */
int rq_report_html(rq_buf *out, const json_t *report);

/* A displayed figure of an HTML report. */
typedef struct rq_report_cell {
	char *path;
	char *text; /* entities decoded */
} rq_report_cell;

/* Parse an HTML report (untrusted bytes): the embedded report JSON and
 * every data-rq cell. RQ_EINVALID "NAME: reason" when it is not one. */
int rq_report_html_extract(json_t **report, rq_report_cell **cells, size_t *ncells, const char *html,
			   size_t len, const char *name);
void rq_report_cells_free(rq_report_cell *cells, size_t n);

#endif
