/* Sharing a ledger through git remotes: clone, push and pull
 * (docs/SYNC.md). libgit2 does the transport; what it brings is held
 * under a quarantine ref (refs/resque/incoming/NAME) and verified as
 * `resque verify` would before the ledger branch moves to it, by one
 * compare-and-swap; what each remote served is remembered, so that one
 * going back on it is caught. Remotes and credentials are in remote.c,
 * pull --rebase in rebase.c. */
#include "common.h"
#include "sync_int.h"
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>
#include "known.h"
#include "evidence.h"
#include "object_int.h"
#include "tlog.h"

#define INCOMING "refs/resque/incoming/"

void rq_sync_result_release(rq_sync_result *r)
{
	free(r->remote);
	free(r->url);
	memset(r, 0, sizeof(*r));
}

/* ---- reading chains ---- */

/* The entry at commit `c` (parsed; verification comes separately). */
static int seq_at(uint64_t *seq, char id[RQ_ID_HEX_SIZE], rq_ledger *l, const git_oid *c)
{
	rq_entry *e = NULL;
	int err = rq_ledger__entry_at(&e, l, c);
	if (!err) {
		*seq = e->seq;
		if (id)
			memcpy(id, e->id, RQ_ID_HEX_SIZE);
	}
	rq_entry_free(e);
	return err;
}

/* A local remote that is not there: said plainly (libgit2 would take the
 * path for an unknown protocol). */
static int local_exists(const struct link *k)
{
	char *lp = rq_remote_local_path(k->url);
	struct stat st;
	int err = 0;
	if (lp && stat(lp, &st) != 0)
		err = rq_error_set(RQ_ERROR, "remote '%s' (%s): no such directory", k->remote, k->shown);
	else if (lp && !S_ISDIR(st.st_mode))
		err = rq_error_set(RQ_ERROR, "remote '%s' (%s): not a directory, so not a git repository", k->remote,
				   k->shown);
	free(lp);
	return err;
}

/* The quarantine ref of `remote` gone, if it is there. */
static void drop_incoming(rq_ledger *l, const char *remote)
{
	rq_buf ref = RQ_BUF_INIT;
	git_reference *r = NULL;
	rq_buf_printf(&ref, INCOMING "%s", remote);
	if (git_reference_lookup(&r, l->repo, ref.ptr) == 0)
		git_reference_delete(r);
	git_reference_free(r);
	rq_buf_release(&ref);
	git_error_clear();
}

/* Fetch the remote's ledger branch into its quarantine ref; *found false
 * when the remote has no ledger (yet). */
static int fetch(git_oid *tip, bool *found, rq_ledger *l, git_remote *remote, struct link *k)
{
	git_fetch_options fo = GIT_FETCH_OPTIONS_INIT;
	rq_buf spec = RQ_BUF_INIT, ref = RQ_BUF_INIT;
	int err = 0;

	*found = false;
	rq_buf_printf(&ref, INCOMING "%s", k->remote);
	rq_buf_printf(&spec, "+" RQ_REMOTE_LEDGER ":%s", ref.ptr);
	char *specs[] = { spec.ptr };
	git_strarray refspecs = { specs, 1 };
	drop_incoming(l, k->remote); /* what a killed pull left */
	rq_sync__callbacks(&fo.callbacks, k);
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.update_fetchhead = 0;
	fo.prune = GIT_FETCH_NO_PRUNE;
	if ((err = local_exists(k)))
		goto done;
	if (git_remote_fetch(remote, &refspecs, &fo, NULL)) {
		err = rq_sync__net_error(k, "fetching its ledger");
		goto done;
	}
	if (git_reference_name_to_id(tip, l->repo, ref.ptr) == 0)
		*found = true;
	rq_error_clear();
	if (*found && rq_object_check(l->repo, tip, GIT_OBJECT_COMMIT) != 0) {
		rq_error_clear();
		err = rq_error_set(RQ_EINTEGRITY, "remote '%s' (%s): its ledger branch does not point at a commit",
				   k->remote, k->shown);
	}
done:
	rq_buf_release(&spec);
	rq_buf_release(&ref);
	return err;
}


/* refs/remotes/NAME/ledger, as git users expect to find it. */
static void set_tracking(rq_ledger *l, const char *remote, const git_oid *tip)
{
	rq_buf ref = RQ_BUF_INIT;
	git_reference *r = NULL;
	rq_buf_printf(&ref, "refs/remotes/%s/ledger", remote);
	if (git_reference_create(&r, l->repo, ref.ptr, tip, 1, "resque sync") != 0)
		git_error_clear();
	git_reference_free(r);
	rq_buf_release(&ref);
}

/* The memory of each remote (known.h's places, keyed by "remote URL"):
 * how many entries it served, so that one serving fewer is caught. */
static void remote_place(rq_buf *out, const char *url)
{
	/* one key however the URL is spelt: a directory by its real path,
	 * never a password, no trailing slashes */
	char *lp = rq_remote_local_path(url), *real = lp ? realpath(lp, NULL) : NULL;
	char *shown = rq_sync__redacted(real ? real : lp ? lp : url);
	size_t len = strlen(shown);
	while (len > 1 && shown[len - 1] == '/')
		len--;
	char *colon = strstr(shown, ":***@");
	rq_buf_puts(out, "remote ");
	if (colon && (size_t)(colon - shown) < len) {
		rq_buf_put(out, shown, (size_t)(colon - shown));
		rq_buf_put(out, colon + 4, len - (size_t)(colon + 4 - shown));
	} else {
		rq_buf_put(out, shown, len);
	}
	free(shown);
	free(real);
	free(lp);
}

/* Check a remote's ledger of `size` entries against what it served before
 * (*seen: how many; 0 when never seen): RQ_EINTEGRITY when it serves
 * fewer entries, or another entry at the last position it served.
 * `leaf_of` reads the leaf hash of the remote's entry `seq` (ctx). */
typedef int (*leaf_fn)(rq_hash out, uint64_t seq, void *ctx);
static int check_memory_of(uint64_t *seen, const char *repository, const struct link *k, uint64_t size,
			   leaf_fn leaf_of, void *ctx)
{
	rq_buf place = RQ_BUF_INIT;
	rq_known_state st;
	int err = 0;

	*seen = 0;
	memset(&st, 0, sizeof(st));
	remote_place(&place, k->url);
	if (rq_known_state_get(&st, repository, place.ptr) != 0) {
		rq_error_clear(); /* a damaged memory: the guard reports it */
		goto done;
	}
	*seen = st.place_size;
	if (st.place_size == 0)
		goto done;
	if (size < st.place_size) {
		err = rq_error_set(RQ_EINTEGRITY,
				   "remote '%s' (%s) rolled back: it served %" PRIu64 " entries before, now %" PRIu64,
				   k->remote, k->shown, st.place_size, size);
		goto done;
	}
	rq_hash want, got;
	if (rq_known_read_leaf_range(&want, repository, st.place_size - 1, 1) != 0) {
		rq_error_clear();
		goto done;
	}
	if ((err = leaf_of(got, st.place_size - 1, ctx)))
		goto done;
	if (sodium_memcmp(want, got, RQ_HASH_LEN) != 0)
		err = rq_error_set(RQ_EINTEGRITY,
				   "remote '%s' (%s) rewrote its history: entry %" PRIu64
				   " is not the one it served before",
				   k->remote, k->shown, st.place_size - 1);
done:
	rq_known_state_release(&st);
	rq_buf_release(&place);
	return err;
}

/* The same for the ledger `l` (its repository id read from it). */
static int check_remote_memory(uint64_t *seen, rq_ledger *l, const struct link *k, uint64_t size, leaf_fn leaf_of,
			       void *ctx)
{
	rq_buf repo = RQ_BUF_INIT;
	int err = rq_ledger_repository_id(&repo, l);
	*seen = 0;
	if (!err)
		err = check_memory_of(seen, repo.ptr, k, size, leaf_of, ctx);
	rq_buf_release(&repo);
	return err;
}

static void remember_remote(rq_ledger *l, const struct link *k, uint64_t size)
{
	rq_buf repo = RQ_BUF_INIT, place = RQ_BUF_INIT;
	remote_place(&place, k->url);
	if (size && rq_ledger_repository_id(&repo, l) == 0 && rq_known_set_place(repo.ptr, place.ptr, size) != 0)
		rq_ledger__notice("could not remember what remote '%s' served: %s", k->remote, rq_error_last());
	rq_error_clear();
	rq_buf_release(&repo);
	rq_buf_release(&place);
}

/* The leaf of entry `seq` of a chain whose entries [0, base) are the
 * local ledger's (verified) and [base, base + r->nleaves) are r's. */
struct chain_leaves {
	rq_ledger *l;
	uint64_t base;
	const rq_verify_report *r;
};

static int chain_leaf(rq_hash out, uint64_t seq, void *ctx)
{
	struct chain_leaves *c = ctx;
	uint8_t commit[20];
	if (seq < c->base)
		return rq_guard_leaf(out, commit, c->l, seq);
	if (seq - c->base >= c->r->nleaves || !c->r->leaves)
		return rq_error_set(RQ_EINTEGRITY, "entry %" PRIu64 " is missing", seq);
	memcpy(out, c->r->leaves[seq - c->base], RQ_HASH_LEN);
	return 0;
}

/* Verify the remote's entries after the local verified entry `base_seq`
 * (commit `base`, id `base_id`) up to `tip`. Problems: RQ_EINTEGRITY
 * naming the first. */
static int verify_incoming(rq_verify_report *r, rq_ledger *l, const struct link *k, const git_oid *base,
			   uint64_t base_seq, const char *base_id, const git_oid *tip)
{
	struct rq_verify_from from;
	const rq_signer_change *sv;
	size_t ns, n = 0;
	int err;

	memset(&from, 0, sizeof(from));
	if ((err = rq_guard_load_all(l)))
		return err;
	rq_guard_signers(&sv, &ns, l);
	while (n < ns && sv[n].seq <= base_seq)
		n++;
	from.size = base_seq + 1;
	git_oid_cpy(&from.commit, base);
	memcpy(from.id, base_id, RQ_ID_HEX_SIZE);
	from.signers = sv;
	from.nsigners = n;
	from.tip = tip;
	err = rq_ledger__verify_from(r, l, &from);
	if (err && err != RQ_EINTEGRITY)
		return err;
	if (r->nproblems) {
		const rq_problem *p = &r->problems[0];
		if (p->seq >= 0)
			return rq_error_set(RQ_EINTEGRITY, "remote '%s' (%s): entry %" PRId64 " (%.12s): %s%s", k->remote,
					    k->url, p->seq, p->id, p->message,
					    r->nproblems > 1 ? " (and more problems)" : "");
		return rq_error_set(RQ_EINTEGRITY, "remote '%s' (%s): %s", k->remote, k->shown, p->message);
	}
	if (!r->leaves && r->entries)
		return rq_error_set(RQ_EINTEGRITY, "remote '%s' (%s): not every entry could be read", k->remote, k->shown);
	rq_error_clear();
	return 0;
}

static void result_start(rq_sync_result *out, rq_ledger *l, const struct link *k)
{
	rq_entry *e = NULL;
	memset(out, 0, sizeof(*out));
	out->remote = rq_xstrdup(k->remote);
	out->url = rq_xstrdup(k->shown);
	out->before_size = rq_ledger_size(l);
	if (l->has_tip && rq_ledger__entry_at(&e, l, &l->tip) == 0)
		memcpy(out->before_tip, e->id, RQ_ID_HEX_SIZE);
	rq_error_clear();
	rq_entry_free(e);
}

static void result_end(rq_sync_result *out, rq_ledger *l)
{
	rq_entry *e = NULL;
	out->after_size = rq_ledger_size(l);
	if (l->has_tip && rq_ledger__entry_at(&e, l, &l->tip) == 0)
		memcpy(out->after_tip, e->id, RQ_ID_HEX_SIZE);
	rq_error_clear();
	rq_entry_free(e);
	out->up_to_date = out->after_size == out->before_size && strcmp(out->after_tip, out->before_tip) == 0 &&
			  out->sent == 0;
}

/* ---- push ---- */

/* Push to a repository on this machine: libgit2's local transport moves
 * the remote ref without comparing it to what it was, so the pack is
 * written into the remote's object store here and its ref moved by a
 * compare-and-swap (git's ref lock), as receive-pack does. */
static int local_push(rq_ledger *l, const struct link *k, const char *path, uint64_t count)
{
	git_repository *rr = NULL;
	git_revwalk *walk = NULL;
	git_packbuilder *pb = NULL;
	git_reference *ref = NULL;
	rq_buf pack = RQ_BUF_INIT;
	int err = 0, rc;

	if (git_repository_open_ext(&rr, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL)) {
		err = rq_error_set(RQ_ERROR, "remote '%s' (%s): %s", k->remote, k->shown,
				   git_error_last() ? git_error_last()->message : "cannot open it");
		goto done;
	}
	rq_buf_printf(&pack, "%s/objects/pack", git_repository_path(rr));
	if (git_revwalk_new(&walk, l->repo) || git_revwalk_push(walk, &l->tip) ||
	    (!k->expect_none && git_revwalk_hide(walk, &k->expect)) || git_packbuilder_new(&pb, l->repo) ||
	    git_packbuilder_insert_walk(pb, walk) || git_packbuilder_write(pb, pack.ptr, 0, NULL, NULL)) {
		err = rq_sync__net_error(k, "sending the ledger's objects");
		goto done;
	}
	if (k->progress)
		k->progress(k->progress_ctx, "sending", count, count);
	rc = k->expect_none ? git_reference_create(&ref, rr, RQ_REMOTE_LEDGER, &l->tip, 0, "resque push")
			    : git_reference_create_matching(&ref, rr, RQ_REMOTE_LEDGER, &l->tip, 1, &k->expect,
							    "resque push");
	if (rc == GIT_EMODIFIED || rc == GIT_EEXISTS || rc == GIT_ELOCKED)
		err = rq_error_set(RQ_EINVALID,
				   "remote '%s' (%s) moved while pushing (another push?): nothing was changed there; "
				   "pull and push again",
				   k->remote, k->shown);
	else if (rc)
		err = rq_sync__net_error(k, "updating its ledger branch");
done:
	git_reference_free(ref);
	git_packbuilder_free(pb);
	git_revwalk_free(walk);
	git_repository_free(rr);
	rq_buf_release(&pack);
	return err;
}

/* Before a push: the remote's ledger (tip `rtip` when *found) must be an
 * ancestor of ours, and no shorter or other than it served before; `k`
 * then expects it unchanged. *rsize gets its entries. */
static int push_check(uint64_t *rsize, rq_ledger *l, struct link *k, const git_oid *rtip, bool found)
{
	struct chain_leaves cl = { l, l->size, NULL };
	uint64_t seen = 0;
	int err;

	*rsize = 0;
	if (!found) {
		if ((err = check_remote_memory(&seen, l, k, 0, chain_leaf, &cl)))
			return err;
		k->expect_set = true;
		k->expect_none = true;
		return 0;
	}
	if (!git_oid_equal(rtip, &l->tip) && git_graph_descendant_of(l->repo, &l->tip, rtip) != 1) {
		git_error_clear();
		return rq_error_set(RQ_EINVALID,
				    "remote '%s' (%s) has entries this ledger does not: pull first "
				    "('resque pull --rebase %s'), then push",
				    k->remote, k->shown, k->remote);
	}
	/* an ancestor of our verified tip: part of what we verified */
	char rid[RQ_ID_HEX_SIZE];
	if ((err = seq_at(rsize, rid, l, rtip)))
		return err;
	(*rsize)++;
	if ((err = check_remote_memory(&seen, l, k, *rsize, chain_leaf, &cl)))
		return err;
	k->expect_set = true;
	git_oid_cpy(&k->expect, rtip);
	return 0;
}

/* What push and pull start with: the remote opened, the ledger checked
 * by the guard (so that what we compare with is verified), `out` begun. */
static int sync_begin(git_remote **remote, struct link *k, rq_sync_result *out, rq_ledger *l, const char *name,
		      const rq_sync_options *o)
{
	int err;
	k->progress = o ? o->progress : NULL;
	k->progress_ctx = o ? o->progress_ctx : NULL;
	if ((err = rq_sync__open_remote(remote, k, l, name)) || (err = rq_ledger_guard(l)))
		return err;
	result_start(out, l, k);
	if (!l->has_tip)
		return rq_error_set(RQ_EINVALID, "%s: the ledger is empty", l->dir);
	return 0;
}

/* Send our entries after the remote's first `rsize`: into a repository on
 * this machine directly, else through libgit2's push, whose callbacks
 * check the remote ref is still what was verified. */
static int push_send(rq_ledger *l, git_remote *remote, struct link *k, uint64_t rsize)
{
	char *lp = rq_remote_local_path(k->url);
	if (lp) {
		int err = local_push(l, k, lp, l->size - rsize);
		free(lp);
		return err;
	}
	git_push_options po = GIT_PUSH_OPTIONS_INIT;
	char spec[] = RQ_LEDGER_REF ":" RQ_REMOTE_LEDGER;
	char *specs[] = { spec };
	git_strarray refspecs = { specs, 1 };
	rq_sync__callbacks(&po.callbacks, k);
	if (git_remote_push(remote, &refspecs, &po)) {
		rq_sync__net_error(k, "pushing");
		return rq_error_set(RQ_ERROR, "%s (if another push landed first: 'resque pull --rebase %s', then push again)",
				    rq_error_last(), k->remote);
	}
	if (k->rejected)
		return rq_error_set(RQ_EINVALID,
				    "remote '%s' (%s) refused the push: %s (if another push landed first: 'resque pull "
				    "--rebase %s', then push again)",
				    k->remote, k->shown, k->rejected, k->remote);
	return 0;
}

int rq_sync_push(rq_sync_result *out, rq_ledger *l, const char *name, const rq_sync_options *o)
{
	struct link k;
	git_remote *remote = NULL;
	git_oid rtip;
	bool found = false;
	uint64_t rsize = 0;
	int err;

	memset(&k, 0, sizeof(k));
	memset(out, 0, sizeof(*out));
	if ((err = sync_begin(&remote, &k, out, l, name, o)))
		goto done;
	if ((err = fetch(&rtip, &found, l, remote, &k)) || (err = push_check(&rsize, l, &k, &rtip, found)))
		goto done;
	out->remote_size = rsize;
	if (found && git_oid_equal(&rtip, &l->tip)) {
		set_tracking(l, k.remote, &rtip);
		remember_remote(l, &k, rsize);
		goto finish;
	}
	if ((err = push_send(l, remote, &k, rsize)))
		goto done;
	out->sent = l->size - rsize;
	out->remote_size = l->size;
	set_tracking(l, k.remote, &l->tip);
	remember_remote(l, &k, l->size);
finish:
	result_end(out, l);
done:
	if (l)
		drop_incoming(l, name);
	rq_sync__link_release(&k);
	git_remote_free(remote);
	return err;
}

/* ---- pull ---- */

/* index.db from entry `keep` on, brought to the ledger's new snapshot
 * (l->tip) without reading the entries before `keep` again; on any
 * failure the whole index is rebuilt, as every command would do. */
static int index_follow(rq_ledger *l, uint64_t keep, const git_oid *old_tip, uint64_t old_size)
{
	rq_index_inserter ins = { 0 };
	git_oid *v = NULL;
	size_t n = 0, cap = 0;
	rq_buf itip = RQ_BUF_INIT;
	char hex[GIT_OID_HEXSZ + 1];
	int err = 0;

	/* only when index.db was at our old tip */
	git_oid_tostr(hex, sizeof(hex), old_tip);
	if (rq_index_tip(&itip, l) != 0 || strcmp(itip.ptr, hex) != 0 || keep > old_size)
		goto full;
	for (git_oid cur = l->tip; n < l->size - keep;) {
		git_commit *c = NULL;
		if (rq_object_commit(&c, l->repo, &cur) != 0 || git_commit_parentcount(c) != 1) {
			git_commit_free(c);
			goto full;
		}
		RQ_ALLOC_GROW(v, n + 1, cap);
		v[n++] = cur;
		git_oid_cpy(&cur, git_commit_parent_id(c, 0));
		git_commit_free(c);
	}
	if (rq_index_begin(l) || (keep < old_size && rq_index_truncate(l, keep)) || rq_index_inserter_open(&ins, l))
		goto rollback;
	for (size_t i = n; i-- > 0;) {
		rq_entry *e = NULL;
		git_oid_tostr(hex, sizeof(hex), &v[i]);
		int e2 = rq_ledger__entry_at(&e, l, &v[i]);
		if (!e2)
			e2 = rq_index_inserter_put(&ins, e, hex);
		rq_entry_free(e);
		if (e2)
			goto rollback;
	}
	rq_index_inserter_close(&ins);
	git_oid_tostr(hex, sizeof(hex), &l->tip);
	if (rq_index_set_tip(l, hex) || rq_index_commit(l))
		goto rollback;
	goto done;
rollback:
	rq_index_inserter_close(&ins);
	rq_index_rollback(l);
full:
	rq_error_clear();
	err = rq_ledger__resnapshot(l);
done:
	free(v);
	rq_buf_release(&itip);
	return err;
}

/* Move the ledger branch from our tip to `to` (compare-and-swap), under
 * the writer's lock, and take it as the snapshot (verifying what is new
 * and remembering it, then bringing index.db along). */
int rq_sync__move_ledger(rq_ledger *l, const git_oid *to, uint64_t rewind_to, rq_verify_report *verified)
{
	git_reference *ref = NULL;
	rq_buf repo = RQ_BUF_INIT;
	int fd = -1, err;

	if ((err = rq_ledger__lock(&fd, l)))
		goto done;
	git_oid now;
	if (git_reference_name_to_id(&now, l->repo, RQ_LEDGER_REF) != 0 || !git_oid_equal(&now, &l->tip)) {
		err = rq_error_set(RQ_ELOCKED, "%s: the ledger changed while pulling (another writer?); try again", l->dir);
		goto done;
	}
	if (rewind_to && (err = rq_ledger_repository_id(&repo, l)) == 0 && (err = rq_known_rewind(repo.ptr, rewind_to))) {
		rq_error_prefix(err, "forgetting the replaced entries: ");
		goto done;
	}
	int rc = git_reference_create_matching(&ref, l->repo, RQ_LEDGER_REF, to, 1, &l->tip, "resque pull");
	if (rc == GIT_EMODIFIED || rc == GIT_ELOCKED) {
		err = rq_git_error(RQ_ELOCKED, "updating the ledger branch (another writer?)");
		goto done;
	}
	if (rc) {
		err = rq_git_error(RQ_EIO, "updating the ledger branch");
		goto done;
	}
	git_oid old_tip = l->tip;
	uint64_t old_size = l->size;
	/* what verify_incoming checked of the new entries counts */
	if (verified && !rewind_to) {
		l->preverified = verified;
		l->preverified_from = old_size;
		git_oid_cpy(&l->preverified_tip, to);
	}
	err = rq_guard_advance(l, to);
	l->preverified = NULL;
	if (!err)
		err = index_follow(l, rewind_to ? rewind_to : old_size, &old_tip, old_size);
done:
	if (fd >= 0)
		close(fd);
	git_reference_free(ref);
	rq_buf_release(&repo);
	return err;
}

/* The last entry our ledger and the remote's (tip `rtip`) share: its
 * commit, sequence number and id. */
static int common_entry(git_oid *base, uint64_t *base_seq, char base_id[RQ_ID_HEX_SIZE], rq_ledger *l,
			const struct link *k, const git_oid *rtip)
{
	int err;
	if (git_merge_base(base, l->repo, &l->tip, rtip) != 0) {
		git_error_clear();
		return rq_error_set(RQ_EINVALID, "remote '%s' (%s) holds another ledger: it shares no entry with this one",
				    k->remote, k->shown);
	}
	if ((err = seq_at(base_seq, base_id, l, base)))
		return err;
	if (*base_seq >= l->size)
		return rq_error_set(RQ_EINTEGRITY, "remote '%s': the common entry is past the ledger's tip", k->remote);
	return 0;
}

int rq_sync_pull(rq_sync_result *out, rq_ledger *l, const char *name, const rq_sync_options *o)
{
	struct link k;
	git_remote *remote = NULL;
	git_oid rtip, base;
	rq_verify_report r;
	bool found = false;
	uint64_t base_seq = 0, seen = 0;
	char base_id[RQ_ID_HEX_SIZE];
	int err;

	memset(&k, 0, sizeof(k));
	memset(&r, 0, sizeof(r));
	memset(out, 0, sizeof(*out));
	if ((err = sync_begin(&remote, &k, out, l, name, o)))
		goto done;
	if (l->index_memory) {
		err = rq_error_set(l->index_memory_code, "%s", l->index_memory);
		goto done;
	}
	if ((err = fetch(&rtip, &found, l, remote, &k)))
		goto done;
	if (!found) {
		struct chain_leaves cl = { l, l->size, NULL };
		if ((err = check_remote_memory(&seen, l, &k, 0, chain_leaf, &cl)))
			goto done;
		out->remote_size = 0;
		goto finish;
	}
	if ((err = common_entry(&base, &base_seq, base_id, l, &k, &rtip)))
		goto done;
	/* What the remote has beyond the common entry must verify. */
	if ((err = verify_incoming(&r, l, &k, &base, base_seq, base_id, &rtip)))
		goto done;
	uint64_t rsize = base_seq + 1 + r.nleaves;
	struct chain_leaves cl = { l, base_seq + 1, &r };
	if ((err = check_remote_memory(&seen, l, &k, rsize, chain_leaf, &cl)))
		goto done;
	out->remote_size = rsize;
	if (r.nleaves == 0) /* the remote is behind, or level */
		goto track;
	if (git_oid_equal(&base, &l->tip)) {
		out->received = r.nleaves;
		if ((err = rq_sync__move_ledger(l, &rtip, 0, &r)))
			goto done;
		goto track;
	}
	if ((err = rq_sync__diverged(out, l, &k, &base, base_seq, base_id, &rtip, rsize, &r, o)))
		goto done;
track:
	set_tracking(l, k.remote, &rtip);
	remember_remote(l, &k, rsize);
finish:
	result_end(out, l);
done:
	if (l && remote)
		drop_incoming(l, name);
	rq_verify_report_release(&r);
	rq_sync__link_release(&k);
	git_remote_free(remote);
	return err;
}

/* ---- clone ---- */

/* Copy the file `from` to `to` (created, mode 0444 as git keeps objects). */
static int copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC), outfd = -1, err = 0;
	if (in < 0)
		return rq_error_os("%s", from);
	outfd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (outfd < 0) {
		err = rq_error_os("%s", to);
		goto done;
	}
	char buf[1 << 16];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = rq_error_os("%s", from);
			break;
		}
		if (n == 0)
			break;
		for (ssize_t w = 0; w < n;) {
			ssize_t m = write(outfd, buf + w, (size_t)(n - w));
			if (m < 0 && errno == EINTR)
				continue;
			if (m < 0) {
				err = rq_error_os("%s", to);
				goto done;
			}
			w += m;
		}
	}
done:
	if (outfd >= 0 && close(outfd) != 0 && !err)
		err = rq_error_os("%s", to);
	close(in);
	return err;
}

/* Copy the object store of the repository at `src` (its packs and loose
 * objects) into `dst` (an objects directory), as `git clone --local
 * --no-hardlinks` does: much faster than building a pack, and what is
 * copied is verified like anything fetched. RQ_EUNSUPPORTED when the store
 * borrows objects from elsewhere (alternates): then the caller fetches. */
static int copy_objects(const char *src, const char *dst)
{
	rq_buf alt = RQ_BUF_INIT, a = RQ_BUF_INIT, b = RQ_BUF_INIT;
	DIR *d = NULL;
	struct dirent *de;
	int err = 0;

	rq_buf_printf(&alt, "%s/info/alternates", src);
	if (rq_path_exists(alt.ptr)) {
		err = RQ_EUNSUPPORTED;
		goto done;
	}
	if (!(d = opendir(src))) {
		err = rq_error_os("%s", src);
		goto done;
	}
	while (!err && (de = readdir(d))) {
		const char *n = de->d_name;
		bool pack = strcmp(n, "pack") == 0;
		bool fan = strlen(n) == 2 && rq_is_hex(n, 2);
		if (!pack && !fan)
			continue;
		rq_buf_reset(&a);
		rq_buf_reset(&b);
		rq_buf_printf(&a, "%s/%s", src, n);
		rq_buf_printf(&b, "%s/%s", dst, n);
		DIR *sd = opendir(a.ptr);
		if (!sd)
			continue;
		if ((err = rq_mkdir_p(b.ptr, 0755)) == 0) {
			struct dirent *fe;
			size_t al = a.len, bl = b.len;
			while (!err && (fe = readdir(sd))) {
				const char *f = fe->d_name;
				size_t fl = strlen(f);
				bool want = pack ? (fl > 5 && (strcmp(f + fl - 5, ".pack") == 0 || strcmp(f + fl - 4, ".idx") == 0))
						 : (fl == 38 && rq_is_hex(f, 38));
				if (!want)
					continue;
				rq_buf_truncate(&a, al);
				rq_buf_truncate(&b, bl);
				rq_buf_printf(&a, "/%s", f);
				rq_buf_printf(&b, "/%s", f);
				err = copy_file(a.ptr, b.ptr);
			}
		}
		closedir(sd);
	}
done:
	if (d)
		closedir(d);
	rq_buf_release(&alt);
	rq_buf_release(&a);
	rq_buf_release(&b);
	return err;
}

/* A clone from a repository on this machine: its object store copied,
 * its ledger branch read. *tip gets the branch's commit; RQ_EUNSUPPORTED
 * when the copy cannot be made this way (the caller fetches instead). */
static int local_clone(git_oid *tip, git_repository *repo, const char *path, const struct link *k)
{
	git_repository *rr = NULL;
	rq_buf objs = RQ_BUF_INIT, mine = RQ_BUF_INIT;
	int err = 0;

	if (git_repository_open_ext(&rr, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL)) {
		err = rq_error_set(RQ_ERROR, "remote '%s' (%s): %s", k->remote, k->shown,
				   git_error_last() ? git_error_last()->message : "not a git repository");
		goto done;
	}
	if (git_reference_name_to_id(tip, rr, RQ_REMOTE_LEDGER) != 0) {
		git_error_clear();
		err = rq_error_set(RQ_ENOTFOUND, "remote '%s' has no ledger (no branch 'ledger')", k->shown);
		goto done;
	}
	rq_buf_printf(&objs, "%s/objects", git_repository_path(rr));
	rq_buf_printf(&mine, "%s/objects", git_repository_path(repo));
	err = copy_objects(objs.ptr, mine.ptr);
	if (k->progress && !err)
		k->progress(k->progress_ctx, "receiving", 1, 1);
done:
	git_repository_free(rr);
	rq_buf_release(&objs);
	rq_buf_release(&mine);
	return err;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

/* The bare repository `tmp` for a clone from `url`, its remote "origin"
 * configured. */
static int clone_init(git_repository **repo, const char *tmp, const char *resque_dir, const char *url,
		      const struct link *k)
{
	git_repository_init_options io = GIT_REPOSITORY_INIT_OPTIONS_INIT;
	git_remote *remote = NULL;

	io.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT;
	io.initial_head = "ledger";
	io.description = "resque ledger: one commit per signed entry; see docs/FORMATS.md";
	if (git_repository_init_ext(repo, tmp, &io))
		return rq_git_error(RQ_EIO, resque_dir);
	if (git_remote_create_with_fetchspec(&remote, *repo, "origin", url,
					     "+" RQ_REMOTE_LEDGER ":refs/remotes/origin/ledger"))
		return rq_error_set(RQ_EINVALID, "'%s' is not a URL resque can use: %s", k->shown,
				    git_error_last() ? git_error_last()->message : "git error");
	git_remote_free(remote);
	return 0;
}

/* Bring the remote's ledger into `repo` (a copy of its objects when it is
 * on this machine, else a fetch) and point the ledger branch and
 * origin's tracking branch at it; *tip gets its commit. */
static int clone_fetch(git_oid *tip, git_repository *repo, const char *url, struct link *k)
{
	git_remote *remote = NULL;
	git_fetch_options fo = GIT_FETCH_OPTIONS_INIT;
	char spec[] = "+" RQ_REMOTE_LEDGER ":refs/remotes/origin/ledger";
	char *specs[] = { spec };
	git_strarray refspecs = { specs, 1 };
	int err = 0;

	rq_sync__callbacks(&fo.callbacks, k);
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.update_fetchhead = 0;
	if (git_remote_create_anonymous(&remote, repo, url)) {
		err = rq_git_error(RQ_EINVALID, k->shown);
		goto done;
	}
	if ((err = local_exists(k)))
		goto done;
	char *lp = rq_remote_local_path(url);
	err = lp ? local_clone(tip, repo, lp, k) : RQ_EUNSUPPORTED;
	free(lp);
	if (err == RQ_EUNSUPPORTED) {
		rq_error_clear();
		err = 0;
		if (git_remote_fetch(remote, &refspecs, &fo, NULL)) {
			err = rq_sync__net_error(k, "fetching its ledger");
			goto done;
		}
		if (git_reference_name_to_id(tip, repo, "refs/remotes/origin/ledger") != 0) {
			git_error_clear();
			err = rq_error_set(RQ_ENOTFOUND, "remote '%s' has no ledger (no branch 'ledger')", k->shown);
			goto done;
		}
	}
	if (err)
		goto done;
	git_reference *track = NULL, *ref = NULL;
	int rc = git_reference_create(&track, repo, "refs/remotes/origin/ledger", tip, 1, "resque clone");
	if (!rc)
		rc = git_reference_create(&ref, repo, RQ_LEDGER_REF, tip, 0, "resque clone");
	git_reference_free(track);
	git_reference_free(ref);
	if (rc)
		err = rq_git_error(RQ_EIO, "creating the ledger branch");
done:
	git_remote_free(remote);
	return err;
}

/* Everything received is verified before the repository exists: as
 * `resque verify` would, then against what this machine saw of the same
 * ledger before, and of the same remote. */
/* index.db of a new clone from the `n` entries just verified (and the
 * commits holding them), without reading them from git again. */
static int clone_index(rq_ledger *l, rq_entry **v, const uint8_t (*commits)[20], size_t n)
{
	rq_index_inserter ins = { 0 };
	char hex[GIT_OID_HEXSZ + 1];
	int err;

	if ((err = rq_index_begin(l)) || (err = rq_index_clear(l)) || (err = rq_index_inserter_open(&ins, l)))
		goto fail;
	for (size_t i = 0; i < n; i++) {
		git_oid c;
		git_oid_fromraw(&c, commits[i]);
		git_oid_tostr(hex, sizeof(hex), &c);
		if ((err = rq_index_inserter_put(&ins, v[i], hex)))
			goto fail;
	}
	rq_index_inserter_close(&ins);
	if ((err = rq_index_set_tip(l, hex)) || (err = rq_index_commit(l)))
		goto fail;
	return 0;
fail:
	rq_index_inserter_close(&ins);
	rq_index_rollback(l);
	return err;
}

static int clone_verify(rq_verify_report *r, rq_ledger *l, const struct link *k)
{
	rq_entry **v = NULL;
	char **sigs = NULL;
	/* the whole ledger, keeping the entries for index.db (empty until
	 * then: its problems are not the ledger's) */
	int err = rq_ledger_verify_entries(r, &v, &sigs, l);
	if (!err && v && r->commits && r->nleaves)
		err = clone_index(l, v, (const uint8_t (*)[20])r->commits, (size_t)r->nleaves);
	for (size_t i = 0; v && i < r->nleaves; i++) {
		rq_entry_free(v[i]);
		free(sigs[i]);
	}
	free(v);
	free(sigs);
	if (err && err != RQ_EINTEGRITY)
		return err;
	if (r->nproblems > r->index_problems) {
		const rq_problem *p = &r->problems[0];
		return p->seq >= 0 ? rq_error_set(RQ_EINTEGRITY, "%s: entry %" PRId64 " (%.12s): %s%s", k->shown, p->seq,
						  p->id, p->message, r->nproblems > 1 ? " (and more problems)" : "")
				   : rq_error_set(RQ_EINTEGRITY, "%s: %s", k->shown, p->message);
	}
	rq_known km;
	rq_hash *kv = NULL;
	uint64_t at = UINT64_MAX;
	int e2 = rq_known_get(&km, &kv, r->repository);
	if (e2 == 0)
		e2 = rq_known_compare(&at, &km, kv, r->genesis, (const rq_hash *)r->leaves, r->nleaves);
	free(kv);
	if (e2 == RQ_EINTEGRITY && at == UINT64_MAX && r->nleaves < km.size)
		e2 = 0; /* behind another copy here: no rollback by itself */
	if (e2 == RQ_EINTEGRITY)
		return rq_error_set(RQ_EINTEGRITY, "%s: %s", k->shown, rq_error_last());
	rq_error_clear();
	uint64_t seen;
	struct chain_leaves cl = { l, 0, r };
	return check_memory_of(&seen, r->repository, k, r->nleaves, chain_leaf, &cl);
}

/* The verified repository `tmp` moved to `resque_dir`, what was verified
 * remembered (as verify does), then opened as *l. */
static int clone_move(rq_ledger **l, rq_buf *tmp, const char *resque_dir, const rq_verify_report *r)
{
	if (rename(tmp->ptr, resque_dir) < 0)
		return rq_error_set(errno == EEXIST || errno == ENOTEMPTY ? RQ_EEXISTS : RQ_EIO, "%s: %s", resque_dir,
				    strerror(errno));
	rq_buf_reset(tmp);
	rq_buf warning = RQ_BUF_INIT;
	if (rq_known_remember(NULL, &warning, r) != 0)
		rq_error_clear();
	rq_buf_release(&warning);
	int err = rq_ledger_open(l, resque_dir);
	if (!err)
		err = rq_ledger_guard(*l);
	return err;
}

int rq_sync_clone(rq_sync_result *out, const char *url, const char *resque_dir, const rq_sync_options *o)
{
	rq_buf tmp = RQ_BUF_INIT;
	git_repository *repo = NULL;
	rq_ledger *l = NULL;
	rq_verify_report r;
	struct link k;
	git_oid tip;
	int err = 0;

	memset(&k, 0, sizeof(k));
	memset(&r, 0, sizeof(r));
	memset(out, 0, sizeof(*out));
	k.remote = "origin";
	k.url = url;
	k.shown = rq_sync__redacted(url);
	k.progress = o ? o->progress : NULL;
	k.progress_ctx = o ? o->progress_ctx : NULL;
	out->remote = rq_xstrdup("origin");
	out->url = rq_xstrdup(k.shown);
	git_libgit2_init();
	rq_sync__tls();
	if ((err = rq_remote_url_check(url)))
		return err;
	if (rq_path_exists(resque_dir))
		return rq_error_set(RQ_EEXISTS, "%s: a repository exists already", resque_dir);
	rq_ledger__clean_init_leftovers(resque_dir); /* of killed clones and inits */
	/* Built beside its final place, verified, then renamed into it. */
	rq_buf_printf(&tmp, "%s.tmp-%ld", resque_dir, (long)getpid());
	if ((err = clone_init(&repo, tmp.ptr, resque_dir, url, &k)) || (err = clone_fetch(&tip, repo, url, &k)))
		goto done;
	git_repository_free(repo);
	repo = NULL;
	if ((err = rq_ledger__open_unindexed(&l, tmp.ptr)) || (err = clone_verify(&r, l, &k)))
		goto done;
	if ((err = rq_ledger_config_set(l, "resque.formatversion", "1")) ||
	    (err = rq_ledger_config_set(l, "resque.id", r.repository)))
		goto done;
	rq_ledger_free(l);
	l = NULL;
	if ((err = clone_move(&l, &tmp, resque_dir, &r)))
		goto done;
	out->received = r.nleaves;
	out->remote_size = r.nleaves;
	remember_remote(l, &k, r.nleaves);
	result_end(out, l);
done:
	rq_ledger_free(l);
	rq_verify_report_release(&r);
	git_repository_free(repo);
	if (tmp.len && rq_path_exists(tmp.ptr))
		nftw(tmp.ptr, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	rq_buf_release(&tmp);
	rq_sync__link_release(&k);
	return err;
}
