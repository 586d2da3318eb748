/* The man pages and the bash and zsh completion, generated at build time
 * from the commands' option tables (resque --gen-docs DIR), and the tables
 * as text for the tests (resque --dump-options): what the parser accepts
 * is what they document, so they cannot drift apart. */
#include "common.h"
#include "cmd.h"
#include "resque/version.h"

#include <ctype.h>
#include <sys/stat.h>

/* One command's table as opt_parse was handed it ("key gen"). */
struct gd_cmd {
	struct cmd_help help; /* copied, as the strings of opts */
	struct opt *opts;     /* copied, ending in OPT_END */
	char *usage;          /* the usage line without "usage: " */
};

/* A command made of subcommands (cmd_dispatch_sub). */
struct gd_family {
	const char *name;
	struct subcmd *subs; /* copied, ending in a NULL name */
};

struct gd {
	const struct cmd_entry *entries;
	size_t nentries;
	const struct opt *global_opts;
	struct gd_cmd *cmds;
	size_t ncmds, cmds_alloc;
	struct gd_family *fams;
	size_t nfams, fams_alloc;
};

static struct gd *collecting;

static _Noreturn void no_memory(void)
{
	fputs("resque: out of memory\n", stderr);
	abort();
}

static void collect_table(const struct cmd_help *h, const struct opt *opts)
{
	struct gd *g = collecting;
	size_t n = 0;
	char *line = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&line, &len);

	if (!f)
		no_memory();
	while (opts[n].type != OPT_END)
		n++;
	RQ_ALLOC_GROW(g->cmds, g->ncmds + 1, g->cmds_alloc);
	struct gd_cmd *c = &g->cmds[g->ncmds++];
	c->help.name = rq_xstrdup(h->name);
	c->help.summary = rq_xstrdup(h->summary);
	c->help.description = h->description ? rq_xstrdup(h->description) : NULL;
	c->opts = rq_xcalloc(n + 1, sizeof(*c->opts));
	for (size_t k = 0; k < n; k++) {
		/* an argname may be built for the call (plan's --kind) */
		c->opts[k] = opts[k];
		c->opts[k].value = NULL;
		c->opts[k].long_name = opts[k].long_name ? rq_xstrdup(opts[k].long_name) : NULL;
		c->opts[k].argname = opts[k].argname ? rq_xstrdup(opts[k].argname) : NULL;
		c->opts[k].help = opts[k].help ? rq_xstrdup(opts[k].help) : NULL;
	}
	opt_print_usage_line(f, h, opts);
	fclose(f);
	len = strlen(line);
	while (len && line[len - 1] == '\n')
		line[--len] = '\0';
	c->usage = rq_xstrdup(strncmp(line, "usage: ", 7) == 0 ? line + 7 : line);
	free(line);
}

static void collect_family(const char *family, const struct subcmd *subs)
{
	struct gd *g = collecting;
	size_t n = 0;

	while (subs[n].name)
		n++;
	RQ_ALLOC_GROW(g->fams, g->nfams + 1, g->fams_alloc);
	struct gd_family *fam = &g->fams[g->nfams++];
	fam->name = family;
	fam->subs = rq_xcalloc(n + 1, sizeof(*fam->subs));
	memcpy(fam->subs, subs, n * sizeof(*subs));
	for (size_t i = 0; i < n; i++) {
		char help[] = "--help";
		char *av[] = { (char *)(uintptr_t)subs[i].name, help, NULL };
		subs[i].fn(2, av);
	}
}

/* Every command's table: each command runs as for `resque help NAME`
 * with the hooks set, so opt_parse and cmd_dispatch_sub report instead. */
static void gd_collect(struct gd *g, const struct cmd_entry *cmds, size_t n, const struct opt *global_opts)
{
	memset(g, 0, sizeof(*g));
	g->entries = cmds;
	g->nentries = n;
	g->global_opts = global_opts;
	collecting = g;
	opt_collect = collect_table;
	cmd_collect_family = collect_family;
	for (size_t i = 0; i < n; i++) {
		char help[] = "--help";
		char *av[] = { (char *)(uintptr_t)cmds[i].name, help, NULL };
		cmds[i].fn(2, av);
	}
	opt_collect = NULL;
	cmd_collect_family = NULL;
	collecting = NULL;
}

static void gd_release(struct gd *g)
{
	for (size_t i = 0; i < g->ncmds; i++) {
		struct gd_cmd *c = &g->cmds[i];
		for (struct opt *o = c->opts; o->type != OPT_END; o++) {
			free((char *)(uintptr_t)o->long_name);
			free((char *)(uintptr_t)o->argname);
			free((char *)(uintptr_t)o->help);
		}
		free((char *)(uintptr_t)c->help.name);
		free((char *)(uintptr_t)c->help.summary);
		free((char *)(uintptr_t)c->help.description);
		free(c->opts);
		free(c->usage);
	}
	for (size_t i = 0; i < g->nfams; i++)
		free(g->fams[i].subs);
	free(g->cmds);
	free(g->fams);
}

static bool is_positional(const struct opt *o)
{
	return o->type == OPT_ARG || o->type == OPT_ARGS || o->type == OPT_REST;
}

static bool takes_value(const struct opt *o)
{
	return o->type != OPT_BOOL && !is_positional(o);
}

static const char *kind_name(enum opt_type t)
{
	static const char *const names[] = { "end", "bool", "string", "int", "double",
					     "list", "arg", "args", "rest" };
	return (size_t)t < RQ_ARRAY_SIZE(names) ? names[t] : "?";
}

static void dump_table(const char *name, const struct opt *opts)
{
	printf("command\t%s\n", name);
	for (const struct opt *o = opts; o->type != OPT_END; o++) {
		char s[3] = { 0 };
		if (o->short_name) {
			s[0] = '-';
			s[1] = o->short_name;
		}
		printf("option\t%s\t%s%s\t%s\t%s\t%s\t%s%s\n", name, o->long_name && !is_positional(o) ? "--" : "",
		       o->long_name ? o->long_name : "", s, kind_name(o->type), o->argname ? o->argname : "",
		       o->flags & OPT_REQUIRED ? "required" : "", o->flags & OPT_HIDDEN ? ",hidden" : "");
	}
}

/* resque --dump-options: "command NAME" then one line per entry of its
 * table, tab-separated: option NAME --long -s KIND ARGNAME FLAGS (the
 * global options under the name ""), and "family NAME SUB..." lines. */
int cmd_gendoc_dump(const struct cmd_entry *cmds, size_t n, const struct opt *global_opts)
{
	struct gd g;
	gd_collect(&g, cmds, n, global_opts);
	dump_table("", global_opts);
	for (size_t i = 0; i < g.ncmds; i++)
		dump_table(g.cmds[i].help.name, g.cmds[i].opts);
	for (size_t i = 0; i < g.nfams; i++) {
		printf("family\t%s", g.fams[i].name);
		for (const struct subcmd *s = g.fams[i].subs; s->name; s++)
			printf("\t%s", s->name);
		putchar('\n');
	}
	gd_release(&g);
	return EXIT_OK;
}

/* ---- man pages ---- */

/* Text for troff: backslashes, minus signs, a control character at the
 * start of a line, and anything beyond ASCII as \[uXXXX]. */
static void roff(FILE *f, const char *s, bool line_start)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		if (line_start && (*p == '.' || *p == '\''))
			fputs("\\&", f);
		line_start = false;
		if (*p == '\\') {
			fputs("\\e", f);
		} else if (*p == '-') {
			fputs("\\-", f);
		} else if (*p < 0x80) {
			fputc(*p, f);
		} else {
			unsigned long cp = 0;
			int more = *p >= 0xf0 ? 3 : *p >= 0xe0 ? 2 : *p >= 0xc0 ? 1 : 0;
			cp = *p & (0x3fu >> more);
			for (int k = 0; k < more && (p[1] & 0xc0) == 0x80; k++)
				cp = (cp << 6) | (*++p & 0x3fu);
			fprintf(f, "\\[u%04lX]", cp);
		}
		p++;
	}
}

/* "key gen" as "resque-key-gen". */
static void page_name(FILE *f, const char *name, bool escape)
{
	fputs(escape ? "resque\\-" : "resque-", f);
	for (const char *p = name; *p; p++) {
		if (*p == ' ' || *p == '-')
			fputs(escape ? "\\-" : "-", f);
		else
			fputc(*p, f);
	}
}

/* .TH for the page of `name` ("key gen"; "" for resque(1)). */
static void th(FILE *f, const char *name)
{
	fputs(".\\\" generated by 'resque --gen-docs' from the option tables; do not edit\n", f);
	fputs(".TH \"RESQUE", f);
	if (*name)
		fputs("\\-", f);
	for (const char *p = name; *p; p++) {
		if (*p == ' ' || *p == '-')
			fputs("\\-", f);
		else
			fputc(toupper((unsigned char)*p), f);
	}
	fprintf(f, "\" 1 \"\" \"resque %s\" \"resque manual\"\n", RQ_VERSION);
	fputs(".nh\n", f); /* no hyphens inserted in option names */
}

/* Paragraphs of a --help description: blank lines part them, indented
 * lines are kept as they are. */
static void description(FILE *f, const char *text)
{
	bool nofill = false;
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *line = rq_xstrndup(p, len);
		bool indented = line[0] == ' ' || line[0] == '\t';
		if (indented != nofill) {
			fputs(indented ? ".nf\n" : ".fi\n", f);
			nofill = indented;
		}
		if (len == 0) {
			fputs(".PP\n", f);
		} else {
			roff(f, line, true);
			fputc('\n', f);
		}
		free(line);
		p += len + (nl != NULL);
	}
	if (nofill)
		fputs(".fi\n", f);
}

/* `s` as a sentence: a capital first letter and a full stop. */
static void sentence(FILE *f, const char *s)
{
	if (!*s)
		return;
	if (*s == '.' || *s == '\'')
		fputs("\\&", f);
	fputc(toupper((unsigned char)*s), f);
	roff(f, s + 1, false);
	fputs(".\n", f);
}

static void option_item(FILE *f, const struct opt *o)
{
	const char *help = o->help ? o->help : "";
	fputs(".TP\n", f);
	if (o->type == OPT_REST)
		fputs("\\-\\- ", f);
	if (is_positional(o)) {
		fputs("\\fI", f);
		roff(f, o->long_name, false);
		fputs(o->type == OPT_ARG ? "\\fR\n" : "\\fR...\n", f);
	} else {
		if (o->short_name)
			fprintf(f, "\\fB\\-%c\\fR%s", o->short_name, o->long_name ? ", " : "");
		if (o->long_name) {
			fputs("\\fB\\-\\-", f);
			roff(f, o->long_name, false);
			fputs("\\fR", f);
		}
		if (takes_value(o)) {
			fputs(" \\fI", f);
			roff(f, o->argname ? o->argname : "VALUE", false);
			fputs("\\fR", f);
			if (o->type == OPT_LIST && !strstr(help, "repeatable"))
				fputs(" (repeatable)", f);
		}
		fputc('\n', f);
	}
	roff(f, help, true);
	if ((o->flags & OPT_REQUIRED) && !strstr(help, "required"))
		fputs(" (required)", f);
	fputc('\n', f);
}

/* A generated file: created (with a message naming it when it cannot be),
 * then closed with every write checked. */
static FILE *create_out(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		fprintf(stderr, "resque: cannot write %s: %s\n", path, strerror(errno));
	return f;
}

static int finish_out(FILE *f)
{
	bool bad = ferror(f) != 0;
	if (fclose(f) != 0 || bad) {
		fprintf(stderr, "resque: --gen-docs: a write failed: %s\n", strerror(errno ? errno : EIO));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static FILE *open_page(const char *dir, const char *name)
{
	rq_buf path = RQ_BUF_INIT;
	rq_buf_printf(&path, "%s/man1/resque%s", dir, *name ? "-" : "");
	for (const char *p = name; *p; p++)
		rq_buf_putc(&path, *p == ' ' ? '-' : *p);
	rq_buf_puts(&path, ".1");
	FILE *f = create_out(path.ptr);
	rq_buf_release(&path);
	return f;
}

static void see_also(FILE *f, const char *parent)
{
	fputs(".SH SEE ALSO\n.BR resque (1)", f);
	if (parent) {
		fputs(",\n.BR ", f);
		page_name(f, parent, true);
		fputs(" (1)", f);
	}
	fputc('\n', f);
}

static int command_page(const char *dir, const struct gd_cmd *c)
{
	FILE *f = open_page(dir, c->help.name);
	const char *sp = strchr(c->help.name, ' ');
	char *parent = sp ? rq_xstrndup(c->help.name, (size_t)(sp - c->help.name)) : NULL;
	if (!f)
		return EXIT_FAIL;
	th(f, c->help.name);
	fputs(".SH NAME\n", f);
	page_name(f, c->help.name, true);
	fputs(" \\- ", f);
	roff(f, c->help.summary, false);
	fputs("\n.SH SYNOPSIS\n.ad l\n", f);
	roff(f, c->usage, true);
	fputs("\n.ad\n.SH DESCRIPTION\n", f);
	sentence(f, c->help.summary);
	if (c->help.description) {
		fputs(".PP\n", f);
		description(f, c->help.description);
	}
	fputs(".SH OPTIONS\n", f);
	for (const struct opt *o = c->opts; o->type != OPT_END; o++)
		if (!(o->flags & OPT_HIDDEN))
			option_item(f, o);
	option_item(f, &(struct opt){ OPT_BOOL, 'h', "help", NULL, NULL, "show this help" });
	see_also(f, parent);
	free(parent);
	return finish_out(f);
}

static const char *entry_summary(const struct gd *g, const char *name)
{
	for (size_t i = 0; i < g->nentries; i++)
		if (strcmp(g->entries[i].name, name) == 0)
			return g->entries[i].summary;
	return "";
}

static int family_page(const char *dir, const struct gd *g, const struct gd_family *fam)
{
	/* a command with its own options besides its subcommands ('remote'
	 * lists, 'remote add' adds): its command page stands */
	for (size_t i = 0; i < g->ncmds; i++)
		if (strcmp(g->cmds[i].help.name, fam->name) == 0)
			return EXIT_OK;
	FILE *f = open_page(dir, fam->name);
	if (!f)
		return EXIT_FAIL;
	th(f, fam->name);
	fputs(".SH NAME\n", f);
	page_name(f, fam->name, true);
	fputs(" \\- ", f);
	roff(f, entry_summary(g, fam->name), false);
	fprintf(f, "\n.SH SYNOPSIS\n\\fBresque %s\\fR \\fISUBCOMMAND\\fR [\\fIOPTIONS\\fR]\n", fam->name);
	fputs(".SH DESCRIPTION\nEach subcommand has its own options, its page and its\n.BR \\-\\-help .\n", f);
	fputs(".SH SUBCOMMANDS\n", f);
	for (const struct subcmd *s = fam->subs; s->name; s++) {
		rq_buf name = RQ_BUF_INIT;
		rq_buf_printf(&name, "%s %s", fam->name, s->name);
		fputs(".TP\n.BR ", f);
		page_name(f, name.ptr, true);
		fputs(" (1)\n", f);
		roff(f, s->summary, true);
		fputc('\n', f);
		rq_buf_release(&name);
	}
	see_also(f, NULL);
	return finish_out(f);
}

/* resque(1)'s SYNOPSIS from the global options' table: "[-C DIR]
 * [--color[=WHEN]] [--no-pager] ..." ('--color' alone or with a value). */
static void main_synopsis(FILE *f, const struct opt *global_opts)
{
	fputs(".SH SYNOPSIS\n.ad l\n\\fBresque\\fR", f);
	for (const struct opt *o = global_opts; o->type != OPT_END; o++) {
		fputs(" [", f);
		if (o->long_name) {
			fputs("\\fB\\-\\-", f);
			roff(f, o->long_name, false);
			fputs("\\fR", f);
			if (strcmp(o->long_name, "color") == 0)
				fputs("[=\\fIWHEN\\fR]", f);
		} else {
			fprintf(f, "\\fB\\-%c\\fR", o->short_name);
		}
		if (o->type != OPT_BOOL && o->argname)
			fprintf(f, " \\fI%s\\fR", o->argname);
		fputc(']', f);
	}
	fputs(" \\fICOMMAND\\fR [\\fIARGS\\fR]\n.ad\n", f);
}

/* resque(1)'s ENVIRONMENT: the variables the user docs mention. */
static const char *const environment[][2] = {
	{ "RESQUE_DIR", "the repository, when not found from the working directory" },
	{ "RESQUE_HOME", "the key store and the memory of verified ledgers" },
	{ "RESQUE_PASSPHRASE", "the passphrase of an encrypted signing key (never passed to the command of resque run)" },
	{ "RESQUE_EVENTS", "set by resque run for its command: the file resque mark appends epochs and metrics to" },
	{ "RESQUE_CPU_WATTS", "watts per logical CPU for the estimate of resque run (run --cpu-watts overrides it)" },
	{ "RESQUE_THREADS", "the number of worker threads (verify, reports); 1 runs inline" },
	{ "RESQUE_PACK_EVERY", "after how many entries the ledger's objects are packed (0: never)" },
	{ "RESQUE_CGROUP", "off: run the command of resque run in no cgroup" },
	{ "RESQUE_BLAS_LIB, RESQUE_LAPACKE_LIB", "other BLAS and LAPACKE libraries to load" },
	{ "RESQUE_NVML_LIB, RESQUE_PROC_ROOT, RESQUE_SYSFS_ROOT",
	  "another NVML library, /proc and /sys for the meters (for tests)" },
	{ "RESQUE_PAGER", "the pager of log, report and show on a terminal; empty or blank: none" },
	{ "PAGER", "the pager when RESQUE_PAGER is unset (else less \\-FRX)" },
	{ "LESS", "less's options; set to FRX when unset and a pager starts" },
	{ "NO_COLOR", "any non\\-empty value: no colour (unless \\-\\-color=always)" },
	{ "TERM", "dumb: no colour, and no live line of resque run; unset or empty: no live line" },
	{ "RESQUE_NO_ARGV", "any non\\-empty value: run and commit leave their command line out of the provenance" },
	{ "GIT_CEILING_DIRECTORIES", "honoured when finding the git work tree of a provenance" },
};

static int main_page(const char *dir, const struct gd *g)
{
	FILE *f = open_page(dir, "");
	if (!f)
		return EXIT_FAIL;
	th(f, "");
	fputs(".SH NAME\nresque \\- version a model's life cycle with a signed sustainability ledger\n", f);
	main_synopsis(f, g->global_opts);
	fputs(".SH DESCRIPTION\nresque keeps a signed, hash\\-chained ledger of a deep\\-learning model's life\n"
	      "cycle (versions, datasets, plans and what they really cost) in the git\n"
	      "repository \\fI.resque/\\fR.\nEach command has its page,\n.BR resque\\-COMMAND (1),\n"
	      "and its \\fB\\-\\-help\\fR; \\fBresque help\\fR \\fICOMMAND\\fR prints the latter.\n"
	      ".SH OPTIONS\n", f);
	for (const struct opt *o = g->global_opts; o->type != OPT_END; o++)
		option_item(f, o);
	fputs(".SH COMMANDS\n", f);
	for (size_t i = 0; i < g->nentries; i++) {
		if (g->entries[i].flags & CMD_HIDDEN)
			continue;
		fputs(".TP\n.BR ", f);
		page_name(f, g->entries[i].name, true);
		fputs(" (1)\n", f);
		roff(f, g->entries[i].summary, true);
		fputc('\n', f);
	}
	fputs(".SH EXIT STATUS\n0 success, 1 failure, 2 usage error, 3 integrity violation\n"
	      "(\\fBresque run\\fR exits with the status of the command it ran).\n"
	      ".SH ENVIRONMENT\n", f);
	for (size_t i = 0; i < RQ_ARRAY_SIZE(environment); i++)
		fprintf(f, ".TP\n.B %s\n%s\n", environment[i][0], environment[i][1]);
	fputs(".SH SEE ALSO\nThe README and docs/ of the source tree.\n", f);
	return finish_out(f);
}

/* ---- completion ---- */

/* What completes the value of `o`: "words A B" (an ARGNAME such as
 * dist|task), "dir", "none" (numbers, names, ids) or "file". */
static void value_kind(rq_buf *out, const struct opt *o)
{
	static const char *const plain[] = { "N", "X", "S", "W", "G", "F", "H", "P", "ID", "REF", "NAME",
					     "TEXT", "CODE", "PID", "KIND", "URL", "TYPE", "SIZE", "KEY", "HOW", "DATE",
					     "R", "M", "FORMAT", "X1,X2,..." };
	const char *a = o->argname ? o->argname : "VALUE";
	rq_buf_reset(out);
	if (strchr(a, '|')) {
		rq_buf_puts(out, "words ");
		for (const char *p = a; *p; p++)
			rq_buf_putc(out, *p == '|' ? ' ' : *p);
		return;
	}
	if (strcmp(a, "DIR") == 0) {
		rq_buf_puts(out, "dir");
		return;
	}
	for (size_t i = 0; i < RQ_ARRAY_SIZE(plain); i++)
		if (strcmp(a, plain[i]) == 0 || strchr(a, '=')) {
			rq_buf_puts(out, "none");
			return;
		}
	rq_buf_puts(out, "file");
}

/* `s` inside single quotes of sh or zsh. */
static void squote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++)
		fputs(*s == '\'' ? "'\\''" : (char[2]){ *s, 0 }, f);
	fputc('\'', f);
}

/* "-w --weights --name ...": the options of a table, for bash. */
static void option_words(FILE *f, const struct opt *opts)
{
	const char *sep = "";
	for (const struct opt *o = opts; o->type != OPT_END; o++) {
		if (is_positional(o) || (o->flags & OPT_HIDDEN))
			continue;
		if (o->short_name) {
			fprintf(f, "%s-%c", sep, o->short_name);
			sep = " ";
		}
		if (o->long_name) {
			fprintf(f, "%s--%s", sep, o->long_name);
			sep = " ";
		}
	}
}

static void bash_tables(FILE *f, const struct gd *g)
{
	rq_buf kind = RQ_BUF_INIT;
	fputs("_resque_options() {\n\tcase $1 in\n\t'') echo '", f);
	option_words(f, g->global_opts);
	fputs("' ;;\n", f);
	for (size_t i = 0; i < g->ncmds; i++) {
		fprintf(f, "\t'%s') echo '", g->cmds[i].help.name);
		option_words(f, g->cmds[i].opts);
		fputs(" -h --help' ;;\n", f);
	}
	fputs("\tesac\n}\n\n# The options that take a value and what completes it.\n"
	      "_resque_value() {\n\tcase \"$1 $2\" in\n", f);
	for (size_t i = 0; i < g->ncmds; i++)
		for (const struct opt *o = g->cmds[i].opts; o->type != OPT_END; o++) {
			if (!takes_value(o))
				continue;
			value_kind(&kind, o);
			fprintf(f, "\t'%s --%s'", g->cmds[i].help.name, o->long_name);
			if (o->short_name)
				fprintf(f, "|'%s -%c'", g->cmds[i].help.name, o->short_name);
			fputs(") echo ", f);
			squote(f, kind.ptr);
			fputs(" ;;\n", f);
		}
	fputs("\t*) return 1 ;;\n\tesac\n}\n\n"
	      "_resque_subcommands() {\n\tcase $1 in\n", f);
	for (size_t i = 0; i < g->nfams; i++) {
		fprintf(f, "\t'%s') echo '", g->fams[i].name);
		for (const struct subcmd *s = g->fams[i].subs; s->name; s++)
			fprintf(f, "%s%s", s->name, s[1].name ? " " : "");
		fputs("' ;;\n", f);
	}
	fputs("\tesac\n}\n\n# 'resque help' takes a command, not help or version.\n_resque_help_topics='", f);
	for (size_t i = 0, k = 0; i < g->nentries; i++)
		if (!(g->entries[i].flags & CMD_HIDDEN))
			fprintf(f, "%s%s", k++ ? " " : "", g->entries[i].name);
	fputs("'\n_resque_commands=\"help version $_resque_help_topics\"\n\n", f);
	rq_buf_release(&kind);
}

static const char bash_function[] =
	"# _resque: the words before the cursor give the command (after the\n"
	"# global options) and, for a family such as 'key', its subcommand; then\n"
	"# the previous word may be an option wanting a value.\n"
	"_resque() {\n"
	"\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev='' i=1 path subs kind k\n"
	"\t[ \"$COMP_CWORD\" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD-1]}\n"
	"\tCOMPREPLY=()\n"
	"\twhile [ \"$i\" -lt \"$COMP_CWORD\" ]; do\n"
	"\t\tcase ${COMP_WORDS[i]} in\n"
	"\t\t-C) i=$((i + 2)) ;;\n"
	"\t\t-*) i=$((i + 1)) ;;\n"
	"\t\t*) break ;;\n"
	"\t\tesac\n"
	"\tdone\n"
	"\tif [ \"$i\" -ge \"$COMP_CWORD\" ]; then\n"
	"\t\tif [ \"$prev\" = -C ]; then\n"
	"\t\t\tCOMPREPLY=($(compgen -d -- \"$cur\"))\n"
	"\t\telif [[ $cur == -* ]]; then\n"
	"\t\t\tCOMPREPLY=($(compgen -W \"$(_resque_options '')\" -- \"$cur\"))\n"
	"\t\telse\n"
	"\t\t\tCOMPREPLY=($(compgen -W \"$_resque_commands\" -- \"$cur\"))\n"
	"\t\tfi\n"
	"\t\treturn 0\n"
	"\tfi\n"
	"\tpath=${COMP_WORDS[i]}\n"
	"\ti=$((i + 1))\n"
	"\tif [ \"$path\" = help ]; then\n"
	"\t\t[ \"$i\" -eq \"$COMP_CWORD\" ] && COMPREPLY=($(compgen -W \"$_resque_help_topics\" -- \"$cur\"))\n"
	"\t\treturn 0\n"
	"\tfi\n"
	"\tsubs=$(_resque_subcommands \"$path\")\n"
	"\tif [ -n \"$subs\" ] && [[ ${COMP_WORDS[i]} != -* ]]; then\n"
	"\t\tif [ \"$i\" -ge \"$COMP_CWORD\" ]; then\n"
	"\t\t\tCOMPREPLY=($(compgen -W \"$subs\" -- \"$cur\"))\n"
	"\t\t\treturn 0\n"
	"\t\tfi\n"
	"\t\tpath=\"$path ${COMP_WORDS[i]}\"\n"
	"\tfi\n"
	"\t# after '--' come the words of the command that 'resque run' runs\n"
	"\tfor ((k = i; k < COMP_CWORD; k++)); do\n"
	"\t\t[ \"${COMP_WORDS[k]}\" = -- ] && return 0\n"
	"\tdone\n"
	"\tif kind=$(_resque_value \"$path\" \"$prev\"); then\n"
	"\t\tcase $kind in\n"
	"\t\tfile) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
	"\t\tdir) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- \"$cur\")) ;;\n"
	"\t\twords*) COMPREPLY=($(compgen -W \"${kind#words }\" -- \"$cur\")) ;;\n"
	"\t\tesac\n"
	"\t\treturn 0\n"
	"\tfi\n"
	"\tif [[ $cur == -* ]]; then\n"
	"\t\tCOMPREPLY=($(compgen -W \"$(_resque_options \"$path\")\" -- \"$cur\"))\n"
	"\telse\n"
	"\t\tcompopt -o filenames 2>/dev/null\n"
	"\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
	"\tfi\n"
	"\treturn 0\n"
	"}\n"
	"complete -o bashdefault -o default -F _resque resque\n";

static int bash_completion(const char *path, const struct gd *g)
{
	FILE *f = create_out(path);
	if (!f)
		return EXIT_FAIL;
	fputs("# bash completion for resque(1), generated by 'resque --gen-docs' from the\n"
	      "# commands' option tables: do not edit.\n\n", f);
	bash_tables(f, g);
	fputs(bash_function, f);
	return finish_out(f);
}

/* One _arguments spec: '(-w --weights)'{-w,--weights}'[help]:PATH:_files'. */
static void zsh_spec(FILE *f, const struct opt *o, rq_buf *kind)
{
	rq_buf rest = RQ_BUF_INIT;
	rq_buf_putc(&rest, '[');
	for (const char *p = o->help ? o->help : ""; *p; p++) {
		if (*p == '[' || *p == ']' || *p == '\\')
			rq_buf_putc(&rest, '\\');
		rq_buf_putc(&rest, *p);
	}
	rq_buf_putc(&rest, ']');
	if (takes_value(o)) {
		value_kind(kind, o);
		rq_buf_printf(&rest, ":%s:", o->argname ? o->argname : "VALUE");
		if (strncmp(kind->ptr, "words ", 6) == 0)
			rq_buf_printf(&rest, "(%s)", kind->ptr + 6);
		else if (strcmp(kind->ptr, "dir") == 0)
			rq_buf_puts(&rest, "_files -/");
		else if (strcmp(kind->ptr, "file") == 0)
			rq_buf_puts(&rest, "_files");
		else
			rq_buf_puts(&rest, " ");
	}
	fputs("\t\t", f);
	if (o->type == OPT_LIST)
		fputs("'*'", f);
	else if (o->short_name && o->long_name)
		fprintf(f, "'(-%c --%s)'", o->short_name, o->long_name);
	if (o->short_name && o->long_name)
		fprintf(f, "{-%c,--%s}", o->short_name, o->long_name);
	else if (o->long_name)
		fprintf(f, "--%s", o->long_name);
	else
		fprintf(f, "-%c", o->short_name);
	squote(f, rest.ptr);
	fputs(" \\\n", f);
	rq_buf_release(&rest);
}

static void zsh_describe(FILE *f, const char *var, const char *name, const char *summary)
{
	rq_buf item = RQ_BUF_INIT;
	rq_buf_printf(&item, "%s:%s", name, summary);
	fprintf(f, "\t\t%s+=(", var);
	squote(f, item.ptr);
	fputs(")\n", f);
	rq_buf_release(&item);
}

static void zsh_commands(FILE *f, const struct gd *g)
{
	rq_buf kind = RQ_BUF_INIT;
	fputs("_resque_command() {\n\tcase $1 in\n", f);
	for (size_t i = 0; i < g->ncmds; i++) {
		fprintf(f, "\t'%s')\n\t\t_arguments -s -S \\\n", g->cmds[i].help.name);
		for (const struct opt *o = g->cmds[i].opts; o->type != OPT_END; o++)
			if (!is_positional(o) && !(o->flags & OPT_HIDDEN))
				zsh_spec(f, o, &kind);
		fputs("\t\t'(- *)'{-h,--help}'[show this help]' \\\n\t\t'*:file:_files' ;;\n", f);
	}
	fputs("\tesac\n}\n\n_resque_subcommands() {\n\tcase $1 in\n", f);
	for (size_t i = 0; i < g->nfams; i++) {
		fprintf(f, "\t'%s')\n", g->fams[i].name);
		for (const struct subcmd *s = g->fams[i].subs; s->name; s++)
			zsh_describe(f, "subs", s->name, s->summary);
		fputs("\t\t;;\n", f);
	}
	fputs("\tesac\n}\n\n_resque_commands() {\n", f);
	zsh_describe(f, "cmds", "help", "show a command's help");
	zsh_describe(f, "cmds", "version", "print the version");
	for (size_t i = 0; i < g->nentries; i++)
		if (!(g->entries[i].flags & CMD_HIDDEN))
			zsh_describe(f, "cmds", g->entries[i].name, g->entries[i].summary);
	fputs("}\n\n", f);
	rq_buf_release(&kind);
}

static const char zsh_function_head[] =
	"_resque() {\n"
	"\tlocal curcontext=$curcontext state line path\n"
	"\tlocal -a cmds subs\n"
	"\ttypeset -A opt_args\n"
	"\t_arguments -C \\\n";

/* the global options' specs come between the two */
static const char zsh_function[] =
	"\t\t'1:command:->command' \\\n"
	"\t\t'*::argument:->argument'\n"
	"\t_resque_commands\n"
	"\tcase $state in\n"
	"\tcommand)\n"
	"\t\t_describe -t commands 'resque command' cmds ;;\n"
	"\targument)\n"
	"\t\tpath=$words[1]\n"
	"\t\tif [[ $path == help ]]; then\n"
	"\t\t\tcmds=(${cmds[3,-1]}) # not help, not version\n"
	"\t\t\t_describe -t commands 'resque command' cmds\n"
	"\t\t\treturn\n"
	"\t\tfi\n"
	"\t\t_resque_subcommands $path\n"
	"\t\tif (( $#subs )) && [[ $words[2] != -* ]]; then\n"
	"\t\t\tif (( CURRENT == 2 )); then\n"
	"\t\t\t\t_describe -t subcommands \"resque $path subcommand\" subs\n"
	"\t\t\t\t_resque_command $path # its own options, if any (remote)\n"
	"\t\t\t\treturn\n"
	"\t\t\tfi\n"
	"\t\t\tpath=\"$path $words[2]\"\n"
	"\t\t\tshift words\n"
	"\t\t\t(( CURRENT-- ))\n"
	"\t\tfi\n"
	"\t\t_resque_command $path ;;\n"
	"\tesac\n"
	"}\n\n"
	"_resque \"$@\"\n";

static int zsh_completion(const char *path, const struct gd *g)
{
	rq_buf kind = RQ_BUF_INIT;
	FILE *f = create_out(path);
	if (!f)
		return EXIT_FAIL;
	fputs("#compdef resque\n# zsh completion for resque(1), generated by 'resque --gen-docs' from the\n"
	      "# commands' option tables: do not edit.\n\n", f);
	zsh_commands(f, g);
	fputs(zsh_function_head, f);
	for (const struct opt *o = g->global_opts; o->type != OPT_END; o++)
		zsh_spec(f, o, &kind);
	fputs(zsh_function, f);
	rq_buf_release(&kind);
	return finish_out(f);
}

static int make_dir(const char *dir, const char *sub)
{
	rq_buf path = RQ_BUF_INIT;
	int rc = EXIT_OK;
	rq_buf_printf(&path, "%s%s%s", dir, *sub ? "/" : "", sub);
	if (mkdir(path.ptr, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "resque: cannot make %s: %s\n", path.ptr, strerror(errno));
		rc = EXIT_FAIL;
	}
	rq_buf_release(&path);
	return rc;
}

/* resque --gen-docs DIR: DIR/man1/resque*.1, DIR/bash/resque and
 * DIR/zsh/_resque (the Makefile makes them at build time). */
int cmd_gendoc_write(const struct cmd_entry *cmds, size_t n, const struct opt *global_opts, const char *dir)
{
	struct gd g;
	rq_buf path = RQ_BUF_INIT;
	int rc;

	if ((rc = make_dir(dir, "")) || (rc = make_dir(dir, "man1")) || (rc = make_dir(dir, "bash")) ||
	    (rc = make_dir(dir, "zsh")))
		return rc;
	gd_collect(&g, cmds, n, global_opts);
	rc = main_page(dir, &g);
	for (size_t i = 0; !rc && i < g.ncmds; i++)
		rc = command_page(dir, &g.cmds[i]);
	for (size_t i = 0; !rc && i < g.nfams; i++)
		rc = family_page(dir, &g, &g.fams[i]);
	rq_buf_printf(&path, "%s/bash/resque", dir);
	rc = rc ? rc : bash_completion(path.ptr, &g);
	rq_buf_reset(&path);
	rq_buf_printf(&path, "%s/zsh/_resque", dir);
	rc = rc ? rc : zsh_completion(path.ptr, &g);
	rq_buf_release(&path);
	gd_release(&g);
	return rc;
}
