/* The git work tree a command runs in -- the user's code, not the ledger --
 * and its version: HEAD's commit, branch and whether tracked files differ
 * from it (docs/FORMATS.md "Provenance"). */
#ifndef RESQUE_WORKTREE_H
#define RESQUE_WORKTREE_H

#include <stdbool.h>
#include "resque/buf.h"

typedef struct rq_worktree {
	char commit[41]; /* HEAD's commit (hex); "" when its branch has no commit yet */
	char *branch;    /* HEAD's branch, short name ("main"); NULL when detached */
	bool dirty;      /* a tracked file modified, deleted or staged; untracked ignored */
	bool dirty_known; /* false: `git status` took too long (see warning) */
	rq_buf warning;  /* why dirty is unknown; "" else */
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
/* dirty is asked of `git --no-optional-locks status --porcelain -uno
 * --ignore-submodules=untracked` when a git is on PATH (it runs clean
 * filters and refreshes stat data as git does); when it runs longer than
 * 5 s it is killed, dirty_known is false and `warning` says so. When no git
 * can be run, or it fails, libgit2 answers (git_status with no untracked
 * files: it cannot run external filters, and counts a submodule's
 * untracked files). */
void rq_worktree_release(rq_worktree *w);

#endif
