/* pull --rebase (docs/SYNC.md): our entries since the common one replayed
 * on the remote's tip, each rebuilt with its new sequence number and
 * previous id, references to replayed entries rewritten, renames applied,
 * runs both sides imported recorded once, and signed again with our key;
 * the rebuilt chain verifies before the ledger moves to it. */
#include "common.h"
#include "sync_int.h"
#include "json.h"
#include "lineage.h"
#include "import.h"
#include "object_int.h"

/* ---- our entries since the common one ---- */

/* The commits of our entries after `base` up to our tip, oldest first. */
static int ours_since(git_oid **out, size_t *n, rq_ledger *l, const git_oid *base)
{
	git_oid cur = l->tip;
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	while (!git_oid_equal(&cur, base)) {
		git_commit *c = NULL;
		if (rq_object_commit(&c, l->repo, &cur) != 0 || git_commit_parentcount(c) != 1) {
			git_commit_free(c);
			free(*out);
			*out = NULL;
			return rq_error_set(RQ_EINTEGRITY, "ledger commit %.12s cannot be read", git_oid_tostr_s(&cur));
		}
		RQ_ALLOC_GROW(*out, *n + 1, cap);
		(*out)[(*n)++] = cur;
		git_oid_cpy(&cur, git_commit_parent_id(c, 0));
		git_commit_free(c);
	}
	for (size_t i = 0; i < *n / 2; i++) {
		git_oid t = (*out)[i];
		(*out)[i] = (*out)[*n - 1 - i];
		(*out)[*n - 1 - i] = t;
	}
	return 0;
}

/* ---- rebase ---- */

struct idmap {
	char (*old)[RQ_ID_HEX_SIZE];
	char (*now)[RQ_ID_HEX_SIZE];
	char **old_name;       /* set for a renamed entry (owned) */
	const char **new_name; /* likewise (borrowed from the options) */
	size_t n;
};

static ssize_t map_find(const struct idmap *m, const char *s)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->old[i], s) == 0)
			return (ssize_t)i;
	return -1;
}

/* A string that is an old id, or ends with ":" and one ("actual:ID"),
 * rewritten to the new id; NULL when it is no such reference. *at gets
 * the replayed entry's index. */
static json_t *rewrite_ref(json_t *v, const struct idmap *m, ssize_t *at)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (len < RQ_ID_HEX_SIZE - 1 || (len != RQ_ID_HEX_SIZE - 1 && s[len - RQ_ID_HEX_SIZE] != ':'))
		return NULL;
	const char *tail = s + len - (RQ_ID_HEX_SIZE - 1);
	if ((*at = map_find(m, tail)) < 0)
		return NULL;
	rq_buf b = RQ_BUF_INIT;
	rq_buf_put(&b, s, (size_t)(tail - s));
	rq_buf_puts(&b, m->now[*at]);
	json_t *r = json_stringn(b.ptr, b.len);
	rq_buf_release(&b);
	return r;
}

/* References to replayed entries, wherever a body holds them, rewritten
 * to their new ids; and beside a reference to a renamed entry, the name
 * that goes with it ("parent" and "parent_name", "id" and "name"). */
static json_t *rewrite_refs(json_t *v, const struct idmap *m)
{
	if (json_is_object(v)) {
		json_t *o = json_object(), *val;
		const char *key;
		json_object_foreach(v, key, val) {
			ssize_t at = -1;
			json_t *r = json_is_string(val) ? rewrite_ref(val, m, &at) : NULL;
			json_object_set_new(o, key, r ? r : rewrite_refs(val, m));
		}
		/* then the names beside references to renamed entries */
		json_object_foreach(v, key, val) {
			ssize_t at = -1;
			json_t *r = json_is_string(val) ? rewrite_ref(val, m, &at) : NULL;
			json_decref(r);
			if (!r || !m->new_name[at])
				continue;
			rq_buf nk = RQ_BUF_INIT;
			if (strcmp(key, "id") == 0)
				rq_buf_puts(&nk, "name");
			else
				rq_buf_printf(&nk, "%s_name", key);
			const char *was = json_string_value(json_object_get(v, nk.ptr));
			if (was && strcmp(was, m->old_name[at]) == 0)
				json_object_set_new(o, nk.ptr, json_string(m->new_name[at]));
			rq_buf_release(&nk);
		}
		return o;
	}
	if (json_is_array(v)) {
		json_t *a = json_array(), *val;
		size_t i;
		json_array_foreach(v, i, val) {
			ssize_t at = -1;
			json_t *r = json_is_string(val) ? rewrite_ref(val, m, &at) : NULL;
			json_array_append_new(a, r ? r : rewrite_refs(val, m));
		}
		return a;
	}
	ssize_t at = -1;
	json_t *r = json_is_string(v) ? rewrite_ref(v, m, &at) : NULL;
	return r ? r : json_deep_copy(v);
}

/* The remote's new entry of `type` named `name`, if any. */
static const rq_named *name_taken(const char *type, const char *name, const rq_verify_report *r)
{
	for (size_t i = 0; name && i < r->nnamed; i++)
		if (strcmp(r->named[i].type, type) == 0 && strcmp(r->named[i].name, name) == 0)
			return &r->named[i];
	return NULL;
}

/* Write entry `e` (signature `sig`, attachments tree `att` or NULL) as a
 * commit on `parent`, without moving any ref. */
static int write_commit(git_oid *out, rq_ledger *l, const rq_entry *e, const rq_buf *sig, const git_oid *att,
			const git_oid *parent)
{
	git_treebuilder *tb = NULL;
	git_oid oid;
	int err = 0;

	if (git_treebuilder_new(&tb, l->repo, NULL) ||
	    git_blob_create_from_buffer(&oid, l->repo, e->bytes.ptr, e->bytes.len) ||
	    git_treebuilder_insert(NULL, tb, "entry", &oid, GIT_FILEMODE_BLOB) ||
	    git_blob_create_from_buffer(&oid, l->repo, sig->ptr, sig->len) ||
	    git_treebuilder_insert(NULL, tb, "sig", &oid, GIT_FILEMODE_BLOB) ||
	    (att && git_treebuilder_insert(NULL, tb, "att", att, GIT_FILEMODE_TREE)) || git_treebuilder_write(&oid, tb))
		err = rq_git_error(RQ_EIO, "writing the rebased entry to git");
	else
		err = rq_ledger__commit(out, l, e, &oid, parent);
	git_treebuilder_free(tb);
	return err;
}

/* The attachments subtree of the entry in commit `c`, if any. */
static int att_tree_of(git_oid *out, bool *has, rq_ledger *l, const git_oid *c)
{
	git_commit *cm = NULL;
	git_tree *t = NULL;
	*has = false;
	if (rq_object_commit(&cm, l->repo, c) || git_commit_tree(&t, cm)) {
		git_commit_free(cm);
		return rq_git_error(RQ_EINTEGRITY, "reading a ledger commit");
	}
	const git_tree_entry *te = git_tree_entry_byname(t, "att");
	if (te && git_tree_entry_type(te) == GIT_OBJECT_TREE) {
		git_oid_cpy(out, git_tree_entry_id(te));
		*has = true;
	}
	git_tree_free(t);
	git_commit_free(cm);
	return 0;
}

/* The name entry `e` is replayed under: its own, or the NEW of a
 * --rename OLD=NEW (checked: a valid name, free here and on the remote);
 * `used` marks the renames that applied. */
static int replay_name(const char **out, rq_ledger *l, const rq_entry *e, const rq_verify_report *r,
		       const rq_sync_options *o, bool *used)
{
	const char *name = rq_entry_name(e);
	bool version = strcmp(e->type, "version") == 0, dataset = strcmp(e->type, "dataset") == 0;
	enum rq_name_kind kind = dataset ? RQ_NAME_DATASET : RQ_NAME_VERSION;
	const rq_named *taken;
	int err;

	*out = name;
	if (!name || (!version && !dataset))
		return 0;
	for (size_t j = 0; o && j < o->nrenames; j++) {
		size_t ol = strcspn(o->renames[j], "=");
		if (o->renames[j][ol] != '=' || strlen(name) != ol || strncmp(o->renames[j], name, ol) != 0)
			continue;
		const char *to = o->renames[j] + ol + 1;
		used[j] = true;
		if (!rq_name_valid(to, kind))
			return rq_error_set(RQ_EINVALID, "--rename %s: '%s' is not a valid %s name; nothing was changed",
					    o->renames[j], to, e->type);
		if ((err = rq_name_free(l, to, kind)))
			return rq_error_prefix(RQ_EINVALID, "--rename %s: ", o->renames[j]);
		*out = to;
		break;
	}
	if ((taken = name_taken(e->type, *out, r)))
		return rq_error_set(RQ_EINVALID,
				    "the remote has a %s named '%s' since (entry %" PRIu64 "); yours (entry %" PRIu64
				    ", %.12s) cannot be replayed under that name (give it another with --rename "
				    "%s=NEW); nothing was changed",
				    e->type, taken->name, taken->seq, e->seq, e->id, name);
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The identity of an imported run, which `resque import` records once
 * (docs/FORMATS.md, "Importing the same files again"): "codecarbon RUN_ID",
 * "codecarbon-row TIMESTAMP DURATION ENERGY" for a run without an id, or
 * "nvidia-smi FINGERPRINT[,FINGERPRINT...]" (the files' set, sorted);
 * false for any other entry. */
static bool import_key(rq_buf *out, const rq_entry *e)
{
	if (strcmp(e->type, "actual") != 0)
		return false;
	const char *meter = rq_json_str(e->body, "meter", "");
	const json_t *src = json_object_get(e->body, "source"), *files = json_object_get(src, "files");
	/* older versions stored a missing run id as "None" */
	bool no_id = rq_cc_no_run_id(rq_json_str(src, "run_id", ""));
	if (!strcmp(meter, "codecarbon") && json_is_object(src) && no_id) {
		rq_buf_printf(out, "codecarbon-row %s %.17g %.17g", rq_json_str(src, "timestamp", ""),
			      rq_json_num(e->body, "duration_s", -1), rq_json_num(e->body, "energy_kwh", -1));
		return true;
	}
	if (!strcmp(meter, "nvidia-smi") && json_is_array(files) && json_array_size(files) > 0) {
		size_t n = json_array_size(files);
		const char **fps = rq_xcalloc(n, sizeof(*fps));
		for (size_t i = 0; i < n; i++)
			fps[i] = rq_json_str(json_array_get(files, i), "fingerprint", "");
		qsort(fps, n, sizeof(*fps), str_cmp);
		rq_buf_puts(out, "nvidia-smi ");
		for (size_t i = 0; i < n; i++)
			rq_buf_printf(out, "%s%s", i ? "," : "", fps[i]);
		free(fps);
		return true;
	}
	const char *v = strcmp(meter, "codecarbon") == 0   ? rq_json_str(src, "run_id", "")
			: strcmp(meter, "nvidia-smi") == 0 ? rq_json_str(src, "fingerprint", "")
							   : "";
	if (!*v)
		return false;
	rq_buf_printf(out, "%s %s", meter, v);
	return true;
}

/* The imports among the remote's new entries: keys and ids, in pairs. */
struct imports {
	char **key;
	char (*id)[RQ_ID_HEX_SIZE];
	uint64_t *seq;
	size_t n, alloc;
};

static void imports_release(struct imports *im)
{
	for (size_t i = 0; i < im->n; i++)
		free(im->key[i]);
	free(im->key);
	free(im->id);
	free(im->seq);
}

static int imports_of(struct imports *im, rq_ledger *l, const rq_verify_report *r)
{
	memset(im, 0, sizeof(*im));
	for (uint64_t i = 0; r->commits && i < r->nleaves; i++) {
		rq_entry *e = NULL;
		rq_buf key = RQ_BUF_INIT;
		git_oid c;
		git_oid_fromraw(&c, r->commits[i]);
		int err = rq_ledger__entry_at(&e, l, &c);
		if (err) {
			rq_buf_release(&key);
			return err;
		}
		if (import_key(&key, e)) {
			if (im->n == im->alloc) {
				im->alloc = im->alloc ? 2 * im->alloc : 8;
				im->key = rq_xreallocarray(im->key, im->alloc, sizeof(*im->key));
				im->id = rq_xreallocarray(im->id, im->alloc, sizeof(*im->id));
				im->seq = rq_xreallocarray(im->seq, im->alloc, sizeof(*im->seq));
			}
			im->key[im->n] = rq_buf_detach(&key, NULL);
			memcpy(im->id[im->n], e->id, RQ_ID_HEX_SIZE);
			im->seq[im->n] = e->seq;
			im->n++;
		}
		rq_buf_release(&key);
		rq_entry_free(e);
	}
	return 0;
}

/* Whether the fingerprint lists of two "nvidia-smi FP,FP..." keys share
 * one (and are not the same set). */
static bool fps_overlap(const char *a, const char *b)
{
	static const char pre[] = "nvidia-smi ";
	size_t n = sizeof(pre) - 1;
	if (strncmp(a, pre, n) || strncmp(b, pre, n) || !strcmp(a, b))
		return false;
	for (const char *p = a + n; *p;) {
		size_t len = strcspn(p, ",");
		for (const char *q = b + n; *q;) {
			size_t qlen = strcspn(q, ",");
			if (qlen == len && !strncmp(p, q, len))
				return true;
			q += qlen + (q[qlen] == ',');
		}
		p += len + (p[len] == ',');
	}
	return false;
}

/* Our entry `e` is a run the remote imported too: its index there, or -1.
 * An nvidia-smi import sharing some files with one of the remote's (not
 * the same set) is RQ_EINVALID (-2), as `resque import` refuses it: the
 * energy of those files would be counted twice. */
static ssize_t same_import(const struct imports *im, const rq_entry *e)
{
	rq_buf key = RQ_BUF_INIT;
	ssize_t at = -1;
	if (import_key(&key, e)) {
		for (size_t i = 0; i < im->n && at < 0; i++)
			if (strcmp(im->key[i], key.ptr) == 0)
				at = (ssize_t)i;
		for (size_t i = 0; i < im->n && at < 0; i++)
			if (fps_overlap(key.ptr, im->key[i])) {
				rq_error_set(RQ_EINVALID,
					     "entry %" PRIu64 " (%.12s) and the remote's entry %" PRIu64
					     " (%.12s) import some of the same nvidia-smi logs (not the same set): replaying it would count their energy twice; nothing was changed",
					     e->seq, e->id, im->seq[i], im->id[i]);
				at = -2;
			}
	}
	rq_buf_release(&key);
	return at;
}

/* A replay under way: what it reads, and what it wrote so far. */
struct replay {
	rq_ledger *l;
	const rq_verify_report *r;  /* the remote's new entries */
	const rq_sync_options *o;   /* its renames (may be NULL) */
	struct imports im;          /* the runs the remote imported */
	struct idmap m;             /* our entries' ids, old and new */
	bool *used;                 /* the renames that applied */
	git_oid parent;             /* the last commit written */
	char prev[RQ_ID_HEX_SIZE];  /* its entry's id */
	uint64_t rseq;              /* the remote's last entry */
	size_t replayed;
};

static void idmap_add(struct idmap *m, const char *old, const char *now, char *old_name, const char *new_name)
{
	memcpy(m->old[m->n], old, RQ_ID_HEX_SIZE);
	memcpy(m->now[m->n], now, RQ_ID_HEX_SIZE);
	m->old_name[m->n] = old_name;
	m->new_name[m->n] = new_name;
	m->n++;
}

/* Replay our entry in commit `c` on s->parent: not at all when the remote
 * imported the same run, else rebuilt, signed again and written. */
static int replay_one(struct replay *s, const git_oid *c)
{
	rq_ledger *l = s->l;
	rq_entry *e = NULL, *ne = NULL;
	rq_buf sig = RQ_BUF_INIT;
	git_oid att;
	bool has_att = false;
	const char *name = NULL;
	int err;

	if ((err = rq_ledger__entry_at(&e, l, c)))
		goto done;
	if (strcmp(e->signer, l->signer->id) != 0) {
		err = rq_error_set(RQ_EINVALID,
				   "entry %" PRIu64 " (%.12s, %s) is signed by key %s, not by your key %s: only "
				   "your own entries can be replayed; nothing was changed",
				   e->seq, e->id, e->type, e->signer, l->signer->id);
		goto done;
	}
	ssize_t dup = same_import(&s->im, e);
	if (dup == -2) {
		err = RQ_EINVALID;
		goto done;
	}
	if (dup >= 0) {
		/* the same run, imported on both sides: recorded once,
		 * and what referred to ours refers to the remote's */
		rq_ledger__notice("entry %" PRIu64 " (%.12s) imports the run the remote imported as entry %" PRIu64
				  " (%.12s): not replayed",
				  e->seq, e->id, s->im.seq[dup], s->im.id[dup]);
		idmap_add(&s->m, e->id, s->im.id[dup], NULL, NULL);
		goto done;
	}
	if ((err = replay_name(&name, l, e, s->r, s->o, s->used)) || (err = att_tree_of(&att, &has_att, l, c)))
		goto done;
	json_t *body = rewrite_refs(e->body, &s->m);
	bool renamed = name && rq_entry_name(e) && strcmp(name, rq_entry_name(e)) != 0;
	if (renamed)
		json_object_set_new(body, "name", json_string(name));
	err = rq_entry_build(&ne, s->rseq + 1 + s->replayed, s->prev, e->type, e->time, e->signer, body);
	if (!err)
		err = rq_entry_sign(&sig, ne, l->signer);
	if (!err)
		err = write_commit(&s->parent, l, ne, &sig, has_att ? &att : NULL, &s->parent);
	if (!err) {
		idmap_add(&s->m, e->id, ne->id, renamed ? rq_xstrdup(rq_entry_name(e)) : NULL, renamed ? name : NULL);
		s->replayed++;
		memcpy(s->prev, ne->id, RQ_ID_HEX_SIZE);
	}
done:
	rq_entry_free(e);
	rq_entry_free(ne);
	rq_buf_release(&sig);
	return err;
}

/* Replay our entries `mine` (commits, oldest first) on the remote's tip
 * `rtip` (entry `rseq`, id `rid`), each rebuilt with its new sequence
 * number and previous id, references to replayed entries rewritten, the
 * renames of `o` applied, and signed again with l->signer. *new_tip gets
 * the last commit written. No ref moves; RQ_EINVALID naming the entry
 * when one cannot be replayed. */
static int replay(git_oid *new_tip, size_t *replayed, rq_ledger *l, const git_oid *mine, size_t n,
		  const git_oid *rtip, uint64_t rseq, const char *rid, const rq_verify_report *r,
		  const rq_sync_options *o)
{
	struct replay s;
	size_t nren = o ? o->nrenames : 0;
	int err = 0;

	memset(&s, 0, sizeof(s));
	s.l = l;
	s.r = r;
	s.o = o;
	s.used = rq_xcalloc(nren + 1, sizeof(*s.used));
	s.parent = *rtip;
	s.rseq = rseq;
	s.m.old = rq_xcalloc(n + 1, RQ_ID_HEX_SIZE);
	s.m.now = rq_xcalloc(n + 1, RQ_ID_HEX_SIZE);
	s.m.old_name = rq_xcalloc(n + 1, sizeof(*s.m.old_name));
	s.m.new_name = rq_xcalloc(n + 1, sizeof(*s.m.new_name));
	memcpy(s.prev, rid, RQ_ID_HEX_SIZE);
	*replayed = 0;
	if ((err = imports_of(&s.im, l, r)))
		goto done;
	if (!l->signer) {
		err = rq_error_set(RQ_EINVALID, "no signing key loaded: a rebase signs the replayed entries again");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		err = replay_one(&s, &mine[i]);
		*replayed = s.replayed;
		if (err)
			goto done;
	}
	for (size_t j = 0; j < nren; j++)
		if (!s.used[j]) {
			err = rq_error_set(RQ_EINVALID,
					   "--rename %s: none of the entries to replay is a version or dataset of that name; "
					   "nothing was changed",
					   o->renames[j]);
			goto done;
		}
	git_oid_cpy(new_tip, &s.parent);
done:
	for (size_t i = 0; i < s.m.n; i++)
		free(s.m.old_name[i]);
	imports_release(&s.im);
	free(s.m.old_name);
	free(s.m.new_name);
	free(s.m.old);
	free(s.m.now);
	free(s.used);
	return err;
}

/* Verify the rebuilt chain from the remote's tip `rtip` (its `rsize`
 * entries, the last `rid`) up to `new_tip`, under the signers of our
 * entries up to `base_seq` and of the remote's new ones `r`. RQ_EINVALID
 * when it would not verify. */
static int verify_rebased(rq_ledger *l, uint64_t base_seq, const git_oid *rtip, uint64_t rsize, const char *rid,
			  const rq_verify_report *r, const git_oid *new_tip)
{
	rq_verify_report vr;
	struct rq_verify_from from;
	const rq_signer_change *sv;
	size_t ns;
	rq_signer_change *all;
	memset(&from, 0, sizeof(from));
	rq_guard_signers(&sv, &ns, l);
	size_t nb = 0;
	while (nb < ns && sv[nb].seq <= base_seq)
		nb++;
	all = rq_xcalloc(nb + r->nsigner_changes + 1, sizeof(*all));
	if (nb)
		memcpy(all, sv, nb * sizeof(*all));
	if (r->nsigner_changes)
		memcpy(all + nb, r->signer_changes, r->nsigner_changes * sizeof(*all));
	from.size = rsize;
	git_oid_cpy(&from.commit, rtip);
	memcpy(from.id, rid, RQ_ID_HEX_SIZE);
	from.signers = all;
	from.nsigners = nb + r->nsigner_changes;
	from.tip = new_tip;
	int err = rq_ledger__verify_from(&vr, l, &from);
	if (err == RQ_EINTEGRITY && vr.nproblems)
		err = rq_error_set(RQ_EINVALID, "the rebased ledger would not verify (entry %" PRId64 ": %s); nothing was changed",
				   vr.problems[0].seq, vr.problems[0].message);
	rq_verify_report_release(&vr);
	free(all);
	return err;
}

/* The remote's ledger diverged from ours at `base_seq`: explain, or
 * rebase when asked. */
int rq_sync__diverged(rq_sync_result *out, rq_ledger *l, const struct link *k, const git_oid *base,
		      uint64_t base_seq, const char *base_id, const git_oid *rtip, uint64_t rsize,
		      const rq_verify_report *r, const rq_sync_options *o)
{
	git_oid *mine = NULL, new_tip;
	size_t n = 0;
	int err;
	uint64_t theirs = rsize - base_seq - 1;
	char rid[RQ_ID_HEX_SIZE];

	if ((err = ours_since(&mine, &n, l, base)))
		goto done;
	if (!o || !o->rebase) {
		err = rq_error_set(RQ_EINVALID,
				   "the ledgers diverged: both have entries since entry %" PRIu64
				   " (%.12s): %zu here, %" PRIu64 " on remote '%s'. A ledger is linear, so they cannot "
				   "be merged; 'resque pull --rebase %s' replays the %zu entr%s here on top of the "
				   "remote's (each must be yours: it is signed again with your key), then 'resque push %s'",
				   base_seq, base_id, n, theirs, k->remote, k->remote, n, n == 1 ? "y" : "ies", k->remote);
		goto done;
	}
	memcpy(rid, r->ids[r->nleaves - 1], RQ_ID_HEX_SIZE);
	size_t replayed = 0;
	if ((err = replay(&new_tip, &replayed, l, mine, n, rtip, rsize - 1, rid, r, o)))
		goto done;
	/* The rebuilt chain must verify before it becomes the ledger. */
	if ((err = verify_rebased(l, base_seq, rtip, rsize, rid, r, &new_tip)))
		goto done;
	if ((err = rq_sync__move_ledger(l, &new_tip, base_seq + 1, NULL)))
		goto done;
	out->rebased = replayed;
	out->received = theirs;
done:
	free(mine);
	return err;
}
