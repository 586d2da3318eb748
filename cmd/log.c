/* resque log: the ledger's entries, newest first. */
#include "common.h"
#include "cmd.h"
#include "resque/ledger.h"

static const struct cmd_help help = {
	"log", "list ledger entries, newest first",
	"One line per entry: short id, sequence number, UTC time, type, signer\n"
	"and a summary. --json prints an array of objects with id, seq, type,\n"
	"time, signer, summary, prev, name (named entries) and commit.",
};

struct collect {
	rq_entry **v;
	size_t n;
};

static int collect(const rq_entry *e, void *ctx)
{
	struct collect *c = ctx;
	rq_entry *copy = NULL;
	int err = rq_entry_parse(&copy, e->bytes.ptr, e->bytes.len);
	if (err)
		return err;
	memcpy(copy->commit, e->commit, sizeof(copy->commit));
	c->v = rq_xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
	c->v[c->n++] = copy;
	return 0;
}

int cmd_log(int argc, char **argv)
{
	bool json = false;
	const char *type = NULL;
	long long max = -1;
	const struct opt opts[] = {
		{ OPT_STRING, 't', "type", &type, "TYPE", "only entries of this type (init, key, dataset, version, plan, actual, note)" },
		{ OPT_INT, 'n', "max-count", &max, "N", "at most N entries" },
		{ OPT_BOOL, 0, "json", &json, NULL, "print a JSON array" },
		{ OPT_END },
	};
	struct collect c = { NULL, 0 };
	rq_ledger *l = NULL;
	int rc, err;

	OPT_PARSE(&help, opts, argc, argv);
	if (type && !rq_entry_type_known(type))
		return cmd_usage(&help, opts, "unknown entry type '%s'", type);
	if ((rc = cmd_open_ledger(&l, NULL)))
		return rc;
	if ((err = rq_ledger_foreach(l, type, collect, &c))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	size_t shown = 0;
	json_t *arr = json ? json_array() : NULL;
	for (size_t i = c.n; i-- > 0;) {
		if (max >= 0 && shown >= (size_t)max)
			break;
		shown++;
		rq_entry *e = c.v[i];
		if (json) {
			json_array_append_new(arr, cmd_entry_json(e));
		} else {
			rq_buf s = RQ_BUF_INIT;
			rq_entry_summary(&s, e);
			printf("%.12s %4" PRIu64 " %s %-7s %.8s  %s\n", e->id, e->seq, e->time, e->type, e->signer, s.ptr);
			rq_buf_release(&s);
		}
	}
	if (json) {
		rc = cmd_print_json(arr);
		json_decref(arr);
	}
done:
	for (size_t i = 0; i < c.n; i++)
		rq_entry_free(c.v[i]);
	free(c.v);
	cmd_close_ledger(l, NULL);
	return rc;
}
