/* Unit tests of store/history.c for runs that missed their target: the
 * `censored` flag of a past update (the actual's "target": "missed") and
 * the ledger order (`order`, the plan's seq) of points and traces. */
#include "unit.h"
#include "history.h"
#include "forecast_int.h"
#include "json.h"
#include "key_int.h"
#include "ledger_int.h"

#include <sodium.h>

/* Append `type` with the JSON text `body`; the new entry's id and seq. */
static uint64_t append(char id[RQ_ID_HEX_SIZE], rq_ledger *l, const char *type, const char *body)
{
	json_t *j = NULL;
	rq_entry *e = NULL;
	uint64_t seq = 0;
	if (rq_json_parse(&j, body, strlen(body), "body") || rq_ledger_append(&e, l, type, j, NULL, 0)) {
		unit_fail(__FILE__, __LINE__, "append %s: %s", type, rq_error_last());
		return 0;
	}
	if (id)
		snprintf(id, RQ_ID_HEX_SIZE, "%s", e->id);
	seq = rq_entry_seq(e);
	rq_entry_free(e);
	return seq;
}

static uint64_t appendf(char id[RQ_ID_HEX_SIZE], rq_ledger *l, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static uint64_t appendf(char id[RQ_ID_HEX_SIZE], rq_ledger *l, const char *type, const char *fmt, ...)
{
	rq_buf b = RQ_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	rq_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	uint64_t seq = append(id, l, type, b.ptr);
	rq_buf_release(&b);
	return seq;
}

TEST(history_censored_and_order)
{
	rq_key *k = NULL;
	rq_ledger *l = NULL;
	rq_buf dir = RQ_BUF_INIT;
	char v1[RQ_ID_HEX_SIZE], p[3][RQ_ID_HEX_SIZE];
	uint64_t seq[3], aseq[3];
	rq_entry *base = NULL;
	rq_history h;

	rq_buf_printf(&dir, "%s/history-target/.resque", unit_tmpdir());
	if (sodium_init() < 0 || rq_key_generate(&k) != 0 || rq_ledger_init(&l, dir.ptr, k) != 0) {
		unit_fail(__FILE__, __LINE__, "ledger: %s", rq_error_last());
		goto done;
	}
	rq_ledger_set_signer(l, k);
	append(v1, l, "version", "{\"name\":\"v1\"}");
	seq[0] = appendf(p[0], l, "plan", "{\"from\":\"%s\",\"kind\":\"dist\",\"index\":0.1}", v1);
	seq[1] = appendf(p[1], l, "plan", "{\"from\":\"%s\",\"kind\":\"dist\",\"index\":0.2}", v1);
	seq[2] = appendf(p[2], l, "plan", "{\"from\":\"%s\",\"kind\":\"dist\",\"index\":0.3}", v1);
	/* recorded out of order: the plans' order counts, not the actuals' */
	aseq[1] = appendf(NULL, l, "actual", "{\"plan\":\"%s\",\"epochs\":60,\"energy_kwh\":6,\"target\":\"missed\","
			  "\"epoch_energy_kwh\":[0.1,0.1]}", p[1]);
	aseq[0] = appendf(NULL, l, "actual", "{\"plan\":\"%s\",\"epochs\":7,\"energy_kwh\":1,\"target\":\"reached\"}", p[0]);
	aseq[2] = appendf(NULL, l, "actual", "{\"plan\":\"%s\",\"epochs\":9,\"energy_kwh\":1,\"target\":\"Missed\"}", p[2]);
	CHECK(seq[0] > 0 && seq[0] < seq[1] && seq[1] < seq[2]);
	CHECK_OK(rq_ledger_lookup(&base, l, "v1", "version"));
	if (!base)
		goto done;
	rq_history_init(&h);
	CHECK_OK(rq_history_gather(&h, l, base, NULL, RQ_SHIFT_DIST));
	CHECK_INT_EQ(h.n_updates, 3);
	if (h.n_updates == 3) {
		CHECK(!h.points[0].censored);
		CHECK(h.points[1].censored);
		CHECK(!h.points[2].censored); /* only the exact word "missed" */
		for (size_t i = 0; i < 3; i++) {
			CHECK_INT_EQ(h.points[i].order, seq[i]);
			/* known once its actual is recorded, not at its plan */
			CHECK_INT_EQ(h.points[i].known_at, aseq[i]);
		}
		CHECK_NEAR(h.points[1].epochs, 60, 0);
	}
	CHECK_INT_EQ(h.n_traces, 1);
	if (h.n_traces == 1)
		CHECK_INT_EQ(h.traces[0].order, aseq[1]);
	rq_history_release(&h);
done:
	rq_entry_free(base);
	rq_ledger_free(l);
	rq_key_free(k);
	rq_buf_release(&dir);
}
