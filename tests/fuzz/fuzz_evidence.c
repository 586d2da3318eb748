/* libFuzzer target: a report's evidence section as `resque audit report`
 * reads it from a file someone else wrote — parsing, checking against a
 * fixed key, and recomputing the figures from the embedded entries. */
#include "common.h"
#include "evidence.h"
#include "json.h"
#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = NULL, *ev_json, *fig = NULL;
	rq_evidence ev;
	rq_verifier v;

	if (rq_json_parse(&j, (const char *)data, size, "fuzz") != 0)
		return 0;
	ev_json = json_object_get(j, "evidence");
	if (rq_evidence_parse(&ev, ev_json ? ev_json : j, "fuzz") == 0) {
		rq_entry **e = rq_xcalloc(ev.n + 1, sizeof(*e));
		rq_report_params p = { rq_json_str(j, "since", NULL), rq_json_str(j, "until", NULL),
				       rq_json_str(j, "lineage", NULL) };
		memset(&v, 0, sizeof(v));
		snprintf(v.name, sizeof(v.name), "resque-key-0000000000000000");
		rq_evidence_check(&ev, &v, "fuzz");
		for (size_t i = 0; i < ev.n; i++)
			e[i] = ev.entries[i].entry;
		if (rq_report_compute(&fig, e, ev.n, &p) == 0) {
			rq_buf out = RQ_BUF_INIT;
			if (rq_json_dump(&out, fig, RQ_JSON_CANONICAL) != 0)
				abort(); /* a NaN or infinity escaped */
			rq_report_text(&out, fig);
			rq_report_csv(&out, fig);
			rq_buf_release(&out);
			json_decref(fig);
		}
		free(e);
		rq_evidence_release(&ev);
	}
	json_decref(j);
	return 0;
}
