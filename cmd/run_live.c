/* resque run's live line (run_live.h). */
#include "common.h"
#include "run_live.h"

#include <termios.h>
#include <unistd.h>

void run_live_init(struct run_live *lv, const rq_meter *m, const rq_events *ev, bool quiet)
{
	struct termios t;
	lv->m = m;
	lv->ev = ev;
	lv->drawn = false;
	lv->last = -1;
	lv->enabled = !quiet && isatty(STDERR_FILENO) == 1 && tcgetattr(STDERR_FILENO, &t) == 0 &&
		      !(t.c_lflag & TOSTOP);
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
	long s = (long)elapsed, epochs = epochs_so_far(lv->ev);
	fprintf(stderr, "\r\033[Kresque: %ld:%02ld:%02ld elapsed, %.3g kWh so far, %ld epoch%s marked", s / 3600,
		s / 60 % 60, s % 60, rq_meter_joules(lv->m) / 3.6e6, epochs, epochs == 1 ? "" : "s");
	fflush(stderr);
	lv->drawn = true;
}

void run_live_clear(struct run_live *lv)
{
	if (!lv->drawn)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	lv->drawn = false;
}
