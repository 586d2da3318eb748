/* Internal to fingerprinting (core/input/fingerprint.c) and its tests: the
 * rule deciding whether a stat-cache entry may stand in for reading the
 * file. Caches implement include/resque/fingerprint.h's rq_fp_cache. */
#ifndef RESQUE_FINGERPRINT_INT_H
#define RESQUE_FINGERPRINT_INT_H

#include "resque/fingerprint.h"

/* git's racily-clean rule: a cached hash is used only when the stat is
 * identical AND the file's mtime is in a second strictly before the one in
 * which the entry was written; a file modified in the same second as (or
 * after) the cache entry may have changed without its stat changing. */
bool rq_fp_cache_usable(const rq_fp_cache_entry *e, const rq_file_stat *st);

#endif
