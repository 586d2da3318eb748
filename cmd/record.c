/* resque record: record what a planned update really cost, as a signed
 * `actual` entry linked to its plan (the history the forecaster learns from). */
#include "common.h"
#include "cmd.h"
#include "actual.h"
#include "bounds.h"
#include "json.h"
#include "ledger_int.h"
#include "lineage.h"
#include "record_link.h"

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
	"--target-missed says the run stopped (at a budget) before reaching its\n"
	"target: --epochs is then a lower bound, treated as right-censored by\n"
	"later plans and left out of the report's error figures; --target-reached\n"
	"says it was reached (what an actual without either is taken to mean).\n"
	"--plan P --actual A links actual A, recorded without --plan, to plan P\n"
	"after the fact: a signed 'actual' entry copying A's body (its per-epoch\n"
	"traces included) with 'plan' and 'linked_from' set; reports count its\n"
	"energy once. A may be linked once; no figure may be given with it.\n"
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

static int parse_list(json_t **out, const char *s)
{
	json_t *a = json_array();
	const char *p = s;

	*out = NULL;
	for (;;) {
		/* each item a plain decimal (no "0x", "inf", "nan") */
		const char *end = strchr(p, ',');
		double v;
		if (!end)
			end = p + strlen(p);
		if (rq_bound_parse_decimal_n(&v, p, (size_t)(end - p)) || v < 0) {
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

struct record_opts {
	const char *plan, *actual, *shift_family, *hardware, *epoch_list, *method, *name;
	double epochs, energy, duration, param_change, grad_norm, train_size;
	bool json, target_missed, target_reached;
};

/* With --actual, the figures are A's: none may be given. */
static int link_check_opts(const struct record_opts *o, const struct opt *opts)
{
	static const char *const figures[] = { "--epochs", "--energy-kwh", "--duration-s", "--param-change",
					       "--grad-norm", "--train-size" };
	const double values[] = { o->epochs, o->energy, o->duration, o->param_change, o->grad_norm, o->train_size };
	const char *given = NULL;

	for (size_t i = 0; i < RQ_ARRAY_SIZE(figures); i++)
		if (!isnan(values[i]))
			given = given ? given : figures[i];
	given = given ? given : o->epoch_list ? "--epoch-energy-kwh" : o->shift_family ? "--shift-family"
		: o->hardware ? "--hardware" : o->name ? "--name" : strcmp(o->method, "imported") ? "--method"
		: o->target_missed ? "--target-missed" : o->target_reached ? "--target-reached" : NULL;
	if (!o->plan)
		return cmd_usage(&help, opts, "--actual links an actual to a plan: give --plan ID too");
	if (given)
		return cmd_usage(&help, opts, "--actual takes the recorded actual's figures as they are: drop %s", given);
	return 0;
}

/* 0, or the exit status after printing what is wrong with the options. */
static int record_check_opts(const struct record_opts *o, const struct opt *opts)
{
	int rc, err;
	if (o->actual)
		return link_check_opts(o, opts);
	if (!o->plan || isnan(o->epochs) || isnan(o->energy))
		return cmd_usage(&help, opts, "give --plan ID, --epochs N and --energy-kwh X");
	if (strcmp(o->method, "measured") && strcmp(o->method, "estimated") && strcmp(o->method, "imported"))
		return cmd_usage(&help, opts, "--method is measured, estimated or imported, not '%s'", o->method);
	if (o->shift_family && (!*o->shift_family || strlen(o->shift_family) > 64))
		return cmd_usage(&help, opts, "--shift-family must be 1 to 64 characters");
	if ((rc = check_figure("epochs", o->epochs)) || (rc = check_figure("energy-kwh", o->energy)) ||
	    (rc = check_figure("duration-s", o->duration)) || (rc = check_figure("param-change", o->param_change)) ||
	    (rc = check_figure("grad-norm", o->grad_norm)))
		return rc;
	if (cmd_train_size_check(o->train_size))
		return cmd_usage(&help, opts, "%s", rq_error_last());
	if ((err = rq_bound_check("epochs", o->epochs, "--epochs")) ||
	    (err = rq_bound_check("energy_kwh", o->energy, "--energy-kwh")) ||
	    (!isnan(o->duration) && (err = rq_bound_check("duration_s", o->duration, "--duration-s"))))
		return cmd_fail_code(err);
	if (o->name && rq_bound_name(o->name, "the name", "--name"))
		return cmd_usage(&help, opts, "%s", rq_error_last());
	if (o->name && !rq_name_valid(o->name, RQ_NAME_VERSION))
		return cmd_usage(&help, opts, "'%s' is not a valid name (letters, digits, . _ + -)", o->name);
	if (o->target_missed && o->target_reached)
		return cmd_usage(&help, opts, "--target-missed and --target-reached exclude each other");
	return 0;
}

/* The actual's body: the figures given, the rest from the plan (its shift
 * family, hardware, region, train size and grid for the carbon). */
static int record_build(json_t **out, const struct record_opts *o, const rq_entry *plan, json_t **list)
{
	const json_t *pb = plan->body;
	json_t *body = json_pack("{s:s, s:f, s:f, s:s, s:s}", "plan", plan->id, "epochs", o->epochs, "energy_kwh",
				 o->energy, "method", o->method, "meter", "manual");
	bool inside = false;
	int err = 0;

	rq_json_set_number(body, "duration_s", o->duration);
	rq_json_set_number(body, "param_change", o->param_change);
	rq_json_set_number(body, "grad_norm", o->grad_norm);
	if (*list) {
		json_object_set_new(body, "epoch_energy_kwh", *list);
		*list = NULL;
	}
	if (o->name)
		json_object_set_new(body, "name", json_string(o->name));
	if (o->target_missed || o->target_reached)
		json_object_set_new(body, "target", json_string(o->target_missed ? "missed" : "reached"));
	json_object_set_new(body, "shift_family",
			    json_string(o->shift_family ? o->shift_family : rq_json_str(pb, "shift_family", "unspecified")));
	if (o->hardware || rq_json_str(pb, "hardware", NULL))
		json_object_set_new(body, "hardware", json_string(o->hardware ? o->hardware : rq_json_str(pb, "hardware", "")));
	if (rq_json_str(pb, "region", NULL))
		json_object_set_new(body, "region", json_string(rq_json_str(pb, "region", "")));
	cmd_train_size_apply(body, o->train_size, plan);
	if (isfinite(rq_json_num(pb, "intensity_g_per_kwh", NAN))) {
		double pue = rq_json_num(pb, "pue", 1);
		if ((err = rq_actual_set_carbon(body, rq_json_num(pb, "intensity_g_per_kwh", NAN),
						isfinite(pue) && pue >= 1 ? pue : 1))) {
			json_decref(body);
			return err;
		}
	} else {
		cmd_warn("plan %.12s has no grid intensity: carbon is not recorded", plan->id);
	}
	if (rq_actual_inside_p80(&inside, pb, o->energy) == 0)
		json_object_set_new(body, "inside_p80", json_boolean(inside));
	rq_error_clear();
	*out = body;
	return 0;
}

static int record_print(const rq_entry *e, const rq_entry *plan, const struct record_opts *o)
{
	if (o->json) {
		json_t *j = cmd_entry_json(e);
		rq_actual_view(j, e->body);
		json_object_set(j, "body", e->body);
		int rc = cmd_print_json(j);
		json_decref(j);
		return rc;
	}
	printf("%.12s actual for plan %.12s (from %s): %g epochs, %g kWh", e->id, plan->id,
	       rq_json_str(plan->body, "from_name", "?"), o->epochs, o->energy);
	if (isfinite(rq_json_num(e->body, "carbon_kg", NAN)))
		printf(", %.4g kg CO2e", rq_json_num(e->body, "carbon_kg", NAN));
	if (json_object_get(e->body, "inside_p80"))
		printf("; %s the plan's 80 %% interval of energy",
		       json_is_true(json_object_get(e->body, "inside_p80")) ? "inside" : "outside");
	if (rq_actual_target_missed(e->body))
		printf("; target missed (the epochs are a lower bound)");
	printf("\n");
	return EXIT_OK;
}

int cmd_record(int argc, char **argv)
{
	struct record_opts o = { .method = "imported", .epochs = NAN, .energy = NAN, .duration = NAN,
				 .param_change = NAN, .grad_norm = NAN, .train_size = NAN };
	const struct opt opts[] = {
		{ OPT_STRING, 0, "plan", &o.plan, "ID", "the plan entry this update carried out (required)", OPT_REQUIRED },
		{ OPT_STRING, 0, "actual", &o.actual, "REF", "link this actual, recorded without --plan, to the plan instead" },
		{ OPT_DOUBLE, 0, "epochs", &o.epochs, "N", "epochs until the target was reached (required without --actual)" },
		{ OPT_DOUBLE, 0, "energy-kwh", &o.energy, "X", "energy used, kWh (required without --actual)" },
		{ OPT_DOUBLE, 0, "duration-s", &o.duration, "S", "wall-clock duration, seconds" },
		{ OPT_DOUBLE, 0, "param-change", &o.param_change, "P", "parameter change (docs/METHOD.md)" },
		{ OPT_DOUBLE, 0, "grad-norm", &o.grad_norm, "G", "sum over epochs of the gradient norm" },
		{ OPT_STRING, 0, "epoch-energy-kwh", &o.epoch_list, "X1,X2,...", "energy of each epoch, in order (for STEP)" },
		{ OPT_STRING, 0, "shift-family", &o.shift_family, "NAME", "the shift family (default: the plan's)" },
		{ OPT_STRING, 0, "hardware", &o.hardware, "H", "hardware profile it ran on (default: the plan's)" },
		{ OPT_DOUBLE, 0, "train-size", &o.train_size, "N", "samples in the training set (default: the plan's)" },
		{ OPT_STRING, 0, "method", &o.method, "HOW", "measured, estimated or imported (default)" },
		{ OPT_STRING, 0, "name", &o.name, "NAME", "a name for this run" },
		{ OPT_BOOL, 0, "target-missed", &o.target_missed, NULL, "the run stopped before reaching its target" },
		{ OPT_BOOL, 0, "target-reached", &o.target_reached, NULL, "the run reached its target (neither flag: taken as reached)" },
		{ OPT_BOOL, 0, "json", &o.json, NULL, "print the new entry as JSON" },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	rq_key *k = NULL;
	rq_entry *plan = NULL, *e = NULL;
	json_t *body = NULL, *list = NULL;
	int rc = EXIT_OK, err;

	if (!opt_parse(&rc, &help, opts, argc, argv) || (rc = record_check_opts(&o, opts)))
		goto out;
	if (o.actual) {
		rc = record_link(o.plan, o.actual, o.json);
		goto out;
	}
	if (o.epoch_list && (err = parse_list(&list, o.epoch_list))) {
		rc = cmd_fail_code(err);
		goto out;
	}
	if ((rc = cmd_open_ledger(&l, &k)))
		goto out;
	if ((err = rq_ledger_lookup(&plan, l, o.plan, "plan"))) {
		rc = cmd_fail_code(rq_error_prefix(err, "--plan %s: ", o.plan));
		goto out;
	}
	if ((err = record_build(&body, &o, plan, &list)) || (err = rq_ledger_append(&e, l, "actual", body, NULL, 0))) {
		rc = cmd_fail_code(err);
		goto out;
	}
	rc = record_print(e, plan, &o);
out:
	json_decref(list);
	rq_entry_free(plan);
	rq_entry_free(e);
	cmd_close_ledger(l, k);
	return rc;
}
