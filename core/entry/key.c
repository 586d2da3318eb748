/* Ed25519 keys: generation, signing, and the secret/public key file
 * formats (passphrase encryption with Argon2id + XSalsa20-Poly1305). */
#include "common.h"
#include "key_int.h"

#include <sodium.h>

_Static_assert(RQ_PUBKEY_LEN == crypto_sign_PUBLICKEYBYTES, "public key size");
_Static_assert(RQ_SECKEY_LEN == crypto_sign_SECRETKEYBYTES, "secret key size");
_Static_assert(RQ_SIG_LEN == crypto_sign_BYTES, "signature size");

#define SECRET_MAGIC "resque secret key v1"
#define PUBLIC_MAGIC "resque public key v1"

void rq_key_id_of(char out[RQ_KEY_ID_SIZE], const uint8_t pk[RQ_PUBKEY_LEN])
{
	uint8_t h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, pk, RQ_PUBKEY_LEN);
	rq_hex_encode(out, h, RQ_KEY_ID_HEX / 2);
}

static rq_key *key_new(bool secret)
{
	rq_key *k = rq_xcalloc(1, sizeof(*k));
	/* sodium_malloc needs the library initialised; this is idempotent. */
	if (sodium_init() < 0) {
		fprintf(stderr, "resque: libsodium failed to initialise\n");
		abort();
	}
	if (secret) {
		k->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
		if (!k->sk) {
			fprintf(stderr, "resque: out of secure memory\n");
			abort();
		}
	}
	return k;
}

int rq_key_generate(rq_key **out)
{
	rq_key *k = key_new(true);
	crypto_sign_keypair(k->pk, k->sk);
	rq_key_id_of(k->id, k->pk);
	*out = k;
	return 0;
}

void rq_key_free(rq_key *k)
{
	if (!k)
		return;
	if (k->sk)
		sodium_free(k->sk); /* sodium_free wipes the memory */
	free(k);
}

static void signed_message(rq_buf *m, const char *prefix, const void *msg, size_t len)
{
	rq_buf_puts(m, prefix);
	rq_buf_put(m, msg, len);
}

int rq_key_sign(uint8_t sig[RQ_SIG_LEN], const rq_key *k, const char *prefix, const void *msg, size_t len)
{
	rq_buf m = RQ_BUF_INIT;
	if (!k->sk)
		return rq_error_set(RQ_EINVALID, "key %s has no secret part", k->id);
	signed_message(&m, prefix, msg, len);
	crypto_sign_detached(sig, NULL, (const unsigned char *)m.ptr, m.len, k->sk);
	rq_buf_release(&m);
	return 0;
}

bool rq_key_check(const uint8_t pk[RQ_PUBKEY_LEN], const uint8_t sig[RQ_SIG_LEN], const char *prefix,
		  const void *msg, size_t len)
{
	rq_buf m = RQ_BUF_INIT;
	signed_message(&m, prefix, msg, len);
	bool ok = crypto_sign_verify_detached(sig, (const unsigned char *)m.ptr, m.len, pk) == 0;
	rq_buf_release(&m);
	return ok;
}

int rq_key_encode_secret(rq_buf *out, const rq_key *k, const char *passphrase)
{
	if (!k->sk)
		return rq_error_set(RQ_EINVALID, "key %s has no secret part", k->id);
	rq_buf_printf(out, "%s\nid %s\npublic ", SECRET_MAGIC, k->id);
	rq_buf_put_hex(out, k->pk, RQ_PUBKEY_LEN);
	rq_buf_putc(out, '\n');
	if (!passphrase) {
		rq_buf_puts(out, "encryption none\nsecret ");
		rq_buf_put_hex(out, k->sk, crypto_sign_SECRETKEYBYTES);
		rq_buf_putc(out, '\n');
		return 0;
	}
	uint8_t salt[crypto_pwhash_SALTBYTES], nonce[crypto_secretbox_NONCEBYTES];
	uint8_t ct[crypto_secretbox_MACBYTES + crypto_sign_SECRETKEYBYTES];
	unsigned long long ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
	size_t mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
	unsigned char *box = sodium_malloc(crypto_secretbox_KEYBYTES);
	if (!box)
		return rq_error_set(RQ_ENOMEM, "out of secure memory");
	randombytes_buf(salt, sizeof(salt));
	randombytes_buf(nonce, sizeof(nonce));
	if (crypto_pwhash(box, crypto_secretbox_KEYBYTES, passphrase, strlen(passphrase), salt,
			  ops, mem, crypto_pwhash_ALG_ARGON2ID13) != 0) {
		sodium_free(box);
		return rq_error_set(RQ_ENOMEM, "not enough memory to derive the key from the passphrase");
	}
	crypto_secretbox_easy(ct, k->sk, crypto_sign_SECRETKEYBYTES, nonce, box);
	sodium_free(box);
	rq_buf_printf(out, "encryption argon2id13 opslimit=%llu memlimit=%zu\nsalt ", ops, mem);
	rq_buf_put_hex(out, salt, sizeof(salt));
	rq_buf_puts(out, "\nnonce ");
	rq_buf_put_hex(out, nonce, sizeof(nonce));
	rq_buf_puts(out, "\nsecret ");
	rq_buf_put_hex(out, ct, sizeof(ct));
	rq_buf_putc(out, '\n');
	return 0;
}

/* Find "name value" on its own line; value copied into out (NUL-terminated). */
static bool field(char *out, size_t outlen, const char *text, size_t len, const char *name)
{
	size_t nl = strlen(name);
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == ' ') {
			size_t vl = (size_t)(eol - p) - nl - 1;
			if (vl >= outlen)
				return false;
			memcpy(out, p + nl + 1, vl);
			out[vl] = '\0';
			return true;
		}
		p = eol + 1;
	}
	return false;
}

static bool starts_with_line(const char *text, size_t len, const char *magic)
{
	size_t ml = strlen(magic);
	return len > ml && memcmp(text, magic, ml) == 0 && text[ml] == '\n';
}

bool rq_key_file_is_encrypted(const char *text, size_t len)
{
	char enc[128];
	return field(enc, sizeof(enc), text, len, "encryption") && strcmp(enc, "none") != 0;
}

/* Open the secret of an encrypted key file into k->sk. */
static int decrypt_secret(rq_key *k, const char *text, size_t len, const char *enc, const char *sec,
			  const char *passphrase, const char *name)
{
	char salt_hex[80], nonce_hex[80];
	unsigned long long ops;
	size_t mem;
	uint8_t salt[crypto_pwhash_SALTBYTES], nonce[crypto_secretbox_NONCEBYTES];
	uint8_t ct[crypto_secretbox_MACBYTES + crypto_sign_SECRETKEYBYTES];
	unsigned char *box = NULL;
	int err = 0;

	if (sscanf(enc, "argon2id13 opslimit=%llu memlimit=%zu", &ops, &mem) != 2 ||
	    ops > crypto_pwhash_OPSLIMIT_MAX || mem > ((size_t)1 << 32))
		return rq_error_set(RQ_EINVALID, "%s: unknown key encryption '%s'", name, enc);
	if (!field(salt_hex, sizeof(salt_hex), text, len, "salt") ||
	    !field(nonce_hex, sizeof(nonce_hex), text, len, "nonce") ||
	    rq_hex_decode(salt, sizeof(salt), salt_hex) ||
	    rq_hex_decode(nonce, sizeof(nonce), nonce_hex) ||
	    rq_hex_decode(ct, sizeof(ct), sec))
		return rq_error_set(RQ_EINVALID, "%s: damaged encrypted key", name);
	if (!passphrase)
		return rq_error_set(RQ_EINVALID, "%s: key is encrypted; set RESQUE_PASSPHRASE or run in a terminal",
				    name);
	if (!(box = sodium_malloc(crypto_secretbox_KEYBYTES)))
		return rq_error_set(RQ_ENOMEM, "out of secure memory");
	if (crypto_pwhash(box, crypto_secretbox_KEYBYTES, passphrase, strlen(passphrase), salt,
			  ops, mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
		err = rq_error_set(RQ_ENOMEM, "%s: not enough memory to derive the key", name);
	else if (crypto_secretbox_open_easy(k->sk, ct, sizeof(ct), nonce, box) != 0)
		err = rq_error_set(RQ_EINVALID, "%s: wrong passphrase", name);
	sodium_free(box);
	return err;
}

int rq_key_decode_secret(rq_key **out, const char *text, size_t len, const char *passphrase,
			 const char *name)
{
	char id[64], pub[80], enc[128], sec[400];
	rq_key *k = NULL;
	int err = 0;

	*out = NULL;
	if (!starts_with_line(text, len, SECRET_MAGIC))
		return rq_error_set(RQ_EINVALID, "%s: not a resque secret key file", name);
	if (!field(id, sizeof(id), text, len, "id") || !field(pub, sizeof(pub), text, len, "public") ||
	    !field(enc, sizeof(enc), text, len, "encryption") ||
	    !field(sec, sizeof(sec), text, len, "secret"))
		return rq_error_set(RQ_EINVALID, "%s: key file lacks a field (id, public, encryption, secret)", name);
	k = key_new(true);
	if (rq_hex_decode(k->pk, RQ_PUBKEY_LEN, pub)) {
		err = rq_error_set(RQ_EINVALID, "%s: bad public key", name);
		goto done;
	}
	rq_key_id_of(k->id, k->pk);
	if (strcmp(k->id, id) != 0) {
		err = rq_error_set(RQ_EINVALID, "%s: key id %s does not match its public key", name, id);
		goto done;
	}
	if (strcmp(enc, "none") == 0) {
		if (strlen(sec) != 2 * crypto_sign_SECRETKEYBYTES || rq_hex_decode(k->sk, RQ_SECKEY_LEN, sec)) {
			err = rq_error_set(RQ_EINVALID, "%s: bad secret key", name);
			goto done;
		}
	} else if ((err = decrypt_secret(k, text, len, enc, sec, passphrase, name))) {
		goto done;
	}
	/* An Ed25519 secret key ends with its public key. */
	if (memcmp(k->sk + RQ_SECKEY_LEN - RQ_PUBKEY_LEN, k->pk, RQ_PUBKEY_LEN) != 0) {
		err = rq_error_set(RQ_EINVALID, "%s: secret and public key do not match", name);
		goto done;
	}
done:
	if (err)
		rq_key_free(k);
	else
		*out = k;
	return err;
}

int rq_key_encode_public(rq_buf *out, const rq_key *k)
{
	rq_buf_printf(out, "%s\nid %s\npublic ", PUBLIC_MAGIC, k->id);
	rq_buf_put_hex(out, k->pk, RQ_PUBKEY_LEN);
	rq_buf_putc(out, '\n');
	return 0;
}

int rq_key_decode_public(rq_key **out, const char *text, size_t len, const char *name)
{
	char pub[80];
	rq_key *k;
	*out = NULL;
	/* a bare hex key, possibly followed by a newline */
	size_t l = len;
	while (l && (text[l - 1] == '\n' || text[l - 1] == '\r' || text[l - 1] == ' '))
		l--;
	if (l == 2 * RQ_PUBKEY_LEN && rq_is_hex(text, l)) {
		memcpy(pub, text, l);
		pub[l] = '\0';
	} else if (starts_with_line(text, len, PUBLIC_MAGIC) || starts_with_line(text, len, SECRET_MAGIC)) {
		if (!field(pub, sizeof(pub), text, len, "public"))
			return rq_error_set(RQ_EINVALID, "%s: key file has no public key", name);
	} else {
		return rq_error_set(RQ_EINVALID, "%s: not a public key (a resque .pub file or 64 hex digits)", name);
	}
	k = key_new(false);
	if (rq_hex_decode(k->pk, RQ_PUBKEY_LEN, pub)) {
		rq_key_free(k);
		return rq_error_set(RQ_EINVALID, "%s: bad public key", name);
	}
	rq_key_id_of(k->id, k->pk);
	*out = k;
	return 0;
}

const char *rq_key_id(const rq_key *k)
{
	return k->id;
}
