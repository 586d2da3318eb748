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
	bool drawn;   /* something is on the line (under run_live.c's lock) */
	double last;  /* elapsed seconds at the last drawing */
	const rq_meter *m;
	const rq_events *ev;
};

/* Set up `lv` for meter `m` and events `ev`; disabled when `quiet`, when
 * TERM is unset, empty or "dumb", when stderr is not a terminal, or when
 * the terminal stops background writers (TOSTOP: the command owns the
 * terminal while it runs). Each drawing also needs resque in the
 * terminal's foreground process group. */
void run_live_init(struct run_live *lv, const rq_meter *m, const rq_events *ev, bool quiet);
/* The rq_process_opts.tick callback (ctx: a struct run_live), called in
 * the sampling thread; redraws at most 4 times a second. */
void run_live_tick(void *ctx, double elapsed);
/* Erase the line, if one was drawn, so that a warning starts on a fresh
 * line (the next tick draws it again). */
void run_live_break(void);
/* Erase the line, if one was drawn (after the sampling thread ended). The
 * erasing is "\r ESC[K": text the command wrote on that line after it
 * (a partial line, no newline yet) is erased too. */
void run_live_clear(struct run_live *lv);

#endif
