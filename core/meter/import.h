/* Importers of what users already measured (docs/FORMATS.md): CodeCarbon's
 * emissions.csv and nvidia-smi power logs. Both parse bytes the caller
 * holds (`name` names them in messages) and print nothing: warnings come
 * back in the result. */
#ifndef RESQUE_IMPORT_H
#define RESQUE_IMPORT_H

#include <stddef.h>
#include <jansson.h>
#include "resque/buf.h"

/* One CodeCarbon run. Text fields are "" when the column is absent;
 * numbers are NaN when absent or empty (the required ones never are). */
typedef struct rq_cc_run {
	char *run_id;          /* run_id, or experiment_id in old files */
	char *timestamp;
	char *project_name;
	char *country_iso_code;
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
	size_t line;           /* line of the row used */
} rq_cc_run;

typedef struct rq_cc_import {
	rq_cc_run *runs;       /* in order of first appearance */
	size_t n;
	rq_buf warnings;       /* one per line */
} rq_cc_import;

void rq_cc_import_init(rq_cc_import *r);
void rq_cc_import_release(rq_cc_import *r);

/* Read an emissions.csv. Rows with the same run_id are snapshots of one
 * run (CodeCarbon's "append" mode writes one per flush): the last one
 * counts. With `run_id` non-NULL only that run is returned (RQ_ENOTFOUND
 * naming the runs present otherwise). Required columns: duration,
 * emissions, energy_consumed. */
int rq_import_codecarbon(rq_cc_import *out, const char *data, size_t len, const char *name,
			 const char *run_id);

/* An nvidia-smi --query-gpu=...,power.draw --format=csv log. */
typedef struct rq_nvsmi_gpu {
	char *key;        /* uuid, index or pci.bus_id; "" for a single GPU */
	char *name;       /* the "name" column, "" when absent */
	double joules;
	size_t nsamples;  /* rows with a power reading */
} rq_nvsmi_gpu;

typedef struct rq_nvsmi_import {
	double joules;      /* all GPUs */
	double duration_s;  /* from the first to the last timestamp */
	char start[32];     /* first and last timestamps as written */
	char end[32];
	size_t nrows;       /* data rows read */
	size_t nskipped;    /* rows without a usable power reading */
	rq_nvsmi_gpu *gpus;
	size_t ngpus;
	double max_w;
	rq_buf warnings;
} rq_nvsmi_import;

void rq_nvsmi_import_init(rq_nvsmi_import *r);
void rq_nvsmi_import_release(rq_nvsmi_import *r);

/* Integrate power.draw (W) over the timestamps by the trapezoid rule, per
 * GPU, and sum the GPUs. "[N/A]" readings are skipped with a count; a last
 * line cut short is skipped with a warning; other malformed rows are
 * errors naming the line. */
int rq_import_nvsmi(rq_nvsmi_import *out, const char *data, size_t len, const char *name);

/* "2023/03/08 13:11:36.142" (or with '-') to seconds; RQ_EINVALID. */
int rq_nvsmi_parse_time(double *out, const char *s);

/* The result as the JSON fields of an `actual` (new references):
 * energy_kwh, duration_s, carbon_kg (CodeCarbon only), method "imported",
 * meter, and what the file says about where it ran. */
json_t *rq_cc_run_json(const rq_cc_run *r);
json_t *rq_nvsmi_json(const rq_nvsmi_import *r);

#endif
