/* A Unix tool's manners on a terminal: colour for states (ok, FAILED,
 * estimated, outside the interval) only when the output is a terminal,
 * honouring NO_COLOR and --color=auto|always|never; and a pager for the
 * long output of log, report and show, as git starts one. */
#ifndef RESQUE_CMD_TERM_H
#define RESQUE_CMD_TERM_H

#include <stdbool.h>
#include <stdio.h>
#include "resque/buf.h"

/* The states that get a colour. */
enum term_tone {
	TERM_GOOD, /* ok, succeeded, inside the interval: green */
	TERM_BAD,  /* FAILED, failed, outside the interval: red */
	TERM_WARN, /* estimated, warnings, a lower bound: yellow */
	TERM_BOLD  /* a heading */
};

/* resque's global --color=WHEN: 0, or -1 when WHEN is not auto, always or
 * never (the caller says so). */
int term_set_color(const char *when);
/* resque's global --no-pager. */
void term_set_no_pager(void);
/* main's global options --color[=WHEN] (alone: always) and --no-pager:
 * 1 when `arg` is one of them (with *status EXIT_USAGE, the message
 * printed, when WHEN is wrong; else EXIT_OK), 0 when it is not. */
int term_main_option(const char *arg, int *status);

/* Is what is written on `f` (stdout or stderr) coloured? --color=always:
 * yes; never: no; auto (the default): when NO_COLOR is unset or empty,
 * TERM is not "dumb" and `f` is a terminal, or a pager that resque started
 * on a terminal. */
bool term_color(FILE *f);
/* The escape sequence that starts `tone` on `f`, and the one that ends it;
 * "" both when `f` is not coloured. */
const char *term_on(FILE *f, enum term_tone tone);
const char *term_off(FILE *f);

/* log, report and show, just before they print: when stdout is a terminal
 * and --no-pager was not given, send stdout (and stderr, when it is the
 * terminal too) through RESQUE_PAGER, else PAGER, else `less -FRX` (LESS
 * set to FRX when unset, as git does); an empty or blank pager or "cat"
 * pages nothing. resque waits for the pager before exiting, and the user
 * quitting it early is no error (exit status 0). A pager of plain words
 * whose first is no program in PATH nor a shell builtin is warned about
 * and the output printed as it is; one that sh could not run (exit status
 * 126 or 127) is warned about when it ended, and resque exits 1. */
void term_page(void);

/* Text from a ledger (other people's bytes), as show, log and report print
 * it: each control character -- C0, DEL, C1 (U+0080 to U+009F) -- and each
 * byte that is not valid UTF-8 as '?', so that no escape sequence stored
 * in a ledger reaches the terminal (nor `less -R`). term_text returns `s`
 * itself when it holds none (NULL for NULL), else a cleaned copy that
 * stays valid until term_text is called 8 more times. */
void term_buf_text(rq_buf *out, const char *s);
void term_put_text(FILE *f, const char *s);
/* The same with newlines kept (a JSON dump, lines of text). */
void term_put_lines(FILE *f, const char *s);
const char *term_text(const char *s);
/* The bytes of the character at `c` when it is printable UTF-8 (1 to 4);
 * 0 when it is a control character or not valid UTF-8. */
size_t term_char_len(const char *c);

#endif
