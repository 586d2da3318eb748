/* `resque plan --when FILE`: the start time with the least carbon for a
 * run of a given duration, from a grid-intensity forecast (CSV of ISO-8601
 * time and g CO2e/kWh). Between points the intensity is a step function:
 * each point's value holds until the next point, and the last one for the
 * series' median interval. */
#ifndef RESQUE_WHEN_H
#define RESQUE_WHEN_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	int64_t *t;     /* Unix seconds, strictly increasing */
	double *g;      /* g CO2e/kWh at and after t[i] */
	size_t n;
	int64_t end;    /* the end of the last step */
} rq_when_series;

typedef struct {
	int64_t start;          /* proposed start, Unix seconds */
	double mean_g_per_kwh;  /* mean intensity over [start, start + duration] */
	int64_t baseline_start; /* the start compared with: `now`, or the first point */
	double baseline_g_per_kwh;
	double saving_fraction; /* 1 − best/baseline (0 when baseline is 0) */
	double saving_kg;       /* energy × PUE × (baseline − best) / 1000; NaN without energy */
} rq_when_result;

/* Parse the CSV bytes (`name` for messages): rows "TIME,G_PER_KWH" with an
 * optional header row (columns then found by name: a "time"/"date"/
 * "datetime"/"timestamp" column and an "intensity"/"carbon_intensity"/
 * "g_per_kwh"/"gco2_per_kwh" column, else the first two). Times must
 * increase strictly; values must be finite and non-negative. Errors name
 * the line: "forecast.csv: line 7: time goes backwards". */
int rq_when_parse(rq_when_series *out, const char *data, size_t len, const char *name);
void rq_when_release(rq_when_series *s);

/* The start in [max(now, first point), end − duration] minimising the
 * integral of intensity over [start, start + duration] (ties: earliest).
 * `now` = INT64_MIN means "from the first point". `energy_kwh` and `pue`
 * (NaN when unknown) give the saving in kg. RQ_EINVALID when the forecast
 * does not cover the duration after `now`. */
int rq_when_best(rq_when_result *out, const rq_when_series *s, double duration_s,
		 int64_t now, double energy_kwh, double pue, const char *name);

#endif
