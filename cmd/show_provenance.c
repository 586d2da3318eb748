/* `resque show`'s lines for an entry's provenance (docs/FORMATS.md
 * "Provenance"): the command line as a shell would take it back, the
 * directory, the code's version and the hardware. Entries come from other
 * people's ledgers: control characters are never printed as they are. */
#include "common.h"
#include "provenance.h"
#include "entry_int.h"
#include "json.h"
#include "term.h"

#include <ctype.h>

/* The bytes of a control character (or of a byte that is not UTF-8) at
 * `c`, printed as one \xHH escape each; 0 for a printable character. */
static size_t control_len(const char *c)
{
	if (term_char_len(c))
		return 0;
	unsigned char u = (unsigned char)c[0], v = (unsigned char)c[1];
	return u == 0xc2 && v >= 0x80 && v <= 0x9f ? 2 : 1;
}

static void put_text(FILE *f, const char *s)
{
	term_put_text(f, s);
}

/* One argument as a POSIX shell reads it back: bare when it holds only
 * safe characters, else in single quotes; with control characters, in
 * $'...' with \xHH escapes (bash, zsh, ksh, and POSIX.1-2024 sh). */
static void put_arg(FILE *f, const char *s)
{
	bool bare = *s != '\0', control = false;
	for (const char *c = s; *c;) {
		size_t n = term_char_len(c);
		if (!n)
			control = true;
		if (!(isalnum((unsigned char)*c) || strchr("_@%+=:,./-", *c) || n > 1))
			bare = false;
		c += n ? n : control_len(c);
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
		for (const char *c = s; *c;) {
			size_t n = term_char_len(c), k = n ? n : control_len(c);
			for (size_t i = 0; !n && i < k; i++)
				fprintf(f, "\\x%02x", (unsigned char)c[i]);
			if (n == 1 && (*c == '\'' || *c == '\\'))
				fputc('\\', f);
			if (n)
				fwrite(c, 1, n, f);
			c += k;
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
	const json_t *c = json_object_get(code, "commit"), *br = json_object_get(code, "branch");
	if (!json_is_object(code) || (c && (!commit || strlen(commit) != 40 || commit[strspn(commit, "0123456789abcdef")])) ||
	    (br && !branch)) {
		fputs("unreadable (a malformed provenance.code)\n", f);
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
	const json_t *dirty = json_object_get(code, "dirty");
	fputs(json_is_true(dirty)      ? "), dirty: tracked files differed from it\n"
	      : json_is_boolean(dirty) ? ")\n"
				       : "), dirty or not: unknown\n",
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
