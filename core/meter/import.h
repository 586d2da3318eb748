/* Importers of what users already measured (docs/FORMATS.md): CodeCarbon's
 * emissions.csv and nvidia-smi power logs. Both parse bytes the caller
 * holds (`name` names them in messages) and print nothing: warnings come
 * back in the result. */
#ifndef RESQUE_IMPORT_H
#define RESQUE_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "resque/buf.h"

/* One CodeCarbon run. Text fields are "" when the column is absent;
 * numbers are NaN when absent or empty (the required ones never are). */
typedef struct rq_cc_run {
	char *run_id;          /* run_id, or experiment_id in old files */
	char *timestamp;
	char *project_name;
	char *country_iso_code; /* as written: ISO-3 ("DEU") in CodeCarbon's files */
	char *region_code;      /* that country as resque's grid region ("DE"), or "" */
	char *region;
	char *cloud_provider;
	char *cloud_region;
	char *cpu_model;
	char *gpu_model;
	char *codecarbon_version;
	double duration_s;     /* required: duration */
	double emissions_kg;   /* required: emissions */
	double energy_kwh;     /* required: energy_consumed */
	double cpu_kwh, gpu_kwh, ram_kwh;
	double pue;
	size_t line;           /* line of the (last) row used */
	size_t nsegments;      /* 1, or how many restarts of the run were summed */
} rq_cc_run;

typedef struct rq_cc_import {
	rq_cc_run *runs;       /* in order of first appearance */
	size_t n;
	rq_buf warnings;       /* one per line */
} rq_cc_import;

void rq_cc_import_init(rq_cc_import *r);
void rq_cc_import_release(rq_cc_import *r);

/* Read an emissions.csv (docs/FORMATS.md, "Imported files"). Rows with the
 * same run_id are snapshots of one run (CodeCarbon's "append" mode writes
 * one per flush): the last one counts. A row whose duration or energy
 * falls back starts a new segment of its run: a figure that fell back is
 * summed over the segments, one that kept growing is a running total (its
 * last value counts); a warning says so. A run_id "None", "nan" or "" is
 * no id: such a row is a run of its own (run_id ""). A negative or
 * implausible optional figure (cpu/gpu/ram energy, pue) is dropped with a
 * warning. With `run_id` non-NULL only that run is returned (RQ_ENOTFOUND
 * naming the runs present otherwise). Required columns: duration,
 * emissions, energy_consumed. */
int rq_import_codecarbon(rq_cc_import *out, const char *data, size_t len, const char *name,
			 const char *run_id);
/* The same; with `line` > 0 only the run whose last row is at that line
 * of the file (a run without an id has no other name), also of `run_id`
 * when not NULL. */
int rq_import_codecarbon_run(rq_cc_import *out, const char *data, size_t len, const char *name,
			     const char *run_id, size_t line);
/* Whether a run_id names no run: "", "None" or "nan" (any case), which
 * pandas and str(None) write for a tracker whose id was never set (and
 * which older versions of resque stored as source.run_id). */
bool rq_cc_no_run_id(const char *id);

/* An nvidia-smi --query-gpu=...,power.draw --format=csv log. */
typedef struct rq_nvsmi_gpu {
	char *key;        /* uuid, index or pci.bus_id; "" for a single GPU */
	char *name;       /* the "name" column, "" when absent */
	double joules;
	size_t nsamples;  /* rows with a power reading */
	/* the earliest and latest samples with a reading (time, watts): where
	 * the parts of one GPU's log join (rq_nvsmi_combine) */
	double t_lo, w_lo, t_hi, w_hi;
} rq_nvsmi_gpu;

typedef struct rq_nvsmi_import {
	double joules;      /* all GPUs */
	double duration_s;  /* from the first to the last timestamp */
	char start[32];     /* first and last timestamps as written */
	char end[32];
	double t_start, t_end; /* the earliest and latest timestamps, seconds */
	size_t nrows;       /* data rows read */
	size_t nskipped;    /* rows without a usable power reading */
	rq_nvsmi_gpu *gpus;
	size_t ngpus;
	bool gpu_ids;       /* the GPUs' keys come from an id column */
	double max_w;
	char time_column[64], power_column[64]; /* the header fields read */
	rq_buf warnings;
} rq_nvsmi_import;

void rq_nvsmi_import_init(rq_nvsmi_import *r);
void rq_nvsmi_import_release(rq_nvsmi_import *r);

/* Integrate the power (W) over the timestamps by the trapezoid rule, per
 * GPU, and sum the GPUs. The columns are recognised by name in the
 * variants people keep (docs/FORMATS.md): nvidia-smi's own header
 * ("timestamp, name, index, power.draw [W]"), pandas rewrites
 * ("gpu_power_draw", "power_draw_w", "power.draw (W)"); `power_column` and
 * `time_column`, when not NULL, name them instead (compared as written,
 * case-insensitively, else in the same normalised form). A file whose
 * columns are not found is RQ_EINVALID naming the columns it has. "[N/A]"
 * and empty readings are skipped with a count; a last line cut short is
 * skipped with a warning; other malformed rows are errors naming the
 * line. */
int rq_import_nvsmi_columns(rq_nvsmi_import *out, const char *data, size_t len, const char *name,
			    const char *power_column, const char *time_column);
/* The same with the columns recognised. */
int rq_import_nvsmi(rq_nvsmi_import *out, const char *data, size_t len, const char *name);

/* Several logs of one run (one per GPU, or one log split in parts, or
 * both) as one: `parts[i]` read from `names[i]` (n >= 2; borrowed). GPUs
 * with the same id (uuid, index, bus id) in several files are one GPU's
 * log in parts, joined in time order: parts of one GPU overlapping in time
 * are RQ_EINVALID; the gap between two parts is integrated like any other
 * interval when at most 10 of their mean sampling intervals, else it is
 * left out of energy and duration with a warning. Files without an id
 * column: a GPU that overlaps in time with every series so far is another
 * GPU (summed); one that starts after a series ended continues it.
 * Energy is the sum over GPUs; duration the time covered by any log. */
int rq_nvsmi_combine(rq_nvsmi_import *out, const rq_nvsmi_import *parts, const char *const *names, size_t n);
/* The same; with `per_node` each file is the log of another machine (a
 * node of a multi-node run, its GPUs numbered from 0 again): no GPU is
 * joined across files, every file's GPUs are summed, their ids become
 * "FILE:ID". */
int rq_nvsmi_combine_nodes(rq_nvsmi_import *out, const rq_nvsmi_import *parts, const char *const *names, size_t n,
			   bool per_node);

/* A timestamp to seconds since 1970: "2023/03/08 13:11:36.142" (or with
 * '-'), ISO 8601 with 'T' and an optional zone ("Z", "+01:00"), or a plain
 * number of seconds since 1970 (milliseconds when past 10^11).
 * RQ_EINVALID. */
int rq_nvsmi_parse_time(double *out, const char *s);

/* The result as the JSON fields of an `actual` (new references):
 * energy_kwh, duration_s, carbon_kg (CodeCarbon only), method "imported",
 * meter, and what the file says about where it ran. */
json_t *rq_cc_run_json(const rq_cc_run *r);
json_t *rq_nvsmi_json(const rq_nvsmi_import *r);

#endif
