/* `resque show`'s lines for an entry's provenance (docs/FORMATS.md
 * "Provenance"): the command line as a shell would take it back, the
 * directory, the code's version and the hardware. Entries come from other
 * people's ledgers: control characters are never printed as they are. */
#include "common.h"
#include "provenance.h"
#include "entry_int.h"
#include "json.h"

#include <ctype.h>

/* The bytes of a control character at `c`: 1 for C0 and DEL, 2 for a C1
 * control in UTF-8 (U+0080 to U+009F, which some terminals obey too), 0
 * for anything else. */
static size_t control_len(const char *c)
{
	unsigned char u = (unsigned char)c[0], v = (unsigned char)c[1];
	if (u < 0x20 || u == 0x7f)
		return 1;
	return u == 0xc2 && v >= 0x80 && v <= 0x9f ? 2 : 0;
}

/* `s` with each control character as '?'. */
static void put_text(FILE *f, const char *s)
{
	while (*s) {
		size_t n = control_len(s);
		fputc(n ? '?' : *s, f);
		s += n ? n : 1;
	}
}

/* One argument as a POSIX shell reads it back: bare when it holds only
 * safe characters, else in single quotes; with control characters, in
 * $'...' with \xHH escapes (bash, zsh, ksh, and POSIX.1-2024 sh). */
static void put_arg(FILE *f, const char *s)
{
	bool bare = *s != '\0', control = false;
	for (const char *c = s; *c; c++) {
		unsigned char u = (unsigned char)*c;
		if (control_len(c))
			control = true;
		if (!(isalnum(u) || strchr("_@%+=:,./-", u) || u >= 0x80))
			bare = false;
	}
	if (bare && !control) {
		fputs(s, f);
	} else if (!control) {
		fputc('\'', f);
		for (const char *c = s; *c; c++) {
			if (*c == '\'')
				fputs("'\\''", f);
			else
				fputc(*c, f);
		}
		fputc('\'', f);
	} else {
		fputs("$'", f);
		for (const char *c = s; *c; c++) {
			unsigned char u = (unsigned char)*c;
			if (control_len(c) == 2) {
				fprintf(f, "\\x%02x\\x%02x", u, (unsigned char)c[1]);
				c++;
			} else if (control_len(c)) {
				fprintf(f, "\\x%02x", u);
			} else if (u == '\'' || u == '\\') {
				fprintf(f, "\\%c", u);
			} else {
				fputc(u, f);
			}
		}
		fputc('\'', f);
	}
}

static void put_code(FILE *f, const json_t *code)
{
	const char *commit = rq_json_str(code, "commit", NULL), *branch = rq_json_str(code, "branch", NULL);

	fputs("  code     ", f);
	if (!code) {
		fputs("not recorded (not run in a git work tree)\n", f);
		return;
	}
	put_text(f, commit ? commit : "no commit yet");
	fputs(" (", f);
	if (branch) {
		fputs("branch ", f);
		put_text(f, branch);
	} else {
		fputs("detached HEAD", f);
	}
	fputs(json_is_true(json_object_get(code, "dirty")) ? "), dirty: tracked files differed from it\n" : ")\n",
	      f);
}

/* "cpu:MODEL xN; gpu:NAME xK", as the hardware profile is spelt. */
static void put_hardware(FILE *f, const json_t *hw)
{
	const json_t *cpu = json_object_get(hw, "cpu"), *gpus = json_object_get(hw, "gpus"), *g;
	size_t i;

	fputs("  hardware cpu:", f);
	put_text(f, rq_json_str(cpu, "model", "unknown"));
	fprintf(f, " x%" JSON_INTEGER_FORMAT, rq_json_int(cpu, "count", 0));
	json_array_foreach(gpus, i, g) {
		fputs("; gpu:", f);
		put_text(f, rq_json_str(g, "model", "unknown"));
		fprintf(f, " x%" JSON_INTEGER_FORMAT, rq_json_int(g, "count", 0));
	}
	fputc('\n', f);
}

void show_provenance(FILE *f, const rq_entry *e)
{
	const json_t *p = json_object_get(e->body, "provenance"), *argv = json_object_get(p, "argv"), *a;
	const char *cwd = rq_json_str(p, "cwd", NULL);
	size_t i;

	if (!json_is_object(p))
		return;
	fputs("\nprovenance\n", f);
	if (json_is_array(argv)) {
		fputs("  command ", f);
		json_array_foreach(argv, i, a) {
			fputc(' ', f);
			put_arg(f, json_is_string(a) ? json_string_value(a) : "?");
		}
		fputc('\n', f);
	}
	fputs("  cwd      ", f);
	put_text(f, cwd ? cwd : "not recorded (outside the project)");
	fputc('\n', f);
	put_code(f, json_object_get(p, "code"));
	if (json_object_get(p, "hardware"))
		put_hardware(f, json_object_get(p, "hardware"));
}
