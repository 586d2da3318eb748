/* The git work tree of a provenance (store/worktree.c) over repositories
 * made here with libgit2, and the machine's hardware as JSON
 * (rq_meter_machine_json). */
#include "unit.h"
#include "worktree.h"
#include "meter_int.h"

#include <git2.h>
#include <jansson.h>
#include <stdlib.h>

static char *path_in(const char *dir, const char *rel)
{
	rq_buf p = RQ_BUF_INIT;
	rq_buf_printf(&p, "%s/%s", dir, rel);
	return rq_buf_detach(&p, NULL);
}

/* Stage `name` (already written in the work tree) and, with `commit`, make
 * a commit of the index on HEAD. */
static void stage(git_repository *repo, const char *name, bool commit, git_oid *out)
{
	git_index *idx = NULL;
	git_tree *tree = NULL;
	git_signature *sig = NULL;
	git_oid tree_id;

	if (git_repository_index(&idx, repo) || git_index_add_bypath(idx, name) || git_index_write(idx))
		unit_fail(__FILE__, __LINE__, "staging %s: %s", name, git_error_last()->message);
	if (commit && (git_index_write_tree(&tree_id, idx) || git_tree_lookup(&tree, repo, &tree_id) ||
		       git_signature_new(&sig, "t", "t@example.org", 1700000000, 0) ||
		       git_commit_create_v(out, repo, "HEAD", sig, sig, NULL, "c", tree, 0)))
		unit_fail(__FILE__, __LINE__, "committing: %s", git_error_last()->message);
	git_signature_free(sig);
	git_tree_free(tree);
	git_index_free(idx);
}

TEST(worktree_states)
{
	char *top = rq_xstrdup(unit_tmpdir()), *wt = path_in(top, "wt"), *sub = path_in(wt, "sub");
	git_repository *repo = NULL;
	git_repository_init_options io = GIT_REPOSITORY_INIT_OPTIONS_INIT;
	rq_worktree w;
	git_oid id;
	char hex[41];

	setenv("GIT_CEILING_DIRECTORIES", top, 1);
	git_libgit2_init();
	CHECK_ERR(rq_worktree_describe(&w, top, NULL), RQ_ENOTFOUND);
	rq_worktree_release(&w);
	io.flags = GIT_REPOSITORY_INIT_MKPATH;
	io.initial_head = "main";
	CHECK(git_repository_init_ext(&repo, wt, &io) == 0);
	CHECK(rq_mkdir_p(sub, 0755) == 0);
	free(unit_write_file(wt, "a.txt", "a\n", 2));
	CHECK_OK(rq_worktree_describe(&w, sub, NULL)); /* no commit yet, a.txt untracked */
	CHECK_STR_EQ(w.commit, "");
	CHECK_STR_EQ(w.branch, "main");
	CHECK(!w.dirty);
	rq_worktree_release(&w);
	stage(repo, "a.txt", false, NULL);
	CHECK_OK(rq_worktree_describe(&w, sub, NULL)); /* staged before the first commit */
	CHECK(w.dirty);
	rq_worktree_release(&w);
	stage(repo, "a.txt", true, &id);
	git_oid_tostr(hex, sizeof(hex), &id);
	CHECK_OK(rq_worktree_describe(&w, wt, NULL));
	CHECK_STR_EQ(w.commit, hex);
	CHECK(!w.dirty);
	rq_worktree_release(&w);
	free(unit_write_file(wt, "a.txt", "b\n", 2)); /* same size: mtime and content */
	free(unit_write_file(wt, "new.txt", "n\n", 2));
	CHECK_OK(rq_worktree_describe(&w, wt, NULL));
	CHECK(w.dirty);
	rq_worktree_release(&w);
	/* the ledger's own repository is never the code's */
	char *gitdir = path_in(wt, ".git");
	CHECK_ERR(rq_worktree_describe(&w, gitdir, NULL), RQ_ENOTFOUND);
	rq_worktree_release(&w);
	CHECK_ERR(rq_worktree_describe(&w, wt, gitdir), RQ_ENOTFOUND);
	rq_worktree_release(&w);
	git_repository_free(repo);
	git_libgit2_shutdown();
	unsetenv("GIT_CEILING_DIRECTORIES");
	free(gitdir);
	free(sub);
	free(wt);
	free(top);
}

TEST(worktree_bare)
{
	char *top = rq_xstrdup(unit_tmpdir()), *bare = path_in(top, "b.git");
	git_repository *repo = NULL;

	setenv("GIT_CEILING_DIRECTORIES", top, 1);
	git_libgit2_init();
	CHECK(git_repository_init(&repo, bare, 1) == 0);
	rq_worktree w;
	CHECK_ERR(rq_worktree_describe(&w, bare, NULL), RQ_ENOTFOUND);
	CHECK(strstr(rq_error_last(), "bare") != NULL);
	rq_worktree_release(&w);
	git_repository_free(repo);
	git_libgit2_shutdown();
	unsetenv("GIT_CEILING_DIRECTORIES");
	free(bare);
	free(top);
}

/* The profile's parts as JSON: no "gpus" without NVML; a model that is not
 * UTF-8 stays a valid JSON string. */
TEST(meter_machine_json)
{
	char *proc = rq_xstrdup(unit_tmpdir());
	static const char cpuinfo[] = "processor\t: 0\nmodel name\t: AMD   EPYC 7B13\n\nprocessor\t: 1\n";
	free(unit_write_file(proc, "cpuinfo", cpuinfo, sizeof(cpuinfo) - 1));
	setenv("RESQUE_PROC_ROOT", proc, 1);
	setenv("RESQUE_NVML_LIB", "/nonexistent/libnvidia-ml.so.1", 1);
	json_t *j = rq_meter_machine_json();
	CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(j, "cpu"), "model")), "AMD EPYC 7B13");
	CHECK_INT_EQ(json_integer_value(json_object_get(json_object_get(j, "cpu"), "count")), 2);
	CHECK(json_object_get(j, "gpus") == NULL && json_object_size(j) == 1);
	json_decref(j);
	static const char latin1[] = "processor\t: 0\nmodel name\t: Caf\xe9 CPU\n";
	free(unit_write_file(proc, "cpuinfo", latin1, sizeof(latin1) - 1));
	j = rq_meter_machine_json();
	CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(j, "cpu"), "model")), "Caf? CPU");
	json_decref(j);
	unsetenv("RESQUE_NVML_LIB");
	unsetenv("RESQUE_PROC_ROOT");
	free(proc);
}
