/* Unit tests of the public API's own functions (include/resque/): appending
 * a body given as JSON text, checking a ledger through a callback, and the
 * accessors of the opaque entries and keys. Only the forged entry of the
 * tampering case goes through an internal function. */
#include "unit.h"
#include "resque/resque.h"
#include "ledger_int.h"

#include <sodium.h>

struct pub {
	rq_key *k;
	rq_ledger *l;
	char *dir;
};

/* A fresh repository in its own directory, with its own $RESQUE_HOME
 * (verify's memory), signed by a new key. */
static int pub_open(struct pub *p)
{
	rq_buf b = RQ_BUF_INIT;
	memset(p, 0, sizeof(*p));
	rq_buf_printf(&b, "%s/home", unit_tmpdir());
	setenv("RESQUE_HOME", b.ptr, 1);
	rq_buf_reset(&b);
	rq_buf_printf(&b, "%s/.resque", unit_tmpdir());
	p->dir = rq_buf_detach(&b, NULL);
	if (sodium_init() < 0 || rq_key_generate(&p->k) != 0 || rq_ledger_init(&p->l, p->dir, p->k) != 0) {
		unit_fail(__FILE__, __LINE__, "setting up a ledger: %s", rq_error_last());
		return -1;
	}
	rq_ledger_set_signer(p->l, p->k);
	return 0;
}

static void pub_close(struct pub *p)
{
	rq_ledger_free(p->l);
	rq_key_free(p->k);
	free(p->dir);
}

TEST(public_append_json_good_body)
{
	struct pub p;
	rq_entry *e = NULL, *again = NULL;
	size_t len = 0;
	if (pub_open(&p))
		return;
	CHECK_OK(rq_ledger_append_json(&e, p.l, "note", "{\"message\": \"from json\"}", NULL, 0));
	if (!e)
		goto done;
	CHECK_INT_EQ(rq_entry_seq(e), 1);
	CHECK_INT_EQ(rq_ledger_size(p.l), 2);
	CHECK(strcmp(rq_entry_type(e), "note") == 0);
	const char *text = rq_entry_text(e, &len);
	CHECK(len == strlen(text));
	CHECK(strstr(text, "\"body\":{\"message\":\"from json\"}") != NULL);
	/* the id is the SHA-256 of exactly those bytes */
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[RQ_ID_HEX_SIZE];
	crypto_hash_sha256(h, (const unsigned char *)text, len);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	CHECK(strcmp(rq_entry_id(e), hex) == 0);
	/* what a reader gets back is the same entry */
	CHECK_OK(rq_ledger_get(&again, p.l, 1));
	if (again)
		CHECK(strcmp(rq_entry_id(again), rq_entry_id(e)) == 0);
done:
	rq_entry_free(again);
	rq_entry_free(e);
	pub_close(&p);
}

TEST(public_append_json_bad_bodies)
{
	static const char *const bad[][2] = {
		{ "not json", "body: not JSON: " },
		{ "{\"message\": \"unterminated", "body: not JSON: " },
		{ "{\"a\": 1, \"a\": 2}", "body: not JSON: " },
		{ "[\"an\", \"array\"]", "body: not a JSON object" },
	};
	struct pub p;
	rq_entry *e = NULL;
	if (pub_open(&p))
		return;
	for (size_t i = 0; i < RQ_ARRAY_SIZE(bad); i++) {
		CHECK_ERR(rq_ledger_append_json(&e, p.l, "note", bad[i][0], NULL, 0), RQ_EINVALID);
		CHECK(e == NULL);
		if (strncmp(rq_error_last(), bad[i][1], strlen(bad[i][1])) != 0)
			unit_fail(__FILE__, __LINE__, "body %s: message %s, expected %s...", bad[i][0],
				  rq_error_last(), bad[i][1]);
	}
	/* a good body signed by a key the ledger never authorised */
	rq_key *stranger = NULL;
	CHECK_OK(rq_key_generate(&stranger));
	rq_ledger_set_signer(p.l, stranger);
	CHECK_ERR(rq_ledger_append_json(&e, p.l, "note", "{\"message\": \"hi\"}", NULL, 0), RQ_EINVALID);
	CHECK(e == NULL);
	CHECK(strstr(rq_error_last(), "ask a current signer") != NULL);
	rq_ledger_set_signer(p.l, p.k);
	rq_key_free(stranger);
	/* the ledger is unchanged: still the genesis entry alone, also when
	 * read afresh */
	CHECK_INT_EQ(rq_ledger_size(p.l), 1);
	rq_ledger_free(p.l);
	p.l = NULL;
	CHECK_OK(rq_ledger_open(&p.l, p.dir));
	if (p.l) {
		CHECK_INT_EQ(rq_ledger_size(p.l), 1);
		CHECK_ERR(rq_ledger_get(&e, p.l, 1), RQ_ENOTFOUND);
	}
	rq_entry_free(e);
	pub_close(&p);
}

struct problems {
	size_t n;
	int64_t seq;
	rq_buf text;
};

static void on_problem(int64_t seq, const char *id, const char *message, void *ctx)
{
	struct problems *pr = ctx;
	if (pr->n++ == 0)
		pr->seq = seq;
	rq_buf_printf(&pr->text, "%" PRId64 " %s %s\n", seq, id, message);
}

TEST(public_check_clean_ledger)
{
	struct pub p;
	struct problems pr = { 0, 0, RQ_BUF_INIT };
	uint64_t n = 0;
	if (pub_open(&p))
		return;
	CHECK_OK(rq_ledger_append_json(NULL, p.l, "note", "{\"message\": \"one\"}", NULL, 0));
	CHECK_OK(rq_ledger_check(&n, p.l, on_problem, &pr));
	CHECK_INT_EQ(n, 2);
	CHECK_INT_EQ(pr.n, 0);
	/* no callback, no count: still a check */
	CHECK_OK(rq_ledger_check(NULL, p.l, NULL, NULL));
	rq_buf_release(&pr.text);
	pub_close(&p);
}

TEST(public_check_tampered_ledger)
{
	struct pub p;
	struct problems pr = { 0, -2, RQ_BUF_INIT };
	rq_key *intruder = NULL;
	uint64_t n = 0;
	if (pub_open(&p))
		return;
	CHECK_OK(rq_ledger_append_json(NULL, p.l, "note", "{\"message\": \"one\"}", NULL, 0));
	/* an entry signed by a key the ledger never authorised, written past
	 * the authorisation check as a forger would (tests/helpers/rq-forge) */
	CHECK_OK(rq_key_generate(&intruder));
	CHECK_OK(rq_ledger__append(NULL, p.l, "note", json_pack("{s:s}", "message", "forged"), NULL, 0,
				   intruder, RQ_APPEND_UNCHECKED));
	rq_ledger_free(p.l);
	p.l = NULL;
	CHECK_OK(rq_ledger_open(&p.l, p.dir));
	if (p.l) {
		CHECK_ERR(rq_ledger_check(&n, p.l, on_problem, &pr), RQ_EINTEGRITY);
		CHECK_INT_EQ(n, 3);
		CHECK(pr.n >= 1);
		CHECK_INT_EQ(pr.seq, 2);
		if (!strstr(pr.text.ptr, rq_key_id(intruder)))
			unit_fail(__FILE__, __LINE__, "problems do not name the intruder %s: %s",
				  rq_key_id(intruder), pr.text.ptr);
	}
	rq_buf_release(&pr.text);
	rq_key_free(intruder);
	pub_close(&p);
}

TEST(public_entry_accessors)
{
	struct pub p;
	rq_entry *g = NULL, *e = NULL;
	rq_buf s = RQ_BUF_INIT;
	if (pub_open(&p))
		return;
	CHECK_OK(rq_ledger_get(&g, p.l, 0));
	CHECK_OK(rq_ledger_append_json(&e, p.l, "version", "{\"name\": \"v1\"}", NULL, 0));
	if (!g || !e)
		goto done;
	CHECK_INT_EQ(rq_entry_seq(g), 0);
	CHECK(strcmp(rq_entry_type(g), "init") == 0);
	CHECK(strspn(rq_entry_prev(g), "0") == 64 && strlen(rq_entry_prev(g)) == 64);
	CHECK(strlen(rq_entry_id(g)) == 64 && strspn(rq_entry_id(g), "0123456789abcdef") == 64);
	CHECK(strlen(rq_entry_commit(g)) == 40);
	CHECK(strcmp(rq_entry_signer(g), rq_key_id(p.k)) == 0);
	CHECK(strlen(rq_entry_time(g)) == 20 && rq_entry_time(g)[19] == 'Z');
	CHECK(rq_entry_name(g) == NULL);
	CHECK(rq_entry_text(g, NULL) != NULL);
	/* the next entry chains to it */
	CHECK_INT_EQ(rq_entry_seq(e), 1);
	CHECK(strcmp(rq_entry_prev(e), rq_entry_id(g)) == 0);
	CHECK(strcmp(rq_entry_type(e), "version") == 0);
	CHECK(rq_entry_name(e) && strcmp(rq_entry_name(e), "v1") == 0);
	CHECK(strcmp(rq_entry_signer(e), rq_key_id(p.k)) == 0);
	rq_entry_summary(&s, e);
	CHECK(strstr(s.ptr, "v1") != NULL);
done:
	rq_buf_release(&s);
	rq_entry_free(e);
	rq_entry_free(g);
	pub_close(&p);
}

TEST(public_key_accessors)
{
	rq_key *k = NULL, *pk = NULL, *sk = NULL;
	rq_buf pub = RQ_BUF_INIT, sec = RQ_BUF_INIT;
	CHECK_OK(rq_key_generate(&k));
	if (!k)
		return;
	const char *id = rq_key_id(k);
	CHECK(strlen(id) == RQ_KEY_ID_HEX && strspn(id, "0123456789abcdef") == RQ_KEY_ID_HEX);
	/* the id is derived from the public key: it survives the file forms */
	CHECK_OK(rq_key_encode_public(&pub, k));
	CHECK_OK(rq_key_decode_public(&pk, pub.ptr, pub.len, "k.pub"));
	if (pk)
		CHECK(strcmp(rq_key_id(pk), id) == 0);
	CHECK_OK(rq_key_encode_secret(&sec, k, NULL));
	CHECK(!rq_key_file_is_encrypted(sec.ptr, sec.len));
	CHECK_OK(rq_key_decode_secret(&sk, sec.ptr, sec.len, NULL, "k.key"));
	if (sk)
		CHECK(strcmp(rq_key_id(sk), id) == 0);
	/* a public key has no secret to encode */
	rq_buf_reset(&sec);
	if (pk)
		CHECK_ERR(rq_key_encode_secret(&sec, pk, NULL), RQ_EINVALID);
	rq_buf_release(&pub);
	rq_buf_release(&sec);
	rq_key_free(sk);
	rq_key_free(pk);
	rq_key_free(k);
}

/* A ledger rolled back since this user verified it is sound in itself:
 * only verify's memory tells, and rq_ledger_check must consult it as the
 * readers do (a hostile review found it reporting such a ledger clean). */
TEST(public_check_rolled_back_ledger)
{
	struct pub p;
	struct problems pr = { 0, -2, RQ_BUF_INIT };
	rq_entry *e = NULL;
	git_reference *ref = NULL;
	git_oid oid;
	uint64_t n = 0;
	if (pub_open(&p))
		return;
	CHECK_OK(rq_ledger_append_json(NULL, p.l, "note", "{\"message\": \"one\"}", NULL, 0));
	CHECK_OK(rq_ledger_append_json(NULL, p.l, "note", "{\"message\": \"two\"}", NULL, 0));
	CHECK_OK(rq_ledger_check(&n, p.l, on_problem, &pr));
	CHECK_INT_EQ(pr.n, 0);
	CHECK_OK(rq_ledger_get(&e, p.l, 1));
	CHECK(e && git_oid_fromstr(&oid, rq_entry_commit(e)) == 0);
	CHECK(git_reference_create(&ref, p.l->repo, RQ_LEDGER_REF, &oid, 1, "rollback") == 0);
	git_reference_free(ref);
	rq_ledger_free(p.l);
	p.l = NULL;
	CHECK_OK(rq_ledger_open(&p.l, p.dir));
	if (p.l) {
		CHECK_ERR(rq_ledger_check(&n, p.l, on_problem, &pr), RQ_EINTEGRITY);
		CHECK_INT_EQ(n, 2);
		CHECK_INT_EQ(pr.n, 1);
		CHECK_INT_EQ(pr.seq, -1);
		if (!strstr(pr.text.ptr, "rolled back"))
			unit_fail(__FILE__, __LINE__, "problem does not say rolled back: %s", pr.text.ptr);
	}
	rq_entry_free(e);
	rq_buf_release(&pr.text);
	pub_close(&p);
}

/* What the verifier or the look-ups would trip over is refused before
 * anything is written (each found by the hostile review as written). */
TEST(public_append_json_refuses_what_cannot_be_verified)
{
	struct pub p;
	rq_entry *e = NULL;
	rq_buf deep = RQ_BUF_INIT;
	const char blob[] = "x";
	rq_attachment git_name = { ".git", blob, 1 };
	rq_attachment twice[2] = { { "a.txt", blob, 1 }, { "a.txt", blob, 1 } };
	rq_attachment null_name = { NULL, blob, 1 };
	if (pub_open(&p))
		return;
	/* a body that parses alone but not once inside the entry (jansson's
	 * depth limit is 2048 levels: 2048 here, and the entry adds one) */
	rq_buf_puts(&deep, "{\"a\":");
	for (int i = 0; i < 2047; i++)
		rq_buf_puts(&deep, "[");
	for (int i = 0; i < 2047; i++)
		rq_buf_puts(&deep, "]");
	rq_buf_puts(&deep, "}");
	CHECK_ERR(rq_ledger_append_json(&e, p.l, "note", deep.ptr, NULL, 0), RQ_EINVALID);
	CHECK(strstr(rq_error_last(), "would not read back") != NULL);
	CHECK_ERR(rq_ledger_append_json(&e, p.l, "note", "{\"attachments\": {\"fake\": {}}}", NULL, 0),
		  RQ_EINVALID);
	CHECK(strstr(rq_error_last(), "attachments") != NULL);
	CHECK_ERR(rq_ledger_append_json(&e, p.l, "key", "{\"junk\": 1}", NULL, 0), RQ_EINVALID);
	CHECK_ERR(rq_ledger_append_json(&e, p.l, NULL, "{}", NULL, 0), RQ_EINVALID);
	CHECK_ERR(rq_ledger_append_json(&e, p.l, "note", NULL, NULL, 0), RQ_EINVALID);
	CHECK_ERR(rq_ledger_append_json(&e, p.l, "note", "{}", &git_name, 1), RQ_EINVALID);
	CHECK_ERR(rq_ledger_append_json(&e, p.l, "note", "{}", twice, 2), RQ_EINVALID);
	CHECK(strstr(rq_error_last(), "twice") != NULL);
	CHECK_ERR(rq_ledger_append_json(&e, p.l, "note", "{}", &null_name, 1), RQ_EINVALID);
	CHECK_ERR(rq_ledger_append_json(&e, p.l, "version", "{\"message\": \"no name\"}", NULL, 0),
		  RQ_EINVALID);
	CHECK_ERR(rq_ledger_append_json(&e, p.l, "version", "{\"name\": \"latest\"}", NULL, 0),
		  RQ_EINVALID);
	CHECK_INT_EQ(rq_ledger_size(p.l), 1);
	/* a name in use */
	CHECK_OK(rq_ledger_append_json(NULL, p.l, "version", "{\"name\": \"v1\"}", NULL, 0));
	CHECK_ERR(rq_ledger_append_json(&e, p.l, "version", "{\"name\": \"v1\"}", NULL, 0), RQ_EEXISTS);
	CHECK(e == NULL);
	/* nothing else was written, and what is there verifies */
	CHECK_INT_EQ(rq_ledger_size(p.l), 2);
	CHECK_OK(rq_ledger_check(NULL, p.l, NULL, NULL));
	rq_buf_release(&deep);
	pub_close(&p);
}
