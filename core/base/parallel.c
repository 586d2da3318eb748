/* A parallel for-loop over independent items: one worker per core (as the
 * fingerprint pool sizes itself), items handed out in small chunks through
 * an atomic counter, so that a slow item does not hold the others back. */
#include "common.h"
#include "parallel_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define CHUNK 16 /* items a worker takes at a time */

struct loop {
	size_t n;
	void (*fn)(void *ctx, size_t worker, size_t i);
	void *ctx;
	_Atomic size_t next;
};

struct arg {
	struct loop *lp;
	size_t worker;
};

static void run(struct loop *lp, size_t worker)
{
	for (;;) {
		size_t i = atomic_fetch_add(&lp->next, CHUNK);
		if (i >= lp->n)
			break;
		size_t end = i + CHUNK < lp->n ? i + CHUNK : lp->n;
		for (; i < end; i++)
			lp->fn(lp->ctx, worker, i);
	}
}

static void *thread_main(void *p)
{
	struct arg *a = p;
	run(a->lp, a->worker);
	return NULL;
}

size_t rq_parallel_workers(void)
{
	const char *env = getenv("RESQUE_THREADS");
	long n = 0;
	if (env && *env) {
		char *end = NULL;
		n = strtol(env, &end, 10);
		if (*end || n < 1)
			n = 0;
	}
	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > 256 ? 256 : (size_t)n;
}

void rq_parallel_for(size_t n, void (*fn)(void *ctx, size_t worker, size_t i), void *ctx)
{
	struct loop lp = { n, fn, ctx, 0 };
	size_t nw = rq_parallel_workers(), started = 0;
	pthread_t *tids = NULL;
	struct arg *args = NULL;

	if (nw > (n + CHUNK - 1) / CHUNK)
		nw = (n + CHUNK - 1) / CHUNK;
	if (nw > 1) {
		tids = rq_xcalloc(nw, sizeof(*tids));
		args = rq_xcalloc(nw, sizeof(*args));
		for (size_t w = 1; w < nw; w++) {
			args[w].lp = &lp;
			args[w].worker = w;
			if (pthread_create(&tids[w], NULL, thread_main, &args[w]) != 0)
				break;
			started = w;
		}
	}
	run(&lp, 0);
	for (size_t w = 1; w <= started; w++)
		pthread_join(tids[w], NULL);
	free(tids);
	free(args);
}
