/* What an update really cost: the body of an `actual` entry (docs/FORMATS.md
 * "Actual entries") assembled from a metered run's events and timeline, its
 * carbon, its place in the linked plan's forecast, and the public --json
 * view of it shared by `resque run`, `resque import` and `resque show`.
 * Pure computation on jansson trees: the ledger is the caller's business. */
#ifndef RESQUE_ACTUAL_H
#define RESQUE_ACTUAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "events.h"
#include "resque/meter.h"

/* Add to `body` what the events say: `epochs` (the last epoch marked),
 * `epoch_energy_kwh` (one value per epoch mark, split on the cumulative
 * timeline `tl`), `epoch_duration_s` (seconds of each, by the marks'
 * timestamps), `tail_energy_kwh` (after the last mark),
 * `stable_epoch_energy_kwh` (STEP: mean of the epochs after the first),
 * `metrics` {"NAME": [values in order]}, `grad_norm` (the sum of the
 * `grad_norm` metric over the run, docs/METHOD.md) and `target` ("reached"
 * or "missed", the last `target` line). Nothing is added for what was not
 * reported. */
void rq_actual_add_events(json_t *body, const rq_events *ev, const rq_energy_point *tl,
			  size_t n);

/* carbon_kg = energy_kwh × pue × intensity / 1000, also recording `pue` and
 * `intensity_g_per_kwh`. RQ_EINVALID when body has no finite energy_kwh or
 * the factors are not finite and positive. */
int rq_actual_set_carbon(json_t *body, double intensity_g_per_kwh, double pue);

/* Whether `energy_kwh` lies inside the plan's 80 % interval of energy,
 * [forecast.energy_kwh.p10, forecast.energy_kwh.p90] (bounds included).
 * RQ_ENOTFOUND (message names the plan) when the plan body has no such
 * interval. */
int rq_actual_inside_p80(bool *out, const json_t *plan_body, double energy_kwh);

/* The public view (the --json contract of run, import and show): the
 * fields energy_kwh, carbon_kg, duration_s, method, meter, exit_status,
 * epochs, plan, inside_p80, status, name, target copied from `body`, JSON
 * null when absent. Added to `out` (an object). */
void rq_actual_view(json_t *out, const json_t *body);

/* Whether the actual says its run stopped before reaching its target
 * (`"target": "missed"`): its `epochs` is then a lower bound on the epochs
 * the target needed. An absent `target` (older entries, runs that said
 * nothing) counts as reached. */
bool rq_actual_target_missed(const json_t *body);

#endif
