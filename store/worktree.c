/* The git work tree a command runs in (the user's code, never the ledger)
 * and its version, through libgit2: HEAD's commit and branch, and whether
 * tracked files differ from it. */
#include "common.h"
#include "worktree.h"
#include "ledger_int.h"

#include <git2.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* How long `git status` may take before dirty is recorded as unknown. */
#define STATUS_TIMEOUT_MS 5000

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

/* environ without the variables that would point git elsewhere than the
 * work tree it is started in. */
static char **git_env(void)
{
	static const char *const drop[] = { "GIT_DIR=", "GIT_WORK_TREE=", "GIT_INDEX_FILE=", "GIT_COMMON_DIR=",
					    "GIT_OBJECT_DIRECTORY=", "GIT_ALTERNATE_OBJECT_DIRECTORIES=",
					    "GIT_NAMESPACE=", "GIT_CEILING_DIRECTORIES=" };
	size_t n = 0, k = 0;
	while (environ[n])
		n++;
	char **v = rq_xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		bool keep = true;
		for (size_t j = 0; j < RQ_ARRAY_SIZE(drop) && keep; j++)
			keep = strncmp(environ[i], drop[j], strlen(drop[j])) != 0;
		if (keep)
			v[k++] = environ[i];
	}
	return v;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Wait for `git status`'s first byte, its end or the deadline: 1 for
 * output (dirty), 0 for none, -1 past the deadline. */
static int read_status(int fd)
{
	struct timespec t0;
	char c;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		long left = STATUS_TIMEOUT_MS - ms_since(&t0);
		struct pollfd p = { fd, POLLIN, 0 };
		if (left <= 0)
			return -1;
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		ssize_t n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		return n > 0 ? 1 : 0;
	}
}

/* Ask git itself (it runs clean filters such as git-lfs's and refreshes
 * its index as `git status` does): 0 with *out set; RQ_EIO when it took
 * too long (dirty unknown); RQ_ENOTFOUND when no git
 * could be run or it failed (libgit2 answers instead). */
static int git_status_dirty(bool *out, const char *workdir)
{
	char git[] = "git", nol[] = "--no-optional-locks", c[] = "-C", st[] = "status", po[] = "--porcelain",
	     uno[] = "-uno", ign[] = "--ignore-submodules=untracked", *wd = rq_xstrdup(workdir);
	char *argv[] = { git, nol, c, wd, st, po, uno, ign, NULL };
	posix_spawn_file_actions_t fa;
	int pfd[2], status = 0, got;
	pid_t pid;
	char **env;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		free(wd);
		return rq_error_set(RQ_ENOTFOUND, "pipe: %s", strerror(errno));
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	env = git_env();
	int e = posix_spawnp(&pid, "git", &fa, NULL, argv, env);
	free(env);
	free(wd);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (e) {
		close(pfd[0]);
		return rq_error_set(RQ_ENOTFOUND, "git: %s", strerror(e));
	}
	got = read_status(pfd[0]);
	if (got != 0)
		kill(pid, SIGKILL); /* dirty is known, or it took too long */
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got < 0)
		return rq_error_set(RQ_EIO, "git status took more than %d s: whether the work tree is dirty is unknown",
				    STATUS_TIMEOUT_MS / 1000);
	if (got == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		return rq_error_set(RQ_ENOTFOUND, "git status failed");
	*out = got == 1;
	return 0;
}

/* Tracked files modified, deleted, renamed, of another type or staged
 * (against HEAD, or an empty tree before the first commit); untracked and
 * ignored files do not count. Submodules count as git status shows them. */
static int find_dirty_libgit2(bool *out, git_repository *repo)
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

/* git status when git can be run, else libgit2 (worktree.h). */
static int find_dirty(rq_worktree *out, git_repository *repo)
{
	int err = git_status_dirty(&out->dirty, git_repository_workdir(repo));
	out->dirty_known = !err;
	if (err == RQ_EIO) {
		rq_buf_puts(&out->warning, rq_error_last());
		return 0;
	}
	if (!err)
		return 0;
	out->dirty_known = (err = find_dirty_libgit2(&out->dirty, repo)) == 0;
	return err;
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
	rq_buf_init(&out->warning);
	if (!real)
		return rq_error_os("%s", dir);
	git_libgit2_init();
	rc = git_repository_open_ext(&repo, real, 0, getenv("GIT_CEILING_DIRECTORIES"));
	if (rc == GIT_ENOTFOUND)
		err = rq_error_set(RQ_ENOTFOUND, "%s: not in a git work tree", real);
	else if (rc < 0)
		err = rq_git_error(RQ_EIO, real);
	else if (!(err = check_worktree(repo, real, ledger_dir)) && !(err = find_head(out, repo)))
		err = find_dirty(out, repo);
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
	rq_buf_release(&w->warning);
}
