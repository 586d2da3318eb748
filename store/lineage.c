/* Version references and lineage over the ledger (see lineage.h). */
#include "common.h"
#include "json.h"
#include "ledger_int.h"
#include "lineage.h"

#include <ctype.h>

bool rq_name_valid(const char *name, enum rq_name_kind kind)
{
	const char *punct = kind == RQ_NAME_DATASET ? "._-" : "._+-";
	size_t n = strlen(name);
	if (n == 0 || n > 100 || name[0] == '-' || name[0] == '.')
		return false;
	if (kind == RQ_NAME_VERSION && strcmp(name, "latest") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(punct, c)))
			return false;
	}
	return true;
}

int rq_name_free(rq_ledger *l, const char *name, enum rq_name_kind kind)
{
	rq_entry *e = NULL;
	int err = rq_ledger_lookup(&e, l, name, kind == RQ_NAME_DATASET ? "dataset" : "version");
	if (!err && rq_entry_name(e) && strcmp(rq_entry_name(e), name) == 0)
		err = kind == RQ_NAME_DATASET
			      ? rq_error_set(RQ_EEXISTS,
					     "dataset name '%s' is already in use (entry %.12s); choose another with --name",
					     name, e->id)
			      : rq_error_set(RQ_EEXISTS, "a version named '%s' exists already (%.12s)", name, e->id);
	else if (!err || err == RQ_ENOTFOUND || err == RQ_EAMBIGUOUS)
		err = 0;
	if (!err)
		rq_error_clear();
	rq_entry_free(e);
	return err;
}

void rq_entries_free(rq_entry **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		rq_entry_free(v[i]);
	free(v);
}

static int take_entry(rq_entry **e, void *ctx)
{
	rq_entry **out = ctx;
	*out = *e;
	*e = NULL;
	return 0;
}

/* The newest version: index.db's rows read from the tip back to it, each
 * checked (its type column is not trusted, so no index on it is used). */
static int newest_version(rq_entry **out, rq_ledger *l)
{
	static const char *const version[] = { "version" };
	rq_scan s = { version, 1, true, 1 };
	return rq_ledger__scan(l, &s, take_entry, out);
}

int rq_version_parent(rq_entry **out, rq_ledger *l, const rq_entry *v)
{
	const char *pid = rq_json_str(v->body, "parent", NULL);
	*out = NULL;
	if (!pid)
		return rq_error_set(RQ_ENOTFOUND, "version %s has no parent", rq_json_str(v->body, "name", v->id));
	int err = rq_ledger_lookup(out, l, pid, "version");
	if (err)
		return rq_error_prefix(err, "parent of version %s: ", rq_json_str(v->body, "name", "?"));
	return 0;
}

int rq_version_resolve(rq_entry **out, rq_ledger *l, const char *ref)
{
	char *base = rq_xstrdup(ref);
	char *tilde = strchr(base, '~');
	unsigned long up = 0;
	rq_entry *e = NULL;
	int err = 0;

	*out = NULL;
	if (tilde) {
		char *end;
		*tilde = '\0';
		if (tilde[1] == '\0') {
			up = 1;
		} else {
			errno = 0;
			up = strtoul(tilde + 1, &end, 10);
			if (errno || *end || tilde[1] == '-' || tilde[1] == '+') {
				err = rq_error_set(RQ_EINVALID, "'%s' is not a version reference (NAME, ID, latest, REF~N)", ref);
				goto done;
			}
		}
	}
	if (strcmp(base, "latest") == 0) {
		if ((err = newest_version(&e, l)))
			goto done;
		if (!e) {
			err = rq_error_set(RQ_ENOTFOUND, "no versions yet: 'latest' names nothing (resque commit records one)");
			goto done;
		}
	} else {
		err = rq_ledger_lookup(&e, l, base, "version");
		if (err == RQ_ENOTFOUND)
			err = rq_error_set(RQ_ENOTFOUND, "no version named or identified by '%s'", base);
	}
	if (err)
		goto done;
	for (unsigned long i = 0; i < up; i++) {
		rq_entry *p = NULL;
		err = rq_version_parent(&p, l, e);
		if (err == RQ_ENOTFOUND) {
			err = rq_error_set(RQ_ENOTFOUND, "'%s': version %s has only %lu ancestor%s", ref, base, i,
					   i == 1 ? "" : "s");
			goto done;
		}
		if (err)
			goto done;
		rq_entry_free(e);
		e = p;
	}
	*out = e;
	e = NULL;
done:
	rq_entry_free(e);
	free(base);
	return err;
}

int rq_version_lineage(rq_entry ***out, size_t *n, rq_ledger *l, const rq_entry *v)
{
	rq_entry **chain = NULL, *cur = NULL;
	size_t count = 0, alloc = 0;
	int err = 0;

	*out = NULL;
	*n = 0;
	err = rq_entry_parse(&cur, v->bytes.ptr, v->bytes.len);
	if (err)
		return err;
	memcpy(cur->commit, v->commit, sizeof(cur->commit));
	for (;;) {
		RQ_ALLOC_GROW(chain, count + 1, alloc);
		chain[count++] = cur;
		if (count > 1000000) {
			err = rq_error_set(RQ_EINTEGRITY, "version lineage does not end (a cycle?)");
			break;
		}
		rq_entry *p = NULL;
		err = rq_version_parent(&p, l, cur);
		if (err == RQ_ENOTFOUND && !rq_json_str(cur->body, "parent", NULL)) {
			err = 0;
			break;
		}
		if (err)
			break;
		/* a parent is always older than its child */
		if (p->seq >= cur->seq) {
			rq_entry_free(p);
			err = rq_error_set(RQ_EINTEGRITY, "version %s names a parent that is not older than it",
					   rq_json_str(cur->body, "name", "?"));
			break;
		}
		cur = p;
	}
	if (err) {
		rq_entries_free(chain, count);
		return err;
	}
	rq_error_clear();
	for (size_t i = 0; i < count / 2; i++) {
		rq_entry *t = chain[i];
		chain[i] = chain[count - 1 - i];
		chain[count - 1 - i] = t;
	}
	*out = chain;
	*n = count;
	return 0;
}

/* A CodeCarbon run id as a reference: the imported actuals whose
 * source.run_id is `ref` (exact) or starts with it. */
struct run_ref {
	rq_ledger *l;
	const char *ref;
	char pat[160];        /* "\"run_id\":\"REF" to skip rows quickly; "" when REF may be escaped */
	size_t nexact, nprefix;
	uint64_t exact, prefix;
	rq_buf seen;          /* "RUN_ID (ID12)" of the matches, for the message */
};

static int run_ref_row(uint64_t seq, const void *bytes, size_t len, void *ctx)
{
	struct run_ref *r = ctx;
	rq_entry *e = NULL;
	if (r->pat[0] && !memmem(bytes, len, r->pat, strlen(r->pat)))
		return 0;
	if (rq_entry_parse(&e, bytes, len))
		return 0; /* verify's business: a reference finds what parses */
	const json_t *src = json_object_get(e->body, "source");
	const char *id = rq_json_str(src, "run_id", "");
	if (!strcmp(e->type, "actual") && !strcmp(rq_json_str(src, "format", ""), "codecarbon") &&
	    !strncmp(id, r->ref, strlen(r->ref))) {
		bool exact = !strcmp(id, r->ref);
		if (exact && r->nexact++ == 0)
			r->exact = seq;
		if (!exact && r->nprefix++ == 0)
			r->prefix = seq;
		if (r->nexact + r->nprefix <= 3)
			rq_buf_printf(&r->seen, "%s%s (%.12s)", r->seen.len ? ", " : "", id, e->id);
	}
	rq_entry_free(e);
	return 0;
}

/* The actual imported from CodeCarbon run `ref` (or the one run whose id
 * starts with it). RQ_ENOTFOUND; RQ_EAMBIGUOUS naming the matches. */
static int run_id_lookup(rq_entry **out, rq_ledger *l, const char *ref)
{
	struct run_ref r = { l, ref, "", 0, 0, 0, 0, RQ_BUF_INIT };
	bool plain = true;
	int err;

	for (const char *p = ref; *p; p++)
		if (!(isalnum((unsigned char)*p) || strchr("._-: ", *p)))
			plain = false;
	if (plain && strlen(ref) < sizeof(r.pat) - 12)
		snprintf(r.pat, sizeof(r.pat), "\"run_id\":\"%s", ref);
	if ((err = rq_ledger__scan_rows(l, false, run_ref_row, &r)))
		goto done;
	if (r.nexact == 1 || (r.nexact == 0 && r.nprefix == 1))
		err = rq_ledger_get(out, l, r.nexact ? r.exact : r.prefix);
	else if (r.nexact + r.nprefix > 1)
		err = rq_error_set(RQ_EAMBIGUOUS, "'%s' matches %zu imported CodeCarbon runs: %s%s; give the whole run id or an entry id",
				   ref, r.nexact > 1 ? r.nexact : r.nexact + r.nprefix, r.seen.ptr,
				   r.nexact + r.nprefix > 3 ? ", ..." : "");
	else
		err = rq_error_set(RQ_ENOTFOUND, "no CodeCarbon run '%s'", ref);
done:
	rq_buf_release(&r.seen);
	return err;
}

/* `ref` found entry `e` as an id prefix: RQ_EAMBIGUOUS when it also
 * starts the run id of another imported CodeCarbon run, else 0. */
static int id_or_run(rq_ledger *l, const rq_entry *e, const char *ref)
{
	rq_entry *run = NULL;
	int err = 0;
	if (strlen(ref) < 4 || strlen(ref) >= RQ_ID_HEX_SIZE - 1)
		return 0;
	int found = run_id_lookup(&run, l, ref);
	if (found == RQ_ENOTFOUND || (!found && !strcmp(run->id, e->id)))
		rq_error_clear();
	else if (found == 0 || found == RQ_EAMBIGUOUS)
		err = rq_error_set(RQ_EAMBIGUOUS,
				   "'%s' is both the start of entry %.12s and of the run id of %s%s%s%.12s%s: give more of the entry id, or the whole run id",
				   ref, e->id, found ? "several imported CodeCarbon runs" : "CodeCarbon run ",
				   found ? "" : rq_json_str(json_object_get(run->body, "source"), "run_id", "?"),
				   found ? "" : " (entry ", found ? "" : run->id, found ? "" : ")");
	else
		err = found;
	rq_entry_free(run);
	return err;
}

int rq_entry_resolve(rq_entry **out, rq_ledger *l, const char *ref)
{
	int err = rq_version_resolve(out, l, ref);
	if (err == RQ_ENOTFOUND && !strchr(ref, '~') && strcmp(ref, "latest") != 0) {
		err = rq_ledger_lookup(out, l, ref, NULL);
		if (!err && (err = id_or_run(l, *out, ref))) {
			rq_entry_free(*out);
			*out = NULL;
		}
	}
	if (err == RQ_ENOTFOUND && strlen(ref) >= 4) {
		char *why = rq_xstrdup(rq_error_last());
		if ((err = run_id_lookup(out, l, ref)) == RQ_ENOTFOUND)
			rq_error_set(RQ_ENOTFOUND, "%s", why); /* the reference was none of these */
		free(why);
	}
	return err;
}
