/* The energy estimate where no counter is readable: CPU time of the
 * process tree × watts per logical CPU (the caller's figure; in a virtual
 * machine a per-vCPU coefficient; else the TDP from the embedded table
 * over the threads of a package) plus 0.3725 W per GiB of resident memory
 * of the tree. */
#include "common.h"
#include "meter_int.h"

#include <ctype.h>
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#define DEFAULT_TDP 85.0 /* W, when the CPU model is not in the table */

struct proc_seen {
	int pid;
	unsigned long long start; /* starttime: tells a reused pid apart */
	unsigned long long ticks; /* utime + stime, the largest seen */
};

struct proc_row {
	int pid, ppid;
	unsigned long long ticks, start;
	long rss; /* pages */
	bool in_tree;
};

struct estimate {
	struct rq_meter_source base;
	rq_meter_estimate_info info;
	pid_t root;
	bool exclude_root;
	bool reaps;
	struct proc_seen *seen;
	size_t nseen, capseen;
	struct proc_row *rows;
	size_t caprows;
	double ru0;           /* RUSAGE_CHILDREN seconds at start */
	unsigned long long ticks0; /* CPU ticks the tree had at start (an
				      attached tree has run before) */
	const rq_cgroup *cg;  /* the command's cgroup, when there is one */
	double cg0;           /* its CPU seconds at start */
	double mem_w, prev_t; /* memory power at the last sample */
	double mem_j;
	double tick_s;
	double page_gib;
	rq_buf tmp, path;
};

/* --- the TDP table ------------------------------------------------------ */

/* Lower-case, drop trademarks, the clock ("@ 2.30GHz"), and the words
 * "cpu", "processor", "N-core" that /proc/cpuinfo adds and the table lacks. */
static void normalise(rq_buf *out, const char *s)
{
	rq_buf_reset(out);
	const char *at = strstr(s, " @ ");
	size_t len = at ? (size_t)(at - s) : strlen(s);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '(' && i + 2 < len && tolower((unsigned char)s[i + 1]) == 'r' && s[i + 2] == ')') {
			i += 2;
			continue;
		}
		if (c == '(' && i + 3 < len && tolower((unsigned char)s[i + 1]) == 't' &&
		    tolower((unsigned char)s[i + 2]) == 'm' && s[i + 3] == ')') {
			i += 3;
			continue;
		}
		if (c == 0xc2 && i + 1 < len && ((unsigned char)s[i + 1] == 0xae)) { /* ® */
			i++;
			continue;
		}
		if (c == 0xe2 && i + 2 < len && (unsigned char)s[i + 1] == 0x84 &&
		    (unsigned char)s[i + 2] == 0xa2) { /* ™ */
			i += 2;
			continue;
		}
		rq_buf_putc(out, (char)(isspace(c) ? ' ' : tolower(c)));
	}
	/* drop filler words, collapse blanks */
	rq_buf words = RQ_BUF_INIT;
	char *p = out->ptr;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		size_t wl = strcspn(p, " ");
		bool filler = (wl == 3 && !strncmp(p, "cpu", 3)) ||
			      (wl == 9 && !strncmp(p, "processor", 9)) ||
			      (wl > 5 && !strncmp(p + wl - 5, "-core", 5) && isdigit((unsigned char)p[0]));
		if (!filler) {
			if (words.len)
				rq_buf_putc(&words, ' ');
			rq_buf_put(&words, p, wl);
		}
		p += wl;
	}
	rq_buf_reset(out);
	rq_buf_put(out, words.ptr, words.len);
	rq_buf_release(&words);
}

/* Whether every word of `part` is a word of `whole` (both normalised). */
static bool words_subset(const char *part, const char *whole, size_t *nwords, bool *has_digit)
{
	*nwords = 0;
	*has_digit = false;
	const char *p = part;
	while (*p) {
		size_t wl = strcspn(p, " ");
		bool found = false;
		for (const char *w = whole; *w;) {
			size_t l = strcspn(w, " ");
			if (l == wl && !memcmp(w, p, wl)) {
				found = true;
				break;
			}
			w += l;
			while (*w == ' ')
				w++;
		}
		if (!found)
			return false;
		for (size_t i = 0; i < wl; i++)
			if (isdigit((unsigned char)p[i]))
				*has_digit = true;
		(*nwords)++;
		p += wl;
		while (*p == ' ')
			p++;
	}
	return *nwords > 0;
}

int rq_tdp_lookup(double *out, const char **matched, const char *model)
{
	rq_buf m = RQ_BUF_INIT, t = RQ_BUF_INIT;
	size_t best = SIZE_MAX, best_words = 0, best_len = 0;
	int err = 0;
	normalise(&m, model);
	for (size_t i = 0; i < rq_tdp_table_len && m.len; i++) {
		normalise(&t, rq_tdp_table[i].name);
		if (!strcmp(t.ptr, m.ptr)) {
			best = i;
			break;
		}
		size_t nw;
		bool digit;
		if (!words_subset(t.ptr, m.ptr, &nw, &digit) || !digit)
			continue;
		if (nw > best_words || (nw == best_words && t.len > best_len)) {
			best = i;
			best_words = nw;
			best_len = t.len;
		}
	}
	if (best == SIZE_MAX) {
		err = rq_error_set(RQ_ENOTFOUND, "cpu model '%s' is not in the TDP table", model);
		goto done;
	}
	*out = rq_tdp_table[best].tdp;
	if (matched)
		*matched = rq_tdp_table[best].name;
done:
	rq_buf_release(&m);
	rq_buf_release(&t);
	return err;
}

/* --- the process tree --------------------------------------------------- */

/* Parse /proc/PID/stat: "pid (comm) state ppid ... utime(14) stime(15)
 * ... starttime(22) vsize(23) rss(24)". comm may hold spaces and ')'. */
static bool parse_stat(struct proc_row *r, const char *s)
{
	const char *close = strrchr(s, ')');
	if (!close || sscanf(s, "%d", &r->pid) != 1)
		return false;
	const char *p = close + 1;
	unsigned long long v[23];
	int field = 3; /* the state is field 3 */
	size_t k = 0;
	while (*p && k < RQ_ARRAY_SIZE(v)) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		char *end;
		if (field == 3) {
			v[k++] = 0;
			p += strcspn(p, " ");
		} else {
			v[k++] = strtoull(p, &end, 10);
			if (end == p) {
				v[k - 1] = 0;
				p += strcspn(p, " ");
			} else {
				p = end;
			}
		}
		field++;
	}
	if (k < 22)
		return false;
	/* v[0] is field 3 */
	r->ppid = (int)v[4 - 3];
	r->ticks = v[14 - 3] + v[15 - 3];
	r->start = v[22 - 3];
	r->rss = (long)v[24 - 3];
	return true;
}

static void note_seen(struct estimate *e, const struct proc_row *r)
{
	for (size_t i = 0; i < e->nseen; i++)
		if (e->seen[i].pid == r->pid && e->seen[i].start == r->start) {
			if (r->ticks > e->seen[i].ticks)
				e->seen[i].ticks = r->ticks;
			return;
		}
	RQ_ALLOC_GROW(e->seen, e->nseen + 1, e->capseen);
	e->seen[e->nseen].pid = r->pid;
	e->seen[e->nseen].start = r->start;
	e->seen[e->nseen].ticks = r->ticks;
	e->nseen++;
}

/* Scan every process, mark the tree under the root, remember the CPU time
 * of each of its members, return the resident memory of the tree (GiB). */
static double scan(struct estimate *e)
{
	const char *proc = rq_meter_proc_root();
	DIR *d = opendir(proc);
	size_t n = 0;
	if (!d)
		return 0;
	for (struct dirent *de; (de = readdir(d));) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		rq_buf_reset(&e->path);
		rq_buf_printf(&e->path, "%s/%s/stat", proc, de->d_name);
		if (rq_meter_read_small(&e->tmp, e->path.ptr) < 0)
			continue; /* exited meanwhile */
		RQ_ALLOC_GROW(e->rows, n + 1, e->caprows);
		memset(&e->rows[n], 0, sizeof(e->rows[n]));
		if (parse_stat(&e->rows[n], e->tmp.ptr))
			n++;
	}
	closedir(d);
	for (size_t i = 0; i < n; i++)
		e->rows[i].in_tree = e->rows[i].pid == (int)e->root;
	for (bool changed = true; changed;) {
		changed = false;
		for (size_t i = 0; i < n; i++) {
			if (e->rows[i].in_tree)
				continue;
			for (size_t j = 0; j < n; j++)
				if (e->rows[j].in_tree && e->rows[j].pid == e->rows[i].ppid) {
					e->rows[i].in_tree = changed = true;
					break;
				}
		}
	}
	double pages = 0;
	for (size_t i = 0; i < n; i++) {
		if (!e->rows[i].in_tree || (e->exclude_root && e->rows[i].pid == (int)e->root))
			continue;
		note_seen(e, &e->rows[i]);
		if (e->rows[i].rss > 0)
			pages += (double)e->rows[i].rss;
	}
	return pages * e->page_gib;
}

static double children_cpu_seconds(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_CHILDREN, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static void update(struct estimate *e, double now, bool first)
{
	double gib = scan(e);
	double w = gib * e->info.memory_w_per_gb;
	if (!first && now > e->prev_t)
		e->mem_j += 0.5 * (w + e->mem_w) * (now - e->prev_t);
	e->mem_w = w;
	e->prev_t = now;
	unsigned long long ticks = 0;
	for (size_t i = 0; i < e->nseen; i++)
		ticks += e->seen[i].ticks;
	if (first)
		e->ticks0 = ticks;
	e->info.cpu_seconds = (double)(ticks > e->ticks0 ? ticks - e->ticks0 : 0) * e->tick_s;
	/* the cgroup also holds what left the tree (daemons) */
	double cg;
	if (e->cg && rq_cgroup_cpu_seconds(&cg, e->cg) == 0 && cg - e->cg0 > e->info.cpu_seconds)
		e->info.cpu_seconds = cg - e->cg0;
	e->base.domains[0].joules = e->info.cpu_seconds * e->info.watts_per_cpu;
	e->base.domains[1].joules = e->mem_j;
}

static int est_start(struct rq_meter_source *s, double now)
{
	struct estimate *e = (struct estimate *)s;
	e->ru0 = children_cpu_seconds();
	if (e->cg && rq_cgroup_cpu_seconds(&e->cg0, e->cg) < 0)
		e->cg = NULL;
	update(e, now, true);
	return 0;
}

static int est_sample(struct rq_meter_source *s, double now)
{
	update((struct estimate *)s, now, false);
	return 0;
}

static int est_stop(struct rq_meter_source *s, double now)
{
	struct estimate *e = (struct estimate *)s;
	update(e, now, false);
	if (e->reaps) {
		/* descendants that lived less than an interval, or worked after
		 * the last sample, are in the reaped children's usage */
		double ru = children_cpu_seconds() - e->ru0;
		if (ru > e->info.cpu_seconds) {
			e->info.cpu_seconds = ru;
			e->base.domains[0].joules = ru * e->info.watts_per_cpu;
		}
	}
	return 0;
}

static void est_free(struct rq_meter_source *s)
{
	struct estimate *e = (struct estimate *)s;
	if (!e)
		return;
	free(e->seen);
	free(e->rows);
	rq_buf_release(&e->tmp);
	rq_buf_release(&e->path);
	free(e);
}

/* Whether the `flags` line of cpuinfo (val, vlen) has the word `hypervisor`. */
static bool has_hypervisor(const char *val, size_t vlen)
{
	for (size_t i = 0; i + 10 <= vlen; i++)
		if (!memcmp(val + i, "hypervisor", 10) && (i == 0 || val[i - 1] == ' ') &&
		    (i + 10 == vlen || val[i + 10] == ' '))
			return true;
	return false;
}

/* Model name, logical CPUs per package and the hypervisor flag from cpuinfo. */
static void read_cpuinfo(struct estimate *e)
{
	rq_buf path = RQ_BUF_INIT;
	unsigned processors = 0, siblings = 0;
	rq_buf_printf(&path, "%s/cpuinfo", rq_meter_proc_root());
	snprintf(e->info.cpu_model, sizeof(e->info.cpu_model), "unknown");
	if (rq_meter_read_small(&e->tmp, path.ptr) == 0) {
		bool have_model = false;
		for (char *line = e->tmp.ptr; *line;) {
			size_t len = strcspn(line, "\n");
			char *colon = memchr(line, ':', len);
			if (colon) {
				size_t klen = (size_t)(colon - line);
				while (klen && isspace((unsigned char)line[klen - 1]))
					klen--;
				char *val = colon + 1;
				while (val < line + len && *val == ' ')
					val++;
				size_t vlen = (size_t)(line + len - val);
				if (klen == 9 && !strncmp(line, "processor", 9))
					processors++;
				else if (klen == 8 && !strncmp(line, "siblings", 8) && !siblings)
					siblings = (unsigned)strtoul(val, NULL, 10);
				else if (klen == 10 && !strncmp(line, "model name", 10) && !have_model) {
					snprintf(e->info.cpu_model, sizeof(e->info.cpu_model), "%.*s",
						 (int)vlen, val);
					have_model = true;
				} else if (klen == 5 && !strncmp(line, "flags", 5) && has_hypervisor(val, vlen))
					e->info.hypervisor = true;
			}
			line += len;
			if (*line == '\n')
				line++;
		}
	}
	rq_buf_release(&path);
	if (siblings)
		e->info.cpus_per_package = siblings;
	else if (processors)
		e->info.cpus_per_package = processors;
	else {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		e->info.cpus_per_package = n > 0 ? (unsigned)n : 1;
	}
}

/* Watts per logical CPU, by the first rule that applies: the caller's
 * figure; in a virtual machine a per-vCPU coefficient (its `siblings` are
 * the VM's vCPUs, not the package's threads); the TDP table's over the
 * threads of a package; the default TDP over them. */
static void choose_watts(rq_meter_estimate_info *info, const rq_meter_opts *opts)
{
	const char *matched = NULL;

	info->tdp_watts = 0;
	if (opts->cpu_watts > 0) {
		info->watts_per_cpu = opts->cpu_watts;
		snprintf(info->tdp_source, sizeof(info->tdp_source), "%.150s",
			 opts->cpu_watts_source ? opts->cpu_watts_source : "--cpu-watts");
		return;
	}
	if (info->hypervisor) {
		rq_vcpu_watts(&info->watts_per_cpu, info->tdp_source, sizeof(info->tdp_source), info->cpu_model);
		return;
	}
	if (rq_tdp_lookup(&info->tdp_watts, &matched, info->cpu_model) == 0) {
		snprintf(info->tdp_source, sizeof(info->tdp_source), "table: %.150s", matched);
	} else {
		rq_error_clear();
		info->tdp_watts = DEFAULT_TDP;
		snprintf(info->tdp_source, sizeof(info->tdp_source), "default (model not in the table)");
	}
	info->watts_per_cpu = info->tdp_watts / info->cpus_per_package;
}

int rq_meter_estimate_open(struct rq_meter_source **out, const rq_meter_opts *opts)
{
	struct estimate *e = rq_xcalloc(1, sizeof(*e));
	rq_buf_init(&e->tmp);
	rq_buf_init(&e->path);
	read_cpuinfo(e);
	e->info.active = true;
	e->info.memory_w_per_gb = RQ_MEMORY_W_PER_GB;
	choose_watts(&e->info, opts);
	e->root = opts->pid > 0 ? opts->pid : getpid();
	e->exclude_root = opts->pid <= 0;
	e->reaps = opts->reaps_tree;
	e->cg = opts->cgroup;
	long tck = sysconf(_SC_CLK_TCK);
	e->tick_s = 1.0 / (double)(tck > 0 ? tck : 100);
	long page = sysconf(_SC_PAGESIZE);
	e->page_gib = (double)(page > 0 ? page : 4096) / (1024.0 * 1024.0 * 1024.0);

	e->base.name = "estimate";
	e->base.estimated = true;
	if (e->info.tdp_watts > 0)
		snprintf(e->base.note, sizeof(e->base.note),
			 "estimate: CPU time x %.3g W per logical CPU (%s: TDP %.4g W / %u threads) + %.4g W/GiB of memory",
			 e->info.watts_per_cpu, e->info.tdp_source, e->info.tdp_watts,
			 e->info.cpus_per_package, e->info.memory_w_per_gb);
	else
		snprintf(e->base.note, sizeof(e->base.note),
			 "estimate: CPU time x %.3g W per logical CPU (%s) + %.4g W/GiB of memory",
			 e->info.watts_per_cpu, e->info.tdp_source, e->info.memory_w_per_gb);
	e->base.ndomains = 2;
	snprintf(e->base.domains[0].name, sizeof(e->base.domains[0].name), "cpu (estimate)");
	snprintf(e->base.domains[1].name, sizeof(e->base.domains[1].name), "memory (estimate)");
	e->base.start = est_start;
	e->base.sample = est_sample;
	e->base.stop = est_stop;
	e->base.free = est_free;
	*out = &e->base;
	return 0;
}

void rq_meter_estimate_info_of(rq_meter_estimate_info *out, const struct rq_meter_source *s)
{
	*out = ((const struct estimate *)s)->info;
}
