/* What produced an entry (docs/FORMATS.md "Provenance"): resque's command
 * line, the directory and git work tree it ran in, the machine's hardware;
 * recorded by `resque run` and `resque commit`. */
#include "common.h"
#include "cmd.h"
#include "provenance.h"
#include "dataset.h"
#include "ledger_int.h"
#include "meter_int.h"
#include "worktree.h"

static int saved_argc;
static const char *const *saved_argv;

void cmd_provenance_set_argv(int argc, char **argv)
{
	saved_argc = argc;
	saved_argv = (const char *const *)argv;
}

json_t *cmd_argv_json(size_t n, const char *const *v)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, rq_dataset_path_json(v[i]));
	return a;
}

/* The directory relative to the project root, when inside it; NULL
 * otherwise (an absolute path would name the user's home and account in a
 * ledger that is shared). */
static json_t *cwd_json(rq_ledger *l, const char *dir)
{
	rq_buf rel = RQ_BUF_INIT;
	json_t *j = NULL;

	if (rq_dataset_relpath(&rel, l, dir) == 0 && rel.ptr[0] != '/')
		j = rq_dataset_path_json(rel.ptr);
	rq_error_clear();
	rq_buf_release(&rel);
	return j;
}

/* {"commit", "branch", "dirty"} of the git work tree holding `dir`; NULL
 * when it is in none, or (with a warning) when the work tree could not be
 * read. */
static json_t *code_json(rq_ledger *l, const char *dir)
{
	rq_worktree w;
	json_t *j = NULL;
	int err = rq_worktree_describe(&w, dir, rq_ledger_dir(l));

	if (err == RQ_ENOTFOUND) {
		rq_error_clear();
	} else if (err) {
		cmd_warn("the code's version is not recorded: %s", rq_error_last());
		rq_error_clear();
	} else {
		j = json_object();
		if (w.commit[0])
			json_object_set_new(j, "commit", json_string(w.commit));
		if (w.branch)
			json_object_set_new(j, "branch", rq_dataset_path_json(w.branch));
		if (w.dirty_known)
			json_object_set_new(j, "dirty", json_boolean(w.dirty));
		else
			cmd_warn("the code's dirty flag is not recorded: %s", w.warning.ptr);
	}
	rq_worktree_release(&w);
	return j;
}

json_t *cmd_provenance(rq_ledger *l, pid_t pid)
{
	json_t *p = json_object(), *cwd = NULL, *code = NULL;
	rq_buf dir = RQ_BUF_INIT;

	if (pid > 0)
		rq_buf_printf(&dir, "/proc/%ld/cwd", (long)pid);
	else
		rq_buf_puts(&dir, ".");
	const char *no_argv = getenv("RESQUE_NO_ARGV");
	if (saved_argv && !(no_argv && *no_argv)) /* docs/FORMATS.md "Provenance" */
		json_object_set_new(p, "argv", cmd_argv_json((size_t)saved_argc, saved_argv));
	if (pid > 0 && !rq_is_dir(dir.ptr)) {
		cmd_warn("the code's version is not recorded: %s: %s", dir.ptr, strerror(errno));
	} else {
		cwd = cwd_json(l, dir.ptr);
		code = code_json(l, dir.ptr);
	}
	if (cwd)
		json_object_set_new(p, "cwd", cwd);
	if (code)
		json_object_set_new(p, "code", code);
	json_object_set_new(p, "hardware", rq_meter_machine_json());
	rq_buf_release(&dir);
	return p;
}
