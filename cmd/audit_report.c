/* resque audit report: check a JSON or HTML report with nothing but the
 * signer's public key — its checkpoint, every embedded entry's signature,
 * chain and inclusion, then every figure recomputed from those entries. */
#include "common.h"
#include "cmd.h"
#include "evidence.h"
#include "json.h"
#include "ledger_int.h"
#include "report.h"
#include "tlog.h"

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
static bool compare(struct audit *a, rq_buf *path, json_t *said, json_t *got)
{
	size_t mark = path->len;
	bool ok = true;

	if (json_is_object(got) && json_is_object(said)) {
		const char *key;
		json_t *v;
		json_object_foreach(got, key, v) {
			rq_buf_printf(path, "%s%s", path->len ? "." : "", key);
			ok = compare(a, path, json_object_get(said, key), v);
			rq_buf_truncate(path, mark);
			if (!ok)
				return false;
		}
		json_object_foreach(said, key, v)
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
		ok = said && json_equal(said, got);
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

/* Compare one recomputed section with the report's. */
static int check_section(struct audit *a, json_t *report, json_t *got, const char *section, const char *name)
{
	rq_buf path = RQ_BUF_INIT;
	bool ok;

	rq_buf_puts(&path, section);
	ok = compare(a, &path, json_object_get(report, section), json_object_get(got, section));
	rq_buf_release(&path);
	return ok ? 0 : rq_error_set(RQ_EINTEGRITY, "%s: %s", name, a->problem.ptr);
}

/* The report holds nothing but known fields, and says it verified. */
static int check_fields(json_t *report, const char *name)
{
	const char *key;
	json_t *v;

	json_object_foreach(report, key, v) {
		bool known = false;
		for (size_t k = 0; k < RQ_ARRAY_SIZE(figure_sections); k++)
			known |= strcmp(key, figure_sections[k]) == 0;
		for (size_t k = 0; k < RQ_ARRAY_SIZE(other_fields); k++)
			known |= strcmp(key, other_fields[k]) == 0;
		if (!known)
			return rq_error_set(RQ_EINTEGRITY, "%s: '%s' is not a field of a report: nothing in the "
					    "evidence supports it", name, key);
	}
	if (!json_is_true(json_object_get(report, "verified")))
		return rq_error_set(RQ_EINTEGRITY, "%s: verified: the report does not say true (a report "
				    "with evidence is written only from a ledger that verified)", name);
	return 0;
}

/* Recompute the figures from the evidence's entries with the report's own
 * period and lineage. */
static int recompute(json_t **out, const json_t *report, const rq_evidence *ev, const char *name)
{
	rq_entry **entries = rq_xcalloc(ev->n + 1, sizeof(*entries));
	rq_report_params p;
	bool bad = false;
	int err = 0;

	*out = NULL;
	p.since = param(report, "period", "since", &bad);
	p.until = param(report, "period", "until", &bad);
	p.lineage = param(report, NULL, "lineage", &bad);
	if (bad) {
		err = rq_error_set(RQ_EINVALID, "%s: the report's period or lineage is not text", name);
		goto done;
	}
	for (size_t i = 0; i < ev->n; i++)
		entries[i] = ev->entries[i].entry;
	if ((err = rq_report_compute(out, entries, ev->n, &p)))
		err = rq_error_prefix(RQ_EINTEGRITY, "%s: recomputing the figures: ", name);
done:
	free(entries);
	return err;
}

/* Steps of the audit; each returns 0, or an error code with the message set. */
static int check_figures(struct audit *a, json_t **recomputed, json_t *report, const rq_evidence *ev,
			 const char *name)
{
	json_t *got = NULL, *full = NULL;
	int err;

	*recomputed = NULL;
	if ((err = recompute(&got, report, ev, name)))
		goto done;
	for (size_t k = 0; k < RQ_ARRAY_SIZE(figure_sections); k++)
		if ((err = check_section(a, report, got, figure_sections[k], name)))
			goto done;
	/* The grid in full: its region names, sources and years come from the
	 * carbon table, so a report is audited by a resque with the same table
	 * (docs/FORMATS.md, "Auditing a report"). */
	if ((err = check_section(a, report, got, "grid", name)) || (err = check_fields(report, name)))
		goto done;
	/* What a displayed cell must show: the recomputed figures and the
	 * report's checkpoint (checked against the evidence). */
	full = json_deep_copy(report);
	json_object_update(full, got);
	*recomputed = full;
	full = NULL;
done:
	json_decref(got);
	json_decref(full);
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

struct audit_report_opts {
	const char *file, *key, *dir;
	bool json;
};

/* What the file holds: its text, the report in it and, for HTML, the
 * displayed cells. */
struct audited {
	rq_buf text;
	bool is_html;
	json_t *report, *recomputed;
	rq_report_cell *cells;
	size_t ncells;
	rq_evidence ev;
};

static int load_report(struct audited *r, const char *file)
{
	const char *p;
	int err;

	if ((err = read_report(&r->text, file)))
		return err;
	for (p = r->text.ptr; *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'; p++)
		;
	r->is_html = *p == '<';
	if (r->is_html)
		err = rq_report_html_extract(&r->report, &r->cells, &r->ncells, r->text.ptr, r->text.len, file);
	else if (*p == '{')
		err = rq_json_parse(&r->report, r->text.ptr, r->text.len, file);
	else
		err = rq_error_set(RQ_EINVALID, "%s: not a report (neither JSON nor HTML)", file);
	if (err)
		return err;
	if (!json_is_object(r->report) || !json_object_get(r->report, "evidence"))
		return rq_error_set(RQ_EINVALID, "%s: not a resque report with evidence (write it with "
				    "'resque report --format json' or '--format html')", file);
	return 0;
}

/* The evidence, then the figures and cells against it. */
static int check_report(struct audit *a, struct audited *r, const rq_verifier *v, const char *file)
{
	int err;

	if ((err = rq_evidence_parse(&r->ev, json_object_get(r->report, "evidence"), file)) ||
	    (err = rq_evidence_check(&r->ev, v, file)) ||
	    (err = check_checkpoint_section(r->report, &r->ev.checkpoint, file)) ||
	    (err = check_figures(a, &r->recomputed, r->report, &r->ev, file)) ||
	    (err = check_cells(r->recomputed, r->cells, r->ncells, file)) ||
	    (r->is_html && (err = check_html(r->report, &r->text, file))))
		return err;
	return 0;
}

static int print_ok(const struct audit_report_opts *o, const struct audit *a, const struct audited *r)
{
	rq_buf root = RQ_BUF_INIT;
	int rc = 0;

	rq_base64_encode(&root, r->ev.checkpoint.root, RQ_HASH_LEN);
	if (o->json) {
		json_t *j = json_pack("{s:b, s:I, s:I, s:I, s:I, s:s, s:n}", "ok", 1, "entries", (json_int_t)r->ev.n,
				      "figures", (json_int_t)a->figures, "cells", (json_int_t)r->ncells, "size",
				      (json_int_t)r->ev.checkpoint.size, "root", root.ptr, "problem");
		rc = cmd_print_json(j);
		json_decref(j);
	} else {
		printf("ok: %zu entries, %zu figures checked%s, checkpoint %" PRIu64 " %s\n", r->ev.n, a->figures,
		       r->ncells ? " (and every displayed cell)" : "", r->ev.checkpoint.size, root.ptr);
	}
	rq_buf_release(&root);
	return rc;
}

static int print_fail(const struct audit_report_opts *o, int err)
{
	if (o->json) {
		json_t *j = json_pack("{s:b, s:s}", "ok", 0, "problem", rq_error_last());
		cmd_print_json(j);
		json_decref(j);
	}
	return cmd_fail_code(err);
}

int cmd_audit_report(int argc, char **argv)
{
	struct audit_report_opts o = { 0 };
	const struct opt opts[] = {
		{ OPT_STRING, 0, "key", &o.key, "PUBKEY", "the signer's public key (a file or its text)", OPT_REQUIRED },
		{ OPT_STRING, 'C', "dir", &o.dir, "DIR", "also check the checkpoint against this repository's ledger" },
		{ OPT_BOOL, 0, "json", &o.json, NULL, "print the outcome as JSON" },
		{ OPT_ARG, 0, "FILE", &o.file, NULL, "the report (JSON or HTML)", OPT_REQUIRED },
		{ OPT_END },
	};
	struct audit a = { 0, RQ_BUF_INIT };
	struct audited r = { RQ_BUF_INIT };
	rq_verifier v;
	int rc = 0, err = 0;

	OPT_PARSE(&help, opts, argc, argv);
	if ((err = cmd_load_verifier(&v, o.key)) || (err = load_report(&r, o.file)) ||
	    (err = check_report(&a, &r, &v, o.file)))
		goto fail;
	if (o.dir) {
		cmd_dir_option = o.dir;
		if ((rc = check_repository(&r.ev.checkpoint))) {
			if (rc == EXIT_INTEGRITY) {
				err = RQ_EINTEGRITY;
				goto fail;
			}
			goto done;
		}
	}
	rc = print_ok(&o, &a, &r);
	goto done;
fail:
	rc = print_fail(&o, err);
done:
	json_decref(r.report);
	json_decref(r.recomputed);
	rq_report_cells_free(r.cells, r.ncells);
	rq_evidence_release(&r.ev);
	rq_buf_release(&r.text);
	rq_buf_release(&a.problem);
	return rc;
}
