/* Benchmark program: stream an embeddings file through rq_array_read_f32
 * (or _f64) in row blocks and print the throughput over the file's bytes.
 *   rq-array-bench [--f64] [--repeat N] FILE
 * prints "BYTES SECONDS GB/s" for the best of N passes. */
#include "common.h"
#include "resque/array.h"

#include <sys/stat.h>
#include <time.h>

#define BLOCK_BYTES (1u << 20) /* output block: fits in L2/L3 */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	bool f64 = false;
	int repeat = 3, err = 0;
	rq_array *a = NULL;
	void *buf = NULL;
	double best = 0, check = 0;
	struct stat st;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--f64"))
			f64 = true;
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
			repeat = atoi(argv[++i]);
		else
			path = argv[i];
	}
	if (!path || repeat < 1) {
		fprintf(stderr, "usage: rq-array-bench [--f64] [--repeat N] FILE\n");
		return 2;
	}
	if (stat(path, &st) < 0) {
		perror(path);
		return 1;
	}
	size_t width = f64 ? sizeof(double) : sizeof(float);
	for (int r = 0; r < repeat && !err; r++) {
		double t0 = now();
		if ((err = rq_array_open(&a, path, NULL)))
			break;
		size_t rows = rq_array_rows(a), cols = rq_array_cols(a);
		size_t block = BLOCK_BYTES / (cols * width) + 1;
		if (!buf)
			buf = rq_xmalloc(block * cols * width);
		for (size_t r0 = 0; r0 < rows && !err; r0 += block) {
			size_t m = rows - r0 < block ? rows - r0 : block;
			err = f64 ? rq_array_read_f64(a, r0, m, buf) : rq_array_read_f32(a, r0, m, buf);
			check += f64 ? ((double *)buf)[0] : ((float *)buf)[0];
		}
		rq_array_free(a);
		a = NULL;
		double t = now() - t0;
		if (best == 0 || t < best)
			best = t;
	}
	if (err) {
		fprintf(stderr, "%s\n", rq_error_last());
		free(buf);
		return 1;
	}
	printf("%jd %.4f %.2f\n", (intmax_t)st.st_size, best, (double)st.st_size / best / 1e9);
	fprintf(stderr, "(checksum %g)\n", check);
	free(buf);
	return 0;
}
