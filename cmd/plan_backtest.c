/* resque plan --backtest: replay a lineage's own history through the
 * forecaster, each update forecast from the entries before it only, and
 * report error and interval coverage per outcome (docs/METHOD.md,
 * "Backtest"). Reads the ledger; writes nothing. */
#include "common.h"
#include "cmd.h"
#include "backtest.h"
#include "history.h"
#include "json.h"
#include "ledger_int.h"
#include "lineage.h"
#include "plan_backtest.h"

#include <math.h>

static json_t *quality_json(const rq_backtest_quality *q)
{
	return json_pack("{s:I, s:I, s:I, s:o, s:o, s:o}", "n", (json_int_t)q->n, "n_ape", (json_int_t)q->n_ape,
			 "target_missed", (json_int_t)q->censored, "median_ape", rq_json_number(q->median_ape),
			 "inside_p80", q->n ? json_real((double)q->in80 / (double)q->n) : json_null(),
			 "inside_p95", q->n ? json_real((double)q->in95 / (double)q->n) : json_null());
}

json_t *plan_quantiles_json(const rq_quantiles *q)
{
	if (!q->known)
		return json_null();
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "mean", rq_json_number(q->mean), "p50",
			 rq_json_number(q->p50), "p10", rq_json_number(q->p10), "p90", rq_json_number(q->p90),
			 "p2_5", rq_json_number(q->p2_5), "p97_5", rq_json_number(q->p97_5));
}

/* The plan entry of a step (its id), from the point's ledger position. */
static void plan_id(char out[RQ_ID_HEX_SIZE], rq_ledger *l, const struct rq_history_point *p)
{
	rq_entry *e = NULL;

	out[0] = '\0';
	if (p->order && rq_ledger_get(&e, l, p->order) == 0)
		snprintf(out, RQ_ID_HEX_SIZE, "%s", e->id);
	rq_error_clear();
	rq_entry_free(e);
}

static json_t *step_json(const rq_backtest_step *s, const rq_history *h, rq_ledger *l)
{
	const struct rq_history_point *p = &h->points[s->point];
	json_t *fc = json_object(), *act = json_object();
	char id[RQ_ID_HEX_SIZE];
	json_t *j;

	plan_id(id, l, p);
	for (int o = 0; o < RQ_BT_OUTCOMES; o++) {
		json_object_set_new(fc, rq_backtest_outcome(o),
				    s->forecast ? plan_quantiles_json(s->q[o]) : json_null());
		json_object_set_new(act, rq_backtest_outcome(o), rq_json_number(s->actual[o]));
	}
	j = json_pack("{s:s, s:s, s:f, s:b, s:o, s:o}", "plan", id, "shift_family", p->family ? p->family : "unspecified",
		      "index", p->index, "target_missed", p->censored, "forecast", fc, "actual", act);
	if (s->forecast)
		json_object_set_new(j, "calibration",
				    json_pack("{s:s, s:I, s:I, s:I}", "basis",
					      rq_calibration_name(s->f.cal_epochs.source), "n",
					      (json_int_t)s->f.cal_epochs.n, "n_family", (json_int_t)s->f.cal_epochs.n_family,
					      "n_censored", (json_int_t)s->f.cal_epochs.n_censored));
	else
		json_object_set_new(j, "error", json_string(s->message));
	return j;
}

static int print_json(const rq_backtest *bt, const rq_history *h, rq_ledger *l, const rq_shift_kind *kind)
{
	json_t *out, *outcomes = json_object(), *steps = json_array();
	int rc;

	for (int o = 0; o < RQ_BT_OUTCOMES; o++)
		json_object_set_new(outcomes, rq_backtest_outcome(o), quality_json(&bt->quality[o]));
	for (size_t k = 0; k < bt->n_steps; k++)
		json_array_append_new(steps, step_json(&bt->steps[k], h, l));
	out = json_pack("{s:s, s:s, s:s, s:I, s:o, s:o}", "lineage", h->root, "root_name", h->root_name, "kind",
			kind->name, "n", (json_int_t)bt->n_steps, "outcomes", outcomes, "updates", steps);
	rc = cmd_print_json(out);
	json_decref(out);
	return rc;
}

static void print_quality(const rq_backtest *bt)
{
	printf("  %-14s %9s %11s %13s %13s %14s\n", "outcome", "forecasts", "median APE", "inside 80 %",
	       "inside 95 %", "missed target");
	for (int o = 0; o < RQ_BT_OUTCOMES; o++) {
		const rq_backtest_quality *q = &bt->quality[o];
		if (!q->n && !q->censored)
			continue;
		printf("  %-14s %9zu", rq_backtest_outcome(o), q->n);
		if (isfinite(q->median_ape))
			printf(" %9.1f %%", q->median_ape);
		else
			printf(" %11s", "-");
		if (q->n)
			printf(" %7zu (%3.0f %%) %6zu (%3.0f %%)", q->in80, 100.0 * (double)q->in80 / (double)q->n,
			       q->in95, 100.0 * (double)q->in95 / (double)q->n);
		else
			printf(" %13s %13s", "-", "-");
		printf(" %14zu\n", q->censored);
	}
}

/* One line per replayed update: its epochs against the forecast. */
static void print_steps(const rq_backtest *bt, const rq_history *h, rq_ledger *l)
{
	printf("\n  %-12s %-14s %8s %8s %9s %19s %7s\n", "plan", "shift family", "index", "epochs", "forecast",
	       "80 % interval", "APE");
	for (size_t k = 0; k < bt->n_steps; k++) {
		const rq_backtest_step *s = &bt->steps[k];
		const struct rq_history_point *p = &h->points[s->point];
		const rq_quantiles *q = &s->f.epochs;
		char id[RQ_ID_HEX_SIZE], act[32];
		plan_id(id, l, p);
		snprintf(act, sizeof(act), isfinite(p->epochs) ? "%s%.4g" : "-", p->censored ? ">=" : "", p->epochs);
		printf("  %-12.12s %-14.14s %8.4g %8s", id, p->family ? p->family : "unspecified", p->index, act);
		if (!s->forecast || !q->known) {
			printf("   not forecast: %s\n", !s->forecast ? s->message
						      : s->f.not_forecast[0] ? s->f.not_forecast : "no history");
			continue;
		}
		printf(" %9.4g   [%7.4g, %7.4g]", q->p50, q->p10, q->p90);
		if (p->censored || !(p->epochs > 0))
			printf(" %7s\n", p->censored ? "missed" : "-");
		else
			printf(" %5.0f %%\n", 100 * fabs(p->epochs - q->p50) / p->epochs);
	}
}

int plan_backtest(const char *ref, const char *family, const rq_shift_kind *kind, bool json)
{
	rq_ledger *l = NULL;
	rq_entry *v = NULL;
	rq_history h;
	rq_forecast_input in = { 0 };
	rq_backtest bt = { 0 };
	int rc, err;

	rq_history_init(&h);
	if ((rc = cmd_open_ledger(&l, NULL)))
		return rc;
	if ((err = rq_version_resolve(&v, l, ref)) || (err = rq_history_gather(&h, l, v, family, kind))) {
		rc = cmd_fail_code(rq_error_prefix(err, "--backtest %s: ", ref));
		goto done;
	}
	in.kind = kind;
	in.scratch_epochs = h.scratch_epochs;
	in.history = h.points;
	in.n_history = h.n_points;
	in.traces = h.traces;
	in.n_traces = h.n_traces;
	in.intensity = in.pue = NAN;
	rq_backtest_run(&bt, &in, 0);
	if (json) {
		rc = print_json(&bt, &h, l, kind);
		goto done;
	}
	printf("backtest of the lineage of %s (%s shift): %zu past update(s) replayed in ledger order,\n"
	       "each forecast from the entries before it only\n",
	       *h.root_name ? h.root_name : h.root, kind->name, bt.n_steps);
	if (bt.n_steps) {
		print_quality(&bt);
		print_steps(&bt, &h, l);
	}
	rc = EXIT_OK;
done:
	rq_backtest_release(&bt);
	rq_history_release(&h);
	rq_entry_free(v);
	cmd_close_ledger(l, NULL);
	return rc;
}
