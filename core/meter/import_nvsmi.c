/* Import an nvidia-smi power log (--query-gpu=...,power.draw --format=csv):
 * integrate each GPU's power over its timestamps, sum the GPUs. */
#include "common.h"
#include "bounds.h"
#include "csv.h"
#include "import.h"
#include "resque/meter.h"

#include <ctype.h>
#include <limits.h>
#include <strings.h>
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

/* "+01:00", "-0530", "+01", "Z" after a time: the offset east of UTC in
 * seconds; false when `p` is not one. */
static bool parse_zone(long *out, const char *p)
{
	int h = 0, m = 0;
	if (!strcmp(p, "Z")) {
		*out = 0;
		return true;
	}
	if ((*p != '+' && *p != '-') || !digits(p + 1, 2, &h))
		return false;
	const char *q = p + 3;
	if (*q == ':')
		q++;
	if (*q && (!digits(q, 2, &m) || q[2]))
		return false;
	if (h > 14 || m > 59)
		return false;
	*out = (*p == '-' ? -1 : 1) * (h * 3600L + m * 60L);
	return true;
}

/* Seconds since 1970 written as a plain number ("1670234142.535"); a
 * value past 10^11 (the year 5138) is milliseconds. One before 2000 is
 * refused: it is an elapsed time (seconds or milliseconds since the
 * start), whose unit cannot be told, not a date. 1 when `s` is not such
 * a number. */
static int parse_epoch(double *out, const char *s)
{
	double v;
	size_t n = strlen(s);
	if (!n)
		return 1;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]) && s[i] != '.')
			return 1;
	if (rq_bound_parse_decimal_n(&v, s, n))
		return 1;
	if (v > 1e11)
		v /= 1000;
	if (v > 7258118400.0) /* 2200-01-01 */
		return rq_error_set(RQ_EINVALID, "'%.40s' is not a timestamp (the year is outside [1970, 2200])", s);
	if (v < 946684800.0) /* 2000-01-01 */
		return rq_error_set(RQ_EINVALID,
				    "'%.40s' is not a timestamp: as seconds since 1970 it falls before 2000 (an elapsed time? its unit, s or ms, cannot be told): the time column must hold dates or seconds since 1970",
				    s);
	*out = v;
	return 0;
}

int rq_nvsmi_parse_time(double *out, const char *s)
{
	int y, mo, d, h, mi, sec;
	long zone = 0;
	size_t len = strlen(s);
	int rc = parse_epoch(out, s);
	if (rc <= 0)
		return rc;
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
	if (*p == ' ')
		p++;
	if (*p && !parse_zone(&zone, p))
		return rq_error_set(RQ_EINVALID, "'%.40s' is not a timestamp", s);
	if (rq_bound_date(y, mo, d, s, NULL))
		return RQ_EINVALID;
	*out = (double)(rq_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
			mi * 60 + sec - zone) + frac;
	return 0;
}

/* "30.98 W", "30.98": watts; 1 with the value, 0 for "[N/A]" and the
 * like (pandas writes a missing reading as "" or "NaN"), <0 when not a
 * power reading. */
static int parse_watts(double *out, const char *s)
{
	if (*s == '[' || !*s || !strcmp(s, "N/A") || !strcasecmp(s, "nan"))
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
	const char *power_column, *time_column; /* as the caller named them, or NULL */
	bool rownums;   /* every id so far is the row's number (0, 1, 2 ...) */
	bool ignore_id; /* the id column is a pandas index of row numbers */
};

/* A header field as a plain name for recognition: lowercase letters and
 * digits, every other run of characters one '_', none at the ends; a unit
 * ("power.draw [W]", "power (W)", "power_draw_w") and a "gpu_" prefix
 * dropped. "GPU Power Draw [W]" and "gpu_power_draw" are "power_draw". */
static void plain_name(char *out, size_t size, const char *field)
{
	size_t n = 0;
	for (const char *p = field; *p && n + 1 < size; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c == '[' || c == '(') && n)
			break;
		if (isalnum(c))
			out[n++] = (char)tolower(c);
		else if (n && out[n - 1] != '_')
			out[n++] = '_';
	}
	while (n && out[n - 1] == '_')
		n--;
	out[n] = '\0';
	if (n > 2 && !strcmp(out + n - 2, "_w"))
		out[n -= 2] = '\0';
	else if (n > 6 && !strcmp(out + n - 6, "_watts"))
		out[n -= 6] = '\0';
	if (n > 4 && !strncmp(out, "gpu_", 4))
		memmove(out, out + 4, n - 3);
}

/* Whether a header field starts with the word "gpu" ("gpu_index",
 * "GPU Index"): the GPU's own column beside a pandas row number. */
static bool gpu_prefixed(const char *field)
{
	while (*field && !isalnum((unsigned char)*field))
		field++;
	return !strncasecmp(field, "gpu", 3) && field[3] && !isalnum((unsigned char)field[3]);
}

/* The column playing a role: the first of `names` (plain names, in order
 * of preference) that a field has; -1 when none. Of two fields with the
 * same preferred name, with `prefer_gpu` the one starting with "gpu" is
 * taken ("gpu_index" beside pandas' "index" of row numbers); otherwise which one is meant is
 * ambiguous: RQ_EINVALID (-2), the message ending with `hint`. */
static long find_role(const struct nv_parse *p, size_t nf, const char *const *f, const char *const *names,
		      const char *role, bool prefer_gpu, const char *hint)
{
	char a[64];
	for (size_t k = 0; names[k]; k++) {
		long first = -1, second = -1, gpu = -1;
		size_t nmatch = 0, ngpu = 0;
		for (size_t i = 0; i < nf && i < (size_t)LONG_MAX; i++) {
			plain_name(a, sizeof(a), f[i]);
			if (strcmp(a, names[k]) != 0)
				continue;
			if (nmatch++ == 0)
				first = (long)i;
			else if (second < 0)
				second = (long)i;
			if (gpu_prefixed(f[i]) && ngpu++ == 0)
				gpu = (long)i;
		}
		if (nmatch == 1)
			return first;
		if (nmatch > 1 && ngpu == 1 && prefer_gpu)
			return gpu;
		if (nmatch > 1) {
			rq_error_set(RQ_EINVALID, "%s: columns '%.40s' and '%.40s' could both be the %s: %s", p->name,
				     f[first], f[second], role, hint);
			return -2;
		}
	}
	return -1;
}

/* The column a --power-column/--time-column names: as written
 * (case-insensitively), else by plain name; RQ_EINVALID (-2) when none. */
static long find_named(const struct nv_parse *p, size_t nf, const char *const *f, const char *want,
		       const char *flag)
{
	char a[64], b[64];
	long i;
	if ((i = rq_csv_column(nf, f, want)) >= 0)
		return i;
	plain_name(b, sizeof(b), want);
	for (size_t k = 0; *b && k < nf && k < (size_t)LONG_MAX; k++) {
		plain_name(a, sizeof(a), f[k]);
		if (!strcmp(a, b))
			return (long)k;
	}
	rq_error_set(RQ_EINVALID, "%s: no column '%.40s' (%s)", p->name, want, flag);
	return -2;
}

/* "FILE: no 'power.draw' column among COLUMNS; ...": what a file whose
 * columns were not recognised gets. */
static int columns_unknown(const struct nv_parse *p, size_t nf, const char *const *f, const char *what)
{
	rq_buf cols = RQ_BUF_INIT;
	double t;
	/* nvidia-smi --format=csv,noheader: the first line is a sample */
	for (size_t i = 0; i < nf; i++)
		if (rq_nvsmi_parse_time(&t, f[i]) == 0) {
			rq_error_clear();
			return rq_error_set(RQ_EINVALID,
					    "%s: no header line (the first line is a sample: '%.40s' is a timestamp): log with nvidia-smi --format=csv, not csv,noheader, or add the header line (timestamp, name, index, power.draw [W])",
					    p->name, f[i]);
		}
	rq_error_clear();
	for (size_t i = 0; i < nf && cols.len < 400; i++)
		rq_buf_printf(&cols, "%s'%.40s'", i ? ", " : "", f[i]);
	if (nf && cols.len >= 400)
		rq_buf_puts(&cols, ", ...");
	int err = rq_error_set(RQ_EINVALID,
			       "%s: no '%s' column (nor a known variant) among the columns found: %s; name the columns with --power-column NAME and --time-column NAME (log with nvidia-smi --query-gpu=timestamp,...,power.draw --format=csv)",
			       p->name, what, nf ? cols.ptr : "(none)");
	rq_buf_release(&cols);
	return err;
}

static int parse_header(struct nv_parse *p, rq_csv *csv)
{
	static const char *const times[] = { "timestamp", "time", "datetime", "date_time", NULL };
	static const char *const powers[] = { "power_draw", "power_draw_average", "power_draw_instant", "power",
					       NULL };
	static const char *const names[] = { "name", "product_name", NULL };
	static const char *const ids[] = { "uuid", "index", "pci_bus_id", "bus_id", "id", NULL };
	const char *const *f;
	size_t nf;
	int rc, err;

	if ((rc = rq_csv_next(csv, &nf, &f)) <= 0)
		return rc < 0 ? rc : rq_error_set(RQ_EINVALID, "%s: empty file", p->name);
	p->nheader = nf;
	if ((err = rq_csv_header_check(csv, nf, f)))
		return err;
	p->c_time = p->time_column ? find_named(p, nf, f, p->time_column, "--time-column")
				   : find_role(p, nf, f, times, "time", false, "choose one with --time-column NAME");
	if (p->c_time < -1)
		return RQ_EINVALID;
	p->c_power = p->power_column ? find_named(p, nf, f, p->power_column, "--power-column")
				     : find_role(p, nf, f, powers, "power", false, "choose one with --power-column NAME");
	if (p->c_power < -1)
		return RQ_EINVALID;
	if (p->c_time < 0 || p->c_power < 0)
		return columns_unknown(p, nf, f, p->c_time < 0 ? "timestamp" : "power.draw");
	if (p->c_time == p->c_power)
		return rq_error_set(RQ_EINVALID, "%s: the time and the power cannot be one column ('%.40s')", p->name,
				    f[p->c_time]);
	p->c_name = find_role(p, nf, f, names, "name", true, "");
	if (p->c_name < -1) /* two "name" columns: not worth refusing the file */
		p->c_name = -1;
	rq_error_clear();
	/* a GPU id column is never dropped silently: telling GPUs apart by
	 * timestamps would merge GPUs whose timestamps differ by milliseconds
	 * (one of row numbers is, with a warning: rq_import_nvsmi_columns) */
	p->c_id = find_role(p, nf, f, ids, "GPU id", true,
			    "remove the one holding row numbers (pandas: write with to_csv(index=False)), or name the GPU's 'gpu_index'");
	if (p->c_id < -1)
		return RQ_EINVALID;
	if (p->ignore_id)
		p->c_id = -1;
	p->rownums = p->c_id >= 0;
	p->out->gpu_ids = p->c_id >= 0;
	snprintf(p->out->time_column, sizeof(p->out->time_column), "%s", f[p->c_time]);
	snprintf(p->out->power_column, sizeof(p->out->power_column), "%s", f[p->c_power]);
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
		rq_buf_printf(&p->key, "%zu", out->nrows - 1);
		p->rownums = p->rownums && !strcmp(p->key.ptr, f[p->c_id]);
		rq_buf_reset(&p->key);
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
	rq_nvsmi_gpu *gpu = &p->out->gpus[g];
	if (w > p->out->max_w)
		p->out->max_w = w;
	if (!gpu->nsamples++ || t < gpu->t_lo) {
		gpu->t_lo = t;
		gpu->w_lo = w;
	}
	if (gpu->nsamples == 1 || t >= gpu->t_hi) {
		gpu->t_hi = t;
		gpu->w_hi = w;
	}
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
	out->t_start = p->t_min;
	out->t_end = p->t_max;
	if (most < 2 && out->gpu_ids && out->ngpus > 2)
		return rq_error_set(RQ_EINVALID,
				    "%s: a single power sample per GPU: every row has its own GPU id (is the id column row numbers, a pandas index?)",
				    name);
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
	return rq_import_nvsmi_columns(out, data, len, name, NULL, NULL);
}

/* Parse the log into p->out: 0, an error, or 1 when the id column holds
 * the row numbers 0, 1, 2 ... (pandas' index named "index": every row
 * would be a GPU of its own) and the log is to be read again without it. */
static int parse_log(struct nv_parse *p, const char *data, size_t len)
{
	rq_csv *csv = NULL;
	const char *const *f;
	size_t nf;
	int rc = 0, err;

	rq_nvsmi_import_init(p->out);
	rq_buf_init(&p->prev_ts);
	rq_buf_init(&p->key);
	rq_csv_open_buffer(&csv, data, len, p->name);
	rq_csv_set_trim(csv, true);
	if ((err = parse_header(p, csv)))
		goto done;
	while ((rc = rq_csv_next(csv, &nf, &f)) == 1 && (err = parse_row(p, csv, nf, f)) == 0)
		;
	if (err < 0 || (err = rc < 0 ? rc : 0))
		goto done;
	if (p->rownums && p->out->nrows > 2)
		err = 1;
	else
		err = finish(p);
done:
	free(p->ser);
	rq_buf_release(&p->prev_ts);
	rq_buf_release(&p->key);
	rq_csv_free(csv);
	if (err)
		rq_nvsmi_import_release(p->out);
	return err;
}

int rq_import_nvsmi_columns(rq_nvsmi_import *out, const char *data, size_t len, const char *name,
			    const char *power_column, const char *time_column)
{
	struct nv_parse p = { .out = out, .name = name, .t_min = INFINITY, .t_max = -INFINITY,
			      .power_column = power_column, .time_column = time_column };
	int err = parse_log(&p, data, len);
	if (err == 1) {
		p = (struct nv_parse){ .out = out, .name = name, .t_min = INFINITY, .t_max = -INFINITY,
				       .power_column = power_column, .time_column = time_column, .ignore_id = true };
		if (!(err = parse_log(&p, data, len)))
			rq_buf_printf(&out->warnings,
				      "%s: the GPU id column holds the row numbers 0, 1, 2 ... (a pandas index): read as row numbers, not GPU ids\n",
				      name);
	}
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
	if (r->time_column[0] && r->power_column[0])
		json_object_set_new(o, "columns", json_pack("{s:s, s:s}", "time", r->time_column, "power",
							    r->power_column));
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

/* rq_nvsmi_combine: one GPU's series in one file ... */
struct seg {
	size_t part, seq;
	const rq_nvsmi_gpu *g;
};

/* ... joined into one GPU's log. */
struct track {
	const rq_nvsmi_gpu *first;
	bool ided;
	double joules;
	size_t nsamples, last_part;
	double hi, w_hi, mean_dt; /* the latest sample; the last part's mean sampling interval */
};

struct span {
	double a, b;
};

struct combine {
	const rq_nvsmi_import *parts;
	const char *const *names;
	rq_nvsmi_import *out;
	struct track *tracks;
	size_t ntracks;
	struct span *spans;
	size_t nspans;
	bool per_node; /* each file another machine: its GPUs are its own */
};

static int seg_cmp(const void *x, const void *y)
{
	const struct seg *a = x, *b = y;
	if (a->g->t_lo != b->g->t_lo)
		return a->g->t_lo < b->g->t_lo ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int span_cmp(const void *x, const void *y)
{
	const struct span *a = x, *b = y;
	return a->a < b->a ? -1 : a->a > b->a;
}

static double mean_interval(const rq_nvsmi_gpu *g)
{
	return g->nsamples > 1 ? (g->t_hi - g->t_lo) / (double)(g->nsamples - 1) : 0;
}

/* The track segment `s` continues, or NULL for a GPU of its own: the same
 * id; without ids, the series that ended latest before it began (not one
 * of its own file's, whose GPUs are told apart already). */
static struct track *find_track(struct combine *c, const struct seg *s)
{
	struct track *best = NULL;
	bool ided = c->parts[s->part].gpu_ids;
	if (c->per_node)
		return NULL;
	for (size_t i = 0; i < c->ntracks; i++) {
		struct track *t = &c->tracks[i];
		if (t->ided != ided)
			continue;
		if (ided && !strcmp(t->first->key, s->g->key))
			return t;
		if (!ided && t->last_part != s->part && t->hi <= s->g->t_lo && (!best || t->hi > best->hi))
			best = t;
	}
	return best;
}

/* Append segment `s` to track `t`: an overlap is an error; a short gap
 * is integrated, a long one left out with a warning. */
static int join(struct combine *c, struct track *t, const struct seg *s)
{
	const rq_nvsmi_gpu *g = s->g;
	const char *prev = c->names[t->last_part], *name = c->names[s->part];
	double gap = g->t_lo - t->hi, dt = mean_interval(g);
	double limit = 10 * (dt > t->mean_dt ? dt : t->mean_dt);
	if (gap < 0)
		return rq_error_set(RQ_EINVALID,
				    "%s and %s both hold samples of GPU %s over %.3f s: parts of one GPU's log must follow each other in time (the same samples given twice? logs of other machines: --per-node)",
				    prev, name, g->key, -gap);
	if (gap <= limit) {
		t->joules += 0.5 * (t->w_hi + g->w_lo) * gap;
		c->spans[c->nspans++] = (struct span){ t->hi, g->t_lo };
	} else {
		rq_buf_printf(&c->out->warnings,
			      "%s: GPU %s was not logged for %.0f s between the end of %s and this file: that time is not counted\n",
			      name, *g->key ? g->key : "(no id)", gap, prev);
	}
	t->joules += g->joules;
	t->nsamples += g->nsamples;
	t->hi = g->t_hi;
	t->w_hi = g->w_hi;
	t->mean_dt = dt;
	t->last_part = s->part;
	return 0;
}

/* The time covered by the parts and the joined gaps, warning about the
 * time no log covers. */
static double covered(struct combine *c)
{
	double total = 0, a, b;
	size_t holes = 0;
	qsort(c->spans, c->nspans, sizeof(*c->spans), span_cmp);
	a = c->spans[0].a;
	b = c->spans[0].b;
	for (size_t i = 1; i <= c->nspans; i++) {
		if (i < c->nspans && c->spans[i].a <= b) {
			if (c->spans[i].b > b)
				b = c->spans[i].b;
			continue;
		}
		total += b - a;
		if (i < c->nspans) {
			holes++;
			a = c->spans[i].a;
			b = c->spans[i].b;
		}
	}
	if (holes)
		rq_buf_printf(&c->out->warnings,
			      "%zu gap(s) between the logs, %.0f s in all, covered by no file: left out of the duration\n",
			      holes, c->out->t_end - c->out->t_start - total);
	return total;
}

/* The GPUs of the result, one per track. */
static void tracks_out(struct combine *c)
{
	rq_nvsmi_import *out = c->out;
	out->gpus = rq_xcalloc(c->ntracks ? c->ntracks : 1, sizeof(*out->gpus));
	for (size_t i = 0; i < c->ntracks; i++) {
		const struct track *t = &c->tracks[i];
		rq_nvsmi_gpu *g = &out->gpus[out->ngpus++];
		*g = *t->first;
		if (c->per_node) { /* "node.csv:0": the GPU of that machine */
			rq_buf k = RQ_BUF_INIT;
			rq_buf_printf(&k, "%s%s%s", c->names[t->last_part], *t->first->key ? ":" : "", t->first->key);
			g->key = rq_buf_detach(&k, NULL);
		} else {
			g->key = rq_xstrdup(t->ided ? t->first->key : "");
		}
		g->name = rq_xstrdup(t->first->name);
		g->joules = t->joules;
		g->nsamples = t->nsamples;
		g->t_hi = t->hi;
		g->w_hi = t->w_hi;
		out->joules += t->joules;
	}
}

/* The totals that do not depend on how the GPUs are joined. */
static void sum_parts(rq_nvsmi_import *out, const rq_nvsmi_import *parts, size_t n)
{
	size_t first = 0, last = 0;
	out->gpu_ids = true;
	for (size_t i = 0; i < n; i++) {
		out->nrows += parts[i].nrows;
		out->nskipped += parts[i].nskipped;
		if (parts[i].max_w > out->max_w)
			out->max_w = parts[i].max_w;
		out->gpu_ids = out->gpu_ids && parts[i].gpu_ids;
		if (parts[i].t_start < parts[first].t_start)
			first = i;
		if (parts[i].t_end > parts[last].t_end)
			last = i;
	}
	memcpy(out->start, parts[first].start, sizeof(out->start));
	memcpy(out->end, parts[last].end, sizeof(out->end));
	out->t_start = parts[first].t_start;
	out->t_end = parts[last].t_end;
	memcpy(out->time_column, parts[0].time_column, sizeof(out->time_column));
	memcpy(out->power_column, parts[0].power_column, sizeof(out->power_column));
}

int rq_nvsmi_combine(rq_nvsmi_import *out, const rq_nvsmi_import *parts, const char *const *names, size_t n)
{
	return rq_nvsmi_combine_nodes(out, parts, names, n, false);
}

int rq_nvsmi_combine_nodes(rq_nvsmi_import *out, const rq_nvsmi_import *parts, const char *const *names, size_t n,
			   bool per_node)
{
	struct combine c = { parts, names, out, NULL, 0, NULL, 0, per_node };
	struct seg *segs = NULL;
	size_t nsegs = 0, total = 0;
	int err = 0;

	rq_nvsmi_import_init(out);
	for (size_t i = 0; i < n; i++)
		total += parts[i].ngpus;
	segs = rq_xcalloc(total ? total : 1, sizeof(*segs));
	c.tracks = rq_xcalloc(total ? total : 1, sizeof(*c.tracks));
	c.spans = rq_xcalloc(n + total, sizeof(*c.spans));
	for (size_t i = 0; i < n; i++) {
		c.spans[c.nspans++] = (struct span){ parts[i].t_start, parts[i].t_end };
		for (size_t g = 0; g < parts[i].ngpus; g++)
			if (parts[i].gpus[g].nsamples)
				segs[nsegs] = (struct seg){ i, nsegs, &parts[i].gpus[g] }, nsegs++;
	}
	qsort(segs, nsegs, sizeof(*segs), seg_cmp);
	sum_parts(out, parts, n);
	for (size_t i = 0; i < nsegs && !err; i++) {
		struct track *t = find_track(&c, &segs[i]);
		if (t) {
			err = join(&c, t, &segs[i]);
			continue;
		}
		const rq_nvsmi_gpu *g = segs[i].g;
		c.tracks[c.ntracks++] = (struct track){ g, parts[segs[i].part].gpu_ids, g->joules, g->nsamples,
							segs[i].part, g->t_hi, g->w_hi, mean_interval(g) };
	}
	if (!err) {
		tracks_out(&c);
		out->duration_s = covered(&c);
		err = rq_bound_check("duration_s", out->duration_s, names[0]);
	}
	if (!err)
		err = rq_bound_check("energy_kwh", out->joules / 3.6e6, names[0]);
	free(segs);
	free(c.tracks);
	free(c.spans);
	if (err)
		rq_nvsmi_import_release(out);
	return err;
}
