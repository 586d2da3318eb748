/* resque show: one ledger entry, whole; for a version also its lineage and
 * the energy and carbon summed along it. */
#include "common.h"
#include "cmd.h"
#include "actual.h"
#include "json.h"
#include "ledger_int.h"
#include "lineage.h"

#include <math.h>

static const struct cmd_help help = {
	"show", "show one ledger entry",
	"REF is a version reference (a name such as v1, latest, REF~N), another\n"
	"entry's name, or a unique prefix of an entry id (at least 4 hex digits).\n"
	"--json prints the common fields (id, seq, type, time, signer, summary,\n"
	"prev, name, commit) and the entry's body under \"body\"; for a version\n"
	"also name, fingerprint, parent (name), parent_id, cost {epochs,\n"
	"energy_kwh, carbon_kg, duration_s, method}, lineage (names, oldest first)\n"
	"and cumulative {energy_kwh, carbon_kg, complete} summed along the lineage;\n"
	"for an actual also name, energy_kwh, carbon_kg, duration_s, method, meter,\n"
	"status, exit_status, epochs, plan, inside_p80 and target (null when\n"
	"absent).\n"
	"--raw prints the entry's canonical bytes exactly as the ledger holds them\n"
	"(no newline added): the file 'resque audit check --entry' reads.",
};

static double cost_of(const rq_entry *v, const char *key)
{
	json_t *c = json_object_get(v->body, "cost");
	json_t *x = json_object_get(c, key);
	return json_is_number(x) ? json_number_value(x) : NAN;
}

/* Energy and carbon summed along a lineage; incomplete when a version
 * lacks either figure. */
struct cumulative {
	double energy, carbon;
	bool complete;
};

static void sum_lineage(struct cumulative *out, rq_entry *const *lin, size_t n)
{
	out->energy = out->carbon = 0;
	out->complete = true;
	for (size_t i = 0; i < n; i++) {
		double en = cost_of(lin[i], "energy_kwh"), co = cost_of(lin[i], "carbon_kg");
		if (isnan(en) || isnan(co))
			out->complete = false;
		if (!isnan(en))
			out->energy += en;
		if (!isnan(co))
			out->carbon += co;
	}
}

static int print_version_json(const rq_entry *e, rq_entry *const *lin, size_t n, const struct cumulative *cum)
{
	const json_t *b = e->body, *w = json_object_get(b, "weights");
	json_t *j = cmd_entry_json(e), *lj = json_array(), *cost = json_object();
	const char *method = rq_json_str(json_object_get(b, "cost"), "method", NULL);
	const char *pn = rq_json_str(b, "parent_name", NULL), *pid = rq_json_str(b, "parent", NULL);
	int rc;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(lj, json_string(rq_json_str(lin[i]->body, "name", "")));
	json_object_set_new(cost, "epochs", rq_json_number(cost_of(e, "epochs")));
	json_object_set_new(cost, "energy_kwh", rq_json_number(cost_of(e, "energy_kwh")));
	json_object_set_new(cost, "carbon_kg", rq_json_number(cost_of(e, "carbon_kg")));
	json_object_set_new(cost, "duration_s", rq_json_number(cost_of(e, "duration_s")));
	json_object_set_new(cost, "method", method ? json_string(method) : json_null());
	json_object_set_new(j, "fingerprint", json_string(rq_json_str(w, "fingerprint", "")));
	json_object_set_new(j, "parent", pn ? json_string(pn) : json_null());
	json_object_set_new(j, "parent_id", pid ? json_string(pid) : json_null());
	json_object_set_new(j, "cost", cost);
	json_object_set_new(j, "lineage", lj);
	json_object_set_new(j, "cumulative", json_pack("{s:f, s:f, s:b}", "energy_kwh", cum->energy, "carbon_kg",
							 cum->carbon, "complete", cum->complete));
	json_object_set(j, "body", e->body);
	rc = cmd_print_json(j);
	json_decref(j);
	return rc;
}

/* The lines of a version's body: weights, message, family, data, summary,
 * cost and meta. */
static void print_version_body(const rq_entry *e)
{
	const json_t *b = e->body, *w = json_object_get(b, "weights");
	const char *msg = rq_json_str(b, "message", NULL), *fam = rq_json_str(b, "family", NULL), *key;
	json_t *ds = json_object_get(b, "datasets"), *s = json_object_get(b, "summary");
	json_t *c = json_object_get(b, "cost"), *val;

	printf("weights %s  %s  (%" JSON_INTEGER_FORMAT " bytes)\n", rq_json_str(w, "fingerprint", "?"),
	       rq_json_str(w, "path", "?"), rq_json_int(w, "bytes", 0));
	if (msg)
		printf("message %s\n", msg);
	if (fam)
		printf("family  %s\n", fam);
	for (size_t i = 0; i < json_array_size(ds); i++)
		printf("data    %s  %s\n", rq_json_str(json_array_get(ds, i), "name", "?"),
		       rq_json_str(json_array_get(ds, i), "fingerprint", "?"));
	if (s)
		printf("summary %" JSON_INTEGER_FORMAT " classes, dimension %" JSON_INTEGER_FORMAT
		       ", %" JSON_INTEGER_FORMAT " rows\n",
		       rq_json_int(s, "classes", 0), rq_json_int(s, "dim", 0), rq_json_int(s, "rows", 0));
	if (c) {
		char cstr[48];
		double co = cost_of(e, "carbon_kg");
		if (isnan(co))
			snprintf(cstr, sizeof(cstr), "carbon unknown");
		else
			snprintf(cstr, sizeof(cstr), "%.4g kg CO2e", co);
		printf("cost    %g epochs, %.4g kWh, %s, %.0f s (%s)\n", cost_of(e, "epochs"),
		       cost_of(e, "energy_kwh"), cstr, cost_of(e, "duration_s"), rq_json_str(c, "method", "?"));
	} else
		printf("cost    not recorded\n");
	json_object_foreach(json_object_get(b, "meta"), key, val)
		printf("meta    %s=%s\n", key, json_is_string(val) ? json_string_value(val) : "?");
}

static int show_version(rq_ledger *l, const rq_entry *e, bool json)
{
	rq_entry **lin = NULL;
	size_t n = 0;
	struct cumulative cum;
	int rc = 0, err;

	if ((err = rq_version_lineage(&lin, &n, l, e)))
		return cmd_fail_code(err);
	sum_lineage(&cum, lin, n);
	if (json) {
		rc = print_version_json(e, lin, n, &cum);
	} else {
		printf("version %s\nentry   %s (seq %" PRIu64 ", %s, signed by %s)\n",
		       rq_json_str(e->body, "name", "?"), e->id, e->seq, e->time, e->signer);
		print_version_body(e);
		printf("lineage ");
		for (size_t i = 0; i < n; i++)
			printf("%s%s", i ? " -> " : "", rq_json_str(lin[i]->body, "name", "?"));
		printf("\ncumulative along the lineage: %.4g kWh, %.4g kg CO2e%s\n", cum.energy, cum.carbon,
		       cum.complete ? "" : " (incomplete: some versions lack a recorded energy or carbon figure)");
	}
	rq_entries_free(lin, n);
	return rc;
}

int cmd_show(int argc, char **argv)
{
	bool json = false, raw = false;
	const char *ref = NULL;
	const struct opt opts[] = {
		{ OPT_BOOL, 0, "json", &json, NULL, "print as JSON" },
		{ OPT_BOOL, 0, "raw", &raw, NULL, "print the entry's canonical bytes exactly" },
		{ OPT_ARG, 0, "REF", &ref, NULL, "the entry: a version reference, a name or an id prefix", OPT_REQUIRED },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	rq_entry *e = NULL;
	int rc, err;

	OPT_PARSE(&help, opts, argc, argv);
	if (json && raw)
		return cmd_usage(&help, opts, "--json and --raw cannot be used together");
	if ((rc = cmd_open_ledger(&l, NULL)))
		return rc;
	/* Versions first (names, latest, REF~N), then any entry. */
	err = rq_version_resolve(&e, l, ref);
	if (err == RQ_ENOTFOUND && !strchr(ref, '~') && strcmp(ref, "latest") != 0)
		err = rq_ledger_lookup(&e, l, ref, NULL);
	if (err) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if (raw) {
		fwrite(e->bytes.ptr, 1, e->bytes.len, stdout);
	} else if (strcmp(e->type, "version") == 0) {
		rc = show_version(l, e, json);
	} else if (json) {
		json_t *j = cmd_entry_json(e);
		/* an actual's contract fields at the top level (run, import) */
		if (strcmp(e->type, "actual") == 0)
			rq_actual_view(j, e->body);
		json_object_set(j, "body", e->body);
		rc = cmd_print_json(j);
		json_decref(j);
	} else {
		rq_buf s = RQ_BUF_INIT, body = RQ_BUF_INIT;
		rq_entry_summary(&s, e);
		rq_json_dump(&body, e->body, RQ_JSON_PRETTY);
		printf("entry   %s\nseq     %" PRIu64 "\ntype    %s\ntime    %s\nsigner  %s\nprev    %s\ncommit  %s\n"
		       "summary %s\n\n%s",
		       e->id, e->seq, e->type, e->time, e->signer, e->prev, e->commit, s.ptr, body.ptr);
		rq_buf_release(&s);
		rq_buf_release(&body);
	}
done:
	rq_entry_free(e);
	cmd_close_ledger(l, NULL);
	return rc;
}
