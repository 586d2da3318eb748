/* Private to store/ and to tests: lower-level ledger access. */
#ifndef RESQUE_LEDGER_INT_H
#define RESQUE_LEDGER_INT_H

#include "resque/ledger.h"
#include <git2.h>

struct rq_ledger {
	char *dir;          /* absolute path of .resque */
	git_repository *repo;
	sqlite3 *db;
	const rq_key *signer;
	bool index_rebuilt; /* the last open found index.db missing or stale */
	char *index_memory; /* why the index lives in memory (index.db unusable), or NULL */
	int index_memory_code; /* the RQ_E* code writers refuse with then */
};

#define RQ_APPEND_UNCHECKED 1u /* skip the signer authorisation check (tests) */

int rq_ledger__append(rq_entry **out, rq_ledger *l, const char *type, json_t *body,
		      const rq_attachment *att, size_t natt, const rq_key *signer,
		      unsigned flags);

/* index.db (store/index.c) */
int rq_index_open(rq_ledger *l);
/* An empty index in memory, for readers when index.db cannot be used. */
int rq_index_open_memory(rq_ledger *l);
int rq_index_tip(rq_buf *out_commit_hex, rq_ledger *l);
int rq_index_insert(rq_ledger *l, const rq_entry *e, const char *commit_hex);
int rq_index_set_tip(rq_ledger *l, const char *commit_hex);
int rq_index_begin(rq_ledger *l);
int rq_index_commit(rq_ledger *l);
void rq_index_rollback(rq_ledger *l);
int rq_index_clear(rq_ledger *l);

/* "git error: ..." from libgit2's last error. */
int rq_git_error(int code, const char *what);

#endif
