/* Test program: print an array as the library reads it, for comparison with
 * numpy.  rq-array-dump [--tensor NAME] [--labels] [--f64] [--block N] FILE
 * prints "ROWS COLS DTYPE" then one line per row, values as %.17g (labels
 * as integers); on error the message on stderr and exit 1.
 * rq-array-dump [--tensor NAME] --pair LABELS EMB opens both through
 * rq_array_open_pair and prints "ROWS COLS" of the embeddings. */
#include "common.h"
#include "resque/array.h"

int main(int argc, char **argv)
{
	const char *tensor = NULL, *path = NULL, *pair = NULL;
	bool labels = false, f64 = false;
	size_t block = 7; /* odd on purpose: blocks straddle nothing special */
	rq_array *a = NULL, *y = NULL;
	void *buf = NULL;
	int err = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--tensor") && i + 1 < argc)
			tensor = argv[++i];
		else if (!strcmp(argv[i], "--labels"))
			labels = true;
		else if (!strcmp(argv[i], "--pair") && i + 1 < argc)
			pair = argv[++i];
		else if (!strcmp(argv[i], "--f64"))
			f64 = true;
		else if (!strcmp(argv[i], "--block") && i + 1 < argc)
			block = strtoul(argv[++i], NULL, 10);
		else if (!path)
			path = argv[i];
		else
			path = NULL, i = argc;
	}
	if (!path || block == 0) {
		fprintf(stderr, "usage: rq-array-dump [--tensor NAME] [--labels] [--f64] [--pair LABELS] "
			"[--block N] FILE\n");
		return 2;
	}
	if (pair) {
		if ((err = rq_array_open_pair(&a, &y, path, pair, tensor)))
			goto done;
		printf("%zu %zu\n", rq_array_rows(a), rq_array_cols(a));
		goto done;
	}
	if ((err = rq_array_open(&a, path, tensor)))
		goto done;
	size_t rows = rq_array_rows(a), cols = rq_array_cols(a);
	printf("%zu %zu %s\n", rows, cols, rq_dtype_name(rq_array_dtype(a)));
	buf = rq_xmalloc(block * cols * (labels ? sizeof(int64_t) : sizeof(double)));
	for (size_t r0 = 0; r0 < rows; r0 += block) {
		size_t m = rows - r0 < block ? rows - r0 : block;
		if (labels)
			err = rq_array_read_labels(a, r0, m, buf);
		else if (f64)
			err = rq_array_read_f64(a, r0, m, buf);
		else
			err = rq_array_read_f32(a, r0, m, buf);
		if (err)
			goto done;
		for (size_t i = 0; i < m; i++) {
			for (size_t j = 0; j < (labels ? 1 : cols); j++) {
				const char *sep = j ? " " : "";
				if (labels)
					printf("%s%" PRId64, sep, ((int64_t *)buf)[i]);
				else if (f64)
					printf("%s%.17g", sep, ((double *)buf)[i * cols + j]);
				else
					printf("%s%.17g", sep, (double)((float *)buf)[i * cols + j]);
			}
			putchar('\n');
		}
	}
done:
	if (err)
		fprintf(stderr, "%s\n", rq_error_last());
	free(buf);
	rq_array_free(a);
	rq_array_free(y);
	if (fflush(stdout) != 0 || ferror(stdout))
		return 1;
	return err ? 1 : 0;
}
