/* resque log: the ledger's entries, newest first. */
#include "common.h"
#include "cmd.h"
#include "json.h"
#include "ledger_int.h"

static const struct cmd_help help = {
	"log", "list ledger entries, newest first",
	"One line per entry: short id, sequence number, UTC time, type, signer\n"
	"and a summary; versions, plans and actuals appear interleaved in the\n"
	"order they were recorded. --graph draws the version tree instead, each\n"
	"version with the plans made from it and their actuals.\n"
	"--json prints an array of objects with id, seq, type, time, signer,\n"
	"summary, prev, name (named entries) and commit; with --graph, version\n"
	"objects also carry \"parent\" (an id or null).",
};

struct collect {
	rq_entry **v;
	size_t n, alloc;
};

static int collect(const rq_entry *e, void *ctx)
{
	struct collect *c = ctx;
	rq_entry *copy = NULL;
	int err = rq_entry_parse(&copy, e->bytes.ptr, e->bytes.len);
	if (err)
		return err;
	memcpy(copy->commit, e->commit, sizeof(copy->commit));
	RQ_ALLOC_GROW(c->v, c->n + 1, c->alloc);
	c->v[c->n++] = copy;
	return 0;
}

static bool body_is(const rq_entry *e, const char *key, const char *id)
{
	const char *v = rq_json_str(e->body, key, NULL);
	return v && strcmp(v, id) == 0;
}

static void graph_version(rq_entry **v, size_t n, size_t at, const char *prefix, bool last, bool root)
{
	const rq_entry *e = v[at];
	rq_buf s = RQ_BUF_INIT, pre = RQ_BUF_INIT;
	rq_entry_summary(&s, e);
	printf("%s%s%.12s %s\n", prefix, root ? "" : (last ? "`-- " : "|-- "), e->id, s.ptr);
	rq_buf_puts(&pre, prefix);
	if (!root)
		rq_buf_puts(&pre, last ? "    " : "|   ");
	/* plans from this version, and their actuals */
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i]->type, "plan") || !body_is(v[i], "from", e->id))
			continue;
		rq_buf_reset(&s);
		rq_entry_summary(&s, v[i]);
		printf("%s:   %.12s %s\n", pre.ptr, v[i]->id, s.ptr);
		for (size_t j = 0; j < n; j++)
			if (!strcmp(v[j]->type, "actual") && body_is(v[j], "plan", v[i]->id)) {
				rq_buf_reset(&s);
				rq_entry_summary(&s, v[j]);
				printf("%s:     %.12s %s\n", pre.ptr, v[j]->id, s.ptr);
			}
	}
	size_t kids = 0, seen = 0;
	for (size_t i = 0; i < n; i++)
		kids += !strcmp(v[i]->type, "version") && body_is(v[i], "parent", e->id);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i]->type, "version") && body_is(v[i], "parent", e->id))
			graph_version(v, n, i, pre.ptr, ++seen == kids, false);
	rq_buf_release(&s);
	rq_buf_release(&pre);
}

static int print_graph(rq_entry **v, size_t n, bool json)
{
	if (json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++) {
			if (strcmp(v[i]->type, "version") && strcmp(v[i]->type, "plan") && strcmp(v[i]->type, "actual"))
				continue;
			json_t *j = cmd_entry_json(v[i]);
			const char *p = rq_json_str(v[i]->body, "parent", NULL);
			if (!strcmp(v[i]->type, "version"))
				json_object_set_new(j, "parent", p ? json_string(p) : json_null());
			json_array_append_new(arr, j);
		}
		int rc = cmd_print_json(arr);
		json_decref(arr);
		return rc;
	}
	size_t roots = 0;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i]->type, "version") && !rq_json_str(v[i]->body, "parent", NULL)) {
			graph_version(v, n, i, "", true, true);
			roots++;
		}
	if (!roots)
		printf("no versions yet ('resque commit' records one)\n");
	return 0;
}

int cmd_log(int argc, char **argv)
{
	bool json = false;
	const char *type = NULL;
	long long max = -1;
	bool graph = false;
	const struct opt opts[] = {
		{ OPT_STRING, 't', "type", &type, "TYPE", "only entries of this type (init, key, dataset, version, plan, actual, note)" },
		{ OPT_INT, 'n', "max-count", &max, "N", "at most N entries" },
		{ OPT_BOOL, 0, "graph", &graph, NULL, "draw the version tree with plans and actuals" },
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
	if ((err = rq_ledger_foreach(l, graph ? NULL : type, collect, &c))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if (graph) {
		rc = print_graph(c.v, c.n, json);
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
