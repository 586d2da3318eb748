/* resque run's live line (run_live.h). */
#include "common.h"
#include "run_live.h"

#include <pthread.h>
#include <termios.h>
#include <unistd.h>

/* the line being drawn, for run_live_break; the lock keeps a warning and
 * a drawing apart (both come from the sampling thread, the clear from the
 * main one) */
static struct run_live *current;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* resque may draw now: resque is in the foreground process group of
 * stderr's terminal (as git's progress checks), or its command is, having
 * been given the terminal by resque; a job sent to the background draws
 * nothing. */
static bool in_foreground(void)
{
	pid_t fg = tcgetpgrp(STDERR_FILENO);
	if (fg == -1)
		return false;
	if (fg == getpgrp())
		return true;
	/* resque in the foreground gives the terminal to its command's own
	 * process group (core/base/process.c): a group led by resque's child */
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)fg);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	const char *end = strrchr(buf, ')');
	long ppid = -1;
	return end && sscanf(end + 1, " %*c %ld", &ppid) == 1 && ppid == (long)getpid();
}

void run_live_init(struct run_live *lv, const rq_meter *m, const rq_events *ev, bool quiet)
{
	struct termios t;
	lv->m = m;
	lv->ev = ev;
	lv->drawn = false;
	lv->last = -1;
	const char *term = getenv("TERM");
	lv->enabled = !quiet && term && *term && strcmp(term, "dumb") != 0 && isatty(STDERR_FILENO) == 1 &&
		      tcgetattr(STDERR_FILENO, &t) == 0 && !(t.c_lflag & TOSTOP);
	current = lv;
}

/* The last epoch marked: an epoch event's number, or the epochs ended
 * before the last metric. */
static long epochs_so_far(const rq_events *ev)
{
	size_t n = ev ? rq_events_count(ev) : 0;
	return n ? rq_events_get(ev, n - 1)->epoch : 0;
}

void run_live_tick(void *ctx, double elapsed)
{
	struct run_live *lv = ctx;
	if (!lv->enabled || (lv->last >= 0 && elapsed - lv->last < 0.25))
		return;
	lv->last = elapsed;
	if (!in_foreground())
		return;
	pthread_mutex_lock(&lock);
	long s = (long)elapsed, epochs = epochs_so_far(lv->ev);
	fprintf(stderr, "\r\033[Kresque: %ld:%02ld:%02ld elapsed, %.3g kWh so far, %ld epoch%s marked", s / 3600,
		s / 60 % 60, s % 60, rq_meter_joules(lv->m) / 3.6e6, epochs, epochs == 1 ? "" : "s");
	fflush(stderr);
	lv->drawn = true;
	pthread_mutex_unlock(&lock);
}

void run_live_break(void)
{
	pthread_mutex_lock(&lock);
	if (current && current->drawn) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		current->drawn = false;
	}
	pthread_mutex_unlock(&lock);
}

void run_live_clear(struct run_live *lv)
{
	run_live_break();
	pthread_mutex_lock(&lock);
	if (current == lv)
		current = NULL;
	pthread_mutex_unlock(&lock);
}
