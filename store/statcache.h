/* The stat cache of fingerprints (docs/FORMATS.md) in index.db: table
 * `statcache2`, keyed by absolute path, holding the (device, inode, size,
 * mtime ns, ctime ns) a file had when it was hashed, when the entry was
 * written, the hash, and a MAC of the row keyed by this user's
 * $RESQUE_HOME/statcache.key (docs/FORMATS.md). It implements core's
 * rq_fp_cache interface, so unchanged files are not read again. Derived
 * data: losing it costs time only; a row whose MAC does not verify is a
 * miss. */
#ifndef RESQUE_STATCACHE_H
#define RESQUE_STATCACHE_H

#include "resque/fingerprint.h"
#include "ledger_int.h"

typedef struct rq_statcache rq_statcache;

/* Open the cache over the ledger's index.db (borrowed: free the cache
 * before the ledger), creating the table (and the key, 0600) on first
 * use. Fails -- and the caller hashes every file -- when the key cannot be
 * read or created (no home, a read-only home), or is unsafe (readable by
 * others, not this user's, not 32 bytes: said once through the ledger's
 * notice function). */
int rq_statcache_open(rq_statcache **out, rq_ledger *l);
void rq_statcache_free(rq_statcache *c); /* accepts NULL */

/* The cache as core's interface; borrowed, valid until rq_statcache_free. */
const rq_fp_cache *rq_statcache_iface(rq_statcache *c);

/* Look up / record entries (what the interface calls). lookup returns 1
 * when found with a valid MAC, 0 when not (absent, or a MAC that does not
 * verify), negative on error; store writes all `n`, each with its MAC, in
 * one transaction. */
int rq_statcache_lookup(rq_statcache *c, const char *path, rq_fp_cache_entry *out);
int rq_statcache_store(rq_statcache *c, const rq_fp_cache_entry *v, size_t n);

#endif
