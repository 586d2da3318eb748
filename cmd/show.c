/* resque show: one ledger entry, whole; for a version also its lineage and
 * the energy and carbon summed along it. */
#include "common.h"
#include "cmd.h"
#include "actual.h"
#include "figures.h"
#include "term.h"
#include "json.h"
#include "ledger_int.h"
#include "lineage.h"
#include "provenance.h"

#include <math.h>

/* Every string from the ledger goes through T (term.h): no control
 * character of someone else's entry reaches the terminal. */
#define T(s) term_text(s)

/* `x` printed with `fmt` (one double conversion), or "unknown" when the
 * entry lacks it (NAN); valid until F is called 8 more times. */
static const char *F(const char *fmt, double x)
{
	static char ring[8][48];
	static unsigned next;
	char *b = ring[next++ % 8];
	if (isnan(x))
		return "unknown";
	snprintf(b, sizeof(ring[0]), fmt, x);
	return b;
}

static const struct cmd_help help = {
	"show", "show one ledger entry",
	"REF is a version reference (a name such as v1, latest, REF~N), another\n"
	"entry's name, a unique prefix of an entry id (at least 4 hex digits), or\n"
	"the run id of a run imported from CodeCarbon (or a unique prefix of it).\n"
	"--json prints the common fields (id, seq, type, time, signer, summary,\n"
	"prev, name, commit) and the entry's body under \"body\"; for a version\n"
	"also name, fingerprint, parent (name), parent_id, cost {epochs,\n"
	"energy_kwh, carbon_kg, duration_s, method}, lineage (names, oldest first)\n"
	"and cumulative {energy_kwh, carbon_kg, complete} summed along the lineage;\n"
	"for an actual also name, energy_kwh, carbon_kg, duration_s, method, meter,\n"
	"status, exit_status, epochs, plan, inside_p80 and target (null when\n"
	"absent).\n"
	"Without --json, a version, a plan and an actual are shown in words: a\n"
	"plan's base version, kind and index, its forecast (median, 80 % and\n"
	"95 % intervals, mean) and the alternative of training from scratch; an\n"
	"actual's plan, figures, meter, whether estimated, and whether its energy\n"
	"fell inside the plan's 80 % interval. Other entries show their body as\n"
	"JSON. On a terminal the output goes through a pager (resque --no-pager).\n"
	"--raw prints the entry's canonical bytes exactly as the ledger holds them\n"
	"(no newline added): the file 'resque audit check --entry' reads.\n"
	"An entry of run or commit ends with its provenance: the command line,\n"
	"the directory, the code's commit and dirty flag, the hardware.",
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

	printf("weights %s  %s  (%" JSON_INTEGER_FORMAT " bytes)\n", T(rq_json_str(w, "fingerprint", "?")),
	       T(rq_json_str(w, "path", "?")), rq_json_int(w, "bytes", 0));
	if (msg)
		printf("message %s\n", T(msg));
	if (fam)
		printf("family  %s\n", T(fam));
	for (size_t i = 0; i < json_array_size(ds); i++)
		printf("data    %s  %s\n", T(rq_json_str(json_array_get(ds, i), "name", "?")),
		       T(rq_json_str(json_array_get(ds, i), "fingerprint", "?")));
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
		printf("cost    %s epochs, %s kWh, %s, %s s (%s)\n", F("%g", cost_of(e, "epochs")),
		       F("%.4g", cost_of(e, "energy_kwh")), cstr, F("%.0f", cost_of(e, "duration_s")), T(rq_json_str(c, "method", "?")));
	} else
		printf("cost    not recorded\n");
	json_object_foreach(json_object_get(b, "meta"), key, val)
		printf("meta    %s=%s\n", T(key), T(json_is_string(val) ? json_string_value(val) : "?"));
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
		       T(rq_json_str(e->body, "name", "?")), e->id, e->seq, T(e->time), T(e->signer));
		print_version_body(e);
		printf("lineage ");
		for (size_t i = 0; i < n; i++)
			printf("%s%s", i ? " -> " : "", T(rq_json_str(lin[i]->body, "name", "?")));
		printf("\ncumulative along the lineage: %.4g kWh, %.4g kg CO2e%s\n", cum.energy, cum.carbon,
		       cum.complete ? "" : " (incomplete: some versions lack a recorded energy or carbon figure)");
	}
	rq_entries_free(lin, n);
	return rc;
}

/* One row of a plan's forecast: median, 80 % and 95 % intervals, mean. */
static void forecast_row(const json_t *forecast, const char *key, const char *label)
{
	const json_t *q = json_object_get(forecast, key);
	char i80[64], i95[64];

	if (!json_is_object(q)) {
		printf("  %-18s not forecast\n", label);
		return;
	}
	snprintf(i80, sizeof(i80), "[%s, %s]", F("%.4g", rq_json_num(q, "p10", NAN)), F("%.4g", rq_json_num(q, "p90", NAN)));
	snprintf(i95, sizeof(i95), "[%s, %s]", F("%.4g", rq_json_num(q, "p2_5", NAN)),
		 F("%.4g", rq_json_num(q, "p97_5", NAN)));
	printf("  %-18s %10s   %-20s %-20s %s\n", label, F("%.4g", rq_json_num(q, "p50", rq_json_num(q, "mean", NAN))),
	       i80, i95, F("%.4g", rq_json_num(q, "mean", NAN)));
}

/* A figure of the scratch alternative: a number, or quantiles (the median
 * and the 80 % interval). */
static void scratch_figure(const json_t *x, const char *unit, const char *end)
{
	if (json_is_number(x))
		printf(" %.4g %s%s", json_number_value(x), unit, end);
	else if (json_is_object(x))
		printf(" %s %s [%s, %s]%s", F("%.4g", rq_json_num(x, "p50", rq_json_num(x, "mean", NAN))), unit,
		       F("%.4g", rq_json_num(x, "p10", NAN)), F("%.4g", rq_json_num(x, "p90", NAN)), end);
	else
		printf(" %s unknown%s", unit, end);
}

/* A plan in words: what it starts from, what it measured, what it forecast,
 * and training from scratch instead. */
static void show_plan(const rq_entry *e)
{
	const json_t *b = e->body, *f = json_object_get(b, "forecast"), *sc = json_object_get(b, "scratch");
	const json_t *cal = json_object_get(b, "calibration"), *epe = json_object_get(b, "energy_per_epoch");
	const json_t *sv = json_object_get(b, "saving");
	const char *kind = T(rq_json_str(b, "kind", "?")), *fam = rq_json_str(b, "family", NULL);
	const char *advice = rq_json_str(b, "advice", NULL);

	printf("base    %s (%.12s)\n", T(rq_json_str(b, "from_name", "?")), T(rq_json_str(b, "from", "?")));
	printf("kind    %s: RESQUE_%s index %s, shift family %s%s%s\n", kind, kind, F("%.6g", rq_json_num(b, "index", NAN)),
	       T(rq_json_str(b, "shift_family", "unspecified")), fam ? ", lineage family " : "", fam ? T(fam) : "");
	if (json_is_object(json_object_get(b, "shards")))
		printf("shards  from %" JSON_INTEGER_FORMAT " shards, %" JSON_INTEGER_FORMAT " rows (shard list %s)\n",
		       rq_json_int(json_object_get(b, "shards"), "count", 0), rq_json_int(json_object_get(b, "shards"), "rows", 0),
		       T(rq_json_str(json_object_get(b, "shards"), "fingerprint", "?")));
	printf("calibration: %" JSON_INTEGER_FORMAT " past update(s), basis %s%s\n", rq_json_int(cal, "n", 0),
	       T(rq_json_str(cal, "basis", "?")), json_is_true(json_object_get(cal, "prior_only")) ? " (UNCALIBRATED prior)" : "");
	printf("forecast               median   80 %% interval        95 %% interval        mean\n");
	forecast_row(f, "epochs", "epochs");
	forecast_row(f, "energy_kwh", "energy (kWh)");
	forecast_row(f, "carbon_kg", "carbon (kg CO2e)");
	if (json_object_get(f, "duration_s"))
		forecast_row(f, "duration_s", "duration (s)");
	if (json_object_get(b, "not_forecast"))
		printf("not forecast: %s\n", T(rq_json_str(b, "not_forecast", "see --json")));
	if (epe)
		printf("energy per epoch: %s kWh (%s)\n", F("%.4g", rq_json_num(epe, "kwh", NAN)), T(rq_json_str(epe, "source", "?")));
	printf("grid    region %s, %s g CO2e/kWh, PUE %s; hardware %s\n", T(rq_json_str(b, "region", "none")),
	       F("%.4g", rq_json_num(b, "intensity_g_per_kwh", NAN)), F("%.3g", rq_json_num(b, "pue", NAN)), T(rq_json_str(b, "hardware", "unknown")));
	if (json_is_object(sc)) {
		printf("from scratch:");
		scratch_figure(json_object_get(sc, "epochs"), "epochs", ",");
		scratch_figure(json_object_get(sc, "energy_kwh"), "kWh", ",");
		scratch_figure(json_object_get(sc, "carbon_kg"), "kg CO2e", "\n");
	} else {
		printf("from scratch: unknown\n");
	}
	if (json_is_object(sv))
		printf("saving  %s kWh, %s kg CO2e by reusing rather than training from scratch (means)\n",
		       F("%.4g", rq_json_num(sv, "energy_kwh", NAN)), F("%.4g", rq_json_num(sv, "carbon_kg", NAN)));
	if (advice)
		printf("advice  %s%s%s (forecast to cost less)\n", term_on(stdout, strcmp(advice, "reuse") ? TERM_WARN : TERM_GOOD),
		       strcmp(advice, "reuse") ? "train from scratch" : "reuse", term_off(stdout));
}

/* Where an actual's energy fell against its plan's 80 % interval. */
static void show_interval(rq_ledger *l, const json_t *b)
{
	const char *pid = rq_json_str(b, "plan", NULL);
	const json_t *in = json_object_get(b, "inside_p80");
	rq_entry *p = NULL;

	if (!pid) {
		printf("plan    none (not linked to a plan: 'resque record --plan P --actual ID' links it)\n");
		return;
	}
	if (rq_ledger_lookup(&p, l, pid, NULL) == 0) {
		const json_t *q = json_object_get(json_object_get(p->body, "forecast"), "energy_kwh");
		printf("plan    %.12s (from %s): forecast %s kWh", p->id, T(rq_json_str(p->body, "from_name", "?")),
		       F("%.4g", figures_point(p->body, "energy_kwh")));
		if (json_is_object(q))
			printf(", 80 %% interval %s to %s kWh", F("%.4g", rq_json_num(q, "p10", NAN)),
			       F("%.4g", rq_json_num(q, "p90", NAN)));
		putchar('\n');
	} else {
		printf("plan    %.12s (not found: %s)\n", T(pid), T(rq_error_last()));
	}
	rq_entry_free(p);
	if (json_is_boolean(in))
		printf("interval %s%s%s the plan's 80 %% interval of energy\n",
		       term_on(stdout, json_is_true(in) ? TERM_GOOD : TERM_BAD), json_is_true(in) ? "inside" : "outside",
		       term_off(stdout));
	else
		printf("interval not compared (the plan has no 80 %% interval of energy)\n");
}

/* " WORD", in single quotes when a shell would split or expand it. */
static void print_word(const char *w)
{
	w = w ? T(w) : "?";
	if (*w && !w[strcspn(w, " \t\n'\"\\$`*?[]{}()<>|&;#~!")]) {
		printf(" %s", w);
		return;
	}
	fputs(" '", stdout);
	for (; *w; w++)
		if (*w == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*w);
	putchar('\'');
}

/* An actual in words: its plan, its figures, how they were obtained. */
static void show_actual(rq_ledger *l, const rq_entry *e)
{
	const json_t *b = e->body, *cmd = json_object_get(b, "command"), *src = json_object_get(b, "source");
	const char *method = rq_json_str(b, "method", "?"), *status = rq_json_str(b, "status", NULL);
	const char *name = rq_json_str(b, "name", NULL), *link = rq_json_str(b, "linked_from", NULL);
	double epochs = rq_json_num(b, "epochs", NAN), co = rq_json_num(b, "carbon_kg", NAN);

	if (name)
		printf("name    %s\n", T(name));
	if (link)
		printf("link of actual %.12s (its figures are that actual's, counted once)\n", T(link));
	show_interval(l, b);
	printf("cost    ");
	if (!isnan(epochs))
		printf("%.4g epochs, ", epochs);
	printf("%s kWh, ", F("%.4g", rq_json_num(b, "energy_kwh", NAN)));
	if (isnan(co))
		printf("carbon unknown (no grid region)");
	else
		printf("%.4g kg CO2e", co);
	if (isnan(rq_json_num(b, "duration_s", NAN)))
		printf(", duration unknown\n");
	else
		printf(" in %.1f s\n", rq_json_num(b, "duration_s", NAN));
	printf("meter   %s: %s%s%s\n", T(rq_json_str(b, "meter", "?")),
	       term_on(stdout, strcmp(method, "estimated") ? TERM_GOOD : TERM_WARN), T(method), term_off(stdout));
	if (status)
		printf("status  %s%s%s", term_on(stdout, strcmp(status, "failed") ? TERM_GOOD : TERM_BAD), T(status),
		       term_off(stdout));
	if (status && json_is_integer(json_object_get(b, "exit_status")))
		printf(" (exit status %" JSON_INTEGER_FORMAT ")", rq_json_int(b, "exit_status", 0));
	if (status)
		putchar('\n');
	if (rq_actual_target_missed(b))
		printf("target  %smissed%s: the epochs are a lower bound\n", term_on(stdout, TERM_WARN), term_off(stdout));
	printf("context region %s", T(rq_json_str(b, "region", "none")));
	if (json_is_number(json_object_get(b, "intensity_g_per_kwh")))
		printf(", %.4g g CO2e/kWh", rq_json_num(b, "intensity_g_per_kwh", NAN));
	if (json_is_number(json_object_get(b, "pue")))
		printf(", PUE %.3g", rq_json_num(b, "pue", NAN));
	printf(", hardware %s\n", T(rq_json_str(b, "hardware", "unknown")));
	if (json_is_array(cmd)) {
		printf("command");
		for (size_t i = 0; i < json_array_size(cmd); i++)
			print_word(json_string_value(json_array_get(cmd, i)));
		putchar('\n');
	}
	if (json_is_object(src))
		printf("source  %s %s\n", T(rq_json_str(src, "format", "?")), T(rq_json_str(src, "file", "?")));
}

/* Any entry but a version: the common fields, then a plan or an actual in
 * words, any other entry's body as JSON. */
static void show_entry(rq_ledger *l, const rq_entry *e)
{
	rq_buf s = RQ_BUF_INIT, body = RQ_BUF_INIT;
	rq_entry_summary(&s, e);
	printf("entry   %s\nseq     %" PRIu64 "\ntype    %s\ntime    %s\nsigner  %s\nprev    %s\ncommit  %s\n"
	       "summary %s\n\n",
	       e->id, e->seq, T(e->type), T(e->time), T(e->signer), T(e->prev), T(e->commit), T(s.ptr));
	if (strcmp(e->type, "plan") == 0) {
		show_plan(e);
	} else if (strcmp(e->type, "actual") == 0) {
		show_actual(l, e);
	} else {
		rq_json_dump(&body, e->body, RQ_JSON_PRETTY);
		term_put_lines(stdout, body.ptr);
	}
	rq_buf_release(&s);
	rq_buf_release(&body);
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
	/* Versions first (names, latest, REF~N), then any entry, then a
	 * CodeCarbon run id. */
	err = rq_entry_resolve(&e, l, ref);
	if (err) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if (!raw)
		term_page();
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
		show_entry(l, e);
	}
	if (!rc && !json && !raw)
		show_provenance(stdout, e); /* run's and commit's: cmd/show_provenance.c */
done:
	rq_entry_free(e);
	cmd_close_ledger(l, NULL);
	return rc;
}
