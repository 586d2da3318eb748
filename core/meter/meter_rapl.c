/* RAPL energy counters of Intel and AMD CPUs through the powercap sysfs
 * interface: package and DRAM zones, with counter wrap-around. */
#include "common.h"
#include "meter_int.h"

#include <dirent.h>

struct rapl_zone {
	char energy_path[512];
	uint64_t max_range; /* µJ; 0 when unknown */
	uint64_t prev;
};

struct rapl {
	struct rq_meter_source base;
	struct rapl_zone zones[RQ_METER_MAX_DOMAINS];
	rq_buf tmp;
};

static int read_u64(uint64_t *out, rq_buf *tmp, const char *path)
{
	int err = rq_meter_read_small(tmp, path);
	if (err < 0)
		return err;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(tmp->ptr, &end, 10);
	while (*end == '\n' || *end == ' ')
		end++;
	if (errno || end == tmp->ptr || *end != '\0' || tmp->ptr[0] == '-')
		return rq_error_set(RQ_EINVALID, "%s: not a counter value", path);
	*out = v;
	return 0;
}

static int read_counter(struct rapl *r, struct rapl_zone *z, uint64_t *out)
{
	int err = read_u64(out, &r->tmp, z->energy_path);
	if (err < 0)
		return err;
	if (z->max_range && *out > z->max_range)
		return rq_error_set(RQ_EINVALID, "%s: %" PRIu64 " exceeds max_energy_range_uj",
				    z->energy_path, *out);
	return 0;
}

/* The energy since the previous reading, across a wrap of the counter. */
static double advance(struct rapl_zone *z, uint64_t cur)
{
	uint64_t delta;
	if (cur >= z->prev)
		delta = cur - z->prev;
	else if (z->max_range)
		delta = (z->max_range - z->prev) + cur;
	else
		delta = cur; /* counter reset with an unknown range */
	z->prev = cur;
	return (double)delta * 1e-6;
}

static int rapl_start(struct rq_meter_source *s, double now)
{
	struct rapl *r = (struct rapl *)s;
	for (size_t i = 0; i < s->ndomains; i++) {
		int err = read_counter(r, &r->zones[i], &r->zones[i].prev);
		if (err < 0)
			return err;
		s->domains[i].joules = 0;
	}
	return 0;
}

static int rapl_sample(struct rq_meter_source *s, double now)
{
	struct rapl *r = (struct rapl *)s;
	for (size_t i = 0; i < s->ndomains; i++) {
		uint64_t cur = 0; /* set on success: gcc -O3 cannot tell */
		int err = read_counter(r, &r->zones[i], &cur);
		if (err < 0)
			return err;
		s->domains[i].joules += advance(&r->zones[i], cur);
	}
	return 0;
}

static void rapl_free(struct rq_meter_source *s)
{
	struct rapl *r = (struct rapl *)s;
	if (!r)
		return;
	rq_buf_release(&r->tmp);
	free(r);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The zone directories under `root`, sorted: "intel-rapl:N" and
 * "intel-rapl:N:M" (caller frees each and the array). */
static int list_zones(char ***out, size_t *n, const char *root)
{
	DIR *dir = opendir(root);
	char **names = NULL;
	size_t nnames = 0, alloc = 0;

	*out = NULL;
	*n = 0;
	if (!dir)
		return rq_error_os("rapl: %s", root);
	for (struct dirent *de; (de = readdir(dir));) {
		unsigned a, b;
		char extra;
		if (sscanf(de->d_name, "intel-rapl:%u%c", &a, &extra) != 1 &&
		    sscanf(de->d_name, "intel-rapl:%u:%u%c", &a, &b, &extra) != 2)
			continue;
		RQ_ALLOC_GROW(names, nnames + 1, alloc);
		names[nnames++] = rq_xstrdup(de->d_name);
	}
	closedir(dir);
	if (nnames)
		qsort(names, nnames, sizeof(*names), cmp_names);
	*out = names;
	*n = nnames;
	return 0;
}

/* Zones counted: top-level packages ("package-N") and DRAM zones; core,
 * uncore and psys overlap the package and are left out. 0 whether zone
 * `name` was added or left out; an error when its counter cannot be read,
 * which makes RAPL unusable. */
static int add_zone(struct rapl *r, const char *root, const char *name, rq_buf *path)
{
	char zname[48];

	rq_buf_reset(path);
	rq_buf_printf(path, "%s/%s/name", root, name);
	if (rq_meter_read_small(&r->tmp, path->ptr) < 0)
		return 0;
	size_t zl = strcspn(r->tmp.ptr, "\n");
	if (zl == 0 || zl >= sizeof(zname))
		return 0;
	memcpy(zname, r->tmp.ptr, zl);
	zname[zl] = '\0';
	bool package = !strncmp(zname, "package", 7);
	if (!package && strcmp(zname, "dram"))
		return 0;

	struct rapl_zone *z = &r->zones[r->base.ndomains];
	rq_meter_domain *d = &r->base.domains[r->base.ndomains];
	unsigned pkg = 0;
	sscanf(name, "intel-rapl:%u", &pkg);
	if (package)
		snprintf(d->name, sizeof(d->name), "%s", zname);
	else
		snprintf(d->name, sizeof(d->name), "dram-%u", pkg);
	snprintf(z->energy_path, sizeof(z->energy_path), "%s/%s/energy_uj", root, name);
	rq_buf_reset(path);
	rq_buf_printf(path, "%s/%s/max_energy_range_uj", root, name);
	if (read_u64(&z->max_range, &r->tmp, path->ptr) < 0)
		z->max_range = 0;
	uint64_t probe;
	if (read_u64(&probe, &r->tmp, z->energy_path) < 0) {
		if (errno == EACCES || errno == EPERM)
			return rq_error_set(RQ_EUNSUPPORTED,
					    "rapl: %s: permission denied (readable by root only since Linux 5.10)",
					    z->energy_path);
		return rq_error_prefix(RQ_EUNSUPPORTED, "rapl: ");
	}
	r->base.ndomains++;
	return 0;
}

int rq_meter_rapl_open(struct rq_meter_source **out)
{
	struct rapl *r = rq_xcalloc(1, sizeof(*r));
	rq_buf root = RQ_BUF_INIT, path = RQ_BUF_INIT;
	char **names = NULL;
	size_t nnames = 0;
	int err;
	const char *sysfs = getenv("RESQUE_SYSFS_ROOT");

	*out = NULL;
	rq_buf_init(&r->tmp);
	rq_buf_printf(&root, "%s/sys/class/powercap", sysfs ? sysfs : "");
	if ((err = list_zones(&names, &nnames, root.ptr)))
		goto done;
	for (size_t i = 0; i < nnames && r->base.ndomains < RQ_METER_MAX_DOMAINS; i++)
		if ((err = add_zone(r, root.ptr, names[i], &path)))
			goto done;
	if (r->base.ndomains == 0) {
		err = rq_error_set(RQ_ENOTFOUND, "rapl: no package or dram zone under %s", root.ptr);
		goto done;
	}
	r->base.name = "rapl";
	r->base.estimated = false;
	r->base.start = rapl_start;
	r->base.sample = rapl_sample;
	r->base.stop = rapl_sample;
	r->base.free = rapl_free;
	*out = &r->base;
	r = NULL;
done:
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	rq_buf_release(&root);
	rq_buf_release(&path);
	rapl_free(r ? &r->base : NULL);
	return err;
}
