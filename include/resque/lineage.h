/* Model versions and their lineage: resolving references (names, id
 * prefixes, `latest`, `REF~N`) and walking a version's ancestors. */
#ifndef RESQUE_LINEAGE_H
#define RESQUE_LINEAGE_H

#include <stdbool.h>
#include <stddef.h>
#include "resque/entry.h"
#include "resque/ledger.h"

/* Is `name` acceptable as a version or dataset name? ([A-Za-z0-9._+-],
 * not starting with '-' or '.', at most 100 bytes, not "latest"). */
bool rq_name_valid(const char *name);

/* Resolve a version reference: a name ("v1"), a unique prefix of an entry
 * id (>= 4 hex digits), "latest" (the newest version), each optionally
 * followed by "~N" (the N-th ancestor; "~" alone is "~1"). The entry must
 * be a version entry. Caller frees. */
int rq_version_resolve(rq_entry **out, rq_ledger *l, const char *ref);

/* The parent version of `v` (RQ_ENOTFOUND when `v` has none). */
int rq_version_parent(rq_entry **out, rq_ledger *l, const rq_entry *v);

/* `v`'s lineage from its first ancestor down to `v` itself (n >= 1).
 * Caller frees each entry and the array. */
int rq_version_lineage(rq_entry ***out, size_t *n, rq_ledger *l, const rq_entry *v);
void rq_entries_free(rq_entry **v, size_t n);

#endif
