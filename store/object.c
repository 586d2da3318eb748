/* Guarded reads of git objects: a loose object is inflated and hashed here,
 * with every length bounded, before libgit2 (which can spin forever on a
 * truncated one) reads it; any object that cannot be read is corruption,
 * RQ_EINTEGRITY naming the object. See object_int.h. */
#include "common.h"
#include "object_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define ZLIB_CONST /* next_in is const: the input is never written */
#include <zlib.h>

/* "commit 18446744073709551615\0" is the longest header that can parse. */
#define HEADER_MAX 32

/* The first 12 hex digits of an object id, for messages. */
static void short_id(char out[13], const git_oid *id)
{
	char hex[GIT_OID_HEXSZ + 1];
	if (!id) {
		memcpy(out, "?", 2);
		return;
	}
	git_oid_tostr(hex, sizeof(hex), id);
	memcpy(out, hex, 12);
	out[12] = '\0';
}

static int corrupt(const git_oid *id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int corrupt(const git_oid *id, const char *fmt, ...)
{
	rq_buf m = RQ_BUF_INIT;
	char sid[13];
	va_list ap;
	int err;

	short_id(sid, id);
	va_start(ap, fmt);
	rq_buf_vprintf(&m, fmt, ap);
	va_end(ap);
	err = rq_error_set(RQ_EINTEGRITY, "object %s is corrupt: %s", sid, m.ptr);
	rq_buf_release(&m);
	return err;
}

/* Inflate from *in (*in_left bytes) into out[0..cap), moving *in on, and
 * store the bytes made in *got. Returns Z_STREAM_END at the end of the
 * stream, Z_OK when out is full, Z_BUF_ERROR when the input ran out first,
 * or zlib's error. Every round either returns or consumes input or makes
 * output, so it always ends (libgit2 1.5 loops on a no-progress round). */
static int pump(z_stream *z, const uint8_t **in, size_t *in_left, uint8_t *out, size_t cap, size_t *got)
{
	*got = 0;
	for (;;) {
		uInt ai = *in_left > UINT_MAX ? UINT_MAX : (uInt)*in_left;
		uInt ao = cap - *got > UINT_MAX ? UINT_MAX : (uInt)(cap - *got);
		z->next_in = *in;
		z->avail_in = ai;
		z->next_out = out + *got;
		z->avail_out = ao;
		int rc = inflate(z, Z_NO_FLUSH);
		size_t used = ai - z->avail_in, made = ao - z->avail_out;
		*in += used;
		*in_left -= used;
		*got += made;
		if (rc == Z_STREAM_END)
			return Z_STREAM_END;
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			return rc == Z_NEED_DICT ? Z_DATA_ERROR : rc;
		if (*got == cap)
			return Z_OK;
		if (used == 0 && made == 0)
			return Z_BUF_ERROR;
	}
}

static int zlib_problem(const git_oid *id, int rc, const z_stream *z)
{
	if (rc == Z_MEM_ERROR)
		return rq_error_set(RQ_ENOMEM, "inflating an object: out of memory");
	if (rc == Z_BUF_ERROR)
		return corrupt(id, "truncated (the compressed data ends early)");
	return corrupt(id, "bad compressed data (%s)", z->msg ? z->msg : "zlib error");
}

/* "TYPE SIZE": the type and the size, canonical decimal, no overflow. */
static int parse_header(git_object_t *type, size_t *size, const char *h, size_t hlen, const git_oid *id)
{
	static const struct { const char *name; git_object_t type; } types[] = {
		{ "commit", GIT_OBJECT_COMMIT }, { "tree", GIT_OBJECT_TREE },
		{ "blob", GIT_OBJECT_BLOB },     { "tag", GIT_OBJECT_TAG },
	};
	const char *sp = memchr(h, ' ', hlen);
	size_t n = 0;

	*type = GIT_OBJECT_INVALID;
	for (size_t i = 0; sp && i < RQ_ARRAY_SIZE(types); i++)
		if ((size_t)(sp - h) == strlen(types[i].name) && memcmp(h, types[i].name, (size_t)(sp - h)) == 0)
			*type = types[i].type;
	if (*type == GIT_OBJECT_INVALID)
		return corrupt(id, "its header does not name an object type");
	const char *d = sp + 1, *end = h + hlen;
	if (d == end || (*d == '0' && end - d > 1))
		return corrupt(id, "its header has no valid size");
	for (; d < end; d++) {
		if (*d < '0' || *d > '9' || n > (SIZE_MAX - 9) / 10)
			return corrupt(id, "its header has no valid size");
		n = n * 10 + (size_t)(*d - '0');
	}
	*size = n;
	return 0;
}

/* A loose object being inflated. */
struct inflater {
	z_stream z;
	const uint8_t *in;
	size_t in_left;
	int rc;            /* pump's last result */
	const git_oid *id;
};

/* "TYPE SIZE\0" from the first bytes of the stream; the body bytes that
 * came with it are appended to `out`. */
static int read_header(struct inflater *f, git_object_t *type, size_t *size, rq_buf *out)
{
	uint8_t head[HEADER_MAX];
	size_t got = 0;
	int err;

	f->rc = pump(&f->z, &f->in, &f->in_left, head, sizeof(head), &got);
	if (f->rc != Z_OK && f->rc != Z_STREAM_END && f->rc != Z_BUF_ERROR)
		return zlib_problem(f->id, f->rc, &f->z);
	const uint8_t *nul = memchr(head, '\0', got);
	if (!nul)
		return f->rc == Z_BUF_ERROR ? zlib_problem(f->id, f->rc, &f->z) : corrupt(f->id, "it has no valid header");
	size_t hlen = (size_t)(nul - head), have = got - hlen - 1;
	if ((err = parse_header(type, size, (const char *)head, hlen, f->id)))
		return err;
	if (have > *size)
		return corrupt(f->id, "it is longer than its header says (%zu bytes)", *size);
	rq_buf_put(out, nul + 1, have);
	return 0;
}

/* The rest of the body, to `size` bytes after out[start]: in chunks that
 * grow geometrically up to the header's size and one byte more (to see a
 * stream that is too long), so a header that lies costs no more memory
 * than the data really inflates to. */
static int read_body(struct inflater *f, rq_buf *out, size_t start, size_t size)
{
	size_t have = out->len - start, got;

	while (f->rc != Z_STREAM_END) {
		size_t room = have < 65536 ? 65536 : have;
		if (room > size + 1 - have)
			room = size + 1 - have;
		rq_buf_grow(out, room);
		f->rc = pump(&f->z, &f->in, &f->in_left, (uint8_t *)out->ptr + out->len, room, &got);
		out->len += got;
		out->ptr[out->len] = '\0';
		have += got;
		if (have > size)
			return corrupt(f->id, "it is longer than its header says (%zu bytes)", size);
		if (f->rc != Z_OK && f->rc != Z_STREAM_END)
			return zlib_problem(f->id, f->rc, &f->z);
	}
	if (have < size)
		return corrupt(f->id, "it is shorter than its header says (%zu of %zu bytes)", have, size);
	if (f->in_left)
		return corrupt(f->id, "%zu bytes follow its compressed data", f->in_left);
	return 0;
}

int rq_object_parse_loose(rq_buf *out, git_object_t *type, const void *data, size_t len, const git_oid *id)
{
	struct inflater f;
	size_t size = 0, start = out->len;
	int err = 0;
	bool zinit = false;

	*type = GIT_OBJECT_INVALID;
	memset(&f, 0, sizeof(f));
	f.in = data;
	f.in_left = len;
	f.id = id;
	if (inflateInit(&f.z) != Z_OK) {
		err = rq_error_set(RQ_ENOMEM, "inflating an object: out of memory");
		goto done;
	}
	zinit = true;
	if ((err = read_header(&f, type, &size, out)) || (err = read_body(&f, out, start, size)))
		goto done;
	if (id) {
		git_oid calc;
		if (git_odb_hash(&calc, out->ptr + start, size, *type))
			err = corrupt(id, "it cannot be hashed");
		else if (!git_oid_equal(&calc, id))
			err = corrupt(id, "its content does not hash to its id");
	}
done:
	if (zinit)
		inflateEnd(&f.z);
	if (err) {
		rq_buf_truncate(out, start);
		*type = GIT_OBJECT_INVALID;
	}
	return err;
}

/* Read objects/xx/yyyy into `file`: 0, 1 when the object is not loose, or
 * an error. */
static int read_loose_file(rq_buf *file, git_repository *repo, const git_oid *id)
{
	rq_buf path = RQ_BUF_INIT;
	char hex[GIT_OID_HEXSZ + 1];
	struct stat st;
	int fd = -1, err = 0;

	git_oid_tostr(hex, sizeof(hex), id);
	rq_buf_printf(&path, "%sobjects/%.2s/%s", git_repository_path(repo), hex, hex + 2);
	fd = open(path.ptr, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			err = 1;
		else if (errno == EACCES || errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == EIO)
			err = rq_error_os("%s", path.ptr); /* not ENOENT: RQ_EIO */
		else
			err = corrupt(id, "%s: %s", path.ptr, strerror(errno));
		goto done;
	}
	if (fstat(fd, &st) < 0) {
		err = rq_error_os("%s", path.ptr);
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		err = corrupt(id, "%s is not a regular file", path.ptr);
		goto done;
	}
	rq_buf_grow(file, (size_t)st.st_size);
	for (;;) {
		rq_buf_grow(file, 4096);
		ssize_t r = read(fd, file->ptr + file->len, file->alloc - file->len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = rq_error_os("%s", path.ptr);
			goto done;
		}
		if (r == 0)
			break;
		file->len += (size_t)r;
	}
	file->ptr[file->len] = '\0';
done:
	if (fd >= 0)
		close(fd);
	rq_buf_release(&path);
	return err;
}

static const char *type_name(git_object_t t)
{
	return t == GIT_OBJECT_COMMIT ? "a commit" : t == GIT_OBJECT_TREE ? "a tree"
		: t == GIT_OBJECT_BLOB ? "a blob" : t == GIT_OBJECT_TAG ? "a tag" : "not an object";
}

static int wrong_type(const git_oid *id, git_object_t have, git_object_t want)
{
	char sid[13];
	short_id(sid, id);
	return rq_error_set(RQ_EINTEGRITY, "object %s is %s, not %s", sid, type_name(have), type_name(want));
}

/* libgit2 failed to read object `id`: missing or corrupt. */
static int git_problem(int rc, const git_oid *id)
{
	const git_error *e = git_error_last();
	char sid[13];
	short_id(sid, id);
	if (rc == GIT_ENOTFOUND)
		return rq_error_set(RQ_EINTEGRITY, "object %s is missing", sid);
	return corrupt(id, "%s", e && e->message ? e->message : "libgit2 cannot read it");
}

/* A loose object checked into `out` (0), not loose (1), or an error. */
static int read_loose(rq_buf *out, git_object_t *type, git_repository *repo, const git_oid *id)
{
	rq_buf file = RQ_BUF_INIT;
	int err = read_loose_file(&file, repo, id);
	if (err == 0)
		err = rq_object_parse_loose(out, type, file.ptr, file.len, id);
	rq_buf_release(&file);
	return err;
}

int rq_object_read(rq_buf *out, git_object_t *type, git_repository *repo, const git_oid *id)
{
	git_odb *odb = NULL;
	git_odb_object *o = NULL;
	int err = read_loose(out, type, repo, id), rc;

	if (err != 1)
		return err;
	err = 0;
	if ((rc = git_repository_odb(&odb, repo)) || (rc = git_odb_read(&o, odb, id))) {
		err = git_problem(rc, id);
		goto done;
	}
	*type = git_odb_object_type(o);
	rq_buf_put(out, git_odb_object_data(o), git_odb_object_size(o));
done:
	git_odb_object_free(o);
	git_odb_free(odb);
	return err;
}

int rq_object_check(git_repository *repo, const git_oid *id, git_object_t want)
{
	rq_buf body = RQ_BUF_INIT;
	git_object_t type;
	int err = rq_object_read(&body, &type, repo, id);
	if (!err && want != GIT_OBJECT_ANY && type != want)
		err = wrong_type(id, type, want);
	rq_buf_release(&body);
	return err;
}

int rq_object_blob(rq_buf *out, git_repository *repo, const git_oid *id)
{
	size_t start = out->len;
	git_object_t type;
	int err = rq_object_read(out, &type, repo, id);
	if (!err && type != GIT_OBJECT_BLOB) {
		rq_buf_truncate(out, start);
		err = wrong_type(id, type, GIT_OBJECT_BLOB);
	}
	return err;
}

/* A checked loose object, or a packed one, through libgit2. */
static int lookup(git_object **out, git_repository *repo, const git_oid *id, git_object_t want)
{
	rq_buf body = RQ_BUF_INIT;
	git_object_t type;
	int err = read_loose(&body, &type, repo, id), rc;

	*out = NULL;
	rq_buf_release(&body);
	if (err == 0 && type != want)
		return wrong_type(id, type, want);
	if (err < 0)
		return err;
	err = 0;
	if ((rc = git_object_lookup(out, repo, id, GIT_OBJECT_ANY)))
		return git_problem(rc, id);
	if (git_object_type(*out) != want) {
		err = wrong_type(id, git_object_type(*out), want);
		git_object_free(*out);
		*out = NULL;
	}
	return err;
}

int rq_object_commit(git_commit **out, git_repository *repo, const git_oid *id)
{
	return lookup((git_object **)out, repo, id, GIT_OBJECT_COMMIT);
}

int rq_object_tree(git_tree **out, git_repository *repo, const git_oid *id)
{
	return lookup((git_object **)out, repo, id, GIT_OBJECT_TREE);
}

/* ---- packed objects only, for a reader that reads many ----------------- */

#include <git2/sys/odb_backend.h>

/* One pack mapped for reading whole (not deltified) objects directly: a
 * version-2 index (fan-out, sorted ids, offsets) and its pack. */
struct mapped_pack {
	const unsigned char *idx, *pack;
	size_t idx_len, pack_len, n;
};

struct rq_packs {
	git_odb *odb;          /* owns `be` */
	git_odb_backend *be;   /* libgit2's pack backend alone */
	struct mapped_pack *mp; /* the packs there when opened */
	size_t nmp, mp_alloc;
	z_stream z;             /* reused from object to object (inflateReset) */
	bool z_ok;
};

static void *map_file(size_t *len, const char *path)
{
	struct stat st;
	void *m = MAP_FAILED;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return NULL;
	*len = (size_t)st.st_size;
	return m;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The layout every read relies on: a version-2 index whose tables fit
 * (m->n set) and a pack with its header and trailer. */
static bool layout_ok(struct mapped_pack *m)
{
	if (!m->idx || !m->pack || m->idx_len < 8 + 1024 + 40 || memcmp(m->idx, "\377tOc\0\0\0\2", 8) != 0 ||
	    m->pack_len < 32 || memcmp(m->pack, "PACK", 4) != 0)
		return false;
	m->n = be32(m->idx + 8 + 255 * 4);
	return m->n <= (m->idx_len - 8 - 1024 - 40) / 28;
}

/* Map `dir/NAME.idx` and its pack when both look whole (offsets and
 * lengths are checked again on every read); skipped otherwise: libgit2's
 * backend still reads it. */
static void map_pack(rq_packs *p, const char *dir, const char *idx_name)
{
	rq_buf path = RQ_BUF_INIT;
	struct mapped_pack m = { 0 };
	size_t base = strlen(idx_name) - 4;

	rq_buf_printf(&path, "%s/%s", dir, idx_name);
	m.idx = map_file(&m.idx_len, path.ptr);
	rq_buf_reset(&path);
	rq_buf_printf(&path, "%s/%.*s.pack", dir, (int)base, idx_name);
	m.pack = map_file(&m.pack_len, path.ptr);
	rq_buf_release(&path);
	if (layout_ok(&m)) {
		RQ_ALLOC_GROW(p->mp, p->nmp + 1, p->mp_alloc);
		p->mp[p->nmp++] = m;
		return;
	}
	if (m.idx)
		munmap((void *)(uintptr_t)m.idx, m.idx_len);
	if (m.pack)
		munmap((void *)(uintptr_t)m.pack, m.pack_len);
}

static void map_packs(rq_packs *p, const char *objects)
{
	rq_buf dir = RQ_BUF_INIT;
	DIR *d;
	struct dirent *de;

	rq_buf_printf(&dir, "%s/pack", objects);
	d = opendir(dir.ptr);
	while (d && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n > 4 && strcmp(de->d_name + n - 4, ".idx") == 0 && strncmp(de->d_name, "pack-", 5) == 0)
			map_pack(p, dir.ptr, de->d_name);
	}
	if (d)
		closedir(d);
	rq_buf_release(&dir);
	p->z_ok = inflateInit(&p->z) == Z_OK;
}

/* Where object `id` starts in pack m, or 0 when m does not list it. */
static size_t mapped_find(const struct mapped_pack *m, const git_oid *id)
{
	const unsigned char *fan = m->idx + 8, *ids = fan + 1024;
	size_t lo = id->id[0] ? be32(fan + 4 * (id->id[0] - 1)) : 0, hi = be32(fan + 4 * id->id[0]);

	if (hi > m->n || lo > hi)
		return 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(ids + 20 * mid, id->id, 20);
		if (c == 0) {
			const unsigned char *offs = ids + 24 * m->n;
			uint32_t off = be32(offs + 4 * mid);
			if (!(off & 0x80000000u))
				return off;
			size_t k = off & 0x7fffffffu, at = 8 + 1024 + 28 * m->n + 8 * k;
			if (at > m->idx_len - 40 || m->idx_len - 40 - at < 8)
				return 0;
			uint64_t big = (uint64_t)be32(m->idx + at) << 32 | be32(m->idx + at + 4);
			return big < SIZE_MAX ? (size_t)big : 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Inflate z's input to after out->len (which stays as it is): 0 when it
 * is a whole stream of exactly `size` bytes. The room grows with what
 * comes out, so a header that claims more than its data holds costs no
 * more memory than the data does. */
static int inflate_sized(rq_buf *out, z_stream *z, size_t size)
{
	size_t room = size < 65536 ? size + 1 : 65536;

	for (;;) {
		rq_buf_grow(out, room);
		z->next_out = (unsigned char *)out->ptr + out->len + z->total_out;
		z->avail_out = (uInt)(room - z->total_out);
		int rc = inflate(z, Z_FINISH);
		if (rc == Z_STREAM_END)
			return z->total_out == size ? 0 : 1;
		if ((rc != Z_OK && rc != Z_BUF_ERROR) || z->avail_out != 0 || room > size)
			return 1; /* damaged, cut short, or longer than its header says */
		room = room > size / 2 ? size + 1 : 2 * room;
	}
}

/* Object `id` of type `want` from pack m, whole and hashing to its id,
 * appended to out: 0; -1 when m does not list it; 1 for anything else (a
 * delta, another type, damage): libgit2's backend is asked then. */
static int mapped_read_one(rq_buf *out, z_stream *z, const struct mapped_pack *m, const git_oid *id,
			   git_object_t want)
{
	size_t off = mapped_find(m, id), end = m->pack_len - 20, size, shift = 4, start = out->len;
	const unsigned char *q;
	git_oid calc;

	if (off < 12 || off >= end)
		return -1;
	q = m->pack + off;
	int type = (*q >> 4) & 7;
	size = *q & 15;
	while ((*q & 0x80) && shift < 60) {
		if (++q >= m->pack + end)
			return 1;
		size |= (size_t)(*q & 0x7f) << shift;
		shift += 7;
	}
	q++;
	if (type != (int)want || (*(q - 1) & 0x80) || size > UINT_MAX - 1 || q >= m->pack + end)
		return 1;
	inflateReset(z);
	z->next_in = q;
	z->avail_in = (uInt)((size_t)(m->pack + end - q) > UINT_MAX ? UINT_MAX : (size_t)(m->pack + end - q));
	if (inflate_sized(out, z, size) != 0 || git_odb_hash(&calc, out->ptr + start, size, want) != 0 ||
	    !git_oid_equal(&calc, id)) {
		out->ptr[start] = '\0';
		git_error_clear();
		return 1;
	}
	out->len = start + size;
	out->ptr[out->len] = '\0';
	return 0;
}

static int mapped_read(rq_buf *out, rq_packs *p, const git_oid *id, git_object_t want)
{
	for (size_t i = 0; i < p->nmp && p->z_ok; i++) {
		int r = mapped_read_one(out, &p->z, &p->mp[i], id, want);
		if (r >= 0)
			return r;
	}
	return 1;
}

int rq_packs__read_bytes(rq_buf *out, const void *idx, size_t idx_len, const void *pack, size_t pack_len,
			 const git_oid *id, git_object_t want)
{
	struct mapped_pack m = { idx, pack, idx_len, pack_len, 0 };
	z_stream z;
	int r = 1;

	memset(&z, 0, sizeof(z));
	if (!layout_ok(&m) || inflateInit(&z) != Z_OK)
		return 1;
	r = mapped_read_one(out, &z, &m, id, want) == 0 ? 0 : 1;
	inflateEnd(&z);
	return r;
}

int rq_packs_open(rq_packs **out, git_repository *repo)
{
	rq_buf dir = RQ_BUF_INIT;
	rq_packs *p = rq_xcalloc(1, sizeof(*p));
	git_odb_backend *be = NULL;
	int err = 0;

	*out = NULL;
	rq_buf_printf(&dir, "%sobjects", git_repository_path(repo));
	if (git_odb_new(&p->odb) || git_odb_backend_pack(&be, dir.ptr)) {
		err = rq_error_set(RQ_EIO, "%s: cannot read its packs", dir.ptr);
		goto done;
	}
	if (git_odb_add_backend(p->odb, be, 1)) {
		be->free(be);
		err = rq_error_set(RQ_EIO, "%s: cannot read its packs", dir.ptr);
		goto done;
	}
	p->be = be;
	map_packs(p, dir.ptr);
	*out = p;
	p = NULL;
done:
	rq_packs_free(p);
	rq_buf_release(&dir);
	return err;
}

void rq_packs_free(rq_packs *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nmp; i++) {
		munmap((void *)(uintptr_t)p->mp[i].idx, p->mp[i].idx_len);
		munmap((void *)(uintptr_t)p->mp[i].pack, p->mp[i].pack_len);
	}
	free(p->mp);
	if (p->z_ok)
		inflateEnd(&p->z);
	git_odb_free(p->odb);
	free(p);
}

int rq_packs_read(rq_buf *out, rq_packs *p, const git_oid *id, git_object_t want)
{
	void *data = NULL;
	size_t len = 0;
	git_object_t type = GIT_OBJECT_INVALID;
	git_oid calc;
	int found = 1;

	if (p && mapped_read(out, p, id, want) == 0)
		return 0;
	/* the backend itself: libgit2's odb would re-scan the pack folder
	 * after every miss (every loose object) */
	if (!p || p->be->read(&data, &len, &type, p->be, id) != 0) {
		git_error_clear();
		return 1;
	}
	if (type == want && git_odb_hash(&calc, data, len, type) == 0 && git_oid_equal(&calc, id)) {
		rq_buf_put(out, data, len);
		found = 0;
	}
	git_odb_backend_data_free(p->be, data);
	return found;
}
