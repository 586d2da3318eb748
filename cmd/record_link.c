/* resque record --plan P --actual A: link an actual recorded without --plan
 * to its plan after the fact, as a signed `actual` entry that copies A's
 * body with `plan` set and `linked_from: A` (docs/FORMATS.md, "Linking an
 * actual to its plan after the fact"). */
#include "common.h"
#include "cmd.h"
#include "actual.h"
#include "json.h"
#include "ledger_int.h"
#include "record_link.h"

#include <math.h>

struct link_scan {
	const char *actual; /* A's id */
	char by[RQ_ID_HEX_SIZE], plan[RQ_ID_HEX_SIZE];
};

static int find_link(const rq_entry *e, void *ctx)
{
	struct link_scan *s = ctx;

	if (strcmp(rq_json_str(e->body, "linked_from", ""), s->actual) != 0)
		return 0;
	snprintf(s->by, sizeof(s->by), "%s", e->id);
	snprintf(s->plan, sizeof(s->plan), "%s", rq_json_str(e->body, "plan", ""));
	return 1;
}

/* A may be linked once: checked before the work and again under the
 * writer's lock, so that two concurrent links cannot both be written. */
static int not_linked_yet(rq_ledger *l, void *ctx)
{
	struct link_scan s = { ctx, "", "" };
	int err = rq_ledger_foreach(l, "actual", find_link, &s);

	if (err == 1)
		return rq_error_set(RQ_EEXISTS, "actual %.12s is already linked to plan %.12s (by entry %.12s)",
				    s.actual, s.plan, s.by);
	return err;
}

/* The link's body: A's, with the plan, where it came from, and what the
 * plan adds (its shift family, training-set size, the 80 % comparison). */
static json_t *link_body(const rq_entry *plan, const rq_entry *a)
{
	json_t *body = json_deep_copy(a->body), *en;
	bool inside;

	json_object_del(body, "name"); /* the name stays A's own */
	json_object_del(body, "inside_p80");
	json_object_set_new(body, "plan", json_string(plan->id));
	json_object_set_new(body, "linked_from", json_string(a->id));
	if (!json_object_get(body, "shift_family"))
		json_object_set_new(body, "shift_family",
				    json_string(rq_json_str(plan->body, "shift_family", "unspecified")));
	if (!json_object_get(body, "hardware") && rq_json_str(plan->body, "hardware", NULL))
		json_object_set_new(body, "hardware", json_string(rq_json_str(plan->body, "hardware", "")));
	if (!json_object_get(body, "train_size"))
		cmd_train_size_apply(body, NAN, plan);
	en = json_object_get(body, "energy_kwh");
	if (json_is_number(en) && rq_actual_inside_p80(&inside, plan->body, json_number_value(en)) == 0)
		json_object_set_new(body, "inside_p80", json_boolean(inside));
	rq_error_clear();
	return body;
}

static int link_print(const rq_entry *e, const rq_entry *plan, const rq_entry *a, bool json)
{
	if (json) {
		json_t *j = cmd_entry_json(e);
		int rc;
		rq_actual_view(j, e->body);
		json_object_set(j, "body", e->body);
		rc = cmd_print_json(j);
		json_decref(j);
		return rc;
	}
	printf("%.12s links actual %.12s to plan %.12s (from %s): ", e->id, a->id, plan->id,
	       rq_json_str(plan->body, "from_name", "?"));
	if (json_is_number(json_object_get(e->body, "epochs")))
		printf("%g epochs, ", rq_json_num(e->body, "epochs", 0));
	printf("%g kWh", rq_json_num(e->body, "energy_kwh", 0));
	if (json_object_get(e->body, "inside_p80"))
		printf("; %s the plan's 80 %% interval of energy",
		       json_is_true(json_object_get(e->body, "inside_p80")) ? "inside" : "outside");
	printf("\n");
	return EXIT_OK;
}

int record_link(const char *plan_ref, const char *actual_ref, bool json)
{
	rq_ledger *l = NULL;
	rq_key *k = NULL;
	rq_entry *plan = NULL, *a = NULL, *e = NULL;
	int rc, err;

	if ((rc = cmd_open_ledger(&l, &k)))
		goto out;
	if ((err = rq_ledger_lookup(&plan, l, plan_ref, "plan"))) {
		rc = cmd_fail_code(rq_error_prefix(err, "--plan %s: ", plan_ref));
		goto out;
	}
	if ((err = rq_ledger_lookup(&a, l, actual_ref, "actual"))) {
		rc = cmd_fail_code(rq_error_prefix(err, "--actual %s: ", actual_ref));
		goto out;
	}
	if (rq_json_str(a->body, "plan", NULL)) {
		rc = cmd_error("actual %.12s is already linked to plan %.12s%s", a->id, rq_json_str(a->body, "plan", ""),
			       rq_json_str(a->body, "linked_from", NULL) ? " (it is itself a link)" : "");
		goto out;
	}
	if (strcmp(rq_json_str(a->body, "status", "succeeded"), "succeeded") != 0)
		cmd_warn("actual %.12s is the record of a failed run", a->id);
	if ((err = not_linked_yet(l, a->id)) ||
	    (err = rq_ledger_append_if(&e, l, "actual", link_body(plan, a), NULL, 0, not_linked_yet, a->id))) {
		rc = cmd_fail_code(err);
		goto out;
	}
	rc = link_print(e, plan, a, json);
out:
	rq_entry_free(plan);
	rq_entry_free(a);
	rq_entry_free(e);
	cmd_close_ledger(l, k);
	return rc;
}
