/* Fingerprints (docs/FORMATS.md): BLAKE2b-256 of files, canonical manifests of
 * directory trees, a pthread pool hashing one file per worker at a time, and
 * the racily-clean rule of the stat cache. */
#include "common.h"
#include "fingerprint_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define READ_BUF (1u << 20)
/* The read buffer starts on a page boundary: on the AMD EPYC of
 * docs/PERFORMANCE.md ("Fingerprints") the kernel's copy into a buffer
 * malloc() placed 16 bytes past one took three times the system time
 * (0.45 s against 0.15 s per GiB): hashing a large file cost up to 1.15x
 * b2sum's CPU, 0.84-0.90x with the aligned buffer. */
#define READ_ALIGN 4096u

/* ---- Small helpers ------------------------------------------------------ */

/* Canonical text spells hex in lower case: an upper-case digit is refused. */
static int lower_hex_digit(char c)
{
	return c >= 'A' && c <= 'F' ? -1 : rq_hex_digit(c);
}

void rq_fingerprint_format(char out[RQ_FINGERPRINT_SIZE], const uint8_t hash[RQ_HASH_LEN])
{
	memcpy(out, "b2:", 3);
	rq_hex_encode(out + 3, hash, RQ_HASH_LEN);
}

void rq_fingerprint_bytes(char out[RQ_FINGERPRINT_SIZE], const void *data, size_t len)
{
	uint8_t h[RQ_HASH_LEN];
	crypto_generichash(h, sizeof(h), data, len, NULL, 0);
	rq_fingerprint_format(out, h);
}

int rq_fingerprint_parse(uint8_t out[RQ_HASH_LEN], const char *s)
{
	if (strncmp(s, "b2:", 3) != 0 || strlen(s) != 3 + 2 * RQ_HASH_LEN)
		return rq_error_set(RQ_EINVALID, "%s: not a fingerprint (b2:<64 hex digits>)", s);
	for (const char *p = s + 3; *p; p++)
		if (lower_hex_digit(*p) < 0)
			return rq_error_set(RQ_EINVALID, "%s: not a fingerprint (b2:<64 hex digits>)", s);
	return rq_hex_decode(out, RQ_HASH_LEN, s + 3);
}

/* strerror with a lower-case first letter, as our messages are. */
static int sys_error(int code, const char *path, int errnum)
{
	char msg[128];
	snprintf(msg, sizeof(msg), "%s", strerror(errnum));
	if (msg[0] >= 'A' && msg[0] <= 'Z' && !(msg[1] >= 'A' && msg[1] <= 'Z'))
		msg[0] = (char)(msg[0] - 'A' + 'a');
	return rq_error_set(code, "%s: %s", path, msg);
}

static int errno_code(int e)
{
	return e == ENOENT || e == ENOTDIR ? RQ_ENOTFOUND : RQ_EIO;
}

static void stat_of(rq_file_stat *out, const struct stat *st)
{
	out->dev = (uint64_t)st->st_dev;
	out->ino = (uint64_t)st->st_ino;
	out->size = (uint64_t)st->st_size;
	out->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	out->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

static bool stat_equal(const rq_file_stat *a, const rq_file_stat *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

static int64_t floor_sec(int64_t ns)
{
	int64_t s = ns / 1000000000;
	return (ns % 1000000000 < 0) ? s - 1 : s;
}

bool rq_fp_cache_usable(const rq_fp_cache_entry *e, const rq_file_stat *st)
{
	return stat_equal(&e->st, st) && floor_sec(st->mtime_ns) < floor_sec(e->written_ns);
}

static const char *file_kind(mode_t m)
{
	if (S_ISFIFO(m))
		return "a fifo";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	return "a special file";
}

static int refuse_special(const char *path, mode_t m)
{
	return rq_error_set(RQ_EINVALID,
			    "%s: is %s; only regular files, directories and symbolic links can be fingerprinted",
			    path, file_kind(m));
}

/* ---- Hashing one file --------------------------------------------------- */

static int hash_fd(uint8_t out[RQ_HASH_LEN], uint64_t *len, int fd, const char *name,
		   uint8_t *buf, size_t bufsize, _Atomic uint64_t *progress)
{
	crypto_generichash_state st;
	uint64_t total = 0;

	crypto_generichash_init(&st, NULL, 0, RQ_HASH_LEN);
	for (;;) {
		ssize_t n = read(fd, buf, bufsize);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return sys_error(RQ_EIO, name, errno);
		}
		if (n == 0)
			break;
		crypto_generichash_update(&st, buf, (unsigned long long)n);
		total += (uint64_t)n;
		if (progress)
			atomic_fetch_add_explicit(progress, (uint64_t)n, memory_order_relaxed);
	}
	crypto_generichash_final(&st, out, RQ_HASH_LEN);
	*len = total;
	return 0;
}

/* ---- The items of a walk ------------------------------------------------ */

struct item {
	char *path;      /* the path to open, as the user spelled it (messages) */
	char *rel;       /* manifest path (directories only) */
	char *key;       /* cache key: absolute path; NULL without a cache */
	rq_file_stat st; /* lstat (stat for a single file) before hashing */
	uint64_t size;   /* bytes hashed */
	bool link;
	bool follow;     /* a single file given by the user: links are followed */
	bool need_hash;
	uint8_t hash[RQ_HASH_LEN];
	int code;        /* error of the worker */
	char *error;
};

struct items {
	struct item *v;
	size_t n, alloc;
};

static struct item *items_add(struct items *it)
{
	RQ_ALLOC_GROW(it->v, it->n + 1, it->alloc);
	struct item *x = &it->v[it->n++];
	memset(x, 0, sizeof(*x));
	return x;
}

static void items_release(struct items *it)
{
	for (size_t i = 0; i < it->n; i++) {
		free(it->v[i].path);
		free(it->v[i].rel);
		free(it->v[i].key);
		free(it->v[i].error);
	}
	free(it->v);
	it->v = NULL;
	it->n = it->alloc = 0;
}

static int read_link(struct item *x)
{
	rq_buf target = RQ_BUF_INIT;
	size_t cap = x->st.size ? (size_t)x->st.size + 1 : 256;
	int err = 0;

	for (;;) {
		rq_buf_grow(&target, cap);
		ssize_t n = readlink(x->path, target.ptr, cap);
		if (n < 0) {
			err = sys_error(errno_code(errno), x->path, errno);
			goto done;
		}
		if ((size_t)n < cap) {
			target.len = (size_t)n;
			target.ptr[n] = '\0';
			break;
		}
		if (!rq_mul_size(&cap, cap, 2)) {
			err = rq_error_set(RQ_EINVALID, "%s: link target too long", x->path);
			goto done;
		}
	}
	crypto_generichash(x->hash, RQ_HASH_LEN, (const unsigned char *)target.ptr, target.len, NULL, 0);
	x->size = target.len;
done:
	rq_buf_release(&target);
	return err;
}

/* Recursively collect the entries under `p` (a directory path); `root_len`
 * is the length of the root's path, so rel = p + root_len + 1. */
static int walk_dir(struct items *it, rq_buf *p, size_t root_len, int depth)
{
	DIR *d = NULL;
	struct dirent *de;
	size_t base = p->len;
	int err = 0;

	if (depth > 256) {
		err = rq_error_set(RQ_EINVALID, "%s: directories nested too deeply", p->ptr);
		goto done;
	}
	if (!(d = opendir(p->len ? p->ptr : "/"))) {
		err = sys_error(errno_code(errno), p->ptr, errno);
		goto done;
	}
	for (;;) {
		errno = 0;
		if (!(de = readdir(d))) {
			if (errno)
				err = sys_error(RQ_EIO, p->ptr, errno);
			break;
		}
		const char *name = de->d_name;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		rq_buf_truncate(p, base);
		rq_buf_putc(p, '/');
		rq_buf_puts(p, name);
		struct stat st;
		if (lstat(p->ptr, &st) != 0) {
			err = sys_error(errno_code(errno), p->ptr, errno);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			if (strcmp(name, ".resque") == 0)
				continue; /* the repository itself changes as we scan */
			if ((err = walk_dir(it, p, root_len, depth + 1)))
				break;
		} else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
			struct item *x = items_add(it);
			x->path = rq_xstrdup(p->ptr);
			x->rel = rq_xstrdup(p->ptr + root_len + 1);
			x->link = S_ISLNK(st.st_mode);
			stat_of(&x->st, &st);
			if (x->link && (err = read_link(x)))
				break;
		} else {
			err = refuse_special(p->ptr, st.st_mode);
			break;
		}
	}
done:
	if (d)
		closedir(d);
	rq_buf_truncate(p, base);
	return err;
}

static int cmp_item(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->rel, ((const struct item *)b)->rel);
}

/* ---- The worker pool ---------------------------------------------------- */

struct pool {
	struct item **jobs;
	size_t njobs;
	_Atomic size_t next;
	_Atomic uint64_t bytes_done;
	_Atomic uint64_t files_done;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t running;
};

static int hash_item(struct item *x, uint8_t *buf, _Atomic uint64_t *progress)
{
	int fd = -1, err = 0;
	struct stat s1, s2;
	rq_file_stat st1, st2;
	uint64_t len = 0;

	/* O_NONBLOCK: should the file have become a fifo, do not wait on it. */
	fd = open(x->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (x->follow ? 0 : O_NOFOLLOW));
	if (fd < 0) {
		err = sys_error(errno_code(errno), x->path, errno);
		goto done;
	}
	if (fstat(fd, &s1) != 0) {
		err = sys_error(RQ_EIO, x->path, errno);
		goto done;
	}
	if (!S_ISREG(s1.st_mode)) {
		err = refuse_special(x->path, s1.st_mode);
		goto done;
	}
	stat_of(&st1, &s1);
	if (st1.dev != x->st.dev || st1.ino != x->st.ino) {
		err = rq_error_set(RQ_EIO, "%s: changed while being read", x->path);
		goto done;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if ((err = hash_fd(x->hash, &len, fd, x->path, buf, READ_BUF, progress)))
		goto done;
	if (fstat(fd, &s2) != 0) {
		err = sys_error(RQ_EIO, x->path, errno);
		goto done;
	}
	stat_of(&st2, &s2);
	if (!stat_equal(&st1, &st2) || len != st1.size) {
		err = rq_error_set(RQ_EIO, "%s: changed while being read", x->path);
		goto done;
	}
	x->st = st1; /* the stat the cache records */
	x->size = len;
done:
	if (fd >= 0)
		close(fd);
	return err;
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	uint8_t *mem = rq_xmalloc(READ_BUF + READ_ALIGN);
	uint8_t *buf = mem + (READ_ALIGN - (uintptr_t)mem % READ_ALIGN) % READ_ALIGN;

	for (;;) {
		size_t i = atomic_fetch_add(&p->next, 1);
		if (i >= p->njobs)
			break;
		struct item *x = p->jobs[i];
		int err = hash_item(x, buf, &p->bytes_done);
		if (err) {
			x->code = err;
			x->error = rq_xstrdup(rq_error_last());
		}
		atomic_fetch_add(&p->files_done, 1);
	}
	free(mem);
	pthread_mutex_lock(&p->mu);
	p->running--;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void report(struct pool *p, const rq_fp_options *o, uint64_t bytes_total)
{
	rq_fp_progress pr = {
		atomic_load(&p->files_done), p->njobs,
		atomic_load(&p->bytes_done), bytes_total,
	};
	o->progress(o->progress_ctx, &pr);
}

static int run_pool(struct item **jobs, size_t njobs, const rq_fp_options *o)
{
	struct pool p;
	pthread_t *tids = NULL;
	size_t nthreads = o->threads, started = 0;
	uint64_t bytes_total = 0;
	int err = 0;

	if (njobs == 0)
		return 0;
	if (nthreads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		nthreads = n > 0 ? (size_t)n : 1;
	}
	if (nthreads > njobs)
		nthreads = njobs;
	for (size_t i = 0; i < njobs; i++)
		bytes_total += jobs[i]->st.size;

	memset(&p, 0, sizeof(p));
	p.jobs = jobs;
	p.njobs = njobs;
	atomic_init(&p.next, 0);
	atomic_init(&p.bytes_done, 0);
	atomic_init(&p.files_done, 0);
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	tids = rq_xcalloc(nthreads, sizeof(*tids));

	pthread_mutex_lock(&p.mu);
	for (; started < nthreads; started++) {
		if (pthread_create(&tids[started], NULL, worker, &p) != 0)
			break;
		p.running++;
	}
	if (started == 0) {
		pthread_mutex_unlock(&p.mu);
		err = rq_error_set(RQ_ERROR, "cannot start a hashing thread");
		goto done;
	}
	while (p.running > 0) {
		if (o->progress) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 100000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&p.cv, &p.mu, &ts);
			if (p.running > 0) {
				pthread_mutex_unlock(&p.mu);
				report(&p, o, bytes_total);
				pthread_mutex_lock(&p.mu);
			}
		} else {
			pthread_cond_wait(&p.cv, &p.mu);
		}
	}
	pthread_mutex_unlock(&p.mu);
	for (size_t i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	if (o->progress)
		report(&p, o, bytes_total);
done:
	free(tids);
	pthread_cond_destroy(&p.cv);
	pthread_mutex_destroy(&p.mu);
	return err;
}

/* ---- Fingerprinting a path ---------------------------------------------- */

void rq_fp_result_init(rq_fp_result *r)
{
	memset(r, 0, sizeof(*r));
	rq_manifest_init(&r->manifest);
}

void rq_fp_result_release(rq_fp_result *r)
{
	rq_manifest_release(&r->manifest);
	rq_fp_result_init(r);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Look every regular file up in the cache; mark the others to be hashed. */
static void consult_cache(struct items *it, const rq_fp_cache *c, const char *abs_root, bool single,
			  bool rehash)
{
	for (size_t i = 0; i < it->n; i++) {
		struct item *x = &it->v[i];
		if (x->link)
			continue;
		x->need_hash = true;
		if (!c)
			continue;
		if (single) {
			x->key = rq_xstrdup(abs_root);
		} else {
			rq_buf k = RQ_BUF_INIT;
			rq_buf_printf(&k, "%s%s%s", abs_root,
				      abs_root[strlen(abs_root) - 1] == '/' ? "" : "/", x->rel);
			x->key = rq_buf_detach(&k, NULL);
		}
		rq_fp_cache_entry e;
		memset(&e, 0, sizeof(e));
		if (!rehash && c->lookup(c->ctx, x->key, &e) == 1 && rq_fp_cache_usable(&e, &x->st)) {
			memcpy(x->hash, e.hash, RQ_HASH_LEN);
			x->size = x->st.size;
			x->need_hash = false;
		}
	}
	rq_error_clear();
}

static void cache_store(const struct items *it, const rq_fp_cache *c, int64_t written)
{
	rq_fp_cache_entry *v = NULL;
	size_t n = 0;

	for (size_t i = 0; i < it->n; i++)
		if (it->v[i].need_hash && it->v[i].key)
			n++;
	if (n == 0)
		return;
	v = rq_xcalloc(n, sizeof(*v));
	n = 0;
	for (size_t i = 0; i < it->n; i++) {
		const struct item *x = &it->v[i];
		if (!x->need_hash || !x->key)
			continue;
		v[n].path = x->key;
		v[n].st = x->st;
		v[n].written_ns = written;
		memcpy(v[n].hash, x->hash, RQ_HASH_LEN);
		n++;
	}
	c->store(c->ctx, v, n);
	rq_error_clear(); /* an optimisation: a failing cache is no failure */
	free(v);
}

/* The items of `path`: the file itself, or the walk of the directory
 * (sorted; r->is_dir set). Anything else is refused. */
static int gather_items(struct items *it, rq_fp_result *r, const char *path, const struct stat *st)
{
	rq_buf p = RQ_BUF_INIT;
	int err = 0;

	if (S_ISREG(st->st_mode)) {
		struct item *x = items_add(it);
		x->path = rq_xstrdup(path);
		x->follow = true;
		stat_of(&x->st, st);
	} else if (S_ISDIR(st->st_mode)) {
		r->is_dir = true;
		rq_buf_puts(&p, path);
		while (p.len > 1 && p.ptr[p.len - 1] == '/')
			rq_buf_truncate(&p, p.len - 1);
		if (p.len == 1 && p.ptr[0] == '/')
			rq_buf_truncate(&p, 0); /* entries are "/NAME": rel = p + 1 */
		size_t root_len = p.len;
		if ((err = walk_dir(it, &p, root_len, 0)))
			goto done;
		if (it->n > 1)
			qsort(it->v, it->n, sizeof(*it->v), cmp_item);
	} else {
		err = refuse_special(path, st->st_mode);
	}
done:
	rq_buf_release(&p);
	return err;
}

/* Hash the items the cache did not answer, in the pool; *hashed counts
 * them. The first worker's error is the result. */
static int hash_items(uint64_t *hashed, struct items *it, const rq_fp_options *o)
{
	struct item **jobs = rq_xcalloc(it->n ? it->n : 1, sizeof(*jobs));
	size_t njobs = 0;
	int err;

	for (size_t i = 0; i < it->n; i++)
		if (it->v[i].need_hash)
			jobs[njobs++] = &it->v[i];
	if ((err = run_pool(jobs, njobs, o)))
		goto done;
	for (size_t i = 0; i < it->n; i++) {
		if (it->v[i].error) {
			err = rq_error_set(it->v[i].code, "%s", it->v[i].error);
			goto done;
		}
	}
	*hashed = njobs;
done:
	free(jobs);
	return err;
}

/* The fingerprint, counts and (for a directory) manifest of the hashed
 * items; the manifest takes their relative paths. */
static void fill_result(rq_fp_result *r, struct items *it)
{
	for (size_t i = 0; i < it->n; i++)
		if (!it->v[i].link && !it->v[i].need_hash)
			r->cached++;
	if (!r->is_dir) {
		rq_fingerprint_format(r->fingerprint, it->v[0].hash);
		r->files = 1;
		r->bytes = it->v[0].size;
		return;
	}
	rq_manifest *m = &r->manifest;
	m->v = rq_xcalloc(it->n ? it->n : 1, sizeof(*m->v));
	m->alloc = it->n ? it->n : 1;
	for (size_t i = 0; i < it->n; i++) {
		rq_manifest_entry *e = &m->v[m->n++];
		e->path = it->v[i].rel;
		it->v[i].rel = NULL;
		e->size = it->v[i].size;
		e->link = it->v[i].link;
		memcpy(e->hash, it->v[i].hash, RQ_HASH_LEN);
		m->bytes += e->size;
	}
	rq_manifest_fingerprint(r->fingerprint, m);
	r->files = m->n;
	r->bytes = m->bytes;
}

int rq_fingerprint_path(rq_fp_result *out, const char *path, const rq_fp_options *opts)
{
	static const rq_fp_options defaults;
	const rq_fp_options *o = opts ? opts : &defaults;
	struct items it = { NULL, 0, 0 };
	char *abs_root = NULL;
	rq_fp_result r;
	struct stat st;
	int64_t written = now_ns(); /* before any stat: see rq_fp_cache_usable */
	int err = 0;

	rq_fp_result_init(&r);
	if (stat(path, &st) != 0) {
		err = sys_error(errno_code(errno), path, errno);
		goto done;
	}
	if (o->cache && !(abs_root = realpath(path, NULL))) {
		err = sys_error(errno_code(errno), path, errno);
		goto done;
	}
	if ((err = gather_items(&it, &r, path, &st)))
		goto done;
	consult_cache(&it, o->cache, abs_root, !r.is_dir, o->rehash);
	if ((err = hash_items(&r.hashed, &it, o)))
		goto done;
	if (o->cache)
		cache_store(&it, o->cache, written);
	fill_result(&r, &it);
	rq_fp_result_release(out);
	*out = r;
	rq_fp_result_init(&r);
done:
	rq_fp_result_release(&r);
	items_release(&it);
	free(abs_root);
	return err;
}

/* ---- Manifests ---------------------------------------------------------- */

void rq_manifest_init(rq_manifest *m)
{
	m->v = NULL;
	m->n = m->alloc = 0;
	m->bytes = 0;
}

void rq_manifest_release(rq_manifest *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].path);
	free(m->v);
	rq_manifest_init(m);
}

static void put_path(rq_buf *out, const char *s)
{
	static const char digits[] = "0123456789abcdef";
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '\\') {
			rq_buf_put(out, "\\\\", 2);
		} else if (*c == '\n') {
			rq_buf_put(out, "\\n", 2);
		} else if (*c < 0x20 || *c == 0x7f) {
			char esc[4] = { '\\', 'x', digits[*c >> 4], digits[*c & 15] };
			rq_buf_put(out, esc, 4);
		} else {
			rq_buf_putc(out, (char)*c);
		}
	}
}

void rq_manifest_encode(rq_buf *out, const rq_manifest *m)
{
	char hex[2 * RQ_HASH_LEN + 1];
	rq_buf_puts(out, RQ_MANIFEST_HEADER);
	for (size_t i = 0; i < m->n; i++) {
		const rq_manifest_entry *e = &m->v[i];
		rq_hex_encode(hex, e->hash, RQ_HASH_LEN);
		rq_buf_printf(out, "%c %" PRIu64 " %s ", e->link ? 'l' : 'f', e->size, hex);
		put_path(out, e->path);
		rq_buf_putc(out, '\n');
	}
}

void rq_manifest_fingerprint(char out[RQ_FINGERPRINT_SIZE], const rq_manifest *m)
{
	rq_buf b = RQ_BUF_INIT;
	rq_manifest_encode(&b, m);
	rq_fingerprint_bytes(out, b.ptr, b.len);
	rq_buf_release(&b);
}

/* Unescape [s, end) into `out`, accepting only the canonical spelling. */
static bool parse_path(rq_buf *out, const char *s, const char *end)
{
	rq_buf_reset(out);
	while (s < end) {
		unsigned char c = (unsigned char)*s++;
		if (c < 0x20 || c == 0x7f)
			return false;
		if (c != '\\') {
			rq_buf_putc(out, (char)c);
			continue;
		}
		if (s >= end)
			return false;
		char e = *s++;
		if (e == '\\') {
			rq_buf_putc(out, '\\');
		} else if (e == 'n') {
			rq_buf_putc(out, '\n');
		} else if (e == 'x') {
			if (end - s < 2)
				return false;
			int hi = lower_hex_digit(s[0]), lo = lower_hex_digit(s[1]);
			if (hi < 0 || lo < 0)
				return false;
			unsigned v = (unsigned)(hi << 4 | lo);
			s += 2;
			/* Only control bytes other than \n are written this way. */
			if (v == 0 || v == '\n' || (v >= 0x20 && v != 0x7f))
				return false;
			rq_buf_putc(out, (char)v);
		} else {
			return false;
		}
	}
	return true;
}

/* A relative path without empty, "." or ".." components. */
static bool path_ok(const char *p, size_t len)
{
	if (len == 0 || p[0] == '/' || p[len - 1] == '/')
		return false;
	const char *c = p, *end = p + len;
	while (c < end) {
		const char *slash = memchr(c, '/', (size_t)(end - c));
		size_t n = slash ? (size_t)(slash - c) : (size_t)(end - c);
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += n + 1;
	}
	return true;
}

/* One line "KIND SIZE HASH PATH" between c and its end nl into *e (the
 * path in `path`); false when malformed. */
static bool parse_manifest_line(rq_manifest_entry *e, rq_buf *path, const char *c, const char *nl)
{
	/* kind */
	if (nl - c < 2 || (c[0] != 'f' && c[0] != 'l') || c[1] != ' ')
		return false;
	e->link = c[0] == 'l';
	c += 2;
	/* size: decimal, no leading zero */
	if (c >= nl || *c < '0' || *c > '9' || (*c == '0' && c + 1 < nl && c[1] != ' '))
		return false;
	while (c < nl && *c >= '0' && *c <= '9') {
		if (__builtin_mul_overflow(e->size, 10, &e->size) ||
		    __builtin_add_overflow(e->size, (uint64_t)(*c - '0'), &e->size))
			return false;
		c++;
	}
	if (c >= nl || *c != ' ')
		return false;
	c++;
	/* hash */
	if (nl - c < 2 * RQ_HASH_LEN + 1 || c[2 * RQ_HASH_LEN] != ' ')
		return false;
	for (int i = 0; i < RQ_HASH_LEN; i++) {
		int hi = lower_hex_digit(c[2 * i]), lo = lower_hex_digit(c[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		e->hash[i] = (uint8_t)(hi << 4 | lo);
	}
	c += 2 * RQ_HASH_LEN + 1;
	return parse_path(path, c, nl) && strlen(path->ptr) == path->len &&
	       path_ok(path->ptr, path->len);
}

int rq_manifest_parse(rq_manifest *out, const void *data, size_t len, const char *name)
{
	const char *s = data, *end = s + len;
	size_t hl = strlen(RQ_MANIFEST_HEADER), lineno;
	rq_manifest m;
	rq_buf path = RQ_BUF_INIT;
	int err = 0;

	rq_manifest_init(&m);
	if (len < hl || memcmp(s, RQ_MANIFEST_HEADER, hl) != 0) {
		err = rq_error_set(RQ_EINVALID, "%s: not a resque manifest (no '%.*s' header)", name,
				   (int)hl - 1, RQ_MANIFEST_HEADER);
		goto done;
	}
	/* the header is line 1 */
	for (s += hl, lineno = 2; s < end; lineno++) {
		rq_manifest_entry e;
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		memset(&e, 0, sizeof(e));
		if (!nl) {
			err = rq_error_set(RQ_EINVALID, "%s: line %zu: no end of line", name, lineno);
			goto done;
		}
		if (!parse_manifest_line(&e, &path, s, nl)) {
			err = rq_error_set(RQ_EINVALID, "%s: line %zu: malformed manifest line", name,
					   lineno);
			goto done;
		}
		if (m.n > 0 && strcmp(m.v[m.n - 1].path, path.ptr) >= 0) {
			err = rq_error_set(RQ_EINVALID, "%s: line %zu: paths out of order or repeated",
					   name, lineno);
			goto done;
		}
		if (__builtin_add_overflow(m.bytes, e.size, &m.bytes)) {
			err = rq_error_set(RQ_EINVALID, "%s: line %zu: total size overflows", name,
					   lineno);
			goto done;
		}
		RQ_ALLOC_GROW(m.v, m.n + 1, m.alloc);
		e.path = rq_buf_detach(&path, NULL);
		m.v[m.n++] = e;
		s = nl + 1;
	}
	rq_manifest_release(out);
	*out = m;
	rq_manifest_init(&m);
done:
	rq_manifest_release(&m);
	rq_buf_release(&path);
	return err;
}

static bool entry_equal(const rq_manifest_entry *a, const rq_manifest_entry *b)
{
	return a->link == b->link && a->size == b->size && memcmp(a->hash, b->hash, RQ_HASH_LEN) == 0;
}

void rq_manifest_diff(rq_manifest_change **out, size_t *n, const rq_manifest *old,
		      const rq_manifest *cur)
{
	size_t i = 0, j = 0, k = 0, cap = old->n + cur->n;
	rq_manifest_change *v = cap ? rq_xcalloc(cap, sizeof(*v)) : NULL;

	while (i < old->n || j < cur->n) {
		int c = i >= old->n ? 1 : j >= cur->n ? -1 : strcmp(old->v[i].path, cur->v[j].path);
		if (c < 0) {
			v[k].kind = RQ_CHANGE_REMOVED;
			v[k++].path = old->v[i++].path;
		} else if (c > 0) {
			v[k].kind = RQ_CHANGE_ADDED;
			v[k++].path = cur->v[j++].path;
		} else {
			if (!entry_equal(&old->v[i], &cur->v[j])) {
				v[k].kind = RQ_CHANGE_CHANGED;
				v[k++].path = cur->v[j].path;
			}
			i++;
			j++;
		}
	}
	if (k == 0) {
		free(v);
		v = NULL;
	}
	*out = v;
	*n = k;
}
