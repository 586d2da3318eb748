/* What clone, push and pull print (cmd/sync_output.c): one line, or the
 * --json object of issue 13's contract, and transfer progress on stderr. */
#ifndef RESQUE_CMD_SYNC_OUTPUT_H
#define RESQUE_CMD_SYNC_OUTPUT_H

#include <stdbool.h>
#include "sync.h"

/* Print the result of `verb` ("clone", "push", "pull"); 0 or an exit status. */
int sync_print(const rq_sync_result *r, const char *verb, bool json);

/* The remote a command works with: *name as given, else the default one
 * (rq_remote_default, kept in `def`). 0, or the exit status (printed). */
int sync_remote(const char **name, rq_buf *def, struct rq_ledger *l);

/* rq_sync_options.progress: "receiving objects: N/M" on stderr when it is
 * a terminal, never otherwise (ctx: a struct sync_progress). */
struct sync_progress {
	bool enabled;
	bool drawn;
};
void sync_progress_init(struct sync_progress *p);
void sync_progress_fn(void *ctx, const char *what, uint64_t done, uint64_t total);
void sync_progress_done(struct sync_progress *p);

#endif
