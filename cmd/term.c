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
	if (rq_pager_finish())
		_exit(EXIT_FAIL); /* at exit: nothing was shown, the warning says why */
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
	if (!pager[strspn(pager, " \t\n")] || strcmp(pager, "cat") == 0)
		return; /* empty or blank: no pager */
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

size_t term_char_len(const char *c)
{
	const unsigned char *u = (const unsigned char *)c;
	size_t n;
	uint32_t cp;

	if (u[0] < 0x80)
		return u[0] < 0x20 || u[0] == 0x7f ? 0 : 1;
	if (u[0] >= 0xc2 && u[0] <= 0xdf)
		n = 2, cp = u[0] & 0x1f;
	else if (u[0] >= 0xe0 && u[0] <= 0xef)
		n = 3, cp = u[0] & 0x0f;
	else if (u[0] >= 0xf0 && u[0] <= 0xf4)
		n = 4, cp = u[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((u[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (u[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF, and C1 controls */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff) ||
	    (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return n;
}

static void clean(rq_buf *out, const char *s, bool lines)
{
	while (s && *s) {
		size_t n = term_char_len(s);
		if (!n && lines && *s == '\n')
			n = 1;
		if (n)
			rq_buf_put(out, s, n);
		else
			rq_buf_putc(out, '?');
		/* a C1 control is one '?', like the others */
		if (!n && (unsigned char)s[0] == 0xc2 && (unsigned char)s[1] >= 0x80 && (unsigned char)s[1] <= 0x9f)
			n = 2;
		s += n ? n : 1;
	}
}

void term_buf_text(rq_buf *out, const char *s)
{
	clean(out, s, false);
}

void term_put_text(FILE *f, const char *s)
{
	rq_buf b = RQ_BUF_INIT;
	clean(&b, s, false);
	fputs(b.ptr, f);
	rq_buf_release(&b);
}

void term_put_lines(FILE *f, const char *s)
{
	rq_buf b = RQ_BUF_INIT;
	clean(&b, s, true);
	fputs(b.ptr, f);
	rq_buf_release(&b);
}

const char *term_text(const char *s)
{
	static rq_buf ring[8];
	static unsigned next;
	const char *c = s;

	if (!s)
		return NULL;
	while (*c) {
		size_t n = term_char_len(c);
		if (!n)
			break;
		c += n;
	}
	if (!*c)
		return s;
	rq_buf *b = &ring[next++ % 8];
	if (!b->ptr)
		rq_buf_init(b);
	rq_buf_reset(b);
	term_buf_text(b, s);
	return b->ptr;
}
