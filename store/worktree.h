/* The git work tree a command runs in -- the user's code, not the ledger --
 * and its version: HEAD's commit, branch and whether tracked files differ
 * from it (docs/FORMATS.md "Provenance"). */
#ifndef RESQUE_WORKTREE_H
#define RESQUE_WORKTREE_H

#include <stdbool.h>

typedef struct rq_worktree {
	char commit[41]; /* HEAD's commit (hex); "" when its branch has no commit yet */
	char *branch;    /* HEAD's branch, short name ("main"); NULL when detached */
	bool dirty;      /* a tracked file modified, deleted or staged; untracked ignored */
} rq_worktree;

/* Describe the git work tree holding directory `dir`, found by libgit2's
 * git_repository_open_ext from `dir` upwards as git finds it
 * (GIT_CEILING_DIRECTORIES honoured; not across file systems; GIT_DIR and
 * GIT_WORK_TREE are not read). RQ_ENOTFOUND, with a message saying why,
 * when `dir` is in no work tree: no repository, a bare one, inside a
 * repository's git directory, or the ledger's own repository `ledger_dir`
 * (may be NULL). RQ_EIO with libgit2's message when a repository was found
 * but could not be read (not owned by this user, corrupt, an unsupported
 * format). The caller releases `out` (also after an error). */
int rq_worktree_describe(rq_worktree *out, const char *dir, const char *ledger_dir);
void rq_worktree_release(rq_worktree *w);

#endif
