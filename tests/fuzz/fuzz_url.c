/* libFuzzer target: the remote URLs and names that sync takes from the
 * command line and .resque/config (store/sync.h): the check that keeps
 * control characters (decoded or not) away from git's credential helpers,
 * the local-path reading of a URL, and remote names. A URL that passes the
 * check must hold no control character once %XX-decoded. */
#include "common.h"
#include "sync.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = rq_xcalloc(size + 1, 1);
	memcpy(s, data, size);
	size_t len = strlen(s); /* the URL is a C string: up to its first NUL */

	if (rq_remote_url_check(s) == 0) {
		/* nothing that could end a line of the credential protocol */
		for (size_t i = 0; i < len; i++) {
			unsigned c = (unsigned char)s[i];
			if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0)
				c = (unsigned)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			if (c < 0x20 || c == 0x7f)
				__builtin_trap();
		}
	}
	rq_error_clear();
	free(rq_remote_local_path(s));
	(void)rq_remote_name_valid(s);
	free(s);
	return 0;
}
