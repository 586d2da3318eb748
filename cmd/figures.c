/* Key figures of plans and actuals in words (figures.h). */
#include "common.h"
#include "cmd.h"
#include "figures.h"
#include "json.h"
#include "actual.h"
#include "term.h"

#include <math.h>

double figures_point(const json_t *plan_body, const char *outcome)
{
	const json_t *q = json_object_get(json_object_get(plan_body, "forecast"), outcome);
	double m = rq_json_num(q, "p50", NAN);
	return isnan(m) ? rq_json_num(q, "mean", NAN) : m;
}

/* "E epochs, K kWh, C kg CO2e" of what is known, "carbon unknown" for a
 * missing carbon figure. */
static void three(rq_buf *out, double epochs, double kwh, double kg)
{
	if (!isnan(epochs))
		rq_buf_printf(out, "%.4g epoch%s, ", epochs, epochs == 1 ? "" : "s");
	if (isnan(kwh))
		rq_buf_puts(out, "energy unknown, ");
	else
		rq_buf_printf(out, "%.3g kWh, ", kwh);
	if (isnan(kg))
		rq_buf_puts(out, "carbon unknown");
	else
		rq_buf_printf(out, "%.3g kg CO2e", kg);
}

static void painted(rq_buf *out, FILE *f, enum term_tone tone, const char *text)
{
	rq_buf_printf(out, "%s%s%s", term_on(f, tone), text, term_off(f));
}

static void plan_line(rq_buf *out, const rq_entry *e)
{
	const json_t *b = e->body;
	rq_buf_printf(out, "plan from %s (%s): ", term_text(rq_json_str(b, "from_name", rq_json_str(b, "from", "?"))),
		      term_text(rq_json_str(b, "kind", "?")));
	if (!json_object_get(b, "forecast")) {
		rq_buf_puts(out, "not forecast");
		return;
	}
	three(out, figures_point(b, "epochs"), figures_point(b, "energy_kwh"), figures_point(b, "carbon_kg"));
	rq_buf_puts(out, " forecast");
}

static void actual_line(rq_buf *out, FILE *f, const rq_entry *e)
{
	const json_t *b = e->body, *in = json_object_get(b, "inside_p80");
	const char *link = rq_json_str(b, "linked_from", NULL), *name = rq_json_str(b, "name", NULL);
	const char *method = rq_json_str(b, "method", "?");

	link = term_text(link), name = term_text(name);

	if (link)
		rq_buf_printf(out, "link of actual %.12s to plan %.12s: ", link, term_text(rq_json_str(b, "plan", "?")));
	else
		rq_buf_printf(out, "actual%s%s: ", name ? " " : "", name ? name : "");
	three(out, rq_json_num(b, "epochs", NAN), rq_json_num(b, "energy_kwh", NAN), rq_json_num(b, "carbon_kg", NAN));
	rq_buf_puts(out, " (");
	painted(out, f, strcmp(method, "estimated") == 0 ? TERM_WARN : TERM_GOOD, term_text(method));
	rq_buf_puts(out, ")");
	if (strcmp(rq_json_str(b, "status", ""), "failed") == 0)
		rq_buf_puts(out, ", "), painted(out, f, TERM_BAD, "FAILED");
	if (rq_actual_target_missed(b))
		rq_buf_puts(out, ", "), painted(out, f, TERM_WARN, "target missed");
	if (json_is_boolean(in)) {
		rq_buf_puts(out, ", ");
		painted(out, f, json_is_true(in) ? TERM_GOOD : TERM_BAD, json_is_true(in) ? "inside" : "outside");
		rq_buf_puts(out, " the 80 % interval");
	}
}

/* An entry's summary, cleaned (term.h): it quotes the ledger's strings. */
static void summary(rq_buf *out, const rq_entry *e)
{
	rq_buf s = RQ_BUF_INIT;
	rq_entry_summary(&s, e);
	term_buf_text(out, s.ptr);
	rq_buf_release(&s);
}

void figures_line(rq_buf *out, FILE *f, const rq_entry *e)
{
	if (strcmp(e->type, "plan") == 0)
		plan_line(out, e);
	else if (strcmp(e->type, "actual") == 0)
		actual_line(out, f, e);
	else
		summary(out, e);
	const json_t *cost = json_object_get(e->body, "cost");
	if (strcmp(e->type, "version") == 0 && json_is_object(cost)) {
		rq_buf_puts(out, "; cost ");
		three(out, rq_json_num(cost, "epochs", NAN), rq_json_num(cost, "energy_kwh", NAN),
		      rq_json_num(cost, "carbon_kg", NAN));
	}
}
