/* The progress bar of work in named stages ("fingerprinting labels", then
 * "fingerprinting"): the rq_dataset_progress_fn callback over progress.h. */
#ifndef RESQUE_CMD_PROGRESS_NAMED_H
#define RESQUE_CMD_PROGRESS_NAMED_H

#include "progress.h"

/* ctx: a struct progress zeroed before the first call; a new bar is set up
 * for each stage, and erased when the stage reports `p` NULL. */
void progress_named(void *ctx, const char *what, const rq_fp_progress *p);

#endif
