/* Unit tests of the actual-entry body: events to epochs, per-epoch energy
 * and metrics; carbon; the plan's 80 % interval; the public view. */
#include "unit.h"
#include "actual.h"
#include "json.h"

static double num(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static void feed(rq_events *e, const char *s, double t)
{
	rq_events_feed(e, s, strlen(s), t);
}

TEST(actual_events_split_energy)
{
	/* 100 W for 10 s: a linear timeline; epochs end at t=2, 5, 9 */
	rq_energy_point tl[11];
	for (int i = 0; i <= 10; i++)
		tl[i] = (rq_energy_point){ (double)i, 100.0 * i };
	rq_events *e = NULL;
	CHECK_OK(rq_events_open(&e, NULL));
	feed(e, "metric grad_norm 1.5\nepoch\n", 2);
	feed(e, "metric grad_norm 2.25\nmetric accuracy 0.5\nepoch\n", 5);
	feed(e, "metric accuracy 0.75\nepoch 3\n", 9);
	json_t *b = json_object();
	rq_actual_add_events(b, e, tl, 11);
	CHECK_INT_EQ(rq_json_int(b, "epochs", -1), 3);
	json_t *ee = json_object_get(b, "epoch_energy_kwh");
	CHECK_INT_EQ(json_array_size(ee), 3);
	CHECK_NEAR(json_number_value(json_array_get(ee, 0)), 200 / 3.6e6, 1e-15);
	CHECK_NEAR(json_number_value(json_array_get(ee, 1)), 300 / 3.6e6, 1e-15);
	CHECK_NEAR(json_number_value(json_array_get(ee, 2)), 400 / 3.6e6, 1e-15);
	json_t *ed = json_object_get(b, "epoch_duration_s");
	CHECK_INT_EQ(json_array_size(ed), 3);
	CHECK_NEAR(json_number_value(json_array_get(ed, 0)), 2, 0);
	CHECK_NEAR(json_number_value(json_array_get(ed, 2)), 4, 0);
	CHECK_NEAR(num(b, "tail_energy_kwh"), 100 / 3.6e6, 1e-15);
	CHECK_NEAR(num(b, "stable_epoch_energy_kwh"), 350 / 3.6e6, 1e-15);
	CHECK_NEAR(num(b, "grad_norm"), 3.75, 0);
	json_t *acc = json_object_get(json_object_get(b, "metrics"), "accuracy");
	CHECK_INT_EQ(json_array_size(acc), 2);
	CHECK_NEAR(json_number_value(json_array_get(acc, 1)), 0.75, 0);
	json_decref(b);
	rq_events_free(e);
}

TEST(actual_no_events_adds_nothing)
{
	rq_energy_point tl[2] = { { 0, 0 }, { 1, 5 } };
	rq_events *e = NULL;
	CHECK_OK(rq_events_open(&e, NULL));
	json_t *b = json_object();
	rq_actual_add_events(b, e, tl, 2);
	CHECK_INT_EQ(json_object_size(b), 0);
	json_decref(b);
	rq_events_free(e);
}

TEST(actual_carbon)
{
	json_t *b = json_pack("{s:f}", "energy_kwh", 2.5);
	CHECK_OK(rq_actual_set_carbon(b, 56, 1.2));
	CHECK_NEAR(num(b, "carbon_kg"), 2.5 * 1.2 * 56 / 1000, 1e-15);
	CHECK_NEAR(num(b, "pue"), 1.2, 0);
	CHECK_NEAR(num(b, "intensity_g_per_kwh"), 56, 0);
	CHECK_ERR(rq_actual_set_carbon(b, NAN, 1), RQ_EINVALID);
	json_decref(b);
	b = json_object();
	CHECK_ERR(rq_actual_set_carbon(b, 56, 1), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "no energy");
	json_decref(b);
}

TEST(actual_inside_p80)
{
	json_t *plan = json_pack("{s:{s:{s:f, s:f, s:f}}}", "forecast", "energy_kwh", "mean", 1.0,
				 "p10", 0.5, "p90", 1.5);
	bool in = false;
	CHECK_OK(rq_actual_inside_p80(&in, plan, 0.5));
	CHECK(in);
	CHECK_OK(rq_actual_inside_p80(&in, plan, 1.5));
	CHECK(in);
	CHECK_OK(rq_actual_inside_p80(&in, plan, 1.51));
	CHECK(!in);
	CHECK_OK(rq_actual_inside_p80(&in, plan, 0.49));
	CHECK(!in);
	json_decref(plan);
	plan = json_pack("{s:{}}", "forecast");
	CHECK_ERR(rq_actual_inside_p80(&in, plan, 1), RQ_ENOTFOUND);
	CHECK_CONTAINS(rq_error_last(), "no 80 % interval");
	json_decref(plan);
}

TEST(actual_view_nulls)
{
	json_t *b = json_pack("{s:f, s:s, s:i, s:b}", "energy_kwh", 1.0, "method", "measured",
			      "exit_status", 3, "inside_p80", 1);
	json_t *v = json_object();
	rq_actual_view(v, b);
	CHECK(json_is_null(json_object_get(v, "plan")));
	CHECK(json_is_null(json_object_get(v, "epochs")));
	CHECK(json_is_true(json_object_get(v, "inside_p80")));
	CHECK_INT_EQ(rq_json_int(v, "exit_status", -1), 3);
	CHECK_STR_EQ(rq_json_str(v, "method", NULL), "measured");
	CHECK(json_object_get(v, "carbon_kg") && json_is_null(json_object_get(v, "carbon_kg")));
	json_decref(v);
	json_decref(b);
}
