/* A pager for a command's output, as git starts one (git's pager.c and
 * run-command.c): `sh -c PAGER` reading a pipe that replaces the caller's
 * standard output (and standard error), waited for before the caller
 * exits. Which pager, and whether to page at all, is the caller's policy. */
#ifndef RESQUE_PAGER_H
#define RESQUE_PAGER_H

#include <stdbool.h>

/* Start `cmd` (run by /bin/sh -c, in the caller's environment) with its
 * standard input a pipe, and make the caller's fd 1 (and fd 2 when
 * `stderr_too`) that pipe. Until rq_pager_finish, SIGPIPE (the user quit
 * the pager before the end of the output) makes the process wait for the
 * pager and exit with status 0 at once (1, with a warning, when the pager
 * could not be run: exit status 126 or 127); SIGINT, SIGTERM, SIGHUP and
 * SIGQUIT make it wait for the pager, then die of the signal as it would
 * have; a signal the caller ignored (SIG_IGN, as under nohup) is left
 * alone. One pager per process. 0 when it runs; RQ_ENOTFOUND "cannot run
 * pager 'WORD': not found in PATH" when `cmd` is plain words whose first is
 * neither an executable program in PATH nor a shell keyword or builtin (then nothing was started and the caller's
 * output is left as it was); another code when the pipe or fork failed. */
int rq_pager_start(const char *cmd, bool stderr_too);

/* Is a pager running (rq_pager_start succeeded, not finished yet)? */
bool rq_pager_active(void);

/* Flush stdout and stderr, close the pipe and wait for the pager to end
 * (the user reads at their pace). Nothing when none runs. True when the
 * pager could not be run (sh's exit status 126 or 127): then a warning was
 * written on the caller's stderr, the output is lost. */
bool rq_pager_finish(void);

#endif
