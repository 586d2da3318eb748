/* Test helper: `rq-import codecarbon|nvidia-smi FILE [RUN_ID]` parses the
 * file with libresque's importers and prints the result as JSON (warnings
 * on stderr); exit 1 with the message on a rejected file. */
#include "common.h"
#include "import.h"
#include "json.h"

int main(int argc, char **argv)
{
	rq_buf data = RQ_BUF_INIT, out = RQ_BUF_INIT;
	json_t *j = NULL;
	int rc = 1;
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: rq-import codecarbon|nvidia-smi FILE [RUN_ID]\n");
		return 2;
	}
	if (rq_file_read(&data, argv[2]) < 0)
		goto fail;
	if (!strcmp(argv[1], "codecarbon")) {
		rq_cc_import r;
		if (rq_import_codecarbon(&r, data.ptr, data.len, argv[2], argc == 4 ? argv[3] : NULL) < 0)
			goto fail;
		fputs(r.warnings.ptr, stderr);
		j = json_array();
		for (size_t i = 0; i < r.n; i++)
			json_array_append_new(j, rq_cc_run_json(&r.runs[i]));
		rq_cc_import_release(&r);
	} else if (!strcmp(argv[1], "nvidia-smi")) {
		rq_nvsmi_import r;
		if (rq_import_nvsmi(&r, data.ptr, data.len, argv[2]) < 0)
			goto fail;
		fputs(r.warnings.ptr, stderr);
		j = rq_nvsmi_json(&r);
		json_object_set_new(j, "joules", json_real(r.joules));
		rq_nvsmi_import_release(&r);
	} else {
		fprintf(stderr, "rq-import: unknown format '%s'\n", argv[1]);
		rc = 2;
		goto done;
	}
	if (rq_json_dump(&out, j, RQ_JSON_PRETTY) < 0)
		goto fail;
	fputs(out.ptr, stdout);
	rc = 0;
	goto done;
fail:
	fprintf(stderr, "rq-import: %s\n", rq_error_last());
done:
	json_decref(j);
	rq_buf_release(&data);
	rq_buf_release(&out);
	return rc;
}
