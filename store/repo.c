/* Finding the repository: RESQUE_DIR, -C, or walking up to `.resque`. */
#include "common.h"
#include "resque/repo.h"

#include <limits.h>
#include <unistd.h>

static bool is_repo(const char *dir)
{
	rq_buf p = RQ_BUF_INIT;
	rq_buf_printf(&p, "%s/HEAD", dir);
	bool ok = rq_path_exists(p.ptr);
	rq_buf_reset(&p);
	rq_buf_printf(&p, "%s/objects", dir);
	ok = ok && rq_is_dir(p.ptr);
	rq_buf_release(&p);
	return ok;
}

int rq_repo_discover(rq_buf *out, const char *start)
{
	const char *env = getenv("RESQUE_DIR");
	char abs[PATH_MAX];
	rq_buf cand = RQ_BUF_INIT;
	int err = 0;

	if (env && *env) {
		if (!realpath(env, abs))
			return rq_error_set(RQ_ENOTFOUND, "RESQUE_DIR=%s: %s", env, strerror(errno));
		rq_buf_printf(&cand, "%s/.resque", abs);
		if (is_repo(cand.ptr)) {
			rq_buf_puts(out, cand.ptr);
		} else if (is_repo(abs)) {
			rq_buf_puts(out, abs);
		} else {
			err = rq_error_set(RQ_ENOTFOUND,
					   "RESQUE_DIR=%s: not a resque repository", env);
		}
		rq_buf_release(&cand);
		return err;
	}
	if (!realpath(start ? start : ".", abs))
		return rq_error_set(RQ_ENOTFOUND, "%s: %s", start ? start : ".", strerror(errno));
	char *dir = abs;
	for (;;) {
		rq_buf_reset(&cand);
		rq_buf_printf(&cand, "%s/.resque", strcmp(dir, "/") ? dir : "");
		if (is_repo(cand.ptr)) {
			rq_buf_puts(out, cand.ptr);
			rq_buf_release(&cand);
			return 0;
		}
		char *slash = strrchr(dir, '/');
		if (!slash || (slash == dir && dir[1] == '\0'))
			break;
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	rq_buf_release(&cand);
	return rq_error_set(RQ_ENOTFOUND,
			    "not in a resque repository (nor any parent directory); "
			    "run 'resque init' or use -C DIR or RESQUE_DIR");
}

void rq_repo_root(rq_buf *out, const char *resque_dir)
{
	const char *slash = strrchr(resque_dir, '/');
	if (!slash || slash == resque_dir)
		rq_buf_puts(out, "/");
	else
		rq_buf_put(out, resque_dir, (size_t)(slash - resque_dir));
}
