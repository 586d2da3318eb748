/* The command-line front end: the command table's types, the functions of
 * every command (one file each in cmd/), and the helpers they share.
 * Only cmd/ prints to stdout/stderr or decides exit statuses. */
#ifndef RESQUE_CMD_H
#define RESQUE_CMD_H

#include <jansson.h>
#include "opt.h"
#include "resque/buf.h"

/* Exit statuses, a public contract (README.md). */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_INTEGRITY = 3 };

#define CMD_HIDDEN 1u /* not listed by resque --help */

struct cmd_entry {
	const char *name;
	int (*fn)(int argc, char **argv); /* argv[0] is the command name */
	unsigned flags;
	const char *summary;
};

/* Every command, in alphabetical order of file name. */
int cmd_audit(int argc, char **argv);
int cmd_audit_report(int argc, char **argv); /* resque audit report (cmd/audit_report.c) */
int cmd_checkpoint(int argc, char **argv);
int cmd_clone(int argc, char **argv);
int cmd_commit(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_dataset(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_fingerprint(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_mark(int argc, char **argv);
int cmd_measure(int argc, char **argv);
int cmd_note(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_reindex(int argc, char **argv);
int cmd_remote(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_shard(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_summarize(int argc, char **argv);
int cmd_verify(int argc, char **argv);

/* Print "resque: <last error>" on stderr and return the exit status for
 * the last error code: 3 for RQ_EINTEGRITY, 1 otherwise. The one place
 * where library errors become exit statuses. */
int cmd_fail(void);
/* Same, for an error code just returned (sets nothing else). */
int cmd_fail_code(int code);
/* Print a printf-style message as "resque: ..." and return 1. */
int cmd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "resque <cmd>: msg" and the usage line; return 2. */
int cmd_usage(const struct cmd_help *h, const struct opt *opts, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "warning: ..." on stderr. These three print the message through
 * term_put_lines: text from files and other people's entries never
 * reaches the terminal as escape sequences. */
void cmd_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* cmd_warn for each line of `lines` (a library's warnings). */
void cmd_warn_lines(const char *lines);

/* Print one JSON document (indented) on stdout; returns 0 or cmd_fail(). */
int cmd_print_json(const json_t *j);

/* The directory given with -C, or NULL for the current one. */
extern const char *cmd_dir_option;

/* Find the repository (.resque directory) from -C, RESQUE_DIR or the
 * working directory upwards. Prints the error and returns 1 when none. */
int cmd_find_repo(rq_buf *out);

/* Open the repository's ledger (discovering it as cmd_find_repo does).
 * With `signer` non-NULL, also load the signing key (config
 * resque.signingkey, else the key store's default; the passphrase from
 * RESQUE_PASSPHRASE or a terminal prompt) and set it on the ledger; the
 * caller frees both with cmd_close_ledger. Prints the error and returns
 * the exit status (non-zero) on failure. */
struct rq_ledger;
struct rq_key;
int cmd_open_ledger(struct rq_ledger **out, struct rq_key **signer);
/* The same without the guard (rq_ledger_guard): for verify and reindex,
 * which look at the ledger whatever state it is in. */
int cmd_open_ledger_unguarded(struct rq_ledger **out, struct rq_key **signer);
void cmd_close_ledger(struct rq_ledger *l, struct rq_key *signer);
/* The passphrase for an encrypted key: RESQUE_PASSPHRASE, else a prompt on
 * the terminal (echo off), else NULL. Returned in sodium_malloc memory;
 * free with cmd_passphrase_free. */
char *cmd_passphrase(const char *prompt);
void cmd_passphrase_free(char *p);

/* The common fields of an entry for --json output: id, seq, type, time,
 * signer, summary, prev, name (if any), commit. New reference. */
struct rq_entry;
json_t *cmd_entry_json(const struct rq_entry *e);
/* Print cmd_entry_json(e) with the whole body under "body"; 0 or cmd_fail(). */
int cmd_print_entry(const struct rq_entry *e);

/* Dispatch `argv[1]` among subcommands ("key gen"); prints the family's
 * help for --help or no subcommand. */
struct subcmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};
int cmd_dispatch_sub(const char *family, const struct subcmd *subs, int argc, char **argv);
/* While set (cmd/gendoc.c collecting the option tables), cmd_dispatch_sub
 * hands the family's subcommands to it and returns 0, running none. */
extern void (*cmd_collect_family)(const char *family, const struct subcmd *subs);

/* resque --dump-options and resque --gen-docs DIR (cmd/gendoc.c): every
 * command's option table, as text for tests, or as man pages and bash and
 * zsh completion. `cmds` is main.c's command table, `global_opts` the
 * options main() takes before the command. Return the exit status. */
int cmd_gendoc_dump(const struct cmd_entry *cmds, size_t n, const struct opt *global_opts);
int cmd_gendoc_write(const struct cmd_entry *cmds, size_t n, const struct opt *global_opts, const char *dir);

/* A verifier key from --key: a file holding it (read up to
 * RQ_CHECKPOINT_MAX bytes, whatever the file is) or the key's text itself
 * (the one line of 'resque key export', a public key file's text, 64 hex
 * digits). 0, or an error code with "FILE: reason" / "--key: reason". */
struct rq_verifier;
int cmd_load_verifier(struct rq_verifier *out, const char *arg);

/* For rq_tlog_set_notice: "resque: MESSAGE" on stderr (a full
 * verification runs first, the result could not be remembered). */
void cmd_tlog_notice(void *ctx, const char *message);

/* Check a --train-size given on the command line (NaN: not given): a
 * positive whole number. 0, or RQ_EINVALID with a message naming the
 * value ("--train-size: train_size 0 is outside the plausible range ..."). */
int cmd_train_size_check(double v);
/* Put the training-set size on an actual's body (docs/FORMATS.md): `flag`
 * (--train-size) when not NaN, else the linked `plan`'s train_size (NULL:
 * none), with `train_size_source` saying which; nothing when neither. */
void cmd_train_size_apply(json_t *body, double flag, const struct rq_entry *plan);

/* Levenshtein distance, for "did you mean". */
size_t cmd_edit_distance(const char *a, const char *b);

#endif
