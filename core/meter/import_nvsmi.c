/* Import an nvidia-smi power log (--query-gpu=...,power.draw --format=csv):
 * integrate each GPU's power over its timestamps, sum the GPUs. */
#include "common.h"
#include "bounds.h"
#include "csv.h"
#include "import.h"
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
	size_t n = strlen(s);
	double v;
	if (n && s[n - 1] == 'W')
		n--;
	while (n && s[n - 1] == ' ')
		n--;
	/* decimal only: strtod would also take "0x10", "inf", "nan" */
	if (rq_bound_parse_decimal_n(&v, s, n) || v < 0)
		return -1;
	*out = v;
	return 1;
}

struct series {
	double prev_t, prev_w;
	bool have_prev;
};

/* The state of one log's parse. */
struct nv_parse {
	rq_nvsmi_import *out;
	const char *name;
	size_t nheader;
	long c_time, c_power, c_name, c_id; /* columns; < 0 when absent */
	struct series *ser;                 /* one per GPU, as out->gpus */
	size_t gpus_alloc, ser_alloc;
	rq_buf prev_ts;                     /* the timestamp of the row before */
	size_t ordinal;                     /* the row's place among rows of that timestamp */
	rq_buf key;
	double t_min, t_max;
};

static int parse_header(struct nv_parse *p, rq_csv *csv)
{
	static const char *const ids[] = { "uuid", "gpu_uuid", "index", "pci.bus_id", "gpu_bus_id", NULL };
	const char *const *f;
	size_t nf;
	int rc, err;

	if ((rc = rq_csv_next(csv, &nf, &f)) <= 0)
		return rc < 0 ? rc : rq_error_set(RQ_EINVALID, "%s: empty file", p->name);
	p->nheader = nf;
	if ((err = rq_csv_header_check(csv, nf, f)))
		return err;
	p->c_time = rq_csv_column(nf, f, "timestamp");
	p->c_power = rq_csv_column(nf, f, "power.draw");
	p->c_name = rq_csv_column(nf, f, "name");
	p->c_id = rq_csv_column_any(nf, f, ids);
	if (p->c_time < 0 || p->c_power < 0)
		return rq_error_set(RQ_EINVALID,
				    "%s: no '%s' column in the header (log with nvidia-smi --query-gpu=timestamp,...,power.draw --format=csv)",
				    p->name, p->c_time < 0 ? "timestamp" : "power.draw");
	return 0;
}

/* A row that does not parse: 1 (stop, with a warning) for a last line
 * cut short, else the error naming the line. */
static int bad_row(struct nv_parse *p, rq_csv *csv, size_t nf, const char *const *f, int pw)
{
	size_t line = rq_csv_line(csv);
	double t;
	if (!rq_csv_row_terminated(csv)) {
		rq_buf_printf(&p->out->warnings, "%s: line %zu: incomplete last line skipped (the log was cut short)\n",
			      p->name, line);
		return 1;
	}
	if (nf != p->nheader)
		return rq_error_set(RQ_EINVALID, "%s: line %zu: %zu fields, the header has %zu", p->name, line, nf,
				    p->nheader);
	if (pw < 0 && rq_nvsmi_parse_time(&t, f[p->c_time]) == 0)
		return rq_error_set(RQ_EINVALID, "%s: line %zu: power.draw '%.40s' is not in watts", p->name, line,
				    f[p->c_power]);
	return rq_error_prefix(RQ_EINVALID, "%s: line %zu: ", p->name, line);
}

/* Which GPU the row is: its id column, else its place among rows that
 * share a timestamp. Returns its index, adding it when new. */
static size_t row_gpu(struct nv_parse *p, const char *const *f)
{
	rq_nvsmi_import *out = p->out;
	rq_buf_reset(&p->key);
	if (p->c_id >= 0) {
		rq_buf_puts(&p->key, f[p->c_id]);
	} else {
		if (!strcmp(p->prev_ts.ptr, f[p->c_time]))
			p->ordinal++;
		else
			p->ordinal = 0;
		rq_buf_reset(&p->prev_ts);
		rq_buf_puts(&p->prev_ts, f[p->c_time]);
		if (p->ordinal)
			rq_buf_printf(&p->key, "%zu", p->ordinal);
	}
	size_t g;
	for (g = 0; g < out->ngpus; g++)
		if (!strcmp(out->gpus[g].key, p->key.ptr))
			return g;
	RQ_ALLOC_GROW(out->gpus, g + 1, p->gpus_alloc);
	RQ_ALLOC_GROW(p->ser, g + 1, p->ser_alloc);
	memset(&out->gpus[g], 0, sizeof(out->gpus[g]));
	memset(&p->ser[g], 0, sizeof(p->ser[g]));
	out->gpus[g].key = rq_xstrdup(p->key.ptr);
	out->gpus[g].name = rq_xstrdup(p->c_name >= 0 ? f[p->c_name] : "");
	out->ngpus++;
	return g;
}

/* Add GPU g's sample (t, w): the trapezoid since its previous one. */
static int add_sample(struct nv_parse *p, size_t g, double t, double w, size_t line)
{
	struct series *s = &p->ser[g];
	if (rq_bound_check("power_w", w, NULL))
		return rq_error_prefix(RQ_EINVALID, "%s: line %zu: a sample of one GPU: ", p->name, line);
	if (w > p->out->max_w)
		p->out->max_w = w;
	p->out->gpus[g].nsamples++;
	if (s->have_prev) {
		double dt = t - s->prev_t;
		if (dt < 0)
			rq_buf_printf(&p->out->warnings, "%s: line %zu: time goes backwards; interval skipped\n",
				      p->name, line);
		else
			p->out->gpus[g].joules += 0.5 * (w + s->prev_w) * dt;
	}
	s->prev_t = t;
	s->prev_w = w;
	s->have_prev = true;
	return 0;
}

/* One data row: 0 to go on, 1 to stop (a last line cut short), or an
 * error. */
static int parse_row(struct nv_parse *p, rq_csv *csv, size_t nf, const char *const *f)
{
	rq_nvsmi_import *out = p->out;
	double t, w = 0;
	int pw = -1;
	if (nf != p->nheader || rq_nvsmi_parse_time(&t, f[p->c_time]) < 0 ||
	    (pw = parse_watts(&w, f[p->c_power])) < 0)
		return bad_row(p, csv, nf, f, pw);
	out->nrows++;
	if (out->nrows == 1)
		snprintf(out->start, sizeof(out->start), "%s", f[p->c_time]);
	snprintf(out->end, sizeof(out->end), "%s", f[p->c_time]);
	if (t < p->t_min)
		p->t_min = t;
	if (t > p->t_max)
		p->t_max = t;
	size_t g = row_gpu(p, f);
	if (pw == 0) {
		out->nskipped++;
		return 0;
	}
	return add_sample(p, g, t, w, rq_csv_line(csv));
}

/* The totals over the GPUs, refused when they cannot be an energy. */
static int finish(struct nv_parse *p)
{
	rq_nvsmi_import *out = p->out;
	const char *name = p->name;
	size_t most = 0;

	if (out->nrows == 0)
		return rq_error_set(RQ_EINVALID, "%s: no power reading in the file", name);
	if (out->nskipped)
		rq_buf_printf(&out->warnings, "%s: %zu rows without a power reading ([N/A]) skipped\n", name,
			      out->nskipped);
	for (size_t g = 0; g < out->ngpus; g++) {
		out->joules += out->gpus[g].joules;
		if (out->gpus[g].nsamples > most)
			most = out->gpus[g].nsamples;
	}
	out->duration_s = p->t_max - p->t_min;
	if (most < 2)
		return rq_error_set(RQ_EINVALID,
				    "%s: a single power sample per GPU: energy needs at least two samples over a positive duration",
				    name);
	if (!(out->duration_s > 0))
		return rq_error_set(RQ_EINVALID,
				    "%s: the log spans no time (every sample at %s): energy needs a positive duration",
				    name, out->start);
	rq_buf_reset(&p->key);
	rq_buf_printf(&p->key, "%s: from %s to %s", name, out->start, out->end);
	int err = rq_bound_check("duration_s", out->duration_s, p->key.ptr);
	if (!err)
		err = rq_bound_check("energy_kwh", out->joules / 3.6e6, name);
	return err;
}

int rq_import_nvsmi(rq_nvsmi_import *out, const char *data, size_t len, const char *name)
{
	struct nv_parse p = { .out = out, .name = name, .t_min = INFINITY, .t_max = -INFINITY };
	rq_csv *csv = NULL;
	const char *const *f;
	size_t nf;
	int rc, err;

	rq_nvsmi_import_init(out);
	rq_buf_init(&p.prev_ts);
	rq_buf_init(&p.key);
	rq_csv_open_buffer(&csv, data, len, name);
	rq_csv_set_trim(csv, true);
	if ((err = parse_header(&p, csv)))
		goto done;
	while ((rc = rq_csv_next(csv, &nf, &f)) == 1 && (err = parse_row(&p, csv, nf, f)) == 0)
		;
	if (err < 0 || (err = rc < 0 ? rc : 0))
		goto done;
	err = finish(&p);
done:
	free(p.ser);
	rq_buf_release(&p.prev_ts);
	rq_buf_release(&p.key);
	rq_csv_free(csv);
	if (err < 0)
		rq_nvsmi_import_release(out);
	return err < 0 ? err : 0;
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
