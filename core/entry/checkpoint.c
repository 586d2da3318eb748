/* C2SP signed notes holding tlog-checkpoints, Ed25519 signature lines and
 * verifier keys, and the text and JSON forms of Merkle proofs. Everything
 * parsed here is untrusted: lengths are checked before use, numbers are
 * canonical decimal, base64 is canonical, and anything unexpected is an
 * error naming the input. */
#include "common.h"
#include "checkpoint.h"
#include "json.h"

#include <sodium.h>

#define SIG_PREFIX "\xe2\x80\x94 " /* U+2014 EM DASH, then a space */
#define SIG_PREFIX_LEN 4
#define MAX_SIGNATURES 100
#define ALG_ED25519 0x01

/* ---- base64 ---- */

void rq_base64_encode(rq_buf *out, const void *data, size_t len)
{
	size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	rq_buf_grow(out, n);
	sodium_bin2base64(out->ptr + out->len, n, data, len, sodium_base64_VARIANT_ORIGINAL);
	out->len += n - 1;
}

/* Decode canonical padded base64 of at most `cap` bytes into `out`;
 * *n receives the length. -1 unless the text is exactly the encoding of
 * the bytes (right padding, zero trailing bits, nothing else). */
static int base64_decode(uint8_t *out, size_t cap, size_t *n, const char *b64, size_t b64len)
{
	const char *end = NULL;
	char *check = NULL;
	int rc = -1;
	*n = 0;
	if (b64len == 0 || b64len % 4 != 0 || b64len / 4 * 3 > cap + 2)
		goto done;
	if (sodium_base642bin(out, cap, b64, b64len, NULL, n, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != b64 + b64len)
		goto done;
	/* re-encode: rules out any spelling other than the canonical one */
	if (sodium_base64_ENCODED_LEN(*n, sodium_base64_VARIANT_ORIGINAL) != b64len + 1)
		goto done;
	check = rq_xmalloc(b64len + 1);
	sodium_bin2base64(check, b64len + 1, out, *n, sodium_base64_VARIANT_ORIGINAL);
	if (memcmp(check, b64, b64len) != 0)
		goto done;
	rc = 0;
done:
	free(check);
	if (rc < 0)
		*n = 0;
	return rc;
}

int rq_base64_decode_exact(uint8_t *out, size_t len, const char *b64, size_t b64len)
{
	uint8_t tmp[768];
	size_t n;
	if (len > sizeof(tmp) || base64_decode(tmp, sizeof(tmp), &n, b64, b64len) != 0 || n != len)
		return -1;
	memcpy(out, tmp, len);
	return 0;
}

/* ---- text checks ---- */

/* Well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF) without ASCII control characters other than newline. */
static bool text_ok(const char *s, size_t len, const char **why)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0;
	while (i < len) {
		uint8_t c = p[i];
		size_t k;
		if (c < 0x80) {
			if ((c < 0x20 && c != '\n') || c == 0x7f) {
				*why = c == '\r' ? "carriage return (CRLF line ends)" : "control character";
				return false;
			}
			i++;
			continue;
		}
		if (!(k = rq_utf8_len(p + i, len - i))) {
			*why = "invalid UTF-8";
			return false;
		}
		i += k;
	}
	return true;
}

/* A key name: non-empty, no space, no plus, printable UTF-8. */
static bool key_name_ok(const char *s, size_t len)
{
	const char *why;
	if (len == 0 || len >= sizeof(((rq_verifier *)0)->name))
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] == ' ' || s[i] == '+' || s[i] == '\n')
			return false;
	return text_ok(s, len, &why);
}

/* Canonical decimal: digits only, no leading zero (except "0"), fits. */
static bool parse_u64(uint64_t *out, const char *s, size_t len)
{
	uint64_t v = 0;
	if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* The next '\n'-terminated line of [*pos, len): false at the end or when
 * the last line has no newline (*unterminated is then set). */
static bool next_line(const char **line, size_t *line_len, const char *text, size_t len,
		      size_t *pos, bool *unterminated)
{
	*unterminated = false;
	if (*pos >= len)
		return false;
	const char *nl = memchr(text + *pos, '\n', len - *pos);
	if (!nl) {
		*unterminated = true;
		return false;
	}
	*line = text + *pos;
	*line_len = (size_t)(nl - *line);
	*pos = (size_t)(nl - text) + 1;
	return true;
}

/* ---- verifiers ---- */

static void key_id_of(uint8_t out[RQ_NOTE_KEY_ID_LEN], const char *name, const uint8_t pk[RQ_PUBKEY_LEN])
{
	crypto_hash_sha256_state st;
	uint8_t h[crypto_hash_sha256_BYTES];
	const uint8_t sep[2] = { '\n', ALG_ED25519 };
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)name, strlen(name));
	crypto_hash_sha256_update(&st, sep, 2);
	crypto_hash_sha256_update(&st, pk, RQ_PUBKEY_LEN);
	crypto_hash_sha256_final(&st, h);
	memcpy(out, h, RQ_NOTE_KEY_ID_LEN);
}

void rq_verifier_of(rq_verifier *out, const rq_key *k)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s%s", RQ_KEY_NAME_PREFIX, k->id);
	memcpy(out->pk, k->pk, RQ_PUBKEY_LEN);
	key_id_of(out->key_id, out->name, out->pk);
}

void rq_verifier_format(rq_buf *out, const rq_verifier *v)
{
	uint8_t typed[1 + RQ_PUBKEY_LEN];
	typed[0] = ALG_ED25519;
	memcpy(typed + 1, v->pk, RQ_PUBKEY_LEN);
	rq_buf_printf(out, "%s+", v->name);
	rq_buf_put_hex(out, v->key_id, RQ_NOTE_KEY_ID_LEN);
	rq_buf_putc(out, '+');
	rq_base64_encode(out, typed, sizeof(typed));
}

static int parse_vkey(rq_verifier *out, const char *s, size_t len, const char *name)
{
	const char *p1 = memchr(s, '+', len);
	const char *p2 = p1 ? memchr(p1 + 1, '+', len - (size_t)(p1 + 1 - s)) : NULL;
	uint8_t typed[1 + RQ_PUBKEY_LEN], id[RQ_NOTE_KEY_ID_LEN];
	char hex[2 * RQ_NOTE_KEY_ID_LEN + 1];
	int rc = 0;
	memset(out, 0, sizeof(*out));
	if (!p1 || !p2) {
		rc = rq_error_set(RQ_EINVALID, "%s: not a verifier key (NAME+KEYID+KEY)", name);
		goto done;
	}
	if (!key_name_ok(s, (size_t)(p1 - s))) {
		rc = rq_error_set(RQ_EINVALID, "%s: bad key name in verifier key", name);
		goto done;
	}
	memcpy(out->name, s, (size_t)(p1 - s));
	if (p2 - p1 - 1 != 8 || !rq_is_hex(p1 + 1, 8)) {
		rc = rq_error_set(RQ_EINVALID, "%s: verifier key id is not 8 hex digits", name);
		goto done;
	}
	memcpy(hex, p1 + 1, 8);
	hex[8] = '\0';
	if (rq_base64_decode_exact(typed, sizeof(typed), p2 + 1, len - (size_t)(p2 + 1 - s)) != 0) {
		rc = rq_error_set(RQ_EINVALID, "%s: verifier key is not base64 of a 33-byte key", name);
		goto done;
	}
	if (typed[0] != ALG_ED25519) {
		rc = rq_error_set(RQ_EUNSUPPORTED, "%s: verifier key type %u is not Ed25519", name, typed[0]);
		goto done;
	}
	memcpy(out->pk, typed + 1, RQ_PUBKEY_LEN);
	key_id_of(out->key_id, out->name, out->pk);
	if (rq_hex_decode(id, RQ_NOTE_KEY_ID_LEN, hex) != 0 || memcmp(id, out->key_id, RQ_NOTE_KEY_ID_LEN) != 0) {
		rc = rq_error_set(RQ_EINVALID, "%s: verifier key id %s does not match the key", name, hex);
		goto done;
	}
done:
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

int rq_verifier_parse(rq_verifier *out, const char *text, size_t len, const char *name)
{
	rq_key *k = NULL;
	size_t l = len;
	int rc = 0;
	memset(out, 0, sizeof(*out));
	/* one line, perhaps with its newline */
	while (l && (text[l - 1] == '\n' || text[l - 1] == ' '))
		l--;
	const char *nl = memchr(text, '\n', l);
	const char *plus = memchr(text, '+', nl ? (size_t)(nl - text) : l);
	if (plus && !nl && strncmp(text, "resque ", 7) != 0) {
		rc = parse_vkey(out, text, l, name);
		goto done;
	}
	if ((rc = rq_key_decode_public(&k, text, len, name)) < 0)
		goto done;
	rq_verifier_of(out, k);
done:
	rq_key_free(k);
	return rc;
}

/* ---- checkpoints ---- */

void rq_checkpoint_release(rq_checkpoint *c)
{
	if (!c)
		return;
	free(c->text);
	memset(c, 0, sizeof(*c));
}

static bool origin_ok(const char *origin, size_t len)
{
	const char *why;
	return len > 0 && len < sizeof(((rq_checkpoint *)0)->origin) && !memchr(origin, '\n', len) &&
	       text_ok(origin, len, &why);
}

int rq_checkpoint_sign(rq_checkpoint *out, const char *origin, uint64_t size, const rq_hash root,
		       const rq_key *k)
{
	rq_buf t = RQ_BUF_INIT;
	rq_verifier v;
	uint8_t sig[RQ_NOTE_KEY_ID_LEN + RQ_SIG_LEN];
	size_t olen = strlen(origin);
	int rc = 0;
	memset(out, 0, sizeof(*out));
	if (!origin_ok(origin, olen)) {
		rc = rq_error_set(RQ_EINVALID, "checkpoint origin \"%s\" is empty, too long or not printable", origin);
		goto done;
	}
	rq_buf_printf(&t, "%s\n%" PRIu64 "\n", origin, size);
	rq_base64_encode(&t, root, RQ_HASH_LEN);
	rq_buf_putc(&t, '\n');
	size_t body_len = t.len;
	rq_verifier_of(&v, k);
	memcpy(sig, v.key_id, RQ_NOTE_KEY_ID_LEN);
	if ((rc = rq_key_sign(sig + RQ_NOTE_KEY_ID_LEN, k, "", t.ptr, body_len)) < 0)
		goto done;
	rq_buf_printf(&t, "\n" SIG_PREFIX "%s ", v.name);
	rq_base64_encode(&t, sig, sizeof(sig));
	rq_buf_putc(&t, '\n');
	memcpy(out->origin, origin, olen + 1);
	out->size = size;
	memcpy(out->root, root, RQ_HASH_LEN);
	out->body_len = body_len;
	out->text = rq_buf_detach(&t, &out->text_len);
done:
	rq_buf_release(&t);
	return rc;
}

/* One signature line (without its newline): its key name and the decoded
 * key id and signature. */
struct sigline {
	const char *name;
	size_t name_len;
	uint8_t blob[8192]; /* room for post-quantum signatures of other signers */
	size_t blob_len;
};

static bool parse_sigline(struct sigline *s, const char *line, size_t len)
{
	if (len < SIG_PREFIX_LEN || memcmp(line, SIG_PREFIX, SIG_PREFIX_LEN) != 0)
		return false;
	line += SIG_PREFIX_LEN;
	len -= SIG_PREFIX_LEN;
	const char *sp = memchr(line, ' ', len);
	if (!sp || !key_name_ok(line, (size_t)(sp - line)))
		return false;
	s->name = line;
	s->name_len = (size_t)(sp - line);
	const char *b64 = sp + 1;
	size_t b64len = len - s->name_len - 1;
	if (base64_decode(s->blob, sizeof(s->blob), &s->blob_len, b64, b64len) != 0 || s->blob_len < 5)
		return false;
	return true;
}

/* Steps of rq_checkpoint_parse; each returns 0 or an error with the message set. */
static int check_text(const char *text, size_t len, const char *name)
{
	const char *why = NULL;

	if (len > RQ_CHECKPOINT_MAX)
		return rq_error_set(RQ_EINVALID, "%s: checkpoint larger than %d bytes", name, RQ_CHECKPOINT_MAX);
	if (len == 0)
		return rq_error_set(RQ_EINVALID, "%s: empty checkpoint", name);
	if (!text_ok(text, len, &why))
		return rq_error_set(RQ_EINVALID, "%s: checkpoint has a %s", name, why);
	if (text[len - 1] != '\n')
		return rq_error_set(RQ_EINVALID, "%s: checkpoint is truncated (no newline at the end)", name);
	return 0;
}

/* The signatures follow the last blank line: set out->body_len and check
 * each signature line's form (which key signed is rq_checkpoint_verify's). */
static int parse_signatures(rq_checkpoint *out, const char *text, size_t len, const char *name)
{
	const char *line = NULL;
	size_t line_len = 0, pos, split = 0, nsig = 0;
	bool unterminated, found = false;
	struct sigline sl;

	for (size_t i = len - 1; i > 0; i--)
		if (text[i] == '\n' && text[i - 1] == '\n') {
			split = i;
			found = true;
			break;
		}
	if (!found || split < 1)
		return rq_error_set(RQ_EINVALID, "%s: checkpoint has no blank line before its signatures", name);
	out->body_len = split; /* through the newline that ends the last body line */
	pos = split + 1;
	if (pos >= len)
		return rq_error_set(RQ_EINVALID, "%s: checkpoint has no signature", name);
	while (next_line(&line, &line_len, text, len, &pos, &unterminated)) {
		if (++nsig > MAX_SIGNATURES)
			return rq_error_set(RQ_EINVALID, "%s: checkpoint has more than %d signatures", name,
					    MAX_SIGNATURES);
		if (!parse_sigline(&sl, line, line_len))
			return rq_error_set(RQ_EINVALID, "%s: malformed signature line %zu", name, nsig);
	}
	return 0;
}

/* The body: origin, size, root, then extension lines. */
static int parse_body(rq_checkpoint *out, const char *text, const char *name)
{
	const char *line = NULL;
	size_t line_len = 0, pos = 0, body = out->body_len;
	bool unterminated;

	if (!next_line(&line, &line_len, text, body, &pos, &unterminated) || !origin_ok(line, line_len))
		return rq_error_set(RQ_EINVALID, "%s: checkpoint origin line is empty or too long", name);
	memcpy(out->origin, line, line_len);
	out->origin[line_len] = '\0';
	if (!next_line(&line, &line_len, text, body, &pos, &unterminated))
		return rq_error_set(RQ_EINVALID, "%s: checkpoint has no tree size", name);
	if (!parse_u64(&out->size, line, line_len))
		return rq_error_set(RQ_EINVALID, "%s: checkpoint tree size is not a canonical decimal number", name);
	if (!next_line(&line, &line_len, text, body, &pos, &unterminated))
		return rq_error_set(RQ_EINVALID, "%s: checkpoint has no root hash", name);
	if (rq_base64_decode_exact(out->root, RQ_HASH_LEN, line, line_len) != 0)
		return rq_error_set(RQ_EINVALID, "%s: checkpoint root hash is not base64 of 32 bytes", name);
	while (next_line(&line, &line_len, text, body, &pos, &unterminated))
		if (line_len == 0)
			return rq_error_set(RQ_EINVALID, "%s: checkpoint has an empty extension line", name);
	return 0;
}

int rq_checkpoint_parse(rq_checkpoint *out, const char *text, size_t len, const char *name)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = check_text(text, len, name)) || (rc = parse_signatures(out, text, len, name)) ||
	    (rc = parse_body(out, text, name)))
		goto done;
	out->text = rq_xmalloc(len + 1);
	memcpy(out->text, text, len);
	out->text[len] = '\0';
	out->text_len = len;
done:
	if (rc < 0)
		rq_checkpoint_release(out);
	return rc;
}

int rq_checkpoint_verify(const rq_checkpoint *c, const rq_verifier *v, const char *name)
{
	const char *line = NULL;
	size_t line_len = 0, pos = c->body_len + 1;
	bool unterminated;
	struct sigline sl;
	size_t vlen = strlen(v->name);
	int rc = 0;
	if (!c->text || c->body_len + 1 > c->text_len) {
		rc = rq_error_set(RQ_EINVALID, "%s: no checkpoint", name);
		goto done;
	}
	while (next_line(&line, &line_len, c->text, c->text_len, &pos, &unterminated)) {
		if (!parse_sigline(&sl, line, line_len))
			continue; /* parse has refused such notes already */
		if (sl.name_len != vlen || memcmp(sl.name, v->name, vlen) != 0 ||
		    memcmp(sl.blob, v->key_id, RQ_NOTE_KEY_ID_LEN) != 0)
			continue; /* another signer's: ignored */
		/* the first line of this key decides */
		if (sl.blob_len != RQ_NOTE_KEY_ID_LEN + crypto_sign_BYTES ||
		    crypto_sign_verify_detached(sl.blob + RQ_NOTE_KEY_ID_LEN, (const unsigned char *)c->text, c->body_len,
						v->pk) != 0)
			rc = rq_error_set(RQ_EINTEGRITY, "%s: bad signature by %s", name, v->name);
		goto done;
	}
	rc = rq_error_set(RQ_EINTEGRITY, "%s: not signed by %s", name, v->name);
done:
	return rc;
}

/* ---- proofs ---- */

#define INCLUSION_MAGIC "resque inclusion proof v1"
#define CONSISTENCY_MAGIC "resque consistency proof v1"

void rq_proof_format(rq_buf *out, const rq_proof *p)
{
	if (p->kind == RQ_PROOF_INCLUSION)
		rq_buf_printf(out, INCLUSION_MAGIC "\nindex %" PRIu64 "\nsize %" PRIu64 "\n", p->index, p->size);
	else
		rq_buf_printf(out, CONSISTENCY_MAGIC "\nold-size %" PRIu64 "\nsize %" PRIu64 "\n", p->old_size,
			      p->size);
	for (size_t i = 0; i < p->n; i++) {
		rq_base64_encode(out, p->hashes[i], RQ_HASH_LEN);
		rq_buf_putc(out, '\n');
	}
}

void rq_proof_format_json(rq_buf *out, const rq_proof *p)
{
	if (p->kind == RQ_PROOF_INCLUSION)
		rq_buf_printf(out, "{\n  \"type\": \"inclusion\",\n  \"index\": %" PRIu64 ",\n", p->index);
	else
		rq_buf_printf(out, "{\n  \"type\": \"consistency\",\n  \"old_size\": %" PRIu64 ",\n", p->old_size);
	rq_buf_printf(out, "  \"size\": %" PRIu64 ",\n  \"hashes\": [", p->size);
	for (size_t i = 0; i < p->n; i++) {
		rq_buf_puts(out, i ? ",\n    \"" : "\n    \"");
		rq_base64_encode(out, p->hashes[i], RQ_HASH_LEN);
		rq_buf_putc(out, '"');
	}
	rq_buf_puts(out, p->n ? "\n  ]\n}\n" : "]\n}\n");
}

/* The sizes make sense: index < size, 0 < old_size <= size. */
static int proof_check_sizes(const rq_proof *p, const char *name)
{
	if (p->kind == RQ_PROOF_INCLUSION && p->index >= p->size)
		return rq_error_set(RQ_EINVALID, "%s: proof index %" PRIu64 " is not below its tree size %" PRIu64,
				    name, p->index, p->size);
	if (p->kind == RQ_PROOF_CONSISTENCY && (p->old_size == 0 || p->old_size > p->size))
		return rq_error_set(RQ_EINVALID, "%s: proof old size %" PRIu64 " is not in 1..%" PRIu64, name,
				    p->old_size, p->size);
	return 0;
}

/* "KEY N" with a canonical decimal N of at most INT64_MAX: a proof's
 * numbers must also fit its JSON form (jansson's integers are signed), so
 * that both forms parse alike. */
static bool keyed_number(uint64_t *out, const char *line, size_t len, const char *key)
{
	size_t k = strlen(key);
	return len > k + 1 && memcmp(line, key, k) == 0 && line[k] == ' ' &&
	       parse_u64(out, line + k + 1, len - k - 1) && *out <= INT64_MAX;
}

static int parse_text(rq_proof *out, const char *text, size_t len, const char *name)
{
	const char *line = NULL, *why;
	size_t line_len = 0, pos = 0;
	bool unterminated;
	int rc = 0;
	if (!text_ok(text, len, &why)) {
		rc = rq_error_set(RQ_EINVALID, "%s: proof has a %s", name, why);
		goto done;
	}
	if (len == 0 || text[len - 1] != '\n') {
		rc = rq_error_set(RQ_EINVALID, "%s: proof is truncated (no newline at the end)", name);
		goto done;
	}
	next_line(&line, &line_len, text, len, &pos, &unterminated);
	if (line_len == strlen(INCLUSION_MAGIC) && memcmp(line, INCLUSION_MAGIC, line_len) == 0) {
		out->kind = RQ_PROOF_INCLUSION;
	} else if (line_len == strlen(CONSISTENCY_MAGIC) && memcmp(line, CONSISTENCY_MAGIC, line_len) == 0) {
		out->kind = RQ_PROOF_CONSISTENCY;
	} else {
		rc = rq_error_set(RQ_EINVALID, "%s: not a resque proof (unknown header line)", name);
		goto done;
	}
	const char *first = out->kind == RQ_PROOF_INCLUSION ? "index" : "old-size";
	uint64_t *first_out = out->kind == RQ_PROOF_INCLUSION ? &out->index : &out->old_size;
	if (!next_line(&line, &line_len, text, len, &pos, &unterminated) ||
	    !keyed_number(first_out, line, line_len, first)) {
		rc = rq_error_set(RQ_EINVALID, "%s: line 2 is not \"%s N\"", name, first);
		goto done;
	}
	if (!next_line(&line, &line_len, text, len, &pos, &unterminated) ||
	    !keyed_number(&out->size, line, line_len, "size")) {
		rc = rq_error_set(RQ_EINVALID, "%s: line 3 is not \"size N\"", name);
		goto done;
	}
	while (next_line(&line, &line_len, text, len, &pos, &unterminated)) {
		if (out->n == RQ_MERKLE_MAX_PROOF) {
			rc = rq_error_set(RQ_EINVALID, "%s: proof has more than %d hashes", name, RQ_MERKLE_MAX_PROOF);
			goto done;
		}
		if (rq_base64_decode_exact(out->hashes[out->n], RQ_HASH_LEN, line, line_len) != 0) {
			rc = rq_error_set(RQ_EINVALID, "%s: line %zu is not base64 of a 32-byte hash", name,
					  out->n + 4);
			goto done;
		}
		out->n++;
	}
done:
	return rc;
}

static bool json_u64(uint64_t *out, json_t *v)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

static int parse_json(rq_proof *out, const char *text, size_t len, const char *name)
{
	json_t *j = NULL, *v;
	const char *key, *type;
	int rc = 0;
	if ((rc = rq_json_parse(&j, text, len, name)) < 0)
		goto done;
	if (!json_is_object(j)) {
		rc = rq_error_set(RQ_EINVALID, "%s: proof is not a JSON object", name);
		goto done;
	}
	type = json_string_value(json_object_get(j, "type"));
	if (type && strcmp(type, "inclusion") == 0) {
		out->kind = RQ_PROOF_INCLUSION;
	} else if (type && strcmp(type, "consistency") == 0) {
		out->kind = RQ_PROOF_CONSISTENCY;
	} else {
		rc = rq_error_set(RQ_EINVALID, "%s: proof \"type\" is not \"inclusion\" or \"consistency\"", name);
		goto done;
	}
	const char *first = out->kind == RQ_PROOF_INCLUSION ? "index" : "old_size";
	json_object_foreach(j, key, v) {
		/* leaf_hash, entry, root and old_root are what `resque audit prove
		 * --json` adds for people; a checker never trusts them (roots come
		 * from signed checkpoints, leaves from entry bytes), so they are
		 * accepted and ignored. Anything else is refused. */
		if (strcmp(key, "type") != 0 && strcmp(key, first) != 0 && strcmp(key, "size") != 0 &&
		    strcmp(key, "hashes") != 0 && strcmp(key, "leaf_hash") != 0 && strcmp(key, "entry") != 0 &&
		    strcmp(key, "root") != 0 && strcmp(key, "old_root") != 0) {
			rc = rq_error_set(RQ_EINVALID, "%s: unknown proof field \"%s\"", name, key);
			goto done;
		}
	}
	if (!json_u64(out->kind == RQ_PROOF_INCLUSION ? &out->index : &out->old_size,
		      json_object_get(j, first))) {
		rc = rq_error_set(RQ_EINVALID, "%s: proof \"%s\" is not a non-negative integer", name, first);
		goto done;
	}
	if (!json_u64(&out->size, json_object_get(j, "size"))) {
		rc = rq_error_set(RQ_EINVALID, "%s: proof \"size\" is not a non-negative integer", name);
		goto done;
	}
	v = json_object_get(j, "hashes");
	if (!json_is_array(v)) {
		rc = rq_error_set(RQ_EINVALID, "%s: proof \"hashes\" is not an array", name);
		goto done;
	}
	if (json_array_size(v) > RQ_MERKLE_MAX_PROOF) {
		rc = rq_error_set(RQ_EINVALID, "%s: proof has more than %d hashes", name, RQ_MERKLE_MAX_PROOF);
		goto done;
	}
	for (size_t i = 0; i < json_array_size(v); i++) {
		json_t *h = json_array_get(v, i);
		const char *s = json_string_value(h);
		if (!s || rq_base64_decode_exact(out->hashes[i], RQ_HASH_LEN, s, json_string_length(h)) != 0) {
			rc = rq_error_set(RQ_EINVALID, "%s: proof hash %zu is not base64 of 32 bytes", name, i);
			goto done;
		}
		out->n++;
	}
done:
	json_decref(j);
	return rc;
}

int rq_proof_parse(rq_proof *out, const char *text, size_t len, const char *name)
{
	int rc = 0;
	memset(out, 0, sizeof(*out));
	if (len > RQ_PROOF_MAX) {
		rc = rq_error_set(RQ_EINVALID, "%s: proof larger than %d bytes", name, RQ_PROOF_MAX);
		goto done;
	}
	size_t i = 0;
	while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r'))
		i++;
	if (i < len && (text[i] == '{' || text[i] == '['))
		rc = parse_json(out, text, len, name);
	else
		rc = parse_text(out, text, len, name);
	if (rc == 0)
		rc = proof_check_sizes(out, name);
done:
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}
