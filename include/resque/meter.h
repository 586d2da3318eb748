/* Energy meters for `resque run` (docs/FORMATS.md): RAPL counters of the CPU
 * packages and DRAM, NVIDIA GPUs through NVML (loaded at run time), and,
 * where no counter is readable, an estimate from the CPU time of the
 * process tree and the memory it holds. A meter is sampled by one thread
 * at a time: start, sample every interval, stop; it keeps the cumulative
 * energy of every domain and a timeline of the total for per-epoch
 * splitting (events.h).
 *
 * Test hooks (environment): RESQUE_SYSFS_ROOT is prefixed to
 * /sys/class/powercap, RESQUE_PROC_ROOT replaces /proc, RESQUE_NVML_LIB
 * names the NVML library to dlopen instead of libnvidia-ml.so.1. */
#ifndef RESQUE_METER_H
#define RESQUE_METER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "resque/buf.h"
#include "resque/export.h"

RQ_BEGIN_DECLS

typedef enum {
	RQ_METHOD_MEASURED = 0,  /* every joule comes from a hardware counter */
	RQ_METHOD_ESTIMATED = 1, /* some come from the CPU-time estimate */
	RQ_METHOD_IMPORTED = 2   /* read from another tool's file */
} rq_method;

/* "measured", "estimated", "imported" (static, borrowed). Cannot fail. */
RQ_EXTERN const char *rq_method_name(rq_method m);

/* One point of the cumulative energy timeline: `t` seconds since start,
 * `joules` consumed since start (all domains). */
typedef struct rq_energy_point {
	double t;
	double joules;
} rq_energy_point;

/* One metered domain: "package-0", "dram-0", "gpu0", "cpu (estimate)",
 * "memory (estimate)". */
#define RQ_METER_DOMAIN_NAME_SIZE 64 /* with the NUL */
typedef struct rq_meter_domain {
	char name[RQ_METER_DOMAIN_NAME_SIZE];
	double joules; /* since start */
} rq_meter_domain;

/* A cgroup v2 for a command's whole process tree, so that processes that
 * daemonise out of the tree are still metered. Opaque: `resque run`
 * makes one (internal to the library); a program passes NULL. */
typedef struct rq_cgroup rq_cgroup;

typedef struct rq_meter_opts {
	const char *kind;  /* "auto" (or NULL), "rapl", "nvml", "estimate" */
	pid_t pid;         /* root of the process tree the estimate follows;
			      0: the descendants of the calling process */
	double cpu_watts;  /* > 0: watts per logical CPU (a hardware thread
			      or a vCPU) for the estimate, instead of the
			      TDP table or the virtual-machine rule */
	const char *cpu_watts_source; /* what set cpu_watts, for the record
					 ("--cpu-watts" when NULL) */
	bool reaps_tree;   /* the caller waits for `pid` before stop: count
			      the CPU time of reaped descendants too
			      (getrusage RUSAGE_CHILDREN) */
	const rq_cgroup *cgroup; /* the command's cgroup (NULL: none): the
				    estimate counts its CPU time (cpu.stat),
				    daemonised processes included */
} rq_meter_opts;

typedef struct rq_meter rq_meter;

/* Open the meters `opts->kind` asks for. "auto": RAPL for the CPU when
 * readable, else the estimate, plus NVML when a GPU is visible; each
 * fallback adds a one-line reason to rq_meter_notes(). An explicit kind
 * that is not available fails (RQ_EUNSUPPORTED, or RQ_ENOTFOUND when its
 * counters or library are missing) with the reason; an unknown kind is
 * RQ_EINVALID. `opts` is borrowed for the call (opts->cgroup for the
 * meter's life). On success *out is new and the caller frees it with
 * rq_meter_free; on failure it is NULL. */
RQ_EXTERN int rq_meter_open(rq_meter **out, const rq_meter_opts *opts);
RQ_EXTERN void rq_meter_free(rq_meter *m); /* accepts NULL */

/* Read the counters at the start, now and at the end. The `_at` forms
 * take the time in seconds (monotonic) instead of reading the clock.
 * Returns 0; RQ_EINVALID when called out of order (started twice, sampled
 * or stopped while not running); or a source's error (RQ_EIO,
 * RQ_EINVALID: a counter could not be read), with the reason. */
RQ_EXTERN int rq_meter_start(rq_meter *m);
RQ_EXTERN int rq_meter_sample(rq_meter *m);
RQ_EXTERN int rq_meter_stop(rq_meter *m);
RQ_EXTERN int rq_meter_start_at(rq_meter *m, double now);
RQ_EXTERN int rq_meter_sample_at(rq_meter *m, double now);
RQ_EXTERN int rq_meter_stop_at(rq_meter *m, double now);

/* Accessors; they cannot fail. What they return is borrowed from the
 * meter and lives until the next start/sample/stop or rq_meter_free. */

/* "rapl", "rapl+nvml", "estimate+nvml", ... (borrowed). */
RQ_EXTERN const char *rq_meter_name(const rq_meter *m);
RQ_EXTERN rq_method rq_meter_method(const rq_meter *m);
/* Why a meter fell back, one line each ("" when none; borrowed). */
RQ_EXTERN const char *rq_meter_notes(const rq_meter *m);

RQ_EXTERN double rq_meter_joules(const rq_meter *m);   /* all domains, since start */
RQ_EXTERN double rq_meter_seconds(const rq_meter *m);  /* from start to last sample */
RQ_EXTERN size_t rq_meter_ndomains(const rq_meter *m);
RQ_EXTERN const rq_meter_domain *rq_meter_domain_at(const rq_meter *m, size_t i); /* NULL past the end */
/* The cumulative timeline, one point per start/sample/stop (borrowed). */
RQ_EXTERN const rq_energy_point *rq_meter_timeline(const rq_meter *m, size_t *n);

/* What the estimate assumed (valid after open when it is in use):
 * watts per logical CPU, the CPU model and which rule gave the watts
 * (docs/METHOD.md "The estimate"). */
#define RQ_METER_CPU_MODEL_SIZE 128  /* /proc/cpuinfo's model name, with the NUL */
#define RQ_METER_TDP_SOURCE_SIZE 160 /* "table: " and the table's name, with the NUL */
typedef struct rq_meter_estimate_info {
	bool active;
	double watts_per_cpu;
	double tdp_watts;       /* the TDP divided, or 0 when a per-CPU figure was used */
	unsigned cpus_per_package;
	bool hypervisor;        /* /proc/cpuinfo's flags have `hypervisor` (a VM) */
	char cpu_model[RQ_METER_CPU_MODEL_SIZE];
	/* the rule: "table: Intel Xeon E5-2686 v4", "default (model not in the
	 * table)", "vm: per-vCPU coefficient of AMD EPYC 3rd Gen (Cloud Carbon
	 * Footprint)", "--cpu-watts", "RESQUE_CPU_WATTS", "config cpu-watts" */
	char tdp_source[RQ_METER_TDP_SOURCE_SIZE];
	double cpu_seconds;   /* CPU time of the tree so far */
	double memory_w_per_gb;
} rq_meter_estimate_info;
/* Into the caller's `out` (copied); active is false when no estimate is in
 * use. Cannot fail. */
RQ_EXTERN void rq_meter_estimate_get(rq_meter_estimate_info *out, const rq_meter *m);

/* The machine's default hardware profile into `out` (replaced), for runs
 * and plans with no profile given: "cpu:MODEL xN" (the first `model name`
 * of /proc/cpuinfo, N its logical CPUs), then "; gpu:NAME xK" for each GPU
 * name NVML shows (CUDA_VISIBLE_DEVICES honoured), sorted by name, K GPUs
 * of that name; e.g. "cpu:AMD EPYC 7B13 x8; gpu:NVIDIA A100-SXM4-40GB x4".
 * Blanks are collapsed, control characters and ';' blanked; an unreadable
 * model is "unknown". Cannot fail. */
RQ_EXTERN void rq_meter_machine_profile(rq_buf *out);

RQ_END_DECLS

#endif
