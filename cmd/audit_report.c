/* resque audit report: check a JSON or HTML report with nothing but the
 * signer's public key — its checkpoint, every embedded entry's signature,
 * chain and inclusion, then every figure recomputed from those entries. */
#include "common.h"
#include "cmd.h"
#include "resque/evidence.h"
#include "resque/json.h"
#include "resque/ledger.h"
#include "resque/report.h"
#include "resque/tlog.h"

#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#define REPORT_MAX ((size_t)1 << 30) /* larger files are refused unread */

static const struct cmd_help help = {
	"audit report", "verify a report's evidence and recompute its figures",
	"FILE is a report written by 'resque report --format json' or '--format\n"
	"html'. No repository is needed: the checkpoint must be signed by --key\n"
	"(a file or the key's text, as 'resque key export' prints it), a key the\n"
	"ledger itself authorises at that size, for the repository the report\n"
	"names; the embedded entries must be exactly the checkpoint's tree, in\n"
	"order, with an unbroken hash chain, each signed by a signer authorised at\n"
	"that point, their Merkle root the checkpoint's and every inclusion proof\n"
	"valid. Then every figure (totals, years, versions, updates, forecast\n"
	"quality, savings, the grid) is recomputed from the entries with the\n"
	"report's own period and lineage and must equal the stated one (relative\n"
	"difference at most 1e-9); the report must say \"verified\": true, state\n"
	"its evidence's checkpoint, and hold no other field. An HTML report must\n"
	"be byte for byte the page resque writes for the checked figures (so an\n"
	"edited label, style, chart or hidden row fails too): audit it with the\n"
	"resque version that wrote it, or audit the JSON report.\n\n"
	"With -C DIR, that repository's ledger is verified in full and its first\n"
	"N entries must hash to the checkpoint's root.\n\n"
	"Exit status: 0 when all holds (\"ok: N entries, M figures checked,\n"
	"checkpoint SIZE ROOT\"); 3 naming the first figure or entry that does not;\n"
	"1 when FILE is not a readable report; 2 for usage errors. --json prints\n"
	"{\"ok\", \"entries\", \"figures\", \"cells\", \"size\", \"root\", \"problem\"}.",
};

/* The sections recomputed and compared in full. */
static const char *const figure_sections[] = { "repository", "period", "lineage", "entries", "totals", "years",
					       "versions", "updates", "forecast_quality", "saved_by_reuse" };
/* Everything else a report may hold: its checkpoint (compared with the
 * evidence's), "verified" (true: a report whose ledger did not verify has
 * no evidence) and the evidence itself. Any other field is refused: a
 * reader could take it for a checked figure. */
static const char *const other_fields[] = { "grid", "checkpoint", "verified", "evidence" };

struct audit {
	size_t figures;
	rq_buf problem;
};

static void show(rq_buf *out, const json_t *v)
{
	if (!v) {
		rq_buf_puts(out, "nothing");
		return;
	}
	if (json_is_object(v) || json_is_array(v)) {
		rq_buf_puts(out, json_is_object(v) ? "an object" : "a list");
		return;
	}
	rq_json_dump(out, v, RQ_JSON_CANONICAL);
}

static bool same_number(double a, double b)
{
	return a == b || fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b));
}

/* Compare the stated value with the recomputed one; false (with the
 * problem set) at the first difference. */
static bool compare(struct audit *a, rq_buf *path, const json_t *said, const json_t *got)
{
	size_t mark = path->len;
	bool ok = true;

	if (json_is_object(got) && json_is_object(said)) {
		const char *key;
		json_t *v;
		json_object_foreach((json_t *)got, key, v) {
			rq_buf_printf(path, "%s%s", path->len ? "." : "", key);
			ok = compare(a, path, json_object_get(said, key), v);
			rq_buf_truncate(path, mark);
			if (!ok)
				return false;
		}
		json_object_foreach((json_t *)said, key, v)
			if (!json_object_get(got, key)) {
				rq_buf_printf(&a->problem, "%s%s%s: the report states a figure the entries do not give", path->ptr,
					      path->len ? "." : "", key);
				return false;
			}
		return true;
	}
	if (json_is_array(got) && json_is_array(said)) {
		if (json_array_size(said) != json_array_size(got)) {
			rq_buf_printf(&a->problem, "%s: the report lists %zu, the entries give %zu", path->ptr,
				      json_array_size(said), json_array_size(got));
			return false;
		}
		for (size_t i = 0; i < json_array_size(got); i++) {
			rq_buf_printf(path, ".%zu", i);
			ok = compare(a, path, json_array_get(said, i), json_array_get(got, i));
			rq_buf_truncate(path, mark);
			if (!ok)
				return false;
		}
		return true;
	}
	a->figures++;
	if (json_is_number(got) && json_is_number(said))
		ok = same_number(json_number_value(got), json_number_value(said));
	else
		ok = said && json_equal((json_t *)said, (json_t *)got);
	if (!ok) {
		rq_buf_printf(&a->problem, "%s: the report says ", path->ptr);
		show(&a->problem, said);
		rq_buf_puts(&a->problem, ", the entries give ");
		show(&a->problem, got);
	}
	return ok;
}

static int read_report(rq_buf *out, const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > REPORT_MAX)
		return rq_error_set(RQ_EINVALID, "%s: larger than %zu MiB: not a report", path, REPORT_MAX >> 20);
	return rq_file_read_max(out, path, REPORT_MAX);
}

static const char *param(const json_t *report, const char *section, const char *key, bool *bad)
{
	const json_t *v = section ? json_object_get(json_object_get(report, section), key) : json_object_get(report, key);
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v))
		*bad = true;
	return json_string_value(v);
}

/* Steps of the audit; each returns 0, or an error code with the message set. */
static int check_figures(struct audit *a, json_t **recomputed, const json_t *report, const rq_evidence *ev,
			 const char *name)
{
	rq_entry **entries = rq_xcalloc(ev->n + 1, sizeof(*entries));
	rq_report_params p;
	bool bad = false;
	json_t *got = NULL, *full = NULL;
	int err = 0;

	*recomputed = NULL;
	p.since = param(report, "period", "since", &bad);
	p.until = param(report, "period", "until", &bad);
	p.lineage = param(report, NULL, "lineage", &bad);
	if (bad) {
		err = rq_error_set(RQ_EINVALID, "%s: the report's period or lineage is not text", name);
		goto done;
	}
	for (size_t i = 0; i < ev->n; i++)
		entries[i] = ev->entries[i].entry;
	if ((err = rq_report_compute(&got, entries, ev->n, &p))) {
		err = rq_error_prefix(RQ_EINTEGRITY, "%s: recomputing the figures: ", name);
		goto done;
	}
	for (size_t k = 0; k < RQ_ARRAY_SIZE(figure_sections); k++) {
		rq_buf path = RQ_BUF_INIT;
		bool ok;
		rq_buf_puts(&path, figure_sections[k]);
		ok = compare(a, &path, json_object_get(report, figure_sections[k]),
			     json_object_get(got, figure_sections[k]));
		rq_buf_release(&path);
		if (!ok) {
			err = rq_error_set(RQ_EINTEGRITY, "%s: %s", name, a->problem.ptr);
			goto done;
		}
	}
	/* The grid in full: its region names, sources and years come from the
	 * carbon table, so a report is audited by a resque with the same table
	 * (docs/FORMATS.md, "Auditing a report"). */
	{
		rq_buf path = RQ_BUF_INIT;
		bool ok;
		rq_buf_puts(&path, "grid");
		ok = compare(a, &path, json_object_get(report, "grid"), json_object_get(got, "grid"));
		rq_buf_release(&path);
		if (!ok) {
			err = rq_error_set(RQ_EINTEGRITY, "%s: %s", name, a->problem.ptr);
			goto done;
		}
	}
	{
		const char *key;
		json_t *v;
		json_object_foreach((json_t *)report, key, v) {
			bool known = false;
			for (size_t k = 0; k < RQ_ARRAY_SIZE(figure_sections); k++)
				known |= strcmp(key, figure_sections[k]) == 0;
			for (size_t k = 0; k < RQ_ARRAY_SIZE(other_fields); k++)
				known |= strcmp(key, other_fields[k]) == 0;
			if (!known) {
				err = rq_error_set(RQ_EINTEGRITY, "%s: '%s' is not a field of a report: nothing in the "
						   "evidence supports it", name, key);
				goto done;
			}
		}
		if (!json_is_true(json_object_get(report, "verified"))) {
			err = rq_error_set(RQ_EINTEGRITY, "%s: verified: the report does not say true (a report "
					   "with evidence is written only from a ledger that verified)", name);
			goto done;
		}
	}
	/* What a displayed cell must show: the recomputed figures and the
	 * report's checkpoint (checked against the evidence). */
	full = json_deep_copy(report);
	json_object_update(full, got);
	*recomputed = full;
	full = NULL;
done:
	json_decref(got);
	json_decref(full);
	free(entries);
	return err;
}

static int check_checkpoint_section(const json_t *report, const rq_checkpoint *c, const char *name)
{
	const json_t *ck = json_object_get(report, "checkpoint");
	rq_buf root = RQ_BUF_INIT;
	int err = 0;

	const json_t *note = json_object_get(ck, "note");
	rq_base64_encode(&root, c->root, RQ_HASH_LEN);
	if (!json_is_object(ck) || json_object_size(ck) != 4 || strcmp(rq_json_str(ck, "origin", ""), c->origin) != 0 ||
	    rq_json_int(ck, "size", -1) != (json_int_t)c->size || strcmp(rq_json_str(ck, "root", ""), root.ptr) != 0 ||
	    !json_is_string(note) || json_string_length(note) != c->text_len ||
	    memcmp(json_string_value(note), c->text, c->text_len) != 0)
		err = rq_error_set(RQ_EINTEGRITY, "%s: checkpoint: the report states another checkpoint than its evidence's",
				   name);
	rq_buf_release(&root);
	return err;
}

static int check_cells(const json_t *recomputed, const rq_report_cell *cells, size_t n, const char *name)
{
	rq_buf want = RQ_BUF_INIT;
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		rq_buf_reset(&want);
		rq_report_format_value(&want, rq_report_at(recomputed, cells[i].path));
		if (strcmp(want.ptr, cells[i].text) != 0)
			err = rq_error_set(RQ_EINTEGRITY, "%s: the table cell %s shows '%s', the entries give '%s'", name,
					   cells[i].path, cells[i].text, want.ptr);
	}
	rq_buf_release(&want);
	return err;
}

/* The whole HTML file must be what resque writes for the checked report:
 * the cells alone do not cover labels, units, styles, charts, or elements
 * added around them. Rendering is deterministic, so compare the bytes. */
static int check_html(const json_t *report, const rq_buf *file_text, const char *name)
{
	rq_buf again = RQ_BUF_INIT;
	int err = rq_report_html(&again, report);
	size_t i = 0;

	if (!err && (again.len != file_text->len || memcmp(again.ptr, file_text->ptr, again.len) != 0)) {
		size_t line = 1;
		while (i < again.len && i < file_text->len && again.ptr[i] == file_text->ptr[i])
			line += again.ptr[i++] == '\n';
		err = rq_error_set(RQ_EINTEGRITY, "%s: line %zu differs from the report resque writes for the checked "
				   "figures (the page was edited, or written by another version of resque)", name, line);
	}
	rq_buf_release(&again);
	return err;
}

/* -C DIR: the report's history is that repository's. */
static int check_repository(const rq_checkpoint *c)
{
	rq_ledger *l = NULL;
	rq_verify_report vr;
	rq_merkle_levels t;
	rq_hash root;
	int rc = cmd_open_ledger(&l, NULL), err;

	if (rc)
		return rc;
	rq_merkle_levels_init(&t);
	/* An auditor's question, asked rarely: a full verification of the
	 * repository (every entry, from git), not the quick vouching of
	 * checkpoint and prove, then the root of its first entries. */
	err = rq_ledger_verify(&vr, l);
	if (err && err != RQ_EINTEGRITY) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if (vr.nproblems) {
		const rq_problem *p = &vr.problems[0];
		if (p->seq >= 0)
			rq_error_set(RQ_EINTEGRITY, "%s: the repository's ledger does not verify: entry %" PRId64 " (%.12s): %s",
				     rq_ledger_dir(l), p->seq, p->id[0] ? p->id : "?", p->message);
		else
			rq_error_set(RQ_EINTEGRITY, "%s: the repository's ledger does not verify: %s", rq_ledger_dir(l),
				     p->message);
		rc = EXIT_INTEGRITY;
		goto done;
	}
	for (uint64_t i = 0; i < c->size && i < vr.nleaves; i++)
		rq_merkle_levels_append(&t, vr.leaves[i]);
	if (vr.nleaves < c->size || rq_merkle_root(root, c->size, rq_merkle_levels_node, &t) != 0 ||
	    memcmp(root, c->root, RQ_HASH_LEN) != 0) {
		rq_error_set(RQ_EINTEGRITY, "%s: the repository's ledger does not contain this report's history "
			     "(its first %" PRIu64 " entries do not hash to the checkpoint's root)",
			     rq_ledger_dir(l), c->size);
		rc = EXIT_INTEGRITY;
	}
done:
	rq_merkle_levels_release(&t);
	rq_verify_report_release(&vr);
	cmd_close_ledger(l, NULL);
	return rc;
}

int cmd_audit_report(int argc, char **argv)
{
	const char *file = NULL, *key = NULL, *dir = NULL;
	bool json = false, is_html = false;
	const struct opt opts[] = {
		{ OPT_STRING, 0, "key", &key, "PUBKEY", "the signer's public key (a file or its text)" },
		{ OPT_STRING, 'C', "dir", &dir, "DIR", "also check the checkpoint against this repository's ledger" },
		{ OPT_BOOL, 0, "json", &json, NULL, "print the outcome as JSON" },
		{ OPT_ARG, 0, "FILE", &file, NULL, "the report (JSON or HTML)", OPT_REQUIRED },
		{ OPT_END },
	};
	struct audit a = { 0, RQ_BUF_INIT };
	rq_buf text = RQ_BUF_INIT, root = RQ_BUF_INIT;
	rq_verifier v;
	rq_evidence ev = { 0 };
	rq_report_cell *cells = NULL;
	size_t ncells = 0;
	json_t *report = NULL, *recomputed = NULL;
	const char *p;
	int rc = 0, err = 0;

	OPT_PARSE(&help, opts, argc, argv);
	if (!key)
		return cmd_usage(&help, opts, "give the signer's public key with --key PUBKEY");
	if ((err = cmd_load_verifier(&v, key)) || (err = read_report(&text, file)))
		goto fail;
	for (p = text.ptr; *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'; p++)
		;
	is_html = *p == '<';
	if (is_html)
		err = rq_report_html_extract(&report, &cells, &ncells, text.ptr, text.len, file);
	else if (*p == '{')
		err = rq_json_parse(&report, text.ptr, text.len, file);
	else
		err = rq_error_set(RQ_EINVALID, "%s: not a report (neither JSON nor HTML)", file);
	if (err)
		goto fail;
	if (!json_is_object(report) || !json_object_get(report, "evidence")) {
		err = rq_error_set(RQ_EINVALID, "%s: not a resque report with evidence (write it with "
				   "'resque report --format json' or '--format html')", file);
		goto fail;
	}
	if ((err = rq_evidence_parse(&ev, json_object_get(report, "evidence"), file)) ||
	    (err = rq_evidence_check(&ev, &v, file)) || (err = check_checkpoint_section(report, &ev.checkpoint, file)) ||
	    (err = check_figures(&a, &recomputed, report, &ev, file)) ||
	    (err = check_cells(recomputed, cells, ncells, file)) || (is_html && (err = check_html(report, &text, file))))
		goto fail;
	if (dir) {
		cmd_dir_option = dir;
		if ((rc = check_repository(&ev.checkpoint))) {
			if (rc == EXIT_INTEGRITY) {
				err = RQ_EINTEGRITY;
				goto fail;
			}
			goto done;
		}
	}
	rq_base64_encode(&root, ev.checkpoint.root, RQ_HASH_LEN);
	if (json) {
		json_t *j = json_pack("{s:b, s:I, s:I, s:I, s:I, s:s, s:n}", "ok", 1, "entries", (json_int_t)ev.n, "figures",
				      (json_int_t)a.figures, "cells", (json_int_t)ncells, "size",
				      (json_int_t)ev.checkpoint.size, "root", root.ptr, "problem");
		rc = cmd_print_json(j);
		json_decref(j);
	} else {
		printf("ok: %zu entries, %zu figures checked%s, checkpoint %" PRIu64 " %s\n", ev.n, a.figures,
		       ncells ? " (and every displayed cell)" : "", ev.checkpoint.size, root.ptr);
	}
	goto done;
fail:
	if (json) {
		json_t *j = json_pack("{s:b, s:s}", "ok", 0, "problem", rq_error_last());
		cmd_print_json(j);
		json_decref(j);
	}
	rc = cmd_fail_code(err);
done:
	json_decref(report);
	json_decref(recomputed);
	rq_report_cells_free(cells, ncells);
	rq_evidence_release(&ev);
	rq_buf_release(&text);
	rq_buf_release(&root);
	rq_buf_release(&a.problem);
	return rc;
}
