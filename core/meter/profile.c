/* The machine's default hardware profile (docs/FORMATS.md "Hardware
 * profiles"): the CPU model and logical CPU count of /proc/cpuinfo, and the
 * GPUs NVML shows, grouped by name: "cpu:AMD EPYC 7B13 x8; gpu:NVIDIA
 * A100-SXM4-40GB x4". */
#include "common.h"
#include "meter_int.h"

#include <ctype.h>
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

/* "cpu:MODEL xN" from cpuinfo: the first model name, the processors. */
static void put_cpu(rq_buf *out)
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
	rq_buf_puts(out, "cpu:");
	put_clean(out, model ? model : "", model ? model_len : 0);
	rq_buf_printf(out, " x%lu", processors);
	rq_buf_release(&path);
	rq_buf_release(&text);
}

static int by_name(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

void rq_meter_machine_profile(rq_buf *out)
{
	char (*names)[RQ_GPU_NAME_SIZE] = rq_xcalloc(MAX_GPUS, sizeof(*names));
	size_t n;

	rq_buf_reset(out);
	put_cpu(out);
	n = rq_meter_nvml_names(names, MAX_GPUS);
	qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && !strcmp(names[j], names[i]))
			j++;
		rq_buf_puts(out, "; gpu:");
		put_clean(out, names[i], strlen(names[i]));
		rq_buf_printf(out, " x%zu", j - i);
		i = j;
	}
	free(names);
}
