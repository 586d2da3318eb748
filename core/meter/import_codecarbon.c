/* Import CodeCarbon's emissions.csv, reading columns by name so that the
 * files of v1.x, v2.x and v3.x (whose columns differ) all work. */
#include "common.h"
#include "bounds.h"
#include "resque/carbon.h"
#include "csv.h"
#include "json.h"
#include "import.h"
#include "resque/meter.h"

#include <math.h>

void rq_cc_import_init(rq_cc_import *r)
{
	memset(r, 0, sizeof(*r));
	rq_buf_init(&r->warnings);
}

static void run_release(rq_cc_run *r)
{
	free(r->run_id);
	free(r->timestamp);
	free(r->project_name);
	free(r->country_iso_code);
	free(r->region);
	free(r->cloud_provider);
	free(r->cloud_region);
	free(r->cpu_model);
	free(r->gpu_model);
	free(r->codecarbon_version);
}

void rq_cc_import_release(rq_cc_import *r)
{
	for (size_t i = 0; i < r->n; i++)
		run_release(&r->runs[i]);
	free(r->runs);
	rq_buf_release(&r->warnings);
	rq_cc_import_init(r);
}

enum {
	C_RUN_ID, C_TIMESTAMP, C_PROJECT, C_COUNTRY, C_REGION, C_CLOUD_PROVIDER, C_CLOUD_REGION,
	C_CPU_MODEL, C_GPU_MODEL, C_VERSION, /* text */
	C_DURATION, C_EMISSIONS, C_ENERGY, C_CPU_E, C_GPU_E, C_RAM_E, C_PUE, /* numbers */
	C_COUNT
};
#define FIRST_NUMBER C_DURATION

static const char *const *const column_names[C_COUNT] = {
	[C_RUN_ID] = (const char *const[]){ "run_id", "experiment_id", NULL },
	[C_TIMESTAMP] = (const char *const[]){ "timestamp", NULL },
	[C_PROJECT] = (const char *const[]){ "project_name", NULL },
	[C_COUNTRY] = (const char *const[]){ "country_iso_code", NULL },
	[C_REGION] = (const char *const[]){ "region", NULL },
	[C_CLOUD_PROVIDER] = (const char *const[]){ "cloud_provider", NULL },
	[C_CLOUD_REGION] = (const char *const[]){ "cloud_region", NULL },
	[C_CPU_MODEL] = (const char *const[]){ "cpu_model", NULL },
	[C_GPU_MODEL] = (const char *const[]){ "gpu_model", NULL },
	[C_VERSION] = (const char *const[]){ "codecarbon_version", NULL },
	[C_DURATION] = (const char *const[]){ "duration", NULL },
	[C_EMISSIONS] = (const char *const[]){ "emissions", NULL },
	[C_ENERGY] = (const char *const[]){ "energy_consumed", NULL },
	[C_CPU_E] = (const char *const[]){ "cpu_energy", NULL },
	[C_GPU_E] = (const char *const[]){ "gpu_energy", NULL },
	[C_RAM_E] = (const char *const[]){ "ram_energy", NULL },
	[C_PUE] = (const char *const[]){ "pue", NULL },
};

static bool required(int c)
{
	return c == C_DURATION || c == C_EMISSIONS || c == C_ENERGY;
}

/* Parse a number column: NaN when empty (optional ones). */
static int number(double *out, const char *s, const char *name, size_t line, const char *col,
		  bool req)
{
	while (*s == ' ')
		s++;
	if (!*s) {
		*out = NAN;
		if (req)
			return rq_error_set(RQ_EINVALID, "%s: line %zu: '%s' is empty", name, line, col);
		return 0;
	}
	size_t n = strlen(s);
	double v;
	while (n && s[n - 1] == ' ')
		n--;
	/* decimal only: strtod would also take "0x10", "inf", "nan" */
	if (rq_bound_parse_decimal_n(&v, s, n) || v < 0)
		return rq_error_set(RQ_EINVALID, "%s: line %zu: '%s' is not a number >= 0: '%.40s'",
				    name, line, col, s);
	*out = v;
	return 0;
}

/* The plausible-range quantity of a number column. */
static const char *quantity_of(int c)
{
	switch (c) {
	case C_DURATION: return "duration_s";
	case C_EMISSIONS: return "carbon_kg";
	case C_PUE: return "pue";
	default: return "energy_kwh";
	}
}

/* Bounds, names, dates and the country of one parsed row. */
static int check_row(const rq_cc_run *row, double *const *num, const char *name, size_t line)
{
	char where[300];
	int y, mo, d, err = 0;
	const rq_region *reg;

	snprintf(where, sizeof(where), "%s: line %zu", name, line);
	for (int c = FIRST_NUMBER; c < C_COUNT; c++) {
		double v = *num[c - FIRST_NUMBER];
		if (!isnan(v) && (err = rq_bound_check(quantity_of(c), v, where)))
			return err;
	}
	if ((err = rq_bound_name(row->run_id, "run_id", where)) ||
	    (err = rq_bound_name(row->project_name, "project_name", where)) ||
	    (err = rq_bound_name(row->country_iso_code, "country_iso_code", where)) ||
	    (err = rq_bound_name(row->region, "region", where)) ||
	    (err = rq_bound_name(row->cloud_provider, "cloud_provider", where)) ||
	    (err = rq_bound_name(row->cloud_region, "cloud_region", where)))
		return err;
	if (row->timestamp[0]) {
		if (sscanf(row->timestamp, "%4d-%2d-%2d", &y, &mo, &d) != 3)
			return rq_error_set(RQ_EINVALID, "%s: timestamp '%.40s' is not an ISO-8601 date", where,
					    row->timestamp);
		if ((err = rq_bound_date(y, mo, d, row->timestamp, where)))
			return err;
	}
	if (row->country_iso_code[0] && rq_carbon_lookup(&reg, row->country_iso_code)) {
		rq_error_clear();
		return rq_error_set(RQ_EINVALID, "%s: country_iso_code '%.40s' is not a known country code", where,
				    row->country_iso_code);
	}
	return 0;
}

/* The header: every column's index (< 0 when absent), refusing a file
 * without the required ones. */
static int read_header(long col[C_COUNT], size_t *nheader, rq_csv *csv, const char *name)
{
	const char *const *f;
	size_t nf;
	int rc, err;

	if ((rc = rq_csv_next(csv, &nf, &f)) <= 0)
		return rc < 0 ? rc : rq_error_set(RQ_EINVALID, "%s: empty file", name);
	*nheader = nf;
	if ((err = rq_csv_header_check(csv, nf, f)))
		return err;
	for (int c = 0; c < C_COUNT; c++) {
		col[c] = rq_csv_column_any(nf, f, column_names[c]);
		if (col[c] < 0 && required(c))
			return rq_error_set(RQ_EINVALID, "%s: no '%s' column (not a CodeCarbon emissions file?)", name,
					    column_names[c][0]);
	}
	return 0;
}

/* One data row into `row` (whose strings the caller releases, also on
 * error), checked. */
static int read_row(rq_cc_run *row, const long col[C_COUNT], const char *const *f, const char *name, size_t line)
{
	char **text[] = { &row->run_id, &row->timestamp, &row->project_name, &row->country_iso_code,
			  &row->region, &row->cloud_provider, &row->cloud_region, &row->cpu_model,
			  &row->gpu_model, &row->codecarbon_version };
	double *num[] = { &row->duration_s, &row->emissions_kg, &row->energy_kwh, &row->cpu_kwh,
			  &row->gpu_kwh, &row->ram_kwh, &row->pue };
	int err;

	for (int c = 0; c < FIRST_NUMBER; c++)
		*text[c] = rq_xstrdup(col[c] >= 0 ? f[col[c]] : "");
	for (int c = FIRST_NUMBER; c < C_COUNT; c++) {
		double *d = num[c - FIRST_NUMBER];
		*d = NAN;
		if (col[c] >= 0 && (err = number(d, f[col[c]], name, line, column_names[c][0], required(c))) < 0)
			return err;
	}
	row->line = line;
	return check_row(row, num, name, line);
}

/* Add `row` (taken) as a run, or as the newer snapshot of a run with
 * its run_id; without run ids at all, every row is a run. */
static void add_run(rq_cc_import *out, size_t *alloc, rq_cc_run *row, bool have_ids)
{
	for (size_t i = 0; i < out->n && (row->run_id[0] || have_ids); i++)
		if (!strcmp(out->runs[i].run_id, row->run_id)) {
			run_release(&out->runs[i]);
			out->runs[i] = *row;
			memset(row, 0, sizeof(*row));
			return;
		}
	RQ_ALLOC_GROW(out->runs, out->n + 1, *alloc);
	out->runs[out->n++] = *row;
	memset(row, 0, sizeof(*row));
}

/* Keep run `run_id` alone; RQ_ENOTFOUND naming the runs there are. */
static int select_run(rq_cc_import *out, const char *run_id, const char *name)
{
	size_t keep = SIZE_MAX;
	for (size_t i = 0; i < out->n; i++)
		if (!strcmp(out->runs[i].run_id, run_id))
			keep = i;
	if (keep == SIZE_MAX) {
		rq_buf ids = RQ_BUF_INIT;
		for (size_t i = 0; i < out->n && i < 10; i++)
			rq_buf_printf(&ids, "%s%s", i ? ", " : "", out->runs[i].run_id);
		if (out->n > 10)
			rq_buf_puts(&ids, ", ...");
		int err = rq_error_set(RQ_ENOTFOUND, "%s: no run '%s' (runs: %s)", name, run_id, ids.ptr);
		rq_buf_release(&ids);
		return err;
	}
	for (size_t i = 0; i < out->n; i++)
		if (i != keep)
			run_release(&out->runs[i]);
	out->runs[0] = out->runs[keep];
	out->n = 1;
	return 0;
}

int rq_import_codecarbon(rq_cc_import *out, const char *data, size_t len, const char *name,
			 const char *run_id)
{
	rq_csv *csv = NULL;
	size_t nf, nheader = 0, alloc = 0;
	const char *const *f;
	long col[C_COUNT];
	rq_cc_run row;
	int rc = 0, err;

	rq_cc_import_init(out);
	memset(&row, 0, sizeof(row));
	rq_csv_open_buffer(&csv, data, len, name);
	rq_csv_set_trim(csv, true);
	if ((err = read_header(col, &nheader, csv, name)))
		goto done;
	while ((rc = rq_csv_next(csv, &nf, &f)) == 1) {
		size_t line = rq_csv_line(csv);
		if (nf != nheader && !rq_csv_row_terminated(csv) && nf < nheader) {
			rq_buf_printf(&out->warnings, "%s: line %zu: incomplete last line skipped\n", name, line);
			break;
		}
		if (nf != nheader) {
			err = rq_error_set(RQ_EINVALID, "%s: line %zu: %zu fields, the header has %zu", name, line, nf,
					   nheader);
			goto done;
		}
		if ((err = read_row(&row, col, f, name, line)))
			goto done;
		add_run(out, &alloc, &row, col[C_RUN_ID] >= 0);
	}
	if (rc < 0)
		err = rc;
	else if (out->n == 0)
		err = rq_error_set(RQ_EINVALID, "%s: no run in the file", name);
	else if (run_id)
		err = select_run(out, run_id, name);
done:
	run_release(&row);
	rq_csv_free(csv);
	if (err < 0)
		rq_cc_import_release(out);
	return err;
}

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v && *v)
		json_object_set_new(o, k, json_string(v));
}

json_t *rq_cc_run_json(const rq_cc_run *r)
{
	json_t *o = json_object();
	rq_json_set_number(o, "energy_kwh", r->energy_kwh);
	rq_json_set_number(o, "carbon_kg", r->emissions_kg);
	rq_json_set_number(o, "duration_s", r->duration_s);
	json_object_set_new(o, "method", json_string(rq_method_name(RQ_METHOD_IMPORTED)));
	json_object_set_new(o, "meter", json_string("codecarbon"));
	set_str(o, "run_id", r->run_id);
	set_str(o, "timestamp", r->timestamp);
	set_str(o, "project_name", r->project_name);
	set_str(o, "country_iso_code", r->country_iso_code);
	set_str(o, "region", r->region);
	set_str(o, "cloud_provider", r->cloud_provider);
	set_str(o, "cloud_region", r->cloud_region);
	set_str(o, "cpu_model", r->cpu_model);
	set_str(o, "gpu_model", r->gpu_model);
	set_str(o, "codecarbon_version", r->codecarbon_version);
	rq_json_set_number(o, "cpu_kwh", r->cpu_kwh);
	rq_json_set_number(o, "gpu_kwh", r->gpu_kwh);
	rq_json_set_number(o, "ram_kwh", r->ram_kwh);
	rq_json_set_number(o, "pue", r->pue);
	return o;
}
