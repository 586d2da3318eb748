/* Private to the meter module (and its unit tests): the source interface
 * that RAPL, NVML and the estimate implement, the generated TDP table and
 * what the estimate assumes. The cgroup functions are in cgroup.h. */
#ifndef RESQUE_METER_INT_H
#define RESQUE_METER_INT_H

#include "resque/meter.h"
#include "cgroup.h"

struct rq_tdp_entry {
	const char *name;
	double tdp;
};
extern const struct rq_tdp_entry rq_tdp_table[];
extern const size_t rq_tdp_table_len;

#define RQ_METER_MAX_DOMAINS 64

/* A source keeps the cumulative joules of its domains since start. */
struct rq_meter_source {
	const char *name;  /* "rapl", "nvml", "estimate" */
	bool estimated;
	char note[512]; /* how it measures, when worth saying ("" otherwise) */
	size_t ndomains;
	rq_meter_domain domains[RQ_METER_MAX_DOMAINS];
	int (*start)(struct rq_meter_source *s, double now);
	int (*sample)(struct rq_meter_source *s, double now);
	int (*stop)(struct rq_meter_source *s, double now);
	void (*free)(struct rq_meter_source *s);
};

/* Each returns 0 and a source, or a negative code with the reason in
 * rq_error_last() (no counter, permission denied, no GPU...). */
int rq_meter_rapl_open(struct rq_meter_source **out);
int rq_meter_nvml_open(struct rq_meter_source **out);
int rq_meter_estimate_open(struct rq_meter_source **out, const rq_meter_opts *opts);
void rq_meter_estimate_info_of(rq_meter_estimate_info *out, const struct rq_meter_source *s);

/* $RESQUE_PROC_ROOT or "/proc". */
const char *rq_meter_proc_root(void);
/* Read a small file into `out` (replaced); errno-based error codes. */
int rq_meter_read_small(rq_buf *out, const char *path);

/* The TDP of a CPU model from the embedded table (CodeCarbon's
 * cpu_power.csv), matched as docs/METHOD.md describes. Returns 0 with the
 * watts and the table's name (borrowed), or RQ_ENOTFOUND. */
int rq_tdp_lookup(double *out, const char **matched, const char *model);

/* Watts per vCPU in a virtual machine from the CPU's microarchitecture
 * (Cloud Carbon Footprint's figures; docs/METHOD.md "The estimate"): into
 * `out`, and into `what` (`size` bytes) which rule gave them. Cannot fail:
 * a model it cannot classify gets the stated default. */
void rq_vcpu_watts(double *out, char *what, size_t size, const char *model);

/* Names of the GPUs NVML shows (CUDA_VISIBLE_DEVICES honoured), at most
 * `max`, each NUL-terminated in names[i]; the count. 0 when NVML cannot be
 * loaded or shows none (rq_error_last() is left clear). */
#define RQ_GPU_NAME_SIZE 96
size_t rq_meter_nvml_names(char (*names)[RQ_GPU_NAME_SIZE], size_t max);

/* The machine's hardware as JSON, for an entry's provenance (docs/FORMATS.md
 * "Provenance"): {"cpu": {"model", "count"}, "gpus": [{"model", "count"}]},
 * the parts of rq_meter_machine_profile's string; "gpus" only when NVML
 * shows some, sorted by model. New reference. Cannot fail. */
struct json_t;
struct json_t *rq_meter_machine_json(void);

/* Memory power of the estimate, W per GiB held (Green Algorithms). */
#define RQ_MEMORY_W_PER_GB 0.3725

#endif
