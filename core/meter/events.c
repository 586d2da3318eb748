/* The RESQUE_EVENTS file: tailed incrementally, parsed leniently (bad
 * lines become warnings), and used to split energy per epoch. */
#include "common.h"
#include "bounds.h"
#include "events.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

struct rq_events {
	char *path;
	off_t offset;
	rq_buf pending;   /* an incomplete last line */
	bool overlong;    /* the pending line exceeded the limit: drop to '\n' */
	size_t line;      /* lines seen so far */
	rq_event *ev;
	size_t n, cap;
	size_t nmetrics, nepochs;
	size_t dropped_metrics; /* metric lines past RQ_EVENTS_MAX */
	size_t merged_epochs;   /* epoch marks past RQ_EVENTS_MAX_EPOCHS */
	size_t last_epoch;      /* index of the last epoch event */
	long epochs;      /* epochs ended so far */
	rq_target target; /* the last `target` line (RQ_TARGET_UNKNOWN: none) */
	rq_run_status status; /* the last `status` line (UNKNOWN: none) */
	rq_buf warnings;
	size_t nwarnings;
};

/* Remove the events files of runs whose resque was killed (SIGKILL leaves
 * no chance to clean up): ours, named after a process that is gone. */
static void sweep_files(const char *dir)
{
	static const char prefix[] = "resque-events-";
	const size_t plen = sizeof(prefix) - 1;
	DIR *d = opendir(dir);
	rq_buf p = RQ_BUF_INIT;
	struct stat st;
	if (!d)
		return;
	for (struct dirent *de; (de = readdir(d));) {
		if (strncmp(de->d_name, prefix, plen))
			continue;
		char *end;
		errno = 0;
		long pid = strtol(de->d_name + plen, &end, 10);
		if (errno || end == de->d_name + plen || *end != '-' || pid <= 0 || pid == (long)getpid() ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		rq_buf_reset(&p);
		rq_buf_printf(&p, "%s/%s", dir, de->d_name);
		if (lstat(p.ptr, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid())
			unlink(p.ptr);
	}
	closedir(d);
	rq_buf_release(&p);
}

int rq_events_create_file(char **out)
{
	const char *dir = getenv("TMPDIR");
	rq_buf path = RQ_BUF_INIT;
	int err = 0;

	*out = NULL;
	if (!dir || !*dir)
		dir = "/tmp";
	sweep_files(dir);
	rq_buf_printf(&path, "%s/resque-events-%ld-XXXXXX", dir, (long)getpid());
	int fd = mkstemp(path.ptr);
	if (fd < 0) {
		err = rq_error_os("%s: cannot create the events file", path.ptr);
		goto done;
	}
	close(fd);
	*out = rq_buf_detach(&path, NULL);
done:
	rq_buf_release(&path);
	return err;
}

int rq_events_open(rq_events **out, const char *path)
{
	rq_events *e = rq_xcalloc(1, sizeof(*e));
	e->path = path ? rq_xstrdup(path) : NULL;
	rq_buf_init(&e->pending);
	rq_buf_init(&e->warnings);
	*out = e;
	return 0;
}

void rq_events_free(rq_events *e)
{
	if (!e)
		return;
	free(e->path);
	rq_buf_release(&e->pending);
	rq_buf_release(&e->warnings);
	free(e->ev);
	free(e);
}

static void warn(rq_events *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(rq_events *e, const char *fmt, ...)
{
	/* a runaway script must not fill memory with warnings */
	if (++e->nwarnings > 100) {
		if (e->nwarnings == 101)
			rq_buf_puts(&e->warnings, "events: further warnings suppressed\n");
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	rq_buf_printf(&e->warnings, "%s: line %zu: ", e->path ? e->path : "events", e->line);
	rq_buf_vprintf(&e->warnings, fmt, ap);
	rq_buf_putc(&e->warnings, '\n');
	va_end(ap);
}

/* A new event; NULL past the limits: metrics are then dropped (counted),
 * and an epoch mark moves the last kept one instead, so that the epoch
 * count and the end of the last epoch are never lost. */
static rq_event *push(rq_events *e, rq_event_type type)
{
	if (type == RQ_EVENT_METRIC && e->nmetrics >= RQ_EVENTS_MAX) {
		if (!e->dropped_metrics++)
			warn(e, "more than %d metrics: later metric lines are not recorded", RQ_EVENTS_MAX);
		return NULL;
	}
	if (type == RQ_EVENT_EPOCH && e->nepochs >= RQ_EVENTS_MAX_EPOCHS) {
		if (!e->merged_epochs++)
			warn(e, "more than %d epoch marks: later ones are merged into the last", RQ_EVENTS_MAX_EPOCHS);
		return &e->ev[e->last_epoch];
	}
	if (type == RQ_EVENT_METRIC)
		e->nmetrics++;
	else {
		e->nepochs++;
		e->last_epoch = e->n;
	}
	RQ_ALLOC_GROW(e->ev, e->n + 1, e->cap);
	rq_event *ev = &e->ev[e->n++];
	memset(ev, 0, sizeof(*ev));
	return ev;
}

bool rq_events_name_valid(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len >= RQ_EVENT_NAME_SIZE)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!isalnum(c) && !strchr("_.:/-", c))
			return false;
	}
	return true;
}

/* Split `line` into at most 4 words at blanks. */
static size_t words(char *line, char **w, size_t max)
{
	size_t n = 0;
	char *p = line;
	while (*p) {
		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		if (!*p)
			break;
		if (n == max)
			return max + 1;
		w[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}
	return n;
}

const char *rq_target_name(rq_target t)
{
	return t == RQ_TARGET_REACHED ? "reached" : t == RQ_TARGET_MISSED ? "missed" : NULL;
}

rq_target rq_target_parse(const char *word)
{
	if (word && !strcmp(word, "reached"))
		return RQ_TARGET_REACHED;
	if (word && !strcmp(word, "missed"))
		return RQ_TARGET_MISSED;
	return RQ_TARGET_UNKNOWN;
}

/* `target reached|missed`: the last one read wins. */
static void parse_target(rq_events *e, char **w, size_t nw)
{
	rq_target t = nw == 2 ? rq_target_parse(w[1]) : RQ_TARGET_UNKNOWN;
	if (t == RQ_TARGET_UNKNOWN) {
		warn(e, "'target' takes one word: reached or missed");
		return;
	}
	e->target = t;
}

const char *rq_run_status_name(rq_run_status s)
{
	return s == RQ_RUN_STATUS_SUCCEEDED ? "succeeded" : s == RQ_RUN_STATUS_FAILED ? "failed" : NULL;
}

rq_run_status rq_run_status_parse(const char *word)
{
	if (word && !strcmp(word, "succeeded"))
		return RQ_RUN_STATUS_SUCCEEDED;
	if (word && !strcmp(word, "failed"))
		return RQ_RUN_STATUS_FAILED;
	return RQ_RUN_STATUS_UNKNOWN;
}

/* `status failed|succeeded`: the last one read wins. */
static void parse_status(rq_events *e, char **w, size_t nw)
{
	rq_run_status s = nw == 2 ? rq_run_status_parse(w[1]) : RQ_RUN_STATUS_UNKNOWN;
	if (s == RQ_RUN_STATUS_UNKNOWN) {
		warn(e, "'status' takes one word: failed or succeeded");
		return;
	}
	e->status = s;
}

static void parse_line(rq_events *e, char *line, size_t len, double t)
{
	char *w[3];
	e->line++;
	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	if (memchr(line, '\0', len)) {
		warn(e, "NUL byte, line skipped");
		return;
	}
	size_t nw = words(line, w, 3);
	if (nw == 0 || w[0][0] == '#')
		return;
	if (!strcmp(w[0], "epoch")) {
		long n = e->epochs + 1;
		if (nw > 2) {
			warn(e, "'epoch' takes at most one number");
			return;
		}
		if (nw == 2) {
			char *end;
			errno = 0;
			n = strtol(w[1], &end, 10);
			if (errno || *end || end == w[1] || n < 1) {
				warn(e, "'%.40s' is not an epoch number", w[1]);
				return;
			}
			const rq_bound *b = rq_bound_lookup("epochs");
			if (b && (n < b->lo || n > b->hi)) {
				warn(e, "epoch %ld is outside the plausible range [%g, %g]", n, b->lo, b->hi);
				return;
			}
			if (n <= e->epochs) {
				warn(e, "epoch %ld after epoch %ld, ignored", n, e->epochs);
				return;
			}
		}
		rq_event *ev = push(e, RQ_EVENT_EPOCH);
		ev->type = RQ_EVENT_EPOCH;
		ev->t = t;
		ev->epoch = n;
		e->epochs = n;
		return;
	}
	if (!strcmp(w[0], "metric")) {
		if (nw != 3) {
			warn(e, "'metric' needs a name and a value");
			return;
		}
		if (!rq_events_name_valid(w[1])) {
			warn(e, "'%.64s' is not a metric name (letters, digits, _.:/-; 64 at most)", w[1]);
			return;
		}
		double v;
		if (rq_bound_parse_decimal(&v, w[2])) {
			warn(e, "'%.40s' is not a finite number", w[2]);
			return;
		}
		rq_event *ev = push(e, RQ_EVENT_METRIC);
		if (!ev)
			return;
		ev->type = RQ_EVENT_METRIC;
		ev->t = t;
		ev->epoch = e->epochs;
		snprintf(ev->name, sizeof(ev->name), "%s", w[1]);
		ev->value = v;
		return;
	}
	if (!strcmp(w[0], "target")) {
		parse_target(e, w, nw);
		return;
	}
	if (!strcmp(w[0], "status")) {
		parse_status(e, w, nw);
		return;
	}
	warn(e, "unknown event '%.40s' (epoch, metric, target, status or # comment)", w[0]);
}

void rq_events_feed(rq_events *e, const char *data, size_t len, double t)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t part = nl ? (size_t)(nl - data) : len;
		if (!e->overlong) {
			if (e->pending.len + part > RQ_EVENTS_MAX_LINE) {
				e->overlong = true;
				rq_buf_reset(&e->pending);
			} else {
				rq_buf_put(&e->pending, data, part);
			}
		}
		if (!nl)
			return;
		if (e->overlong) {
			e->line++;
			warn(e, "longer than %d bytes, skipped", RQ_EVENTS_MAX_LINE);
			e->overlong = false;
		} else {
			parse_line(e, e->pending.ptr, e->pending.len, t);
		}
		rq_buf_reset(&e->pending);
		data += part + 1;
		len -= part + 1;
	}
}

int rq_events_poll(rq_events *e, double t)
{
	if (!e->path)
		return 0;
	/* O_NONBLOCK: a FIFO without a writer must not block the sampler
	 * (and with it the end of the run); only a regular file is read */
	int fd = open(e->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return rq_error_os("%s", e->path);
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return rq_error_set(RQ_EINVALID, "%s: not a regular file", e->path);
	}
	int err = 0;
	off_t end = lseek(fd, 0, SEEK_END);
	if (end >= 0 && end < e->offset) {
		/* truncated or replaced: start over from its beginning */
		e->offset = 0;
	}
	char buf[65536];
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), e->offset);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = rq_error_os("%s", e->path);
			break;
		}
		if (n == 0)
			break;
		e->offset += n;
		rq_events_feed(e, buf, (size_t)n, t);
	}
	close(fd);
	return err;
}

int rq_events_finish(rq_events *e, double t)
{
	int err = rq_events_poll(e, t);
	if (e->overlong) {
		e->line++;
		warn(e, "longer than %d bytes, skipped", RQ_EVENTS_MAX_LINE);
		e->overlong = false;
	} else if (e->pending.len) {
		parse_line(e, e->pending.ptr, e->pending.len, t);
	}
	rq_buf_reset(&e->pending);
	return err;
}

size_t rq_events_count(const rq_events *e)
{
	return e->n;
}

const rq_event *rq_events_get(const rq_events *e, size_t i)
{
	return i < e->n ? &e->ev[i] : NULL;
}

rq_target rq_events_target(const rq_events *e)
{
	return e->target;
}

rq_run_status rq_events_status(const rq_events *e)
{
	return e->status;
}

const char *rq_events_warnings(const rq_events *e)
{
	return e->warnings.ptr;
}

void rq_events_notes(rq_buf *out, const rq_events *e)
{
	if (e->dropped_metrics)
		rq_buf_printf(out, "%zu metric lines past the limit of %d were not recorded\n",
			      e->dropped_metrics, RQ_EVENTS_MAX);
	if (e->merged_epochs)
		rq_buf_printf(out, "%zu epoch marks past the limit of %d were merged into the last epoch (epoch count kept, its energy covers them all)\n",
			      e->merged_epochs, RQ_EVENTS_MAX_EPOCHS);
}

double rq_energy_at(const rq_energy_point *tl, size_t n, double t)
{
	if (n == 0)
		return 0;
	if (t <= tl[0].t)
		return tl[0].joules;
	if (t >= tl[n - 1].t)
		return tl[n - 1].joules;
	size_t lo = 0, hi = n - 1; /* tl[lo].t < t < tl[hi].t */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (tl[mid].t <= t)
			lo = mid;
		else
			hi = mid;
	}
	double span = tl[hi].t - tl[lo].t;
	if (span <= 0)
		return tl[hi].joules;
	return tl[lo].joules + (tl[hi].joules - tl[lo].joules) * (t - tl[lo].t) / span;
}

int rq_events_epoch_energy(double **out, size_t *nout, double *tail, const rq_events *e,
			   const rq_energy_point *tl, size_t n)
{
	size_t k = 0;
	double prev = rq_energy_at(tl, n, n ? tl[0].t : 0);
	*out = NULL;
	*nout = 0;
	for (size_t i = 0; i < e->n; i++)
		if (e->ev[i].type == RQ_EVENT_EPOCH)
			k++;
	double *j = k ? rq_xcalloc(k, sizeof(*j)) : NULL;
	k = 0;
	for (size_t i = 0; i < e->n; i++) {
		if (e->ev[i].type != RQ_EVENT_EPOCH)
			continue;
		double cur = rq_energy_at(tl, n, e->ev[i].t);
		j[k++] = cur - prev;
		prev = cur;
	}
	if (tail)
		*tail = (n ? tl[n - 1].joules : 0) - prev;
	*out = j;
	*nout = k;
	return 0;
}

int rq_epoch_energy_stable(double *out, const double *epoch_j, size_t n)
{
	if (n == 0)
		return rq_error_set(RQ_EINVALID, "no epoch was marked");
	if (n == 1) {
		*out = epoch_j[0];
		return 0;
	}
	double s = 0;
	for (size_t i = 1; i < n; i++)
		s += epoch_j[i];
	*out = s / (double)(n - 1);
	return 0;
}
