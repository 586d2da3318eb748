/* The stat cache of fingerprints (design §2.2) in index.db: table
 * `statcache`, keyed by absolute path, holding the (device, inode, size,
 * mtime ns, ctime ns) a file had when it was hashed, when the entry was
 * written, and the hash. It implements core's rq_fp_cache interface, so
 * unchanged files are not read again. Derived data: losing it costs time
 * only. */
#ifndef RESQUE_STATCACHE_H
#define RESQUE_STATCACHE_H

#include "resque/fingerprint.h"
#include "resque/ledger.h"

typedef struct rq_statcache rq_statcache;

/* Open the cache over the ledger's index.db (borrowed: free the cache
 * before the ledger), creating the table on first use. */
int rq_statcache_open(rq_statcache **out, rq_ledger *l);
void rq_statcache_free(rq_statcache *c); /* accepts NULL */

/* The cache as core's interface; borrowed, valid until rq_statcache_free. */
const rq_fp_cache *rq_statcache_iface(rq_statcache *c);

/* Look up / record entries (what the interface calls). lookup returns 1
 * when found, 0 when not; store writes all `n` in one transaction. */
int rq_statcache_lookup(rq_statcache *c, const char *path, rq_fp_cache_entry *out);
int rq_statcache_store(rq_statcache *c, const rq_fp_cache_entry *v, size_t n);

#endif
