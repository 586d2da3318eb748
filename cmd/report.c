/* resque report: the repository's life (or a period of it) as figures —
 * versions, updates with forecast against actual, totals per year and by
 * how they were obtained, forecast quality, what reuse saved — with the
 * verification status and the checkpoint they were computed at; JSON and
 * HTML also carry the evidence `resque audit report` checks. */
#include "common.h"
#include "cmd.h"
#include "term.h"
#include "evidence.h"
#include "json.h"
#include "known.h"
#include "resque/keystore.h"
#include "ledger_int.h"
#include "lineage.h"
#include "report.h"
#include "tlog.h"

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
	"loaded without a prompt. -o writes the file atomically. On a terminal\n"
	"the report goes through a pager (resque --no-pager).",
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

struct report_opts {
	const char *since, *until, *lineage, *fmt, *outpath;
	enum format f;
};

/* What the steps gather, build and print. */
struct report_state {
	rq_ledger *l;
	rq_key *k;
	rq_verify_report vr;
	bool verified, sigs_checked, signed_ck;
	rq_entry *lin, **entries;
	char **sigs;
	uint64_t n; /* entries read (and to free) */
	rq_report_params p;
	json_t *fig, *r;
	rq_buf origin, out;
	rq_checkpoint c;
	rq_hash root;
};

static bool wants_evidence(const struct report_opts *o)
{
	return o->f == F_JSON || o->f == F_HTML;
}

/* Verify the ledger; a clean ledger's entries come back from the
 * verification: read once. */
static int verify_ledger(struct report_state *s)
{
	rq_buf warning = RQ_BUF_INIT;
	int err = rq_ledger_verify_entries(&s->vr, &s->entries, &s->sigs, s->l);

	if (err && err != RQ_EINTEGRITY)
		return err;
	if (s->vr.nproblems && s->vr.nproblems == s->vr.index_problems)
		/* the ledger is sound; only the index that the proofs come from
		 * is not: no report until it is rebuilt */
		return rq_error_set(RQ_EINTEGRITY, "%s", s->vr.problems[s->vr.nproblems - s->vr.index_problems].message);
	s->verified = s->vr.nproblems == 0;
	s->n = s->entries ? s->vr.entries : rq_ledger_size(s->l);
	if (!s->verified)
		return 0;
	/* As verify does: compare with, and add to, what verify remembers of
	 * this repository (a rolled-back or re-created ledger fails here too),
	 * so that the checkpoint below signs a root vouched for by this very
	 * verification instead of verifying again. */
	err = rq_known_remember(NULL, &warning, &s->vr);
	if (warning.len)
		cmd_warn("%s", warning.ptr);
	rq_buf_release(&warning);
	return err;
}

/* The figures over the entries (read now if the verification did not). */
static int compute_figures(struct report_state *s, const struct report_opts *o)
{
	int err;

	s->p.since = o->since;
	s->p.until = o->until;
	if (o->lineage) {
		if ((err = rq_version_resolve(&s->lin, s->l, o->lineage)))
			return rq_error_prefix(err, "--lineage: ");
		s->p.lineage = s->lin->id;
	}
	s->sigs_checked = s->entries != NULL; /* verify just checked these very bytes */
	if ((!s->entries && (err = rq_ledger_entries_signed(&s->entries, &s->sigs, s->l, s->n))) ||
	    (err = rq_report_compute(&s->fig, s->entries, s->n, &s->p)) || (err = rq_ledger_origin(&s->origin, s->l)))
		return err;
	return 0;
}

/* Sign the checkpoint the figures are computed at; JSON and HTML need it,
 * the other formats fall back to the unsigned root. */
static int make_checkpoint(struct report_state *s, const struct report_opts *o)
{
	int err = 0;

	if (s->k && (err = rq_ledger_checkpoint(&s->c, s->l, s->n, s->k)) == 0) {
		s->signed_ck = true;
		memcpy(s->root, s->c.root, RQ_HASH_LEN);
		return 0;
	}
	if (wants_evidence(o))
		return rq_error_prefix(err, "cannot sign the report's checkpoint: ");
	if (s->k)
		cmd_warn("the checkpoint is unsigned: %s", rq_error_last());
	return rq_ledger_tree_root(s->root, s->l, s->n);
}

/* The figures, with the checkpoint and the verification status after the
 * report's identity, then the evidence. */
static int build_report(struct report_state *s, const struct report_opts *o)
{
	static const char *const head[] = { "repository", "period", "lineage", "entries" };
	const char *key;
	json_t *v, *ev = NULL;
	int err;

	s->r = json_object();
	for (size_t i = 0; i < RQ_ARRAY_SIZE(head); i++)
		json_object_set(s->r, head[i], json_object_get(s->fig, head[i]));
	json_object_set_new(s->r, "checkpoint",
			    checkpoint_json(s->signed_ck ? &s->c : NULL, s->origin.ptr, s->n, s->root));
	json_object_set_new(s->r, "verified", json_boolean(s->verified));
	json_object_foreach(s->fig, key, v)
		if (!json_object_get(s->r, key))
			json_object_set(s->r, key, v);
	if (!wants_evidence(o))
		return 0;
	if ((err = rq_evidence_build(&ev, s->entries, s->sigs, s->n, &s->c, s->sigs_checked)))
		return rq_error_prefix(err, "building the report's evidence: ");
	json_object_set_new(s->r, "evidence", ev);
	return 0;
}

static int print_report(struct report_state *s, const struct report_opts *o)
{
	int err = 0;

	switch (o->f) {
	case F_TEXT: err = rq_report_text(&s->out, s->r); break;
	case F_MD: err = rq_report_markdown(&s->out, s->r); break;
	case F_CSV: err = rq_report_csv(&s->out, s->r); break;
	case F_JSON: err = rq_json_dump(&s->out, s->r, RQ_JSON_PRETTY); break;
	case F_HTML: err = rq_report_html(&s->out, s->r); break;
	}
	if (err)
		return err;
	if (o->outpath)
		return rq_file_write_atomic(o->outpath, s->out.ptr, s->out.len, 0644);
	term_page();
	if (fwrite(s->out.ptr, 1, s->out.len, stdout) != s->out.len)
		return rq_error_os("writing the report");
	return 0;
}

static void report_state_release(struct report_state *s)
{
	if (s->entries)
		for (uint64_t i = 0; i < s->n; i++) {
			rq_entry_free(s->entries[i]);
			free(s->sigs[i]);
		}
	free(s->entries);
	free(s->sigs);
	json_decref(s->fig);
	json_decref(s->r);
	rq_checkpoint_release(&s->c);
	rq_verify_report_release(&s->vr);
	rq_entry_free(s->lin);
	rq_buf_release(&s->origin);
	rq_buf_release(&s->out);
	cmd_close_ledger(s->l, s->k);
}

int cmd_report(int argc, char **argv)
{
	struct report_opts o = { .fmt = "text" };
	const struct opt opts[] = {
		{ OPT_STRING, 0, "since", &o.since, "DATE", "only entries at or after DATE (YYYY-MM-DD or UTC time)" },
		{ OPT_STRING, 0, "until", &o.until, "DATE", "only entries at or before DATE (a date: its whole day)" },
		{ OPT_STRING, 0, "lineage", &o.lineage, "REF", "only this version's lineage and its updates" },
		{ OPT_STRING, 0, "format", &o.fmt, "FORMAT", "text (default), md, json, csv or html" },
		{ OPT_STRING, 'o', "output", &o.outpath, "FILE", "write to FILE (atomically) instead of stdout" },
		{ OPT_END },
	};
	struct report_state s = { .origin = RQ_BUF_INIT, .out = RQ_BUF_INIT };
	int64_t t;
	int rc, err;

	OPT_PARSE(&help, opts, argc, argv);
	if (parse_format(&o.f, o.fmt))
		return cmd_usage(&help, opts, "--format must be text, md, json, csv or html, not '%s'", o.fmt);
	if (o.since && rq_time_parse(&t, o.since))
		return cmd_usage(&help, opts, "--since %s: not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)", o.since);
	if (o.until && rq_time_parse(&t, o.until))
		return cmd_usage(&help, opts, "--until %s: not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)", o.until);
	if ((rc = cmd_open_ledger(&s.l, wants_evidence(&o) ? &s.k : NULL)))
		return rc;
	if (!s.k)
		s.k = quiet_key(s.l);
	if ((err = verify_ledger(&s)) || (err = compute_figures(&s, &o)) || (err = make_checkpoint(&s, &o)) ||
	    (err = build_report(&s, &o)) || (err = print_report(&s, &o))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if (!s.verified) {
		cmd_warn("the ledger failed verification (%zu problem%s; see 'resque verify'): the report says \"verified\": false",
			 s.vr.nproblems, s.vr.nproblems == 1 ? "" : "s");
		rc = EXIT_INTEGRITY;
	}
done:
	report_state_release(&s);
	return rc;
}
