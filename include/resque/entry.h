/* Ledger entries (docs/FORMATS.md): what a program reads of one.
 *
 * An entry is a JSON object encoded canonically (keys sorted by bytes, no
 * white space, shortest round-trip numbers, minimal string escapes):
 *   {"body":{...},"prev":HEX64,"seq":N,"signer":KEYID,"time":UTC,"type":T,"v":1}
 * Its id is the hex SHA-256 of those bytes; `prev` is the id of the entry
 * before it (64 zeros for the genesis entry). Unknown fields survive: the
 * bytes are kept as they were written and never re-encoded.
 *
 * rq_entry is opaque: the ledger (resque/ledger.h) hands one out, the
 * accessors below read it, rq_entry_free frees it. Every string an
 * accessor returns is borrowed from the entry and lives until
 * rq_entry_free; none of them fails or returns NULL. */
#ifndef RESQUE_ENTRY_H
#define RESQUE_ENTRY_H

#include <stddef.h>
#include <stdint.h>
#include "resque/buf.h"
#include "resque/export.h"
#include "resque/sizes.h"

RQ_BEGIN_DECLS

#define RQ_ENTRY_VERSION 1
/* An entry type: 1 to 15 lower-case letters, and its NUL. */
#define RQ_ENTRY_TYPE_SIZE 16

typedef struct rq_entry rq_entry;

/* Its position in the ledger (the genesis entry is 0). */
RQ_EXTERN uint64_t rq_entry_seq(const rq_entry *e);
/* Its id: 64 lower-case hex digits, the SHA-256 of rq_entry_text. */
RQ_EXTERN const char *rq_entry_id(const rq_entry *e);
/* The id of the entry before it (64 zeros for the genesis entry). */
RQ_EXTERN const char *rq_entry_prev(const rq_entry *e);
/* Its type ("init", "note", "version", ...; a newer resque may write
 * others, which readers show plainly). */
RQ_EXTERN const char *rq_entry_type(const rq_entry *e);
/* When it was written, UTC: "YYYY-MM-DDTHH:MM:SSZ". */
RQ_EXTERN const char *rq_entry_time(const rq_entry *e);
/* The id of the key that signed it (16 hex digits). */
RQ_EXTERN const char *rq_entry_signer(const rq_entry *e);
/* The git commit that holds it (40 hex digits), or "" when the entry was
 * not read from a commit. */
RQ_EXTERN const char *rq_entry_commit(const rq_entry *e);
/* The canonical JSON bytes of the whole entry (the body included), NUL
 * terminated; their length through `len` (may be NULL). A program parses
 * them with its own JSON parser. */
RQ_EXTERN const char *rq_entry_text(const rq_entry *e, size_t *len);

/* The entry's name (body.name) for named types (versions, datasets), else
 * NULL. Borrowed, like the accessors. */
RQ_EXTERN const char *rq_entry_name(const rq_entry *e);
/* Append its one-line human summary ("note: retrained on March data") to
 * `out` (the caller's buffer). Cannot fail. */
RQ_EXTERN void rq_entry_summary(rq_buf *out, const rq_entry *e);

/* Free an entry and everything the accessors returned; accepts NULL. */
RQ_EXTERN void rq_entry_free(rq_entry *e);

RQ_END_DECLS

#endif
