/* resque record: record what a planned update really cost, as a signed
 * `actual` entry linked to its plan (the history the forecaster learns from). */
#include "common.h"
#include "cmd.h"
#include "resque/actual.h"
#include "resque/bounds.h"
#include "resque/json.h"
#include "resque/ledger.h"
#include "resque/lineage.h"

#include <math.h>

static const struct cmd_help help = {
	"record", "record what a planned update really cost",
	"Writes a signed 'actual' entry linked to the plan (--plan ID): the epochs\n"
	"the update took to reach its target, the energy it used and optionally\n"
	"its duration, parameter change (mean over tensors of ||w - w0|| / sqrt(n))\n"
	"and gradient norm (sum over epochs). Carbon is computed with the plan's\n"
	"grid intensity and PUE; the shift family and hardware default to the\n"
	"plan's. --epoch-energy-kwh gives the energy of each epoch, in order, for\n"
	"STEP's energy per epoch. Later plans of the lineage calibrate on it.\n"
	"--json prints the new entry: id, seq, type, time, signer, summary, prev,\n"
	"the fields of 'resque run --json' and the whole body.",
};

/* A figure given on the command line: NaN when absent, else finite ≥ 0. */
static int check_figure(const char *opt, double v)
{
	if (isnan(v) || v >= 0)
		return 0;
	return cmd_error("--%s must be a non-negative number, not %g", opt, v);
}

/* The field [p, end) is a plain decimal (no "0x", "inf", "nan"). */
static bool decimal_field(const char *p, const char *end)
{
	char tmp[64];
	double v;
	size_t n = (size_t)(end - p);
	if (n >= sizeof(tmp))
		return false;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	return rq_bound_parse_decimal(&v, tmp) == 0;
}

static int parse_list(json_t **out, const char *s)
{
	json_t *a = json_array();
	const char *p = s;

	*out = NULL;
	for (;;) {
		char *end;
		double v;
		errno = 0;
		v = strtod(p, &end);
		if (end == p || errno || !isfinite(v) || v < 0 || (*end && *end != ',') ||
		    !decimal_field(p, end)) {
			json_decref(a);
			return rq_error_set(RQ_EINVALID,
					    "--epoch-energy-kwh: '%s' is not a comma-separated list of non-negative numbers", s);
		}
		if (rq_bound_check("energy_kwh", v, "--epoch-energy-kwh")) {
			json_decref(a);
			return RQ_EINVALID;
		}
		json_array_append_new(a, json_real(v));
		if (!*end)
			break;
		p = end + 1;
	}
	*out = a;
	return 0;
}

int cmd_record(int argc, char **argv)
{
	const char *plan_ref = NULL, *shift_family = NULL, *hardware = NULL, *epoch_list = NULL;
	const char *method = "imported", *name = NULL;
	double epochs = NAN, energy = NAN, duration = NAN, param_change = NAN, grad_norm = NAN;
	bool json = false;
	const struct opt opts[] = {
		{ OPT_STRING, 0, "plan", &plan_ref, "ID", "the plan entry this update carried out (required)" },
		{ OPT_DOUBLE, 0, "epochs", &epochs, "N", "epochs until the target was reached (required)" },
		{ OPT_DOUBLE, 0, "energy-kwh", &energy, "X", "energy used, kWh (required)" },
		{ OPT_DOUBLE, 0, "duration-s", &duration, "S", "wall-clock duration, seconds" },
		{ OPT_DOUBLE, 0, "param-change", &param_change, "P", "parameter change (docs/METHOD.md)" },
		{ OPT_DOUBLE, 0, "grad-norm", &grad_norm, "G", "sum over epochs of the gradient norm" },
		{ OPT_STRING, 0, "epoch-energy-kwh", &epoch_list, "X1,X2,...", "energy of each epoch, in order (for STEP)" },
		{ OPT_STRING, 0, "shift-family", &shift_family, "NAME", "the shift family (default: the plan's)" },
		{ OPT_STRING, 0, "hardware", &hardware, "H", "hardware profile it ran on (default: the plan's)" },
		{ OPT_STRING, 0, "method", &method, "HOW", "measured, estimated or imported (default)" },
		{ OPT_STRING, 0, "name", &name, "NAME", "a name for this run" },
		{ OPT_BOOL, 0, "json", &json, NULL, "print the new entry as JSON" },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	rq_key *k = NULL;
	rq_entry *plan = NULL, *e = NULL;
	json_t *body = NULL, *list = NULL;
	bool inside = false;
	int rc = EXIT_OK, err;

	if (!opt_parse(&rc, &help, opts, argc, argv))
		goto out;
	if (!plan_ref || isnan(epochs) || isnan(energy)) {
		rc = cmd_usage(&help, opts, "give --plan ID, --epochs N and --energy-kwh X");
		goto out;
	}
	if (strcmp(method, "measured") && strcmp(method, "estimated") && strcmp(method, "imported")) {
		rc = cmd_usage(&help, opts, "--method is measured, estimated or imported, not '%s'", method);
		goto out;
	}
	if (shift_family && (!*shift_family || strlen(shift_family) > 64)) {
		rc = cmd_usage(&help, opts, "--shift-family must be 1 to 64 characters");
		goto out;
	}
	if ((rc = check_figure("epochs", epochs)) || (rc = check_figure("energy-kwh", energy)) ||
	    (rc = check_figure("duration-s", duration)) || (rc = check_figure("param-change", param_change)) ||
	    (rc = check_figure("grad-norm", grad_norm)))
		goto out;
	if ((err = rq_bound_check("epochs", epochs, "--epochs")) ||
	    (err = rq_bound_check("energy_kwh", energy, "--energy-kwh")) ||
	    (!isnan(duration) && (err = rq_bound_check("duration_s", duration, "--duration-s")))) {
		rc = cmd_fail_code(err);
		goto out;
	}
	if (name && rq_bound_name(name, "the name", "--name")) {
		rc = cmd_usage(&help, opts, "%s", rq_error_last());
		goto out;
	}
	if (name && !rq_name_valid(name)) {
		rc = cmd_usage(&help, opts, "'%s' is not a valid name (letters, digits, . _ + -)", name);
		goto out;
	}
	if (epoch_list && (err = parse_list(&list, epoch_list))) {
		rc = cmd_fail_code(err);
		goto out;
	}
	if ((rc = cmd_open_ledger(&l, &k)))
		goto out;
	if ((err = rq_ledger_lookup(&plan, l, plan_ref, "plan"))) {
		rq_error_prefix(err, "--plan %s: ", plan_ref);
		rc = cmd_fail_code(err);
		goto out;
	}

	body = json_pack("{s:s, s:f, s:f, s:s, s:s}", "plan", plan->id, "epochs", epochs, "energy_kwh",
			 energy, "method", method, "meter", "manual");
	if (!isnan(duration))
		json_object_set_new(body, "duration_s", json_real(duration));
	if (!isnan(param_change))
		json_object_set_new(body, "param_change", json_real(param_change));
	if (!isnan(grad_norm))
		json_object_set_new(body, "grad_norm", json_real(grad_norm));
	if (list) {
		json_object_set_new(body, "epoch_energy_kwh", list);
		list = NULL;
	}
	if (name)
		json_object_set_new(body, "name", json_string(name));
	json_object_set_new(body, "shift_family",
			    json_string(shift_family ? shift_family : rq_json_str(plan->body, "shift_family", "unspecified")));
	if (hardware || rq_json_str(plan->body, "hardware", NULL))
		json_object_set_new(body, "hardware",
				    json_string(hardware ? hardware : rq_json_str(plan->body, "hardware", "")));
	if (rq_json_str(plan->body, "region", NULL))
		json_object_set_new(body, "region", json_string(rq_json_str(plan->body, "region", "")));
	if (rq_json_num(plan->body, "train_size", NAN) > 0)
		json_object_set(body, "train_size", json_object_get(plan->body, "train_size"));
	if (isfinite(rq_json_num(plan->body, "intensity_g_per_kwh", NAN))) {
		double pue = rq_json_num(plan->body, "pue", 1);
		if ((err = rq_actual_set_carbon(body, rq_json_num(plan->body, "intensity_g_per_kwh", NAN),
						isfinite(pue) && pue >= 1 ? pue : 1))) {
			rc = cmd_fail_code(err);
			goto out;
		}
	} else {
		cmd_warn("plan %.12s has no grid intensity: carbon is not recorded", plan->id);
	}
	if (rq_actual_inside_p80(&inside, plan->body, energy) == 0)
		json_object_set_new(body, "inside_p80", json_boolean(inside));
	rq_error_clear();

	err = rq_ledger_append(&e, l, "actual", body, NULL, 0);
	body = NULL;
	if (err) {
		rc = cmd_fail_code(err);
		goto out;
	}
	if (json) {
		json_t *j = cmd_entry_json(e);
		rq_actual_view(j, e->body);
		json_object_set(j, "body", e->body);
		rc = cmd_print_json(j);
		json_decref(j);
	} else {
		printf("%.12s actual for plan %.12s (from %s): %g epochs, %g kWh", e->id, plan->id,
		       rq_json_str(plan->body, "from_name", "?"), epochs, energy);
		if (isfinite(rq_json_num(e->body, "carbon_kg", NAN)))
			printf(", %.4g kg CO2e", rq_json_num(e->body, "carbon_kg", NAN));
		if (json_object_get(e->body, "inside_p80"))
			printf("; %s the plan's 80 %% interval of energy", inside ? "inside" : "outside");
		printf("\n");
	}
out:
	json_decref(body);
	json_decref(list);
	rq_entry_free(plan);
	rq_entry_free(e);
	cmd_close_ledger(l, k);
	return rc;
}
