/* Parameter change between two weight files (docs/METHOD.md): for each
 * floating-point tensor present in both, ||w - w0||_2 / sqrt(n) with n its
 * number of elements, and the mean over those tensors. */
#ifndef RESQUE_TENSORS_H
#define RESQUE_TENSORS_H

#include <stddef.h>
#include <stdint.h>

typedef struct rq_param_change {
	char *name;
	double change;     /* ||w - w0||_2 / sqrt(n) */
	uint64_t elements;
} rq_param_change;

typedef struct rq_param_diff {
	rq_param_change *v; /* tensors in both files, sorted by name */
	size_t n;
	double mean;        /* mean of v[i].change (0 when n == 0) */
	char **only_from;   /* tensors of the first file only */
	size_t nonly_from;
	char **only_to;     /* tensors of the second file only */
	size_t nonly_to;
	char **skipped;     /* in both but not floating point (e.g. counters) */
	size_t nskipped;
} rq_param_diff;

/* Compare safetensors files `from` and `to`. A tensor whose element count
 * differs between them is an error naming it. Streams blocks: memory does
 * not grow with the tensors' size. */
int rq_param_diff_compute(rq_param_diff *out, const char *from, const char *to);
void rq_param_diff_release(rq_param_diff *d);

#endif
