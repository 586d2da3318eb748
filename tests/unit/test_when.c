/* Unit tests of the least-carbon start time (`plan --when`). */
#include "unit.h"
#include "when.h"

static const char series[] =
	"time,intensity\n"
	"2025-01-01T00:00:00Z,300\n"
	"2025-01-01T01:00:00Z,100\n"
	"2025-01-01T02:00:00Z,50\n"
	"2025-01-01T03:00:00Z,400\n";

TEST(when_parses_with_and_without_header)
{
	rq_when_series s;
	const char bare[] = "2025-01-01T00:00:00Z,1.5\r\n2025-01-01T00:30:00+00:00, 2\n";
	const char named[] = "\xef\xbb\xbfzone,carbon_intensity,datetime\nFR,10,2025-01-01\nFR,20,2025-01-02\n";
	CHECK_OK(rq_when_parse(&s, series, sizeof(series) - 1, "f.csv"));
	CHECK_INT_EQ(s.n, 4);
	CHECK_INT_EQ(s.end - s.t[0], 4 * 3600);
	CHECK_NEAR(s.g[2], 50, 0);
	rq_when_release(&s);
	CHECK_OK(rq_when_parse(&s, bare, sizeof(bare) - 1, "b.csv"));
	CHECK_INT_EQ(s.n, 2);
	CHECK_NEAR(s.g[1], 2, 0);
	rq_when_release(&s);
	CHECK_OK(rq_when_parse(&s, named, sizeof(named) - 1, "n.csv"));
	CHECK_INT_EQ(s.t[1] - s.t[0], 86400);
	CHECK_NEAR(s.g[1], 20, 0);
	rq_when_release(&s);
}

TEST(when_rejects_bad_forecasts_with_the_line)
{
	rq_when_series s;
	struct { const char *csv, *msg; } bad[] = {
		{ "time,g\n2025-01-01,1\n2024-12-31,2\n", "f.csv: line 3: time does not increase" },
		{ "time,g\n2025-01-01,1\n2025-01-02,-2\n", "line 3: '-2' is not a non-negative intensity" },
		{ "time,g\n2025-01-01,1\n2025-01-02,nan\n", "line 3: 'nan' is not" },
		{ "time,g\n2025-01-01,1\n2025-13-02,1\n", "line 3: '2025-13-02' is not an ISO-8601 time" },
		{ "time,g\n2025-01-01,1\n2025-01-02\n", "line 3: expected a time and an intensity" },
		{ "time,g\n2025-01-01,1\n", "needs at least two forecast points, found 1" },
		{ "", "needs at least two forecast points, found 0" },
		{ "time,g\n\"2025-01-01,1\n", "f.csv" },
	};
	for (size_t i = 0; i < RQ_ARRAY_SIZE(bad); i++) {
		int rc = rq_when_parse(&s, bad[i].csv, strlen(bad[i].csv), "f.csv");
		CHECK(rc < 0);
		CHECK_CONTAINS(rq_error_last(), bad[i].msg);
		CHECK(s.t == NULL && s.n == 0);
	}
}

TEST(when_finds_the_least_carbon_window)
{
	rq_when_series s;
	rq_when_result r;
	int64_t t0;
	CHECK_OK(rq_when_parse(&s, series, sizeof(series) - 1, "f.csv"));
	t0 = s.t[0];
	/* 2 h: [1 h, 3 h] integrates 100 + 50 = 150 against 400 from 0 h */
	CHECK_OK(rq_when_best(&r, &s, 7200, INT64_MIN, 10, 1.5, "f.csv"));
	CHECK_INT_EQ(r.start - t0, 3600);
	CHECK_NEAR(r.mean_g_per_kwh, 75, 1e-9);
	CHECK_NEAR(r.baseline_g_per_kwh, 200, 1e-9);
	CHECK_NEAR(r.saving_fraction, 1 - 75.0 / 200, 1e-12);
	CHECK_NEAR(r.saving_kg, 10 * 1.5 * 125 / 1000, 1e-9);
	/* 1.5 h: the window ending at 3 h (start 1.5 h) holds 0.5·100 + 1·50 */
	CHECK_OK(rq_when_best(&r, &s, 5400, INT64_MIN, NAN, NAN, "f.csv"));
	CHECK_INT_EQ(r.start - t0, 5400);
	CHECK_NEAR(r.mean_g_per_kwh, 100 / 1.5, 1e-9);
	CHECK(isnan(r.saving_kg));
	/* from "now" = 2 h, only [2 h, 4 h] fits for 2 h */
	CHECK_OK(rq_when_best(&r, &s, 7200, t0 + 7200, NAN, NAN, "f.csv"));
	CHECK_INT_EQ(r.start - t0, 7200);
	CHECK_NEAR(r.mean_g_per_kwh, 225, 1e-9);
	CHECK_NEAR(r.saving_fraction, 0, 1e-12);
	/* too long for the forecast */
	CHECK_ERR(rq_when_best(&r, &s, 5 * 3600, INT64_MIN, NAN, NAN, "f.csv"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "f.csv: the forecast covers 4.0 h");
	CHECK_ERR(rq_when_best(&r, &s, -1, INT64_MIN, NAN, NAN, "f.csv"), RQ_EINVALID);
	rq_when_release(&s);
}
