/* resque clone: a new repository from a remote's ledger, verified. */
#include "common.h"
#include "cmd.h"
#include "sync_output.h"
#include <sys/stat.h>
#include <unistd.h>

static const struct cmd_help help = {
	"clone", "make a repository from a remote's ledger",
	"Fetches the ledger of URL (a path, file://, git://, ssh://, user@host:path,\n"
	"http:// or https://), verifies all of it as 'resque verify' does, and\n"
	"only then creates DIR/.resque with remote 'origin' = URL and its index.\n"
	"DIR defaults to the last part of URL without '.git'; it may be an\n"
	"existing directory (the project's checkout, say) that has no .resque.\n"
	"A ledger that fails verification, or one that goes back on what this\n"
	"machine saw of it before, is refused with exit status 3 and nothing is\n"
	"created. A local path to a project directory is taken as its .resque.",
};

/* The last part of a URL or path, without "/", ".git" or "/.resque". */
static void default_dir(rq_buf *out, const char *url)
{
	size_t len = strlen(url);
	while (len > 1 && url[len - 1] == '/')
		len--;
	if (len >= 8 && memcmp(url + len - 8, "/.resque", 8) == 0)
		len -= 8;
	if (len >= 4 && memcmp(url + len - 4, ".git", 4) == 0)
		len -= 4;
	size_t start = len;
	while (start > 0 && url[start - 1] != '/' && url[start - 1] != ':')
		start--;
	rq_buf_put(out, url + start, len - start);
}

int cmd_clone(int argc, char **argv)
{
	const char *url = NULL, *dir = NULL;
	bool json = false;
	const struct opt opts[] = {
		{ OPT_BOOL, 0, "json", &json, NULL, "print what was done as JSON" },
		{ OPT_ARG, 0, "URL", &url, NULL, "where the ledger is", OPT_REQUIRED },
		{ OPT_ARG, 0, "DIR", &dir, NULL, "the project directory to make (default: from URL)" },
		{ OPT_END },
	};
	rq_buf d = RQ_BUF_INIT, rd = RQ_BUF_INIT, src = RQ_BUF_INIT;
	rq_sync_result r;
	struct sync_progress pr;
	bool made = false;
	int rc = 0, err;

	memset(&r, 0, sizeof(r));
	OPT_PARSE(&help, opts, argc, argv);
	if (!*url)
		return cmd_usage(&help, opts, "URL is empty");
	if (dir)
		rq_buf_puts(&d, dir);
	else
		default_dir(&d, url);
	if (!d.len || strcmp(d.ptr, ".") == 0 || strcmp(d.ptr, "..") == 0) {
		if (!dir) {
			rc = cmd_usage(&help, opts, "cannot tell a directory name from the URL: give DIR");
			goto done;
		}
	}
	if ((err = rq_remote_url_check(url)) || (err = rq_remote_url_normalise(&src, url))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	url = src.ptr;
	rq_buf_printf(&rd, "%s/.resque", d.ptr);
	if (rq_path_exists(rd.ptr)) {
		rc = cmd_error("%s: a repository exists already", rd.ptr);
		goto done;
	}
	struct stat st;
	if (stat(d.ptr, &st) == 0 && !S_ISDIR(st.st_mode)) {
		rc = cmd_error("%s: not a directory", d.ptr);
		goto done;
	}
	if (!rq_path_exists(d.ptr)) {
		if (mkdir(d.ptr, 0777) != 0) {
			rc = cmd_error("%s: %s", d.ptr, strerror(errno));
			goto done;
		}
		made = true;
	}
	sync_progress_init(&pr);
	rq_sync_options o = { false, NULL, 0, sync_progress_fn, &pr };
	err = rq_sync_clone(&r, url, rd.ptr, &o);
	sync_progress_done(&pr);
	if (err) {
		rc = cmd_fail_code(err);
		if (made)
			rmdir(d.ptr);
		goto done;
	}
	rc = sync_print(&r, "clone", json);
done:
	rq_sync_result_release(&r);
	rq_buf_release(&d);
	rq_buf_release(&rd);
	rq_buf_release(&src);
	return rc;
}
