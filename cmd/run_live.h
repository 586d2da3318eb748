/* resque run's live line: one stderr line redrawn in place while the
 * command runs (elapsed time, energy so far, epochs marked), only when
 * stderr is a terminal, erased before the record is printed. */
#ifndef RESQUE_CMD_RUN_LIVE_H
#define RESQUE_CMD_RUN_LIVE_H

#include <stdbool.h>
#include "events.h"
#include "resque/meter.h"

struct run_live {
	bool enabled; /* stderr is a terminal that lets resque write to it */
	bool drawn;   /* something is on the line */
	double last;  /* elapsed seconds at the last drawing */
	const rq_meter *m;
	const rq_events *ev;
};

/* Set up `lv` for meter `m` and events `ev`; disabled when `quiet`, when
 * stderr is not a terminal, or when the terminal stops background writers
 * (TOSTOP: the command owns the terminal while it runs). */
void run_live_init(struct run_live *lv, const rq_meter *m, const rq_events *ev, bool quiet);
/* The rq_process_opts.tick callback (ctx: a struct run_live), called in
 * the sampling thread; redraws at most 4 times a second. */
void run_live_tick(void *ctx, double elapsed);
/* Erase the line, if one was drawn (after the sampling thread ended). */
void run_live_clear(struct run_live *lv);

#endif
