/* Packed storage (issue 16, item 2). An append writes its entry's objects
 * loose (a commit, a tree, the entry and sig blobs, any attachments and
 * their tree). Once RQ_PACK_EVERY entries are loose, the writer -- still
 * under the ledger's lock -- packs them into one packfile (libgit2's
 * packbuilder, with deltas), makes the pack and its index durable (fsync of
 * both and of objects/pack) and only then removes the loose copies. Packs
 * are then merged geometrically, as `git repack --geometric=2` does: the
 * smallest packs are merged until each remaining pack holds at least twice
 * the objects of all smaller ones together, so a ledger of n entries keeps
 * O(log n) packs and each object is rewritten O(log n) times.
 *
 * A crash at any point loses nothing: until the new pack is durable the
 * loose objects (or the merged packs) are there; after it, both; then the
 * new pack alone. Packing is an optimisation: when it fails the entry is
 * written all the same, the failure is a warning, and the next append
 * tries again. */
#include "common.h"
#include "ledger_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Entries loose before they are packed (RESQUE_PACK_EVERY overrides it,
 * for tests; 0 turns packing off). */
#define RQ_PACK_EVERY 64
/* Packs of more objects than this (about 16,000 entries) are left alone
 * by appends, so that the merge an append pays for stays bounded (6 s for
 * 99,000 objects here); a ledger of n entries then keeps about n / 16,000
 * large packs beside O(log) small ones. `git repack -a -d` merges them all
 * when wanted: plain git reads and writes this repository. */
#define RQ_PACK_MERGE_MAX 65536

static unsigned pack_every(void)
{
	const char *v = getenv("RESQUE_PACK_EVERY");
	char *end;
	if (!v || !*v)
		return RQ_PACK_EVERY;
	unsigned long n = strtoul(v, &end, 10);
	return *end || n > 1u << 20 ? RQ_PACK_EVERY : (unsigned)n;
}

static void object_path(rq_buf *out, git_repository *repo, const git_oid *oid)
{
	char hex[GIT_OID_HEXSZ + 1];
	git_oid_tostr(hex, sizeof(hex), oid);
	rq_buf_reset(out);
	rq_buf_printf(out, "%sobjects/%.2s/%s", git_repository_path(repo), hex, hex + 2);
}

static bool is_loose(git_repository *repo, const git_oid *oid, rq_buf *scratch)
{
	struct stat st;
	object_path(scratch, repo, oid);
	return stat(scratch->ptr, &st) == 0;
}

/* The commits of the newest entries whose commit is loose, newest first
 * (at most `max`). */
static int loose_tail(git_oid **out, size_t *n, rq_ledger *l, size_t max)
{
	rq_buf path = RQ_BUF_INIT;
	int err = 0;

	*out = rq_xcalloc(max + 1, sizeof(**out));
	*n = 0;
	for (uint64_t seq = l->size; seq-- > 0 && *n < max;) {
		rq_hash leaf;
		uint8_t commit[20];
		if ((err = rq_guard_leaf(leaf, commit, l, seq)))
			break;
		git_oid_fromraw(&(*out)[*n], commit);
		if (!is_loose(l->repo, &(*out)[*n], &path))
			break;
		(*n)++;
	}
	rq_buf_release(&path);
	return err;
}

static int fsync_path(const char *path, bool dir)
{
	int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
	int err = 0;
	if (fd < 0)
		return rq_error_os("%s", path);
	if ((dir ? fsync(fd) : fdatasync(fd)) != 0 && !(dir && errno == EINVAL))
		err = rq_error_os("%s", path);
	close(fd);
	return err;
}

/* Write the packbuilder's objects as a pack in objects/pack, make the
 * pack, its index and the directory durable, and have the repository's
 * object database see it; `name` gets "pack-HEX". */
static int write_durable(rq_buf *name, git_packbuilder *pb, git_repository *repo)
{
	rq_buf dir = RQ_BUF_INIT, file = RQ_BUF_INIT;
	int err = 0;

	rq_buf_printf(&dir, "%sobjects/pack", git_repository_path(repo));
	if (git_packbuilder_write(pb, dir.ptr, 0, NULL, NULL) != 0) {
		err = rq_git_error(RQ_EIO, "writing a packfile");
		goto done;
	}
	rq_buf_reset(name);
	rq_buf_printf(name, "pack-%s", git_packbuilder_name(pb));
	static const char *const ext[] = { ".pack", ".idx" };
	for (size_t i = 0; i < RQ_ARRAY_SIZE(ext) && !err; i++) {
		rq_buf_reset(&file);
		rq_buf_printf(&file, "%s/%s%s", dir.ptr, name->ptr, ext[i]);
		err = fsync_path(file.ptr, false);
	}
	if (!err)
		err = fsync_path(dir.ptr, true);
	git_odb *odb = NULL;
	if (!err && git_repository_odb(&odb, repo) == 0) {
		git_odb_refresh(odb); /* this process reads the new pack too */
		git_odb_free(odb);
	}
done:
	rq_buf_release(&file);
	rq_buf_release(&dir);
	return err;
}

static int new_packbuilder(git_packbuilder **pb, git_repository *repo)
{
	if (git_packbuilder_new(pb, repo) != 0)
		return rq_git_error(RQ_EIO, "packing the ledger");
	git_packbuilder_set_threads(*pb, 0); /* one per core */
	return 0;
}

/* Remove a loose object, and its fan-out directory once empty (as git
 * prune does). */
static void unlink_object(git_repository *repo, const git_oid *id, rq_buf *scratch)
{
	object_path(scratch, repo, id);
	if (unlink(scratch->ptr) != 0)
		return;
	char *slash = strrchr(scratch->ptr, '/');
	if (slash) {
		*slash = '\0';
		rmdir(scratch->ptr);
	}
}

/* Remove the loose copies of a tree's objects (and of its subtrees'). */
static void unlink_tree(git_repository *repo, const git_oid *id, rq_buf *scratch, int depth)
{
	git_tree *t = NULL;
	if (depth > 2 || git_tree_lookup(&t, repo, id) != 0) {
		git_error_clear();
		return;
	}
	for (size_t i = 0; i < git_tree_entrycount(t); i++) {
		const git_tree_entry *te = git_tree_entry_byindex(t, i);
		if (git_tree_entry_type(te) == GIT_OBJECT_TREE)
			unlink_tree(repo, git_tree_entry_id(te), scratch, depth + 1);
		else
			unlink_object(repo, git_tree_entry_id(te), scratch);
	}
	git_tree_free(t);
	unlink_object(repo, id, scratch);
}

static void unlink_commit(git_repository *repo, const git_oid *id, rq_buf *scratch)
{
	git_commit *c = NULL;
	if (git_commit_lookup(&c, repo, id) == 0) {
		unlink_tree(repo, git_commit_tree_id(c), scratch, 0);
		git_commit_free(c);
	}
	git_error_clear();
	unlink_object(repo, id, scratch);
}

/* ---- geometric merging ---- */

struct pack_info {
	char *name; /* "pack-HEX" */
	uint32_t objects;
};

static int by_objects(const void *a, const void *b)
{
	const struct pack_info *x = a, *y = b;
	return x->objects < y->objects ? -1 : x->objects > y->objects;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The object ids of a version-2 pack index, or its count alone (ids NULL). */
static int read_idx(uint32_t *count, git_oid **ids, const char *path)
{
	unsigned char head[8 + 256 * 4];
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;
	if (fd < 0)
		return rq_error_os("%s", path);
	if (pread(fd, head, sizeof(head), 0) != (ssize_t)sizeof(head) || memcmp(head, "\377tOc\0\0\0\2", 8) != 0) {
		err = rq_error_set(RQ_EINVALID, "%s: not a version-2 pack index", path);
		goto done;
	}
	*count = be32(head + 8 + 255 * 4);
	if (ids) {
		*ids = rq_xmallocarray((size_t)*count + 1, sizeof(**ids));
		size_t len = (size_t)*count * GIT_OID_RAWSZ;
		unsigned char *raw = rq_xmalloc(len + 1);
		if (pread(fd, raw, len, (off_t)sizeof(head)) != (ssize_t)len) {
			err = rq_error_set(RQ_EINVALID, "%s: shorter than its %u objects", path, *count);
		} else {
			for (uint32_t i = 0; i < *count; i++)
				git_oid_fromraw(&(*ids)[i], raw + (size_t)i * GIT_OID_RAWSZ);
		}
		free(raw);
		if (err) {
			free(*ids);
			*ids = NULL;
		}
	}
done:
	close(fd);
	return err;
}

/* The packs of objects/pack that may be merged: not kept by a .keep, with
 * their .pack, of at most RQ_PACK_MERGE_MAX objects. */
static int list_packs(struct pack_info **out, size_t *n, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t alloc = 0;
	rq_buf p = RQ_BUF_INIT;

	*out = NULL;
	*n = 0;
	if (!d)
		return rq_error_os("%s", dir);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		uint32_t count;
		struct stat st;
		if (len < 9 || strncmp(de->d_name, "pack-", 5) != 0 || strcmp(de->d_name + len - 4, ".idx") != 0)
			continue;
		rq_buf_reset(&p);
		rq_buf_printf(&p, "%s/%.*s.keep", dir, (int)(len - 4), de->d_name);
		if (stat(p.ptr, &st) == 0)
			continue;
		rq_buf_reset(&p);
		rq_buf_printf(&p, "%s/%s", dir, de->d_name);
		if (read_idx(&count, NULL, p.ptr) != 0 || count > RQ_PACK_MERGE_MAX) {
			rq_error_clear();
			continue;
		}
		/* an index without its pack (a fetch publishes the index first;
		 * a leftover) is not a pack to merge */
		rq_buf_reset(&p);
		rq_buf_printf(&p, "%s/%.*s.pack", dir, (int)(len - 4), de->d_name);
		if (stat(p.ptr, &st) != 0)
			continue;
		RQ_ALLOC_GROW(*out, *n + 1, alloc);
		(*out)[*n].name = rq_xstrndup(de->d_name, len - 4);
		(*out)[(*n)++].objects = count;
	}
	closedir(d);
	rq_buf_release(&p);
	return 0;
}

/* How many of the smallest packs (sorted ascending) to merge: up to the
 * last pack holding fewer than twice the objects of all before it. */
static size_t geometric_split(const struct pack_info *v, size_t n)
{
	uint64_t sum = 0;
	size_t split = 0;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && v[i].objects < 2 * sum)
			split = i + 1;
		sum += v[i].objects;
	}
	return split >= 2 ? split : 0;
}

static int merge_packs(git_repository *repo, const char *dir, const struct pack_info *v, size_t k)
{
	git_packbuilder *pb = NULL;
	rq_buf p = RQ_BUF_INIT, name = RQ_BUF_INIT;
	int err = 0;

	if ((err = new_packbuilder(&pb, repo)))
		return err;
	for (size_t i = 0; i < k && !err; i++) {
		git_oid *ids = NULL;
		uint32_t count = 0;
		rq_buf_reset(&p);
		rq_buf_printf(&p, "%s/%s.idx", dir, v[i].name);
		if ((err = read_idx(&count, &ids, p.ptr)))
			break;
		for (uint32_t j = 0; j < count && !err; j++)
			if (git_packbuilder_insert(pb, &ids[j], NULL) != 0)
				err = rq_git_error(RQ_EIO, "packing the ledger");
		free(ids);
	}
	if (!err && (err = write_durable(&name, pb, repo)) == 0) {
		/* the index first: a reader listing packs no longer sees it */
		static const char *const ext[] = { ".idx", ".pack", ".rev", ".bitmap" };
		for (size_t i = 0; i < k; i++) {
			if (strcmp(v[i].name, name.ptr) == 0)
				continue; /* the same objects: the same pack */
			for (size_t e = 0; e < RQ_ARRAY_SIZE(ext); e++) {
				rq_buf_reset(&p);
				rq_buf_printf(&p, "%s/%s%s", dir, v[i].name, ext[e]);
				unlink(p.ptr);
			}
		}
	}
	git_packbuilder_free(pb);
	rq_buf_release(&name);
	rq_buf_release(&p);
	return err;
}

static int consolidate(git_repository *repo)
{
	rq_buf dir = RQ_BUF_INIT;
	struct pack_info *v = NULL;
	size_t n = 0;
	int err;

	rq_buf_printf(&dir, "%sobjects/pack", git_repository_path(repo));
	if ((err = list_packs(&v, &n, dir.ptr)) == 0) {
		qsort(v, n, sizeof(*v), by_objects);
		size_t k = geometric_split(v, n);
		if (k)
			err = merge_packs(repo, dir.ptr, v, k);
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	rq_buf_release(&dir);
	return err;
}

/* Pack the loose entries `commits` (their commits, trees and blobs). */
static int pack_loose(git_repository *repo, const git_oid *commits, size_t n)
{
	git_packbuilder *pb = NULL;
	rq_buf name = RQ_BUF_INIT, scratch = RQ_BUF_INIT;
	int err = 0;

	if ((err = new_packbuilder(&pb, repo)))
		return err;
	for (size_t i = 0; i < n && !err; i++)
		if (git_packbuilder_insert_commit(pb, &commits[i]) != 0)
			err = rq_git_error(RQ_EIO, "packing the ledger");
	if (!err && (err = write_durable(&name, pb, repo)) == 0) {
		for (size_t i = 0; i < n; i++)
			unlink_commit(repo, &commits[i], &scratch);
	}
	git_packbuilder_free(pb);
	rq_buf_release(&scratch);
	rq_buf_release(&name);
	return err;
}

/* Temporary files of a packbuilder or indexer that died (a crash while
 * packing): "pack_git2_*" in objects/pack, left alone for an hour since a
 * fetch (which does not take the writer's lock) may be writing one. */
static void clean_pack_temps(git_repository *repo)
{
	rq_buf dir = RQ_BUF_INIT, p = RQ_BUF_INIT;
	DIR *d;
	struct dirent *de;
	time_t now = time(NULL);

	rq_buf_printf(&dir, "%sobjects/pack", git_repository_path(repo));
	if ((d = opendir(dir.ptr))) {
		while ((de = readdir(d))) {
			struct stat st;
			if (strncmp(de->d_name, "pack_git2_", 10) != 0)
				continue;
			rq_buf_reset(&p);
			rq_buf_printf(&p, "%s/%s", dir.ptr, de->d_name);
			if (lstat(p.ptr, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime > 3600)
				unlink(p.ptr);
		}
		closedir(d);
	}
	rq_buf_release(&p);
	rq_buf_release(&dir);
}

/* Every loose object of the repository into one pack, then their loose
 * copies removed: for a backlog (a ledger written before packing, or with
 * RESQUE_PACK_EVERY=0), which loose_tail would never reach past its newest
 * packed entries. Runs once: afterwards nothing old is loose. */
static int sweep_loose(git_repository *repo)
{
	git_packbuilder *pb = NULL;
	rq_buf p = RQ_BUF_INIT, name = RQ_BUF_INIT;
	git_oid *ids = NULL;
	size_t n = 0, alloc = 0;
	int err = 0;

	if ((err = new_packbuilder(&pb, repo)))
		return err;
	for (unsigned fan = 0; fan < 256 && !err; fan++) {
		DIR *d;
		struct dirent *de;
		rq_buf_reset(&p);
		rq_buf_printf(&p, "%sobjects/%02x", git_repository_path(repo), fan);
		if (!(d = opendir(p.ptr)))
			continue;
		while (!err && (de = readdir(d))) {
			char hex[GIT_OID_HEXSZ + 1];
			if (strlen(de->d_name) != GIT_OID_HEXSZ - 2 || !rq_is_hex(de->d_name, GIT_OID_HEXSZ - 2))
				continue;
			snprintf(hex, 3, "%02x", fan);
			memcpy(hex + 2, de->d_name, GIT_OID_HEXSZ - 2);
			hex[GIT_OID_HEXSZ] = '\0';
			RQ_ALLOC_GROW(ids, n + 1, alloc);
			if (git_oid_fromstr(&ids[n], hex) == 0 && git_packbuilder_insert(pb, &ids[n], NULL) == 0)
				n++;
			else
				err = rq_git_error(RQ_EIO, "packing the ledger");
		}
		closedir(d);
	}
	if (!err && n && (err = write_durable(&name, pb, repo)) == 0) {
		for (size_t i = 0; i < n; i++)
			unlink_object(repo, &ids[i], &p);
	}
	free(ids);
	git_packbuilder_free(pb);
	rq_buf_release(&name);
	rq_buf_release(&p);
	return err;
}

int rq_ledger__pack(rq_ledger *l, bool force)
{
	unsigned every = pack_every();
	git_oid *commits = NULL;
	size_t n = 0;
	int err;

	if (!every && !force)
		return 0;
	if (!every)
		every = RQ_PACK_EVERY;
	/* the newest loose entries, up to four batches (more: a backlog,
	 * swept in one go) */
	if ((err = loose_tail(&commits, &n, l, (size_t)every * 4)) == 0 && (force || n >= every)) {
		clean_pack_temps(l->repo);
		/* as many loose as looked for: perhaps a backlog behind them */
		if (n == (size_t)every * 4)
			err = sweep_loose(l->repo);
		else if (n)
			err = pack_loose(l->repo, commits, n);
		if (!err)
			err = consolidate(l->repo);
	}
	free(commits);
	return err;
}
