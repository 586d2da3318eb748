/* resque report: the repository's life (or a period of it) as figures —
 * versions, updates with forecast against actual, totals per year and by
 * how they were obtained, forecast quality, what reuse saved — with the
 * verification status and the checkpoint they were computed at; JSON and
 * HTML also carry the evidence `resque audit report` checks. */
#include "common.h"
#include "cmd.h"
#include "resque/evidence.h"
#include "resque/json.h"
#include "resque/known.h"
#include "resque/keystore.h"
#include "resque/ledger.h"
#include "resque/lineage.h"
#include "resque/report.h"
#include "resque/tlog.h"

static const struct cmd_help help = {
	"report", "the lifetime report: costs, forecasts against actuals, savings",
	"Computes the report from the ledger's signed entries: each version and\n"
	"its cost, each update (a plan and its actual) with forecast and actual\n"
	"side by side, totals overall and per calendar year split by how they were\n"
	"obtained (measured, estimated, imported, declared in a cost file), the\n"
	"forecasts' quality, the energy and carbon saved by updating rather than\n"
	"training from scratch, and the grid intensities used. Rules and the JSON\n"
	"schema: docs/FORMATS.md, \"Reports\".\n\n"
	"--since and --until (YYYY-MM-DD or a UTC time, inclusive; a date until\n"
	"the end of that day) select entries by time; --lineage REF the versions\n"
	"sharing REF's first ancestor and their updates.\n\n"
	"The ledger is verified first; when it fails, the report is still written\n"
	"(\"verified\": false), with a warning, and the exit status is 3.\n"
	"JSON and HTML reports carry the evidence (the signed checkpoint and every\n"
	"entry with its signature and inclusion proof) that 'resque audit report'\n"
	"checks with the signer's public key; they need the signing key. Text,\n"
	"Markdown and CSV show the checkpoint's root, unsigned when no key can be\n"
	"loaded without a prompt. -o writes the file atomically.",
};

enum format { F_TEXT, F_MD, F_JSON, F_CSV, F_HTML };

static int parse_format(enum format *out, const char *s)
{
	static const struct { const char *name; enum format f; } names[] = {
		{ "text", F_TEXT }, { "md", F_MD }, { "markdown", F_MD }, { "json", F_JSON },
		{ "csv", F_CSV },   { "html", F_HTML },
	};
	for (size_t i = 0; i < RQ_ARRAY_SIZE(names); i++)
		if (strcmp(s, names[i].name) == 0) {
			*out = names[i].f;
			return 0;
		}
	return -1;
}

/* The signing key when it loads without a prompt (text, md, csv). */
static rq_key *quiet_key(rq_ledger *l)
{
	rq_buf id = RQ_BUF_INIT;
	const char *kid = NULL, *pass = getenv("RESQUE_PASSPHRASE");
	rq_key *k = NULL;

	if (rq_ledger_config_get(&id, l, "resque.signingkey") == 0)
		kid = id.ptr;
	if ((!rq_keystore_is_encrypted(kid) || pass) && rq_keystore_load(&k, kid, pass))
		k = NULL;
	rq_error_clear();
	rq_buf_release(&id);
	return k;
}

static json_t *checkpoint_json(const rq_checkpoint *c, const char *origin, uint64_t size, const rq_hash root)
{
	rq_buf b = RQ_BUF_INIT;
	json_t *j;

	rq_base64_encode(&b, root, RQ_HASH_LEN);
	j = json_pack("{s:s, s:I, s:s}", "origin", origin, "size", (json_int_t)size, "root", b.ptr);
	json_object_set_new(j, "note", c ? json_stringn(c->text, c->text_len) : json_null());
	rq_buf_release(&b);
	return j;
}

int cmd_report(int argc, char **argv)
{
	const char *since = NULL, *until = NULL, *lineage = NULL, *fmt = "text", *outpath = NULL;
	const struct opt opts[] = {
		{ OPT_STRING, 0, "since", &since, "DATE", "only entries at or after DATE (YYYY-MM-DD or UTC time)" },
		{ OPT_STRING, 0, "until", &until, "DATE", "only entries at or before DATE (a date: its whole day)" },
		{ OPT_STRING, 0, "lineage", &lineage, "REF", "only this version's lineage and its updates" },
		{ OPT_STRING, 0, "format", &fmt, "FORMAT", "text (default), md, json, csv or html" },
		{ OPT_STRING, 'o', "output", &outpath, "FILE", "write to FILE (atomically) instead of stdout" },
		{ OPT_END },
	};
	enum format f;
	rq_ledger *l = NULL;
	rq_key *k = NULL;
	rq_entry *lin = NULL, **entries = NULL;
	char **sigs = NULL;
	rq_verify_report vr = { 0 };
	rq_checkpoint c = { 0 };
	bool signed_ck = false, verified, sigs_checked;
	rq_buf origin = RQ_BUF_INIT, out = RQ_BUF_INIT;
	json_t *fig = NULL, *r = NULL, *ev = NULL;
	rq_report_params p = { NULL, NULL, NULL };
	uint64_t n = 0;
	rq_hash root;
	int64_t t;
	int rc, err;

	OPT_PARSE(&help, opts, argc, argv);
	p.since = since;
	p.until = until;
	if (parse_format(&f, fmt))
		return cmd_usage(&help, opts, "--format must be text, md, json, csv or html, not '%s'", fmt);
	if (since && rq_time_parse(&t, since))
		return cmd_usage(&help, opts, "--since %s: not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)", since);
	if (until && rq_time_parse(&t, until))
		return cmd_usage(&help, opts, "--until %s: not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)", until);
	if ((rc = cmd_open_ledger(&l, f == F_JSON || f == F_HTML ? &k : NULL)))
		return rc;
	if (!k)
		k = quiet_key(l);

	/* A clean ledger's entries come back from the verification: read once. */
	err = rq_ledger_verify_entries(&vr, &entries, &sigs, l);
	if (err && err != RQ_EINTEGRITY) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if (vr.nproblems && vr.nproblems == vr.index_problems) {
		/* the ledger is sound; only the index that the proofs come from
		 * is not: no report until it is rebuilt */
		rc = cmd_fail_code(rq_error_set(RQ_EINTEGRITY, "%s", vr.problems[vr.nproblems - vr.index_problems].message));
		goto done;
	}
	verified = vr.nproblems == 0;
	n = entries ? vr.entries : rq_ledger_size(l); /* set before any exit: done frees n entries */
	if (verified) {
		/* As verify does: compare with, and add to, what verify remembers
		 * of this repository (a rolled-back or re-created ledger fails
		 * here too), so that the checkpoint below signs a root vouched for
		 * by this very verification instead of verifying again. */
		rq_buf warning = RQ_BUF_INIT;
		err = rq_known_remember(NULL, &warning, &vr);
		if (warning.len)
			cmd_warn("%s", warning.ptr);
		rq_buf_release(&warning);
		if (err) {
			rc = cmd_fail_code(err);
			goto done;
		}
	}
	if (lineage) {
		if ((err = rq_version_resolve(&lin, l, lineage))) {
			rc = cmd_fail_code(rq_error_prefix(err, "--lineage: "));
			goto done;
		}
		p.lineage = lin->id;
	}
	sigs_checked = entries != NULL; /* verify just checked these very bytes */
	if ((!entries && (err = rq_ledger_entries_signed(&entries, &sigs, l, n))) ||
	    (err = rq_report_compute(&fig, entries, n, &p)) || (err = rq_ledger_origin(&origin, l))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if (k && (err = rq_ledger_checkpoint(&c, l, n, k)) == 0) {
		signed_ck = true;
		memcpy(root, c.root, RQ_HASH_LEN);
	} else if (f == F_JSON || f == F_HTML) {
		rc = cmd_fail_code(rq_error_prefix(err, "cannot sign the report's checkpoint: "));
		goto done;
	} else {
		if (k)
			cmd_warn("the checkpoint is unsigned: %s", rq_error_last());
		if ((err = rq_ledger_tree_root(root, l, n))) {
			rc = cmd_fail_code(err);
			goto done;
		}
	}

	/* The figures, with the checkpoint and the verification status after
	 * the report's identity. */
	r = json_object();
	{
		static const char *const head[] = { "repository", "period", "lineage", "entries" };
		const char *key;
		json_t *v;
		for (size_t i = 0; i < RQ_ARRAY_SIZE(head); i++)
			json_object_set(r, head[i], json_object_get(fig, head[i]));
		json_object_set_new(r, "checkpoint", checkpoint_json(signed_ck ? &c : NULL, origin.ptr, n, root));
		json_object_set_new(r, "verified", json_boolean(verified));
		json_object_foreach(fig, key, v)
			if (!json_object_get(r, key))
				json_object_set(r, key, v);
	}
	if (f == F_JSON || f == F_HTML) {
		if ((err = rq_evidence_build(&ev, entries, sigs, n, &c, sigs_checked))) {
			rc = cmd_fail_code(rq_error_prefix(err, "building the report's evidence: "));
			goto done;
		}
		json_object_set_new(r, "evidence", ev);
	}
	switch (f) {
	case F_TEXT: err = rq_report_text(&out, r); break;
	case F_MD: err = rq_report_markdown(&out, r); break;
	case F_CSV: err = rq_report_csv(&out, r); break;
	case F_JSON: err = rq_json_dump(&out, r, RQ_JSON_PRETTY); break;
	case F_HTML: err = rq_report_html(&out, r); break;
	}
	if (err) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if (outpath) {
		if ((err = rq_file_write_atomic(outpath, out.ptr, out.len, 0644))) {
			rc = cmd_fail_code(err);
			goto done;
		}
	} else if (fwrite(out.ptr, 1, out.len, stdout) != out.len) {
		rc = cmd_error("writing the report: %s", strerror(errno));
		goto done;
	}
	if (!verified) {
		cmd_warn("the ledger failed verification (%zu problem%s; see 'resque verify'): the report says \"verified\": false",
			 vr.nproblems, vr.nproblems == 1 ? "" : "s");
		rc = EXIT_INTEGRITY;
	}
done:
	if (entries)
		for (uint64_t i = 0; i < n; i++) {
			rq_entry_free(entries[i]);
			free(sigs[i]);
		}
	free(entries);
	free(sigs);
	json_decref(fig);
	json_decref(r);
	rq_checkpoint_release(&c);
	rq_verify_report_release(&vr);
	rq_entry_free(lin);
	rq_buf_release(&origin);
	rq_buf_release(&out);
	cmd_close_ledger(l, k);
	return rc;
}
