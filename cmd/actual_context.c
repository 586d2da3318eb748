/* Shared by `resque run` and `resque import`: the context of an actual
 * (plan, region, PUE, hardware), its carbon and plan comparison, output. */
#include "common.h"
#include "cmd.h"
#include "term.h"
#include "actual_context.h"
#include "actual.h"
#include "bounds.h"
#include "json.h"
#include "resque/meter.h"

#include <math.h>

int actual_ctx_load(struct actual_ctx *c, rq_ledger *l, const char *plan_ref,
		    const char *region, double pue, const char *hardware)
{
	rq_buf cfg = RQ_BUF_INIT;
	int err, rc = 0;

	memset(c, 0, sizeof(*c));
	c->pue = NAN;
	rq_buf_init(&c->hardware);
	if (plan_ref && (err = rq_ledger_lookup(&c->plan, l, plan_ref, "plan"))) {
		rc = cmd_fail_code(rq_error_prefix(err, "--plan %s: ", plan_ref));
		goto done;
	}
	if (!region && rq_ledger_config_get(&cfg, l, "resque.region") == 0 && cfg.len)
		region = cfg.ptr;
	if (region && (err = rq_carbon_lookup(&c->region, region))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if (region && rq_carbon_renamed(region))
		cmd_warn("region '%s' is now spelt '%s' (a typo of the source data, corrected)", region,
			 rq_carbon_renamed(region));
	if (isnan(pue)) {
		rq_buf_reset(&cfg);
		if (rq_ledger_config_get(&cfg, l, "resque.pue") == 0) {
			if (rq_bound_parse_decimal(&pue, cfg.ptr)) {
				rc = cmd_error("config resque.pue: '%.80s' is not a decimal number", cfg.ptr);
				goto done;
			}
			if ((err = rq_bound_check("pue", pue, "config resque.pue"))) {
				rc = cmd_fail_code(err);
				goto done;
			}
		} else if (c->region && c->region->pue > 0) {
			pue = c->region->pue;
		} else {
			pue = 1;
		}
	}
	c->pue = pue;
	rq_buf_reset(&cfg);
	if (hardware)
		rq_buf_puts(&c->hardware, hardware);
	else if (rq_ledger_config_get(&cfg, l, "resque.hardware") == 0)
		rq_buf_puts(&c->hardware, cfg.ptr);
	rq_error_clear();
done:
	rq_buf_release(&cfg);
	if (rc)
		actual_ctx_release(c);
	return rc;
}

void actual_ctx_release(struct actual_ctx *c)
{
	rq_entry_free(c->plan);
	c->plan = NULL;
	rq_buf_release(&c->hardware);
}

void actual_ctx_machine_hardware(struct actual_ctx *c)
{
	if (!c->hardware.len)
		rq_meter_machine_profile(&c->hardware);
}

int actual_cpu_watts_parse(double *out, const char *value, const char *where)
{
	double v;
	if (rq_bound_parse_decimal(&v, value) || !(v > 0 && v <= 10000))
		return rq_error_set(RQ_EINVALID,
				    "%s: '%.80s' is not a number of watts per logical CPU in (0, 10000] (a decimal such as 3.5)",
				    where, value);
	*out = v;
	return 0;
}

int actual_cpu_watts(double *watts, const char **source, rq_ledger *l, double flag)
{
	rq_buf cfg = RQ_BUF_INIT;
	const char *env = getenv("RESQUE_CPU_WATTS");
	int err = 0;

	*watts = 0;
	*source = NULL;
	if (!isnan(flag)) {
		*watts = flag;
		*source = "--cpu-watts";
	} else if (env && *env) {
		if (!(err = actual_cpu_watts_parse(watts, env, "RESQUE_CPU_WATTS")))
			*source = "RESQUE_CPU_WATTS";
	} else if (rq_ledger_config_get(&cfg, l, "resque.cpu-watts") == 0) {
		if (!(err = actual_cpu_watts_parse(watts, cfg.ptr, "config cpu-watts")))
			*source = "config cpu-watts";
	}
	if (!err)
		rq_error_clear();
	rq_buf_release(&cfg);
	return err ? cmd_fail_code(err) : 0;
}

void actual_ctx_apply(const struct actual_ctx *c, json_t *body, const char *what)
{
	if (c->plan)
		json_object_set_new(body, "plan", json_string(c->plan->id));
	if (c->hardware.len && !json_object_get(body, "hardware"))
		json_object_set_new(body, "hardware", json_string(c->hardware.ptr));
	if (!json_object_get(body, "carbon_kg")) {
		if (c->region) {
			json_object_set_new(body, "region", json_string(c->region->code));
			rq_actual_set_carbon(body, c->region->g_per_kwh, c->pue);
		} else {
			cmd_warn("%s: no grid region (--region, or 'resque config region CODE'): carbon is not recorded",
				 what);
		}
	}
	json_t *en = json_object_get(body, "energy_kwh");
	bool inside;
	if (c->plan && json_is_number(en) &&
	    rq_actual_inside_p80(&inside, c->plan->body, json_number_value(en)) == 0)
		json_object_set_new(body, "inside_p80", json_boolean(inside));
	rq_error_clear();
}

json_t *actual_json(const rq_entry *e, const rq_entry *plan)
{
	json_t *j = cmd_entry_json(e);
	rq_actual_view(j, e->body);
	if (plan) {
		json_t *f = json_object_get(json_object_get(plan->body, "forecast"), "energy_kwh");
		json_object_set_new(j, "forecast_energy_kwh", f ? json_incref(f) : json_null());
	}
	json_object_set(j, "body", e->body);
	return j;
}

/* A plan's point forecast: its median (plans since issue 14), else its mean. */
static double point(const json_t *q)
{
	double m = rq_json_num(q, "p50", NAN);
	return isnan(m) ? rq_json_num(q, "mean", NAN) : m;
}

void actual_print(FILE *f, const rq_entry *e, const rq_entry *plan)
{
	const json_t *b = e->body;
	json_t *carbon = json_object_get(b, "carbon_kg"), *epochs = json_object_get(b, "epochs");
	fprintf(f, "recorded actual %.12s: %.4g kWh", e->id, rq_json_num(b, "energy_kwh", 0));
	if (json_is_number(carbon))
		fprintf(f, ", %.4g kg CO2e", json_number_value(carbon));
	fprintf(f, " in %.1f s (%s, meter %s)", rq_json_num(b, "duration_s", 0),
		rq_json_str(b, "method", "?"), rq_json_str(b, "meter", "?"));
	if (json_is_integer(epochs))
		fprintf(f, ", %" JSON_INTEGER_FORMAT " epochs", json_integer_value(epochs));
	if (rq_actual_target_missed(b))
		fprintf(f, ", target missed (the epochs are a lower bound)");
	fputc('\n', f);
	if (!plan)
		return;
	json_t *fe = json_object_get(json_object_get(plan->body, "forecast"), "energy_kwh");
	json_t *in = json_object_get(b, "inside_p80");
	if (json_is_object(fe) && json_is_boolean(in))
		fprintf(f, "plan %.12s forecast %.4g kWh (80 %%: %.4g to %.4g): the actual is %s%s%s the 80 %% interval\n",
			plan->id, point(fe), rq_json_num(fe, "p10", NAN), rq_json_num(fe, "p90", NAN),
			term_on(f, json_is_true(in) ? TERM_GOOD : TERM_BAD), json_is_true(in) ? "inside" : "outside",
			term_off(f));
	else
		fprintf(f, "plan %.12s has no energy forecast to compare with\n", plan->id);
	json_t *fep = json_object_get(json_object_get(plan->body, "forecast"), "epochs");
	if (json_is_object(fep) && json_is_integer(epochs))
		fprintf(f, "plan %.12s forecast %.3g epochs (80 %%: %.3g to %.3g); the run took %" JSON_INTEGER_FORMAT "\n",
			plan->id, point(fep), rq_json_num(fep, "p10", NAN),
			rq_json_num(fep, "p90", NAN), json_integer_value(epochs));
}
