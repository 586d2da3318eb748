/* Cost records: parsing and validating cost files, carbon arithmetic. */
#include "common.h"
#include "bounds.h"
#include "cost.h"
#include "json.h"

#include <math.h>

void rq_cost_init(rq_cost *c)
{
	memset(c, 0, sizeof(*c));
	c->epochs = c->energy_kwh = c->duration_s = c->carbon_kg = NAN;
	c->pue = c->intensity = c->train_size = NAN;
}

void rq_cost_release(rq_cost *c)
{
	free(c->hardware);
	free(c->region);
	free(c->method);
	rq_cost_init(c);
}

static const char *const keys[] = {
	"epochs", "energy_kwh", "duration_s", "carbon_kg", "pue", "intensity_g_per_kwh",
	"hardware", "region", "method", "train_size",
};

static int number(double *out, const json_t *obj, const char *key, bool required, const char *name)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v)) {
		if (required)
			return rq_error_set(RQ_EINVALID, "%s: '%s' is missing", name, key);
		return 0;
	}
	if (!json_is_number(v))
		return rq_error_set(RQ_EINVALID, "%s: '%s' must be a number", name, key);
	double d = json_number_value(v);
	if (!isfinite(d) || d < 0)
		return rq_error_set(RQ_EINVALID, "%s: '%s' must be a finite number >= 0, not %g", name, key, d);
	/* pue's lower bound has its own message below */
	if (strcmp(key, "pue") && rq_bound_check(key, d, name))
		return RQ_EINVALID;
	*out = d;
	return 0;
}

static int string(char **out, const json_t *obj, const char *key, const char *name)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || !*json_string_value(v))
		return rq_error_set(RQ_EINVALID, "%s: '%s' must be a non-empty string", name, key);
	*out = rq_xstrdup(json_string_value(v));
	return 0;
}

int rq_cost_parse(rq_cost *out, const char *data, size_t len, const char *name)
{
	json_t *j = NULL;
	const char *key;
	json_t *val;
	int err;

	rq_cost_init(out);
	if ((err = rq_json_parse(&j, data, len, name)))
		return err;
	if (!json_is_object(j)) {
		err = rq_error_set(RQ_EINVALID, "%s: a cost file is a JSON object", name);
		goto done;
	}
	json_object_foreach(j, key, val) {
		bool known = false;
		for (size_t i = 0; i < RQ_ARRAY_SIZE(keys); i++)
			known |= strcmp(key, keys[i]) == 0;
		if (!known) {
			err = rq_error_set(RQ_EINVALID,
					   "%s: unknown key '%s' (accepted: epochs, energy_kwh, duration_s, carbon_kg, "
					   "pue, intensity_g_per_kwh, hardware, region, method, train_size)", name, key);
			goto done;
		}
	}
	if ((err = number(&out->epochs, j, "epochs", true, name)) ||
	    (err = number(&out->energy_kwh, j, "energy_kwh", true, name)) ||
	    (err = number(&out->duration_s, j, "duration_s", true, name)) ||
	    (err = number(&out->carbon_kg, j, "carbon_kg", false, name)) ||
	    (err = number(&out->pue, j, "pue", false, name)) ||
	    (err = number(&out->intensity, j, "intensity_g_per_kwh", false, name)) ||
	    (err = number(&out->train_size, j, "train_size", false, name)) ||
	    (err = string(&out->hardware, j, "hardware", name)) ||
	    (err = string(&out->region, j, "region", name)) || (err = string(&out->method, j, "method", name)))
		goto done;
	if (!isnan(out->pue) && out->pue < 1.0) {
		err = rq_error_set(RQ_EINVALID, "%s: 'pue' must be at least 1 (it is %g)", name, out->pue);
		goto done;
	}
	if (!isnan(out->pue) && (err = rq_bound_check("pue", out->pue, name)))
		goto done;
	if ((out->hardware && (err = rq_bound_name(out->hardware, "'hardware'", name))) ||
	    (out->region && (err = rq_bound_name(out->region, "'region'", name))))
		goto done;
	if (!out->method)
		out->method = rq_xstrdup("imported");
	if (strcmp(out->method, "measured") && strcmp(out->method, "estimated") && strcmp(out->method, "imported")) {
		err = rq_error_set(RQ_EINVALID, "%s: 'method' must be measured, estimated or imported, not '%s'", name,
				   out->method);
		goto done;
	}
done:
	json_decref(j);
	if (err)
		rq_cost_release(out);
	return err;
}

void rq_cost_compute_carbon(rq_cost *c, double intensity, double pue)
{
	if (isnan(pue))
		pue = 1.0;
	c->intensity = intensity;
	c->pue = pue;
	c->carbon_kg = c->energy_kwh * pue * intensity / 1000.0;
}

json_t *rq_cost_to_json(const rq_cost *c)
{
	json_t *o = json_object();
	rq_json_set_number(o, "epochs", c->epochs);
	rq_json_set_number(o, "energy_kwh", c->energy_kwh);
	rq_json_set_number(o, "duration_s", c->duration_s);
	rq_json_set_number(o, "carbon_kg", c->carbon_kg);
	rq_json_set_number(o, "pue", c->pue);
	rq_json_set_number(o, "intensity_g_per_kwh", c->intensity);
	if (c->hardware)
		json_object_set_new(o, "hardware", json_string(c->hardware));
	if (c->region)
		json_object_set_new(o, "region", json_string(c->region));
	json_object_set_new(o, "method", json_string(c->method ? c->method : "imported"));
	if (isfinite(c->train_size))
		json_object_set_new(o, "train_size", json_integer((json_int_t)c->train_size));
	return o;
}
