/* The cgroup v2 a `resque run` command runs in (core/meter/meter.c), so
 * that the estimate meters processes that daemonise out of the tree.
 * Internal: shared by the meter module, core/base/process.c (the child
 * joins it between fork and exec) and cmd/run.c; a program linking
 * libresque sees only the opaque rq_cgroup of include/resque/meter.h. */
#ifndef RESQUE_CGROUP_H
#define RESQUE_CGROUP_H

#include <stddef.h>
#include "resque/meter.h"

/* Create a child cgroup "resque-run-PID" of the caller's cgroup v2 (the
 * empty ones of killed runs are removed first). RQ_EUNSUPPORTED with the
 * reason when none can be made (no cgroup2 mount, not writable,
 * RESQUE_CGROUP=off). */
int rq_cgroup_create(rq_cgroup **out);
const char *rq_cgroup_path(const rq_cgroup *cg);
/* Its cgroup.procs opened for writing (close-on-exec), or a negative
 * code; rq_cgroup_join(fd) then moves the calling process into it and is
 * async-signal-safe (for a child between fork and exec): 0 or -1. */
int rq_cgroup_procs_fd(const rq_cgroup *cg);
int rq_cgroup_join(int fd);
/* CPU time of everything that ran in it (cpu.stat usage_usec), s. */
int rq_cgroup_cpu_seconds(double *out, const rq_cgroup *cg);
/* Processes still in it. */
size_t rq_cgroup_nprocs(const rq_cgroup *cg);
/* Move what is left into the caller's cgroup, remove it (accepts NULL). */
void rq_cgroup_free(rq_cgroup *cg);

#endif
