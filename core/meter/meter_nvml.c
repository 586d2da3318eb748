/* NVIDIA GPU energy through NVML, loaded with dlopen so resque neither
 * links nor needs the driver: the total-energy counter (Volta and later)
 * or the power reading integrated over time (trapezoid). */
#include "common.h"
#include "meter_int.h"
#include "bounds.h"

#include <dlfcn.h>

typedef int nvml_ret;
typedef void *nvml_dev;

#define NVML_MAX_GPUS 32

struct gpu {
	nvml_dev dev;
	bool has_energy;
	unsigned long long e0;   /* mJ at start */
	double prev_w, prev_t;   /* last power reading, for the trapezoid */
	bool have_prev;
};

struct nvml {
	struct rq_meter_source base;
	void *lib;
	nvml_ret (*shutdown)(void);
	nvml_ret (*energy)(nvml_dev, unsigned long long *);
	nvml_ret (*power)(nvml_dev, unsigned int *);
	nvml_ret (*name)(nvml_dev, char *, unsigned int); /* may be NULL */
	struct gpu gpus[NVML_MAX_GPUS];
};

static int read_gpu(struct nvml *n, size_t i, double now, bool first)
{
	struct gpu *g = &n->gpus[i];
	rq_meter_domain *d = &n->base.domains[i];
	if (g->has_energy) {
		unsigned long long e;
		if (n->energy(g->dev, &e) != 0)
			return 0; /* a missed reading: the next one catches up */
		if (first)
			g->e0 = e;
		else if (e >= g->e0)
			d->joules = (double)(e - g->e0) * 1e-3;
		return 0;
	}
	unsigned int mw;
	if (n->power(g->dev, &mw) != 0)
		return 0;
	double w = mw * 1e-3;
	const rq_bound *b = rq_bound_lookup("power_w");
	if (b && w > b->hi)
		return 0; /* an implausible reading: skipped like a missed one */
	if (g->have_prev && now > g->prev_t)
		d->joules += 0.5 * (w + g->prev_w) * (now - g->prev_t);
	g->prev_w = w;
	g->prev_t = now;
	g->have_prev = true;
	return 0;
}

static int nvml_start(struct rq_meter_source *s, double now)
{
	struct nvml *n = (struct nvml *)s;
	for (size_t i = 0; i < s->ndomains; i++) {
		s->domains[i].joules = 0;
		n->gpus[i].have_prev = false;
		read_gpu(n, i, now, true);
	}
	return 0;
}

static int nvml_sample(struct rq_meter_source *s, double now)
{
	struct nvml *n = (struct nvml *)s;
	for (size_t i = 0; i < s->ndomains; i++)
		read_gpu(n, i, now, false);
	return 0;
}

static void nvml_free(struct rq_meter_source *s)
{
	struct nvml *n = (struct nvml *)s;
	if (!n)
		return;
	if (n->lib) {
		if (n->shutdown)
			n->shutdown();
		dlclose(n->lib);
	}
	free(n);
}

/* CUDA_VISIBLE_DEVICES: indices or GPU-UUIDs, comma-separated; as CUDA
 * does, the list stops at the first entry that is neither. NULL when the
 * variable is unset (every GPU is visible). */
static int add_visible(struct nvml *n, const char *list, unsigned count,
		       nvml_ret (*by_index)(unsigned, nvml_dev *),
		       nvml_ret (*by_uuid)(const char *, nvml_dev *))
{
	char item[96];
	const char *p = list;
	while (*p && n->base.ndomains < NVML_MAX_GPUS) {
		size_t len = strcspn(p, ",");
		if (len == 0 || len >= sizeof(item))
			break;
		memcpy(item, p, len);
		item[len] = '\0';
		char *s = item;
		while (*s == ' ')
			s++;
		nvml_dev dev = NULL;
		char *end;
		errno = 0;
		unsigned long idx = strtoul(s, &end, 10);
		if (end != s && *end == '\0' && !errno) {
			if (idx >= count || by_index((unsigned)idx, &dev) != 0)
				break;
			snprintf(n->base.domains[n->base.ndomains].name, sizeof(n->base.domains[0].name),
				 "gpu%lu", idx);
		} else if (!strncmp(s, "GPU-", 4) && by_uuid && by_uuid(s, &dev) == 0) {
			snprintf(n->base.domains[n->base.ndomains].name, sizeof(n->base.domains[0].name),
				 "%.60s", s);
		} else {
			break;
		}
		n->gpus[n->base.ndomains++].dev = dev;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

int rq_meter_nvml_open(struct rq_meter_source **out)
{
	struct nvml *n = rq_xcalloc(1, sizeof(*n));
	const char *path = getenv("RESQUE_NVML_LIB");
	int err = 0;
	nvml_ret (*init)(void);
	nvml_ret (*count_fn)(unsigned *);
	nvml_ret (*by_index)(unsigned, nvml_dev *);
	nvml_ret (*by_uuid)(const char *, nvml_dev *);

	*out = NULL;
	if (!path || !*path)
		path = "libnvidia-ml.so.1";
	if (!(n->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
		err = rq_error_set(RQ_ENOTFOUND, "nvml: %s: cannot be loaded", path);
		goto done;
	}
	*(void **)&init = dlsym(n->lib, "nvmlInit_v2");
	*(void **)&n->shutdown = dlsym(n->lib, "nvmlShutdown");
	*(void **)&count_fn = dlsym(n->lib, "nvmlDeviceGetCount_v2");
	*(void **)&by_index = dlsym(n->lib, "nvmlDeviceGetHandleByIndex_v2");
	*(void **)&by_uuid = dlsym(n->lib, "nvmlDeviceGetHandleByUUID");
	*(void **)&n->energy = dlsym(n->lib, "nvmlDeviceGetTotalEnergyConsumption");
	*(void **)&n->power = dlsym(n->lib, "nvmlDeviceGetPowerUsage");
	*(void **)&n->name = dlsym(n->lib, "nvmlDeviceGetName");
	if (!init || !count_fn || !by_index || !n->power) {
		err = rq_error_set(RQ_EUNSUPPORTED, "nvml: %s: missing NVML functions", path);
		goto done;
	}
	nvml_ret rc = init();
	if (rc != 0) {
		n->shutdown = NULL; /* nothing to shut down */
		err = rq_error_set(RQ_EUNSUPPORTED, "nvml: nvmlInit failed (error %d)", rc);
		goto done;
	}
	unsigned count = 0;
	if (count_fn(&count) != 0)
		count = 0;
	const char *visible = getenv("CUDA_VISIBLE_DEVICES");
	if (visible) {
		add_visible(n, visible, count, by_index, by_uuid);
	} else {
		for (unsigned i = 0; i < count && n->base.ndomains < NVML_MAX_GPUS; i++) {
			nvml_dev dev;
			if (by_index(i, &dev) != 0)
				continue;
			snprintf(n->base.domains[n->base.ndomains].name,
				 sizeof(n->base.domains[0].name), "gpu%u", i);
			n->gpus[n->base.ndomains++].dev = dev;
		}
	}
	if (n->base.ndomains == 0) {
		err = rq_error_set(RQ_ENOTFOUND, "nvml: no visible GPU");
		goto done;
	}
	for (size_t i = 0; i < n->base.ndomains; i++) {
		unsigned long long e;
		n->gpus[i].has_energy = n->energy && n->energy(n->gpus[i].dev, &e) == 0;
		if (!n->gpus[i].has_energy) {
			size_t used = strlen(n->base.note);
			snprintf(n->base.note + used, sizeof(n->base.note) - used,
				 "%snvml: %s has no energy counter; integrating its power readings",
				 used ? "\n" : "", n->base.domains[i].name);
		}
	}
	n->base.name = "nvml";
	n->base.start = nvml_start;
	n->base.sample = nvml_sample;
	n->base.stop = nvml_sample;
	n->base.free = nvml_free;
	*out = &n->base;
	n = NULL;
done:
	nvml_free(n ? &n->base : NULL);
	return err;
}

size_t rq_meter_nvml_names(char (*names)[RQ_GPU_NAME_SIZE], size_t max)
{
	struct rq_meter_source *s = NULL;
	size_t k = 0;

	if (rq_meter_nvml_open(&s) < 0) {
		rq_error_clear();
		return 0;
	}
	struct nvml *n = (struct nvml *)s;
	for (size_t i = 0; i < s->ndomains && k < max; i++) {
		names[k][0] = '\0';
		if (!n->name || n->name(n->gpus[i].dev, names[k], RQ_GPU_NAME_SIZE) != 0)
			snprintf(names[k], RQ_GPU_NAME_SIZE, "unknown GPU");
		names[k][RQ_GPU_NAME_SIZE - 1] = '\0';
		k++;
	}
	nvml_free(s);
	return k;
}
