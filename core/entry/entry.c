/* Ledger entries: canonical encoding, parsing with integrity checks,
 * signatures and one-line summaries (format: docs/FORMATS.md). */
#include "common.h"
#include "canon.h"
#include "entry_int.h"
#include "json.h"

#include <sodium.h>

static const char *const known_types[] = {
	"init", "key", "dataset", "version", "plan", "actual", "note",
};

bool rq_entry_type_known(const char *type)
{
	for (size_t i = 0; i < RQ_ARRAY_SIZE(known_types); i++)
		if (strcmp(type, known_types[i]) == 0)
			return true;
	return false;
}

void rq_sha256_hex(char out[RQ_HASH_HEX_SIZE], const void *data, size_t len)
{
	uint8_t h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, data, len);
	rq_hex_encode(out, h, sizeof(h));
}

static int lower_nibble(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool lower_hex(const char *s, size_t want)
{
	if (strlen(s) != want)
		return false;
	for (size_t i = 0; i < want; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool valid_type(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n >= RQ_ENTRY_TYPE_SIZE)
		return false;
	for (size_t i = 0; i < n; i++)
		if (t[i] < 'a' || t[i] > 'z')
			return false;
	return true;
}

/* "YYYY-MM-DDTHH:MM:SSZ", a real date of the years 1000-9999 and no leap
 * second: what rq_time_format writes for the time rq_time_parse reads, so
 * valid_time needs neither (they cost more than the rest of an entry's
 * fixed fields). Anything else goes the slow way. */
static bool plain_time(const char *t)
{
	static const char pattern[] = "dddd-dd-ddTdd:dd:ddZ";
	static const unsigned char mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	static const unsigned char at[6] = { 0, 5, 8, 11, 14, 17 }; /* year, month, ..., second */
	int f[6];

	for (size_t i = 0; i < 20; i++) {
		if (pattern[i] != 'd' ? t[i] != pattern[i] : !(t[i] >= '0' && t[i] <= '9'))
			return false;
	}
	for (size_t k = 0; k < 6; k++)
		f[k] = (t[at[k]] - '0') * 10 + (t[at[k] + 1] - '0');
	f[0] = f[0] * 100 + (t[2] - '0') * 10 + (t[3] - '0');
	bool leap = (f[0] % 4 == 0 && f[0] % 100 != 0) || f[0] % 400 == 0;
	return f[0] >= 1000 && f[1] >= 1 && f[1] <= 12 && f[2] >= 1 &&
	       f[2] <= mdays[f[1] - 1] - (f[1] == 2 && !leap) && f[3] <= 23 && f[4] <= 59 && f[5] <= 59;
}

static bool valid_time(const char *t)
{
	int64_t v;
	char back[RQ_TIME_SIZE];
	if (strlen(t) != 20)
		return false;
	if (plain_time(t))
		return true;
	if (rq_time_parse(&v, t))
		return false;
	rq_time_format(back, v);
	return strcmp(back, t) == 0;
}

void rq_entry_free(rq_entry *e)
{
	if (!e)
		return;
	json_decref(e->root);
	rq_buf_release(&e->bytes);
	free(e);
}

/* Fill the struct fields from e->root, checking types. */
static int fill(rq_entry *e)
{
	json_t *r = e->root;
	json_t *v = json_object_get(r, "v"), *seq = json_object_get(r, "seq");
	const char *prev = rq_json_str(r, "prev", NULL), *type = rq_json_str(r, "type", NULL);
	const char *time = rq_json_str(r, "time", NULL), *signer = rq_json_str(r, "signer", NULL);

	if (!json_is_object(r))
		return rq_error_set(RQ_EINTEGRITY, "entry is not a JSON object");
	if (!json_is_integer(v))
		return rq_error_set(RQ_EINTEGRITY, "entry has no format version");
	if (json_integer_value(v) != RQ_ENTRY_VERSION)
		return rq_error_set(RQ_EINTEGRITY, "entry format version %" JSON_INTEGER_FORMAT
				    " is not supported by this resque (%d)", json_integer_value(v),
				    RQ_ENTRY_VERSION);
	if (!json_is_integer(seq) || json_integer_value(seq) < 0)
		return rq_error_set(RQ_EINTEGRITY, "entry has no valid sequence number");
	if (!prev || !lower_hex(prev, RQ_ID_HEX_SIZE - 1))
		return rq_error_set(RQ_EINTEGRITY, "entry has no valid previous-entry hash");
	if (!type || !valid_type(type))
		return rq_error_set(RQ_EINTEGRITY, "entry has no valid type");
	if (!time || !valid_time(time))
		return rq_error_set(RQ_EINTEGRITY, "entry has no valid UTC time");
	if (!signer || !lower_hex(signer, RQ_KEY_ID_HEX))
		return rq_error_set(RQ_EINTEGRITY, "entry has no valid signer key id");
	e->body = json_object_get(r, "body");
	if (!json_is_object(e->body))
		return rq_error_set(RQ_EINTEGRITY, "entry has no body object");
	e->seq = (uint64_t)json_integer_value(seq);
	memcpy(e->prev, prev, RQ_ID_HEX_SIZE);
	/* lengths checked above: each fits with its NUL */
	memcpy(e->type, type, strlen(type) + 1);
	memcpy(e->time, time, strlen(time) + 1);
	memcpy(e->signer, signer, strlen(signer) + 1);
	rq_sha256_hex(e->id, e->bytes.ptr, e->bytes.len);
	return 0;
}

int rq_entry_build(rq_entry **out, uint64_t seq, const char *prev, const char *type,
		   const char *time, const char *signer, json_t *body)
{
	rq_entry *e = rq_xcalloc(1, sizeof(*e));
	int err;

	*out = NULL;
	rq_buf_init(&e->bytes);
	e->root = json_object();
	json_object_set_new(e->root, "v", json_integer(RQ_ENTRY_VERSION));
	json_object_set_new(e->root, "seq", json_integer((json_int_t)seq));
	json_object_set_new(e->root, "prev", json_string(prev));
	json_object_set_new(e->root, "type", json_string(type));
	json_object_set_new(e->root, "time", json_string(time));
	json_object_set_new(e->root, "signer", json_string(signer));
	json_object_set_new(e->root, "body", body ? body : json_object());
	err = rq_json_dump(&e->bytes, e->root, RQ_JSON_CANONICAL);
	if (!err)
		err = fill(e);
	if (err) {
		rq_error_prefix(RQ_EINVALID, "cannot encode the %s entry: ", type);
		rq_entry_free(e);
		return RQ_EINVALID;
	}
	*out = e;
	return 0;
}

int rq_entry_parse(rq_entry **out, const void *bytes, size_t len)
{
	rq_entry *e = rq_xcalloc(1, sizeof(*e));
	rq_buf canon = RQ_BUF_INIT;
	json_error_t je;
	int err = 0;

	*out = NULL;
	rq_buf_init(&e->bytes);
	rq_buf_put(&e->bytes, bytes, len);
	/* The bytes checked canonical as they are read (one pass); anything
	 * that does not pass, the slow way below, which says why. */
	e->root = rq_canon_load(bytes, len);
	if (e->root && fill(e) == 0)
		goto done;
	json_decref(e->root);
	e->root = NULL;
	e->body = NULL;
	rq_error_clear();
	e->root = json_loadb(bytes, len, JSON_REJECT_DUPLICATES, &je);
	if (!e->root) {
		err = rq_error_set(RQ_EINTEGRITY, "entry is not valid JSON (%s at byte %d)",
				   je.text, je.position);
		goto done;
	}
	err = fill(e);
	if (err)
		goto done;
	if (rq_json_dump(&canon, e->root, RQ_JSON_CANONICAL) || canon.len != len ||
	    memcmp(canon.ptr, bytes, len) != 0) {
		err = rq_error_set(RQ_EINTEGRITY, "entry is not in canonical encoding");
		goto done;
	}
done:
	rq_buf_release(&canon);
	if (err)
		rq_entry_free(e);
	else
		*out = e;
	return err;
}

int rq_entry_sign(rq_buf *out, const rq_entry *e, const rq_key *k)
{
	uint8_t sig[RQ_SIG_LEN];
	int err = rq_key_sign(sig, k, RQ_SIG_PREFIX, e->bytes.ptr, e->bytes.len);
	if (err)
		return err;
	rq_buf_printf(out, "ed25519 %s ", k->id);
	rq_buf_put_hex(out, sig, sizeof(sig));
	rq_buf_putc(out, '\n');
	return 0;
}

int rq_entry_sig_parse(char keyid[RQ_KEY_ID_SIZE], uint8_t sig[RQ_SIG_LEN], const char *text, size_t len)
{
	/* "ed25519 " + 16 hex + " " + 128 hex + "\n" */
	const size_t want = 8 + RQ_KEY_ID_HEX + 1 + 2 * RQ_SIG_LEN + 1;
	const char *hex = text + 8 + RQ_KEY_ID_HEX + 1;
	if (len != want || memcmp(text, "ed25519 ", 8) != 0 || text[8 + RQ_KEY_ID_HEX] != ' ' ||
	    text[want - 1] != '\n')
		return rq_error_set(RQ_EINTEGRITY, "signature file is malformed");
	memcpy(keyid, text + 8, RQ_KEY_ID_HEX);
	keyid[RQ_KEY_ID_HEX] = '\0';
	/* lower-case hex only, decoded in the same pass (verify reads one
	 * for every entry) */
	for (size_t i = 0; i < RQ_KEY_ID_HEX; i++)
		if (lower_nibble(keyid[i]) < 0)
			return rq_error_set(RQ_EINTEGRITY, "signature file is malformed");
	for (size_t i = 0; i < RQ_SIG_LEN; i++) {
		int hi = lower_nibble(hex[2 * i]), lo = lower_nibble(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return rq_error_set(RQ_EINTEGRITY, "signature file is malformed");
		sig[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

bool rq_entry_sig_check(const rq_entry *e, const uint8_t sig[RQ_SIG_LEN], const uint8_t pk[RQ_PUBKEY_LEN])
{
	return rq_key_check(pk, sig, RQ_SIG_PREFIX, e->bytes.ptr, e->bytes.len);
}

const char *rq_entry_name(const rq_entry *e)
{
	return rq_json_str(e->body, "name", NULL);
}

static void first_line(rq_buf *out, const char *s, size_t max)
{
	size_t n = strcspn(s, "\n");
	if (n > max) {
		rq_buf_put(out, s, max);
		rq_buf_puts(out, "...");
	} else {
		rq_buf_put(out, s, n);
	}
}

void rq_entry_summary(rq_buf *out, const rq_entry *e)
{
	const json_t *b = e->body;
	const char *t = e->type;
	if (strcmp(t, "init") == 0) {
		json_t *k = json_object_get(b, "key");
		rq_buf_printf(out, "repository created, first signer %s",
			      rq_json_str(k, "id", "?"));
	} else if (strcmp(t, "key") == 0) {
		rq_buf_printf(out, "%s key %s", rq_json_str(b, "action", "?"), rq_json_str(b, "id", "?"));
		const char *reason = rq_json_str(b, "reason", NULL);
		if (reason) {
			rq_buf_puts(out, ": ");
			first_line(out, reason, 60);
		}
	} else if (strcmp(t, "note") == 0) {
		first_line(out, rq_json_str(b, "message", ""), 72);
	} else if (strcmp(t, "dataset") == 0) {
		rq_buf_printf(out, "dataset %s: %" JSON_INTEGER_FORMAT " files, %" JSON_INTEGER_FORMAT " bytes",
			      rq_json_str(b, "name", "?"), rq_json_int(b, "files", 0),
			      rq_json_int(b, "bytes", 0));
	} else if (strcmp(t, "version") == 0) {
		const char *parent = rq_json_str(b, "parent_name", rq_json_str(b, "parent", NULL));
		rq_buf_printf(out, "version %s", rq_json_str(b, "name", "?"));
		if (parent)
			rq_buf_printf(out, " (from %s)", parent);
		const char *msg = rq_json_str(b, "message", NULL);
		if (msg) {
			rq_buf_puts(out, ": ");
			first_line(out, msg, 60);
		}
	} else if (strcmp(t, "plan") == 0) {
		rq_buf_printf(out, "plan from %s", rq_json_str(b, "from_name", rq_json_str(b, "from", "?")));
		json_t *f = json_object_get(json_object_get(b, "forecast"), "carbon_kg");
		if (json_is_object(f))
			rq_buf_printf(out, ": %.3g kg CO2e forecast", rq_json_num(f, "mean", 0));
	} else if (strcmp(t, "actual") == 0 && rq_json_str(b, "linked_from", NULL)) {
		/* its figures are the linked actual's: not a second cost */
		rq_buf_printf(out, "link of actual %.12s to plan %.12s", rq_json_str(b, "linked_from", "?"),
			      rq_json_str(b, "plan", "?"));
	} else if (strcmp(t, "actual") == 0) {
		rq_buf_printf(out, "actual %.3g kWh, %.3g kg CO2e (%s)", rq_json_num(b, "energy_kwh", 0),
			      rq_json_num(b, "carbon_kg", 0), rq_json_str(b, "method", "?"));
		if (strcmp(rq_json_str(b, "target", ""), "missed") == 0)
			rq_buf_puts(out, ", target missed");
	} else {
		rq_buf_printf(out, "%s entry", t);
	}
}

/* The public accessors (resque/entry.h): a program sees no jansson type. */
uint64_t rq_entry_seq(const rq_entry *e)
{
	return e->seq;
}

const char *rq_entry_id(const rq_entry *e)
{
	return e->id;
}

const char *rq_entry_prev(const rq_entry *e)
{
	return e->prev;
}

const char *rq_entry_type(const rq_entry *e)
{
	return e->type;
}

const char *rq_entry_time(const rq_entry *e)
{
	return e->time;
}

const char *rq_entry_signer(const rq_entry *e)
{
	return e->signer;
}

const char *rq_entry_commit(const rq_entry *e)
{
	return e->commit;
}

const char *rq_entry_text(const rq_entry *e, size_t *len)
{
	if (len)
		*len = e->bytes.len;
	return e->bytes.ptr;
}
