/* The meter: chooses and combines sources (RAPL or the estimate for the
 * CPU, NVML for GPUs), samples them and keeps the energy timeline. */
#include "common.h"
#include "meter_int.h"

#include <fcntl.h>
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
		rq_error_set(e == ENOENT ? RQ_ENOTFOUND : RQ_EIO, "%s: %s", path, strerror(e));
		errno = e;
		return e == ENOENT ? RQ_ENOTFOUND : RQ_EIO;
	}
	char tmp[4096];
	int err = 0;
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = rq_error_set(RQ_EIO, "%s: %s", path, strerror(errno));
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
	if (m->npoints == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 64, bytes;
		if (!rq_mul_size(&bytes, ncap, sizeof(*m->timeline)))
			abort();
		m->timeline = rq_xrealloc(m->timeline, bytes);
		m->cap = ncap;
	}
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

int rq_meter_start_at(rq_meter *m, double now)
{
	if (m->started)
		return rq_error_set(RQ_EINVALID, "meter: started twice");
	for (size_t i = 0; i < m->nsrc; i++) {
		int err = m->src[i]->start(m->src[i], now);
		if (err < 0)
			return err;
	}
	m->started = true;
	m->t0 = now;
	record(m, now);
	return 0;
}

int rq_meter_sample_at(rq_meter *m, double now)
{
	if (!m->started || m->stopped)
		return rq_error_set(RQ_EINVALID, "meter: sampled while not running");
	for (size_t i = 0; i < m->nsrc; i++) {
		int err = m->src[i]->sample(m->src[i], now);
		if (err < 0)
			return err;
	}
	record(m, now);
	return 0;
}

int rq_meter_stop_at(rq_meter *m, double now)
{
	if (!m->started || m->stopped)
		return rq_error_set(RQ_EINVALID, "meter: stopped while not running");
	for (size_t i = 0; i < m->nsrc; i++) {
		int err = m->src[i]->stop(m->src[i], now);
		if (err < 0)
			return err;
	}
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
