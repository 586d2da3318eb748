/* Private to core/ and store/: run independent jobs on every core (the
 * ledger's signature checks and entry parsing; see core/base/parallel.c). */
#ifndef RESQUE_PARALLEL_INT_H
#define RESQUE_PARALLEL_INT_H

#include <stddef.h>

/* Call fn(ctx, worker, i) once for every i in [0, n), on up to
 * rq_parallel_workers() threads (the calling one among them); the calls
 * of one worker see the same `worker` number, below the count returned by
 * rq_parallel_workers(). fn must not fail: it records its own outcome per
 * item. Runs everything on the calling thread when n is small or no
 * thread can be started. */
void rq_parallel_for(size_t n, void (*fn)(void *ctx, size_t worker, size_t i), void *ctx);

/* The number of workers: the online cores, or $RESQUE_THREADS when set
 * (1 runs everything on the calling thread). */
size_t rq_parallel_workers(void);

#endif
