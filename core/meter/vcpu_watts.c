/* Watts per vCPU in a virtual machine, where /proc/cpuinfo's `siblings` is
 * the VM's own vCPU count and TDP / siblings would charge a small VM a
 * whole socket. The figures are Cloud Carbon Footprint's maximum watts per
 * vCPU by microarchitecture (power at 100 % utilisation; SPECpower
 * averages), copied from cloud-carbon-footprint/cloud-carbon-footprint,
 * packages/core/src/compute/ComputeProcessorTypes.ts and
 * packages/aws/src/domain/AwsFootprintEstimationConstants.ts
 * (Apache-2.0, © 2021 Thoughtworks, Inc.; docs/DATA.md). */
#include "common.h"
#include "meter_int.h"

#include <ctype.h>

struct vcpu_class {
	const char *name;
	double max_w; /* W per vCPU at 100 % utilisation */
};

static const struct vcpu_class classes[] = {
	{ "Intel Cascade Lake", 3.97 },
	{ "Intel Skylake", 4.26 },
	{ "Intel Broadwell", 3.69 },
	{ "Intel Haswell", 4.74 },
	{ "Intel Coffee Lake", 5.42 },
	{ "Intel Sandy Bridge", 8.58 },
	{ "Intel Ivy Bridge", 8.25 },
	{ "AMD EPYC 1st Gen", 2.55 },
	{ "AMD EPYC 2nd Gen", 1.69 },
	{ "AMD EPYC 3rd Gen", 2.02 },
};

enum { CASCADE, SKYLAKE, BROADWELL, HASWELL, COFFEE, SANDY, IVY, EPYC1, EPYC2, EPYC3, NONE };

/* CCF's MAX_WATTS_AVG for AWS: its figure for an unknown microarchitecture */
#define DEFAULT_VCPU_W 3.5

/* Lower-case copy of `s` with blanks collapsed. */
static void lower(char *out, size_t size, const char *s)
{
	size_t n = 0;
	for (; *s && n + 1 < size; s++) {
		char c = (char)tolower((unsigned char)*s);
		if (isspace((unsigned char)c))
			c = ' ';
		if (c == ' ' && (n == 0 || out[n - 1] == ' '))
			continue;
		out[n++] = c;
	}
	out[n] = '\0';
}

/* The word after `key` in `m` (up to a blank or ')'), or "". */
static void word_after(char *out, size_t size, const char *m, const char *key)
{
	const char *p = strstr(m, key);
	size_t n = 0;
	out[0] = '\0';
	if (!p)
		return;
	p += strlen(key);
	while (*p == ' ' || *p == '-')
		p++;
	while (*p && *p != ' ' && *p != ')' && *p != ',' && n + 1 < size)
		out[n++] = *p++;
	out[n] = '\0';
}

/* QEMU/KVM names the CPU model it emulates: "Intel Xeon Processor
 * (Cascadelake)", "AMD EPYC-Rome Processor". */
static int by_codename(const char *m)
{
	static const struct {
		const char *word;
		int cls;
	} names[] = {
		{ "cascadelake", CASCADE }, { "cascade lake", CASCADE }, { "skylake", SKYLAKE },
		{ "broadwell", BROADWELL }, { "haswell", HASWELL }, { "coffee lake", COFFEE },
		{ "coffeelake", COFFEE }, { "sandybridge", SANDY }, { "sandy bridge", SANDY },
		{ "ivybridge", IVY }, { "ivy bridge", IVY }, { "naples", EPYC1 },
		{ "rome", EPYC2 }, { "milan", EPYC3 },
	};
	for (size_t i = 0; i < RQ_ARRAY_SIZE(names); i++)
		if (strstr(m, names[i].word))
			return names[i].cls;
	return NONE;
}

/* AMD EPYC 7xx1/7xx2/7xx3 are the 1st/2nd/3rd generation (Naples, Rome,
 * Milan); later ones (9xx4 Genoa...) have no CCF figure. */
static int amd_class(const char *m)
{
	char w[16];
	word_after(w, sizeof(w), m, "epyc");
	size_t n = strlen(w);
	if (n == 4 && w[0] == '7') {
		switch (w[3]) {
		case '1': return EPYC1;
		case '2': return EPYC2;
		case '3': return EPYC3;
		}
	}
	return NONE;
}

/* Xeon E5/E7 vN: v2 Ivy Bridge, v3 Haswell, v4 Broadwell, none Sandy
 * Bridge; Xeon Scalable (Platinum/Gold/Silver/Bronze N1xx Skylake, N2xx
 * Cascade Lake); Xeon E-21xx Coffee Lake. */
static int intel_class(const char *m)
{
	static const char *const tiers[] = { "platinum", "gold", "silver", "bronze" };
	char w[16];
	for (size_t i = 0; i < RQ_ARRAY_SIZE(tiers); i++) {
		word_after(w, sizeof(w), m, tiers[i]);
		if (strlen(w) >= 4 && isdigit((unsigned char)w[0]) && (w[1] == '1' || w[1] == '2'))
			return w[1] == '1' ? SKYLAKE : CASCADE;
	}
	if (strstr(m, " e5-") || strstr(m, " e7-")) {
		if (strstr(m, " v2"))
			return IVY;
		if (strstr(m, " v3"))
			return HASWELL;
		if (strstr(m, " v4"))
			return BROADWELL;
		if (!strstr(m, " v"))
			return SANDY;
	}
	if (strstr(m, " e-21"))
		return COFFEE;
	return NONE;
}

void rq_vcpu_watts(double *out, char *what, size_t size, const char *model)
{
	char m[RQ_METER_CPU_MODEL_SIZE + 2];
	int cls;

	m[0] = ' ';
	lower(m + 1, sizeof(m) - 1, model);
	cls = by_codename(m);
	if (cls == NONE && strstr(m, " epyc"))
		cls = amd_class(m);
	if (cls == NONE && strstr(m, "intel"))
		cls = intel_class(m);
	if (cls != NONE) {
		*out = classes[cls].max_w;
		snprintf(what, size, "vm: per-vCPU coefficient of %s (Cloud Carbon Footprint)", classes[cls].name);
	} else if (strstr(m, " epyc")) {
		*out = (classes[EPYC1].max_w + classes[EPYC2].max_w + classes[EPYC3].max_w) / 3;
		snprintf(what, size,
			 "vm: per-vCPU coefficient for AMD EPYC (mean of Cloud Carbon Footprint's EPYC 1st-3rd Gen)");
	} else {
		*out = DEFAULT_VCPU_W;
		snprintf(what, size, "vm: default %.3g W per vCPU (Cloud Carbon Footprint's AWS average; model not classified)",
			 DEFAULT_VCPU_W);
	}
}
