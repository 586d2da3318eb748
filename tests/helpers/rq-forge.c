/* Test helper: append a note signed by any secret key file, bypassing the
 * signer authorisation check, to make ledgers that verify must reject.
 *   rq-forge RESQUE_DIR KEYFILE MESSAGE [ATTACHMENT-FILE] */
#include "common.h"
#include "ledger_int.h"

#include <sodium.h>

int main(int argc, char **argv)
{
	rq_ledger *l = NULL;
	rq_key *k = NULL;
	rq_buf text = RQ_BUF_INIT;
	rq_buf att = RQ_BUF_INIT;
	rq_attachment a = { "data.bin", NULL, 0 };
	if (argc < 4 || argc > 5 || sodium_init() < 0) {
		fprintf(stderr, "usage: rq-forge RESQUE_DIR KEYFILE MESSAGE [ATTACHMENT]\n");
		return 2;
	}
	if (argc == 5 && rq_file_read(&att, argv[4])) {
		fprintf(stderr, "rq-forge: %s\n", rq_error_last());
		return 1;
	}
	a.data = att.ptr;
	a.len = att.len;
	if (rq_file_read(&text, argv[2]) || rq_key_decode_secret(&k, text.ptr, text.len, NULL, argv[2]) ||
	    rq_ledger_open(&l, argv[1]) ||
	    rq_ledger__append(NULL, l, "note", json_pack("{s:s}", "message", argv[3]), &a, argc == 5, k,
			      RQ_APPEND_UNCHECKED)) {
		fprintf(stderr, "rq-forge: %s\n", rq_error_last());
		return 1;
	}
	rq_ledger_free(l);
	rq_key_free(k);
	rq_buf_release(&text);
	rq_buf_release(&att);
	return 0;
}
