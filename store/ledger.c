/* The ledger on git: one commit per entry on refs/heads/ledger, appends
 * serialised by a lock file and a compare-and-swap of the ref, reads,
 * look-ups through index.db, and verification (docs/FORMATS.md). */
#include "common.h"
#include "ledger_int.h"
#include "object_int.h"
#include "resque/fingerprint.h"
#include "json.h"
#include "parallel_int.h"
#include "lineage.h"

#include <fcntl.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/statvfs.h>
#include <unistd.h>

static const char zero_hash[RQ_ID_HEX_SIZE] =
	"0000000000000000000000000000000000000000000000000000000000000000";

int rq_git_error(int code, const char *what)
{
	const git_error *e = git_error_last();
	return rq_error_set(code, "%s: %s", what, e && e->message ? e->message : "git error");
}

const char *rq_ledger_index_memory(const rq_ledger *l)
{
	return l->index_memory;
}

const char *rq_ledger_dir(const rq_ledger *l)
{
	return l->dir;
}

sqlite3 *rq_ledger_db(rq_ledger *l)
{
	/* Whoever takes the handle may write through it: no read snapshot
	 * from now on (its writes would sit uncommitted inside it). */
	rq_index_read_end(l);
	l->shared_db = true;
	return l->db;
}

void rq_ledger_set_signer(rq_ledger *l, const rq_key *k)
{
	l->signer = k;
}

void rq_ledger_free(rq_ledger *l)
{
	if (!l)
		return;
	rq_index_read_end(l);
	rq_guard_free(l->guard);
	rq_index_close(l);
	git_repository_free(l->repo);
	free(l->index_memory);
	free(l->dir);
	free(l);
	git_libgit2_shutdown();
}

/* ---- reading entries from git ---- */

/* The tip commit of the ledger, or *found = false when there is none. */
static int tip_oid(git_oid *out, bool *found, rq_ledger *l)
{
	int rc = git_reference_name_to_id(out, l->repo, RQ_LEDGER_REF), err;
	*found = rc == 0;
	if (rc == GIT_ENOTFOUND)
		return 0;
	if (rc)
		return rq_git_error(RQ_EIO, "reading the ledger branch");
	/* A tip that is missing or corrupt stops every command here, as an
	 * integrity problem (and before libgit2 could loop on it). */
	if ((err = rq_object_check(l->repo, out, GIT_OBJECT_COMMIT)))
		return rq_error_prefix(err, "the ledger's tip: ");
	return 0;
}

/* The blob at `path` ("entry", "sig" or "att/NAME") of an entry's tree,
 * every object read through the guarded reads of store/object.c. */
static int read_blob(rq_buf *out, git_repository *repo, const git_tree *tree, const char *path)
{
	git_tree *sub = NULL;
	const git_tree *in = tree;
	const git_tree_entry *te;
	const char *slash = strchr(path, '/'), *name = path;
	int err = 0;

	if (slash) {
		rq_buf dir = RQ_BUF_INIT;
		rq_buf_put(&dir, path, (size_t)(slash - path));
		te = git_tree_entry_byname(tree, dir.ptr);
		rq_buf_release(&dir);
		if (!te) {
			err = rq_error_set(RQ_ENOTFOUND, "no '%s' in the entry's tree", path);
			goto done;
		}
		if (git_tree_entry_type(te) != GIT_OBJECT_TREE) {
			err = rq_error_set(RQ_EINTEGRITY, "'%.*s' in the entry's tree is not a folder",
					   (int)(slash - path), path);
			goto done;
		}
		if ((err = rq_object_tree(&sub, repo, git_tree_entry_id(te)))) {
			rq_error_prefix(err, "'%.*s' in the entry's tree: ", (int)(slash - path), path);
			goto done;
		}
		in = sub;
		name = slash + 1;
	}
	te = git_tree_entry_byname(in, name);
	if (!te) {
		err = rq_error_set(RQ_ENOTFOUND, "no '%s' in the entry's tree", path);
		goto done;
	}
	if (git_tree_entry_type(te) != GIT_OBJECT_BLOB) {
		err = rq_error_set(RQ_EINTEGRITY, "'%s' in the entry's tree is not a file", path);
		goto done;
	}
	if ((err = rq_object_blob(out, repo, git_tree_entry_id(te))))
		rq_error_prefix(err, "'%s' in the entry's tree: ", path);
done:
	git_tree_free(sub);
	return err;
}

/* Read and parse the entry stored in commit `oid`. */
static int entry_at(rq_entry **out, rq_ledger *l, const git_oid *oid)
{
	git_commit *c = NULL;
	git_tree *t = NULL;
	rq_buf bytes = RQ_BUF_INIT;
	int err;
	char hex[GIT_OID_HEXSZ + 1];

	*out = NULL;
	git_oid_tostr(hex, sizeof(hex), oid);
	if ((err = rq_object_commit(&c, l->repo, oid)))
		goto done;
	if ((err = rq_object_tree(&t, l->repo, git_commit_tree_id(c)))) {
		rq_error_prefix(err, "its tree: ");
		goto done;
	}
	if ((err = read_blob(&bytes, l->repo, t, "entry")))
		goto done;
	if ((err = rq_entry_parse(out, bytes.ptr, bytes.len)))
		goto done;
	memcpy((*out)->commit, hex, sizeof(hex));
done:
	if (err)
		rq_error_prefix(err, "ledger commit %.12s: ", hex);
	rq_buf_release(&bytes);
	git_tree_free(t);
	git_commit_free(c);
	return err;
}

/* Commits of the ledger, oldest first (following first parents). Each
 * commit is read through rq_object_commit: libgit2's revwalk would read
 * them unguarded. */
static int walk(git_oid **out, size_t *n, rq_ledger *l)
{
	git_oid cur, *v = NULL;
	size_t count = 0;
	bool found;
	int err;

	*out = NULL;
	*n = 0;
	if ((err = tip_oid(&cur, &found, l)) || !found)
		return err;
	for (;;) {
		git_commit *c = NULL;
		if ((err = rq_object_commit(&c, l->repo, &cur))) {
			rq_error_prefix(err, "walking the ledger: ledger commit %.12s: ", git_oid_tostr_s(&cur));
			goto done;
		}
		if ((count & (count - 1)) == 0)
			v = rq_xreallocarray(v, count ? 2 * count : 1, sizeof(*v));
		v[count++] = cur;
		bool root = git_commit_parentcount(c) == 0;
		if (!root)
			git_oid_cpy(&cur, git_commit_parent_id(c, 0));
		git_commit_free(c);
		if (root)
			break;
	}
	for (size_t i = 0; i < count / 2; i++) {
		git_oid t = v[i];
		v[i] = v[count - 1 - i];
		v[count - 1 - i] = t;
	}
	*out = v;
	*n = count;
	v = NULL;
done:
	free(v);
	return err;
}

/* ---- index maintenance ---- */

/* Reindexing reads and parses entries and makes their summaries on every
 * core, a batch at a time, and inserts them in order on this thread
 * (SQLite's one writer), in one transaction that writes the tip last. */
#define REINDEX_BATCH 2048

struct reindex_job {
	rq_ledger *l;
	const git_oid *oids;
	rq_entry **v;
	rq_buf *sums;           /* v[i]'s summary */
	git_repository **repos; /* one per worker; worker 0 uses l->repo */
};

static void reindex_read(void *ctx, size_t worker, size_t i)
{
	struct reindex_job *j = ctx;
	rq_ledger tmp = *j->l;

	if (worker) {
		if (!j->repos[worker] && git_repository_open_bare(&j->repos[worker], j->l->dir))
			j->repos[worker] = NULL;
		tmp.repo = j->repos[worker];
	}
	/* An entry that does not parse (or cannot be read) is left out:
	 * verify reports it. */
	if (!tmp.repo || entry_at(&j->v[i], &tmp, &j->oids[i]))
		j->v[i] = NULL;
	else
		rq_entry_summary(&j->sums[i], j->v[i]);
	rq_error_clear();
}

static int reindex(rq_ledger *l)
{
	git_oid *oids = NULL;
	size_t n = 0, nworkers = rq_parallel_workers();
	rq_entry **v = NULL;
	struct reindex_job job = { l, NULL, NULL, NULL, NULL };
	rq_index_inserter ins = { 0 };
	int err;
	char hex[GIT_OID_HEXSZ + 1];

	if ((err = walk(&oids, &n, l)))
		return err;
	rq_index_bulk(l, true);
	if ((err = rq_index_begin(l)))
		goto done;
	if ((err = rq_index_clear(l)))
		goto fail;
	if ((err = rq_index_inserter_open(&ins, l)))
		goto fail;
	v = rq_xcalloc(REINDEX_BATCH, sizeof(*v));
	job.v = v;
	job.sums = rq_xcalloc(REINDEX_BATCH, sizeof(*job.sums));
	for (size_t k = 0; k < REINDEX_BATCH; k++)
		rq_buf_init(&job.sums[k]);
	job.repos = rq_xcalloc(nworkers, sizeof(*job.repos));
	for (size_t first = 0; first < n; first += REINDEX_BATCH) {
		size_t nb = n - first < REINDEX_BATCH ? n - first : REINDEX_BATCH;
		job.oids = oids + first;
		rq_parallel_for(nb, reindex_read, &job);
		for (size_t k = 0; k < nb; k++) {
			if (v[k] && !err) {
				git_oid_tostr(hex, sizeof(hex), &oids[first + k]);
				err = rq_index_inserter_put_summary(&ins, v[k], hex, &job.sums[k]);
			}
			rq_buf_reset(&job.sums[k]);
			rq_entry_free(v[k]);
			v[k] = NULL;
		}
		if (err)
			goto fail;
	}
	rq_error_clear();
	rq_index_inserter_close(&ins);
	if (n) {
		git_oid_tostr(hex, sizeof(hex), &oids[n - 1]);
		if ((err = rq_index_set_tip(l, hex)))
			goto fail;
	}
	err = rq_index_commit(l);
	if (err)
		goto fail;
	goto done;
fail:
	rq_index_inserter_close(&ins);
	rq_index_rollback(l);
done:
	rq_index_bulk(l, false);
	for (size_t w = 0; job.repos && w < nworkers; w++)
		git_repository_free(job.repos[w]);
	free(job.repos);
	for (size_t k = 0; job.sums && k < REINDEX_BATCH; k++)
		rq_buf_release(&job.sums[k]);
	free(job.sums);
	free(v);
	free(oids);
	return err;
}

int rq_ledger_reindex(rq_ledger *l)
{
	if (l->index_memory)
		return rq_error_set(l->index_memory_code, "%s", l->index_memory);
	int err = reindex(l);
	if (err && rq_index_damaged(l)) {
		/* a damaged file (its schema edited, say) cannot be cleared: it
		 * is derived data, so it is made again from nothing */
		rq_error_clear();
		if ((err = rq_index_recreate(l)) == 0)
			err = reindex(l);
	}
	return err;
}

/* Rebuild the index when its tip is not the ledger's. */
static int refresh_index(rq_ledger *l)
{
	rq_buf itip = RQ_BUF_INIT;
	git_oid tip;
	bool found;
	char hex[GIT_OID_HEXSZ + 1] = "";
	int err;

	if ((err = tip_oid(&tip, &found, l)) || (err = rq_index_tip(&itip, l)))
		goto done;
	if (found)
		git_oid_tostr(hex, sizeof(hex), &tip);
	if (strcmp(hex, itip.ptr) != 0) {
		l->index_rebuilt = true;
		err = reindex(l);
	}
done:
	rq_buf_release(&itip);
	return err;
}

/* ---- opening and creating ---- */

static rq_ledger *ledger_new(const char *dir)
{
	rq_ledger *l = rq_xcalloc(1, sizeof(*l));
	git_libgit2_init();
	l->dir = rq_xstrdup(dir);
	return l;
}

/* index.db cannot be opened, written or understood (read-only or full
 * disk, a newer schema): readers work from an index built in memory from
 * the ledger, and say so once; writers refuse (rq_ledger__append). */
static int index_in_memory(rq_ledger *l, int why)
{
	rq_buf reason = RQ_BUF_INIT;
	struct statvfs fs;
	int err;

	/* A read-only directory or a full disk says why better than SQLite
	 * does ("disk I/O error", "unable to open database file"). */
	if (why == RQ_EIO && access(l->dir, W_OK) < 0)
		rq_buf_printf(&reason, "%s/index.db: %s", l->dir, strerror(errno));
	else if (why == RQ_EIO && statvfs(l->dir, &fs) == 0 && fs.f_bavail == 0)
		rq_buf_printf(&reason, "%s/index.db: %s", l->dir, strerror(ENOSPC));
	else
		rq_buf_puts(&reason, rq_error_last());
	l->index_memory = rq_buf_detach(&reason, NULL);
	l->index_memory_code = why;
	rq_error_clear();
	if ((err = rq_index_open_memory(l)))
		return err;
	l->index_rebuilt = true;
	return reindex(l);
}

int rq_ledger__entry_at(rq_entry **out, rq_ledger *l, const git_oid *oid)
{
	return entry_at(out, l, oid);
}

/* The snapshot every reader works from: the ledger's tip, read once. */
static int snapshot(rq_ledger *l)
{
	rq_entry *e = NULL;
	int err = tip_oid(&l->tip, &l->has_tip, l);
	l->size = 0;
	if (err || !l->has_tip)
		return err;
	/* an unreadable tip is the guard's to report */
	if (entry_at(&e, l, &l->tip) == 0)
		l->size = e->seq + 1;
	rq_error_clear();
	rq_entry_free(e);
	return 0;
}

int rq_ledger__resnapshot(rq_ledger *l)
{
	int err = snapshot(l);
	if (!err)
		err = refresh_index(l);
	return err;
}

static int open_ledger(rq_ledger **out, const char *resque_dir, bool refresh)
{
	rq_ledger *l = ledger_new(resque_dir);
	int err = 0;

	*out = NULL;
	if (git_repository_open_bare(&l->repo, resque_dir)) {
		err = rq_git_error(RQ_ENOTFOUND, resque_dir);
		goto done;
	}
	if ((err = snapshot(l)))
		goto done;
	l->index_unbuilt = !refresh;
	if ((err = rq_index_open(l)) || (refresh && (err = refresh_index(l)))) {
		if (err != RQ_EIO && err != RQ_EUNSUPPORTED)
			goto done;
		if ((err = index_in_memory(l, err)))
			goto done;
	}
done:
	if (err)
		rq_ledger_free(l);
	else
		*out = l;
	return err;
}

int rq_ledger_open(rq_ledger **out, const char *resque_dir)
{
	return open_ledger(out, resque_dir, true);
}

int rq_ledger__open_unindexed(rq_ledger **out, const char *resque_dir)
{
	return open_ledger(out, resque_dir, false);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

/* ---- leftovers of killed writers ---- */

/* The file `name` is PREFIX followed by a pid: true when that process is
 * gone (or the file is older than RQ_STALE_AFTER). */
static bool stale_pid_file(const char *name, const char *prefix, const struct stat *st)
{
	size_t plen = strlen(prefix);
	return strncmp(name, prefix, plen) == 0 && rq_pid_file_stale(name + plen, st->st_mtime);
}

/* `DIR.tmp-PID` beside the repository DIR, left by a killed init. */
void rq_ledger__clean_init_leftovers(const char *resque_dir)
{
	rq_buf parent = RQ_BUF_INIT, prefix = RQ_BUF_INIT, path = RQ_BUF_INIT;
	const char *slash = strrchr(resque_dir, '/');
	DIR *d = NULL;
	struct dirent *de;

	if (slash)
		rq_buf_put(&parent, resque_dir, (size_t)(slash - resque_dir) + (slash == resque_dir));
	else
		rq_buf_puts(&parent, ".");
	rq_buf_printf(&prefix, "%s.tmp-", slash ? slash + 1 : resque_dir);
	if (!(d = opendir(parent.ptr)))
		goto done;
	while ((de = readdir(d))) {
		struct stat st;
		if (strncmp(de->d_name, prefix.ptr, prefix.len) != 0)
			continue;
		rq_buf_reset(&path);
		rq_buf_printf(&path, "%s/%s", parent.ptr, de->d_name);
		if (lstat(path.ptr, &st) == 0 && S_ISDIR(st.st_mode) && stale_pid_file(de->d_name, prefix.ptr, &st))
			nftw(path.ptr, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	}
done:
	if (d)
		closedir(d);
	rq_buf_release(&parent);
	rq_buf_release(&prefix);
	rq_buf_release(&path);
}

/* Under the writers' flock, what a writer killed part-way left behind:
 * git's lock of the ledger branch (only a resque writer under this flock
 * takes it, so nobody holds it now), libgit2's temporary loose objects
 * (objects/tmp_object_git2_*: only appends write objects, under this
 * flock), temporary files of atomic writes (NAME.tmp.PID) whose process is
 * gone, and a killed init's directory beside the repository. Best effort:
 * a file that cannot be removed is left for the next time. */
static void clean_leftovers(rq_ledger *l)
{
	rq_buf path = RQ_BUF_INIT;
	DIR *d = NULL;
	struct dirent *de;

	rq_buf_printf(&path, "%s/%s.lock", l->dir, RQ_LEDGER_REF);
	unlink(path.ptr);
	rq_buf_reset(&path);
	rq_buf_printf(&path, "%s/objects", l->dir);
	if ((d = opendir(path.ptr))) {
		while ((de = readdir(d))) {
			if (strncmp(de->d_name, "tmp_object_git2_", 16) != 0)
				continue;
			rq_buf_reset(&path);
			rq_buf_printf(&path, "%s/objects/%s", l->dir, de->d_name);
			unlink(path.ptr);
		}
		closedir(d);
	}
	if ((d = opendir(l->dir))) {
		while ((de = readdir(d))) {
			const char *t = strstr(de->d_name, ".tmp.");
			struct stat st;
			if (!t)
				continue;
			rq_buf_reset(&path);
			rq_buf_printf(&path, "%s/%s", l->dir, de->d_name);
			if (lstat(path.ptr, &st) == 0 && S_ISREG(st.st_mode) && stale_pid_file(t, ".tmp.", &st))
				unlink(path.ptr);
		}
		closedir(d);
	}
	rq_ledger__clean_init_leftovers(l->dir);
	rq_buf_release(&path);
}

int rq_ledger_init(rq_ledger **out, const char *resque_dir, const rq_key *signer)
{
	rq_buf tmp = RQ_BUF_INIT;
	rq_ledger *l = NULL;
	git_repository_init_options opts = GIT_REPOSITORY_INIT_OPTIONS_INIT;
	git_config *cfg = NULL;
	uint8_t rid[16];
	char rid_hex[33], pk_hex[RQ_PUBKEY_HEX_SIZE];
	int err = 0;

	*out = NULL;
	if (rq_path_exists(resque_dir))
		return rq_error_set(RQ_EEXISTS, "%s: a repository exists already", resque_dir);
	rq_ledger__clean_init_leftovers(resque_dir);
	/* Build it beside the final place and rename: no half-made repository. */
	rq_buf_printf(&tmp, "%s.tmp-%ld", resque_dir, (long)getpid());
	l = ledger_new(tmp.ptr);
	opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT;
	opts.initial_head = "ledger";
	opts.description = "resque ledger: one commit per signed entry; see docs/FORMATS.md";
	if (git_repository_init_ext(&l->repo, tmp.ptr, &opts)) {
		err = rq_git_error(RQ_EIO, resque_dir);
		goto done;
	}
	randombytes_buf(rid, sizeof(rid));
	rq_hex_encode(rid_hex, rid, sizeof(rid));
	if (git_repository_config(&cfg, l->repo) ||
	    git_config_set_string(cfg, "resque.formatversion", "1") ||
	    git_config_set_string(cfg, "resque.id", rid_hex)) {
		err = rq_git_error(RQ_EIO, "writing the repository's config");
		goto done;
	}
	if ((err = rq_index_open(l)))
		goto done;
	json_t *body = json_object(), *key = json_object();
	rq_hex_encode(pk_hex, signer->pk, RQ_PUBKEY_LEN);
	json_object_set_new(body, "repository", json_string(rid_hex));
	json_object_set_new(key, "id", json_string(signer->id));
	json_object_set_new(key, "public", json_string(pk_hex));
	json_object_set_new(body, "key", key);
	if ((err = rq_ledger__append(NULL, l, "init", body, NULL, 0, signer, RQ_APPEND_UNCHECKED)))
		goto done;
	/* Close everything, move it into place, reopen there. */
	rq_index_close(l);
	if (rename(tmp.ptr, resque_dir) < 0) {
		err = rq_error_set(errno == EEXIST || errno == ENOTEMPTY ? RQ_EEXISTS : RQ_EIO,
				   "%s: %s", resque_dir, strerror(errno));
		goto done;
	}
	rq_ledger_free(l);
	l = NULL;
	if ((err = rq_ledger_open(out, resque_dir)))
		goto done;
	/* Remember the genesis as verified, so that the first command has
	 * nothing to verify (a home that cannot be written is no error). */
	if ((err = rq_ledger_guard(*out))) {
		rq_ledger_free(*out);
		*out = NULL;
	}
done:
	git_config_free(cfg);
	if (l) {
		rq_ledger_free(l);
		if (err)
			nftw(tmp.ptr, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	}
	rq_buf_release(&tmp);
	return err;
}

/* ---- signers ---- */

int rq_ledger_signer(uint8_t pk[RQ_PUBKEY_LEN], bool *revoked, rq_ledger *l, const char *keyid)
{
	const rq_signer_change *v;
	size_t n;
	bool found = false;
	int err;

	*revoked = false;
	/* the signers as verified (the guard), never as index.db lists them */
	if ((err = rq_ledger_guard(l)))
		return err;
	rq_guard_signers(&v, &n, l);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].id, keyid) != 0)
			continue;
		if (v[i].revoke) {
			*revoked = true;
		} else {
			memcpy(pk, v[i].pk, RQ_PUBKEY_LEN);
			found = true;
			*revoked = false;
		}
	}
	if (!found)
		return rq_error_set(RQ_ENOTFOUND, "key %s is not a signer of this ledger", keyid);
	return 0;
}

/* ---- appending ---- */

static int lock_ledger(int *fd_out, rq_ledger *l)
{
	rq_buf path = RQ_BUF_INIT;
	int fd, err = 0;

	rq_buf_printf(&path, "%s/ledger.lock", l->dir);
	fd = open(path.ptr, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = rq_error_os("%s", path.ptr);
		goto done;
	}
	/* Wait briefly for another writer, then give up cleanly. */
	for (int i = 0;; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			err = rq_error_os("%s", path.ptr);
			break;
		}
		if (i >= 2000) {
			err = rq_error_set(RQ_ELOCKED, "%s: another resque process has been writing for 10 s; try again",
					   path.ptr);
			break;
		}
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
done:
	if (err && fd >= 0) {
		close(fd);
		fd = -1;
	}
	*fd_out = fd;
	rq_buf_release(&path);
	return err;
}

int rq_ledger__lock(int *fd, rq_ledger *l)
{
	return lock_ledger(fd, l);
}

/* A plain file name of [A-Za-z0-9._-], not starting with a dot: ".", ".."
 * and ".git" (which git refuses in a tree) are never attachment names. */
static bool valid_attachment_name(const char *n)
{
	if (!n || !*n || *n == '.' || strlen(n) > 100)
		return false;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}

static int write_tree(git_oid *out, rq_ledger *l, const rq_entry *e, const rq_buf *sig,
		      const rq_attachment *att, size_t natt)
{
	git_treebuilder *tb = NULL, *ab = NULL;
	git_oid oid, att_tree;
	int err = 0;

	if (git_treebuilder_new(&tb, l->repo, NULL))
		goto git_fail;
	if (git_blob_create_from_buffer(&oid, l->repo, e->bytes.ptr, e->bytes.len) ||
	    git_treebuilder_insert(NULL, tb, "entry", &oid, GIT_FILEMODE_BLOB))
		goto git_fail;
	if (git_blob_create_from_buffer(&oid, l->repo, sig->ptr, sig->len) ||
	    git_treebuilder_insert(NULL, tb, "sig", &oid, GIT_FILEMODE_BLOB))
		goto git_fail;
	if (natt) {
		if (git_treebuilder_new(&ab, l->repo, NULL))
			goto git_fail;
		for (size_t i = 0; i < natt; i++)
			if (git_blob_create_from_buffer(&oid, l->repo, att[i].data, att[i].len) ||
			    git_treebuilder_insert(NULL, ab, att[i].name, &oid, GIT_FILEMODE_BLOB))
				goto git_fail;
		if (git_treebuilder_write(&att_tree, ab) ||
		    git_treebuilder_insert(NULL, tb, "att", &att_tree, GIT_FILEMODE_TREE))
			goto git_fail;
	}
	if (git_treebuilder_write(out, tb))
		goto git_fail;
	goto done;
git_fail:
	err = rq_git_error(RQ_EIO, "writing the entry to git");
done:
	git_treebuilder_free(ab);
	git_treebuilder_free(tb);
	return err;
}

/* body.attachments: the size and fingerprint of each attachment. */
static int record_attachments(json_t *body, const rq_attachment *att, size_t natt)
{
	json_t *a;

	if (!natt)
		return 0;
	a = json_object();
	for (size_t i = 0; i < natt; i++) {
		char fp[RQ_FINGERPRINT_SIZE];
		if (!valid_attachment_name(att[i].name)) {
			json_decref(a);
			return rq_error_set(RQ_EINVALID, "'%s' is not a valid attachment name",
					    att[i].name ? att[i].name : "(null)");
		}
		if (json_object_get(a, att[i].name)) {
			json_decref(a);
			return rq_error_set(RQ_EINVALID, "attachment '%s' is given twice", att[i].name);
		}
		rq_fingerprint_bytes(fp, att[i].data, att[i].len);
		json_object_set_new(a, att[i].name,
				    json_pack("{s:I, s:s}", "bytes", (json_int_t)att[i].len, "fingerprint", fp));
	}
	json_object_set_new(body, "attachments", a);
	return 0;
}

/* Under the writer's lock: the ledger's tip now (*found false when there
 * is none yet), verified up to it, the entry there (*prev, NULL for the
 * genesis), and the caller's check passed. */
static int find_parent(rq_entry **prev, git_oid *tip, bool *found, rq_ledger *l, const char *type)
{
	int err;

	if ((err = tip_oid(tip, found, l)))
		return err;
	/* Never append on top of a ledger that was not verified: the guard
	 * checks the tip this command opened, and whatever another writer
	 * appended since then. */
	if (*found && strcmp(type, "init") != 0) {
		if (!l->has_tip || !git_oid_equal(tip, &l->tip))
			err = rq_guard_advance(l, tip);
		else
			err = rq_ledger_guard(l);
		rq_index_read_end(l);
		if (!err && rq_guard_known(l) > l->size)
			err = rq_error_set(RQ_EINVALID, "%s holds %" PRIu64 " entries of a ledger this machine has seen with %"
					   PRIu64 ": appending here would fork it (bring this copy up to date first)",
					   l->dir, l->size, rq_guard_known(l));
		if (err)
			return err;
	} else if (!*found && l->has_tip) {
		return rq_error_set(RQ_EINTEGRITY, "%s: the ledger branch is gone (run 'resque verify')", l->dir);
	}
	if (*found && (err = entry_at(prev, l, tip)))
		return err;
	if (!*found && strcmp(type, "init") != 0)
		return rq_error_set(RQ_EINTEGRITY, "%s: the ledger has no genesis entry", l->dir);
	/* Lookups inside the check must see every entry up to the tip. */
	if (l->check && ((err = refresh_index(l)) || (err = l->check(l, l->check_ctx))))
		return err;
	return 0;
}

/* `signer` is a current signer of the ledger. */
static int check_authorised(rq_ledger *l, const rq_key *signer)
{
	uint8_t pk[RQ_PUBKEY_LEN];
	bool revoked = false;
	int err = rq_ledger_signer(pk, &revoked, l, signer->id);

	if (err == RQ_ENOTFOUND || (!err && (revoked || memcmp(pk, signer->pk, RQ_PUBKEY_LEN) != 0)))
		return rq_error_set(RQ_EINVALID, "key %s %s; ask a current signer to run 'resque key add'",
				    signer->id, revoked ? "was revoked and may not sign this ledger"
							: "is not a signer of this ledger");
	return err;
}

int rq_ledger__commit(git_oid *out, rq_ledger *l, const rq_entry *e, const git_oid *tree_oid, const git_oid *parent)
{
	git_signature *who = NULL;
	git_tree *tree = NULL;
	git_commit *pc = NULL;
	rq_buf msg = RQ_BUF_INIT, summary = RQ_BUF_INIT;
	int64_t t = 0;
	int err = 0;

	/* the entry's own time, so that the commit says when it was made */
	rq_time_parse(&t, e->time);
	rq_entry_summary(&summary, e);
	rq_buf_printf(&msg, "%" PRIu64 " %s %.12s\n\n%s\n", e->seq, e->type, e->id, summary.ptr);
	if (git_signature_new(&who, "resque", "resque@localhost", (git_time_t)t, 0) ||
	    git_tree_lookup(&tree, l->repo, tree_oid) || (parent && git_commit_lookup(&pc, l->repo, parent))) {
		err = rq_git_error(RQ_EIO, "writing the entry to git");
		goto done;
	}
	const git_commit *parents[1] = { pc };
	if (git_commit_create(out, l->repo, NULL, who, who, NULL, msg.ptr, tree, parent ? 1 : 0, parents))
		err = rq_git_error(RQ_EIO, "writing the entry to git");
done:
	git_signature_free(who);
	git_tree_free(tree);
	git_commit_free(pc);
	rq_buf_release(&msg);
	rq_buf_release(&summary);
	return err;
}

/* The commit of `e` (whose tree is `tree_oid`) on top of `tip` (NULL for
 * the genesis), and the ledger branch moved to it. */
static int commit_entry(git_oid *out, rq_ledger *l, const rq_entry *e, const git_oid *tree_oid, const git_oid *tip)
{
	git_reference *ref = NULL;
	int rc, err;

	if ((err = rq_ledger__commit(out, l, e, tree_oid, tip)))
		return err;
	/* The entry becomes visible here, and only if nobody moved the ref. */
	rc = tip ? git_reference_create_matching(&ref, l->repo, RQ_LEDGER_REF, out, 1, tip, "resque append")
		 : git_reference_create(&ref, l->repo, RQ_LEDGER_REF, out, 0, "resque append");
	git_reference_free(ref);
	if (rc == GIT_EMODIFIED || rc == GIT_ELOCKED || rc == GIT_EEXISTS)
		return rq_git_error(RQ_ELOCKED, "updating the ledger branch (another writer?)");
	if (rc)
		return rq_git_error(RQ_EIO, "updating the ledger branch");
	return 0;
}

/* The entry is written (in `commit`): the guard and index.db learn of it. */
static void after_append(rq_ledger *l, rq_entry *e, const git_oid *commit, unsigned flags)
{
	char hex[RQ_OID_HEX_SIZE];
	rq_hash leaf;

	git_oid_tostr(hex, sizeof(hex), commit);
	memcpy(e->commit, hex, sizeof(hex));
	rq_merkle_leaf_hash(leaf, e->bytes.ptr, e->bytes.len);
	/* an unchecked append (tests forging entries) is not vouched for */
	rq_guard_appended(l, e, leaf, commit, !(flags & RQ_APPEND_UNCHECKED) && !l->batch);
	/* index.db follows; if this fails the index is stale and the next
	 * command rebuilds it, so the append still succeeded. */
	if (rq_index_begin(l) != 0 || rq_index_insert(l, e, hex) || rq_index_set_tip(l, hex) || rq_index_commit(l)) {
		rq_ledger__notice("warning: %s; the entry is written, the next command rebuilds the index",
				  rq_error_last());
		rq_index_rollback(l);
	}
	rq_error_clear();
}

/* An entry is written only if it parses back as readers will parse it: a
 * body nested past the parser's depth limit once inside the entry, say,
 * would otherwise be an entry that no one can ever read or verify. */
static int reads_back(const rq_entry *e)
{
	rq_entry *back = NULL;
	int err = rq_entry_parse(&back, e->bytes.ptr, e->bytes.len);
	rq_entry_free(back);
	if (err)
		return rq_error_prefix(RQ_EINVALID, "the entry would not read back: ");
	return 0;
}

int rq_ledger__append(rq_entry **out, rq_ledger *l, const char *type, json_t *body,
		      const rq_attachment *att, size_t natt, const rq_key *signer, unsigned flags)
{
	int fd = -1, err = 0;
	git_oid tip, tree_oid, commit_oid;
	rq_entry *prev = NULL, *e = NULL;
	rq_buf sig = RQ_BUF_INIT;
	bool found = false;
	char now[RQ_TIME_SIZE];

	if (out)
		*out = NULL;
	if (!signer) {
		err = rq_error_set(RQ_EINVALID, "no signing key loaded");
		goto done;
	}
	if (l->index_memory) {
		err = rq_error_set(l->index_memory_code, "%s", l->index_memory);
		goto done;
	}
	if (!json_is_object(body)) {
		err = rq_error_set(RQ_EINVALID, "an entry body must be a JSON object");
		goto done;
	}
	if ((flags & RQ_APPEND_UNCHECKED) && l->batch) {
		/* a batch remembers every entry it appended as vouched for */
		err = rq_error_set(RQ_EINVALID, "an unchecked append inside a batch");
		goto done;
	}
	if ((err = record_attachments(body, att, natt)) || (err = lock_ledger(&fd, l)))
		goto done;
	clean_leftovers(l);
	rq_index_read_end(l);
	if ((err = find_parent(&prev, &tip, &found, l, type)) ||
	    (!(flags & RQ_APPEND_UNCHECKED) && (err = check_authorised(l, signer))))
		goto done;
	rq_time_now(now);
	err = rq_entry_build(&e, prev ? prev->seq + 1 : 0, prev ? prev->id : zero_hash, type, now, signer->id, body);
	body = NULL; /* rq_entry_build took it */
	if (err || (err = reads_back(e)) || (err = rq_entry_sign(&sig, e, signer)) || (err = write_tree(&tree_oid, l, e, &sig, att, natt)) ||
	    (err = commit_entry(&commit_oid, l, e, &tree_oid, found ? &tip : NULL)))
		goto done;
	after_append(l, e, &commit_oid, flags);
	if (rq_ledger__pack(l, false) != 0) /* the entry is written all the same */
		rq_ledger__notice("warning: packing the ledger's objects: %s", rq_error_last());
	rq_error_clear();
	if (out) {
		*out = e;
		e = NULL;
	}
done:
	json_decref(body);
	if (fd >= 0)
		close(fd); /* releases the lock */
	rq_entry_free(prev);
	rq_entry_free(e);
	rq_buf_release(&sig);
	return err;
}

int rq_ledger__batch(rq_ledger *l, bool on)
{
	bool was = l->batch;
	l->batch = on;
	if (on || !was)
		return 0;
	int err = rq_guard_remember_appended(l);
	if (err)
		rq_error_prefix(err, "remembering the appended entries: ");
	return err;
}

int rq_ledger_append(rq_entry **out, rq_ledger *l, const char *type, json_t *body,
		     const rq_attachment *att, size_t natt)
{
	if (!type || !rq_entry_type_known(type) || strcmp(type, "init") == 0) {
		json_decref(body);
		return rq_error_set(RQ_EINVALID, "'%s' is not an entry type that can be appended",
				    type ? type : "(null)");
	}
	return rq_ledger__append(out, l, type, body, att, natt, l->signer, 0);
}

int rq_ledger_append_if(rq_entry **out, rq_ledger *l, const char *type, json_t *body,
			const rq_attachment *att, size_t natt, rq_append_check_fn check, void *ctx)
{
	l->check = check;
	l->check_ctx = ctx;
	int err = rq_ledger_append(out, l, type, body, att, natt);
	l->check = NULL;
	l->check_ctx = NULL;
	return err;
}

/* ---- reading ---- */

bool rq_ledger_tip_moved(rq_ledger *l)
{
	git_oid now;
	if (git_reference_name_to_id(&now, l->repo, RQ_LEDGER_REF) != 0)
		return l->has_tip;
	return !l->has_tip || !git_oid_equal(&now, &l->tip);
}

uint64_t rq_ledger_size(rq_ledger *l)
{
	return l->size;
}

/* index.db vouches for nothing: what a reader returns is the ledger's,
 * checked against the guard's verified leaf hashes and commits. */
static int index_lies(uint64_t seq, const char *what)
{
	return rq_error_set(RQ_EINTEGRITY, "index.db: entry %" PRIu64 " %s; run 'resque reindex'", seq, what);
}

static int db_fail(rq_ledger *l)
{
	return rq_error_set(RQ_EIO, "%s/index.db: %s", l->dir, sqlite3_errmsg(l->db));
}

int rq_ledger_get(rq_entry **out, rq_ledger *l, uint64_t seq)
{
	rq_hash leaf, got;
	uint8_t commit[20];
	git_oid oid;
	int err;

	*out = NULL;
	if (seq >= l->size)
		return rq_error_set(RQ_ENOTFOUND, "no entry %" PRIu64 " in the ledger", seq);
	if ((err = rq_guard_leaf(leaf, commit, l, seq)))
		return err;
	git_oid_fromraw(&oid, commit);
	if ((err = entry_at(out, l, &oid)))
		return err;
	rq_merkle_leaf_hash(got, (*out)->bytes.ptr, (*out)->bytes.len);
	if (memcmp(got, leaf, RQ_HASH_LEN) != 0 || (*out)->seq != seq) {
		rq_entry_free(*out);
		*out = NULL;
		return rq_error_set(RQ_EINTEGRITY, "entry %" PRIu64 ": commit %.12s no longer holds the entry verified there "
				    "(run 'resque verify')", seq, git_oid_tostr_s(&oid));
	}
	return 0;
}

/* Whether index row `seq` holds the entry verified there: checked once per
 * read transaction, against the leaf hash the guard verified. */
static int row_checked(rq_ledger *l, uint64_t seq, const void *bytes, size_t len)
{
	rq_hash leaf, want;
	uint8_t commit[20];
	int err;

	if (rq_guard_row_ok(l, seq))
		return 0;
	if ((err = rq_guard_leaf(want, commit, l, seq)))
		return err;
	rq_merkle_leaf_hash(leaf, bytes, len);
	if (memcmp(leaf, want, RQ_HASH_LEN) != 0)
		return index_lies(seq, "is not the entry verified there");
	rq_guard_set_row_ok(l, seq);
	return 0;
}

/* A read that goes on past this many rows loads every verified leaf at
 * once instead of reading each row's from the memory (two preads). */
#define FEW_ROWS 256

/* Index rows [0, l->size), oldest or newest first, each checked against
 * its verified leaf hash and given to `fn` with its bytes; rows must be
 * there, one per sequence number. A non-zero return from `fn` stops the
 * read and is returned. So a read that stops early costs what it read. */
typedef int (*row_fn)(uint64_t seq, const void *bytes, size_t len, void *ctx);

static int each_row(rq_ledger *l, bool newest_first, row_fn fn, void *ctx)
{
	sqlite3_stmt *st = NULL;
	uint64_t next, seen = 0;
	int err, rc;

	if ((err = rq_ledger_guard(l)))
		return err;
	if (l->size == 0)
		return 0;
	next = newest_first ? l->size - 1 : 0;
	/* One snapshot of index.db from the first bulk read on (not from the
	 * start: `resque run` must not pin the WAL for a whole training run),
	 * so that rows checked once stay checked. */
	rq_index_read_begin(l);
	if (sqlite3_prepare_v2(l->db, rq_index_queries[newest_first ? RQ_Q_ROWS_DESC : RQ_Q_ROWS], -1, &st, NULL) !=
	    SQLITE_OK)
		return db_fail(l);
	sqlite3_bind_int64(st, 1, 0);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)l->size);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
		const void *bytes = sqlite3_column_blob(st, 1);
		size_t len = (size_t)sqlite3_column_bytes(st, 1);
		if (seq != next) {
			err = index_lies(next, "is missing");
			goto done;
		}
		next = newest_first ? next - 1 : next + 1;
		if (++seen == FEW_ROWS && (err = rq_guard_load_all(l)))
			goto done;
		if ((err = row_checked(l, seq, bytes, len)) || (err = fn(seq, bytes, len, ctx)))
			goto done;
	}
	if (rc != SQLITE_DONE)
		err = db_fail(l);
	else if (seen != l->size)
		err = index_lies(next, "is missing");
done:
	sqlite3_finalize(st);
	return err;
}

/* Whether the canonical bytes of an entry may hold `"key":"value"`: the
 * encoding is compact JSON, so an entry whose bytes lack the exact text
 * has no such member; one that has it is parsed to be sure. Values outside
 * a plain alphabet (which JSON might escape) always say "maybe". */
static bool may_hold(const void *bytes, size_t len, const char *key, const char *value)
{
	char pat[160];
	for (const char *p = value; *p; p++)
		if (!(*p == '.' || *p == '_' || *p == '-' || *p == ' ' || *p == ':' || (*p >= '0' && *p <= '9') ||
		      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return true;
	int n = snprintf(pat, sizeof(pat), "\"%s\":\"%s\"", key, value);
	if (n < 0 || (size_t)n >= sizeof(pat))
		return true;
	return memmem(bytes, len, pat, (size_t)n) != NULL;
}

int rq_ledger_lookup(rq_entry **out, rq_ledger *l, const char *ref, const char *type)
{
	size_t len = strlen(ref), matches = 0;
	int64_t seq = -1;
	int err;
	char low[RQ_ID_HEX_SIZE];

	*out = NULL;
	if ((err = rq_ledger_guard(l)))
		return err;
	/* A name first (the newest entry that bears it)... Both look-ups
	 * search what the guard verified, never index.db's columns. */
	if ((err = rq_guard_find_name(&seq, l, ref, type)))
		return err;
	if (seq < 0 && len >= 4 && len <= 64 && rq_is_hex(ref, len)) {
		/* ...then a unique prefix of an entry id */
		for (size_t i = 0; i <= len; i++)
			low[i] = (char)((ref[i] >= 'A' && ref[i] <= 'F') ? ref[i] + 32 : ref[i]);
		if ((err = rq_guard_find_id(&seq, &matches, l, low, len)))
			return err;
		if (matches > 1)
			return rq_error_set(RQ_EAMBIGUOUS, "'%s' matches several entries; give more digits", ref);
	}
	if (seq >= 0) {
		if ((err = rq_ledger_get(out, l, (uint64_t)seq)))
			return err;
		if (!type || strcmp((*out)->type, type) == 0)
			return 0;
		rq_entry_free(*out);
		*out = NULL;
	}
	if (type)
		return rq_error_set(RQ_ENOTFOUND, "no %s entry named or identified by '%s'", type, ref);
	return rq_error_set(RQ_ENOTFOUND, "no entry named or identified by '%s'%s", ref,
			    len < 4 && rq_is_hex(ref, len) ? " (ids need at least 4 hex digits)" : "");
}

int rq_ledger_attachment(rq_buf *out, rq_ledger *l, const rq_entry *e, const char *name)
{
	git_oid oid;
	git_commit *c = NULL;
	git_tree *t = NULL;
	rq_buf path = RQ_BUF_INIT;
	int err;
	json_t *rec = json_object_get(json_object_get(e->body, "attachments"), name);

	if (!json_is_object(rec))
		return rq_error_set(RQ_ENOTFOUND, "entry %.12s has no attachment '%s'", e->id, name);
	if (git_oid_fromstr(&oid, e->commit)) {
		err = rq_error_set(RQ_EINVALID, "entry %.12s has no valid commit id", e->id);
		goto done;
	}
	if ((err = rq_object_commit(&c, l->repo, &oid)) ||
	    (err = rq_object_tree(&t, l->repo, git_commit_tree_id(c)))) {
		rq_error_prefix(err, "entry %" PRIu64 " (%.12s): ", e->seq, e->id);
		goto done;
	}
	size_t start = out->len;
	rq_buf_printf(&path, "att/%s", name);
	if ((err = read_blob(out, l->repo, t, path.ptr))) {
		if (err == RQ_ENOTFOUND) { /* the entry records it: the tree lost it */
			char *m = rq_xstrdup(rq_error_last());
			err = rq_error_set(RQ_EINTEGRITY, "%s", m);
			free(m);
		}
		rq_error_prefix(err, "entry %" PRIu64 " (%.12s): ", e->seq, e->id);
		goto done;
	}
	char fp[RQ_FINGERPRINT_SIZE];
	rq_fingerprint_bytes(fp, out->ptr + start, out->len - start);
	if (strcmp(fp, rq_json_str(rec, "fingerprint", "")) != 0) {
		rq_buf_truncate(out, start);
		err = rq_error_set(RQ_EINTEGRITY, "attachment '%s' of entry %.12s does not match its fingerprint",
				   name, e->id);
	}
done:
	rq_buf_release(&path);
	git_tree_free(t);
	git_commit_free(c);
	return err;
}

struct each {
	rq_ledger *l;
	const rq_scan *s;
	uint64_t taken;
	rq_scan_fn fn;
	void *ctx;
};

/* Whether an entry of `type` is one the scan wants (NULL type: the bytes
 * may hold one of them). */
static bool wanted(const rq_scan *s, const void *bytes, size_t len, const char *type)
{
	if (!s->ntypes)
		return true;
	for (size_t i = 0; i < s->ntypes; i++)
		if (type ? strcmp(type, s->types[i]) == 0 : may_hold(bytes, len, "type", s->types[i]))
			return true;
	return false;
}

#define SCAN_DONE 1 /* each_entry: the scan has its `limit` */

static int each_entry(uint64_t seq, const void *bytes, size_t len, void *ctx)
{
	struct each *w = ctx;
	rq_entry *e = NULL;
	rq_hash leaf;
	uint8_t commit[20];
	int err;

	if (!wanted(w->s, bytes, len, NULL))
		return 0;
	if (rq_entry_parse(&e, bytes, len)) {
		rq_error_clear();
		return index_lies(seq, "does not parse");
	}
	if (!wanted(w->s, bytes, len, e->type)) {
		rq_entry_free(e);
		return 0;
	}
	if ((err = rq_guard_leaf(leaf, commit, w->l, seq)) == 0) {
		git_oid oid;
		git_oid_fromraw(&oid, commit);
		git_oid_tostr(e->commit, sizeof(e->commit), &oid);
		err = w->fn(&e, w->ctx);
	}
	rq_entry_free(e);
	if (!err && w->s->limit && ++w->taken >= w->s->limit)
		err = SCAN_DONE;
	return err;
}

int rq_ledger__scan(rq_ledger *l, const rq_scan *s, rq_scan_fn fn, void *ctx)
{
	struct each w = { l, s, 0, fn, ctx };
	int err = each_row(l, s->newest_first, each_entry, &w);
	return err > 0 ? 0 : err;
}

bool rq_ledger__may_hold(const void *bytes, size_t len, const char *key, const char *value)
{
	return may_hold(bytes, len, key, value);
}

int rq_ledger__scan_rows(rq_ledger *l, bool newest_first, rq_row_fn fn, void *ctx)
{
	int err = each_row(l, newest_first, fn, ctx);
	return err > 0 ? 0 : err;
}

struct each_public {
	int (*fn)(const rq_entry *e, void *ctx);
	void *ctx;
	int rc;
};

static int each_public(rq_entry **e, void *ctx)
{
	struct each_public *p = ctx;
	return p->rc = p->fn(*e, p->ctx);
}

int rq_ledger_foreach(rq_ledger *l, const char *type, int (*fn)(const rq_entry *e, void *ctx), void *ctx)
{
	struct each_public p = { fn, ctx, 0 };
	rq_scan s = { &type, type ? 1 : 0, false, 0 };
	int err = rq_ledger__scan(l, &s, each_public, &p);
	return p.rc > 0 ? p.rc : err;
}

/* ---- configuration ---- */

int rq_ledger_config_get(rq_buf *out, rq_ledger *l, const char *key)
{
	git_config *cfg = NULL;
	git_buf b = { 0 };
	int err = 0;
	if (git_repository_config_snapshot(&cfg, l->repo))
		return rq_git_error(RQ_EIO, "reading the config");
	int rc = git_config_get_string_buf(&b, cfg, key);
	if (rc == GIT_ENOTFOUND)
		err = rq_error_set(RQ_ENOTFOUND, "%s is not set", key);
	else if (rc)
		err = rq_git_error(RQ_EINVALID, key);
	else
		rq_buf_put(out, b.ptr, b.size);
	git_buf_dispose(&b);
	git_config_free(cfg);
	return err;
}

int rq_ledger_config_set(rq_ledger *l, const char *key, const char *value)
{
	git_config *cfg = NULL;
	int err = 0;
	if (git_repository_config(&cfg, l->repo))
		return rq_git_error(RQ_EIO, "opening the config");
	if (value ? git_config_set_string(cfg, key, value) : git_config_delete_entry(cfg, key))
		err = rq_git_error(RQ_EINVALID, key);
	git_config_free(cfg);
	return err;
}

static const char *config_where(git_config_level_t level)
{
	switch (level) {
	case GIT_CONFIG_LEVEL_LOCAL:
		return ".resque/config";
	case GIT_CONFIG_LEVEL_GLOBAL:
		return "~/.gitconfig";
	case GIT_CONFIG_LEVEL_XDG:
		return "~/.config/git/config";
	case GIT_CONFIG_LEVEL_SYSTEM:
		return "/etc/gitconfig";
	default:
		return "a git config file";
	}
}

int rq_ledger_config_where(rq_buf *value, const char **where, rq_ledger *l, const char *key)
{
	git_config *cfg = NULL;
	git_config_entry *e = NULL;
	int err = 0;
	*where = NULL;
	if (git_repository_config_snapshot(&cfg, l->repo))
		return rq_git_error(RQ_EIO, "reading the config");
	int rc = git_config_get_entry(&e, cfg, key);
	if (rc == GIT_ENOTFOUND) {
		err = rq_error_set(RQ_ENOTFOUND, "%s is not set", key);
	} else if (rc) {
		err = rq_git_error(RQ_EINVALID, key);
	} else {
		rq_buf_puts(value, e->value ? e->value : "");
		*where = config_where(e->level);
	}
	git_config_entry_free(e);
	git_config_free(cfg);
	return err;
}

struct config_each {
	int (*fn)(const char *name, const char *value, const char *where, void *ctx);
	void *ctx;
};

static int config_each(const git_config_entry *e, void *payload)
{
	struct config_each *c = payload;
	return c->fn(e->name, e->value ? e->value : "", config_where(e->level), c->ctx);
}

int rq_ledger_config_foreach(rq_ledger *l, const char *regexp,
			     int (*fn)(const char *name, const char *value, const char *where, void *ctx), void *ctx)
{
	git_config *cfg = NULL;
	struct config_each c = { fn, ctx };
	if (git_repository_config_snapshot(&cfg, l->repo))
		return rq_git_error(RQ_EIO, "reading the config");
	int rc = regexp ? git_config_foreach_match(cfg, regexp, config_each, &c)
			: git_config_foreach(cfg, config_each, &c);
	git_config_free(cfg);
	if (rc < 0)
		return rq_git_error(RQ_EINVALID, "reading the config");
	return rc;
}

struct entry_name {
	const char *name;
	enum rq_name_kind kind;
};

/* Under the writer's lock: the name of a version or dataset is still free. */
static int name_still_free(rq_ledger *l, void *ctx)
{
	const struct entry_name *n = ctx;
	return rq_name_free(l, n->name, n->kind);
}

/* The public way to append (resque/ledger.h): the body as JSON text, so
 * that no jansson type crosses the API. */
int rq_ledger_append_json(rq_entry **out, rq_ledger *l, const char *type,
			  const char *body_json, const rq_attachment *att, size_t natt)
{
	json_error_t jerr;
	json_t *body;
	struct entry_name named = { NULL, RQ_NAME_VERSION };

	if (out)
		*out = NULL;
	if (!body_json)
		return rq_error_set(RQ_EINVALID, "body: missing");
	if (!type || !rq_entry_type_known(type) || strcmp(type, "init") == 0 ||
	    strcmp(type, "key") == 0)
		/* key entries change who may sign: `resque key add/revoke`
		 * writes them, with the checks their bodies need */
		return rq_error_set(RQ_EINVALID, "'%s' is not an entry type a program can append",
				    type ? type : "(null)");
	if (!(body = json_loads(body_json, JSON_REJECT_DUPLICATES, &jerr)))
		return rq_error_set(RQ_EINVALID, "body: not JSON: %s (line %d)", jerr.text, jerr.line);
	if (!json_is_object(body)) {
		json_decref(body);
		return rq_error_set(RQ_EINVALID, "body: not a JSON object");
	}
	if (json_object_get(body, "attachments")) {
		json_decref(body);
		return rq_error_set(RQ_EINVALID,
				    "body: \"attachments\" is recorded by the library from the attachments given");
	}
	/* Versions and datasets are found by name: one valid, unused name each,
	 * as the commands that write them insist. */
	if (strcmp(type, "version") == 0 || strcmp(type, "dataset") == 0) {
		named.kind = strcmp(type, "dataset") == 0 ? RQ_NAME_DATASET : RQ_NAME_VERSION;
		named.name = json_string_value(json_object_get(body, "name"));
		if (!named.name || !rq_name_valid(named.name, named.kind)) {
			json_decref(body);
			return rq_error_set(RQ_EINVALID, "body: a %s needs a valid \"name\"", type);
		}
		return rq_ledger_append_if(out, l, type, body, att, natt, name_still_free, &named);
	}
	return rq_ledger_append(out, l, type, body, att, natt);
}
