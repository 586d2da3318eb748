/* Where secret keys live: $RESQUE_HOME/keys/ (default ~/.config/resque/keys/),
 * outside any repository. `ID.key` (mode 0600) holds the secret key, `ID.pub`
 * the public key, and `default` the id of the default signing key. */
#ifndef RESQUE_KEYSTORE_H
#define RESQUE_KEYSTORE_H

#include <stdbool.h>
#include "resque/buf.h"
#include "resque/key.h"

int rq_keystore_dir(rq_buf *out);
/* Write ID.key and ID.pub; RQ_EEXISTS if the key is there already. */
int rq_keystore_save(const rq_key *k, const char *passphrase);
/* Load the secret key `id` (a unique prefix works; NULL: the default key).
 * RQ_ENOTFOUND when there is none; RQ_EINVALID "... is encrypted" when a
 * passphrase is needed and `passphrase` is NULL. */
int rq_keystore_load(rq_key **out, const char *id, const char *passphrase);
/* Resolve `id` (prefix or NULL for default) to a full key id. */
int rq_keystore_resolve(char out[RQ_KEY_ID_HEX + 1], const char *id);
bool rq_keystore_is_encrypted(const char *id);
int rq_keystore_set_default(const char *id);
/* The ids of every secret key in the store, sorted; caller frees each and
 * the array. */
int rq_keystore_list(char ***out, size_t *n);

#endif
