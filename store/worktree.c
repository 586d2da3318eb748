/* The git work tree a command runs in (the user's code, never the ledger)
 * and its version, through libgit2: HEAD's commit and branch, and whether
 * tracked files differ from it. */
#include "common.h"
#include "worktree.h"
#include "ledger_int.h"

#include <git2.h>
#include <stdlib.h>

/* Whether resolved `path` is resolved directory `dir` or below it (`dir`
 * may end in '/'). */
static bool path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 1 && dir[0] == '/')
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Whether resolved `path` is `dir` or below it once `dir` is resolved too
 * (false when it cannot be). */
static bool within_resolved(const char *path, const char *dir)
{
	char *real = realpath(dir, NULL);
	bool in = real && path_within(path, real);
	free(real);
	return in;
}

/* Whether two directories are one once resolved. */
static bool same_dir(const char *a, const char *b)
{
	char *ra = realpath(a, NULL), *rb = realpath(b, NULL);
	bool same = ra && rb && !strcmp(ra, rb);
	free(ra);
	free(rb);
	return same;
}

/* Stops the status walk at the first change: any entry is one, since
 * untracked and ignored files are not asked for. */
static int any_change(const char *path, unsigned int flags, void *payload)
{
	RQ_UNUSED(path);
	RQ_UNUSED(flags);
	RQ_UNUSED(payload);
	return 1;
}

/* Tracked files modified, deleted, renamed, of another type or staged
 * (against HEAD, or an empty tree before the first commit); untracked and
 * ignored files do not count. Submodules count as git status shows them. */
static int find_dirty(bool *out, git_repository *repo)
{
	git_status_options so = GIT_STATUS_OPTIONS_INIT;
	so.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
	so.flags = 0; /* not GIT_STATUS_OPT_DEFAULTS: no untracked, no ignored */
	int rc = git_status_foreach_ext(repo, &so, any_change, NULL);
	if (rc < 0)
		return rq_git_error(RQ_EIO, "git work tree: reading its status");
	*out = rc > 0;
	return 0;
}

/* HEAD's commit and branch; a branch with no commit yet leaves the commit
 * empty, a detached HEAD the branch NULL. */
static int find_head(rq_worktree *out, git_repository *repo)
{
	git_reference *head = NULL;
	git_object *commit = NULL;
	int err = 0, unborn = git_repository_head_unborn(repo);

	if (unborn < 0)
		return rq_git_error(RQ_EIO, "git work tree: reading HEAD");
	if (unborn) {
		const char *target;
		if (git_reference_lookup(&head, repo, "HEAD") < 0)
			return rq_git_error(RQ_EIO, "git work tree: reading HEAD");
		target = git_reference_symbolic_target(head);
		if (target && !strncmp(target, "refs/heads/", 11))
			out->branch = rq_xstrdup(target + 11);
		goto done;
	}
	if (git_repository_head(&head, repo) < 0 || git_reference_peel(&commit, head, GIT_OBJECT_COMMIT) < 0) {
		err = rq_git_error(RQ_EIO, "git work tree: reading HEAD's commit");
		goto done;
	}
	git_oid_tostr(out->commit, sizeof(out->commit), git_object_id(commit));
	if (git_reference_is_branch(head))
		out->branch = rq_xstrdup(git_reference_shorthand(head));
done:
	git_object_free(commit);
	git_reference_free(head);
	return err;
}

/* RQ_ENOTFOUND unless `real` (resolved) is in `repo`'s work tree, outside
 * its git directory, and `repo` is not the ledger. */
static int check_worktree(git_repository *repo, const char *real, const char *ledger_dir)
{
	const char *workdir = git_repository_workdir(repo), *gitdir = git_repository_path(repo);

	if (ledger_dir && same_dir(gitdir, ledger_dir))
		return rq_error_set(RQ_ENOTFOUND, "%s: in the ledger's repository, not a git work tree", real);
	if (!workdir)
		return rq_error_set(RQ_ENOTFOUND, "%s: in a bare git repository, not a work tree", real);
	if (within_resolved(real, gitdir))
		return rq_error_set(RQ_ENOTFOUND, "%s: inside a git directory, not its work tree", real);
	if (!within_resolved(real, workdir))
		return rq_error_set(RQ_ENOTFOUND, "%s: not in the work tree of the git repository %s", real, gitdir);
	return 0;
}

int rq_worktree_describe(rq_worktree *out, const char *dir, const char *ledger_dir)
{
	git_repository *repo = NULL;
	char *real = realpath(dir, NULL);
	int err, rc;

	memset(out, 0, sizeof(*out));
	if (!real)
		return rq_error_os("%s", dir);
	git_libgit2_init();
	rc = git_repository_open_ext(&repo, real, 0, getenv("GIT_CEILING_DIRECTORIES"));
	if (rc == GIT_ENOTFOUND)
		err = rq_error_set(RQ_ENOTFOUND, "%s: not in a git work tree", real);
	else if (rc < 0)
		err = rq_git_error(RQ_EIO, real);
	else if (!(err = check_worktree(repo, real, ledger_dir)) && !(err = find_head(out, repo)))
		err = find_dirty(&out->dirty, repo);
	git_repository_free(repo);
	git_libgit2_shutdown();
	free(real);
	return err;
}

void rq_worktree_release(rq_worktree *w)
{
	if (!w)
		return;
	free(w->branch);
	w->branch = NULL;
}
