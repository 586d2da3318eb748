/* Unit tests of core/report/report.c and core/report/evidence.c: costs counted once,
 * the period and lineage rules, APE and coverage, how values are shown,
 * and evidence that round-trips and catches a dropped entry or another key. */
#include "unit.h"
#include "checkpoint.h"
#include "evidence.h"
#include "json.h"
#include "key_int.h"
#include "report.h"

#include <sodium.h>

struct ledger {
	rq_entry *e[32];
	char *sig[32];
	size_t n;
	rq_key *k;
};

/* Append an entry of `type` at `time` with the JSON body (printf-style). */
static const char *add(struct ledger *L, const char *type, const char *time, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static const char *add(struct ledger *L, const char *type, const char *time, const char *fmt, ...)
{
	rq_buf b = RQ_BUF_INIT, sig = RQ_BUF_INIT;
	json_t *body = NULL;
	va_list ap;
	const char *prev = L->n ? L->e[L->n - 1]->id
				: "0000000000000000000000000000000000000000000000000000000000000000";

	va_start(ap, fmt);
	rq_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (rq_json_parse(&body, b.ptr, b.len, "body") ||
	    rq_entry_build(&L->e[L->n], L->n, prev, type, time, L->k->id, body) ||
	    rq_entry_sign(&sig, L->e[L->n], L->k)) {
		unit_fail(__FILE__, __LINE__, "building %s: %s", type, rq_error_last());
		rq_buf_release(&b);
		return "";
	}
	L->sig[L->n] = rq_buf_detach(&sig, NULL);
	rq_buf_release(&b);
	return L->e[L->n++]->id;
}

static void ledger_init(struct ledger *L)
{
	char pk[RQ_PUBKEY_HEX_SIZE];
	memset(L, 0, sizeof(*L));
	CHECK(sodium_init() >= 0);
	CHECK_OK(rq_key_generate(&L->k));
	rq_hex_encode(pk, L->k->pk, RQ_PUBKEY_LEN);
	add(L, "init", "2024-01-01T00:00:00Z", "{\"key\": {\"id\": \"%s\", \"public\": \"%s\"}, \"repository\": \"abc123\"}",
	    L->k->id, pk);
}

static void ledger_release(struct ledger *L)
{
	for (size_t i = 0; i < L->n; i++) {
		rq_entry_free(L->e[i]);
		free(L->sig[i]);
	}
	rq_key_free(L->k);
}

static double num_at(const json_t *r, const char *path)
{
	const json_t *v = rq_report_at(r, path);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

#define CHECK_NUM(r, path, want)                                                                  \
	do {                                                                                      \
		double got_ = num_at((r), (path)), want_ = (want);                                \
		if (!(fabs(got_ - want_) <= 1e-12 * fmax(1, fabs(want_))))                        \
			unit_fail(__FILE__, __LINE__, "%s == %.17g, expected %.17g", (path), got_, want_); \
	} while (0)

#define Q "\"mean\": %g, \"p10\": %g, \"p90\": %g, \"p2_5\": %g, \"p97_5\": %g"

/* A small life: v1 from a cost file (2024), a plan and its actual, v2
 * taking its cost from that actual, a second run of the plan, an unlinked
 * actual and a plan whose actual is 0 (2025). */
static void life(struct ledger *L, const char **plan1, const char **act1)
{
	const char *v1, *v2, *p2;
	ledger_init(L);
	v1 = add(L, "version", "2024-03-01T12:00:00Z",
		 "{\"name\": \"v1\", \"cost\": {\"epochs\": 30, \"energy_kwh\": 10, \"carbon_kg\": 1, \"duration_s\": 100,"
		 " \"method\": \"measured\", \"source\": \"cost file\", \"region\": \"FR\", \"intensity_g_per_kwh\": 100, \"pue\": 1}}");
	*plan1 = add(L, "plan", "2024-12-31T23:00:00Z",
		     "{\"from\": \"%s\", \"from_name\": \"v1\", \"kind\": \"dist\", \"shift_family\": \"noise\","
		     " \"forecast\": {\"epochs\": {" Q "}, \"energy_kwh\": {" Q "}},"
		     " \"scratch\": {\"epochs\": 30, \"energy_kwh\": {\"mean\": 10}, \"carbon_kg\": 1}}",
		     v1, 10.0, 5.0, 15.0, 4.0, 20.0, 4.0, 2.0, 6.0, 1.0, 8.0);
	add(L, "actual", "2025-01-01T00:00:00Z",
	    "{\"plan\": \"%s\", \"epochs\": 20, \"energy_kwh\": 9, \"carbon_kg\": 0.9, \"method\": \"estimated\"}", *plan1);
	*act1 = add(L, "actual", "2025-01-02T00:00:00Z",
		    "{\"plan\": \"%s\", \"epochs\": 8, \"energy_kwh\": 5, \"carbon_kg\": 0.5, \"method\": \"measured\"}", *plan1);
	v2 = add(L, "version", "2025-01-03T00:00:00Z",
		 "{\"name\": \"v2\", \"parent\": \"%s\", \"cost\": {\"epochs\": 8, \"energy_kwh\": 5, \"carbon_kg\": 0.5,"
		 " \"method\": \"measured\", \"source\": \"actual:%s\"}}", v1, *act1);
	add(L, "actual", "2025-02-01T00:00:00Z", "{\"energy_kwh\": 2, \"method\": \"imported\"}");
	p2 = add(L, "plan", "2025-03-01T00:00:00Z",
		 "{\"from\": \"%s\", \"kind\": \"task\", \"forecast\": {\"epochs\": {" Q "}, \"energy_kwh\": {" Q "}}}", v2,
		 6.0, 4.0, 8.0, 3.0, 9.0, 3.0, 2.0, 4.0, 1.0, 5.0);
	add(L, "actual", "2025-03-02T00:00:00Z", "{\"plan\": \"%s\", \"epochs\": 0, \"energy_kwh\": 0, \"carbon_kg\": 0}", p2);
}

TEST(report_counts_each_cost_once)
{
	struct ledger L;
	const char *p1, *a1;
	json_t *r = NULL;

	life(&L, &p1, &a1);
	CHECK_OK(rq_report_compute(&r, L.e, L.n, NULL));
	/* 10 (v1) + 9 + 5 (actuals) + 2 (unlinked) + 0; v2 is a1's cost */
	CHECK_NUM(r, "totals.energy_kwh", 26);
	CHECK_NUM(r, "totals.count", 5);
	CHECK_NUM(r, "totals.by_method.declared.energy_kwh", 10);
	CHECK_NUM(r, "totals.by_method.measured.energy_kwh", 5);
	CHECK_NUM(r, "totals.by_method.estimated.energy_kwh", 9);
	CHECK_NUM(r, "totals.by_method.imported.energy_kwh", 2);
	CHECK_NUM(r, "totals.missing_carbon", 1); /* the unlinked actual */
	CHECK_NUM(r, "years.0.year", 2024);
	CHECK_NUM(r, "years.0.energy_kwh", 10);
	CHECK_NUM(r, "years.1.energy_kwh", 16);
	CHECK(strcmp(json_string_value(rq_report_at(r, "versions.1.counted")), "actual") == 0);
	CHECK_NUM(r, "versions.1.cumulative.energy_kwh", 15);
	CHECK(strcmp(json_string_value(rq_report_at(r, "repository")), "abc123") == 0);
	json_decref(r);
	ledger_release(&L);
}

TEST(report_pairs_ape_and_coverage)
{
	struct ledger L;
	const char *p1, *a1;
	json_t *r = NULL;

	life(&L, &p1, &a1);
	CHECK_OK(rq_report_compute(&r, L.e, L.n, NULL));
	/* rows: plan1 (newest actual a1), plan1's older run, the unlinked actual, plan2 */
	CHECK_INT_EQ(json_array_size(rq_report_at(r, "updates")), 4);
	CHECK(strcmp(json_string_value(rq_report_at(r, "updates.0.actual.id")), a1) == 0);
	CHECK(json_is_true(rq_report_at(r, "updates.1.superseded")));
	CHECK(json_is_null(rq_report_at(r, "updates.2.plan")));
	/* epochs: plan1 mean 10, actual 8 -> APE 25 %, in [5, 15]; plan2 actual 0 -> no APE */
	CHECK_NUM(r, "updates.0.error.epochs.ape", 25);
	CHECK_NUM(r, "updates.0.error.epochs.diff", -2);
	CHECK(json_is_true(rq_report_at(r, "updates.0.error.epochs.inside_p80")));
	CHECK(json_is_null(rq_report_at(r, "updates.3.error.epochs.ape")));
	CHECK(json_is_false(rq_report_at(r, "updates.3.error.epochs.inside_p80")));
	CHECK_NUM(r, "forecast_quality.epochs.n", 2);
	CHECK_NUM(r, "forecast_quality.epochs.n_ape", 1);
	CHECK_NUM(r, "forecast_quality.epochs.zero_actual", 1);
	CHECK_NUM(r, "forecast_quality.epochs.median_ape", 25);
	CHECK_NUM(r, "forecast_quality.epochs.inside_p80", 0.5);
	/* energy: plan1 mean 4, actual 5 -> 20 %, outside [2, 6]? inside */
	CHECK_NUM(r, "forecast_quality.energy_kwh.median_ape", 20);
	CHECK(json_is_null(rq_report_at(r, "forecast_quality.carbon_kg.median_ape")));
	/* saved: scratch 10 kWh / 1 kg minus the actual 5 / 0.5 */
	CHECK_NUM(r, "saved_by_reuse.energy_kwh", 5);
	CHECK_NUM(r, "saved_by_reuse.carbon_kg", 0.5);
	CHECK_NUM(r, "saved_by_reuse.updates", 1);
	json_decref(r);
	ledger_release(&L);
}

TEST(report_period_lineage_and_determinism)
{
	struct ledger L;
	const char *p1, *a1;
	json_t *r = NULL, *r2 = NULL;
	rq_report_params p = { "2024-12-31T23:00:00Z", "2025-01-01", NULL };
	rq_buf a = RQ_BUF_INIT, b = RQ_BUF_INIT;

	life(&L, &p1, &a1);
	/* until a bare date is the whole day: the 9 kWh run at 00:00 on the 1st */
	CHECK_OK(rq_report_compute(&r, L.e, L.n, &p));
	CHECK_NUM(r, "totals.energy_kwh", 9);
	/* the plan is dated by its (newest) actual, on the 2nd: outside; its
	 * older run is inside */
	CHECK_INT_EQ(json_array_size(rq_report_at(r, "updates")), 1);
	CHECK(json_is_true(rq_report_at(r, "updates.0.superseded")));
	json_decref(r);
	p.until = "2025-01-02";
	CHECK_OK(rq_report_compute(&r, L.e, L.n, &p));
	CHECK_NUM(r, "totals.energy_kwh", 14);
	CHECK_INT_EQ(json_array_size(rq_report_at(r, "updates")), 2);
	json_decref(r);
	/* lineage of v1: everything but the unlinked actual */
	p.since = p.until = NULL;
	p.lineage = L.e[1]->id;
	CHECK_OK(rq_report_compute(&r, L.e, L.n, &p));
	CHECK_NUM(r, "totals.energy_kwh", 24);
	CHECK_OK(rq_report_compute(&r2, L.e, L.n, &p));
	CHECK_OK(rq_json_dump(&a, r, RQ_JSON_PRETTY));
	CHECK_OK(rq_json_dump(&b, r2, RQ_JSON_PRETTY));
	CHECK(a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0);
	json_decref(r);
	json_decref(r2);
	r = NULL;
	p.lineage = L.e[2]->id; /* a plan, not a version */
	CHECK_ERR(rq_report_compute(&r, L.e, L.n, &p), RQ_EINVALID);
	p.lineage = NULL;
	p.since = "yesterday";
	CHECK_ERR(rq_report_compute(&r, L.e, L.n, &p), RQ_EINVALID);
	p.since = "2025-02-01";
	p.until = "2025-01-01";
	CHECK_ERR(rq_report_compute(&r, L.e, L.n, &p), RQ_EINVALID);
	CHECK(r == NULL);
	rq_buf_release(&a);
	rq_buf_release(&b);
	ledger_release(&L);
}

TEST(report_format_value)
{
	static const struct { const char *json; const char *text; } cases[] = {
		{ "12.5", "12.5" }, { "1234567.25", "1.235e+06" }, { "2025", "2025" }, { "0.000123456", "0.0001235" },
		{ "null", "—" },     { "true", "yes" },            { "false", "no" },   { "\"FR\"", "FR" },
		{ "[1]", "—" },
	};
	for (size_t i = 0; i < RQ_ARRAY_SIZE(cases); i++) {
		json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
		rq_buf b = RQ_BUF_INIT;
		rq_report_format_value(&b, v);
		if (strcmp(b.ptr, cases[i].text) != 0)
			unit_fail(__FILE__, __LINE__, "%s shown as '%s', expected '%s'", cases[i].json, b.ptr, cases[i].text);
		rq_buf_release(&b);
		json_decref(v);
	}
	rq_buf b = RQ_BUF_INIT;
	rq_report_format_value(&b, NULL);
	CHECK(strcmp(b.ptr, "—") == 0);
	rq_buf_release(&b);
}

TEST(report_renders_without_nan)
{
	struct ledger L;
	const char *p1, *a1;
	json_t *r = NULL;
	rq_buf t = RQ_BUF_INIT, m = RQ_BUF_INIT, c = RQ_BUF_INIT, j = RQ_BUF_INIT;

	life(&L, &p1, &a1);
	CHECK_OK(rq_report_compute(&r, L.e, L.n, NULL));
	CHECK_OK(rq_report_text(&t, r));
	CHECK_OK(rq_report_markdown(&m, r));
	CHECK_OK(rq_report_csv(&c, r));
	CHECK_OK(rq_json_dump(&j, r, RQ_JSON_CANONICAL)); /* fails on a NaN */
	CHECK(strstr(t.ptr, "nan") == NULL && strstr(m.ptr, "nan") == NULL && strstr(c.ptr, "nan") == NULL);
	CHECK(strstr(m.ptr, "## Totals") != NULL);
	CHECK(strstr(c.ptr, "\r\n") != NULL);
	json_decref(r);
	rq_buf_release(&t);
	rq_buf_release(&m);
	rq_buf_release(&c);
	rq_buf_release(&j);
	ledger_release(&L);
}

static void sign_tree(rq_checkpoint *c, struct ledger *L, size_t n, const rq_key *k)
{
	rq_merkle_levels t;
	rq_hash root, leaf;
	rq_merkle_levels_init(&t);
	for (size_t i = 0; i < n; i++) {
		rq_merkle_leaf_hash(leaf, L->e[i]->bytes.ptr, L->e[i]->bytes.len);
		rq_merkle_levels_append(&t, leaf);
	}
	CHECK_OK(rq_merkle_root(root, n, rq_merkle_levels_node, &t));
	CHECK_OK(rq_checkpoint_sign(c, "resque/abc123", n, root, k));
	rq_merkle_levels_release(&t);
}

TEST(evidence_round_trip_and_tampering)
{
	struct ledger L;
	const char *p1, *a1;
	rq_checkpoint c = { 0 };
	rq_verifier v, other_v;
	rq_evidence ev;
	rq_key *other = NULL;
	json_t *j = NULL, *copy;

	life(&L, &p1, &a1);
	sign_tree(&c, &L, L.n, L.k);
	CHECK_OK(rq_evidence_build(&j, L.e, L.sig, L.n, &c, false));
	rq_verifier_of(&v, L.k);
	CHECK_OK(rq_evidence_parse(&ev, j, "r.json"));
	CHECK_INT_EQ(ev.n, L.n);
	CHECK_OK(rq_evidence_check(&ev, &v, "r.json"));
	rq_evidence_release(&ev);

	/* another key */
	CHECK_OK(rq_key_generate(&other));
	rq_verifier_of(&other_v, other);
	CHECK_OK(rq_evidence_parse(&ev, j, "r.json"));
	CHECK_ERR(rq_evidence_check(&ev, &other_v, "r.json"), RQ_EINTEGRITY);
	rq_evidence_release(&ev);

	/* an entry dropped */
	copy = json_deep_copy(j);
	json_array_remove(json_object_get(copy, "entries"), 3);
	CHECK_OK(rq_evidence_parse(&ev, copy, "r.json"));
	CHECK_ERR(rq_evidence_check(&ev, &v, "r.json"), RQ_EINTEGRITY);
	CHECK(strstr(rq_error_last(), "holds") != NULL);
	rq_evidence_release(&ev);
	json_decref(copy);

	/* an inclusion proof edited */
	copy = json_deep_copy(j);
	json_array_set_new(json_object_get(json_array_get(json_object_get(copy, "entries"), 1), "proof"), 0,
			   json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
	CHECK_OK(rq_evidence_parse(&ev, copy, "r.json"));
	CHECK_ERR(rq_evidence_check(&ev, &v, "r.json"), RQ_EINTEGRITY);
	CHECK(strstr(rq_error_last(), "inclusion proof") != NULL);
	rq_evidence_release(&ev);
	json_decref(copy);

	/* malformed: base64, a missing field, a wrong format */
	copy = json_deep_copy(j);
	json_object_set_new(json_array_get(json_object_get(copy, "entries"), 2), "bytes", json_string("!!!!"));
	CHECK_ERR(rq_evidence_parse(&ev, copy, "r.json"), RQ_EINVALID);
	json_object_del(json_array_get(json_object_get(copy, "entries"), 2), "bytes");
	CHECK_ERR(rq_evidence_parse(&ev, copy, "r.json"), RQ_EINVALID);
	json_object_set_new(copy, "format", json_integer(2));
	CHECK_ERR(rq_evidence_parse(&ev, copy, "r.json"), RQ_EINVALID);
	json_decref(copy);

	/* a checkpoint of another size than the entries */
	rq_checkpoint_release(&c);
	sign_tree(&c, &L, L.n - 1, L.k);
	CHECK_ERR(rq_evidence_build(&copy, L.e, L.sig, L.n, &c, false), RQ_EINVALID);

	json_decref(j);
	rq_key_free(other);
	rq_checkpoint_release(&c);
	ledger_release(&L);
}
