/* One option table per command drives parsing, the usage line and --help
 * (after libgit2's src/cli/opt.h and git's parse-options.h). */
#ifndef RESQUE_CMD_OPT_H
#define RESQUE_CMD_OPT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>

enum opt_type {
	OPT_END = 0,
	OPT_BOOL,   /* --flag            -> bool */
	OPT_STRING, /* --name VALUE      -> const char * */
	OPT_INT,    /* --n N             -> long long */
	OPT_DOUBLE, /* --x X             -> double */
	OPT_LIST,   /* --data P (repeatable), or positionals -> struct opt_list */
	OPT_ARG,    /* one positional    -> const char * */
	OPT_ARGS,   /* remaining positionals -> struct opt_list */
	OPT_REST    /* everything after `--` -> struct opt_list */
};

/* Must be given: an option (shown without brackets in the usage line;
 * opt_parse refuses its absence), or an ARG, ARGS or REST. */
#define OPT_REQUIRED 1u
#define OPT_HIDDEN 2u   /* parsed but not shown in --help */

struct opt {
	enum opt_type type;
	char short_name;       /* 0 for none */
	const char *long_name; /* for ARG/ARGS/REST: the placeholder name */
	void *value;
	const char *argname;   /* "FILE"; NULL for BOOL */
	const char *help;
	unsigned flags;
};

/* Values of repeatable options; `v` is malloc'd, the strings are argv's. */
struct opt_list {
	const char **v;
	size_t n;
	size_t alloc;
};
void opt_list_release(struct opt_list *l);

struct cmd_help {
	const char *name;        /* "key gen" */
	const char *summary;     /* one line */
	const char *description; /* paragraphs shown by --help, may be NULL */
};

/* Parse argv[1..argc-1] (argv[0] is the command name). Returns true when
 * the command should go on; false with *exit_code set to 0 after --help
 * (printed on stdout) or 2 after a usage error (printed on stderr). */
bool opt_parse(int *exit_code, const struct cmd_help *h, const struct opt *opts,
	       int argc, char **argv);

void opt_print_help(const struct cmd_help *h, const struct opt *opts);
/* "resque NAME: message" and the usage line on stderr; returns 2. */
int opt_vusage_error(const struct cmd_help *h, const struct opt *opts, const char *fmt, va_list ap);
void opt_print_usage_line(FILE *f, const struct cmd_help *h, const struct opt *opts);

/* Collecting the tables (cmd/gendoc.c: resque --dump-options and the
 * generated man pages and completion): while set, opt_parse hands its
 * table to this function and returns false with *exit_code 0, parsing
 * nothing. */
extern void (*opt_collect)(const struct cmd_help *h, const struct opt *opts);

#define OPT_PARSE(h, opts, argc, argv)                                 \
	do {                                                           \
		int opt_exit_;                                         \
		if (!opt_parse(&opt_exit_, (h), (opts), (argc), (argv))) \
			return opt_exit_;                              \
	} while (0)

#endif
