/* Unit tests of store/history.c: which versions form a lineage, which past
 * updates and traces the calibration gets, E₀, and the grid context. */
#include "unit.h"
#include "history.h"
#include "forecast_int.h"
#include "json.h"
#include "key_int.h"
#include "ledger_int.h"

#include <sodium.h>

static rq_ledger *history_ledger(rq_key **k, const char *sub)
{
	rq_buf dir = RQ_BUF_INIT;
	rq_ledger *l = NULL;
	if (sodium_init() < 0 || rq_key_generate(k) != 0)
		return NULL;
	rq_buf_printf(&dir, "%s/%s/.resque", unit_tmpdir(), sub);
	if (rq_ledger_init(&l, dir.ptr, *k) != 0)
		unit_fail(__FILE__, __LINE__, "rq_ledger_init: %s", rq_error_last());
	rq_buf_release(&dir);
	return l;
}

/* Append `type` with the JSON `body` text; the new id in `id`. */
static void add(char id[RQ_ID_HEX_SIZE], rq_ledger *l, const char *type, const char *body)
{
	json_t *j = NULL;
	rq_entry *e = NULL;
	if (rq_json_parse(&j, body, strlen(body), "body") || rq_ledger_append(&e, l, type, j, NULL, 0)) {
		unit_fail(__FILE__, __LINE__, "append %s: %s", type, rq_error_last());
		return;
	}
	if (id)
		snprintf(id, 65, "%s", e->id);
	rq_entry_free(e);
}

static void addf(char id[RQ_ID_HEX_SIZE], rq_ledger *l, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void addf(char id[RQ_ID_HEX_SIZE], rq_ledger *l, const char *type, const char *fmt, ...)
{
	rq_buf b = RQ_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	rq_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	add(id, l, type, b.ptr);
	rq_buf_release(&b);
}

TEST(history_lineage_plans_actuals)
{
	rq_key *k = NULL;
	rq_ledger *l = history_ledger(&k, "history1");
	char v1[RQ_ID_HEX_SIZE], v2[RQ_ID_HEX_SIZE], other[RQ_ID_HEX_SIZE], labelled[RQ_ID_HEX_SIZE],
	     p1[RQ_ID_HEX_SIZE], p2[RQ_ID_HEX_SIZE], p3[RQ_ID_HEX_SIZE], p4[RQ_ID_HEX_SIZE], p5[RQ_ID_HEX_SIZE];
	rq_entry *base = NULL;
	rq_history h;

	if (!l)
		return;
	rq_ledger_set_signer(l, k);
	add(v1, l, "version", "{\"name\":\"v1\",\"cost\":{\"epochs\":40,\"energy_kwh\":8,\"hardware\":\"a100\",\"source\":\"cost file\",\"train_size\":1000},\"summary\":{\"rows\":1797}}");
	addf(v2, l, "version", "{\"name\":\"v2\",\"parent\":\"%s\",\"cost\":{\"epochs\":5,\"energy_kwh\":1,\"source\":\"actual:abcd\"}}", v1);
	add(other, l, "version", "{\"name\":\"other\",\"cost\":{\"epochs\":99,\"energy_kwh\":1}}");
	add(labelled, l, "version", "{\"name\":\"cousin\",\"family\":\"resnet\"}");
	/* p1: dist from v2 (lineage), two actuals: the newer wins */
	addf(p1, l, "plan", "{\"from\":\"%s\",\"kind\":\"dist\",\"index\":0.1,\"shift_family\":\"noise\",\"hardware\":\"a100\",\"train_size\":500}", v2);
	addf(NULL, l, "actual", "{\"plan\":\"%s\",\"epochs\":3,\"energy_kwh\":1}", p1);
	addf(NULL, l, "actual", "{\"plan\":\"%s\",\"epochs\":4,\"energy_kwh\":2,\"duration_s\":60,\"param_change\":0.5,\"epoch_energy_kwh\":[1,0.5,0.5]}", p1);
	/* p2: task from v1: another kind, but its trace feeds STEP */
	addf(p2, l, "plan", "{\"from\":\"%s\",\"kind\":\"task\",\"index\":0.7}", v1);
	addf(NULL, l, "actual", "{\"plan\":\"%s\",\"epochs\":9,\"energy_kwh\":3,\"hardware\":\"h100\",\"epoch_energy_kwh\":[1,1,1]}", p2);
	/* p3: dist from another lineage: excluded */
	addf(p3, l, "plan", "{\"from\":\"%s\",\"kind\":\"dist\",\"index\":0.3}", other);
	addf(NULL, l, "actual", "{\"plan\":\"%s\",\"epochs\":9,\"energy_kwh\":3}", p3);
	/* p4: dist from the labelled cousin, with the actual's own family */
	addf(p4, l, "plan", "{\"from\":\"%s\",\"kind\":\"dist\",\"index\":0.2,\"shift_family\":\"noise\"}", labelled);
	addf(NULL, l, "actual", "{\"plan\":\"%s\",\"epochs\":6,\"energy_kwh\":2,\"shift_family\":\"blur\",\"epoch_energy_kwh\":[1,\"x\"]}", p4);
	/* p5: no actual yet */
	addf(p5, l, "plan", "{\"from\":\"%s\",\"kind\":\"dist\",\"index\":0.4}", v1);

	CHECK_OK(rq_ledger_lookup(&base, l, "v2", "version"));
	if (!base)
		goto done;
	rq_history_init(&h);
	CHECK_OK(rq_history_gather(&h, l, base, NULL, RQ_SHIFT_DIST));
	CHECK_STR_EQ(h.root, v1);
	CHECK_STR_EQ(h.root_name, "v1");
	CHECK_NEAR(h.scratch_epochs, 40, 0);
	CHECK_INT_EQ(h.n_versions, 2);
	CHECK_INT_EQ(h.n_plans, 3); /* p1, p2, p5 */
	CHECK_INT_EQ(h.n_updates, 1);
	CHECK_INT_EQ(h.n_points, 2); /* p1, and v1's cost (v2's comes from an actual) */
	if (h.n_points == 2) {
		CHECK_NEAR(h.points[0].index, 0.1, 0);
		CHECK_NEAR(h.points[0].epochs, 4, 0);
		CHECK_NEAR(h.points[0].energy_kwh, 2, 0);
		CHECK_NEAR(h.points[0].duration_s, 60, 0);
		CHECK_NEAR(h.points[0].param_change, 0.5, 0);
		CHECK(isnan(h.points[0].grad_norm));
		CHECK_STR_EQ(h.points[0].family, "noise");
		CHECK_STR_EQ(h.points[0].hardware, "a100");
		CHECK_NEAR(h.points[0].train_size, 500, 0);
		CHECK(isnan(h.points[1].index));
		CHECK_NEAR(h.points[1].epochs, 40, 0);
		CHECK_NEAR(h.points[1].energy_kwh, 8, 0);
		CHECK_STR_EQ(h.points[1].hardware, "a100");
		CHECK_NEAR(h.points[1].train_size, 1000, 0);
	}
	CHECK_INT_EQ(h.n_traces, 2);
	if (h.n_traces == 2) {
		CHECK_INT_EQ(h.traces[0].n, 3);
		CHECK_NEAR(h.traces[0].epoch_kwh[0], 1, 0);
		CHECK_NEAR(h.traces[0].epoch_kwh[2], 0.5, 0);
		CHECK_STR_EQ(h.traces[1].hardware, "h100");
	}
	rq_history_release(&h);

	/* With the family label, the cousin's update joins (its actual's family). */
	CHECK_OK(rq_history_gather(&h, l, base, "resnet", RQ_SHIFT_DIST));
	CHECK_INT_EQ(h.n_updates, 2);
	CHECK_INT_EQ(h.n_versions, 3);
	if (h.n_updates == 2)
		CHECK_STR_EQ(h.points[1].family, "blur");
	CHECK_INT_EQ(h.n_traces, 2); /* the cousin's malformed trace is ignored */
	rq_history_release(&h);

	/* Task kind: p2 alone, from v1's lineage. */
	CHECK_OK(rq_history_gather(&h, l, base, NULL, RQ_SHIFT_TASK));
	CHECK_INT_EQ(h.n_updates, 1);
	if (h.n_updates)
		CHECK_NEAR(h.points[0].index, 0.7, 0);
	rq_history_release(&h);
	/* Released is empty again, and releasing twice is harmless. */
	CHECK(h.store == NULL && h.points == NULL && h.n_points == 0 && isnan(h.scratch_epochs));
	rq_history_release(&h);
done:
	rq_entry_free(base);
	rq_ledger_free(l);
	rq_key_free(k);
}

TEST(history_feeds_the_forecast)
{
	rq_key *k = NULL;
	rq_ledger *l = history_ledger(&k, "history2");
	char v1[RQ_ID_HEX_SIZE], p[RQ_ID_HEX_SIZE];
	rq_entry *base = NULL;
	rq_history h;
	rq_forecast f;
	rq_forecast_input in = { 0 };

	if (!l)
		return;
	rq_ledger_set_signer(l, k);
	add(v1, l, "version", "{\"name\":\"v1\",\"cost\":{\"epochs\":50,\"energy_kwh\":10,\"hardware\":\"x\"}}");
	/* epochs = 2 + 40 R exactly, family "noise" */
	for (int i = 0; i < 4; i++) {
		double r = 0.05 + 0.1 * i;
		addf(p, l, "plan", "{\"from\":\"%s\",\"kind\":\"dist\",\"index\":%g,\"shift_family\":\"noise\",\"hardware\":\"x\"}", v1, r);
		addf(NULL, l, "actual", "{\"plan\":\"%s\",\"epochs\":%g,\"energy_kwh\":%g}", p, 2 + 40 * r, 0.2 * (2 + 40 * r));
	}
	CHECK_OK(rq_ledger_lookup(&base, l, "v1", "version"));
	rq_history_init(&h);
	if (!base)
		goto done;
	CHECK_OK(rq_history_gather(&h, l, base, NULL, RQ_SHIFT_DIST));
	in.kind = RQ_SHIFT_DIST;
	in.index = 0.2;
	in.family = "noise";
	in.hardware = "x";
	in.train_size = NAN;
	in.scratch_epochs = h.scratch_epochs;
	in.history = h.points;
	in.n_history = h.n_points;
	in.traces = h.traces;
	in.n_traces = h.n_traces;
	in.intensity = 100;
	in.pue = NAN;
	CHECK_OK(rq_forecast_compute(&f, &in));
	CHECK_INT_EQ(f.cal_epochs.source, RQ_CAL_FAMILY);
	CHECK_INT_EQ(f.cal_epochs.n, 4);
	CHECK_NEAR(f.epochs.p50, 2 + 40 * 0.2, 1.5); /* a line in R is not one in log(1 + epochs) */
	CHECK(f.kwh_per_epoch.known);
	/* v1's 10/50 and the actuals' 0.2 per epoch */
	CHECK_NEAR(f.kwh_per_epoch.loc, 0.2, 1e-12);
	CHECK_NEAR(f.carbon_kg.mean, f.energy_kwh.mean * 0.1, 1e-12);
done:
	rq_history_release(&h);
	rq_entry_free(base);
	rq_ledger_free(l);
	rq_key_free(k);
}

/* A version committed with --actual of its own from-scratch run: that
 * actual carries out no plan, so the version's cost brings its trace and
 * totals; an actual that a plan (or a link) counts is not counted again. */
TEST(history_cost_from_own_actual)
{
	rq_key *k = NULL;
	rq_ledger *l = history_ledger(&k, "history-own");
	char a1[RQ_ID_HEX_SIZE], v1[RQ_ID_HEX_SIZE], p1[RQ_ID_HEX_SIZE], a2[RQ_ID_HEX_SIZE], a3[RQ_ID_HEX_SIZE];
	rq_entry *base = NULL;
	rq_history h;

	if (!l)
		return;
	rq_ledger_set_signer(l, k);
	rq_history_init(&h);
	add(a1, l, "actual", "{\"epochs\":4,\"energy_kwh\":4,\"hardware\":\"cpu\",\"train_size\":1400,\"epoch_energy_kwh\":[1.5,0.9,1,1.1]}");
	addf(v1, l, "version", "{\"name\":\"v1\",\"cost\":{\"epochs\":4,\"energy_kwh\":4,\"hardware\":\"cpu\",\"train_size\":1400,\"source\":\"actual:%s\"}}", a1);
	/* v2 from an actual that carries out a lineage plan: counted there */
	addf(p1, l, "plan", "{\"from\":\"%s\",\"kind\":\"dist\",\"index\":0.1}", v1);
	addf(a2, l, "actual", "{\"plan\":\"%s\",\"epochs\":2,\"energy_kwh\":2,\"epoch_energy_kwh\":[1,1]}", p1);
	addf(NULL, l, "version", "{\"name\":\"v2\",\"parent\":\"%s\",\"cost\":{\"epochs\":2,\"energy_kwh\":2,\"source\":\"actual:%s\"}}", v1, a2);
	/* v3 shares v1's actual: counted once */
	addf(NULL, l, "version", "{\"name\":\"v3\",\"parent\":\"%s\",\"cost\":{\"epochs\":4,\"energy_kwh\":4,\"source\":\"actual:%s\"}}", v1, a1);
	CHECK_OK(rq_ledger_lookup(&base, l, "v1", "version"));
	if (!base)
		goto done;
	CHECK_OK(rq_history_gather(&h, l, base, NULL, RQ_SHIFT_DIST));
	CHECK_INT_EQ(h.n_updates, 1);
	CHECK_INT_EQ(h.n_points, 2); /* p1's update and v1's own run */
	CHECK_INT_EQ(h.n_traces, 2);
	if (h.n_points == 2 && h.n_traces == 2) {
		CHECK(isnan(h.points[1].index));
		CHECK_NEAR(h.points[1].energy_kwh, 4, 0);
		CHECK_NEAR(h.points[1].train_size, 1400, 0);
		CHECK_INT_EQ(h.traces[1].n, 4);
		CHECK_NEAR(h.traces[1].epoch_kwh[0], 1.5, 0);
		CHECK_STR_EQ(h.traces[1].hardware, "cpu");
		CHECK_NEAR(h.traces[1].train_size, 1400, 0);
	}
	rq_history_release(&h);
	/* once a link ties v1's run to a plan, the link counts it, not v1 */
	addf(a3, l, "actual", "{\"plan\":\"%s\",\"linked_from\":\"%s\",\"epochs\":4,\"energy_kwh\":4,\"epoch_energy_kwh\":[1.5,0.9,1,1.1]}", p1, a1);
	CHECK_OK(rq_history_gather(&h, l, base, NULL, RQ_SHIFT_DIST));
	CHECK_INT_EQ(h.n_points, 1);
	CHECK_INT_EQ(h.n_traces, 1);
done:
	rq_history_release(&h);
	rq_entry_free(base);
	rq_ledger_free(l);
	rq_key_free(k);
}

TEST(history_grid_resolve)
{
	rq_grid g;
	const rq_region *fr = NULL;

	CHECK_OK(rq_carbon_lookup(&fr, "FR"));
	CHECK_OK(rq_grid_resolve(&g, NULL, "fra", NAN, NAN));
	CHECK(g.region == fr);
	if (fr)
		CHECK_NEAR(g.intensity, fr->g_per_kwh, 0);
	CHECK_NEAR(g.pue, 1, 0);
	CHECK_STR_EQ(g.pue_source, "default");
	CHECK_STR_EQ(g.intensity_source, "region");

	CHECK_OK(rq_grid_resolve(&g, NULL, "FR", 1.3, 12));
	CHECK_NEAR(g.intensity, 12, 0);
	CHECK_NEAR(g.pue, 1.3, 0);
	CHECK_STR_EQ(g.intensity_source, "--intensity");

	CHECK_OK(rq_grid_resolve(&g, NULL, NULL, NAN, NAN));
	CHECK(g.region == NULL);
	CHECK(isnan(g.intensity));

	CHECK_ERR(rq_grid_resolve(&g, NULL, "FRX", NAN, NAN), RQ_ENOTFOUND);
	CHECK_CONTAINS(rq_error_last(), "close matches: FR");
	CHECK_ERR(rq_grid_resolve(&g, NULL, NULL, 0.9, NAN), RQ_EINVALID);
	CHECK_ERR(rq_grid_resolve(&g, NULL, NULL, NAN, -1), RQ_EINVALID);
}

TEST(history_grid_cloud_pue)
{
	rq_grid g;
	CHECK_OK(rq_grid_resolve(&g, NULL, "aws:eu-west-3", NAN, NAN));
	CHECK(g.region != NULL);
	if (g.region && g.region->pue >= 1) {
		CHECK_NEAR(g.pue, g.region->pue, 0);
		CHECK_STR_EQ(g.pue_source, "region");
	}
}
