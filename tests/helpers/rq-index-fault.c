/* Test helper: fault injection for index.db reads. Opens the ledger, then
 * shadows index.db's `entries` table with a temporary view (on the same
 * connection, nothing written to the file) whose rows fail when a
 * statement steps over them ("integer overflow"): every statement still
 * prepares, and its sqlite3_step fails. Then it calls the functions that
 * read `entries` and prints, one line each, what they returned:
 *   NAME CODE MESSAGE
 * CODE is the rq error code (0, -2 not found, -7 I/O, ...).
 *   rq-index-fault RESQUE_DIR REF KEYID */
#include "common.h"
#include "ledger_int.h"

#include <sodium.h>
#include <sqlite3.h>

static void report(const char *what, int err)
{
	printf("%s %d %s\n", what, err, err ? rq_error_last() : "ok");
	rq_error_clear();
}

int main(int argc, char **argv)
{
	rq_ledger *l = NULL;
	rq_entry *e = NULL;
	rq_verify_report r = { 0 };
	uint8_t pk[32];
	bool revoked;
	char *msg = NULL;
	int err;

	if (argc != 4 || sodium_init() < 0) {
		fprintf(stderr, "usage: rq-index-fault RESQUE_DIR REF KEYID\n");
		return 2;
	}
	if (rq_ledger_open(&l, argv[1])) {
		fprintf(stderr, "rq-index-fault: %s\n", rq_error_last());
		return 1;
	}
	/* The view's every column overflows when evaluated; temp objects
	 * shadow main ones, so index.db itself stays as it was. */
	const char *bad = "abs(-9223372036854775807 - 1)";
	char sql[1024];
	snprintf(sql, sizeof(sql),
		 "CREATE TEMP VIEW entries AS SELECT %s AS seq, %s AS id, %s AS commit_oid, %s AS type,"
		 " %s AS time, %s AS signer, %s AS name, %s AS summary, %s AS entry",
		 bad, bad, bad, bad, bad, bad, bad, bad, bad);
	if (sqlite3_exec(rq_ledger_db(l), sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "rq-index-fault: %s\n", msg);
		sqlite3_free(msg);
		rq_ledger_free(l);
		return 1;
	}
	err = rq_ledger_lookup(&e, l, argv[2], NULL);
	rq_entry_free(e);
	report("lookup", err);
	err = rq_ledger_signer(pk, &revoked, l, argv[3]);
	report("signer", err);
	err = rq_ledger_verify(&r, l);
	report("verify", err);
	for (size_t i = 0; i < r.nproblems; i++)
		printf("problem %s\n", r.problems[i].message);
	rq_verify_report_release(&r);
	rq_ledger_free(l);
	return 0;
}
