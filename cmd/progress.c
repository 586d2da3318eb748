/* A one-line progress bar on stderr, redrawn in place with \r, shown only
 * when stderr is a terminal so logs and pipes never see it. */
#include "common.h"
#include "progress.h"

#include <unistd.h>

void progress_init(struct progress *p, const char *what)
{
	p->what = what;
	p->enabled = isatty(STDERR_FILENO) == 1;
	p->drawn = false;
}

static void human(char out[16], uint64_t n)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	size_t u = 0;
	while (v >= 1024 && u + 1 < RQ_ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	snprintf(out, 16, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

void progress_fp(void *ctx, const rq_fp_progress *pr)
{
	struct progress *p = ctx;
	char done[16], total[16], bar[31];
	if (!p->enabled)
		return;
	double frac = pr->bytes_total ? (double)pr->bytes_done / (double)pr->bytes_total
				      : pr->files_total ? (double)pr->files_done / (double)pr->files_total : 1;
	if (frac > 1)
		frac = 1;
	size_t fill = (size_t)(frac * 30);
	for (size_t i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = '\0';
	human(done, pr->bytes_done);
	human(total, pr->bytes_total);
	fprintf(stderr, "\r\033[K%s [%s] %3.0f%%  %" PRIu64 "/%" PRIu64 " files  %s/%s", p->what, bar,
		frac * 100, pr->files_done, pr->files_total, done, total);
	fflush(stderr);
	p->drawn = true;
}

void progress_done(struct progress *p)
{
	if (p->drawn) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	p->drawn = false;
}
