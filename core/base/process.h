/* Running a command under a meter, as `resque run` does (after git's
 * run-command.c): fork and exec in a process group of its own that gets
 * the terminal, signal forwarding, job control on ^Z, death with the
 * caller, and a thread that samples the meter and tails the events file
 * while the command runs. */
#ifndef RESQUE_PROCESS_H
#define RESQUE_PROCESS_H

#include <stdbool.h>
#include <sys/types.h>
#include "events.h"
#include "resque/buf.h"
#include "resque/meter.h"

typedef struct rq_process_opts {
	/* The command, NULL-terminated (borrowed, copied before the fork);
	 * argv[0] is looked up in the caller's PATH. */
	const char *const *argv;
	/* Changes to the environment the command gets, NULL-terminated (or
	 * NULL): "NAME=VALUE" sets NAME, "NAME" removes it. The caller's own
	 * environment is left alone. */
	const char *const *env;
	bool stdout_to_stderr; /* the command's stdout is a copy of stderr */
	/* An open cgroup.procs (rq_cgroup_procs_fd) that the command joins
	 * before exec, or -1. Borrowed: the caller closes it. */
	int cgroup_fd;
	/* Started just before the fork, sampled every `interval` seconds in
	 * a thread, stopped when the command has ended (NULL: none). */
	rq_meter *meter;
	/* Polled with the meter and finished at the end (NULL: none). */
	rq_events *events;
	double interval;
	/* Told, from the calling thread, of a problem worth saying while the
	 * command runs (no sampling thread); NULL: not told. */
	void (*warn)(void *ctx, const char *message);
	void *warn_ctx;
	/* Told after each sample, from the sampling thread, the seconds since
	 * the start (the meter and the events were just read by that thread,
	 * so it may read them); NULL: not told. For a live display. */
	void (*tick)(void *ctx, double elapsed);
	void *tick_ctx;
} rq_process_opts;

typedef struct rq_process_result {
	bool started;    /* the command ran (whatever its status) */
	pid_t pid;       /* its pid, which is its process group's id */
	/* Its exit status; 128+N when signal N killed it; 127 (not found) or
	 * 126 when it could not be started; -1 when nothing was tried or it
	 * could not be waited for. */
	int exit_status;
	int signal;      /* N when signal N killed it, else 0 */
	/* processes of its process group were left when it ended (daemons
	 * that stayed in the group, orphans) */
	bool group_outlived;
	double t0, end;  /* monotonic seconds: the meter's start, the command's end */
	/* rq_process_attach only: SIGTERM or SIGINT (N) told the caller to
	 * stop before the process ended; 0 when the process exited first */
	int told_to_stop;
	/* Sampling, stopping and events-reading problems, one line each, the
	 * first of each kind ("" when none; owned, see release). */
	char *warnings;
} rq_process_result;

/* Run opts->argv and wait for it. SIGINT, SIGTERM, SIGHUP and SIGQUIT
 * that reach the caller meanwhile are forwarded to the command's process
 * group (the command itself gets the dispositions and mask the caller had);
 * the command gets SIGTERM if the caller dies, even by SIGKILL. When the
 * caller owns the terminal the command gets it, ^Z stops both, and the
 * caller takes the terminal back at the end. The signal handlers are the
 * process's: one run at a time.
 *
 * Returns 0 when the command ran and was waited for, whatever its status.
 * Otherwise a negative code with the reason: "ARGV0: REASON" when it
 * could not be started (RQ_ENOTFOUND when no such program), the meter's
 * error when it did not start, "waiting for ARGV0: REASON". `*out` is
 * filled in every case and released by the caller. */
int rq_process_run(rq_process_result *out, const rq_process_opts *opts);
/* Free what a result holds (its warnings). */
void rq_process_result_release(rq_process_result *r);

typedef struct rq_attach_opts {
	pid_t pid; /* an already running process, not the caller's child */
	/* Started when the watch starts, sampled every `interval` seconds in
	 * a thread, stopped at the end (NULL: none). */
	rq_meter *meter;
	rq_events *events; /* polled with the meter, finished at the end */
	double interval;
	/* Told, from the calling thread, once the meter has started and the
	 * signal handlers are in place (NULL: not told). */
	void (*started)(void *ctx);
	void (*warn)(void *ctx, const char *message); /* as rq_process_opts */
	void *ctx; /* for started and warn */
	void (*tick)(void *ctx, double elapsed); /* as rq_process_opts */
	void *tick_ctx;
} rq_attach_opts;

/* Does process `pid` exist (a zombie counts as gone)? 0 when it does;
 * RQ_ENOTFOUND "no process PID N" when not. */
int rq_process_exists(pid_t pid);

/* Meter the process `opts->pid` (and, through the meter, its tree) until
 * it exits (or is a zombie) or SIGTERM or SIGINT reaches the caller
 * (`out->told_to_stop`). Those two signals are caught meanwhile and the
 * caller's handlers put back at the end; nothing is forwarded. The exit
 * status of a process that is not the caller's child cannot be known:
 * out->exit_status stays -1 and out->pid is opts->pid. Returns 0 when the
 * watch ran; RQ_ENOTFOUND when there is no such process (nothing
 * started), or the meter's error when it did not start. `*out` is filled
 * in every case and released by the caller. */
int rq_process_attach(rq_process_result *out, const rq_attach_opts *opts);

/* Run argv (looked up in PATH) with `env` changes as rq_process_opts
 * has them, `input` (may be NULL) on its stdin and its stdout appended to
 * `out` (at most `max` bytes kept); stderr is the caller's. *status gets
 * its exit status (128+N for signal N). 0 when it ran, whatever its
 * status; RQ_ENOTFOUND when there is no such program. For short helpers
 * (git credential fill), not for what a meter should see. */
int rq_process_capture(rq_buf *out, int *status, const char *const *argv, const char *const *env,
		       const char *input, size_t max);

#endif
