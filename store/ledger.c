/* The ledger on git: one commit per entry on refs/heads/ledger, appends
 * serialised by a lock file and a compare-and-swap of the ref, reads,
 * look-ups through index.db, and verification (design §2). */
#include "common.h"
#include "ledger_int.h"
#include "resque/json.h"
#include "parallel_int.h"

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

static const char zero_hash[65] =
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
	sqlite3_close(l->db);
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
	int rc = git_reference_name_to_id(out, l->repo, RQ_LEDGER_REF);
	*found = rc == 0;
	if (rc == GIT_ENOTFOUND)
		return 0;
	if (rc)
		return rq_git_error(RQ_EIO, "reading the ledger branch");
	return 0;
}

static int read_blob(rq_buf *out, git_repository *repo, const git_tree *tree, const char *path)
{
	git_tree_entry *te = NULL;
	git_blob *blob = NULL;
	int rc = git_tree_entry_bypath(&te, tree, path);
	if (rc == GIT_ENOTFOUND)
		return rq_error_set(RQ_ENOTFOUND, "no '%s' in the entry's tree", path);
	if (rc)
		return rq_git_error(RQ_EIO, path);
	if (git_tree_entry_type(te) != GIT_OBJECT_BLOB) {
		git_tree_entry_free(te);
		return rq_error_set(RQ_EINTEGRITY, "'%s' in the entry's tree is not a file", path);
	}
	rc = git_blob_lookup(&blob, repo, git_tree_entry_id(te));
	git_tree_entry_free(te);
	if (rc)
		return rq_git_error(RQ_EIO, path);
	rq_buf_put(out, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
	git_blob_free(blob);
	return 0;
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
	if (git_commit_lookup(&c, l->repo, oid) || git_commit_tree(&t, c)) {
		err = rq_git_error(RQ_EINTEGRITY, "reading a ledger commit");
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

/* Commits of the ledger, oldest first (following first parents). */
static int walk(git_oid **out, size_t *n, rq_ledger *l)
{
	git_revwalk *w = NULL;
	git_oid tip, oid, *v = NULL;
	size_t count = 0;
	bool found;
	int err;

	*out = NULL;
	*n = 0;
	if ((err = tip_oid(&tip, &found, l)) || !found)
		return err;
	if (git_revwalk_new(&w, l->repo) || git_revwalk_push(w, &tip)) {
		err = rq_git_error(RQ_EIO, "walking the ledger");
		goto done;
	}
	git_revwalk_simplify_first_parent(w);
	git_revwalk_sorting(w, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE);
	int rc;
	while ((rc = git_revwalk_next(&oid, w)) == 0) {
		if ((count & (count - 1)) == 0)
			v = rq_xrealloc(v, (count ? 2 * count : 1) * sizeof(*v));
		v[count++] = oid;
	}
	if (rc != GIT_ITEROVER) {
		err = rq_git_error(RQ_EINTEGRITY, "walking the ledger");
		goto done;
	}
	*out = v;
	*n = count;
	v = NULL;
done:
	free(v);
	git_revwalk_free(w);
	return err;
}

/* ---- index maintenance ---- */

/* Reindexing reads and parses entries on every core, a batch at a time,
 * and inserts them in order on this thread (SQLite's one writer). */
#define REINDEX_BATCH 2048

struct reindex_job {
	rq_ledger *l;
	const git_oid *oids;
	rq_entry **v;
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
	rq_error_clear();
}

static int reindex(rq_ledger *l)
{
	git_oid *oids = NULL;
	size_t n = 0, nworkers = rq_parallel_workers();
	rq_entry **v = NULL;
	struct reindex_job job = { l, NULL, NULL, NULL };
	int err;
	char hex[GIT_OID_HEXSZ + 1];

	if ((err = walk(&oids, &n, l)))
		return err;
	if ((err = rq_index_begin(l)))
		goto done;
	if ((err = rq_index_clear(l)))
		goto fail;
	v = rq_xcalloc(REINDEX_BATCH, sizeof(*v));
	job.v = v;
	job.repos = rq_xcalloc(nworkers, sizeof(*job.repos));
	for (size_t first = 0; first < n; first += REINDEX_BATCH) {
		size_t nb = n - first < REINDEX_BATCH ? n - first : REINDEX_BATCH;
		job.oids = oids + first;
		rq_parallel_for(nb, reindex_read, &job);
		for (size_t k = 0; k < nb; k++) {
			if (v[k] && !err) {
				git_oid_tostr(hex, sizeof(hex), &oids[first + k]);
				err = rq_index_insert(l, v[k], hex);
			}
			rq_entry_free(v[k]);
			v[k] = NULL;
		}
		if (err)
			goto fail;
	}
	rq_error_clear();
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
	rq_index_rollback(l);
done:
	for (size_t w = 0; job.repos && w < nworkers; w++)
		git_repository_free(job.repos[w]);
	free(job.repos);
	free(v);
	free(oids);
	return err;
}

int rq_ledger_reindex(rq_ledger *l)
{
	if (l->index_memory)
		return rq_error_set(l->index_memory_code, "%s", l->index_memory);
	return reindex(l);
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

int rq_ledger_open(rq_ledger **out, const char *resque_dir)
{
	rq_ledger *l = ledger_new(resque_dir);
	int err = 0;

	*out = NULL;
	if (git_repository_open_bare(&l->repo, resque_dir)) {
		err = rq_git_error(RQ_ENOTFOUND, resque_dir);
		goto done;
	}
	if ((err = rq_index_open(l)) || (err = refresh_index(l))) {
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

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

/* ---- leftovers of killed writers ---- */

/* A temporary file this old has no live writer, whatever its pid says
 * (the pid may have been reused, or belong to another host). */
#define STALE_AFTER (60 * 60)

/* The file `name` is PREFIX followed by a pid: true when that process is
 * gone (or the file is older than STALE_AFTER). */
static bool stale_pid_file(const char *name, const char *prefix, const struct stat *st)
{
	size_t plen = strlen(prefix);
	const char *digits = name + plen;
	long pid = 0;

	if (strncmp(name, prefix, plen) != 0 || !*digits || strlen(digits) > 9)
		return false;
	for (const char *p = digits; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		pid = pid * 10 + (*p - '0');
	}
	if (pid <= 0 || pid == (long)getpid())
		return false;
	if (time(NULL) - st->st_mtime > STALE_AFTER)
		return true;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* `DIR.tmp-PID` beside the repository DIR, left by a killed init. */
static void clean_init_leftovers(const char *resque_dir)
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
	clean_init_leftovers(l->dir);
	rq_buf_release(&path);
}

int rq_ledger_init(rq_ledger **out, const char *resque_dir, const rq_key *signer)
{
	rq_buf tmp = RQ_BUF_INIT;
	rq_ledger *l = NULL;
	git_repository_init_options opts = GIT_REPOSITORY_INIT_OPTIONS_INIT;
	git_config *cfg = NULL;
	uint8_t rid[16];
	char rid_hex[33], pk_hex[65];
	int err = 0;

	*out = NULL;
	if (rq_path_exists(resque_dir))
		return rq_error_set(RQ_EEXISTS, "%s: a repository exists already", resque_dir);
	clean_init_leftovers(resque_dir);
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
	rq_hex_encode(pk_hex, signer->pk, 32);
	json_object_set_new(body, "repository", json_string(rid_hex));
	json_object_set_new(key, "id", json_string(signer->id));
	json_object_set_new(key, "public", json_string(pk_hex));
	json_object_set_new(body, "key", key);
	if ((err = rq_ledger__append(NULL, l, "init", body, NULL, 0, signer, RQ_APPEND_UNCHECKED)))
		goto done;
	/* Close everything, move it into place, reopen there. */
	sqlite3_close(l->db);
	l->db = NULL;
	if (rename(tmp.ptr, resque_dir) < 0) {
		err = rq_error_set(errno == EEXIST || errno == ENOTEMPTY ? RQ_EEXISTS : RQ_EIO,
				   "%s: %s", resque_dir, strerror(errno));
		goto done;
	}
	rq_ledger_free(l);
	l = NULL;
	err = rq_ledger_open(out, resque_dir);
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

int rq_ledger_signer(uint8_t pk[32], bool *revoked, rq_ledger *l, const char *keyid)
{
	sqlite3_stmt *st = NULL;
	bool found = false;
	int err = 0, rc;

	*revoked = false;
	if (sqlite3_prepare_v2(l->db, "SELECT entry FROM entries WHERE type IN ('init','key') ORDER BY seq",
			       -1, &st, NULL) != SQLITE_OK)
		return rq_error_set(RQ_EIO, "index.db: %s", sqlite3_errmsg(l->db));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rq_entry *e = NULL;
		if (rq_entry_parse(&e, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0))) {
			rq_error_clear();
			continue;
		}
		const json_t *k = strcmp(e->type, "init") == 0 ? json_object_get(e->body, "key") : e->body;
		const char *action = strcmp(e->type, "init") == 0 ? "add" : rq_json_str(k, "action", "");
		if (strcmp(rq_json_str(k, "id", ""), keyid) == 0) {
			if (strcmp(action, "add") == 0 &&
			    rq_hex_decode(pk, 32, rq_json_str(k, "public", "")) == 0) {
				found = true;
				*revoked = false;
			} else if (strcmp(action, "revoke") == 0) {
				*revoked = true;
			}
		}
		rq_entry_free(e);
	}
	if (rc != SQLITE_DONE)
		err = rq_error_set(RQ_EIO, "index.db: %s", sqlite3_errmsg(l->db));
	sqlite3_finalize(st);
	if (!err && !found)
		err = rq_error_set(RQ_ENOTFOUND, "key %s is not a signer of this ledger", keyid);
	return err;
}

/* ---- appending ---- */

static int lock_ledger(int *fd_out, rq_ledger *l)
{
	rq_buf path = RQ_BUF_INIT;
	int fd, err = 0;

	rq_buf_printf(&path, "%s/ledger.lock", l->dir);
	fd = open(path.ptr, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = rq_error_set(RQ_EIO, "%s: %s", path.ptr, strerror(errno));
		goto done;
	}
	/* Wait briefly for another writer, then give up cleanly. */
	for (int i = 0;; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			err = rq_error_set(RQ_EIO, "%s: %s", path.ptr, strerror(errno));
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

static bool valid_attachment_name(const char *n)
{
	if (!*n || strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || strlen(n) > 100)
		return false;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}

static void b2_hex(char out[68], const void *data, size_t len)
{
	uint8_t h[32];
	crypto_generichash(h, sizeof(h), data, len, NULL, 0);
	memcpy(out, "b2:", 3);
	rq_hex_encode(out + 3, h, sizeof(h));
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

int rq_ledger__append(rq_entry **out, rq_ledger *l, const char *type, json_t *body,
		      const rq_attachment *att, size_t natt, const rq_key *signer, unsigned flags)
{
	int fd = -1, err = 0;
	git_oid tip, tree_oid, commit_oid;
	git_commit *parent = NULL;
	git_tree *tree = NULL;
	git_signature *who = NULL;
	rq_entry *prev = NULL, *e = NULL;
	rq_buf sig = RQ_BUF_INIT, msg = RQ_BUF_INIT, summary = RQ_BUF_INIT;
	bool found;
	char now[21], hex[GIT_OID_HEXSZ + 1];

	if (out)
		*out = NULL;
	if (!signer) {
		json_decref(body);
		return rq_error_set(RQ_EINVALID, "no signing key loaded");
	}
	if (l->index_memory) {
		json_decref(body);
		return rq_error_set(l->index_memory_code, "%s", l->index_memory);
	}
	if (!json_is_object(body)) {
		json_decref(body);
		return rq_error_set(RQ_EINVALID, "an entry body must be a JSON object");
	}
	if (natt) {
		json_t *a = json_object();
		for (size_t i = 0; i < natt; i++) {
			char fp[68];
			if (!valid_attachment_name(att[i].name)) {
				json_decref(a);
				json_decref(body);
				return rq_error_set(RQ_EINVALID, "'%s' is not a valid attachment name", att[i].name);
			}
			b2_hex(fp, att[i].data, att[i].len);
			json_object_set_new(a, att[i].name,
					    json_pack("{s:I, s:s}", "bytes", (json_int_t)att[i].len, "fingerprint", fp));
		}
		json_object_set_new(body, "attachments", a);
	}
	if ((err = lock_ledger(&fd, l))) {
		json_decref(body);
		goto done;
	}
	clean_leftovers(l);
	if ((err = tip_oid(&tip, &found, l))) {
		json_decref(body);
		goto done;
	}
	if (found && (err = entry_at(&prev, l, &tip))) {
		json_decref(body);
		goto done;
	}
	if (!found && strcmp(type, "init") != 0) {
		json_decref(body);
		err = rq_error_set(RQ_EINTEGRITY, "%s: the ledger has no genesis entry", l->dir);
		goto done;
	}
	if (!(flags & RQ_APPEND_UNCHECKED)) {
		uint8_t pk[32];
		bool revoked;
		int e2 = rq_ledger_signer(pk, &revoked, l, signer->id);
		if (e2 == RQ_ENOTFOUND || (!e2 && (revoked || memcmp(pk, signer->pk, 32) != 0))) {
			json_decref(body);
			err = rq_error_set(RQ_EINVALID, "key %s %s; ask a current signer to run 'resque key add'",
					   signer->id, revoked ? "was revoked and may not sign this ledger"
							       : "is not a signer of this ledger");
			goto done;
		} else if (e2) {
			json_decref(body);
			err = e2;
			goto done;
		}
	}
	rq_time_now(now);
	if ((err = rq_entry_build(&e, prev ? prev->seq + 1 : 0, prev ? prev->id : zero_hash, type, now,
				  signer->id, body)))
		goto done;
	if ((err = rq_entry_sign(&sig, e, signer)))
		goto done;
	if ((err = write_tree(&tree_oid, l, e, &sig, att, natt)))
		goto done;
	int64_t t;
	rq_time_parse(&t, now);
	rq_entry_summary(&summary, e);
	rq_buf_printf(&msg, "%" PRIu64 " %s %.12s\n\n%s\n", e->seq, e->type, e->id, summary.ptr);
	if (git_signature_new(&who, "resque", "resque@localhost", (git_time_t)t, 0) ||
	    git_tree_lookup(&tree, l->repo, &tree_oid) ||
	    (found && git_commit_lookup(&parent, l->repo, &tip))) {
		err = rq_git_error(RQ_EIO, "writing the entry to git");
		goto done;
	}
	const git_commit *parents[1] = { parent };
	if (git_commit_create(&commit_oid, l->repo, NULL, who, who, NULL, msg.ptr, tree, found ? 1 : 0,
			      parents)) {
		err = rq_git_error(RQ_EIO, "writing the entry to git");
		goto done;
	}
	/* The entry becomes visible here, and only if nobody moved the ref. */
	git_reference *ref = NULL;
	int rc = found ? git_reference_create_matching(&ref, l->repo, RQ_LEDGER_REF, &commit_oid, 1, &tip,
							msg.ptr)
		       : git_reference_create(&ref, l->repo, RQ_LEDGER_REF, &commit_oid, 0, msg.ptr);
	git_reference_free(ref);
	if (rc) {
		err = rq_git_error(RQ_ELOCKED, "updating the ledger branch (another writer?)");
		goto done;
	}
	git_oid_tostr(hex, sizeof(hex), &commit_oid);
	memcpy(e->commit, hex, sizeof(hex));
	/* index.db follows; if this fails the index is stale and the next
	 * command rebuilds it, so the append still succeeded. */
	if (rq_index_begin(l) == 0) {
		if (rq_index_insert(l, e, hex) || rq_index_set_tip(l, hex) || rq_index_commit(l))
			rq_index_rollback(l);
	}
	rq_error_clear();
	if (out) {
		*out = e;
		e = NULL;
	}
done:
	if (fd >= 0)
		close(fd); /* releases the lock */
	git_signature_free(who);
	git_tree_free(tree);
	git_commit_free(parent);
	rq_entry_free(prev);
	rq_entry_free(e);
	rq_buf_release(&sig);
	rq_buf_release(&msg);
	rq_buf_release(&summary);
	return err;
}

int rq_ledger_append(rq_entry **out, rq_ledger *l, const char *type, json_t *body,
		     const rq_attachment *att, size_t natt)
{
	if (!rq_entry_type_known(type) || strcmp(type, "init") == 0) {
		json_decref(body);
		return rq_error_set(RQ_EINVALID, "'%s' is not an entry type that can be appended", type);
	}
	return rq_ledger__append(out, l, type, body, att, natt, l->signer, 0);
}

/* ---- reading ---- */

uint64_t rq_ledger_size(rq_ledger *l)
{
	git_oid tip;
	bool found;
	rq_entry *e = NULL;
	uint64_t n = 0;
	if (tip_oid(&tip, &found, l) == 0 && found && entry_at(&e, l, &tip) == 0)
		n = e->seq + 1;
	rq_entry_free(e);
	return n;
}

static int commit_of_seq(git_oid *out, rq_ledger *l, uint64_t seq)
{
	sqlite3_stmt *st = NULL;
	int err = 0, rc;
	if (sqlite3_prepare_v2(l->db, "SELECT commit_oid FROM entries WHERE seq=?1", -1, &st, NULL) != SQLITE_OK)
		return rq_error_set(RQ_EIO, "index.db: %s", sqlite3_errmsg(l->db));
	sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (git_oid_fromstr(out, (const char *)sqlite3_column_text(st, 0)))
			err = rq_error_set(RQ_EIO, "index.db: bad commit id for entry %" PRIu64, seq);
	} else if (rc == SQLITE_DONE) {
		err = rq_error_set(RQ_ENOTFOUND, "no entry %" PRIu64 " in the ledger", seq);
	} else {
		err = rq_error_set(RQ_EIO, "index.db: %s", sqlite3_errmsg(l->db));
	}
	sqlite3_finalize(st);
	return err;
}

int rq_ledger_get(rq_entry **out, rq_ledger *l, uint64_t seq)
{
	git_oid oid;
	int err = commit_of_seq(&oid, l, seq);
	*out = NULL;
	if (err)
		return err;
	return entry_at(out, l, &oid);
}

int rq_ledger_lookup(rq_entry **out, rq_ledger *l, const char *ref, const char *type)
{
	sqlite3_stmt *st = NULL;
	int err = 0, rc;
	int64_t seq = -1;
	size_t len = strlen(ref);

	*out = NULL;
	/* A name first (the newest entry that bears it)... */
	if (sqlite3_prepare_v2(l->db,
			       "SELECT seq FROM entries WHERE name=?1 AND (?2 IS NULL OR type=?2)"
			       " ORDER BY seq DESC LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return rq_error_set(RQ_EIO, "index.db: %s", sqlite3_errmsg(l->db));
	sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
	if (type)
		sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 2);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		seq = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		err = rq_error_set(RQ_EIO, "index.db: %s", sqlite3_errmsg(l->db));
	sqlite3_finalize(st);
	st = NULL;
	if (err)
		return err;
	/* ...then a unique prefix of an entry id. */
	if (seq < 0 && len >= 4 && len <= 64 && rq_is_hex(ref, len)) {
		char low[65];
		for (size_t i = 0; i <= len; i++)
			low[i] = (char)((ref[i] >= 'A' && ref[i] <= 'F') ? ref[i] + 32 : ref[i]);
		/* A range on the unique index of ids (every id that starts with
		 * the prefix lies in [prefix, prefix + "g"): ids are lower-case
		 * hex), not a scan of the table. */
		char high[66];
		memcpy(high, low, len);
		high[len] = 'g';
		high[len + 1] = '\0';
		if (sqlite3_prepare_v2(l->db,
				       "SELECT seq FROM entries WHERE id >= ?1 AND id < ?2"
				       " AND (?3 IS NULL OR type=?3) LIMIT 2",
				       -1, &st, NULL) != SQLITE_OK)
			return rq_error_set(RQ_EIO, "index.db: %s", sqlite3_errmsg(l->db));
		sqlite3_bind_text(st, 1, low, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, high, -1, SQLITE_STATIC);
		if (type)
			sqlite3_bind_text(st, 3, type, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 3);
		int matches = 0;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			seq = sqlite3_column_int64(st, 0);
			matches++;
		}
		if (rc != SQLITE_DONE)
			err = rq_error_set(RQ_EIO, "index.db: %s", sqlite3_errmsg(l->db));
		sqlite3_finalize(st);
		if (err)
			return err;
		if (matches > 1)
			return rq_error_set(RQ_EAMBIGUOUS, "'%s' matches several entries; give more digits", ref);
	}
	if (seq < 0) {
		if (type)
			return rq_error_set(RQ_ENOTFOUND, "no %s entry named or identified by '%s'", type, ref);
		return rq_error_set(RQ_ENOTFOUND, "no entry named or identified by '%s'%s", ref,
				    len < 4 && rq_is_hex(ref, len) ? " (ids need at least 4 hex digits)" : "");
	}
	err = rq_ledger_get(out, l, (uint64_t)seq);
	return err;
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
	if (git_oid_fromstr(&oid, e->commit) || git_commit_lookup(&c, l->repo, &oid) ||
	    git_commit_tree(&t, c)) {
		err = rq_git_error(RQ_EIO, "reading an attachment");
		goto done;
	}
	size_t start = out->len;
	rq_buf_printf(&path, "att/%s", name);
	if ((err = read_blob(out, l->repo, t, path.ptr)))
		goto done;
	char fp[68];
	b2_hex(fp, out->ptr + start, out->len - start);
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

int rq_ledger_foreach(rq_ledger *l, const char *type, int (*fn)(const rq_entry *e, void *ctx), void *ctx)
{
	sqlite3_stmt *st = NULL;
	int err = 0, rc;
	if (sqlite3_prepare_v2(l->db,
			       "SELECT entry, commit_oid FROM entries WHERE (?1 IS NULL OR type=?1) ORDER BY seq",
			       -1, &st, NULL) != SQLITE_OK)
		return rq_error_set(RQ_EIO, "index.db: %s", sqlite3_errmsg(l->db));
	if (type)
		sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rq_entry *e = NULL;
		if ((err = rq_entry_parse(&e, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0)))) {
			rq_error_prefix(err, "index.db: ");
			break;
		}
		snprintf(e->commit, sizeof(e->commit), "%s", (const char *)sqlite3_column_text(st, 1));
		err = fn(e, ctx);
		rq_entry_free(e);
		if (err)
			break;
	}
	if (!err && rc != SQLITE_DONE)
		err = rq_error_set(RQ_EIO, "index.db: %s", sqlite3_errmsg(l->db));
	sqlite3_finalize(st);
	return err;
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
