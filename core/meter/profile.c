/* The machine's default hardware profile (docs/FORMATS.md "Hardware
 * profiles"): the CPU model and logical CPU count of /proc/cpuinfo, and the
 * GPUs NVML shows, grouped by name: "cpu:AMD EPYC 7B13 x8; gpu:NVIDIA
 * A100-SXM4-40GB x4"; and the same as JSON for an entry's provenance. */
#include "common.h"
#include "meter_int.h"

#include <ctype.h>
#include <jansson.h>
#include <unistd.h>

#define MAX_GPUS 64

/* Append `s` (`len` bytes) with blanks collapsed, control characters and
 * the separators ';' blanked, and no leading or trailing blank. */
static void put_clean(rq_buf *out, const char *s, size_t len)
{
	bool blank = false, any = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || c == ';' || isspace(c)) {
			blank = any;
			continue;
		}
		if (blank)
			rq_buf_putc(out, ' ');
		rq_buf_putc(out, (char)c);
		blank = false;
		any = true;
	}
	if (!any)
		rq_buf_puts(out, "unknown");
}

/* The machine as the profile and the provenance name it: the CPU model
 * (cleaned, "unknown" when cpuinfo has none), its logical CPUs, and NVML's
 * GPU names, sorted (several of a name in a row). */
struct machine {
	rq_buf cpu;
	unsigned long cpus;
	char (*gpus)[RQ_GPU_NAME_SIZE];
	size_t ngpus;
};

/* The first model name and the processors of cpuinfo. */
static void read_cpu(struct machine *m)
{
	rq_buf path = RQ_BUF_INIT, text = RQ_BUF_INIT;
	const char *model = NULL;
	size_t model_len = 0;
	unsigned long processors = 0;

	rq_buf_printf(&path, "%s/cpuinfo", rq_meter_proc_root());
	if (rq_meter_read_small(&text, path.ptr) == 0) {
		for (const char *line = text.ptr; *line;) {
			size_t len = strcspn(line, "\n");
			const char *colon = memchr(line, ':', len);
			size_t klen = colon ? (size_t)(colon - line) : 0;
			while (klen && isspace((unsigned char)line[klen - 1]))
				klen--;
			if (colon && klen == 9 && !strncmp(line, "processor", 9))
				processors++;
			else if (colon && klen == 10 && !strncmp(line, "model name", 10) && !model) {
				model = colon + 1;
				model_len = (size_t)(line + len - model);
			}
			line += len + (line[len] == '\n');
		}
	}
	rq_error_clear();
	if (!processors) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		processors = n > 0 ? (unsigned long)n : 1;
	}
	put_clean(&m->cpu, model ? model : "", model ? model_len : 0);
	m->cpus = processors;
	rq_buf_release(&path);
	rq_buf_release(&text);
}

static int by_name(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static void machine_read(struct machine *m)
{
	m->cpu = (rq_buf)RQ_BUF_INIT;
	read_cpu(m);
	m->gpus = rq_xcalloc(MAX_GPUS, sizeof(*m->gpus));
	m->ngpus = rq_meter_nvml_names(m->gpus, MAX_GPUS);
	qsort(m->gpus, m->ngpus, sizeof(*m->gpus), by_name);
}

static void machine_release(struct machine *m)
{
	rq_buf_release(&m->cpu);
	free(m->gpus);
}

/* The GPUs named like gpus[i]: from i up to the returned index. */
static size_t same_name_end(const struct machine *m, size_t i)
{
	size_t j = i;
	while (j < m->ngpus && !strcmp(m->gpus[j], m->gpus[i]))
		j++;
	return j;
}

void rq_meter_machine_profile(rq_buf *out)
{
	struct machine m;

	machine_read(&m);
	rq_buf_reset(out);
	rq_buf_printf(out, "cpu:%s x%lu", m.cpu.ptr, m.cpus);
	for (size_t i = 0, j; i < m.ngpus; i = j) {
		j = same_name_end(&m, i);
		rq_buf_puts(out, "; gpu:");
		put_clean(out, m.gpus[i], strlen(m.gpus[i]));
		rq_buf_printf(out, " x%zu", j - i);
	}
	machine_release(&m);
}

/* A JSON string of `s`; bytes of a name that is not UTF-8 become '?'. */
static json_t *json_text(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	char *copy = rq_xstrdup(s);
	for (char *c = copy; *c; c++)
		if ((unsigned char)*c >= 0x80)
			*c = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

json_t *rq_meter_machine_json(void)
{
	struct machine m;
	rq_buf name = RQ_BUF_INIT;
	json_t *gpus = json_array();

	machine_read(&m);
	json_t *hw = json_pack("{s:{s:o, s:I}}", "cpu", "model", json_text(m.cpu.ptr), "count", (json_int_t)m.cpus);
	for (size_t i = 0, j; i < m.ngpus; i = j) {
		j = same_name_end(&m, i);
		rq_buf_reset(&name);
		put_clean(&name, m.gpus[i], strlen(m.gpus[i]));
		json_array_append_new(gpus, json_pack("{s:o, s:I}", "model", json_text(name.ptr), "count", (json_int_t)(j - i)));
	}
	if (json_array_size(gpus))
		json_object_set(hw, "gpus", gpus);
	json_decref(gpus);
	rq_buf_release(&name);
	machine_release(&m);
	return hw;
}
