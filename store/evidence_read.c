/* Reading what a report's evidence embeds: the ledger's entries in
 * sequence order with their signature files, from git (the commits the
 * guard verified, each entry checked against its verified leaf hash). */
#include "common.h"
#include "ledger_int.h"
#include "evidence.h"
#include "object_int.h"
#include "parallel_int.h"

static int blob_at(rq_buf *out, git_repository *repo, const git_tree *t, const char *name)
{
	const git_tree_entry *te = git_tree_entry_byname(t, name);

	if (!te || git_tree_entry_type(te) != GIT_OBJECT_BLOB)
		return rq_error_set(RQ_EINTEGRITY, "no '%s' file", name);
	return rq_object_blob(out, repo, git_tree_entry_id(te));
}

/* One entry to read, by a worker of rq_parallel_for. */
struct item {
	git_oid oid;
	rq_hash leaf;
	rq_entry *e;
	char *sig;
	int err;
	char *msg;
};

struct job {
	rq_ledger *l;
	struct item *v;
	git_repository **repos; /* one per worker; worker 0 uses l->repo */
};

static void read_one(void *ctx, size_t worker, size_t i)
{
	struct job *j = ctx;
	struct item *x = &j->v[i];
	git_repository *repo = j->l->repo;
	git_commit *c = NULL;
	git_tree *t = NULL;
	rq_buf bytes = RQ_BUF_INIT, sig = RQ_BUF_INIT;
	int err;

	if (worker) {
		if (!j->repos[worker] && git_repository_open_bare(&j->repos[worker], j->l->dir))
			j->repos[worker] = NULL;
		repo = j->repos[worker];
	}
	if (!repo)
		err = rq_error_set(RQ_EIO, "%s: cannot open the repository to read it", j->l->dir);
	else if ((err = rq_object_commit(&c, repo, &x->oid)) ||
		 (err = rq_object_tree(&t, repo, git_commit_tree_id(c))))
		;
	else if (!(err = blob_at(&bytes, repo, t, "entry")) && !(err = blob_at(&sig, repo, t, "sig")))
		err = rq_entry_parse(&x->e, bytes.ptr, bytes.len);
	if (!err) {
		rq_hash leaf;
		rq_merkle_leaf_hash(leaf, bytes.ptr, bytes.len);
		if (memcmp(leaf, x->leaf, RQ_HASH_LEN) != 0)
			err = rq_error_set(RQ_EINTEGRITY, "not the entry verified there (run 'resque verify')");
	}
	if (!err)
		x->sig = rq_buf_detach(&sig, NULL);
	else {
		x->err = err;
		x->msg = rq_xstrdup(rq_error_last());
	}
	rq_error_clear();
	rq_buf_release(&bytes);
	rq_buf_release(&sig);
	git_tree_free(t);
	git_commit_free(c);
}

int rq_ledger_entries_signed(rq_entry ***out, char ***sigs_out, rq_ledger *l, uint64_t size)
{
	rq_entry **v = rq_xcalloc(size + 1, sizeof(*v));
	char **sigs = rq_xcalloc(size + 1, sizeof(*sigs));
	struct item *items = rq_xcalloc(size + 1, sizeof(*items));
	size_t nworkers = rq_parallel_workers();
	struct job job = { l, items, rq_xcalloc(nworkers, sizeof(git_repository *)) };
	uint64_t n = 0;
	int err = 0;

	*out = NULL;
	*sigs_out = NULL;
	if (size > rq_ledger_size(l)) {
		err = rq_error_set(RQ_EINVALID, "the ledger has %" PRIu64 " entries, not %" PRIu64, rq_ledger_size(l), size);
		goto done;
	}
	/* the commits as verified, never as index.db lists them */
	if ((err = rq_guard_load_all(l)))
		goto done;
	for (; n < size; n++) {
		uint8_t commit[20];
		if ((err = rq_guard_leaf(items[n].leaf, commit, l, n)))
			break;
		git_oid_fromraw(&items[n].oid, commit);
	}
	/* The entries before the first malformed row, read on every core; the
	 * first problem in sequence order is the one named. */
	{
		char *row_msg = err ? rq_xstrdup(rq_error_last()) : NULL; /* the workers clear it */
		bool read_err = false;
		rq_parallel_for((size_t)n, read_one, &job);
		for (uint64_t i = 0; i < n && !read_err; i++)
			if (items[i].err) {
				err = rq_error_set(items[i].err, "ledger entry %" PRIu64 ": %s", i, items[i].msg);
				read_err = true;
			}
		if (row_msg && !read_err)
			rq_error_set(err, "%s", row_msg);
		free(row_msg);
	}
	for (uint64_t i = 0; i < size; i++) {
		v[i] = items[i].e;
		sigs[i] = items[i].sig;
	}
done:
	for (uint64_t i = 0; i < size; i++)
		free(items[i].msg);
	free(items);
	for (size_t w = 0; w < nworkers; w++)
		git_repository_free(job.repos[w]);
	free(job.repos);
	if (err) {
		for (uint64_t i = 0; i < size; i++) {
			rq_entry_free(v[i]);
			free(sigs[i]);
		}
		free(v);
		free(sigs);
		return err;
	}
	*out = v;
	*sigs_out = sigs;
	return 0;
}
