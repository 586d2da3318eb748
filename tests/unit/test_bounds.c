/* Unit tests of the plausible ranges (core/forecast/bounds.c) and of the readers
 * that use them: cost files, CodeCarbon and nvidia-smi imports, .npy
 * headers, CSV headers, and the forecast's guard against NaN/infinity. */
#include "unit.h"
#include "resque/array.h"
#include "bounds.h"
#include "resque/carbon.h"
#include "cost.h"
#include "events.h"
#include "csv.h"
#include "forecast_int.h"
#include "import.h"
#include "when.h"

#include <math.h>

#define S(text) text, sizeof(text) - 1

TEST(bounds_check_ranges_and_messages)
{
	CHECK_OK(rq_bound_check("energy_kwh", 0, "f"));
	CHECK_OK(rq_bound_check("energy_kwh", 1e9, "f"));
	CHECK_ERR(rq_bound_check("energy_kwh", 1.79e308, "cost.json: line 3"), RQ_EINVALID);
	CHECK_STR_EQ(rq_error_last(),
		     "cost.json: line 3: energy_kwh 1.79e+308 is outside the plausible range [0, 1e+09] kWh");
	CHECK_ERR(rq_bound_check("energy_kwh", -1e-9, NULL), RQ_EINVALID);
	CHECK_STR_EQ(rq_error_last(), "energy_kwh -1e-09 is outside the plausible range [0, 1e+09] kWh");
	CHECK_ERR(rq_bound_check("energy_kwh", NAN, "x"), RQ_EINVALID);
	CHECK_STR_EQ(rq_error_last(), "x: energy_kwh is not a number");
	CHECK_ERR(rq_bound_check("duration_s", INFINITY, "x"), RQ_EINVALID);
	CHECK_OK(rq_bound_check("duration_s", 1e9, "x"));
	CHECK_ERR(rq_bound_check("duration_s", 1.0000001e9, "x"), RQ_EINVALID);
	CHECK_OK(rq_bound_check("epochs", 1e7, "x"));
	CHECK_ERR(rq_bound_check("epochs", 1e7 + 1, "x"), RQ_EINVALID);
	CHECK_ERR(rq_bound_check("epochs", 2.5, "--epochs"), RQ_EINVALID);
	CHECK_STR_EQ(rq_error_last(), "--epochs: epochs 2.5 is not a whole number");
	CHECK_OK(rq_bound_check("pue", 1, "x"));
	CHECK_OK(rq_bound_check("pue", 3, "x"));
	CHECK_ERR(rq_bound_check("pue", 0.99, "x"), RQ_EINVALID);
	CHECK_ERR(rq_bound_check("pue", 3.01, "--pue"), RQ_EINVALID);
	CHECK_STR_EQ(rq_error_last(), "--pue: pue 3.01 is outside the plausible range [1, 3]");
	CHECK_OK(rq_bound_check("intensity_g_per_kwh", 2000, "x"));
	CHECK_ERR(rq_bound_check("intensity_g_per_kwh", 2001, "x"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "[0, 2000] g/kWh");
	CHECK_OK(rq_bound_check("power_w", 1e4, "x"));
	CHECK_ERR(rq_bound_check("power_w", 10001, "x"), RQ_EINVALID);
	CHECK_OK(rq_bound_check("carbon_kg", 1e9, "x"));
	CHECK_ERR(rq_bound_check("carbon_kg", 2e9, "x"), RQ_EINVALID);
	CHECK_ERR(rq_bound_check("speed", 1, "x"), RQ_ERROR);
	CHECK(rq_bound_lookup("year") && rq_bound_lookup("year")->lo == 1970);
	CHECK(rq_bound_lookup("nope") == NULL);
}

TEST(bounds_parse_decimal_refuses_hex_inf_nan)
{
	double v = -1;
	CHECK_OK(rq_bound_parse_decimal(&v, "1.5"));
	CHECK_NEAR(v, 1.5, 0);
	CHECK_OK(rq_bound_parse_decimal(&v, "-2e3"));
	CHECK_NEAR(v, -2000, 0);
	CHECK_OK(rq_bound_parse_decimal(&v, ".5"));
	CHECK_NEAR(v, 0.5, 0);
	CHECK_OK(rq_bound_parse_decimal(&v, "5."));
	CHECK_OK(rq_bound_parse_decimal(&v, "+7E-2"));
	CHECK_NEAR(v, 0.07, 1e-18);
	CHECK_OK(rq_bound_parse_decimal(&v, "1.79e308"));
	static const char *const bad[] = { "0x10", "0X1p3", "inf", "-Infinity", "nan", "NAN(1)", "",
					   " 1", "1 ", "1e", "1e+", "e5", ".", "-", "1,5", "1e999",
					   "--1", "1.2.3", "12abc" };
	for (size_t i = 0; i < RQ_ARRAY_SIZE(bad); i++) {
		if (rq_bound_parse_decimal(&v, bad[i]) != -1)
			unit_fail(__FILE__, __LINE__, "'%s' was accepted as a decimal", bad[i]);
	}
}

TEST(bounds_dates_and_names)
{
	CHECK_OK(rq_bound_date(2024, 2, 29, "2024-02-29", NULL));
	CHECK_OK(rq_bound_date(2000, 2, 29, "2000-02-29", NULL));
	CHECK_OK(rq_bound_date(1970, 1, 1, "1970-01-01", NULL));
	CHECK_OK(rq_bound_date(2200, 12, 31, "2200-12-31", NULL));
	CHECK_ERR(rq_bound_date(2023, 2, 29, "2023-02-29", "f: line 2"), RQ_EINVALID);
	CHECK_STR_EQ(rq_error_last(), "f: line 2: '2023-02-29' is not a valid date (no day 29 in month 2 of 2023)");
	CHECK_ERR(rq_bound_date(1900, 2, 29, "1900-02-29", NULL), RQ_EINVALID);
	CHECK_ERR(rq_bound_date(2024, 4, 31, "x", NULL), RQ_EINVALID);
	CHECK_ERR(rq_bound_date(2024, 13, 1, "x", NULL), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "no month 13");
	CHECK_ERR(rq_bound_date(2024, 0, 1, "x", NULL), RQ_EINVALID);
	CHECK_ERR(rq_bound_date(2024, 1, 0, "x", NULL), RQ_EINVALID);
	CHECK_ERR(rq_bound_date(1969, 12, 31, "1969-12-31", NULL), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "the year is outside [1970, 2200]");
	CHECK_ERR(rq_bound_date(9999, 1, 1, "x", NULL), RQ_EINVALID);
	CHECK_OK(rq_bound_name("run-1 ok", "run_id", NULL));
	CHECK_OK(rq_bound_name("", "run_id", NULL));
	CHECK_OK(rq_bound_name("caf\xc3\xa9", "run_id", NULL));
	CHECK_ERR(rq_bound_name("a\nb", "run_id", "em.csv: line 2"), RQ_EINVALID);
	CHECK_STR_EQ(rq_error_last(), "em.csv: line 2: run_id must not contain control characters (a newline, tab ...)");
	CHECK_ERR(rq_bound_name("a\tb", "x", NULL), RQ_EINVALID);
	CHECK_ERR(rq_bound_name("a\rb", "x", NULL), RQ_EINVALID);
	CHECK_ERR(rq_bound_name("a\x7f", "x", NULL), RQ_EINVALID);
}

TEST(bounds_cost_files)
{
	rq_cost c;
	CHECK_OK(rq_cost_parse(&c, S("{\"epochs\": 10, \"energy_kwh\": 1e9, \"duration_s\": 1e9, \"pue\": 3}"), "c.json"));
	rq_cost_release(&c);
	CHECK_ERR(rq_cost_parse(&c, S("{\"epochs\": 10, \"energy_kwh\": 1.79e308, \"duration_s\": 5}"), "c.json"),
		  RQ_EINVALID);
	CHECK_STR_EQ(rq_error_last(), "c.json: energy_kwh 1.79e+308 is outside the plausible range [0, 1e+09] kWh");
	CHECK_ERR(rq_cost_parse(&c, S("{\"epochs\": 10, \"energy_kwh\": 1, \"duration_s\": 2e9}"), "c.json"),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "c.json: duration_s 2e+09 is outside the plausible range [0, 1e+09] s");
	CHECK_ERR(rq_cost_parse(&c, S("{\"epochs\": 1e8, \"energy_kwh\": 1, \"duration_s\": 2}"), "c.json"),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "c.json: epochs 1e+08 is outside the plausible range [0, 1e+07]");
	CHECK_ERR(rq_cost_parse(&c, S("{\"epochs\": 2.5, \"energy_kwh\": 1, \"duration_s\": 2}"), "c.json"),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "c.json: epochs 2.5 is not a whole number");
	CHECK_ERR(rq_cost_parse(&c, S("{\"epochs\": 2, \"energy_kwh\": 1, \"duration_s\": 2, \"pue\": 4}"), "c.json"),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "c.json: pue 4 is outside the plausible range [1, 3]");
	CHECK_ERR(rq_cost_parse(&c, S("{\"epochs\": 2, \"energy_kwh\": 1, \"duration_s\": 2, \"intensity_g_per_kwh\": 5000}"),
				"c.json"),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "intensity_g_per_kwh 5000 is outside the plausible range [0, 2000] g/kWh");
	CHECK_ERR(rq_cost_parse(&c, S("{\"epochs\": 2, \"energy_kwh\": 1, \"duration_s\": 2, \"carbon_kg\": 1e10}"),
				"c.json"),
		  RQ_EINVALID);
	CHECK_ERR(rq_cost_parse(&c, S("{\"epochs\": 2, \"energy_kwh\": 1, \"duration_s\": 2, \"hardware\": \"a\\nb\"}"),
				"c.json"),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "c.json: 'hardware' must not contain control characters");
}

TEST(bounds_csv_duplicate_columns)
{
	rq_csv *c = NULL;
	size_t nf;
	const char *const *f;
	CHECK_OK(rq_csv_open_buffer(&c, S("a,B , power.draw [W],,\n"), "x.csv"));
	CHECK_INT_EQ(rq_csv_next(c, &nf, &f), 1);
	CHECK_OK(rq_csv_header_check(c, nf, f));
	rq_csv_free(c);
	CHECK_OK(rq_csv_open_buffer(&c, S("\n\na,power.draw [W],b, Power.Draw\n"), "x.csv"));
	CHECK_INT_EQ(rq_csv_next(c, &nf, &f), 1);
	CHECK_ERR(rq_csv_header_check(c, nf, f), RQ_EINVALID);
	CHECK_STR_EQ(rq_error_last(),
		     "x.csv: line 3: column 'power.draw' appears twice (fields 2 and 4): which one to read is ambiguous");
	rq_csv_free(c);
}

TEST(bounds_codecarbon_import)
{
	rq_cc_import r;
	const char *hdr = "timestamp,run_id,duration,emissions,energy_consumed,country_iso_code,pue\n";
	rq_buf b = RQ_BUF_INIT;
#define CC(row) (rq_buf_reset(&b), rq_buf_puts(&b, hdr), rq_buf_puts(&b, row), \
		 rq_import_codecarbon(&r, b.ptr, b.len, "em.csv", NULL))
	CHECK_OK(CC("2024-02-29T10:00:00,a,10,0.1,0.2,FRA,1.2\n"));
	rq_cc_import_release(&r);
	CHECK_ERR(CC("2024-02-29T10:00:00,a,10,0.1,1.79e308,FRA,\n"), RQ_EINVALID);
	CHECK_STR_EQ(rq_error_last(), "em.csv: line 2: energy_kwh 1.79e+308 is outside the plausible range [0, 1e+09] kWh");
	CHECK_ERR(CC("2024-02-29T10:00:00,a,0x10,0.1,0.2,FRA,\n"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "em.csv: line 2: 'duration' is not a number >= 0: '0x10'");
	CHECK_ERR(CC("2024-02-29T10:00:00,a,inf,0.1,0.2,FRA,\n"), RQ_EINVALID);
	CHECK_ERR(CC("2024-02-29T10:00:00,a,10,nan,0.2,FRA,\n"), RQ_EINVALID);
	CHECK_ERR(CC("2024-02-29T10:00:00,a,2e9,0.1,0.2,FRA,\n"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "duration_s 2e+09 is outside the plausible range [0, 1e+09] s");
	/* an implausible optional figure is dropped with a warning, the run kept */
	CHECK_OK(CC("2024-02-29T10:00:00,a,10,0.1,0.2,FRA,7\n"));
	CHECK_CONTAINS(r.warnings.ptr ? r.warnings.ptr : "", "pue 7");
	CHECK(isnan(r.runs[0].pue));
	rq_cc_import_release(&r);
	CHECK_ERR(CC("2024-02-29T10:00:00,a,10,2e9,0.2,FRA,\n"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "carbon_kg 2e+09");
	CHECK_ERR(CC("2024-02-29T10:00:00,a,10,0.1,0.2,ZZZ,\n"), RQ_EINVALID);
	CHECK_STR_EQ(rq_error_last(), "em.csv: line 2: country_iso_code 'ZZZ' is not a known country code");
	CHECK_ERR(CC("2024-02-29T10:00:00,\"a\nb\",10,0.1,0.2,FRA,\n"), RQ_EINVALID);
	CHECK_STR_EQ(rq_error_last(), "em.csv: line 2: run_id must not contain control characters (a newline, tab ...)");
	CHECK_ERR(CC("2024-02-29T10:00:00,a,10,0.1,0.2,\"FR\nA\",\n"), RQ_EINVALID);
	CHECK_STR_EQ(rq_error_last(), "em.csv: line 2: country_iso_code must not contain control characters (a newline, tab ...)");
	CHECK_ERR(CC("2023-02-29T10:00:00,a,10,0.1,0.2,FRA,\n"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "em.csv: line 2: '2023-02-29T10:00:00' is not a valid date (no day 29 in month 2 of 2023)");
	CHECK_ERR(CC("1900-01-01T10:00:00,a,10,0.1,0.2,FRA,\n"), RQ_EINVALID);
	CHECK_ERR(CC("yesterday,a,10,0.1,0.2,FRA,\n"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "timestamp 'yesterday' is not an ISO-8601 date");
	CHECK_ERR(rq_import_codecarbon(&r, S("energy_consumed,emissions,duration,Energy_Consumed\n1,2,3,4\n"),
				       "em.csv", NULL),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "em.csv: line 1: column 'energy_consumed' appears twice (fields 1 and 4)");
#undef CC
	rq_buf_release(&b);
}

TEST(bounds_nvsmi_import)
{
	rq_nvsmi_import r;
	CHECK_OK(rq_import_nvsmi(&r, S("timestamp, power.draw [W]\n2024/01/01 00:00:00.000, 100.00 W\n"
				       "2024/01/01 00:00:10.000, 100.00 W\n"), "p.csv"));
	CHECK_NEAR(r.joules, 1000, 1e-9);
	rq_nvsmi_import_release(&r);
	CHECK_ERR(rq_import_nvsmi(&r, S("timestamp, power.draw [W]\n2024/01/01 00:00:00.000, 100.00 W\n"
					"2024/01/01 00:00:10.000, 1.79e308 W\n"), "p.csv"),
		  RQ_EINVALID);
	CHECK_STR_EQ(rq_error_last(),
		     "p.csv: line 3: a sample of one GPU: power_w 1.79e+308 is outside the plausible range [0, 10000] W");
	CHECK_ERR(rq_import_nvsmi(&r, S("timestamp, power.draw [W]\n2024/01/01 00:00:00.000, 100.00 W\n"
					"2024/01/01 00:00:10.000, 10001 W\n"), "p.csv"),
		  RQ_EINVALID);
	CHECK_ERR(rq_import_nvsmi(&r, S("timestamp, power.draw [W]\n2024/01/01 00:00:00.000, 0x64 W\n"
					"2024/01/01 00:00:10.000, 100 W\n"), "p.csv"),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "p.csv: line 2: power.draw '0x64 W' is not in watts");
	CHECK_ERR(rq_import_nvsmi(&r, S("timestamp, power.draw [W]\n2024/01/01 00:00:00.000, inf W\n"
					"2024/01/01 00:00:10.000, 100 W\n"), "p.csv"),
		  RQ_EINVALID);
	CHECK_ERR(rq_import_nvsmi(&r, S("timestamp, power.draw [W]\n2024/01/01 00:00:00.000, 100.00 W\n"), "p.csv"),
		  RQ_EINVALID);
	CHECK_STR_EQ(rq_error_last(),
		     "p.csv: a single power sample per GPU: energy needs at least two samples over a positive duration");
	CHECK_ERR(rq_import_nvsmi(&r, S("timestamp, power.draw [W]\n2024/01/01 00:00:00.000, 100.00 W\n"
					"2024/01/01 00:00:00.000, 100.00 W\n2024/01/01 00:00:00.000, 100.00 W\n"),
				  "p.csv"),
		  RQ_EINVALID);
	/* three rows at one timestamp, no id column: three GPUs of one sample each */
	CHECK_CONTAINS(rq_error_last(), "a single power sample per GPU");
	CHECK_ERR(rq_import_nvsmi(&r, S("timestamp, index, power.draw [W]\n2024/01/01 00:00:00.000, 0, 100.00 W\n"
					"2024/01/01 00:00:00.000, 0, 100.00 W\n"), "p.csv"),
		  RQ_EINVALID);
	CHECK_STR_EQ(rq_error_last(),
		     "p.csv: the log spans no time (every sample at 2024/01/01 00:00:00.000): energy needs a positive duration");
	CHECK_ERR(rq_import_nvsmi(&r, S("timestamp, power.draw [W]\n2023/02/29 00:00:00.000, 100.00 W\n"
					"2023/03/01 00:00:10.000, 100 W\n"), "p.csv"),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "p.csv: line 2: '2023/02/29 00:00:00.000' is not a valid date");
	CHECK_ERR(rq_import_nvsmi(&r, S("timestamp, power.draw [W]\n1960/01/01 00:00:00.000, 100.00 W\n"
					"1960/01/01 00:00:10.000, 100 W\n"), "p.csv"),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "the year is outside [1970, 2200]");
	CHECK_ERR(rq_import_nvsmi(&r, S("timestamp, power.draw [W]\n1970/01/01 00:00:00.000, 100.00 W\n"
					"2200/01/01 00:00:10.000, 100 W\n"), "p.csv"),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "duration_s");
	CHECK_ERR(rq_import_nvsmi(&r, S("timestamp, power.draw [W], power.draw [W]\n2024/01/01 00:00:00.000, 1 W, 2 W\n"),
				  "p.csv"),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "p.csv: line 1: column 'power.draw' appears twice (fields 2 and 3)");
}

TEST(bounds_npy_header_nul)
{
	const char dict[] = "{'descr': '<f4#', 'fortran_order': False, 'shape': (1, 1), }";
	size_t hl = strlen(dict) + 1, pad = (64 - (10 + hl) % 64) % 64;
	rq_buf b = RQ_BUF_INIT;
	rq_array *a = NULL;
	float v = 1;

	rq_buf_put(&b, "\x93NUMPY\x01\x00", 8);
	rq_buf_putc(&b, (char)((hl + pad) & 0xff));
	rq_buf_putc(&b, (char)((hl + pad) >> 8));
	rq_buf_puts(&b, dict);
	for (size_t i = 0; i < pad; i++)
		rq_buf_putc(&b, ' ');
	rq_buf_putc(&b, '\n');
	rq_buf_put(&b, &v, sizeof(v));
	char *hash = strchr(b.ptr + 10, '#');
	*hash = ' '; /* '<f4 ' is refused by the dtype parser, not by the NUL check: */
	CHECK(rq_array_open_buffer(&a, b.ptr, b.len, "x.npy", NULL) != 0);
	*hash = '\0';
	CHECK_ERR(rq_array_open_buffer(&a, b.ptr, b.len, "x.npy", NULL), RQ_EINVALID);
	CHECK_STR_EQ(rq_error_last(), "x.npy: malformed .npy header: a NUL byte at byte 24");
	/* the same NUL in the padding */
	*hash = '\'';
	hash[1] = ',';
	b.ptr[b.len - 6] = '\0';
	CHECK_ERR(rq_array_open_buffer(&a, b.ptr, b.len, "x.npy", NULL), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "a NUL byte at byte");
	rq_array_free(a);
	rq_buf_release(&b);
}

TEST(bounds_forecast_never_nan)
{
	rq_forecast_input in;
	rq_forecast f;
	struct rq_history_point h[3];
	double kwh[] = { 1e308, 1e308, 1e308 };
	struct rq_epoch_trace t = { kwh, NULL, 3, "gpu", NAN };

	memset(&in, 0, sizeof(in));
	in.kind = RQ_SHIFT_DIST;
	in.index = 0.2;
	in.train_size = NAN;
	in.scratch_epochs = 1e7;
	in.intensity = 400;
	in.pue = 1.5;
	in.hardware = "gpu";
	in.draws = 1000;
	for (int i = 0; i < 3; i++) {
		struct rq_history_point p = { RQ_SHIFT_DIST, 0.1 * (i + 1), 5 + i, 1.79e308, 1e300, NAN, NAN,
					      "f", "gpu", NAN };
		h[i] = p;
	}
	in.history = h;
	in.n_history = 3;
	in.traces = &t;
	in.n_traces = 1;
	CHECK_OK(rq_forecast_compute(&f, &in));
	const rq_quantiles *q[] = { &f.epochs, &f.energy_kwh, &f.carbon_kg, &f.duration_s, &f.param_change,
				    &f.grad_norm, &f.scratch_energy_kwh, &f.scratch_carbon_kg, &f.scratch_duration_s };
	for (size_t i = 0; i < RQ_ARRAY_SIZE(q); i++)
		if (q[i]->known && !(isfinite(q[i]->mean) && isfinite(q[i]->p10) && isfinite(q[i]->p90) &&
				     isfinite(q[i]->p2_5) && isfinite(q[i]->p97_5)))
			unit_fail(__FILE__, __LINE__, "figure %zu is known but not finite", i);
	CHECK(f.epochs.known);
	CHECK(!f.energy_kwh.known);
	CHECK(!f.carbon_kg.known);
	CHECK(!isfinite(f.saving_kwh) || isfinite(f.saving_kwh));
	CHECK(isnan(f.saving_kwh));
	CHECK_CONTAINS(f.not_forecast, "energy_kwh");
	CHECK_CONTAINS(f.not_forecast, "the computation overflowed");
	/* plausible figures: nothing dropped */
	for (int i = 0; i < 3; i++) {
		h[i].energy_kwh = 10 + i;
		h[i].duration_s = 100 + i;
	}
	kwh[0] = kwh[1] = kwh[2] = 2;
	CHECK_OK(rq_forecast_compute(&f, &in));
	CHECK(f.energy_kwh.known && f.carbon_kg.known);
	CHECK_STR_EQ(f.not_forecast, "");
}

TEST(bounds_carbon_table_is_plausible)
{
	/* the built-in grid table must pass the checks that user input does */
	for (size_t i = 0; i < rq_carbon_count(); i++) {
		const rq_region *r = rq_carbon_at(i);
		if (rq_bound_check("intensity_g_per_kwh", r->g_per_kwh, r->code) ||
		    (r->pue > 0 && rq_bound_check("pue", r->pue, r->code)))
			unit_fail(__FILE__, __LINE__, "%s", rq_error_last());
	}
	CHECK(rq_carbon_count() > 100);
}

TEST(bounds_events_epochs_and_metrics)
{
	rq_events *e = NULL;
	CHECK_OK(rq_events_open(&e, NULL));
	const char *in = "epoch 10000001\nmetric loss 0x10\nmetric loss inf\nmetric loss nan\n"
			 "metric loss 1e999\nepoch 10000000\nmetric loss -2.5e-1\n";
	rq_events_feed(e, in, strlen(in), 1.0);
	CHECK_INT_EQ(rq_events_count(e), 2);
	CHECK_INT_EQ(rq_events_get(e, 0)->type, RQ_EVENT_EPOCH);
	CHECK_INT_EQ(rq_events_get(e, 0)->epoch, 10000000);
	CHECK(rq_events_get(e, 1)->value == -0.25);
	const char *w = rq_events_warnings(e);
	CHECK(strstr(w, "line 1: epoch 10000001 is outside the plausible range [0, 1e+07]"));
	CHECK(strstr(w, "line 2: '0x10' is not a finite number"));
	CHECK(strstr(w, "line 3: 'inf' is not a finite number"));
	CHECK(strstr(w, "line 4: 'nan' is not a finite number"));
	CHECK(strstr(w, "line 5: '1e999' is not a finite number"));
	rq_events_free(e);
}

TEST(bounds_when_intensity_and_header)
{
	rq_when_series s;
	CHECK_ERR(rq_when_parse(&s, S("time,intensity\n2026-01-01T00:00:00Z,1e6\n"), "w.csv"), RQ_EINVALID);
	CHECK_STR_EQ(rq_error_last(),
		     "w.csv: line 2: intensity_g_per_kwh 1e+06 is outside the plausible range [0, 2000] g/kWh");
	rq_when_release(&s);
	CHECK_ERR(rq_when_parse(&s, S("time,intensity\n2026-01-01T00:00:00Z,0x10\n"), "w.csv"), RQ_EINVALID);
	CHECK(strstr(rq_error_last(), "'0x10' is not a non-negative intensity"));
	rq_when_release(&s);
	CHECK_ERR(rq_when_parse(&s, S("time,intensity,intensity\n2026-01-01T00:00:00Z,1,2\n"), "w.csv"), RQ_EINVALID);
	CHECK(strstr(rq_error_last(), "column 'intensity' appears twice"));
	rq_when_release(&s);
	CHECK_OK(rq_when_parse(&s, S("time,intensity\n2026-01-01T00:00:00Z,100\n2026-01-01T01:00:00Z,90.5\n"), "w.csv"));
	CHECK_INT_EQ(s.n, 2);
	CHECK(s.g[1] == 90.5);
	rq_when_release(&s);
}
