/* resque log: the ledger's entries, newest first. */
#include "common.h"
#include "cmd.h"
#include "figures.h"
#include "json.h"
#include "ledger_int.h"
#include "term.h"

static const struct cmd_help help = {
	"log", "list ledger entries, newest first",
	"One line per entry: short id, sequence number, UTC time, type, signer\n"
	"and a summary; versions, plans and actuals appear interleaved in the\n"
	"order they were recorded, with their key figures: a version's cost, a\n"
	"plan's forecast (medians) of epochs, kWh and kg CO2e, an actual's\n"
	"figures, method and whether its energy fell inside or outside its\n"
	"plan's 80 % interval. --graph draws the version tree instead, each\n"
	"version with the plans made from it and their actuals, the actuals its\n"
	"cost came from, then the actuals linked to no plan and no version.\n"
	"On a terminal the output goes through a pager (resque --no-pager).\n"
	"--json prints an array of objects with id, seq, type, time, signer,\n"
	"summary, prev, name (named entries) and commit; with --graph, version\n"
	"objects also carry \"parent\" (an id or null).",
};

struct collect {
	rq_entry **v;
	size_t n, alloc;
};

static int collect(rq_entry **e, void *ctx)
{
	struct collect *c = ctx;
	RQ_ALLOC_GROW(c->v, c->n + 1, c->alloc);
	c->v[c->n++] = *e;
	*e = NULL;
	return 0;
}

/* The listing, newest first, as the entries come: printed once all were
 * read and checked (a row index.db got wrong prints nothing). */
struct listing {
	json_t *arr; /* --json */
	rq_buf text;
};

static int list_entry(rq_entry **ep, void *ctx)
{
	struct listing *o = ctx;
	const rq_entry *e = *ep;
	if (o->arr) {
		json_array_append_new(o->arr, cmd_entry_json(e));
	} else {
		rq_buf s = RQ_BUF_INIT;
		figures_line(&s, stdout, e);
		rq_buf_printf(&o->text, "%.12s %4" PRIu64 " %s %-7s %.8s  %s\n", e->id, e->seq, term_text(e->time),
			      term_text(e->type), term_text(e->signer), s.ptr);
		rq_buf_release(&s);
	}
	return 0;
}

/* log without --graph: at most `max` entries (-1: all) of `type` (NULL:
 * any), read from the tip back, so that -n K reads about K rows. */
static int print_list(rq_ledger *l, const char *type, long long max, bool json)
{
	struct listing o = { json ? json_array() : NULL, RQ_BUF_INIT };
	rq_scan s = { &type, type ? 1 : 0, true, max > 0 ? (uint64_t)max : 0 };
	int rc = 0, err = max == 0 ? 0 : rq_ledger__scan(l, &s, list_entry, &o);

	if (!err)
		term_page();
	if (err)
		rc = cmd_fail_code(err);
	else if (json)
		rc = cmd_print_json(o.arr);
	else
		fwrite(o.text.ptr, 1, o.text.len, stdout);
	json_decref(o.arr);
	rq_buf_release(&o.text);
	return rc;
}

/* The version tree: for each id, the indices of the plans made from it,
 * the actuals of it (a plan), the actuals its cost came from (a version)
 * and the versions whose parent it is, in sequence order; so drawing it
 * costs what it prints. An actual linked to no plan (a run from scratch,
 * a forgotten --plan) hangs under the version whose cost names it, else in
 * `loose`; one that a link entry ties to a plan appears there as the link. */
struct graph {
	rq_entry **v;
	json_t *plans, *actuals, *kids, *costs; /* id -> [index] */
	json_t *loose;                          /* [index] */
};

static void link_to(json_t *map, const char *id, size_t at)
{
	json_t *a = json_object_get(map, id);
	if (!a) {
		a = json_array();
		json_object_set_new(map, id, a);
	}
	json_array_append_new(a, json_integer((json_int_t)at));
}

/* Which version's cost each actual is (cost.source "actual:ID", else
 * param_change.actual), and which actuals a link ties to a plan. */
static void graph_citations(json_t *cited, json_t *linked, rq_entry **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const json_t *b = v[i]->body;
		if (!strcmp(v[i]->type, "actual") && rq_json_str(b, "linked_from", NULL))
			json_object_set_new(linked, rq_json_str(b, "linked_from", NULL), json_true());
		if (strcmp(v[i]->type, "version"))
			continue;
		const char *src = rq_json_str(json_object_get(b, "cost"), "source", "");
		const char *pc = rq_json_str(json_object_get(b, "param_change"), "actual", NULL);
		const char *a = strncmp(src, "actual:", 7) == 0 ? src + 7 : pc;
		if (a && !json_object_get(cited, a))
			json_object_set_new(cited, a, json_string(v[i]->id));
	}
}

static void graph_index(struct graph *g, rq_entry **v, size_t n)
{
	json_t *cited = json_object(), *linked = json_object();
	g->v = v;
	g->plans = json_object();
	g->actuals = json_object();
	g->kids = json_object();
	g->costs = json_object();
	g->loose = json_array();
	graph_citations(cited, linked, v, n);
	for (size_t i = 0; i < n; i++) {
		const char *to = NULL;
		json_t *map = NULL;
		if (!strcmp(v[i]->type, "plan"))
			to = rq_json_str(v[i]->body, "from", NULL), map = g->plans;
		else if (!strcmp(v[i]->type, "actual") && (to = rq_json_str(v[i]->body, "plan", NULL)))
			map = g->actuals;
		else if (!strcmp(v[i]->type, "actual") && !json_object_get(linked, v[i]->id)) {
			to = json_string_value(json_object_get(cited, v[i]->id)), map = g->costs;
			if (!to)
				json_array_append_new(g->loose, json_integer((json_int_t)i));
		} else if (!strcmp(v[i]->type, "version"))
			to = rq_json_str(v[i]->body, "parent", NULL), map = g->kids;
		if (to)
			link_to(map, to, i);
	}
	json_decref(cited);
	json_decref(linked);
}

static const rq_entry *linked(const struct graph *g, json_t *map, const char *id, size_t i)
{
	return g->v[json_integer_value(json_array_get(json_object_get(map, id), i))];
}

/* One line of the graph: `lead`, the entry's short id, its key figures and
 * `suffix` (the figures in `s`, a scratch buffer). */
static void graph_line(rq_buf *s, const char *lead, const rq_entry *e, const char *suffix)
{
	rq_buf_reset(s);
	figures_line(s, stdout, e);
	printf("%s%.12s %s%s\n", lead, e->id, s->ptr, suffix);
}

static void graph_version(const struct graph *g, size_t at, const char *prefix, bool last, bool root)
{
	const rq_entry *e = g->v[at];
	rq_buf s = RQ_BUF_INIT, pre = RQ_BUF_INIT, lead = RQ_BUF_INIT;
	rq_buf_printf(&lead, "%s%s", prefix, root ? "" : (last ? "`-- " : "|-- "));
	graph_line(&s, lead.ptr, e, "");
	rq_buf_puts(&pre, prefix);
	if (!root)
		rq_buf_puts(&pre, last ? "    " : "|   ");
	/* the actuals its cost came from, the plans from it and their actuals */
	rq_buf_reset(&lead);
	rq_buf_printf(&lead, "%s:   ", pre.ptr);
	size_t nc = json_array_size(json_object_get(g->costs, e->id));
	for (size_t i = 0; i < nc; i++)
		graph_line(&s, lead.ptr, linked(g, g->costs, e->id, i), " (its cost)");
	size_t np = json_array_size(json_object_get(g->plans, e->id));
	for (size_t i = 0; i < np; i++) {
		const rq_entry *p = linked(g, g->plans, e->id, i);
		rq_buf_reset(&lead);
		rq_buf_printf(&lead, "%s:   ", pre.ptr);
		graph_line(&s, lead.ptr, p, "");
		rq_buf_puts(&lead, "  ");
		size_t na = json_array_size(json_object_get(g->actuals, p->id));
		for (size_t j = 0; j < na; j++)
			graph_line(&s, lead.ptr, linked(g, g->actuals, p->id, j), "");
	}
	json_t *kids = json_object_get(g->kids, e->id);
	for (size_t i = 0; i < json_array_size(kids); i++)
		graph_version(g, (size_t)json_integer_value(json_array_get(kids, i)), pre.ptr,
			      i + 1 == json_array_size(kids), false);
	rq_buf_release(&s);
	rq_buf_release(&pre);
	rq_buf_release(&lead);
}

/* Actuals linked to no plan and named by no version's cost. */
static void print_loose(const struct graph *g)
{
	rq_buf s = RQ_BUF_INIT;
	if (json_array_size(g->loose))
		printf("actuals linked to no plan or version:\n");
	for (size_t i = 0; i < json_array_size(g->loose); i++)
		graph_line(&s, ":   ", g->v[json_integer_value(json_array_get(g->loose, i))], "");
	rq_buf_release(&s);
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
	struct graph g;
	graph_index(&g, v, n);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i]->type, "version") && !rq_json_str(v[i]->body, "parent", NULL)) {
			graph_version(&g, i, "", true, true);
			roots++;
		}
	if (!roots)
		printf("no versions yet ('resque commit' records one)\n");
	print_loose(&g);
	json_decref(g.plans);
	json_decref(g.actuals);
	json_decref(g.kids);
	json_decref(g.costs);
	json_decref(g.loose);
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
	if (!graph) {
		rc = print_list(l, type, max, json);
		goto done;
	}
	rq_scan all = { NULL, 0, false, 0 };
	if ((err = rq_ledger__scan(l, &all, collect, &c))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	term_page();
	rc = print_graph(c.v, c.n, json);
done:
	for (size_t i = 0; i < c.n; i++)
		rq_entry_free(c.v[i]);
	free(c.v);
	cmd_close_ledger(l, NULL);
	return rc;
}
