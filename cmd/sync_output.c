/* What clone, push and pull print. */
#include "common.h"
#include "cmd.h"
#include "sync_output.h"
#include <unistd.h>

static json_t *side(uint64_t size, const char *tip)
{
	return json_pack("{s:I, s:o}", "size", (json_int_t)size, "tip", *tip ? json_string(tip) : json_null());
}

int sync_print(const rq_sync_result *r, const char *verb, bool json)
{
	if (json) {
		json_t *j = json_pack("{s:s, s:s, s:o, s:o, s:I, s:I, s:I}", "remote", r->remote ? r->remote : "", "url",
				      r->url ? r->url : "", "before", side(r->before_size, r->before_tip), "after",
				      side(r->after_size, r->after_tip), "received", (json_int_t)r->received, "sent",
				      (json_int_t)r->sent, "rebased", (json_int_t)r->rebased);
		int rc = cmd_print_json(j);
		json_decref(j);
		return rc;
	}
	if (strcmp(verb, "clone") == 0)
		printf("cloned %" PRIu64 " entr%s from %s (tip %.12s), verified\n", r->after_size,
		       r->after_size == 1 ? "y" : "ies", r->url, r->after_tip);
	else if (r->up_to_date && strcmp(verb, "push") == 0)
		printf("remote '%s' is up to date (%" PRIu64 " entr%s)\n", r->remote, r->after_size,
		       r->after_size == 1 ? "y" : "ies");
	else if (strcmp(verb, "push") == 0)
		printf("pushed %" PRIu64 " entr%s to '%s', which holds %" PRIu64 " now (tip %.12s)\n", r->sent,
		       r->sent == 1 ? "y" : "ies", r->remote, r->after_size, r->after_tip);
	else if (r->up_to_date && r->remote_size < r->after_size)
		printf("up to date; remote '%s' is %" PRIu64 " entr%s behind ('resque push %s' sends them)\n", r->remote,
		       r->after_size - r->remote_size, r->after_size - r->remote_size == 1 ? "y" : "ies", r->remote);
	else if (r->up_to_date)
		printf("up to date with '%s' (%" PRIu64 " entr%s)\n", r->remote, r->after_size,
		       r->after_size == 1 ? "y" : "ies");
	else if (r->rebased)
		printf("pulled %" PRIu64 " entr%s from '%s' and replayed %" PRIu64 " of yours on top; the ledger holds %" PRIu64
		       " (tip %.12s)\n",
		       r->received, r->received == 1 ? "y" : "ies", r->remote, r->rebased, r->after_size, r->after_tip);
	else
		printf("pulled %" PRIu64 " entr%s from '%s', verified; the ledger holds %" PRIu64 " (tip %.12s)\n", r->received,
		       r->received == 1 ? "y" : "ies", r->remote, r->after_size, r->after_tip);
	return 0;
}

int sync_remote(const char **name, rq_buf *def, struct rq_ledger *l)
{
	int err;
	if (*name)
		return 0;
	if ((err = rq_remote_default(def, l)) != 0)
		return cmd_fail_code(err);
	*name = def->ptr;
	return 0;
}

void sync_progress_init(struct sync_progress *p)
{
	p->enabled = isatty(2);
	p->drawn = false;
}

void sync_progress_fn(void *ctx, const char *what, uint64_t done, uint64_t total)
{
	struct sync_progress *p = ctx;
	if (!p->enabled || total == 0)
		return;
	fprintf(stderr, "\r%s objects: %" PRIu64 "/%" PRIu64 " (%d%%)", what, done, total,
		(int)(100.0 * (double)done / (double)total));
	p->drawn = true;
}

void sync_progress_done(struct sync_progress *p)
{
	if (p->drawn)
		fputs("\r\033[K", stderr);
	p->drawn = false;
}
