/* Unit tests of core/entry/checkpoint.c: C2SP signed-note checkpoints against
 * Go's golang.org/x/mod/sumdb/note (its documented PeterNeumann example and
 * a checkpoint it signed, tests/data/checkpoint/), and live against Go and
 * Python's hashlib + cryptography when installed; strict parsing of notes,
 * verifier keys and proofs, with every rejection naming the file. */
#include "unit.h"
#include "checkpoint.h"

#include <sodium.h>
#include <unistd.h>

static const char *testdata(void)
{
	const char *d = getenv("RQ_TESTDATA");
	return d && *d ? d : "tests/data";
}

static char *read_testdata(const char *rel, size_t *len)
{
	rq_buf p = RQ_BUF_INIT, b = RQ_BUF_INIT;
	rq_buf_printf(&p, "%s/%s", testdata(), rel);
	if (rq_file_read(&b, p.ptr) < 0)
		unit_fail(__FILE__, __LINE__, "%s: %s (set RQ_TESTDATA)", p.ptr, rq_error_last());
	rq_buf_release(&p);
	return rq_buf_detach(&b, len);
}

/* A key from a 32-byte seed, its secret in plain memory (tests only). */
struct seeded {
	rq_key k;
	unsigned char sk[RQ_SECKEY_LEN];
};

static void seeded_key(struct seeded *s, const uint8_t seed[crypto_sign_SEEDBYTES])
{
	memset(s, 0, sizeof(*s));
	crypto_sign_seed_keypair(s->k.pk, s->sk, seed);
	s->k.sk = s->sk;
	rq_key_id_of(s->k.id, s->k.pk);
}

static void test_seed(uint8_t seed[crypto_sign_SEEDBYTES])
{
	const char *s = "resque checkpoint test key";
	crypto_hash_sha256(seed, (const unsigned char *)s, strlen(s));
}

static void test_root(rq_hash root)
{
	crypto_hash_sha256(root, (const unsigned char *)"root", 4);
}

/* Go's own documentation example (x/mod/sumdb/note, example_test.go). */
TEST(checkpoint_go_peter_neumann)
{
	const char *vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
	const char *seed_b64 = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"; /* of its skey */
	const char *text = "If you think cryptography is the answer to your problem,\n"
			   "then you don't know what your problem is.\n";
	const char *sig_b64 = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=";
	rq_verifier v;
	uint8_t typed_seed[1 + crypto_sign_SEEDBYTES], blob[RQ_NOTE_KEY_ID_LEN + RQ_SIG_LEN], sig[RQ_SIG_LEN];
	struct seeded s;
	rq_buf b = RQ_BUF_INIT;
	CHECK_OK(rq_verifier_parse(&v, vkey, strlen(vkey), "--key"));
	CHECK_STR_EQ(v.name, "PeterNeumann");
	CHECK(v.key_id[0] == 0xc7 && v.key_id[1] == 0x4f && v.key_id[2] == 0x20 && v.key_id[3] == 0xa3);
	rq_verifier_format(&b, &v);
	CHECK_STR_EQ(b.ptr, vkey);
	CHECK_INT_EQ(rq_base64_decode_exact(typed_seed, sizeof(typed_seed), seed_b64, strlen(seed_b64)), 0);
	seeded_key(&s, typed_seed + 1);
	CHECK(memcmp(s.k.pk, v.pk, RQ_PUBKEY_LEN) == 0);
	CHECK_INT_EQ(rq_base64_decode_exact(blob, sizeof(blob), sig_b64, strlen(sig_b64)), 0);
	CHECK(memcmp(blob, v.key_id, RQ_NOTE_KEY_ID_LEN) == 0);
	/* Ed25519 is deterministic: our signature of the text is Go's */
	CHECK_OK(rq_key_sign(sig, &s.k, "", text, strlen(text)));
	CHECK(memcmp(sig, blob + RQ_NOTE_KEY_ID_LEN, RQ_SIG_LEN) == 0);
	rq_buf_release(&b);
}

/* A checkpoint Go signed (tests/data/checkpoint/note-check.go gen): we
 * verify it, and signing the same body with the same key gives the same
 * bytes. */
TEST(checkpoint_go_signed)
{
	size_t vlen = 0, clen = 0;
	char *vkey = read_testdata("checkpoint/go-test-key.vkey", &vlen);
	char *note = read_testdata("checkpoint/go-signed.checkpoint", &clen);
	rq_verifier v, mine;
	rq_checkpoint c, c2;
	rq_hash root;
	uint8_t seed[crypto_sign_SEEDBYTES];
	struct seeded s;
	rq_buf b = RQ_BUF_INIT;
	test_seed(seed);
	test_root(root);
	seeded_key(&s, seed);
	CHECK_OK(rq_verifier_parse(&v, vkey, vlen, "go-test-key.vkey"));
	rq_verifier_of(&mine, &s.k);
	CHECK_STR_EQ(mine.name, v.name);
	CHECK(memcmp(mine.key_id, v.key_id, RQ_NOTE_KEY_ID_LEN) == 0 && memcmp(mine.pk, v.pk, RQ_PUBKEY_LEN) == 0);
	rq_verifier_format(&b, &mine);
	CHECK_STR_EQ(b.ptr, vkey);
	CHECK_OK(rq_checkpoint_parse(&c, note, clen, "go-signed.checkpoint"));
	CHECK_STR_EQ(c.origin, "resque/0123456789abcdef");
	CHECK_INT_EQ(c.size, 12);
	CHECK(memcmp(c.root, root, RQ_HASH_LEN) == 0);
	CHECK_OK(rq_checkpoint_verify(&c, &v, "go-signed.checkpoint"));
	CHECK_OK(rq_checkpoint_sign(&c2, "resque/0123456789abcdef", 12, root, &s.k));
	CHECK_INT_EQ(c2.text_len, clen);
	CHECK(c2.text && memcmp(c2.text, note, clen) == 0);
	rq_checkpoint_release(&c);
	rq_checkpoint_release(&c2);
	rq_buf_release(&b);
	free(vkey);
	free(note);
}

static bool have_go(void)
{
	return system("command -v go >/dev/null 2>&1 && test -d /usr/share/gocode/src/golang.org/x/mod/sumdb/note") == 0;
}

/* Go's note.Open accepts a checkpoint we signed with a fresh key. */
TEST(checkpoint_go_live)
{
	rq_key *k = NULL;
	rq_checkpoint c;
	rq_verifier v;
	rq_hash root;
	rq_buf vk = RQ_BUF_INIT, cmd = RQ_BUF_INIT, got = RQ_BUF_INIT;
	char line[256];
	if (!have_go()) {
		printf("skip checkpoint_go_live: no go with golang-golang-x-mod-dev\n");
		return;
	}
	test_root(root);
	CHECK_OK(rq_key_generate(&k));
	CHECK_OK(rq_checkpoint_sign(&c, "resque/live", 5, root, k));
	rq_verifier_of(&v, k);
	rq_verifier_format(&vk, &v);
	char *path = unit_write_file(unit_tmpdir(), "live.checkpoint", c.text, c.text_len);
	rq_buf_printf(&cmd, "cd '%s/checkpoint' && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE='%s/gocache' "
		      "GOFLAGS= go run note-check.go open '%s' '%s' 2>&1", testdata(), unit_tmpdir(), vk.ptr, path);
	FILE *f = popen(cmd.ptr, "r");
	CHECK(f != NULL);
	while (f && fgets(line, sizeof(line), f))
		rq_buf_puts(&got, line);
	int st = f ? pclose(f) : -1;
	if (st != 0)
		unit_fail(__FILE__, __LINE__, "go note.Open refused our checkpoint: %s", got.ptr);
	CHECK(got.len == c.body_len && memcmp(got.ptr, c.text, c.body_len) == 0);
	free(path);
	rq_checkpoint_release(&c);
	rq_key_free(k);
	rq_buf_release(&vk);
	rq_buf_release(&cmd);
	rq_buf_release(&got);
}

/* Python (hashlib for the key id, cryptography's Ed25519) verifies a
 * checkpoint we signed, reading only the note text and the public key. */
TEST(checkpoint_python_live)
{
	static const char script[] =
		"import sys, hashlib, base64\n"
		"from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey\n"
		"note = open(sys.argv[1], 'rb').read(); pk = bytes.fromhex(sys.argv[2])\n"
		"body, sigs = note.rsplit(b'\\n\\n', 1); body += b'\\n'\n"
		"line = sigs.decode().splitlines()[0]\n"
		"assert line.startswith('\\u2014 ')\n"
		"name, b64 = line[2:].split(' ')\n"
		"blob = base64.b64decode(b64, validate=True)\n"
		"kid = hashlib.sha256(name.encode() + b'\\n\\x01' + pk).digest()[:4]\n"
		"assert blob[:4] == kid, 'key id'\n"
		"Ed25519PublicKey.from_public_bytes(pk).verify(blob[4:], body)\n"
		"print('ok', name, kid.hex())\n";
	rq_key *k = NULL;
	rq_checkpoint c;
	rq_verifier v;
	rq_hash root;
	char hex[RQ_PUBKEY_HEX_SIZE], line[256] = "", want[256];
	rq_buf cmd = RQ_BUF_INIT;
	if (system("/usr/bin/python3 -c 'import cryptography' >/dev/null 2>&1") != 0) {
		printf("skip checkpoint_python_live: no /usr/bin/python3 with cryptography\n");
		return;
	}
	test_root(root);
	CHECK_OK(rq_key_generate(&k));
	CHECK_OK(rq_checkpoint_sign(&c, "resque/python", 77, root, k));
	rq_verifier_of(&v, k);
	char *note = unit_write_file(unit_tmpdir(), "py.checkpoint", c.text, c.text_len);
	char *py = unit_write_file(unit_tmpdir(), "check.py", script, sizeof(script) - 1);
	rq_hex_encode(hex, k->pk, RQ_PUBKEY_LEN);
	rq_buf_printf(&cmd, "/usr/bin/python3 '%s' '%s' %s 2>&1", py, note, hex);
	FILE *f = popen(cmd.ptr, "r");
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		pclose(f);
	}
	snprintf(want, sizeof(want), "ok %s %02x%02x%02x%02x\n", v.name, v.key_id[0], v.key_id[1],
		 v.key_id[2], v.key_id[3]);
	CHECK_STR_EQ(line, want);
	free(note);
	free(py);
	rq_checkpoint_release(&c);
	rq_key_free(k);
	rq_buf_release(&cmd);
}

TEST(checkpoint_round_trip_and_format)
{
	rq_key *k = NULL;
	rq_checkpoint c, p;
	rq_verifier v;
	rq_hash root;
	rq_buf want = RQ_BUF_INIT, sigline = RQ_BUF_INIT;
	test_root(root);
	CHECK_OK(rq_key_generate(&k));
	CHECK_OK(rq_checkpoint_sign(&c, "resque/abc", 1234567, root, k));
	rq_verifier_of(&v, k);
	rq_buf_puts(&want, "resque/abc\n1234567\nSBNJTRN+FjG7owHVrKtue7eqdM4RhdRWVl71HXN2d7I=\n");
	CHECK_INT_EQ(c.body_len, want.len);
	rq_buf_printf(&want, "\n\xe2\x80\x94 resque-key-%s ", k->id);
	CHECK(c.text_len > want.len && memcmp(c.text, want.ptr, want.len) == 0);
	/* base64(4 + 64 bytes) is 92 characters, then the final newline */
	CHECK_INT_EQ(c.text_len, want.len + 92 + 1);
	CHECK(c.text[c.text_len - 1] == '\n');
	CHECK_STR_EQ(v.name + strlen(RQ_KEY_NAME_PREFIX), k->id);
	CHECK_OK(rq_checkpoint_parse(&p, c.text, c.text_len, "cp"));
	CHECK_STR_EQ(p.origin, "resque/abc");
	CHECK_INT_EQ(p.size, 1234567);
	CHECK(memcmp(p.root, root, RQ_HASH_LEN) == 0);
	CHECK_INT_EQ(p.body_len, c.body_len);
	CHECK(p.text_len == c.text_len && memcmp(p.text, c.text, c.text_len) == 0);
	CHECK_OK(rq_checkpoint_verify(&p, &v, "cp"));
	CHECK_OK(rq_checkpoint_verify(&c, &v, "cp"));
	/* a public key only cannot sign */
	rq_key pub = *k;
	pub.sk = NULL;
	rq_checkpoint_release(&p);
	CHECK_ERR(rq_checkpoint_sign(&p, "resque/abc", 1, root, &pub), RQ_EINVALID);
	CHECK_ERR(rq_checkpoint_sign(&p, "", 1, root, k), RQ_EINVALID);
	CHECK_ERR(rq_checkpoint_sign(&p, "two\nlines", 1, root, k), RQ_EINVALID);
	CHECK(p.text == NULL);
	rq_checkpoint_release(&c);
	rq_checkpoint_release(&c); /* twice is harmless */
	rq_key_free(k);
	rq_buf_release(&want);
	rq_buf_release(&sigline);
}

/* Parse then verify `text`: the code and the message of the first failure. */
static int parse_verify(const char *text, size_t len, const rq_verifier *v)
{
	rq_checkpoint c;
	int rc = rq_checkpoint_parse(&c, text, len, "cp.txt");
	if (rc == 0)
		rc = rq_checkpoint_verify(&c, v, "cp.txt");
	rq_checkpoint_release(&c);
	return rc;
}

#define CHECK_REJECT(text, len, v, code, msg)                                               \
	do {                                                                                \
		int r_ = parse_verify((text), (len), (v));                                  \
		if (r_ != (code))                                                           \
			unit_fail(__FILE__, __LINE__, "returned %d, expected %d (%s)", r_,  \
				  (int)(code), rq_error_last());                            \
		CHECK_CONTAINS(rq_error_last(), "cp.txt: ");                                \
		CHECK_CONTAINS(rq_error_last(), (msg));                                     \
	} while (0)

/* Sign an arbitrary body (for notes rq_checkpoint_sign would not make). */
static void sign_body(rq_buf *out, const char *body, const rq_key *k)
{
	rq_verifier v;
	uint8_t blob[RQ_NOTE_KEY_ID_LEN + RQ_SIG_LEN];
	rq_verifier_of(&v, k);
	memcpy(blob, v.key_id, RQ_NOTE_KEY_ID_LEN);
	rq_key_sign(blob + RQ_NOTE_KEY_ID_LEN, k, "", body, strlen(body));
	rq_buf_reset(out);
	rq_buf_printf(out, "%s\n\xe2\x80\x94 %s ", body, v.name);
	rq_base64_encode(out, blob, sizeof(blob));
	rq_buf_putc(out, '\n');
}

TEST(checkpoint_rejects)
{
	rq_key *k = NULL, *other = NULL;
	rq_checkpoint c;
	rq_verifier v, vo;
	rq_hash root;
	rq_buf t = RQ_BUF_INIT;
	test_root(root);
	CHECK_OK(rq_key_generate(&k));
	CHECK_OK(rq_key_generate(&other));
	rq_verifier_of(&v, k);
	rq_verifier_of(&vo, other);
	CHECK_OK(rq_checkpoint_sign(&c, "resque/abc", 12, root, k));
	const char *good = c.text;
	size_t n = c.text_len;

	/* another signer */
	CHECK_REJECT(good, n, &vo, RQ_EINTEGRITY, "not signed by resque-key-");
	/* the same name with another key: the key id differs */
	rq_verifier impostor = vo;
	memcpy(impostor.name, v.name, sizeof(v.name));
	CHECK_REJECT(good, n, &impostor, RQ_EINTEGRITY, "not signed by");
	/* name and key id right but another public key: the signature fails */
	impostor = v;
	impostor.pk[0] ^= 1;
	CHECK_REJECT(good, n, &impostor, RQ_EINTEGRITY, "bad signature by");

	/* edited body lines */
	rq_buf_put(&t, good, n);
	t.ptr[11] = '3'; /* size 12 -> 13 */
	CHECK_REJECT(t.ptr, t.len, &v, RQ_EINTEGRITY, "bad signature");
	rq_buf_reset(&t);
	rq_buf_put(&t, good, n);
	t.ptr[7] = 'x'; /* origin */
	CHECK_REJECT(t.ptr, t.len, &v, RQ_EINTEGRITY, "bad signature");
	rq_buf_reset(&t);
	rq_buf_put(&t, good, n);
	t.ptr[14] = t.ptr[14] == 'A' ? 'B' : 'A'; /* root, still canonical base64 */
	CHECK_REJECT(t.ptr, t.len, &v, RQ_EINTEGRITY, "bad signature");
	/* the signature itself */
	rq_buf_reset(&t);
	rq_buf_put(&t, good, n);
	t.ptr[n - 10] = t.ptr[n - 10] == 'A' ? 'B' : 'A';
	CHECK(parse_verify(t.ptr, t.len, &v) != 0);
	/* key id bytes of the signature line (first base64 chars) */
	rq_buf_reset(&t);
	rq_buf_put(&t, good, n);
	size_t sigstart = c.body_len + 1 + 4 + strlen(v.name) + 1;
	t.ptr[sigstart] = t.ptr[sigstart] == 'A' ? 'B' : 'A';
	CHECK_REJECT(t.ptr, t.len, &v, RQ_EINTEGRITY, "not signed by");

	/* every truncation is refused */
	for (size_t i = 0; i < n; i++)
		if (parse_verify(good, i, &v) == 0)
			unit_fail(__FILE__, __LINE__, "note truncated to %zu bytes accepted", i);
	CHECK_REJECT(good, n - 1, &v, RQ_EINVALID, "truncated");
	CHECK_REJECT(good, 0, &v, RQ_EINVALID, "empty checkpoint");
	CHECK_REJECT(good, c.body_len + 1, &v, RQ_EINVALID, "no signature");

	/* no blank line */
	rq_buf_reset(&t);
	rq_buf_put(&t, good, c.body_len);
	rq_buf_put(&t, good + c.body_len + 1, n - c.body_len - 1);
	CHECK_REJECT(t.ptr, t.len, &v, RQ_EINVALID, "no blank line");
	/* CRLF */
	rq_buf_reset(&t);
	for (size_t i = 0; i < n; i++) {
		if (good[i] == '\n')
			rq_buf_putc(&t, '\r');
		rq_buf_putc(&t, good[i]);
	}
	CHECK_REJECT(t.ptr, t.len, &v, RQ_EINVALID, "carriage return");
	/* not UTF-8, NUL, tab */
	rq_buf_reset(&t);
	rq_buf_put(&t, good, n);
	t.ptr[8] = (char)0xff;
	CHECK_REJECT(t.ptr, t.len, &v, RQ_EINVALID, "invalid UTF-8");
	t.ptr[8] = (char)0xc0; /* overlong */
	t.ptr[9] = (char)0xaf;
	CHECK_REJECT(t.ptr, t.len, &v, RQ_EINVALID, "invalid UTF-8");
	t.ptr[8] = '\0';
	CHECK_REJECT(t.ptr, t.len, &v, RQ_EINVALID, "control character");
	t.ptr[8] = '\t';
	CHECK_REJECT(t.ptr, t.len, &v, RQ_EINVALID, "control character");
	/* bad base64 in the signature line */
	rq_buf_reset(&t);
	rq_buf_put(&t, good, n - 2);
	rq_buf_puts(&t, "!\n");
	CHECK_REJECT(t.ptr, t.len, &v, RQ_EINVALID, "malformed signature line 1");
	rq_buf_reset(&t);
	rq_buf_put(&t, good, n - 1);
	rq_buf_puts(&t, "==\n");
	CHECK_REJECT(t.ptr, t.len, &v, RQ_EINVALID, "malformed signature line");
	/* an ASCII dash instead of the em dash */
	rq_buf_reset(&t);
	rq_buf_put(&t, good, c.body_len + 1);
	rq_buf_puts(&t, "-");
	rq_buf_put(&t, good + c.body_len + 1 + 3, n - c.body_len - 1 - 3);
	CHECK_REJECT(t.ptr, t.len, &v, RQ_EINVALID, "malformed signature line");
	/* trailing garbage after the signatures */
	rq_buf_reset(&t);
	rq_buf_put(&t, good, n);
	rq_buf_puts(&t, "garbage\n");
	CHECK_REJECT(t.ptr, t.len, &v, RQ_EINVALID, "malformed signature line 2");

	/* body rules, each note correctly signed */
	static const struct {
		const char *body, *msg;
	} bodies[] = {
		{ "resque/abc\n012\nSBNJTRN+FjG7owHVrKtue7eqdM4RhdRWVl71HXN2d7I=\n", "tree size" },
		{ "resque/abc\n+12\nSBNJTRN+FjG7owHVrKtue7eqdM4RhdRWVl71HXN2d7I=\n", "tree size" },
		{ "resque/abc\n18446744073709551616\nSBNJTRN+FjG7owHVrKtue7eqdM4RhdRWVl71HXN2d7I=\n", "tree size" },
		{ "resque/abc\n12\nSBNJTRN+FjG7owHVrKtue7eqdM4RhdRWVl71HXN2d7I\n", "root hash" },
		{ "resque/abc\n12\nSBNJTRN+FjG7owHVrKtue7eqdM4RhdRWVl71HXN2d7J=\n", "root hash" },
		{ "resque/abc\n12\nSBNJTRN+FjG7owHVrKtue7eqdM4RhdRWVl71HXN2=\n", "root hash" },
		{ "resque/abc\n12\n", "no root hash" },
		{ "resque/abc\n", "no tree size" },
		{ "resque/abc\n12\nSBNJTRN+FjG7owHVrKtue7eqdM4RhdRWVl71HXN2d7I=\next\n\nmore\n", "empty extension line" },
	};
	for (size_t i = 0; i < RQ_ARRAY_SIZE(bodies); i++) {
		sign_body(&t, bodies[i].body, k);
		CHECK_REJECT(t.ptr, t.len, &v, RQ_EINVALID, bodies[i].msg);
	}
	/* an empty origin cannot be signed through a blank first line: the
	 * last blank line splits the note */
	sign_body(&t, "\n12\nSBNJTRN+FjG7owHVrKtue7eqdM4RhdRWVl71HXN2d7I=\n", k);
	CHECK(parse_verify(t.ptr, t.len, &v) != 0);
	/* extension lines are signed and allowed; size 0 and 2^64-1 parse */
	sign_body(&t, "resque/abc\n18446744073709551615\nSBNJTRN+FjG7owHVrKtue7eqdM4RhdRWVl71HXN2d7I=\nextension one\nTwo\n", k);
	CHECK_OK(parse_verify(t.ptr, t.len, &v));
	sign_body(&t, "resque/abc\n0\nSBNJTRN+FjG7owHVrKtue7eqdM4RhdRWVl71HXN2d7I=\n", k);
	CHECK_OK(parse_verify(t.ptr, t.len, &v));
	/* unknown signature lines are ignored, whichever comes first */
	rq_buf_reset(&t);
	rq_buf_put(&t, good, c.body_len + 1);
	rq_buf_puts(&t, "\xe2\x80\x94 witness.example/w1 AAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
	rq_buf_put(&t, good + c.body_len + 1, n - c.body_len - 1);
	rq_buf_puts(&t, "\xe2\x80\x94 other AQIDBAU=\n");
	CHECK_OK(parse_verify(t.ptr, t.len, &v));
	CHECK_REJECT(t.ptr, t.len, &vo, RQ_EINTEGRITY, "not signed by");
	/* more than 100 signature lines */
	rq_buf_reset(&t);
	rq_buf_put(&t, good, n);
	for (int i = 0; i < 100; i++)
		rq_buf_puts(&t, "\xe2\x80\x94 other AQIDBAU=\n");
	CHECK_REJECT(t.ptr, t.len, &v, RQ_EINVALID, "more than 100 signatures");
	/* a huge note is refused unread */
	rq_buf_reset(&t);
	rq_buf_put(&t, good, n);
	while (t.len <= RQ_CHECKPOINT_MAX)
		rq_buf_puts(&t, "\xe2\x80\x94 other AQIDBAU=\n");
	CHECK_REJECT(t.ptr, t.len, &v, RQ_EINVALID, "larger than");
	/* the first line by our key decides: a bad one before a good one fails */
	rq_buf_reset(&t);
	rq_buf_put(&t, good, n);
	rq_buf_put(&t, good + c.body_len + 1, n - c.body_len - 1);
	t.ptr[n - 10] = t.ptr[n - 10] == 'A' ? 'B' : 'A';
	CHECK_REJECT(t.ptr, t.len, &v, RQ_EINTEGRITY, "bad signature");

	rq_checkpoint_release(&c);
	rq_key_free(k);
	rq_key_free(other);
	rq_buf_release(&t);
}

TEST(checkpoint_verifier_parse)
{
	rq_key *k = NULL, *pubk = NULL;
	rq_verifier v, p;
	rq_buf b = RQ_BUF_INIT, pub = RQ_BUF_INIT;
	char hex[RQ_PUBKEY_HEX_SIZE];
	CHECK_OK(rq_key_generate(&k));
	rq_verifier_of(&v, k);
	rq_verifier_format(&b, &v);
	/* vkey, with or without its newline */
	CHECK_OK(rq_verifier_parse(&p, b.ptr, b.len, "--key"));
	CHECK(memcmp(&p, &v, sizeof(v)) == 0);
	rq_buf_putc(&b, '\n');
	CHECK_OK(rq_verifier_parse(&p, b.ptr, b.len, "--key"));
	CHECK(memcmp(&p, &v, sizeof(v)) == 0);
	/* a resque public key file and bare hex give the same verifier */
	CHECK_OK(rq_key_encode_public(&pub, k));
	CHECK_OK(rq_verifier_parse(&p, pub.ptr, pub.len, "k.pub"));
	CHECK(memcmp(&p, &v, sizeof(v)) == 0);
	rq_hex_encode(hex, k->pk, RQ_PUBKEY_LEN);
	CHECK_OK(rq_verifier_parse(&p, hex, 2 * RQ_PUBKEY_LEN, "--key"));
	CHECK(memcmp(&p, &v, sizeof(v)) == 0);
	CHECK_OK(rq_key_decode_public(&pubk, hex, 64, "--key"));

	/* the key id must match */
	rq_buf_reset(&b);
	rq_verifier_format(&b, &v);
	size_t plus = strlen(v.name) + 1;
	b.ptr[plus] = b.ptr[plus] == '0' ? '1' : '0';
	CHECK_ERR(rq_verifier_parse(&p, b.ptr, b.len, "--key"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "--key: verifier key id");
	CHECK_CONTAINS(rq_error_last(), "does not match");
	/* another name with the same key id fails too */
	rq_buf_reset(&b);
	rq_verifier_format(&b, &v);
	b.ptr[0] = 'R';
	CHECK_ERR(rq_verifier_parse(&p, b.ptr, b.len, "--key"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "does not match");
	static const struct {
		const char *s, *msg;
	} bad[] = {
		{ "name+c74f20a3", "not a verifier key" },
		{ "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "bad key name" },
		{ "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "bad key name" },
		{ "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hex digits" },
		{ "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T", "base64" },
		{ "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW==", "base64" },
		{ "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWA", "not Ed25519" },
		{ "nonsense", "not a public key" },
		{ "", "not a public key" },
	};
	for (size_t i = 0; i < RQ_ARRAY_SIZE(bad); i++) {
		int rc = rq_verifier_parse(&p, bad[i].s, strlen(bad[i].s), "--key");
		if (rc >= 0)
			unit_fail(__FILE__, __LINE__, "verifier \"%s\" accepted", bad[i].s);
		CHECK_CONTAINS(rq_error_last(), "--key: ");
		CHECK_CONTAINS(rq_error_last(), bad[i].msg);
	}
	rq_key_free(k);
	rq_key_free(pubk);
	rq_buf_release(&b);
	rq_buf_release(&pub);
}

TEST(checkpoint_base64_strict)
{
	uint8_t out[32];
	CHECK_INT_EQ(rq_base64_decode_exact(out, 1, "AA==", 4), 0);
	CHECK_INT_EQ(rq_base64_decode_exact(out, 1, "AB==", 4), -1); /* trailing bits */
	CHECK_INT_EQ(rq_base64_decode_exact(out, 1, "AA=", 3), -1);
	CHECK_INT_EQ(rq_base64_decode_exact(out, 1, "AA", 2), -1);
	CHECK_INT_EQ(rq_base64_decode_exact(out, 2, "AA==", 4), -1); /* wrong length */
	CHECK_INT_EQ(rq_base64_decode_exact(out, 3, "AAAA", 4), 0);
	CHECK_INT_EQ(rq_base64_decode_exact(out, 3, "AA AA", 5), -1);
	CHECK_INT_EQ(rq_base64_decode_exact(out, 3, "AA-_", 4), -1); /* URL alphabet */
	CHECK_INT_EQ(rq_base64_decode_exact(out, 0, "", 0), -1);
	rq_buf b = RQ_BUF_INIT;
	rq_base64_encode(&b, "\xfb\xff", 2);
	CHECK_STR_EQ(b.ptr, "+/8=");
	rq_buf_release(&b);
}

/* ---- proofs ---- */

static void sample_proof(rq_proof *p, rq_proof_kind kind, size_t n)
{
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	if (kind == RQ_PROOF_INCLUSION)
		p->index = 5;
	else
		p->old_size = 6;
	p->size = 13;
	p->n = n;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < RQ_HASH_LEN; j++)
			p->hashes[i][j] = (uint8_t)(i * 31 + j);
}

TEST(proof_round_trip)
{
	rq_proof p, q;
	rq_buf b = RQ_BUF_INIT;
	for (int kind = 1; kind <= 2; kind++) {
		for (size_t n = 0; n <= RQ_MERKLE_MAX_PROOF; n += 4) {
			sample_proof(&p, (rq_proof_kind)kind, n);
			rq_buf_reset(&b);
			rq_proof_format(&b, &p);
			CHECK_OK(rq_proof_parse(&q, b.ptr, b.len, "p.txt"));
			CHECK(memcmp(&p, &q, sizeof(p)) == 0);
			rq_buf_reset(&b);
			rq_proof_format_json(&b, &p);
			CHECK_OK(rq_proof_parse(&q, b.ptr, b.len, "p.json"));
			CHECK(memcmp(&p, &q, sizeof(p)) == 0);
		}
	}
	sample_proof(&p, RQ_PROOF_INCLUSION, 2);
	rq_buf_reset(&b);
	rq_proof_format(&b, &p);
	CHECK_STR_EQ(b.ptr, "resque inclusion proof v1\nindex 5\nsize 13\n"
			    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
			    "HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4=\n");
	rq_buf_reset(&b);
	rq_proof_format_json(&b, &p);
	CHECK_STR_EQ(b.ptr, "{\n  \"type\": \"inclusion\",\n  \"index\": 5,\n  \"size\": 13,\n  \"hashes\": [\n"
			    "    \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\",\n"
			    "    \"HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4=\"\n  ]\n}\n");
	sample_proof(&p, RQ_PROOF_CONSISTENCY, 0);
	rq_buf_reset(&b);
	rq_proof_format(&b, &p);
	CHECK_STR_EQ(b.ptr, "resque consistency proof v1\nold-size 6\nsize 13\n");
	rq_buf_reset(&b);
	rq_proof_format_json(&b, &p);
	CHECK_STR_EQ(b.ptr, "{\n  \"type\": \"consistency\",\n  \"old_size\": 6,\n  \"size\": 13,\n  \"hashes\": []\n}\n");
	rq_buf_release(&b);
}

TEST(proof_rejects)
{
#define H "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "", "truncated" },
		{ "resque inclusion proof v2\nindex 1\nsize 2\n", "unknown header" },
		{ "resque proof v1\nindex 1\nsize 2\n", "unknown header" },
		{ "resque inclusion proof v1\nsize 2\nindex 1\n", "line 2" },
		{ "resque inclusion proof v1\nindex 01\nsize 2\n", "line 2" },
		{ "resque inclusion proof v1\nindex +1\nsize 2\n", "line 2" },
		{ "resque inclusion proof v1\nindex  1\nsize 2\n", "line 2" },
		{ "resque inclusion proof v1\nindex 1\nsize 2 \n", "line 3" },
		{ "resque inclusion proof v1\nindex 1\nsize 18446744073709551616\n", "line 3" },
		{ "resque inclusion proof v1\nold-size 1\nsize 2\n", "line 2" },
		{ "resque consistency proof v1\nindex 1\nsize 2\n", "line 2" },
		{ "resque inclusion proof v1\nindex 2\nsize 2\n", "not below" },
		{ "resque inclusion proof v1\nindex 0\nsize 0\n", "not below" },
		{ "resque consistency proof v1\nold-size 3\nsize 2\n", "not in 1..2" },
		{ "resque consistency proof v1\nold-size 0\nsize 2\n", "not in 1..2" },
		{ "resque inclusion proof v1\nindex 1\nsize 2\n" H, "truncated" },
		{ "resque inclusion proof v1\nindex 1\nsize 2\n" H "\n\n", "line 5" },
		{ "resque inclusion proof v1\nindex 1\nsize 2\n" H "\ngarbage\n", "line 5" },
		{ "resque inclusion proof v1\nindex 1\nsize 2\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh=\n", "line 4" },
		{ "resque inclusion proof v1\nindex 1\nsize 2\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n", "line 4" },
		{ "resque inclusion proof v1\r\nindex 1\r\nsize 2\r\n", "carriage return" },
		{ "resque inclusion proof v1\nindex 1\nsize 2\n\xff\n", "invalid UTF-8" },
		{ "{\"type\": \"inclusion\", \"index\": 1, \"size\": 2, \"hashes\": [], \"x\": 1}", "unknown proof field" },
		{ "{\"type\": \"inclusion\", \"old_size\": 1, \"size\": 2, \"hashes\": []}", "unknown proof field" },
		{ "{\"type\": \"inclusion\", \"index\": -1, \"size\": 2, \"hashes\": []}", "\"index\"" },
		{ "{\"type\": \"inclusion\", \"index\": 1.0, \"size\": 2, \"hashes\": []}", "\"index\"" },
		{ "{\"type\": \"inclusion\", \"index\": \"1\", \"size\": 2, \"hashes\": []}", "\"index\"" },
		{ "{\"type\": \"inclusion\", \"index\": 1, \"hashes\": []}", "\"size\"" },
		{ "{\"type\": \"inclusion\", \"index\": 1, \"size\": 2}", "\"hashes\"" },
		{ "{\"type\": \"inclusion\", \"index\": 1, \"size\": 2, \"hashes\": [\"AA==\"]}", "hash 0" },
		{ "{\"type\": \"inclusion\", \"index\": 1, \"size\": 2, \"hashes\": [1]}", "hash 0" },
		{ "{\"type\": \"inclusion\", \"index\": 1, \"size\": 2, \"hashes\": []} x", "p.txt" },
		{ "{\"type\": \"inclusion\", \"index\": 1, \"index\": 1, \"size\": 2, \"hashes\": []}", "p.txt" },
		{ "{\"type\": \"proof\", \"index\": 1, \"size\": 2, \"hashes\": []}", "\"type\"" },
		{ "[1]", "not a JSON object" },
		{ "{\"type\": \"consistency\", \"old_size\": 3, \"size\": 2, \"hashes\": []}", "not in 1..2" },
	};
	rq_proof p;
	for (size_t i = 0; i < RQ_ARRAY_SIZE(bad); i++) {
		int rc = rq_proof_parse(&p, bad[i].text, strlen(bad[i].text), "p.txt");
		if (rc != RQ_EINVALID)
			unit_fail(__FILE__, __LINE__, "case %zu returned %d", i, rc);
		CHECK_CONTAINS(rq_error_last(), "p.txt");
		CHECK_CONTAINS(rq_error_last(), bad[i].msg);
		CHECK_INT_EQ(p.n, 0);
	}
	/* 64 hashes parse; 65 do not, in either form */
	rq_buf b = RQ_BUF_INIT;
	rq_buf_puts(&b, "resque inclusion proof v1\nindex 1\nsize 2\n");
	for (int i = 0; i < RQ_MERKLE_MAX_PROOF; i++)
		rq_buf_puts(&b, H "\n");
	CHECK_OK(rq_proof_parse(&p, b.ptr, b.len, "p.txt"));
	rq_buf_puts(&b, H "\n");
	CHECK_ERR(rq_proof_parse(&p, b.ptr, b.len, "p.txt"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "more than 64 hashes");
	rq_buf_reset(&b);
	rq_buf_puts(&b, "{\"type\": \"consistency\", \"old_size\": 1, \"size\": 2, \"hashes\": [");
	for (int i = 0; i <= RQ_MERKLE_MAX_PROOF; i++)
		rq_buf_puts(&b, i ? ",\"" H "\"" : "\"" H "\"");
	rq_buf_puts(&b, "]}");
	CHECK_ERR(rq_proof_parse(&p, b.ptr, b.len, "p.txt"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "more than 64 hashes");
	/* too large */
	rq_buf_reset(&b);
	rq_buf_puts(&b, "resque inclusion proof v1\nindex 1\nsize 2\n");
	while (b.len <= RQ_PROOF_MAX)
		rq_buf_puts(&b, H "\n");
	CHECK_ERR(rq_proof_parse(&p, b.ptr, b.len, "p.txt"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "larger than");
	/* JSON may be surrounded by white space */
	const char *ok = "\n {\"hashes\": [\"" H "\"], \"size\": 2, \"index\": 1, \"type\": \"inclusion\"}\n";
	CHECK_OK(rq_proof_parse(&p, ok, strlen(ok), "p.json"));
	CHECK_INT_EQ(p.n, 1);
	CHECK_INT_EQ(p.index, 1);
	rq_buf_release(&b);
#undef H
}

/* A proof made by core/entry/merkle.c, printed and parsed back, still verifies;
 * and a checkpoint's root is what the consistency check consumes. */
TEST(proof_end_to_end)
{
	rq_merkle_levels t;
	rq_hash leaf, root, old_root;
	rq_proof p, q;
	rq_buf b = RQ_BUF_INIT;
	rq_merkle_levels_init(&t);
	for (int i = 0; i < 21; i++) {
		char s[16];
		int len = snprintf(s, sizeof(s), "entry %d", i);
		rq_merkle_leaf_hash(leaf, s, (size_t)len);
		rq_merkle_levels_append(&t, leaf);
	}
	CHECK_OK(rq_merkle_root(root, 21, rq_merkle_levels_node, &t));
	CHECK_OK(rq_merkle_root(old_root, 11, rq_merkle_levels_node, &t));
	memset(&p, 0, sizeof(p));
	p.kind = RQ_PROOF_INCLUSION;
	p.index = 9;
	p.size = 21;
	CHECK_OK(rq_merkle_inclusion_proof(p.hashes, &p.n, 9, 21, rq_merkle_levels_node, &t));
	rq_proof_format(&b, &p);
	CHECK_OK(rq_proof_parse(&q, b.ptr, b.len, "p"));
	CHECK_OK(rq_merkle_verify_inclusion(t.level[0][9], q.index, q.size, q.hashes, q.n, root));
	CHECK_ERR(rq_merkle_verify_inclusion(t.level[0][8], q.index, q.size, q.hashes, q.n, root), RQ_EINTEGRITY);
	memset(&p, 0, sizeof(p));
	p.kind = RQ_PROOF_CONSISTENCY;
	p.old_size = 11;
	p.size = 21;
	CHECK_OK(rq_merkle_consistency_proof(p.hashes, &p.n, 11, 21, rq_merkle_levels_node, &t));
	rq_buf_reset(&b);
	rq_proof_format_json(&b, &p);
	CHECK_OK(rq_proof_parse(&q, b.ptr, b.len, "p"));
	CHECK_OK(rq_merkle_verify_consistency(q.old_size, q.size, old_root, root, q.hashes, q.n));
	CHECK_ERR(rq_merkle_verify_consistency(q.old_size, q.size, root, old_root, q.hashes, q.n), RQ_EINTEGRITY);
	rq_merkle_levels_release(&t);
	rq_buf_release(&b);
}
