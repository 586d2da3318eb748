/* The body of an `actual` entry from a metered run (events, per-epoch
 * energy, metrics, carbon) and its comparison with the plan's forecast. */
#include "common.h"
#include "actual.h"

#include <math.h>

#define J_PER_KWH 3.6e6

void rq_actual_add_events(json_t *body, const rq_events *ev, const rq_energy_point *tl,
			  size_t n)
{
	double *ej = NULL, tail = 0;
	size_t ne = 0;
	long last_epoch = 0;
	json_t *metrics = json_object();
	double grad = 0;
	bool has_grad = false;

	for (size_t i = 0; i < rq_events_count(ev); i++) {
		const rq_event *e = rq_events_get(ev, i);
		if (e->type == RQ_EVENT_EPOCH) {
			last_epoch = e->epoch;
			continue;
		}
		json_t *a = json_object_get(metrics, e->name);
		if (!a) {
			a = json_array();
			json_object_set_new(metrics, e->name, a);
		}
		json_array_append_new(a, json_real(e->value));
		if (!strcmp(e->name, "grad_norm")) {
			grad += e->value;
			has_grad = true;
		}
	}
	rq_events_epoch_energy(&ej, &ne, &tail, ev, tl, n);
	if (last_epoch > 0)
		json_object_set_new(body, "epochs", json_integer(last_epoch));
	if (ne > 0) {
		json_t *a = json_array();
		for (size_t i = 0; i < ne; i++)
			json_array_append_new(a, json_real(ej[i] / J_PER_KWH));
		json_object_set_new(body, "epoch_energy_kwh", a);
		a = json_array();
		double prev = n ? tl[0].t : 0;
		for (size_t i = 0; i < rq_events_count(ev); i++) {
			const rq_event *e = rq_events_get(ev, i);
			if (e->type != RQ_EVENT_EPOCH)
				continue;
			json_array_append_new(a, json_real(e->t - prev > 0 ? e->t - prev : 0));
			prev = e->t;
		}
		json_object_set_new(body, "epoch_duration_s", a);
		json_object_set_new(body, "tail_energy_kwh", json_real(tail / J_PER_KWH));
		double stable;
		if (rq_epoch_energy_stable(&stable, ej, ne) == 0)
			json_object_set_new(body, "stable_epoch_energy_kwh",
					    json_real(stable / J_PER_KWH));
	}
	if (json_object_size(metrics))
		json_object_set(body, "metrics", metrics);
	if (has_grad && isfinite(grad))
		json_object_set_new(body, "grad_norm", json_real(grad));
	if (rq_events_target(ev) != RQ_TARGET_UNKNOWN)
		json_object_set_new(body, "target", json_string(rq_target_name(rq_events_target(ev))));
	json_decref(metrics);
	free(ej);
}

int rq_actual_set_carbon(json_t *body, double intensity, double pue)
{
	json_t *e = json_object_get(body, "energy_kwh");
	if (!json_is_number(e) || !isfinite(json_number_value(e)))
		return rq_error_set(RQ_EINVALID, "actual: no energy to compute carbon from");
	if (!isfinite(intensity) || intensity < 0 || !isfinite(pue) || pue <= 0)
		return rq_error_set(RQ_EINVALID, "actual: intensity %g g/kWh or PUE %g is not usable",
				    intensity, pue);
	double kg = json_number_value(e) * pue * intensity / 1000.0;
	json_object_set_new(body, "carbon_kg", json_real(kg));
	json_object_set_new(body, "pue", json_real(pue));
	json_object_set_new(body, "intensity_g_per_kwh", json_real(intensity));
	return 0;
}

int rq_actual_inside_p80(bool *out, const json_t *plan_body, double energy_kwh)
{
	json_t *f = json_object_get(json_object_get(plan_body, "forecast"), "energy_kwh");
	json_t *lo = json_object_get(f, "p10"), *hi = json_object_get(f, "p90");
	*out = false;
	if (!json_is_number(lo) || !json_is_number(hi))
		return rq_error_set(RQ_ENOTFOUND, "plan: no 80 %% interval of energy (forecast.energy_kwh.p10/p90)");
	*out = energy_kwh >= json_number_value(lo) && energy_kwh <= json_number_value(hi);
	return 0;
}

void rq_actual_view(json_t *out, const json_t *body)
{
	static const char *const fields[] = {
		"name", "energy_kwh", "carbon_kg", "duration_s", "method", "meter", "status",
		"exit_status", "epochs", "plan", "inside_p80", "target",
	};
	for (size_t i = 0; i < RQ_ARRAY_SIZE(fields); i++) {
		json_t *v = json_object_get(body, fields[i]);
		json_object_set_new(out, fields[i], v ? json_incref(v) : json_null());
	}
}

bool rq_actual_target_missed(const json_t *body)
{
	json_t *t = json_object_get(body, "target");
	return json_is_string(t) && rq_target_parse(json_string_value(t)) == RQ_TARGET_MISSED;
}
