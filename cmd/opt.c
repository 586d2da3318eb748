/* Table-driven option parsing, usage and --help for every command. */
#include "common.h"
#include "opt.h"
#include "bounds.h"

#include <math.h>

void (*opt_collect)(const struct cmd_help *h, const struct opt *opts);

void opt_list_release(struct opt_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
	l->alloc = 0;
}

static void list_push(struct opt_list *l, const char *s)
{
	RQ_ALLOC_GROW(l->v, l->n + 1, l->alloc);
	l->v[l->n++] = s;
}

static bool is_positional(const struct opt *o)
{
	return o->type == OPT_ARG || o->type == OPT_ARGS || o->type == OPT_REST;
}

void opt_print_usage_line(FILE *f, const struct cmd_help *h, const struct opt *opts)
{
	fprintf(f, "usage: resque %s", h->name);
	for (const struct opt *o = opts; o && o->type != OPT_END; o++) {
		if (o->flags & OPT_HIDDEN || is_positional(o))
			continue;
		bool req = o->flags & OPT_REQUIRED;
		if (o->type == OPT_BOOL)
			fprintf(f, req ? " --%s" : " [--%s]", o->long_name);
		else
			fprintf(f, req ? " --%s %s%s" : " [--%s %s]%s", o->long_name,
				o->argname ? o->argname : "VALUE", o->type == OPT_LIST ? "..." : "");
	}
	for (const struct opt *o = opts; o && o->type != OPT_END; o++) {
		bool req = o->flags & OPT_REQUIRED;
		if (o->type == OPT_ARG)
			fprintf(f, req ? " %s" : " [%s]", o->long_name);
		else if (o->type == OPT_ARGS)
			fprintf(f, req ? " %s..." : " [%s...]", o->long_name);
		else if (o->type == OPT_REST)
			fprintf(f, " -- %s...", o->long_name);
	}
	fputc('\n', f);
}

void opt_print_help(const struct cmd_help *h, const struct opt *opts)
{
	opt_print_usage_line(stdout, h, opts);
	printf("\n%s\n", h->summary);
	if (h->description)
		printf("\n%s\n", h->description);
	bool any = false;
	for (const struct opt *o = opts; o && o->type != OPT_END; o++) {
		char left[96];
		if (o->flags & OPT_HIDDEN)
			continue;
		if (!any) {
			printf("\n");
			any = true;
		}
		if (is_positional(o))
			snprintf(left, sizeof(left), "%s", o->long_name);
		else if (o->type == OPT_BOOL)
			snprintf(left, sizeof(left), "%s%c%s--%s", o->short_name ? "-" : "",
				 o->short_name ? o->short_name : ' ', o->short_name ? ", " : "   ",
				 o->long_name);
		else
			snprintf(left, sizeof(left), "%s%c%s--%s %s", o->short_name ? "-" : "",
				 o->short_name ? o->short_name : ' ', o->short_name ? ", " : "   ",
				 o->long_name, o->argname ? o->argname : "VALUE");
		if (strlen(left) > 26)
			printf("    %s\n    %26s  %s\n", left, "", o->help ? o->help : "");
		else
			printf("    %-26s  %s\n", left, o->help ? o->help : "");
	}
	printf("    %-26s  %s\n", "-h, --help", "show this help");
}

int opt_vusage_error(const struct cmd_help *h, const struct opt *opts, const char *fmt, va_list ap)
{
	fprintf(stderr, "resque %s: ", h->name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	opt_print_usage_line(stderr, h, opts);
	return 2;
}

static int usage_error(const struct cmd_help *h, const struct opt *opts, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int usage_error(const struct cmd_help *h, const struct opt *opts, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = opt_vusage_error(h, opts, fmt, ap);
	va_end(ap);
	return rc;
}

static bool set_value(int *exit_code, const struct cmd_help *h, const struct opt *opts,
		      const struct opt *o, const char *val)
{
	char *end;
	switch (o->type) {
	case OPT_STRING:
	case OPT_ARG:
		*(const char **)o->value = val;
		return true;
	case OPT_LIST:
	case OPT_ARGS:
	case OPT_REST:
		list_push(o->value, val);
		return true;
	case OPT_INT: {
		errno = 0;
		long long v = strtoll(val, &end, 10);
		if (errno || end == val || *end) {
			*exit_code = usage_error(h, opts, "--%s takes a whole number, not '%s'",
						 o->long_name, val);
			return false;
		}
		*(long long *)o->value = v;
		return true;
	}
	case OPT_DOUBLE: {
		/* decimal only: strtod would take "0x10", "inf" and "nan" */
		double v;
		if (rq_bound_parse_decimal(&v, val) != 0) {
			*exit_code = usage_error(h, opts, "--%s takes a number, not '%s' (a decimal such as 1.5 or 2e3)",
						 o->long_name, val);
			return false;
		}
		*(double *)o->value = v;
		return true;
	}
	default:
		return true;
	}
}

/* The state of one opt_parse call. */
struct parser {
	const struct cmd_help *h;
	const struct opt *opts;
	int *exit_code;
	const struct opt *pos[16]; /* the OPT_ARG entries, in table order */
	size_t npos, next_pos;
	const struct opt *args, *rest;
	bool rest_seen;
	bool *given; /* given[k]: opts[k] was on the command line */
};

static void find_positionals(struct parser *p)
{
	for (const struct opt *o = p->opts; o && o->type != OPT_END; o++) {
		if (o->type == OPT_ARG && p->npos < RQ_ARRAY_SIZE(p->pos))
			p->pos[p->npos++] = o;
		else if (o->type == OPT_ARGS)
			p->args = o;
		else if (o->type == OPT_REST)
			p->rest = o;
	}
}

/* "--name" or "--name=value" at `a`: the option, and in *val the value
 * after '=' (NULL when none). NULL after a usage error. */
static const struct opt *long_option(struct parser *p, const char *a, const char **val)
{
	const struct opt *o = NULL;
	const char *name = a + 2;
	const char *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	for (const struct opt *q = p->opts; q && q->type != OPT_END; q++)
		if (!is_positional(q) && strlen(q->long_name) == len &&
		    strncmp(q->long_name, name, len) == 0)
			o = q;
	if (!o) {
		*p->exit_code = usage_error(p->h, p->opts, "unknown option '%.*s'", (int)(len + 2), a);
		return NULL;
	}
	if (eq) {
		if (o->type == OPT_BOOL) {
			*p->exit_code = usage_error(p->h, p->opts, "--%s takes no value", o->long_name);
			return NULL;
		}
		*val = eq + 1;
	}
	return o;
}

/* "-x" or "-xVALUE" at `a`, as long_option. */
static const struct opt *short_option(struct parser *p, const char *a, const char **val)
{
	const struct opt *o = NULL;
	for (const struct opt *q = p->opts; q && q->type != OPT_END; q++)
		if (!is_positional(q) && q->short_name == a[1])
			o = q;
	if (!o) {
		*p->exit_code = usage_error(p->h, p->opts, "unknown option '-%c'", a[1]);
		return NULL;
	}
	if (a[2]) {
		if (o->type == OPT_BOOL) {
			*p->exit_code = usage_error(p->h, p->opts, "-%c takes no value", a[1]);
			return NULL;
		}
		*val = a + 2;
	}
	return o;
}

/* The option at argv[*i], taking its value from the next argument when
 * it is not attached (*i then moves past it). */
static bool parse_option(struct parser *p, int *i, int argc, char **argv)
{
	const char *a = argv[*i], *val = NULL;
	const struct opt *o = a[1] == '-' ? long_option(p, a, &val) : short_option(p, a, &val);
	if (!o)
		return false;
	p->given[o - p->opts] = true;
	if (o->type == OPT_BOOL) {
		*(bool *)o->value = true;
		return true;
	}
	if (!val) {
		if (*i + 1 >= argc) {
			*p->exit_code = usage_error(p->h, p->opts, "--%s needs a value (%s)",
						    o->long_name, o->argname ? o->argname : "VALUE");
			return false;
		}
		val = argv[++*i];
	}
	return set_value(p->exit_code, p->h, p->opts, o, val);
}

static bool parse_positional(struct parser *p, const char *a)
{
	if (p->next_pos < p->npos) {
		set_value(p->exit_code, p->h, p->opts, p->pos[p->next_pos++], a);
	} else if (p->args) {
		list_push(p->args->value, a);
	} else {
		*p->exit_code = usage_error(p->h, p->opts, "unexpected argument '%s'", a);
		return false;
	}
	return true;
}

static bool missing_option(const struct parser *p, size_t k)
{
	const struct opt *o = &p->opts[k];
	return (o->flags & OPT_REQUIRED) && !is_positional(o) && !p->given[k];
}

/* "missing --weights PATH and --name NAME": every required option not
 * given, in table order. */
static bool check_required_options(struct parser *p)
{
	rq_buf msg = RQ_BUF_INIT;
	size_t n = 0, seen = 0;
	for (size_t k = 0; p->opts[k].type != OPT_END; k++)
		n += missing_option(p, k);
	if (n == 0)
		return true;
	rq_buf_puts(&msg, "missing");
	for (size_t k = 0; p->opts[k].type != OPT_END; k++) {
		const struct opt *o = &p->opts[k];
		if (!missing_option(p, k))
			continue;
		seen++;
		rq_buf_printf(&msg, "%s--%s", seen == 1 ? " " : seen == n ? " and " : ", ", o->long_name);
		if (o->type != OPT_BOOL)
			rq_buf_printf(&msg, " %s", o->argname ? o->argname : "VALUE");
	}
	*p->exit_code = usage_error(p->h, p->opts, "%s", msg.ptr);
	rq_buf_release(&msg);
	return false;
}

static bool check_required(struct parser *p)
{
	const struct opt *args = p->args, *rest = p->rest;
	if (!check_required_options(p))
		return false;
	for (size_t k = p->next_pos; k < p->npos; k++)
		if (p->pos[k]->flags & OPT_REQUIRED) {
			*p->exit_code = usage_error(p->h, p->opts, "missing %s", p->pos[k]->long_name);
			return false;
		}
	if (args && (args->flags & OPT_REQUIRED) && ((struct opt_list *)args->value)->n == 0) {
		*p->exit_code = usage_error(p->h, p->opts, "missing %s", args->long_name);
		return false;
	}
	if (rest && (rest->flags & OPT_REQUIRED) &&
	    (!p->rest_seen || ((struct opt_list *)rest->value)->n == 0)) {
		*p->exit_code = usage_error(p->h, p->opts, "missing -- %s...", rest->long_name);
		return false;
	}
	return true;
}

bool opt_parse(int *exit_code, const struct cmd_help *h, const struct opt *opts,
	       int argc, char **argv)
{
	struct parser p = { .h = h, .opts = opts, .exit_code = exit_code };
	bool only_pos = false, ok = true, help = false;
	size_t nopts = 0;

	if (opt_collect) {
		opt_collect(h, opts);
		*exit_code = 0;
		return false;
	}
	while (opts && opts[nopts].type != OPT_END)
		nopts++;
	p.given = rq_xcalloc(nopts + 1, sizeof(*p.given));
	find_positionals(&p);
	for (int i = 1; ok && !help && i < argc; i++) {
		const char *a = argv[i];
		if (!only_pos && strcmp(a, "--") == 0) {
			if (p.rest) {
				for (i++; i < argc; i++)
					list_push(p.rest->value, argv[i]);
				p.rest_seen = true;
				break;
			}
			only_pos = true;
		} else if (!only_pos && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
			help = true;
		} else {
			ok = !only_pos && a[0] == '-' && a[1] != '\0' ? parse_option(&p, &i, argc, argv)
								  : parse_positional(&p, a);
		}
	}
	if (help) {
		opt_print_help(h, opts);
		*exit_code = 0;
		ok = false;
	}
	ok = ok && check_required(&p);
	free(p.given);
	/* the caller returns at once: the lists filled so far go (a caller
	 * that releases them too finds them empty) */
	for (size_t k = 0; !ok && k < nopts; k++)
		if (opts[k].value && (opts[k].type == OPT_LIST || opts[k].type == OPT_ARGS || opts[k].type == OPT_REST))
			opt_list_release(opts[k].value);
	return ok;
}
