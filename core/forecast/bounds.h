/* Plausible ranges of the physical quantities resque accepts on input
 * (docs/FORMATS.md "Plausible ranges"), checked in this one place so that a
 * finite but absurd figure (1.79e308 kWh) is refused where it enters rather
 * than turning every later forecast into NaN. */
#ifndef RESQUE_BOUNDS_H
#define RESQUE_BOUNDS_H

#include <stdbool.h>

typedef struct rq_bound {
	const char *quantity; /* "energy_kwh" */
	double lo, hi;        /* inclusive */
	const char *unit;     /* "kWh", "" when dimensionless */
	bool integer;         /* a whole number */
} rq_bound;

/* The range of `quantity` ("energy_kwh", "duration_s", "epochs", "pue",
 * "intensity_g_per_kwh", "power_w", "carbon_kg", "year", "train_size"); NULL when the
 * quantity is not one of them. Borrowed, static. */
const rq_bound *rq_bound_lookup(const char *quantity);

/* 0 when `v` is within the plausible range of `quantity` (and a whole
 * number where one is required), else RQ_EINVALID with the message
 * "WHERE: energy_kwh 1.79e308 is outside the plausible range [0, 1e9] kWh"
 * (`where` names the input: "FILE: line N", "--energy-kwh"; NULL for
 * none). NaN and infinities are always refused. An unknown quantity is a
 * programming error: RQ_ERROR. */
int rq_bound_check(const char *quantity, double v, const char *where);

/* Parse a plain decimal number: [+-]digits[.digits][(e|E)[+-]digits] (or
 * .digits), nothing before or after. Hexadecimal ("0x10"), "inf", "nan",
 * blanks and an out-of-range exponent are refused (strtod accepts them).
 * 0 on success, -1 otherwise (no message set). */
int rq_bound_parse_decimal(double *out, const char *s);

/* The same over the span [s, s+len), which need not be terminated (a CSV
 * field, one item of a list). A span of 64 bytes or more is refused: no
 * plain number needs one. */
int rq_bound_parse_decimal_n(double *out, const char *s, size_t len);

/* 0 when y-mo-d is a real calendar date with the year in the plausible
 * range [1970, 2200], else RQ_EINVALID "WHERE: DATE is not a valid date
 * (REASON)". `text` is the date as written, for the message. */
int rq_bound_date(int y, int mo, int d, const char *text, const char *where);

/* 0 when the name `s` (of a version, dataset, run, run id) holds no control
 * character (newline, tab, NUL, DEL ...): names are printed one per line
 * and compared as written. Else RQ_EINVALID "WHERE: WHAT must not contain
 * control characters (a newline, tab ...)". */
int rq_bound_name(const char *s, const char *what, const char *where);

#endif
