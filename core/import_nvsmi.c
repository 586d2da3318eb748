/* Import an nvidia-smi power log (--query-gpu=...,power.draw --format=csv):
 * integrate each GPU's power over its timestamps, sum the GPUs. */
#include "common.h"
#include "resque/bounds.h"
#include "resque/csv.h"
#include "resque/import.h"
#include "resque/meter.h"

#include <ctype.h>
#include <math.h>

void rq_nvsmi_import_init(rq_nvsmi_import *r)
{
	memset(r, 0, sizeof(*r));
	rq_buf_init(&r->warnings);
}

void rq_nvsmi_import_release(rq_nvsmi_import *r)
{
	for (size_t i = 0; i < r->ngpus; i++) {
		free(r->gpus[i].key);
		free(r->gpus[i].name);
	}
	free(r->gpus);
	rq_buf_release(&r->warnings);
	rq_nvsmi_import_init(r);
}

static bool digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

int rq_nvsmi_parse_time(double *out, const char *s)
{
	int y, mo, d, h, mi, sec;
	size_t len = strlen(s);
	if (len < 19 || !digits(s, 4, &y) || (s[4] != '/' && s[4] != '-') ||
	    !digits(s + 5, 2, &mo) || s[7] != s[4] || !digits(s + 8, 2, &d) ||
	    (s[10] != ' ' && s[10] != 'T') || !digits(s + 11, 2, &h) || s[13] != ':' ||
	    !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec) ||
	    mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return rq_error_set(RQ_EINVALID, "'%.40s' is not a timestamp", s);
	double frac = 0, scale = 0.1;
	const char *p = s + 19;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return rq_error_set(RQ_EINVALID, "'%.40s' is not a timestamp", s);
		for (; isdigit((unsigned char)*p); p++, scale /= 10)
			frac += (*p - '0') * scale;
	}
	if (*p)
		return rq_error_set(RQ_EINVALID, "'%.40s' is not a timestamp", s);
	if (rq_bound_date(y, mo, d, s, NULL))
		return RQ_EINVALID;
	*out = (double)(rq_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
			mi * 60 + sec) + frac;
	return 0;
}

/* "30.98 W", "30.98": watts; 1 with the value, 0 for "[N/A]" and the
 * like, <0 when not a power reading. */
static int parse_watts(double *out, const char *s)
{
	if (*s == '[' || !strcmp(s, "N/A"))
		return 0;
	char tmp[64];
	size_t n = strlen(s);
	double v;
	if (n && s[n - 1] == 'W')
		n--;
	while (n && s[n - 1] == ' ')
		n--;
	/* decimal only: strtod would also take "0x10", "inf", "nan" */
	if (n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (rq_bound_parse_decimal(&v, tmp) || v < 0)
		return -1;
	*out = v;
	return 1;
}

struct series {
	double prev_t, prev_w;
	bool have_prev;
};

int rq_import_nvsmi(rq_nvsmi_import *out, const char *data, size_t len, const char *name)
{
	rq_csv *csv = NULL;
	size_t nf, nheader, cap = 0;
	const char *const *f;
	struct series *ser = NULL;
	rq_buf prev_ts = RQ_BUF_INIT, key = RQ_BUF_INIT;
	size_t ordinal = 0;
	double t_min = INFINITY, t_max = -INFINITY;
	int rc, err = 0;

	rq_nvsmi_import_init(out);
	rq_csv_open_buffer(&csv, data, len, name);
	rq_csv_set_trim(csv, true);
	if ((rc = rq_csv_next(csv, &nf, &f)) <= 0) {
		err = rc < 0 ? rc : rq_error_set(RQ_EINVALID, "%s: empty file", name);
		goto done;
	}
	nheader = nf;
	if ((err = rq_csv_header_check(csv, nf, f)))
		goto done;
	long c_time = rq_csv_column(nf, f, "timestamp");
	long c_power = rq_csv_column(nf, f, "power.draw");
	long c_name = rq_csv_column(nf, f, "name");
	const char *const ids[] = { "uuid", "gpu_uuid", "index", "pci.bus_id", "gpu_bus_id", NULL };
	long c_id = rq_csv_column_any(nf, f, ids);
	if (c_time < 0 || c_power < 0) {
		err = rq_error_set(RQ_EINVALID,
				   "%s: no '%s' column in the header (log with nvidia-smi --query-gpu=timestamp,...,power.draw --format=csv)",
				   name, c_time < 0 ? "timestamp" : "power.draw");
		goto done;
	}

	while ((rc = rq_csv_next(csv, &nf, &f)) == 1) {
		size_t line = rq_csv_line(csv);
		bool last_cut = !rq_csv_row_terminated(csv);
		double t, w = 0;
		int pw = -1;
		if (nf != nheader || rq_nvsmi_parse_time(&t, f[c_time]) < 0 ||
		    (pw = parse_watts(&w, f[c_power])) < 0) {
			if (last_cut) {
				rq_buf_printf(&out->warnings,
					      "%s: line %zu: incomplete last line skipped (the log was cut short)\n",
					      name, line);
				break;
			}
			if (nf != nheader)
				err = rq_error_set(RQ_EINVALID, "%s: line %zu: %zu fields, the header has %zu",
						   name, line, nf, nheader);
			else if (pw < 0 && rq_nvsmi_parse_time(&t, f[c_time]) == 0)
				err = rq_error_set(RQ_EINVALID, "%s: line %zu: power.draw '%.40s' is not in watts",
						   name, line, f[c_power]);
			else
				err = rq_error_prefix(RQ_EINVALID, "%s: line %zu: ", name, line);
			goto done;
		}
		out->nrows++;
		if (out->nrows == 1)
			snprintf(out->start, sizeof(out->start), "%s", f[c_time]);
		snprintf(out->end, sizeof(out->end), "%s", f[c_time]);
		if (t < t_min)
			t_min = t;
		if (t > t_max)
			t_max = t;

		/* which GPU: its id column, else its place among rows that
		 * share a timestamp */
		rq_buf_reset(&key);
		if (c_id >= 0) {
			rq_buf_puts(&key, f[c_id]);
		} else {
			if (!strcmp(prev_ts.ptr, f[c_time]))
				ordinal++;
			else
				ordinal = 0;
			rq_buf_reset(&prev_ts);
			rq_buf_puts(&prev_ts, f[c_time]);
			if (ordinal)
				rq_buf_printf(&key, "%zu", ordinal);
		}
		size_t g;
		for (g = 0; g < out->ngpus; g++)
			if (!strcmp(out->gpus[g].key, key.ptr))
				break;
		if (g == out->ngpus) {
			if (g == cap) {
				cap = cap ? 2 * cap : 4;
				out->gpus = rq_xrealloc(out->gpus, cap * sizeof(*out->gpus));
				ser = rq_xrealloc(ser, cap * sizeof(*ser));
			}
			memset(&out->gpus[g], 0, sizeof(out->gpus[g]));
			memset(&ser[g], 0, sizeof(ser[g]));
			out->gpus[g].key = rq_xstrdup(key.ptr);
			out->gpus[g].name = rq_xstrdup(c_name >= 0 ? f[c_name] : "");
			out->ngpus++;
		}
		if (pw == 0) {
			out->nskipped++;
			continue;
		}
		if (rq_bound_check("power_w", w, NULL)) {
			err = rq_error_prefix(RQ_EINVALID, "%s: line %zu: a sample of one GPU: ", name, line);
			goto done;
		}
		if (w > out->max_w)
			out->max_w = w;
		out->gpus[g].nsamples++;
		if (ser[g].have_prev) {
			double dt = t - ser[g].prev_t;
			if (dt < 0)
				rq_buf_printf(&out->warnings,
					      "%s: line %zu: time goes backwards; interval skipped\n",
					      name, line);
			else
				out->gpus[g].joules += 0.5 * (w + ser[g].prev_w) * dt;
		}
		ser[g].prev_t = t;
		ser[g].prev_w = w;
		ser[g].have_prev = true;
	}
	if (rc < 0) {
		err = rc;
		goto done;
	}
	if (out->nrows == 0) {
		err = rq_error_set(RQ_EINVALID, "%s: no power reading in the file", name);
		goto done;
	}
	if (out->nskipped)
		rq_buf_printf(&out->warnings, "%s: %zu rows without a power reading ([N/A]) skipped\n",
			      name, out->nskipped);
	size_t most = 0;
	for (size_t g = 0; g < out->ngpus; g++) {
		out->joules += out->gpus[g].joules;
		if (out->gpus[g].nsamples > most)
			most = out->gpus[g].nsamples;
	}
	out->duration_s = t_max - t_min;
	if (most < 2) {
		err = rq_error_set(RQ_EINVALID,
				   "%s: a single power sample per GPU: energy needs at least two samples over a positive duration",
				   name);
		goto done;
	}
	if (!(out->duration_s > 0)) {
		err = rq_error_set(RQ_EINVALID,
				   "%s: the log spans no time (every sample at %s): energy needs a positive duration",
				   name, out->start);
		goto done;
	}
	rq_buf_printf(&key, "%s: from %s to %s", name, out->start, out->end);
	if ((err = rq_bound_check("duration_s", out->duration_s, key.ptr)) ||
	    (err = rq_bound_check("energy_kwh", out->joules / 3.6e6, name)))
		goto done;
done:
	free(ser);
	rq_buf_release(&prev_ts);
	rq_buf_release(&key);
	rq_csv_free(csv);
	if (err < 0)
		rq_nvsmi_import_release(out);
	return err;
}

json_t *rq_nvsmi_json(const rq_nvsmi_import *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "energy_kwh", json_real(r->joules / 3.6e6));
	json_object_set_new(o, "duration_s", json_real(r->duration_s));
	json_object_set_new(o, "method", json_string(rq_method_name(RQ_METHOD_IMPORTED)));
	json_object_set_new(o, "meter", json_string("nvidia-smi"));
	json_object_set_new(o, "start", json_string(r->start));
	json_object_set_new(o, "end", json_string(r->end));
	json_object_set_new(o, "samples", json_integer((json_int_t)r->nrows));
	json_object_set_new(o, "max_w", json_real(r->max_w));
	json_t *gpus = json_array();
	for (size_t g = 0; g < r->ngpus; g++) {
		json_t *x = json_object();
		if (r->gpus[g].key[0])
			json_object_set_new(x, "id", json_string(r->gpus[g].key));
		if (r->gpus[g].name[0])
			json_object_set_new(x, "name", json_string(r->gpus[g].name));
		json_object_set_new(x, "energy_kwh", json_real(r->gpus[g].joules / 3.6e6));
		json_object_set_new(x, "samples", json_integer((json_int_t)r->gpus[g].nsamples));
		json_array_append_new(gpus, x);
	}
	json_object_set_new(o, "gpus", gpus);
	return o;
}
