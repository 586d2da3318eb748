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
#include <strings.h>

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
	free(r->region_code);
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

/* Parse a number column: NaN when empty (optional ones). A negative
 * optional figure (CodeCarbon 2.7's GPU counter can go below zero) is
 * dropped, as NaN, with a warning: the run stands on energy_consumed and
 * emissions, which CodeCarbon summed itself. */
static int number(double *out, rq_buf *warn, const char *s, const char *name, size_t line, const char *col,
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
	if (rq_bound_parse_decimal_n(&v, s, n) || (v < 0 && req))
		return rq_error_set(RQ_EINVALID, "%s: line %zu: '%s' is not a number >= 0: '%.40s'",
				    name, line, col, s);
	if (v < 0) {
		rq_buf_printf(warn, "%s: line %zu: %s %.40s is negative: dropped (%s)\n", name, line, col, s,
			      strcmp(col, "pue") ? "the run is imported from energy_consumed and emissions"
						 : "no PUE is recorded for the run");
		v = NAN;
	}
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

/* The figures of one row in their plausible ranges: a required one
 * outside is an error, an optional one is dropped with a warning. */
static int check_figures(double *const *num, rq_buf *warn, const char *where)
{
	for (int c = FIRST_NUMBER; c < C_COUNT; c++) {
		double *v = num[c - FIRST_NUMBER];
		int err;
		if (isnan(*v) || !(err = rq_bound_check(quantity_of(c), *v, where)))
			continue;
		if (required(c))
			return err;
		rq_buf_printf(warn, "%s (%s): dropped\n", rq_error_last(), column_names[c][0]);
		rq_error_clear();
		*v = NAN;
	}
	return 0;
}

/* Bounds, names, dates and the country of one parsed row; the country as
 * resque's grid region (ISO-2: CodeCarbon writes ISO-3, "DEU"). */
static int check_row(rq_cc_run *row, double *const *num, rq_buf *warn, const char *name, size_t line)
{
	char where[300];
	int y, mo, d, err = 0;
	const rq_region *reg = NULL;

	snprintf(where, sizeof(where), "%s: line %zu", name, line);
	if ((err = check_figures(num, warn, where)))
		return err;
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
	free(row->region_code);
	row->region_code = rq_xstrdup(!row->country_iso_code[0] ? ""
				      : reg->type == RQ_REGION_COUNTRY ? reg->code : row->country_iso_code);
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

bool rq_cc_no_run_id(const char *id)
{
	return !*id || !strcasecmp(id, "None") || !strcasecmp(id, "nan");
}

/* One data row into `row` (whose strings the caller releases, also on
 * error), checked. */
static int read_row(rq_cc_run *row, rq_buf *warn, const long col[C_COUNT], const char *const *f, const char *name,
		    size_t line)
{
	char **text[] = { &row->run_id, &row->timestamp, &row->project_name, &row->country_iso_code,
			  &row->region, &row->cloud_provider, &row->cloud_region, &row->cpu_model,
			  &row->gpu_model, &row->codecarbon_version };
	double *num[] = { &row->duration_s, &row->emissions_kg, &row->energy_kwh, &row->cpu_kwh,
			  &row->gpu_kwh, &row->ram_kwh, &row->pue };
	int err;

	for (int c = 0; c < FIRST_NUMBER; c++)
		*text[c] = rq_xstrdup(col[c] >= 0 ? f[col[c]] : "");
	row->region_code = rq_xstrdup("");
	if (rq_cc_no_run_id(row->run_id))
		row->run_id[0] = '\0';
	for (int c = FIRST_NUMBER; c < C_COUNT; c++) {
		double *d = num[c - FIRST_NUMBER];
		*d = NAN;
		if (col[c] >= 0 && (err = number(d, warn, f[col[c]], name, line, column_names[c][0], required(c))) < 0)
			return err;
	}
	row->line = line;
	row->nsegments = 1;
	return check_row(row, num, warn, name, line);
}

/* The figures that add up over a run's segments, and what a run has
 * summed so far: `last` as its latest row wrote them, `base` the sum of
 * the segments before (NaN once a segment's figure was unknown). */
enum { F_DURATION, F_EMISSIONS, F_ENERGY, F_CPU, F_GPU, F_RAM, F_COUNT };
static const char *const figure_names[F_COUNT] = { "duration", "emissions", "energy_consumed",
						   "cpu_energy", "gpu_energy", "ram_energy" };

typedef struct run_sum {
	double last[F_COUNT], base[F_COUNT];
} run_sum;

static void figures(double *out[F_COUNT], rq_cc_run *r)
{
	out[F_DURATION] = &r->duration_s;
	out[F_EMISSIONS] = &r->emissions_kg;
	out[F_ENERGY] = &r->energy_kwh;
	out[F_CPU] = &r->cpu_kwh;
	out[F_GPU] = &r->gpu_kwh;
	out[F_RAM] = &r->ram_kwh;
}

/* `row` continues run `prev` (whose sums are `sum`): a later snapshot
 * when its duration and energy never fell back, else a new segment. When
 * the duration fell back a new tracker started, and a new tracker starts
 * every counter at zero: every figure of the segment is summed, even an
 * energy larger than the segment's before -- unless the file shows the
 * energy counters were kept (CodeCarbon's start_task keeps them): the
 * energy grew and, counted from zero, would give the new segment more
 * than 10 times the mean power of the one before. Then, as when only the
 * energy fell back (the clock ran on), a figure that fell back is summed
 * and one that kept growing is a running total (its last value counts).
 * `row`'s figures become the run's totals. */
static void continue_run(run_sum *sum, rq_cc_run *row, const rq_cc_run *prev, rq_buf *warn, const char *name)
{
	double *v[F_COUNT], before = sum->last[F_DURATION];
	rq_buf summed = RQ_BUF_INIT, kept = RQ_BUF_INIT;
	bool new_tracker = row->duration_s < sum->last[F_DURATION];
	bool restart = new_tracker || row->energy_kwh < sum->last[F_ENERGY];
	/* energy / duration > 10 x the segment's before, without dividing */
	bool counters_kept = new_tracker && row->energy_kwh >= sum->last[F_ENERGY] &&
			     row->energy_kwh * sum->last[F_DURATION] > 10 * sum->last[F_ENERGY] * row->duration_s;
	bool all_new = new_tracker && !counters_kept;

	figures(v, row);
	for (int f = 0; f < F_COUNT; f++) {
		if (restart && (all_new || isnan(*v[f]) || isnan(sum->last[f]) || *v[f] < sum->last[f])) {
			sum->base[f] += sum->last[f]; /* NaN stays NaN: the total is unknown */
			if (f <= F_ENERGY)
				rq_buf_printf(&summed, "%s%s", summed.len ? ", " : "", figure_names[f]);
		} else if (restart && f <= F_ENERGY) {
			rq_buf_printf(&kept, "%s%s", kept.len ? ", " : "", figure_names[f]);
		}
		sum->last[f] = *v[f];
		*v[f] = sum->base[f] + sum->last[f];
	}
	row->nsegments = prev->nsegments + restart;
	if (restart)
		rq_buf_printf(warn, "%s: line %zu: run '%s' restarted (duration %.6g s after %.6g s at line %zu): "
			      "segments summed: %s%s%s\n", name, row->line, row->run_id, sum->last[F_DURATION], before,
			      prev->line, summed.ptr, kept.len ? "; running totals (kept growing): " : "", kept.ptr);
	rq_buf_release(&summed);
	rq_buf_release(&kept);
}

/* The runs read so far, with their sums (parallel arrays). */
typedef struct runs_acc {
	rq_cc_import *out;
	run_sum *sums;
	size_t alloc, sums_alloc;
} runs_acc;

/* Add `row` (taken) as a run, or to the run with its run_id (rows
 * without an id are runs of their own). */
static void add_run(runs_acc *acc, rq_cc_run *row, const char *name)
{
	rq_cc_import *out = acc->out;
	size_t i = out->n;
	double *v[F_COUNT];

	if (row->run_id[0])
		for (i = 0; i < out->n && strcmp(out->runs[i].run_id, row->run_id); i++)
			;
	if (i < out->n) {
		continue_run(&acc->sums[i], row, &out->runs[i], &out->warnings, name);
		run_release(&out->runs[i]);
	} else {
		RQ_ALLOC_GROW(out->runs, out->n + 1, acc->alloc);
		RQ_ALLOC_GROW(acc->sums, out->n + 1, acc->sums_alloc);
		figures(v, row);
		for (int f = 0; f < F_COUNT; f++) {
			acc->sums[i].last[f] = *v[f];
			acc->sums[i].base[f] = 0;
		}
		out->n++;
	}
	out->runs[i] = *row;
	memset(row, 0, sizeof(*row));
}

/* "runs: ID, ID; without an id, at lines 4, 7 (--line N)": the runs a
 * file holds, for a message. */
static void list_runs(rq_buf *ids, const rq_cc_import *out)
{
	size_t shown = 0, anonymous = 0;
	rq_buf_puts(ids, "runs: ");
	for (size_t i = 0; i < out->n; i++)
		if (out->runs[i].run_id[0] && shown++ < 10)
			rq_buf_printf(ids, "%s%s", shown > 1 ? ", " : "", out->runs[i].run_id);
	if (shown > 10)
		rq_buf_puts(ids, ", ...");
	for (size_t i = 0; i < out->n; i++)
		if (!out->runs[i].run_id[0] && anonymous++ < 10)
			rq_buf_printf(ids, "%s%zu", anonymous > 1 ? ", " : shown ? "; without an id, at lines " :
									    "without an id, at lines ",
				      out->runs[i].line);
	if (anonymous > 10)
		rq_buf_puts(ids, ", ...");
	if (anonymous)
		rq_buf_puts(ids, " (choose one with --line N)");
}

/* The runs whose segments were summed, checked again against the
 * plausible ranges as one row is: a sum can leave them. */
static int check_sums(rq_cc_import *out, const char *name)
{
	for (size_t i = 0; i < out->n; i++) {
		rq_cc_run *r = &out->runs[i];
		double *num[] = { &r->duration_s, &r->emissions_kg, &r->energy_kwh, &r->cpu_kwh,
				  &r->gpu_kwh, &r->ram_kwh, &r->pue };
		char where[300];
		int err;
		if (r->nsegments < 2)
			continue;
		snprintf(where, sizeof(where), "%s: run '%.40s' (%zu segments summed, to line %zu)", name, r->run_id,
			 r->nsegments, r->line);
		if ((err = check_figures(num, &out->warnings, where)))
			return err;
	}
	return 0;
}

/* Keep run `run_id` alone (or, `line` > 0, the run whose last row is at
 * that line); RQ_ENOTFOUND naming the runs there are. */
static int select_run(rq_cc_import *out, const char *run_id, size_t line, const char *name)
{
	size_t keep = SIZE_MAX;
	for (size_t i = 0; i < out->n; i++)
		if (line ? out->runs[i].line == line && (!run_id || !strcmp(out->runs[i].run_id, run_id))
			 : out->runs[i].run_id[0] && !strcmp(out->runs[i].run_id, run_id))
			keep = i;
	if (keep == SIZE_MAX) {
		rq_buf ids = RQ_BUF_INIT, what = RQ_BUF_INIT;
		list_runs(&ids, out);
		if (run_id)
			rq_buf_printf(&what, "run '%s'", run_id);
		if (line)
			rq_buf_printf(&what, "%srun whose last row is at line %zu", run_id ? " " : "", line);
		int err = rq_error_set(RQ_ENOTFOUND, "%s: no %s (%s)", name, what.ptr, ids.ptr);
		rq_buf_release(&ids);
		rq_buf_release(&what);
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
	return rq_import_codecarbon_run(out, data, len, name, run_id, 0);
}

int rq_import_codecarbon_run(rq_cc_import *out, const char *data, size_t len, const char *name,
			     const char *run_id, size_t want_line)
{
	rq_csv *csv = NULL;
	size_t nf, nheader = 0;
	runs_acc acc = { out, NULL, 0, 0 };
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
		if ((err = read_row(&row, &out->warnings, col, f, name, line)))
			goto done;
		add_run(&acc, &row, name);
	}
	if (rc < 0)
		err = rc;
	else if (out->n == 0)
		err = rq_error_set(RQ_EINVALID, "%s: no run in the file", name);
	else
		err = check_sums(out, name);
	if (!err && (run_id || want_line))
		err = select_run(out, run_id, want_line, name);
done:
	run_release(&row);
	free(acc.sums);
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
	if (r->nsegments > 1)
		json_object_set_new(o, "segments", json_integer((json_int_t)r->nsegments));
	rq_json_set_number(o, "cpu_kwh", r->cpu_kwh);
	rq_json_set_number(o, "gpu_kwh", r->gpu_kwh);
	rq_json_set_number(o, "ram_kwh", r->ram_kwh);
	rq_json_set_number(o, "pue", r->pue);
	return o;
}
