/* The meter: chooses and combines sources (RAPL or the estimate for the
 * CPU, NVML for GPUs), samples them and keeps the energy timeline. */
#include "common.h"
#include "meter_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct rq_meter {
	struct rq_meter_source *src[3];
	size_t nsrc;
	rq_buf name;
	rq_buf notes;
	rq_energy_point *timeline;
	size_t npoints, cap;
	double t0, last;
	bool started, stopped;
	size_t ndomains;
	rq_meter_domain domains[3 * RQ_METER_MAX_DOMAINS];
};

const char *rq_method_name(rq_method m)
{
	switch (m) {
	case RQ_METHOD_MEASURED: return "measured";
	case RQ_METHOD_ESTIMATED: return "estimated";
	case RQ_METHOD_IMPORTED: return "imported";
	}
	return "unknown";
}

const char *rq_meter_proc_root(void)
{
	const char *p = getenv("RESQUE_PROC_ROOT");
	return p && *p ? p : "/proc";
}

int rq_meter_read_small(rq_buf *out, const char *path)
{
	rq_buf_reset(out);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno; /* callers look at errno (EACCES) */
		int err = rq_error_os("%s", path);
		errno = e;
		return err;
	}
	char tmp[4096];
	int err = 0;
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = rq_error_os("%s", path);
			break;
		}
		if (n == 0)
			break;
		rq_buf_put(out, tmp, (size_t)n);
		if (out->len > (1u << 20)) {
			err = rq_error_set(RQ_EINVALID, "%s: too large for a counter file", path);
			break;
		}
	}
	close(fd);
	return err;
}

static void add_source(rq_meter *m, struct rq_meter_source *s)
{
	m->src[m->nsrc++] = s;
	if (s->note[0])
		rq_buf_printf(&m->notes, "%s\n", s->note);
	if (m->name.len)
		rq_buf_putc(&m->name, '+');
	rq_buf_puts(&m->name, s->name);
}

int rq_meter_open(rq_meter **out, const rq_meter_opts *opts)
{
	static const rq_meter_opts defaults = { 0 };
	rq_meter *m = rq_xcalloc(1, sizeof(*m));
	struct rq_meter_source *s = NULL;
	int err = 0;
	if (!opts)
		opts = &defaults;
	const char *kind = opts->kind && *opts->kind ? opts->kind : "auto";
	*out = NULL;
	rq_buf_init(&m->name);
	rq_buf_init(&m->notes);

	if (!strcmp(kind, "rapl")) {
		if ((err = rq_meter_rapl_open(&s)) < 0)
			goto done;
		add_source(m, s);
	} else if (!strcmp(kind, "nvml")) {
		if ((err = rq_meter_nvml_open(&s)) < 0)
			goto done;
		add_source(m, s);
	} else if (!strcmp(kind, "estimate")) {
		if ((err = rq_meter_estimate_open(&s, opts)) < 0)
			goto done;
		add_source(m, s);
	} else if (!strcmp(kind, "auto")) {
		if (rq_meter_rapl_open(&s) == 0) {
			add_source(m, s);
		} else {
			rq_buf_printf(&m->notes, "%s; estimating CPU energy instead\n",
				      rq_error_last());
			if ((err = rq_meter_estimate_open(&s, opts)) < 0)
				goto done;
			add_source(m, s);
		}
		if (rq_meter_nvml_open(&s) == 0)
			add_source(m, s);
		else if (rq_error_code() != RQ_ENOTFOUND)
			rq_buf_printf(&m->notes, "%s; GPU energy not metered\n", rq_error_last());
	} else {
		err = rq_error_set(RQ_EINVALID, "unknown meter '%s' (auto, rapl, nvml or estimate)",
				   kind);
		goto done;
	}
	*out = m;
	m = NULL;
done:
	rq_meter_free(m);
	return err;
}

void rq_meter_free(rq_meter *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nsrc; i++)
		m->src[i]->free(m->src[i]);
	rq_buf_release(&m->name);
	rq_buf_release(&m->notes);
	free(m->timeline);
	free(m);
}

static double monotonic_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void record(rq_meter *m, double now)
{
	RQ_ALLOC_GROW(m->timeline, m->npoints + 1, m->cap);
	m->ndomains = 0;
	double total = 0;
	for (size_t i = 0; i < m->nsrc; i++)
		for (size_t j = 0; j < m->src[i]->ndomains; j++) {
			m->domains[m->ndomains++] = m->src[i]->domains[j];
			total += m->src[i]->domains[j].joules;
		}
	double t = now - m->t0;
	if (m->npoints > 0 && t < m->timeline[m->npoints - 1].t)
		t = m->timeline[m->npoints - 1].t;
	m->timeline[m->npoints].t = t;
	m->timeline[m->npoints].joules = total;
	m->npoints++;
	m->last = now;
}

enum reading { READ_START, READ_SAMPLE, READ_STOP };

/* Have every source take its first, next or last reading at `now`; the
 * first failure stops the round. */
static int read_sources(rq_meter *m, double now, enum reading what)
{
	for (size_t i = 0; i < m->nsrc; i++) {
		struct rq_meter_source *s = m->src[i];
		int (*step)(struct rq_meter_source *, double) =
			what == READ_START ? s->start : what == READ_SAMPLE ? s->sample : s->stop;
		int err = step(s, now);
		if (err < 0)
			return err;
	}
	return 0;
}

int rq_meter_start_at(rq_meter *m, double now)
{
	int err;
	if (m->started)
		return rq_error_set(RQ_EINVALID, "meter: started twice");
	if ((err = read_sources(m, now, READ_START)))
		return err;
	m->started = true;
	m->t0 = now;
	record(m, now);
	return 0;
}

int rq_meter_sample_at(rq_meter *m, double now)
{
	int err;
	if (!m->started || m->stopped)
		return rq_error_set(RQ_EINVALID, "meter: sampled while not running");
	if ((err = read_sources(m, now, READ_SAMPLE)))
		return err;
	record(m, now);
	return 0;
}

int rq_meter_stop_at(rq_meter *m, double now)
{
	int err;
	if (!m->started || m->stopped)
		return rq_error_set(RQ_EINVALID, "meter: stopped while not running");
	if ((err = read_sources(m, now, READ_STOP)))
		return err;
	m->stopped = true;
	record(m, now);
	return 0;
}

int rq_meter_start(rq_meter *m)
{
	return rq_meter_start_at(m, monotonic_now());
}

int rq_meter_sample(rq_meter *m)
{
	return rq_meter_sample_at(m, monotonic_now());
}

int rq_meter_stop(rq_meter *m)
{
	return rq_meter_stop_at(m, monotonic_now());
}

const char *rq_meter_name(const rq_meter *m)
{
	return m->name.ptr;
}

rq_method rq_meter_method(const rq_meter *m)
{
	for (size_t i = 0; i < m->nsrc; i++)
		if (m->src[i]->estimated)
			return RQ_METHOD_ESTIMATED;
	return RQ_METHOD_MEASURED;
}

const char *rq_meter_notes(const rq_meter *m)
{
	return m->notes.ptr;
}

double rq_meter_joules(const rq_meter *m)
{
	return m->npoints ? m->timeline[m->npoints - 1].joules : 0.0;
}

double rq_meter_seconds(const rq_meter *m)
{
	return m->npoints ? m->timeline[m->npoints - 1].t : 0.0;
}

size_t rq_meter_ndomains(const rq_meter *m)
{
	return m->ndomains;
}

const rq_meter_domain *rq_meter_domain_at(const rq_meter *m, size_t i)
{
	return i < m->ndomains ? &m->domains[i] : NULL;
}

const rq_energy_point *rq_meter_timeline(const rq_meter *m, size_t *n)
{
	*n = m->npoints;
	return m->timeline;
}

void rq_meter_estimate_get(rq_meter_estimate_info *out, const rq_meter *m)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < m->nsrc; i++)
		if (m->src[i]->estimated)
			rq_meter_estimate_info_of(out, m->src[i]);
}

/* --- a cgroup v2 for the command's whole tree ------------------------- */

struct rq_cgroup {
	rq_buf dir;    /* .../resque-run-PID */
	rq_buf parent; /* the cgroup resque itself is in */
};

/* The cgroup v2 directory of the calling process: the cgroup2 mount of
 * /proc/self/mountinfo (mounted at its root) + the "0::PATH" line of
 * /proc/self/cgroup. */
static int cgroup_self_dir(rq_buf *out)
{
	rq_buf text = RQ_BUF_INIT;
	const char *mnt = NULL;
	size_t mntlen = 0;
	int err;

	rq_buf_reset(out);
	if ((err = rq_meter_read_small(&text, "/proc/self/mountinfo")))
		goto done;
	for (char *line = text.ptr; *line;) {
		size_t len = strcspn(line, "\n");
		char *sep = strstr(line, " - cgroup2 ");
		if (sep && sep < line + len) {
			/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... */
			char *f = line;
			for (int i = 0; i < 3 && f; i++) {
				f = memchr(f, ' ', (size_t)(line + len - f));
				if (f)
					f++;
			}
			if (f && f[0] == '/' && f[1] == ' ') {
				mnt = f + 2;
				mntlen = strcspn(mnt, " ");
				break;
			}
		}
		line += len + (line[len] == '\n');
	}
	if (!mnt) {
		err = rq_error_set(RQ_EUNSUPPORTED, "no cgroup v2 hierarchy is mounted");
		goto done;
	}
	rq_buf_put(out, mnt, mntlen);
	if ((err = rq_meter_read_small(&text, "/proc/self/cgroup")))
		goto done;
	const char *p = strstr(text.ptr, "0::");
	if (!p || (p != text.ptr && p[-1] != '\n')) {
		err = rq_error_set(RQ_EUNSUPPORTED, "/proc/self/cgroup: not in a cgroup v2 hierarchy");
		goto done;
	}
	p += 3;
	size_t plen = strcspn(p, "\n");
	if (plen > 1)
		rq_buf_put(out, p, plen);
done:
	rq_buf_release(&text);
	return err;
}

/* Remove the empty cgroups of runs whose resque was killed. */
static void cgroup_sweep(const char *parent)
{
	DIR *d = opendir(parent);
	rq_buf p = RQ_BUF_INIT;
	if (!d)
		return;
	for (struct dirent *de; (de = readdir(d));) {
		if (strncmp(de->d_name, "resque-run-", 11))
			continue;
		char *end;
		long pid = strtol(de->d_name + 11, &end, 10);
		if (*end || end == de->d_name + 11 || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue; /* not ours, or its resque still runs */
		rq_buf_reset(&p);
		rq_buf_printf(&p, "%s/%s", parent, de->d_name);
		rmdir(p.ptr); /* fails while a process is left in it */
	}
	closedir(d);
	rq_buf_release(&p);
}

int rq_cgroup_create(rq_cgroup **out)
{
	rq_cgroup *cg = rq_xcalloc(1, sizeof(*cg));
	const char *env = getenv("RESQUE_CGROUP");
	int err;

	*out = NULL;
	rq_buf_init(&cg->dir);
	rq_buf_init(&cg->parent);
	if (env && !strcmp(env, "off")) {
		err = rq_error_set(RQ_EUNSUPPORTED, "cgroups are turned off (RESQUE_CGROUP=off)");
		goto done;
	}
	if ((err = cgroup_self_dir(&cg->parent)))
		goto done;
	cgroup_sweep(cg->parent.ptr);
	rq_buf_printf(&cg->dir, "%s/resque-run-%ld", cg->parent.ptr, (long)getpid());
	if (mkdir(cg->dir.ptr, 0755) < 0 && errno != EEXIST) {
		rq_error_os("cannot create a cgroup");
		err = rq_error_prefix(RQ_EUNSUPPORTED, "%s: ", cg->dir.ptr);
		goto done;
	}
	rq_buf tmp = RQ_BUF_INIT;
	rq_buf_printf(&tmp, "%s/cpu.stat", cg->dir.ptr);
	bool ok = access(tmp.ptr, R_OK) == 0;
	rq_buf_reset(&tmp);
	rq_buf_printf(&tmp, "%s/cgroup.procs", cg->dir.ptr);
	ok = ok && access(tmp.ptr, W_OK) == 0;
	rq_buf_release(&tmp);
	if (!ok) {
		err = rq_error_set(RQ_EUNSUPPORTED, "%s: no cpu.stat or cgroup.procs not writable",
				   cg->dir.ptr);
		rmdir(cg->dir.ptr);
		goto done;
	}
	*out = cg;
	cg = NULL;
done:
	if (cg) {
		rq_buf_release(&cg->dir);
		rq_buf_release(&cg->parent);
		free(cg);
	}
	return err;
}

const char *rq_cgroup_path(const rq_cgroup *cg)
{
	return cg->dir.ptr;
}

int rq_cgroup_procs_fd(const rq_cgroup *cg)
{
	rq_buf p = RQ_BUF_INIT;
	rq_buf_printf(&p, "%s/cgroup.procs", cg->dir.ptr);
	int fd = open(p.ptr, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		fd = rq_error_os("%s", p.ptr);
	rq_buf_release(&p);
	return fd;
}

int rq_cgroup_join(int fd)
{
	/* async-signal-safe: called in a child between fork and exec */
	char buf[24];
	size_t i = sizeof(buf);
	unsigned long pid = (unsigned long)getpid();
	do
		buf[--i] = (char)('0' + pid % 10);
	while ((pid /= 10) && i > 0);
	return write(fd, buf + i, sizeof(buf) - i) == (ssize_t)(sizeof(buf) - i) ? 0 : -1;
}

int rq_cgroup_cpu_seconds(double *out, const rq_cgroup *cg)
{
	rq_buf p = RQ_BUF_INIT, text = RQ_BUF_INIT;
	int err;
	*out = 0;
	rq_buf_printf(&p, "%s/cpu.stat", cg->dir.ptr);
	if (!(err = rq_meter_read_small(&text, p.ptr))) {
		const char *u = strstr(text.ptr, "usage_usec ");
		if (u && (u == text.ptr || u[-1] == '\n'))
			*out = strtod(u + 11, NULL) * 1e-6;
		else
			err = rq_error_set(RQ_EINVALID, "%s: no usage_usec", p.ptr);
	}
	rq_buf_release(&p);
	rq_buf_release(&text);
	return err;
}

size_t rq_cgroup_nprocs(const rq_cgroup *cg)
{
	rq_buf p = RQ_BUF_INIT, text = RQ_BUF_INIT;
	size_t n = 0;
	rq_buf_printf(&p, "%s/cgroup.procs", cg->dir.ptr);
	if (rq_meter_read_small(&text, p.ptr) == 0)
		for (const char *s = text.ptr; *s; s++)
			n += *s == '\n';
	rq_buf_release(&p);
	rq_buf_release(&text);
	return n;
}

void rq_cgroup_free(rq_cgroup *cg)
{
	if (!cg)
		return;
	/* processes left behind (daemons) go back to resque's own cgroup so
	 * that the run's can be removed */
	rq_buf p = RQ_BUF_INIT, text = RQ_BUF_INIT;
	rq_buf_printf(&p, "%s/cgroup.procs", cg->dir.ptr);
	if (rq_meter_read_small(&text, p.ptr) == 0 && text.len) {
		rq_buf_reset(&p);
		rq_buf_printf(&p, "%s/cgroup.procs", cg->parent.ptr);
		int fd = open(p.ptr, O_WRONLY | O_CLOEXEC);
		for (char *s = text.ptr; fd >= 0 && *s;) {
			size_t len = strcspn(s, "\n");
			ssize_t w = write(fd, s, len);
			RQ_UNUSED(w);
			s += len + (s[len] == '\n');
		}
		if (fd >= 0)
			close(fd);
	}
	rmdir(cg->dir.ptr);
	rq_buf_release(&p);
	rq_buf_release(&text);
	rq_buf_release(&cg->dir);
	rq_buf_release(&cg->parent);
	free(cg);
}
