/* Model versions and their lineage: resolving references (names, id
 * prefixes, `latest`, `REF~N`) and walking a version's ancestors. */
#ifndef RESQUE_LINEAGE_H
#define RESQUE_LINEAGE_H

#include <stdbool.h>
#include <stddef.h>
#include "entry_int.h"
#include "ledger_int.h"

/* The kinds of names entries carry (docs/FORMATS.md). */
enum rq_name_kind {
	RQ_NAME_VERSION, /* versions and runs (actuals): [A-Za-z0-9._+-], not "latest" */
	RQ_NAME_DATASET  /* datasets: [A-Za-z0-9._-]; "latest" names no dataset ref */
};

/* Is `name` acceptable as a name of that kind? Every kind: 1 to 100
 * bytes, not starting with '-' or '.'. Versions and runs may hold '+'
 * (v1+fix) but not be "latest", which a version reference means. */
bool rq_name_valid(const char *name, enum rq_name_kind kind);

/* Is `name` free among the entries of that kind (versions or datasets)?
 * 0 when no entry of the kind carries it (an id prefix that merely
 * matches, or several, does not count); RQ_EEXISTS with a message naming
 * the entry that does; another error when the ledger cannot be read. */
int rq_name_free(rq_ledger *l, const char *name, enum rq_name_kind kind);

/* Resolve a version reference: a name ("v1"), a unique prefix of an entry
 * id (>= 4 hex digits), "latest" (the newest version), each optionally
 * followed by "~N" (the N-th ancestor; "~" alone is "~1"). The entry must
 * be a version entry. Caller frees. */
int rq_version_resolve(rq_entry **out, rq_ledger *l, const char *ref);

/* Resolve any entry reference, as `show` reads one: a version reference
 * (above) first, then an entry's name or a unique id prefix
 * (rq_ledger_lookup), then the run id of an actual imported from
 * CodeCarbon (source.run_id: the whole id, or a prefix of at least 4
 * characters that only one run has; a whole id wins over prefixes).
 * Caller frees. RQ_ENOTFOUND with the entry look-up's message;
 * RQ_EAMBIGUOUS naming the runs a run id matches. */
int rq_entry_resolve(rq_entry **out, rq_ledger *l, const char *ref);

/* The parent version of `v` (RQ_ENOTFOUND when `v` has none). */
int rq_version_parent(rq_entry **out, rq_ledger *l, const rq_entry *v);

/* `v`'s lineage from its first ancestor down to `v` itself (n >= 1).
 * Caller frees each entry and the array. */
int rq_version_lineage(rq_entry ***out, size_t *n, rq_ledger *l, const rq_entry *v);
void rq_entries_free(rq_entry **v, size_t n);

#endif
