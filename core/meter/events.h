/* The RESQUE_EVENTS protocol (docs/FORMATS.md): the training command appends
 * lines to a file, resque tails it while metering and timestamps each
 * event when it sees it.
 *
 *     epoch [N]            epoch N has ended (N omitted: the next one)
 *     metric NAME VALUE    a measurement (grad_norm, accuracy, loss...)
 *     target reached|missed whether the run reached its target (the last
 *                          such line wins)
 *     status failed|succeeded how the training ended, as the script saw it
 *                          (the last such line wins; docs/FORMATS.md
 *                          "Run status" for how it sets the actual's status)
 *     # anything           a comment
 *
 * A malformed line is skipped with a warning (a typo in a training script
 * must not lose the measurement of a long run). Epoch energies come from
 * the meter's cumulative timeline interpolated at the epoch timestamps. */
#ifndef RESQUE_EVENTS_H
#define RESQUE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include "resque/buf.h"
#include "resque/meter.h"

/* A metric name: 64 characters at most, and the NUL. */
#define RQ_EVENT_NAME_SIZE 65

typedef enum { RQ_EVENT_EPOCH = 0, RQ_EVENT_METRIC = 1 } rq_event_type;

/* What the run said of its target (`target reached|missed`). */
typedef enum { RQ_TARGET_UNKNOWN = 0, RQ_TARGET_REACHED = 1, RQ_TARGET_MISSED = 2 } rq_target;

/* "reached", "missed", or NULL for RQ_TARGET_UNKNOWN; and back (UNKNOWN for
 * any other word). The one spelling, shared by the reader, `resque mark
 * target` and the actual's `target` field. */
const char *rq_target_name(rq_target t);
rq_target rq_target_parse(const char *word);

/* What the run said of its own end (`status failed|succeeded`). */
typedef enum { RQ_RUN_STATUS_UNKNOWN = 0, RQ_RUN_STATUS_SUCCEEDED = 1, RQ_RUN_STATUS_FAILED = 2 } rq_run_status;

/* "succeeded", "failed", or NULL for RQ_RUN_STATUS_UNKNOWN; and back
 * (UNKNOWN for any other word). */
const char *rq_run_status_name(rq_run_status s);
rq_run_status rq_run_status_parse(const char *word);

typedef struct rq_event {
	rq_event_type type;
	double t;          /* seconds since the run started, when seen */
	long epoch;        /* EPOCH: the epoch that ended; METRIC: epochs ended
			      before it was seen */
	char name[RQ_EVENT_NAME_SIZE]; /* METRIC only */
	double value;      /* METRIC only */
} rq_event;

#define RQ_EVENTS_MAX_LINE 4096
#define RQ_EVENTS_MAX 1000000        /* metric lines kept */
#define RQ_EVENTS_MAX_EPOCHS 1000000 /* epoch marks kept; later ones move the last */

typedef struct rq_events rq_events;

/* Is `name` a metric name: 1 to 64 of A-Z a-z 0-9 _ . : / - ? The one
 * rule, shared by the reader and `resque mark metric`, which refuses
 * what the reader would skip. */
bool rq_events_name_valid(const char *name);

/* A fresh, empty events file in $TMPDIR (else /tmp) named after this
 * process, "resque-events-PID-XXXXXX"; first removes the files of that
 * form that are the caller's and whose process is gone (a run killed by
 * SIGKILL cannot remove its own). `*out` (caller frees) is its path. */
int rq_events_create_file(char **out);

/* A reader of the events file `path` (NULL: events are fed with
 * rq_events_feed only). The file need not exist yet. */
int rq_events_open(rq_events **out, const char *path);
void rq_events_free(rq_events *e); /* accepts NULL */

/* Read what was appended since the last poll; complete lines are parsed
 * and stamped with `t`, a partial last line waits for its end. */
int rq_events_poll(rq_events *e, double t);
/* Parse bytes as if appended to the file (tests, fuzzing). */
void rq_events_feed(rq_events *e, const char *data, size_t len, double t);
/* At the end of the run: a last line without its newline is parsed too. */
int rq_events_finish(rq_events *e, double t);

size_t rq_events_count(const rq_events *e);
const rq_event *rq_events_get(const rq_events *e, size_t i);
/* The last `target` line's word; RQ_TARGET_UNKNOWN when none was read. */
rq_target rq_events_target(const rq_events *e);
/* The last `status` line's word; RQ_RUN_STATUS_UNKNOWN when none was read. */
rq_run_status rq_events_status(const rq_events *e);
/* Warnings about skipped lines, one per line ("" when none). Borrowed. */
const char *rq_events_warnings(const rq_events *e);
/* What the limits cost (metrics dropped, epoch marks merged), one line
 * each, appended to `out`; nothing when within them. For the record. */
void rq_events_notes(rq_buf *out, const rq_events *e);

/* Cumulative energy at time t, linear between the timeline's points (the
 * first or last value outside them). */
double rq_energy_at(const rq_energy_point *tl, size_t n, double t);

/* Energy of each epoch: epoch k spans from the end of epoch k-1 (or the
 * start of the run) to its own end. `*out` (caller frees) gets one value
 * per epoch event, `*nout` their count; `*tail` (may be NULL) the energy
 * after the last epoch (evaluation, saving). */
int rq_events_epoch_energy(double **out, size_t *nout, double *tail, const rq_events *e,
			   const rq_energy_point *tl, size_t n);

/* STEP's energy per stable epoch: the mean over epochs after the first
 * (warm-up: loading, compilation, clocks ramping up); the only epoch when
 * there is one. RQ_EINVALID with no epoch. */
int rq_epoch_energy_stable(double *out, const double *epoch_j, size_t n);

#endif
