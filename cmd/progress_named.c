/* A progress bar per named stage, for library calls that fingerprint
 * several things in turn (see progress_named.h). */
#include "common.h"
#include "progress_named.h"

void progress_named(void *ctx, const char *what, const rq_fp_progress *p)
{
	struct progress *bar = ctx;
	if (!p) {
		progress_done(bar);
		bar->what = NULL;
		return;
	}
	if (bar->what != what)
		progress_init(bar, what);
	progress_fp(bar, p);
}
