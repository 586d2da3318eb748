/* resque fingerprint: the BLAKE2b-256 fingerprint of a file or directory,
 * as `b2sum -l 256` would print it for a file. Needs no repository; inside
 * one it keeps hashes in the stat cache of index.db. */
#include "common.h"
#include "cmd.h"
#include "progress.h"
#include "resque/fingerprint.h"
#include "ledger_int.h"
#include "resque/repo.h"
#include "statcache.h"

static const struct cmd_help help = {
	"fingerprint", "print the fingerprint of a file or directory",
	"A file's fingerprint is b2:<hex>, the hex being what `b2sum -l 256 FILE`\n"
	"prints. A directory's is the BLAKE2b-256 of its manifest: one line per\n"
	"file (kind, size, fingerprint, path) sorted by path; symbolic links are\n"
	"recorded, not followed; FIFOs, sockets and devices are refused\n"
	"(docs/FORMATS.md). Files are hashed by one thread per core. Inside a\n"
	"repository, unchanged files are not read again (the stat cache in\n"
	".resque/index.db). --json prints {\"path\", \"fingerprint\", \"bytes\",\n"
	"\"files\"}.",
};

int cmd_fingerprint(int argc, char **argv)
{
	const char *path = NULL;
	bool json = false, manifest = false, rehash = false;
	const struct opt opts[] = {
		{ OPT_BOOL, 0, "json", &json, NULL, "print as JSON" },
		{ OPT_BOOL, 0, "manifest", &manifest, NULL, "print a directory's canonical manifest" },
		{ OPT_BOOL, 0, "rehash", &rehash, NULL, "read every file again (and refresh the stat cache)" },
		{ OPT_ARG, 0, "PATH", &path, NULL, "a file or a directory", OPT_REQUIRED },
		{ OPT_END },
	};
	rq_buf dir = RQ_BUF_INIT;
	rq_ledger *l = NULL;
	rq_statcache *sc = NULL;
	rq_fp_result r;
	struct progress bar;
	rq_fp_options o = { NULL, 0, false, progress_fp, &bar };
	int rc = 0, err;

	OPT_PARSE(&help, opts, argc, argv);
	if (json && manifest)
		return cmd_usage(&help, opts, "--json and --manifest cannot be combined");
	rq_fp_result_init(&r);
	/* The cache is an optimisation: outside a repository, or when it
	 * cannot be opened, every file is simply read. */
	o.rehash = rehash;
	if (rq_repo_discover(&dir, cmd_dir_option) == 0 &&
	    rq_ledger_open(&l, dir.ptr) == 0 && rq_statcache_open(&sc, l) == 0)
		o.cache = rq_statcache_iface(sc);
	rq_error_clear();
	progress_init(&bar, "fingerprinting");
	err = rq_fingerprint_path(&r, path, &o);
	progress_done(&bar);
	if (err) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if (manifest) {
		if (!r.is_dir) {
			rc = cmd_error("%s: not a directory (only directories have a manifest)", path);
			goto done;
		}
		rq_buf m = RQ_BUF_INIT;
		rq_manifest_encode(&m, &r.manifest);
		fwrite(m.ptr, 1, m.len, stdout);
		rq_buf_release(&m);
	} else if (json) {
		json_t *j = json_pack("{s:s, s:s, s:I, s:I}", "path", path, "fingerprint", r.fingerprint,
				      "bytes", (json_int_t)r.bytes, "files", (json_int_t)r.files);
		if (!j) {
			rc = cmd_error("%s: the path is not valid UTF-8, which JSON cannot carry", path);
			goto done;
		}
		rc = cmd_print_json(j);
		json_decref(j);
	} else {
		printf("%s  %s\n", r.fingerprint, path);
	}
done:
	rq_fp_result_release(&r);
	rq_statcache_free(sc);
	rq_ledger_free(l);
	rq_buf_release(&dir);
	return rc;
}
