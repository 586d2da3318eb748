/* libFuzzer target: the CSV reader over arbitrary bytes, with and without
 * trimming, plus the header lookup on every row. */
#include "common.h"
#include "csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int trim = 0; trim < 2; trim++) {
		rq_csv *c = NULL;
		size_t nf, rows = 0;
		const char *const *f;
		if (rq_csv_open_buffer(&c, (const char *)data, size, "fuzz.csv") != 0)
			abort();
		rq_csv_set_trim(c, trim);
		while (rq_csv_next(c, &nf, &f) == 1) {
			if (nf == 0 || rq_csv_line(c) == 0)
				abort();
			for (size_t i = 0; i < nf; i++)
				if (strlen(f[i]) > size)
					abort();
			rq_csv_column(nf, f, "power.draw");
			if (++rows > size + 1)
				abort();
		}
		rq_csv_free(c);
	}
	return 0;
}
