/* The terminal progress bar of long operations (fingerprinting): drawn on
 * stderr only when stderr is a terminal, never otherwise (docs/FORMATS.md). */
#ifndef RESQUE_CMD_PROGRESS_H
#define RESQUE_CMD_PROGRESS_H

#include <stdbool.h>
#include "resque/fingerprint.h"

struct progress {
	const char *what; /* "fingerprinting data/train" */
	bool enabled;     /* stderr is a terminal */
	bool drawn;       /* something is on the line */
};

/* Set up `p`; enabled only when stderr is a terminal. */
void progress_init(struct progress *p, const char *what);
/* The rq_fp_options.progress callback (ctx: a struct progress). */
void progress_fp(void *ctx, const rq_fp_progress *pr);
/* Erase the bar, if one was drawn. */
void progress_done(struct progress *p);

#endif
