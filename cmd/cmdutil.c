/* Helpers shared by the commands: error reporting and exit statuses, JSON
 * output, repository discovery, subcommand dispatch. */
#include "common.h"
#include "cmd.h"
#include "term.h"
#include "checkpoint.h"
#include "bounds.h"
#include "json.h"
#include "resque/repo.h"
#include "ledger_int.h"
#include "resque/keystore.h"
#include "tlog.h"

#include <math.h>
#include <sodium.h>
#include <termios.h>
#include <unistd.h>

const char *cmd_dir_option;

int cmd_fail_code(int code)
{
	fputs("resque: ", stderr);
	term_put_lines(stderr, rq_error_last());
	fputc('\n', stderr);
	return code == RQ_EINTEGRITY ? EXIT_INTEGRITY : EXIT_FAIL;
}

int cmd_fail(void)
{
	return cmd_fail_code(rq_error_code());
}

int cmd_error(const char *fmt, ...)
{
	va_list ap;
	rq_buf msg = RQ_BUF_INIT;
	fputs("resque: ", stderr);
	va_start(ap, fmt);
	rq_buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	term_put_lines(stderr, msg.ptr);
	fputc('\n', stderr);
	rq_buf_release(&msg);
	return EXIT_FAIL;
}

void cmd_warn(const char *fmt, ...)
{
	va_list ap;
	rq_buf msg = RQ_BUF_INIT;
	fprintf(stderr, "%swarning:%s ", term_on(stderr, TERM_WARN), term_off(stderr));
	va_start(ap, fmt);
	rq_buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	term_put_lines(stderr, msg.ptr);
	fputc('\n', stderr);
	rq_buf_release(&msg);
}

void cmd_warn_lines(const char *lines)
{
	while (*lines) {
		size_t n = strcspn(lines, "\n");
		cmd_warn("%.*s", (int)n, lines);
		lines += n + (lines[n] == '\n');
	}
}

int cmd_usage(const struct cmd_help *h, const struct opt *opts, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = opt_vusage_error(h, opts, fmt, ap);
	va_end(ap);
	return rc;
}

int cmd_print_json(const json_t *j)
{
	rq_buf out = RQ_BUF_INIT;
	int err = rq_json_dump(&out, j, RQ_JSON_PRETTY);
	if (err) {
		rq_buf_release(&out);
		return cmd_fail();
	}
	fwrite(out.ptr, 1, out.len, stdout);
	rq_buf_release(&out);
	return 0;
}

int cmd_find_repo(rq_buf *out)
{
	int err = rq_repo_discover(out, cmd_dir_option);
	if (err)
		return cmd_fail();
	return 0;
}

void (*cmd_collect_family)(const char *family, const struct subcmd *subs);

int cmd_dispatch_sub(const char *family, const struct subcmd *subs, int argc, char **argv)
{
	if (cmd_collect_family) {
		cmd_collect_family(family, subs);
		return EXIT_OK;
	}
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		FILE *f = argc < 2 ? stderr : stdout;
		fprintf(f, "usage: resque %s <subcommand> [options]\n\n", family);
		for (const struct subcmd *s = subs; s->name; s++)
			fprintf(f, "    %-12s %s\n", s->name, s->summary);
		fprintf(f, "\nSee 'resque %s <subcommand> --help'.\n", family);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	for (const struct subcmd *s = subs; s->name; s++)
		if (strcmp(s->name, argv[1]) == 0)
			return s->fn(argc - 1, argv + 1);
	fprintf(stderr, "resque %s: '%s' is not a subcommand", family, argv[1]);
	const struct subcmd *best = NULL;
	size_t bestd = 3;
	for (const struct subcmd *s = subs; s->name; s++) {
		size_t d = cmd_edit_distance(argv[1], s->name);
		if (d < bestd) {
			bestd = d;
			best = s;
		}
	}
	if (best)
		fprintf(stderr, "; did you mean '%s'?", best->name);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

size_t cmd_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row = rq_xcalloc(lb + 1, sizeof(*row));
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t v = diag + cost;
			if (row[j] + 1 < v)
				v = row[j] + 1;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			row[j] = v;
			diag = up;
		}
	}
	size_t d = row[lb];
	free(row);
	return d;
}

char *cmd_passphrase(const char *prompt)
{
	const char *env = getenv("RESQUE_PASSPHRASE");
	size_t cap = 1024;
	char *p = sodium_malloc(cap);
	if (!p)
		return NULL;
	if (env) {
		snprintf(p, cap, "%s", env);
		return p;
	}
	FILE *tty = fopen("/dev/tty", "r+");
	if (!tty) {
		sodium_free(p);
		return NULL;
	}
	struct termios old, noecho;
	bool restore = tcgetattr(fileno(tty), &old) == 0;
	if (restore) {
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fileno(tty), TCSAFLUSH, &noecho);
	}
	fprintf(tty, "%s", prompt);
	fflush(tty);
	bool ok = fgets(p, (int)cap, tty) != NULL;
	if (restore)
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputc('\n', tty);
	fclose(tty);
	if (!ok) {
		sodium_free(p);
		return NULL;
	}
	p[strcspn(p, "\r\n")] = '\0';
	return p;
}

void cmd_passphrase_free(char *p)
{
	if (p)
		sodium_free(p); /* wipes */
}

static int open_ledger(rq_ledger **out, rq_key **signer, bool guard);

int cmd_open_ledger(rq_ledger **out, rq_key **signer)
{
	return open_ledger(out, signer, true);
}

int cmd_open_ledger_unguarded(rq_ledger **out, rq_key **signer)
{
	return open_ledger(out, signer, false);
}

static int open_ledger(rq_ledger **out, rq_key **signer, bool guard)
{
	rq_buf dir = RQ_BUF_INIT, keyid = RQ_BUF_INIT;
	rq_ledger *l = NULL;
	rq_key *k = NULL;
	int rc = 0, err;

	*out = NULL;
	if (signer)
		*signer = NULL;
	if ((rc = cmd_find_repo(&dir)))
		goto done;
	if ((err = rq_ledger_open(&l, dir.ptr))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if (rq_ledger_index_memory(l))
		fprintf(stderr, "resque: warning: %s: working from the ledger in memory\n", rq_ledger_index_memory(l));
	/* Every command checks what is new in the ledger since it was last
	 * verified before it uses anything (verify and reindex look at the
	 * ledger as it is, whatever it is). */
	rq_tlog_set_notice(cmd_tlog_notice, NULL);
	if (signer) {
		const char *id = NULL;
		char *pass = NULL;
		if (rq_ledger_config_get(&keyid, l, "resque.signingkey") == 0)
			id = keyid.ptr;
		rq_error_clear();
		if (rq_keystore_is_encrypted(id)) {
			pass = cmd_passphrase("passphrase for the signing key: ");
			if (!pass) {
				rc = cmd_error("the signing key is encrypted: set RESQUE_PASSPHRASE or run in a terminal");
				goto done;
			}
		}
		err = rq_keystore_load(&k, id, pass);
		cmd_passphrase_free(pass);
		if (err) {
			rc = cmd_fail_code(err);
			goto done;
		}
		rq_ledger_set_signer(l, k);
	}
	if (guard && (err = rq_ledger_guard(l))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if (signer) {
		*signer = k;
		k = NULL;
	}
	*out = l;
	l = NULL;
done:
	rq_key_free(k);
	rq_ledger_free(l);
	rq_buf_release(&dir);
	rq_buf_release(&keyid);
	return rc;
}

void cmd_close_ledger(rq_ledger *l, rq_key *signer)
{
	rq_ledger_free(l);
	rq_key_free(signer);
}

int cmd_print_entry(const rq_entry *e)
{
	json_t *j = cmd_entry_json(e);
	json_object_set(j, "body", e->body);
	int rc = cmd_print_json(j);
	json_decref(j);
	return rc;
}

json_t *cmd_entry_json(const rq_entry *e)
{
	rq_buf summary = RQ_BUF_INIT;
	rq_entry_summary(&summary, e);
	json_t *j = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s}", "id", e->id, "seq",
			      (json_int_t)e->seq, "type", e->type, "time", e->time, "signer", e->signer,
			      "summary", summary.ptr, "prev", e->prev);
	const char *name = rq_entry_name(e);
	if (name)
		json_object_set_new(j, "name", json_string(name));
	if (e->commit[0])
		json_object_set_new(j, "commit", json_string(e->commit));
	rq_buf_release(&summary);
	return j;
}

void cmd_tlog_notice(void *ctx, const char *message)
{
	(void)ctx;
	fprintf(stderr, "resque: %s\n", message);
}

int cmd_load_verifier(struct rq_verifier *out, const char *arg)
{
	rq_buf text = RQ_BUF_INIT;
	int err;
	if (access(arg, F_OK) == 0) {
		if ((err = rq_file_read_max(&text, arg, RQ_CHECKPOINT_MAX)) == 0)
			err = rq_verifier_parse(out, text.ptr, text.len, arg);
	} else {
		err = rq_verifier_parse(out, arg, strlen(arg), "--key");
		/* "missing.pub" is a file that is not there, not a bad key */
		if (err && (strchr(arg, '/') || strchr(arg, '.')))
			err = rq_error_set(RQ_EIO, "%s: cannot read: %s", arg, strerror(ENOENT));
	}
	rq_buf_release(&text);
	return err;
}

int cmd_train_size_check(double v)
{
	return isnan(v) ? 0 : rq_bound_check("train_size", v, "--train-size");
}

void cmd_train_size_apply(json_t *body, double flag, const struct rq_entry *plan)
{
	double planned = plan ? rq_json_num(plan->body, "train_size", NAN) : NAN;

	if (!isnan(flag)) {
		json_object_set_new(body, "train_size", json_integer((json_int_t)flag));
		json_object_set_new(body, "train_size_source", json_string("--train-size"));
	} else if (planned >= 1 && rq_bound_check("train_size", planned, NULL) == 0) {
		json_object_set_new(body, "train_size", json_integer((json_int_t)planned));
		json_object_set_new(body, "train_size_source", json_string("plan"));
	}
	rq_error_clear();
}
