/* libFuzzer target: verify's memory files as the guard reads them — the
 * text of known_ledgers and of known/REPOSITORY.state — written to a
 * private $RESQUE_HOME and read back through rq_known_get and
 * rq_known_state_get. The first byte picks the file. */
#include "common.h"
#include "known.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char REPO[] = "00112233445566778899aabbccddeeff";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char home[64];
	char path[160];

	if (!home[0]) {
		snprintf(home, sizeof(home), "/tmp/fuzz-known.%ld", (long)getpid());
		mkdir(home, 0700);
		snprintf(path, sizeof(path), "%s/known", home);
		mkdir(path, 0700);
		setenv("RESQUE_HOME", home, 1);
	}
	if (size < 1)
		return 0;
	bool state = data[0] & 1;
	if (state)
		snprintf(path, sizeof(path), "%s/known/%s.state", home, REPO);
	else
		snprintf(path, sizeof(path), "%s/known_ledgers", home);
	FILE *f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data + 1, 1, size - 1, f);
	fclose(f);
	if (state) {
		rq_known_state st;
		if (rq_known_state_get(&st, REPO, home) == 0)
			rq_known_state_release(&st);
	} else {
		rq_known k;
		rq_known_get(&k, NULL, REPO);
	}
	rq_error_clear();
	unlink(path);
	return 0;
}
