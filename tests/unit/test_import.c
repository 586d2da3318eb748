/* Unit tests of the importers: CodeCarbon columns by name across versions,
 * nvidia-smi integration, bad inputs. */
#include "unit.h"
#include "import.h"

#define S(text) text, sizeof(text) - 1

TEST(import_codecarbon_v1_and_runs)
{
	rq_cc_import r;
	CHECK_OK(rq_import_codecarbon(&r, S("timestamp,project_name,run_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,country_iso_code,region\n"
		"2022-01-01T10:00:00,p,aaa,10.5,0.001,1e-4,42.5,0,3,0.0001,0,0.00001,0.00011,France,FRA,\n"
		"2022-01-01T11:00:00,p,bbb,20,0.002,1e-4,42.5,0,3,0.0002,0,0.00002,0.00022,France,FRA,ile-de-france\n"
		"2022-01-01T11:05:00,p,aaa,30,0.003,1e-4,42.5,0,3,0.0003,0,0.00003,0.00033,France,FRA,\n"),
		"em.csv", NULL));
	CHECK_INT_EQ(r.n, 2);
	if (r.n == 2) {
		CHECK_STR_EQ(r.runs[0].run_id, "aaa");
		CHECK_NEAR(r.runs[0].duration_s, 30, 0);
		CHECK_NEAR(r.runs[0].energy_kwh, 0.00033, 0);
		CHECK_INT_EQ(r.runs[0].line, 4);
		CHECK_STR_EQ(r.runs[1].region, "ile-de-france");
		CHECK(isnan(r.runs[1].pue));
	}
	rq_cc_import_release(&r);
}

TEST(import_codecarbon_select_and_errors)
{
	rq_cc_import r;
	const char ok[] = "\xef\xbb\xbf\"run_id\",\"energy_consumed\",\"emissions\",\"duration\"\r\n"
			  "\"x,1\",1.5,\"0.5\",3\r\ny,2,1,4\r\n";
	CHECK_OK(rq_import_codecarbon(&r, ok, sizeof(ok) - 1, "em.csv", "x,1"));
	CHECK_INT_EQ(r.n, 1);
	CHECK_NEAR(r.runs[0].energy_kwh, 1.5, 0);
	rq_cc_import_release(&r);
	CHECK_ERR(rq_import_codecarbon(&r, ok, sizeof(ok) - 1, "em.csv", "zzz"), RQ_ENOTFOUND);
	CHECK_CONTAINS(rq_error_last(), "em.csv: no run 'zzz' (runs: x,1, y)");
	CHECK_ERR(rq_import_codecarbon(&r, S("run_id,emissions,duration\n1,2,3\n"), "em.csv", NULL),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "em.csv: no 'energy_consumed' column");
	CHECK_ERR(rq_import_codecarbon(&r, S("energy_consumed,emissions,duration\n1,x,3\n"), "em.csv", NULL),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "em.csv: line 2: 'emissions' is not a number >= 0: 'x'");
	CHECK_ERR(rq_import_codecarbon(&r, S("energy_consumed,emissions,duration\n1,,3\n"), "em.csv", NULL),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "em.csv: line 2: 'emissions' is empty");
	CHECK_ERR(rq_import_codecarbon(&r, S("energy_consumed,emissions,duration\n1,2\n3,4,5\n"), "em.csv", NULL),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "em.csv: line 2: 2 fields, the header has 3");
	CHECK_ERR(rq_import_codecarbon(&r, S("energy_consumed,emissions,duration\n"), "em.csv", NULL),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "em.csv: no run in the file");
	CHECK_ERR(rq_import_codecarbon(&r, S(""), "em.csv", NULL), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "em.csv: empty file");
}

TEST(import_nvsmi_integrates)
{
	rq_nvsmi_import r;
	CHECK_OK(rq_import_nvsmi(&r, S("timestamp, name, power.draw [W]\n"
		"2023/03/08 23:59:59.000, G, 10.00 W\n"
		"2023/03/09 00:00:01.000, G, 30.00 W\n"
		"2023/03/09 00:00:02.500, G, [N/A]\n"
		"2023/03/09 00:00:03.000, G, 50.00 W\n"
		"2023/03/09 00:00:04.000, NVIDIA Ge"), "smi.csv"));
	/* (10+30)/2*2 + (30+50)/2*2 */
	CHECK_NEAR(r.joules, 40 + 80, 1e-9);
	CHECK_NEAR(r.duration_s, 4, 1e-9);
	CHECK_INT_EQ(r.nrows, 4);
	CHECK_INT_EQ(r.nskipped, 1);
	CHECK_INT_EQ(r.ngpus, 1);
	CHECK_CONTAINS(r.warnings.ptr, "smi.csv: line 6: incomplete last line skipped");
	CHECK_CONTAINS(r.warnings.ptr, "1 rows without a power reading");
	CHECK_STR_EQ(r.start, "2023/03/08 23:59:59.000");
	rq_nvsmi_import_release(&r);
}

TEST(import_nvsmi_multi_gpu)
{
	rq_nvsmi_import r;
	CHECK_OK(rq_import_nvsmi(&r, S("timestamp, index, power.draw [W]\n"
		"2023/03/08 10:00:00.000, 0, 100 W\n2023/03/08 10:00:00.010, 1, 200 W\n"
		"2023/03/08 10:00:01.000, 0, 100 W\n2023/03/08 10:00:01.010, 1, 200 W\n"), "smi.csv"));
	CHECK_INT_EQ(r.ngpus, 2);
	CHECK_NEAR(r.joules, 300, 1e-9);
	rq_nvsmi_import_release(&r);
	/* no id column: rows sharing a timestamp are different GPUs */
	CHECK_OK(rq_import_nvsmi(&r, S("timestamp,power.draw [W]\n"
		"2023/03/08 10:00:00.000,100\n2023/03/08 10:00:00.000,200\n"
		"2023/03/08 10:00:02.000,100\n2023/03/08 10:00:02.000,200\n"), "smi.csv"));
	CHECK_INT_EQ(r.ngpus, 2);
	CHECK_NEAR(r.joules, 600, 1e-9);
	rq_nvsmi_import_release(&r);
}

TEST(import_nvsmi_errors)
{
	rq_nvsmi_import r;
	CHECK_ERR(rq_import_nvsmi(&r, S("timestamp, name\n2023/03/08 10:00:00.000, G\n"), "smi.csv"),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "smi.csv: no 'power.draw' column");
	CHECK_ERR(rq_import_nvsmi(&r, S("timestamp, power.draw [W]\n2023/13/08 10:00:00.000, 1 W\n2023/03/08 10:00:01.000, 1 W\n"), "smi.csv"),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "smi.csv: line 2: '2023/13/08 10:00:00.000' is not a timestamp");
	CHECK_ERR(rq_import_nvsmi(&r, S("timestamp, power.draw [W]\n2023/03/08 10:00:00.000, 1 kW\n\n"), "smi.csv"),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "smi.csv: line 2: power.draw '1 kW' is not in watts");
	CHECK_ERR(rq_import_nvsmi(&r, S("timestamp, power.draw [W]\n"), "smi.csv"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "smi.csv: no power reading in the file");
	double t;
	CHECK_OK(rq_nvsmi_parse_time(&t, "1970/01/02 00:00:01.5"));
	CHECK_NEAR(t, 86401.5, 1e-9);
	CHECK_ERR(rq_nvsmi_parse_time(&t, "1970/01/02 00:00:01."), RQ_EINVALID);
}

TEST(import_codecarbon_without_run_ids)
{
	rq_cc_import r;
	/* no run id column: every row is a run; a last line cut short is
	 * skipped with a warning */
	CHECK_OK(rq_import_codecarbon(&r, S("energy_consumed,emissions,duration\n1,2,3\n4,5,6\n7,8"), "em.csv",
				      NULL));
	CHECK_INT_EQ(r.n, 2);
	if (r.n == 2) {
		CHECK_NEAR(r.runs[1].energy_kwh, 4, 0);
		CHECK_STR_EQ(r.runs[1].run_id, "");
	}
	CHECK_CONTAINS(r.warnings.ptr, "em.csv: line 4: incomplete last line skipped");
	rq_cc_import_release(&r);
	/* many runs: the array grows past its first allocation */
	rq_buf b = RQ_BUF_INIT;
	rq_buf_puts(&b, "run_id,energy_consumed,emissions,duration\n");
	for (int i = 0; i < 40; i++)
		rq_buf_printf(&b, "r%d,1,1,1\nr%d,2,2,2\n", i, i);
	CHECK_OK(rq_import_codecarbon(&r, b.ptr, b.len, "em.csv", NULL));
	CHECK_INT_EQ(r.n, 40);
	if (r.n == 40) {
		CHECK_STR_EQ(r.runs[39].run_id, "r39");
		CHECK_NEAR(r.runs[39].energy_kwh, 2, 0);
	}
	rq_cc_import_release(&r);
	rq_buf_release(&b);
}

TEST(import_nvsmi_time_and_samples)
{
	rq_nvsmi_import r;
	CHECK_OK(rq_import_nvsmi(&r, S("timestamp, power.draw [W]\n"
		"2023/03/08 10:00:02.000, 10 W\n2023/03/08 10:00:01.000, 10 W\n"
		"2023/03/08 10:00:03.000, 10 W\n"), "smi.csv"));
	CHECK_CONTAINS(r.warnings.ptr, "smi.csv: line 3: time goes backwards; interval skipped");
	CHECK_NEAR(r.joules, 20, 1e-9);
	CHECK_NEAR(r.duration_s, 2, 1e-9);
	rq_nvsmi_import_release(&r);
	CHECK_ERR(rq_import_nvsmi(&r, S("timestamp, power.draw [W]\n2023/03/08 10:00:00.000, 1 W\n"), "smi.csv"),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "smi.csv: a single power sample per GPU");
	CHECK_ERR(rq_import_nvsmi(&r, S("timestamp, power.draw [W]\n2023/03/08 10:00:00.000, 1 W\n"
					"2023/03/08 10:00:00.000, 1 W\n"), "smi.csv"),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "smi.csv: a single power sample per GPU");
	CHECK_ERR(rq_import_nvsmi(&r, S("timestamp, index, power.draw [W]\n2023/03/08 10:00:00.000, 0, 1 W\n"
					"2023/03/08 10:00:00.000, 0, 1 W\n"), "smi.csv"),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "smi.csv: the log spans no time (every sample at 2023/03/08 10:00:00.000)");
	CHECK_ERR(rq_import_nvsmi(&r, S("timestamp, power.draw [W]\n2023/03/08 10:00:00.000\n"
					"2023/03/08 10:00:01.000, 1 W\n"), "smi.csv"),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "smi.csv: line 2: 1 fields, the header has 2");
}

TEST(import_nvsmi_time_variants)
{
	double t, u;
	CHECK_OK(rq_nvsmi_parse_time(&t, "2022/12/05 09:55:42.535"));
	CHECK_OK(rq_nvsmi_parse_time(&u, "2022-12-05 09:55:42.535"));
	CHECK_NEAR(u, t, 0);
	CHECK_OK(rq_nvsmi_parse_time(&u, "2022-12-05T09:55:42.535"));
	CHECK_NEAR(u, t, 0);
	CHECK_OK(rq_nvsmi_parse_time(&u, "2022-12-05T10:55:42.535+01:00"));
	CHECK_NEAR(u, t, 1e-9);
	CHECK_OK(rq_nvsmi_parse_time(&u, "2022-12-05T04:25:42.535-0530"));
	CHECK_NEAR(u, t, 1e-9);
	CHECK_OK(rq_nvsmi_parse_time(&u, "2022-12-05 09:55:42.535 Z"));
	CHECK_NEAR(u, t, 1e-9);
	CHECK_OK(rq_nvsmi_parse_time(&u, "1670234142.535"));
	CHECK_NEAR(u, t, 1e-6);
	CHECK_OK(rq_nvsmi_parse_time(&u, "1670234142535"));
	CHECK_NEAR(u, t, 1e-6);
	CHECK_ERR(rq_nvsmi_parse_time(&u, "2022-12-05T09:55:42+15:00"), RQ_EINVALID);
	CHECK_ERR(rq_nvsmi_parse_time(&u, "2022-12-05T09:55:42+01:0"), RQ_EINVALID);
	CHECK_ERR(rq_nvsmi_parse_time(&u, "2022-12-05T09:55:42 CET"), RQ_EINVALID);
	CHECK_ERR(rq_nvsmi_parse_time(&u, "1e9"), RQ_EINVALID);
	/* elapsed time (ms or s since the start), not a date: refused */
	CHECK_ERR(rq_nvsmi_parse_time(&u, "2000"), RQ_EINVALID);
	CHECK_ERR(rq_nvsmi_parse_time(&u, "946684799.5"), RQ_EINVALID);
	CHECK_OK(rq_nvsmi_parse_time(&u, "946684800"));
	CHECK_ERR(rq_nvsmi_parse_time(&u, "99999999999999"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "the year is outside [1970, 2200]");
	CHECK_ERR(rq_nvsmi_parse_time(&u, ""), RQ_EINVALID);
}

TEST(import_nvsmi_header_variants)
{
	rq_nvsmi_import r;
	CHECK_OK(rq_import_nvsmi(&r, S("Unnamed: 0,Timestamp,GPU Name,GPU Power Draw (W)\n"
				       "0,2023-03-08 10:00:00,G,10\n1,2023-03-08 10:00:02,G,30\n"), "smi.csv"));
	CHECK_NEAR(r.joules, 40, 1e-9);
	CHECK_STR_EQ(r.power_column, "GPU Power Draw (W)");
	CHECK_STR_EQ(r.gpus[0].name, "G");
	CHECK(!r.gpu_ids);
	rq_nvsmi_import_release(&r);
	CHECK_OK(rq_import_nvsmi(&r, S("timestamp,power.draw.instant [W],power.draw.average [W]\n"
				       "2023-03-08 10:00:00,1,10\n2023-03-08 10:00:02,1,30\n"), "smi.csv"));
	CHECK_NEAR(r.joules, 40, 1e-9); /* the average before the instant reading */
	rq_nvsmi_import_release(&r);
	/* an "index" of the row numbers 0, 1, 2: pandas' index, read as such */
	CHECK_OK(rq_import_nvsmi(&r, S("timestamp,index,power_draw\n2023-03-08 10:00:00,0,1\n2023-03-08 10:00:01,1,1\n"
				       "2023-03-08 10:00:02,2,1\n"), "smi.csv"));
	CHECK_NEAR(r.joules, 2, 1e-9);
	CHECK(!r.gpu_ids && r.ngpus == 1);
	CHECK_CONTAINS(r.warnings.ptr, "smi.csv: the GPU id column holds the row numbers 0, 1, 2 ... (a pandas index)");
	rq_nvsmi_import_release(&r);
	CHECK_ERR(rq_import_nvsmi(&r, S("timestamp,index,power_draw\n2023-03-08 10:00:00,1,1\n2023-03-08 10:00:01,2,1\n"
					"2023-03-08 10:00:02,3,1\n"), "smi.csv"),
		  RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "every row has its own GPU id (is the id column row numbers, a pandas index?)");
	CHECK_ERR(rq_import_nvsmi_columns(&r, S("a,b\n1,2\n"), "smi.csv", "b", "c"), RQ_EINVALID);
	CHECK_STR_EQ(rq_error_last(), "smi.csv: no column 'c' (--time-column)");
}

TEST(import_nvsmi_combine)
{
	rq_nvsmi_import p[2], all;
	static const char *const names[] = { "a.csv", "b.csv" };
	/* one GPU in two parts; the second between them counts */
	CHECK_OK(rq_import_nvsmi(&p[0], S("timestamp,power_draw\n2023-03-08 10:00:00,10\n2023-03-08 10:00:01,10\n"), "a.csv"));
	CHECK_OK(rq_import_nvsmi(&p[1], S("timestamp,power_draw\n2023-03-08 10:00:02,30\n2023-03-08 10:00:03,30\n"), "b.csv"));
	CHECK_OK(rq_nvsmi_combine(&all, p, names, 2));
	CHECK_NEAR(all.joules, 10 + 20 + 30, 1e-9);
	CHECK_NEAR(all.duration_s, 3, 1e-9);
	CHECK_INT_EQ(all.ngpus, 1);
	CHECK_INT_EQ(all.nrows, 4);
	CHECK_STR_EQ(all.start, "2023-03-08 10:00:00");
	CHECK_STR_EQ(all.end, "2023-03-08 10:00:03");
	rq_nvsmi_import_release(&all);
	/* in any order */
	rq_nvsmi_import q[2] = { p[1], p[0] };
	static const char *const rnames[] = { "b.csv", "a.csv" };
	CHECK_OK(rq_nvsmi_combine(&all, q, rnames, 2));
	CHECK_NEAR(all.joules, 60, 1e-9);
	rq_nvsmi_import_release(&all);
	rq_nvsmi_import_release(&p[0]);
	rq_nvsmi_import_release(&p[1]);
	/* the same GPU id over the same time: refused */
	CHECK_OK(rq_import_nvsmi(&p[0], S("timestamp,uuid,power_draw\n2023-03-08 10:00:00,G,10\n2023-03-08 10:00:02,G,10\n"), "a.csv"));
	CHECK_OK(rq_import_nvsmi(&p[1], S("timestamp,uuid,power_draw\n2023-03-08 10:00:01,G,10\n2023-03-08 10:00:03,G,10\n"), "b.csv"));
	CHECK_ERR(rq_nvsmi_combine(&all, p, names, 2), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "a.csv and b.csv both hold samples of GPU G over 1.000 s");
	rq_nvsmi_import_release(&p[0]);
	rq_nvsmi_import_release(&p[1]);
}
