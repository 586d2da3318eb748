/* Reading what a report's evidence embeds: the ledger's entries in
 * sequence order with their signature files, from git (the entries' commit
 * ids found through index.db). */
#include "common.h"
#include "ledger_int.h"
#include "resque/evidence.h"

static int blob_at(rq_buf *out, git_repository *repo, const git_tree *t, const char *name)
{
	const git_tree_entry *te = git_tree_entry_byname(t, name);
	git_blob *b = NULL;

	if (!te || git_tree_entry_type(te) != GIT_OBJECT_BLOB || git_blob_lookup(&b, repo, git_tree_entry_id(te)))
		return rq_error_set(RQ_EINTEGRITY, "no '%s' file", name);
	rq_buf_put(out, git_blob_rawcontent(b), (size_t)git_blob_rawsize(b));
	git_blob_free(b);
	return 0;
}

int rq_ledger_entries_signed(rq_entry ***out, char ***sigs_out, rq_ledger *l, uint64_t size)
{
	sqlite3_stmt *st = NULL;
	rq_entry **v = rq_xcalloc(size + 1, sizeof(*v));
	char **sigs = rq_xcalloc(size + 1, sizeof(*sigs));
	uint64_t n = 0;
	int err = 0, rc;

	*out = NULL;
	*sigs_out = NULL;
	if (sqlite3_prepare_v2(l->db, "SELECT seq, commit_oid FROM entries WHERE seq < ?1 ORDER BY seq", -1, &st,
			       NULL) != SQLITE_OK) {
		err = rq_error_set(RQ_EIO, "index.db: %s", sqlite3_errmsg(l->db));
		goto done;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		git_oid oid;
		git_commit *c = NULL;
		git_tree *t = NULL;
		rq_buf bytes = RQ_BUF_INIT, sig = RQ_BUF_INIT;
		const char *hex = (const char *)sqlite3_column_text(st, 1);

		if ((uint64_t)sqlite3_column_int64(st, 0) != n || !hex || git_oid_fromstr(&oid, hex)) {
			err = rq_error_set(RQ_EINTEGRITY, "index.db: entry %" PRIu64 " is missing or malformed (run 'resque reindex')",
					   n);
			break;
		}
		if (git_commit_lookup(&c, l->repo, &oid) || git_commit_tree(&t, c))
			err = rq_git_error(RQ_EINTEGRITY, "reading a ledger commit");
		else if (!(err = blob_at(&bytes, l->repo, t, "entry")) && !(err = blob_at(&sig, l->repo, t, "sig")))
			err = rq_entry_parse(&v[n], bytes.ptr, bytes.len);
		if (!err)
			sigs[n] = rq_buf_detach(&sig, NULL);
		rq_buf_release(&bytes);
		rq_buf_release(&sig);
		git_tree_free(t);
		git_commit_free(c);
		if (err) {
			rq_error_prefix(err, "ledger entry %" PRIu64 ": ", n);
			break;
		}
		n++;
	}
	if (!err && n != size)
		err = rq_error_set(RQ_EINTEGRITY, "index.db lists %" PRIu64 " of the ledger's %" PRIu64 " entries", n, size);
done:
	sqlite3_finalize(st);
	if (err) {
		for (uint64_t i = 0; i <= n && i < size; i++) {
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
