/* Unit tests of ledger entries and keys: canonical encoding, hashing,
 * signatures with domain separation, key files. */
#include "unit.h"
#include "entry_int.h"
#include "json.h"
#include "key_int.h"

#include <sodium.h>

static const char zeros[RQ_ID_HEX_SIZE] = "0000000000000000000000000000000000000000000000000000000000000000";

TEST(entry_build_is_canonical_and_hashed)
{
	rq_entry *e = NULL, *p = NULL;
	json_t *body = json_pack("{s:s, s:f}", "message", "é \"quoted\"\n", "x", 0.5);
	CHECK_OK(rq_entry_build(&e, 7, zeros, "note", "2026-01-02T03:04:05Z", "0123456789abcdef", body));
	CHECK_STR_EQ(e->bytes.ptr,
		     "{\"body\":{\"message\":\"é \\\"quoted\\\"\\n\",\"x\":0.5},\"prev\":\"" "0000000000000000000000000000000000000000000000000000000000000000"
		     "\",\"seq\":7,\"signer\":\"0123456789abcdef\",\"time\":\"2026-01-02T03:04:05Z\",\"type\":\"note\",\"v\":1}");
	char h[RQ_HASH_HEX_SIZE];
	uint8_t raw[RQ_HASH_LEN];
	crypto_hash_sha256(raw, (const uint8_t *)e->bytes.ptr, e->bytes.len);
	rq_hex_encode(h, raw, RQ_HASH_LEN);
	CHECK_STR_EQ(e->id, h);
	CHECK_OK(rq_entry_parse(&p, e->bytes.ptr, e->bytes.len));
	CHECK_STR_EQ(p->id, e->id);
	CHECK_INT_EQ(p->seq, 7);
	CHECK_STR_EQ(p->type, "note");
	rq_entry_free(e);
	rq_entry_free(p);
}

TEST(entry_parse_rejects_noncanonical_and_malformed)
{
	rq_entry *e = NULL;
	const char *cases[] = {
		/* white space */
		"{\"body\": {},\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"seq\":0,\"signer\":\"0123456789abcdef\",\"time\":\"2026-01-02T03:04:05Z\",\"type\":\"note\",\"v\":1}",
		/* keys out of order */
		"{\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"body\":{},\"seq\":0,\"signer\":\"0123456789abcdef\",\"time\":\"2026-01-02T03:04:05Z\",\"type\":\"note\",\"v\":1}",
		/* bad time */
		"{\"body\":{},\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"seq\":0,\"signer\":\"0123456789abcdef\",\"time\":\"2026-01-02\",\"type\":\"note\",\"v\":1}",
		/* future version */
		"{\"body\":{},\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"seq\":0,\"signer\":\"0123456789abcdef\",\"time\":\"2026-01-02T03:04:05Z\",\"type\":\"note\",\"v\":2}",
		/* negative seq */
		"{\"body\":{},\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"seq\":-1,\"signer\":\"0123456789abcdef\",\"time\":\"2026-01-02T03:04:05Z\",\"type\":\"note\",\"v\":1}",
		/* upper-case hex */
		"{\"body\":{},\"prev\":\"000000000000000000000000000000000000000000000000000000000000000A\",\"seq\":0,\"signer\":\"0123456789abcdef\",\"time\":\"2026-01-02T03:04:05Z\",\"type\":\"note\",\"v\":1}",
		"not json",
		"[]",
	};
	for (size_t i = 0; i < RQ_ARRAY_SIZE(cases); i++) {
		CHECK_ERR(rq_entry_parse(&e, cases[i], strlen(cases[i])), RQ_EINTEGRITY);
		CHECK(e == NULL);
	}
	/* an unknown field survives: it is canonical and parses */
	const char *extra = "{\"body\":{},\"future\":[1,2],\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"seq\":0,\"signer\":\"0123456789abcdef\",\"time\":\"2026-01-02T03:04:05Z\",\"type\":\"note\",\"v\":1}";
	CHECK_OK(rq_entry_parse(&e, extra, strlen(extra)));
	CHECK(e && json_is_array(json_object_get(e->root, "future")));
	rq_entry_free(e);
}

TEST(entry_signature_detects_any_change)
{
	rq_key *k = NULL, *other = NULL;
	rq_entry *e = NULL, *f = NULL;
	rq_buf sig = RQ_BUF_INIT;
	char kid[RQ_KEY_ID_SIZE];
	uint8_t s[RQ_SIG_LEN];
	CHECK_OK(rq_key_generate(&k));
	CHECK_OK(rq_key_generate(&other));
	CHECK_OK(rq_entry_build(&e, 0, zeros, "note", "2026-01-02T03:04:05Z", k->id, json_pack("{s:s}", "message", "a")));
	CHECK_OK(rq_entry_sign(&sig, e, k));
	CHECK_OK(rq_entry_sig_parse(kid, s, sig.ptr, sig.len));
	CHECK_STR_EQ(kid, k->id);
	CHECK(rq_entry_sig_check(e, s, k->pk));
	CHECK(!rq_entry_sig_check(e, s, other->pk));
	/* the same bytes under another domain prefix do not verify */
	CHECK(!rq_key_check(k->pk, s, "other prefix\n", e->bytes.ptr, e->bytes.len));
	CHECK_OK(rq_entry_build(&f, 0, zeros, "note", "2026-01-02T03:04:05Z", k->id, json_pack("{s:s}", "message", "b")));
	CHECK(!rq_entry_sig_check(f, s, k->pk));
	sig.ptr[40] = sig.ptr[40] == 'a' ? 'b' : 'a';
	CHECK_OK(rq_entry_sig_parse(kid, s, sig.ptr, sig.len));
	CHECK(!rq_entry_sig_check(e, s, k->pk));
	CHECK_ERR(rq_entry_sig_parse(kid, s, "ed25519 xyz\n", 12), RQ_EINTEGRITY);
	rq_buf_release(&sig);
	rq_entry_free(e);
	rq_entry_free(f);
	rq_key_free(k);
	rq_key_free(other);
}

TEST(key_files_round_trip_plain_and_encrypted)
{
	rq_key *k = NULL, *back = NULL, *pub = NULL;
	rq_buf text = RQ_BUF_INIT;
	char id[RQ_KEY_ID_SIZE];
	uint8_t h[RQ_HASH_LEN];
	CHECK_OK(rq_key_generate(&k));
	crypto_hash_sha256(h, k->pk, RQ_PUBKEY_LEN);
	rq_hex_encode(id, h, 8);
	CHECK_STR_EQ(k->id, id);

	CHECK_OK(rq_key_encode_secret(&text, k, NULL));
	CHECK(!rq_key_file_is_encrypted(text.ptr, text.len));
	CHECK_OK(rq_key_decode_secret(&back, text.ptr, text.len, NULL, "k.key"));
	CHECK(back && memcmp(back->sk, k->sk, RQ_SECKEY_LEN) == 0);
	rq_key_free(back);
	back = NULL;

	rq_buf_reset(&text);
	CHECK_OK(rq_key_encode_secret(&text, k, "correct horse"));
	CHECK(rq_key_file_is_encrypted(text.ptr, text.len));
	CHECK_ERR(rq_key_decode_secret(&back, text.ptr, text.len, "wrong", "k.key"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "k.key: wrong passphrase");
	CHECK_ERR(rq_key_decode_secret(&back, text.ptr, text.len, NULL, "k.key"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "encrypted");
	CHECK_OK(rq_key_decode_secret(&back, text.ptr, text.len, "correct horse", "k.key"));
	CHECK(back && memcmp(back->sk, k->sk, RQ_SECKEY_LEN) == 0);

	rq_buf_reset(&text);
	CHECK_OK(rq_key_encode_public(&text, k));
	CHECK_OK(rq_key_decode_public(&pub, text.ptr, text.len, "k.pub"));
	CHECK(pub && memcmp(pub->pk, k->pk, RQ_PUBKEY_LEN) == 0 && pub->sk == NULL);
	rq_key_free(pub);
	pub = NULL;
	CHECK_ERR(rq_key_decode_public(&pub, "garbage", 7, "x.pub"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "x.pub");
	/* a secret file whose id was altered is refused */
	rq_buf_reset(&text);
	CHECK_OK(rq_key_encode_secret(&text, k, NULL));
	char *idline = strstr(text.ptr, "\nid ") + 4;
	idline[0] = idline[0] == '0' ? '1' : '0';
	CHECK_ERR(rq_key_decode_secret(&pub, text.ptr, text.len, NULL, "k.key"), RQ_EINVALID);
	rq_buf_release(&text);
	rq_key_free(k);
	rq_key_free(back);
}

TEST(entry_with_awkward_numbers_stays_canonical)
{
	/* negative zero, integral reals, huge and tiny values: what we write
	 * must parse back as canonical */
	double vals[] = { -0.0, 30.0, 1e20, 12345678901234568.0, 5e-324, -1.5e-7, 0.1 + 0.2 };
	for (size_t i = 0; i < RQ_ARRAY_SIZE(vals); i++) {
		rq_entry *e = NULL, *p = NULL;
		json_t *body = json_object();
		json_object_set_new(body, "x", json_real(vals[i]));
		CHECK_OK(rq_entry_build(&e, 1, zeros, "note", "2026-01-02T03:04:05Z", "0123456789abcdef", body));
		if (e) {
			CHECK_OK(rq_entry_parse(&p, e->bytes.ptr, e->bytes.len));
			CHECK(p && json_number_value(json_object_get(p->body, "x")) == vals[i]);
		}
		rq_entry_free(e);
		rq_entry_free(p);
	}
}
