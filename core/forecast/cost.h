/* The cost of producing a model version (docs/METHOD.md): epochs, energy,
 * duration, carbon, and how the figures were obtained. Read from a JSON cost
 * file (docs/FORMATS.md "Cost files") or from a recorded run. */
#ifndef RESQUE_COST_H
#define RESQUE_COST_H

#include <jansson.h>
#include <stddef.h>

typedef struct rq_cost {
	double epochs;      /* NAN when unknown */
	double energy_kwh;
	double duration_s;
	double carbon_kg;   /* NAN until given or computed */
	double pue;         /* NAN when not given */
	double intensity;   /* grid intensity used, g CO2e/kWh; NAN when unknown */
	char *hardware;     /* owned, may be NULL */
	char *region;       /* owned, may be NULL */
	char *method;       /* "measured", "estimated" or "imported" (owned) */
	double train_size;  /* training-set samples; NAN when not given */
} rq_cost;

void rq_cost_init(rq_cost *c);
void rq_cost_release(rq_cost *c);

/* Parse a cost file: a JSON object with the required keys `epochs`,
 * `energy_kwh`, `duration_s` (finite, >= 0) and the optional `carbon_kg`,
 * `pue`, `intensity_g_per_kwh`, `hardware`, `region`, `method`, `train_size`
 * (a positive whole number). Unknown keys
 * are refused (a typo must not silently drop a figure). `name` is used in
 * messages. */
int rq_cost_parse(rq_cost *out, const char *data, size_t len, const char *name);

/* carbon_kg = energy_kwh × pue × intensity / 1000 (pue defaults to 1). */
void rq_cost_compute_carbon(rq_cost *c, double intensity_g_per_kwh, double pue);

/* The ledger form: {"epochs", "energy_kwh", "duration_s", "carbon_kg",
 * "method", ...}, unknown figures omitted. New reference. */
json_t *rq_cost_to_json(const rq_cost *c);

#endif
