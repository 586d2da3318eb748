/* Where secret keys live: $RESQUE_HOME/keys/ (default ~/.config/resque/keys/),
 * outside any repository. `ID.key` (mode 0600) holds the secret key, `ID.pub`
 * the public key, and `default` the id of the default signing key. */
#ifndef RESQUE_KEYSTORE_H
#define RESQUE_KEYSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include "resque/buf.h"
#include "resque/export.h"
#include "resque/key.h"

RQ_BEGIN_DECLS

/* Append the key directory's path to `out` (the caller's buffer).
 * RQ_ENOTFOUND when neither RESQUE_HOME nor HOME is set. */
RQ_EXTERN int rq_keystore_dir(rq_buf *out);
/* Write ID.key (encrypted when `passphrase` is non-NULL) and ID.pub of `k`
 * (borrowed). RQ_EEXISTS if the key is there already; RQ_EIO. */
RQ_EXTERN int rq_keystore_save(const rq_key *k, const char *passphrase);
/* Load the secret key `id` (a unique prefix works; NULL: the default key)
 * into *out (the caller frees it with rq_key_free). RQ_ENOTFOUND when
 * there is none; RQ_EAMBIGUOUS for a prefix of several; RQ_EINVALID
 * "... is encrypted" when a passphrase is needed and `passphrase` is NULL,
 * a wrong passphrase, or a key file others may read. */
RQ_EXTERN int rq_keystore_load(rq_key **out, const char *id, const char *passphrase);
/* Resolve `id` (prefix or NULL for default) to a full key id in `out`.
 * RQ_ENOTFOUND / RQ_EAMBIGUOUS / RQ_EINVALID as rq_keystore_load. */
RQ_EXTERN int rq_keystore_resolve(char out[RQ_KEY_ID_HEX + 1], const char *id);
/* Whether key `id` (as rq_keystore_resolve) is stored encrypted; false
 * when there is no such key. */
RQ_EXTERN bool rq_keystore_is_encrypted(const char *id);
/* Make key `id` (as rq_keystore_resolve) the default. RQ_ENOTFOUND; RQ_EIO. */
RQ_EXTERN int rq_keystore_set_default(const char *id);
/* The ids of every secret key in the store, sorted, into *out and their
 * number into *n; the caller frees each and the array with free(). An
 * empty or missing store gives *n = 0. RQ_ENOTFOUND as rq_keystore_dir. */
RQ_EXTERN int rq_keystore_list(char ***out, size_t *n);

RQ_END_DECLS

#endif
