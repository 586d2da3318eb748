/* resque's entry point: global options, the command table and dispatch.
 *
 * To add a command: write cmd/NAME.c with `int cmd_NAME(int argc, char **argv)`
 * built on an option table (see cmd/opt.h and cmd/note.c for a small
 * example), declare it in cmd/cmd.h, and add one line to `commands` below
 * (alphabetical order). The Makefile picks up every cmd/ file by itself. */
#include "common.h"
#include "cmd.h"
#include "provenance.h"
#include "term.h"
#include "resque/version.h"

#include <sodium.h>
#include <unistd.h>

static const struct cmd_entry commands[] = {
	/* name          function          flags      summary */
	{ "audit",       cmd_audit,        0,         "prove entries and consistency; check proofs without a repository" },
	{ "checkpoint",  cmd_checkpoint,   0,         "print a signed checkpoint of the ledger's Merkle tree" },
	{ "clone",       cmd_clone,        0,         "make a repository from a remote's ledger, verified" },
	{ "commit",      cmd_commit,       0,         "record a model version (weights, data, representation, cost)" },
	{ "config",      cmd_config,       0,         "read or set repository settings (region, PUE, key)" },
	{ "dataset",     cmd_dataset,      0,         "record datasets and see what changed (add, show, status)" },
	{ "diff",        cmd_diff,         0,         "compare two versions: datasets, representation, parameters" },
	{ "fingerprint", cmd_fingerprint,  0,         "print the fingerprint of a file or directory" },
	{ "import",      cmd_import,       0,         "record what CodeCarbon or nvidia-smi measured as an actual" },
	{ "init",        cmd_init,         0,         "create a repository and its signed genesis entry" },
	{ "key",         cmd_key,          0,         "manage signing keys (gen, list, add, revoke)" },
	{ "log",         cmd_log,          0,         "list ledger entries, newest first" },
	{ "mark",        cmd_mark,         0,         "report an epoch, a metric or the target to the enclosing 'resque run'" },
	{ "measure",     cmd_measure,      0,         "RESQUE_dist or RESQUE_task between given files" },
	{ "note",        cmd_note,         0,         "append a signed note to the ledger" },
	{ "plan",        cmd_plan,         0,         "forecast an update's epochs, energy and carbon; rank candidates" },
	{ "pull",        cmd_pull,         0,         "fetch, verify and take a remote's new entries (--rebase)" },
	{ "push",        cmd_push,         0,         "send the ledger's new entries to a remote" },
	{ "record",      cmd_record,       0,         "record what a planned update really cost (an actual)" },
	{ "reindex",     cmd_reindex,      0,         "rebuild index.db from the ledger" },
	{ "remote",      cmd_remote,       0,         "list, add or remove the remotes the ledger is shared with" },
	{ "report",      cmd_report,       0,         "the lifetime report: costs, forecasts against actuals, savings" },
	{ "run",         cmd_run,          0,         "run a training command, meter it and record what it cost" },
	{ "shard",       cmd_shard,        0,         "RESQUE_task over shards: map and reduce steps for a cluster" },
	{ "show",        cmd_show,         0,         "show one ledger entry" },
	{ "summarize",   cmd_summarize,    0,         "write or merge representation summaries (.rqs)" },
	{ "verify",      cmd_verify,       0,         "check the ledger's signatures, chain and index" },
};

/* The options before the command, which main() parses by hand: this table
 * documents them (man page, completion: cmd/gendoc.c). */
static const struct opt global_opts[] = {
	{ OPT_STRING, 'C', NULL, NULL, "DIR", "run as if resque was started in DIR" },
	{ OPT_BOOL, 0, "color", NULL, NULL, "colour the output; --color=WHEN: auto (the default), always or never" },
	{ OPT_BOOL, 0, "no-pager", NULL, NULL, "do not page long output" },
	{ OPT_BOOL, 'v', "version", NULL, NULL, "print the version and exit" },
	{ OPT_BOOL, 'h', "help", NULL, NULL, "list the commands and exit" },
	{ OPT_END },
};

static const struct cmd_entry *find_command(const char *name)
{
	for (size_t i = 0; i < RQ_ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void print_main_help(FILE *f)
{
	fprintf(f, "usage: resque [-C DIR] [--color[=WHEN]] [--no-pager] [--version] [--help]\n"
		   "              <command> [<args>]\n\n"
		   "resque versions a model's life cycle with a signed sustainability ledger.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < RQ_ARRAY_SIZE(commands); i++)
		if (!(commands[i].flags & CMD_HIDDEN))
			fprintf(f, "    %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nSee 'resque help <command>' or 'resque <command> --help' for one command.\n"
		   "Exit status: 0 success, 1 failure, 2 usage error, 3 integrity violation.\n");
}

static int unknown_command(const char *name)
{
	const char *best = NULL;
	size_t bestd = (size_t)-1;
	for (size_t i = 0; i < RQ_ARRAY_SIZE(commands); i++) {
		size_t d = cmd_edit_distance(name, commands[i].name);
		if (d < bestd) {
			bestd = d;
			best = commands[i].name;
		}
	}
	fprintf(stderr, "resque: '%s' is not a resque command. See 'resque --help'.\n", name);
	if (best && bestd <= 2 + strlen(name) / 4)
		fprintf(stderr, "\nThe most similar command is\n\t%s\n", best);
	return EXIT_USAGE;
}

static int run_command(const struct cmd_entry *c, int argc, char **argv)
{
	/* Commands find the repository themselves (cmd_open_ledger), after
	 * parsing their options, so that usage errors win over "no repository". */
	return c->fn(argc, argv);
}

int main(int argc, char **argv)
{
	int i = 1, status;

	cmd_provenance_set_argv(argc, argv); /* recorded by run and commit */
	if (sodium_init() < 0) {
		fprintf(stderr, "resque: libsodium failed to initialise\n");
		return EXIT_FAIL;
	}
	/* Hidden, for the build and the tests (cmd/gendoc.c): every command's
	 * option table as text, or as man pages and completion scripts. */
	if (argc == 2 && strcmp(argv[1], "--dump-options") == 0)
		return cmd_gendoc_dump(commands, RQ_ARRAY_SIZE(commands), global_opts);
	if (argc == 3 && strcmp(argv[1], "--gen-docs") == 0)
		return cmd_gendoc_write(commands, RQ_ARRAY_SIZE(commands), global_opts, argv[2]);
	while (i < argc && argv[i][0] == '-') {
		const char *a = argv[i];
		if (strcmp(a, "--version") == 0 || strcmp(a, "-v") == 0) {
			printf("resque %s\n", RQ_VERSION);
			return EXIT_OK;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			print_main_help(stdout);
			return EXIT_OK;
		} else if (strcmp(a, "-C") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "resque: -C needs a directory\n");
				return EXIT_USAGE;
			}
			cmd_dir_option = argv[i + 1];
			i += 2;
		} else if (strncmp(a, "-C", 2) == 0) {
			cmd_dir_option = a + 2;
			i++;
		} else if (term_main_option(a, &status)) { /* --color[=WHEN], --no-pager */
			if (status)
				return status;
			i++;
		} else {
			fprintf(stderr, "resque: unknown option '%s'\n", a);
			print_main_help(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		print_main_help(stderr);
		return EXIT_USAGE;
	}
	if (cmd_dir_option && !rq_is_dir(cmd_dir_option)) {
		fprintf(stderr, "resque: -C %s: not a directory\n", cmd_dir_option);
		return EXIT_FAIL;
	}
	const char *name = argv[i];
	if (strcmp(name, "help") == 0) {
		if (i + 1 >= argc) {
			print_main_help(stdout);
			return EXIT_OK;
		}
		const struct cmd_entry *c = find_command(argv[i + 1]);
		if (!c)
			return unknown_command(argv[i + 1]);
		char help[] = "--help";
		char *hargv[] = { argv[i + 1], help, NULL };
		status = c->fn(2, hargv);
	} else if (strcmp(name, "version") == 0) {
		printf("resque %s\n", RQ_VERSION);
		status = EXIT_OK;
	} else {
		const struct cmd_entry *c = find_command(name);
		if (!c)
			return unknown_command(name);
		status = run_command(c, argc - i, argv + i);
	}
	/* A full disk shows up only here: report it rather than exit 0. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "resque: write error on standard output: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	return status;
}
