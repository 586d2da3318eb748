/* Colour and the pager (term.h): the policy of the command line; starting
 * the pager itself is core/base/pager.c's. */
#include "common.h"
#include "cmd.h"
#include "pager.h"
#include "term.h"

#include <unistd.h>

enum color_mode { COLOR_AUTO, COLOR_ALWAYS, COLOR_NEVER };

static enum color_mode color_mode = COLOR_AUTO;
static bool no_pager;
/* what the pager took over: these were terminals when it started */
static bool out_paged, err_paged;

int term_set_color(const char *when)
{
	if (strcmp(when, "auto") == 0)
		color_mode = COLOR_AUTO;
	else if (strcmp(when, "always") == 0)
		color_mode = COLOR_ALWAYS;
	else if (strcmp(when, "never") == 0)
		color_mode = COLOR_NEVER;
	else
		return -1;
	return 0;
}

void term_set_no_pager(void)
{
	no_pager = true;
}

bool term_color(FILE *f)
{
	if (color_mode != COLOR_AUTO)
		return color_mode == COLOR_ALWAYS;
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
	if ((nc && *nc) || (term && strcmp(term, "dumb") == 0))
		return false;
	int fd = fileno(f);
	if ((fd == STDOUT_FILENO && out_paged) || (fd == STDERR_FILENO && err_paged))
		return true;
	return fd >= 0 && isatty(fd) == 1;
}

const char *term_on(FILE *f, enum term_tone tone)
{
	static const char *const seq[] = { [TERM_GOOD] = "\033[32m", [TERM_BAD] = "\033[1;31m",
					   [TERM_WARN] = "\033[33m", [TERM_BOLD] = "\033[1m" };
	return term_color(f) ? seq[tone] : "";
}

const char *term_off(FILE *f)
{
	return term_color(f) ? "\033[m" : "";
}

static void finish_pager(void)
{
	rq_pager_finish();
}

void term_page(void)
{
	if (no_pager || out_paged || isatty(STDOUT_FILENO) != 1)
		return;
	const char *pager = getenv("RESQUE_PAGER");
	if (!pager)
		pager = getenv("PAGER");
	if (!pager)
		pager = "less -FRX";
	if (!*pager || strcmp(pager, "cat") == 0)
		return;
	setenv("LESS", "FRX", 0);
	setenv("LV", "-c", 0);
	bool err_tty = isatty(STDERR_FILENO) == 1;
	if (rq_pager_start(pager, err_tty)) {
		cmd_warn("%s; printing without a pager", rq_error_last());
		return;
	}
	out_paged = true;
	err_paged = err_tty;
	atexit(finish_pager);
}

int term_main_option(const char *arg, int *status)
{
	*status = EXIT_OK;
	if (strcmp(arg, "--no-pager") == 0) {
		term_set_no_pager();
		return 1;
	}
	if (strcmp(arg, "--color") == 0)
		return term_set_color("always"), 1;
	if (strncmp(arg, "--color=", 8) != 0)
		return 0;
	if (term_set_color(arg + 8)) {
		fprintf(stderr, "resque: --color must be auto, always or never, not '%s'\n", arg + 8);
		*status = EXIT_USAGE;
	}
	return 1;
}
