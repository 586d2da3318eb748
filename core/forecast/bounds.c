/* Plausible ranges of physical quantities, checked in one place. */
#include "common.h"
#include "bounds.h"

#include <ctype.h>
#include <math.h>

/* docs/FORMATS.md "Plausible ranges" lists the same table: keep them in step. */
static const rq_bound bounds[] = {
	{ "energy_kwh", 0, 1e9, "kWh", false },
	{ "duration_s", 0, 1e9, "s", false },
	{ "epochs", 0, 1e7, "", true },
	{ "pue", 1, 3, "", false },
	{ "intensity_g_per_kwh", 0, 2000, "g/kWh", false },
	{ "power_w", 0, 1e4, "W", false },
	{ "carbon_kg", 0, 1e9, "kg", false },
	{ "year", 1970, 2200, "", true },
	{ "train_size", 1, 1e12, "samples", true },
};

const rq_bound *rq_bound_lookup(const char *quantity)
{
	for (size_t i = 0; i < RQ_ARRAY_SIZE(bounds); i++)
		if (!strcmp(bounds[i].quantity, quantity))
			return &bounds[i];
	return NULL;
}

int rq_bound_check(const char *quantity, double v, const char *where)
{
	const rq_bound *b = rq_bound_lookup(quantity);
	const char *sep = where && *where ? ": " : "";

	if (!where)
		where = "";
	if (!b)
		return rq_error_set(RQ_ERROR, "%s%sno plausible range is known for '%s'", where, sep, quantity);
	if (isnan(v))
		return rq_error_set(RQ_EINVALID, "%s%s%s is not a number", where, sep, quantity);
	if (!(v >= b->lo && v <= b->hi))
		return rq_error_set(RQ_EINVALID, "%s%s%s %g is outside the plausible range [%g, %g]%s%s", where,
				    sep, quantity, v, b->lo, b->hi, *b->unit ? " " : "", b->unit);
	if (b->integer && v != floor(v))
		return rq_error_set(RQ_EINVALID, "%s%s%s %g is not a whole number", where, sep, quantity, v);
	return 0;
}

int rq_bound_parse_decimal(double *out, const char *s)
{
	const char *p = s;
	size_t mant = 0;
	char *end;
	double v;

	if (*p == '+' || *p == '-')
		p++;
	for (; isdigit((unsigned char)*p); p++)
		mant++;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			mant++;
	if (!mant)
		return -1;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (end != p || errno == ERANGE || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

int rq_bound_parse_decimal_n(double *out, const char *s, size_t len)
{
	char tmp[64];
	if (len >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return rq_bound_parse_decimal(out, tmp);
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int rq_bound_date(int y, int mo, int d, const char *text, const char *where)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *sep = where && *where ? ": " : "";
	const rq_bound *b = rq_bound_lookup("year");

	if (!where)
		where = "";
	if (y < b->lo || y > b->hi)
		return rq_error_set(RQ_EINVALID, "%s%s'%.40s' is not a valid date (the year is outside [%g, %g])",
				    where, sep, text, b->lo, b->hi);
	if (mo < 1 || mo > 12)
		return rq_error_set(RQ_EINVALID, "%s%s'%.40s' is not a valid date (no month %d)", where, sep, text,
				    mo);
	if (d < 1 || d > mdays[mo - 1] + (mo == 2 && leap(y)))
		return rq_error_set(RQ_EINVALID, "%s%s'%.40s' is not a valid date (no day %d in month %d of %d)",
				    where, sep, text, d, mo, y);
	return 0;
}

int rq_bound_name(const char *s, const char *what, const char *where)
{
	const char *sep = where && *where ? ": " : "";

	if (!where)
		where = "";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return rq_error_set(RQ_EINVALID,
					    "%s%s%s must not contain control characters (a newline, tab ...)", where,
					    sep, what);
	return 0;
}
