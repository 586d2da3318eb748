/* resque remote: the remotes a ledger is shared through (git remotes in
 * .resque/config). */
#include "common.h"
#include "cmd.h"
#include "sync.h"

static const struct cmd_help help = {
	"remote", "list, add or remove the remotes the ledger is shared with",
	"  resque remote [-v] [--json]     list the remotes (-v: with their URLs)\n"
	"  resque remote add NAME URL      add one (a path, file://, git://, ssh://,\n"
	"                                  user@host:path, http:// or https://)\n"
	"  resque remote remove NAME       remove one\n"
	"\n"
	"Remotes are git remotes of .resque/config: plain git sees them too.\n"
	"Credentials come as git users expect: for ssh the ssh agent, then\n"
	"~/.ssh/id_ed25519 and ~/.ssh/id_rsa (hosts checked against\n"
	"~/.ssh/known_hosts); for http(s) a user:password in the URL, then git's\n"
	"credential helpers ('git credential fill'), which never prompt unless\n"
	"stdin is a terminal.",
};

static const struct cmd_help help_add = { "remote add", "add a remote", NULL };
static const struct cmd_help help_remove = { "remote remove", "remove a remote", NULL };

static int remote_add(int argc, char **argv)
{
	const char *name = NULL, *url = NULL;
	const struct opt opts[] = {
		{ OPT_ARG, 0, "NAME", &name, NULL, "the remote's name", OPT_REQUIRED },
		{ OPT_ARG, 0, "URL", &url, NULL, "where its ledger is", OPT_REQUIRED },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	int rc, err;

	OPT_PARSE(&help_add, opts, argc, argv);
	if (!rq_remote_name_valid(name))
		return cmd_usage(&help_add, opts, "'%s' is not a valid remote name (letters, digits, '.', '_', '-')", name);
	if ((rc = cmd_open_ledger(&l, NULL)))
		return rc;
	rq_buf sub = RQ_BUF_INIT;
	if ((err = rq_remote_url_check(url)) || (err = rq_remote_url_normalise(&sub, url))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	url = sub.ptr;
	if ((err = rq_remote_add(l, name, url)))
		rc = cmd_fail_code(err);
done:
	rq_buf_release(&sub);
	cmd_close_ledger(l, NULL);
	return rc;
}

static int remote_remove(int argc, char **argv)
{
	const char *name = NULL;
	const struct opt opts[] = {
		{ OPT_ARG, 0, "NAME", &name, NULL, "the remote's name", OPT_REQUIRED },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	int rc, err;

	OPT_PARSE(&help_remove, opts, argc, argv);
	if ((rc = cmd_open_ledger(&l, NULL)))
		return rc;
	if ((err = rq_remote_remove(l, name)))
		rc = cmd_fail_code(err);
	cmd_close_ledger(l, NULL);
	return rc;
}

struct listing {
	bool verbose;
	json_t *json;
};

static int list_one(const char *name, const char *url, void *ctx)
{
	struct listing *li = ctx;
	if (li->json)
		json_array_append_new(li->json, json_pack("{s:s, s:s}", "name", name, "url", url));
	else if (li->verbose)
		printf("%s\t%s\n", name, url);
	else
		printf("%s\n", name);
	return 0;
}

int cmd_remote(int argc, char **argv)
{
	static const struct subcmd subs[] = {
		{ "add", remote_add, "add a remote" },
		{ "remove", remote_remove, "remove a remote" },
		{ NULL, NULL, NULL },
	};
	/* gendoc: the subcommands' tables, then the listing's own below */
	if (cmd_collect_family)
		cmd_collect_family("remote", subs);
	if (argc >= 2 && strcmp(argv[1], "add") == 0)
		return remote_add(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "remove") == 0 || strcmp(argv[1], "rm") == 0))
		return remote_remove(argc - 1, argv + 1);

	bool verbose = false, json = false;
	const struct opt opts[] = {
		{ OPT_BOOL, 'v', "verbose", &verbose, NULL, "show each remote's URL" },
		{ OPT_BOOL, 0, "json", &json, NULL, "list as JSON: [{\"name\", \"url\"}]" },
		{ OPT_END },
	};
	struct listing li = { false, NULL };
	rq_ledger *l = NULL;
	int rc, err;

	OPT_PARSE(&help, opts, argc, argv);
	if ((rc = cmd_open_ledger(&l, NULL)))
		return rc;
	li.verbose = verbose;
	li.json = json ? json_array() : NULL;
	if ((err = rq_remote_each(l, list_one, &li)))
		rc = cmd_fail_code(err);
	else if (json)
		rc = cmd_print_json(li.json);
	json_decref(li.json);
	cmd_close_ledger(l, NULL);
	return rc;
}
