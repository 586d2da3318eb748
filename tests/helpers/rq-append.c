/* Test helper: append an entry of any type, its body read as JSON from
 * standard input, signed with the default key through the ordinary
 * rq_ledger_append (so the usual checks apply). Prints the new id.
 *   rq-append RESQUE_DIR TYPE < body.json */
#include "common.h"
#include "json.h"
#include "resque/keystore.h"
#include "ledger_int.h"

#include <sodium.h>

int main(int argc, char **argv)
{
	rq_ledger *l = NULL;
	rq_key *k = NULL;
	rq_entry *e = NULL;
	json_t *body = NULL;
	rq_buf in = RQ_BUF_INIT;
	char tmp[4096];
	size_t n;

	if (argc != 3 || sodium_init() < 0) {
		fprintf(stderr, "usage: rq-append RESQUE_DIR TYPE < body.json\n");
		return 2;
	}
	while ((n = fread(tmp, 1, sizeof(tmp), stdin)) > 0)
		rq_buf_put(&in, tmp, n);
	if (rq_json_parse(&body, in.ptr, in.len, "stdin") || rq_keystore_load(&k, NULL, getenv("RESQUE_PASSPHRASE")) ||
	    rq_ledger_open(&l, argv[1])) {
		fprintf(stderr, "rq-append: %s\n", rq_error_last());
		return 1;
	}
	rq_ledger_set_signer(l, k);
	if (rq_ledger_append(&e, l, argv[2], body, NULL, 0)) {
		fprintf(stderr, "rq-append: %s\n", rq_error_last());
		return 1;
	}
	printf("%s\n", e->id);
	rq_entry_free(e);
	rq_ledger_free(l);
	rq_key_free(k);
	rq_buf_release(&in);
	return 0;
}
