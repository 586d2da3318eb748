/* The computation half of the public API as a program linking libresque
 * sees it: fingerprints, arrays, summaries, RESQUE_dist and a forecast,
 * called only through include/resque/ (unit.h supplies the test harness
 * alone), each check against a value computed outside resque. */
#include "resque/array.h"
#include "resque/buf.h" /* rq_buf, RQ_BUF_INIT, rq_buf_release */
#include "resque/error.h"
#include "resque/fingerprint.h"
#include "resque/forecast.h"
#include "resque/measure.h"
#include "resque/summary.h"
#include "unit.h"

/* An .npy v1.0 file of a little-endian 1-D or 2-D array: the header is
 * padded with spaces to a multiple of 64 bytes and ends in '\n'. */
static char *write_npy(const char *dir, const char *name, const char *descr, size_t rows,
		       size_t cols, const void *data, size_t len)
{
	unsigned char file[512];
	char dict[128];
	int dn;
	if (cols)
		dn = snprintf(dict, sizeof(dict), "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }",
			      descr, rows, cols);
	else
		dn = snprintf(dict, sizeof(dict), "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,), }",
			      descr, rows);
	size_t hlen = (size_t)dn + 1, pad = (64 - (10 + hlen) % 64) % 64;
	hlen += pad;
	if (10 + hlen + len > sizeof(file)) {
		unit_fail(__FILE__, __LINE__, "%s: too large for the test's buffer", name);
		len = 0;
	}
	memcpy(file, "\x93NUMPY\x01\x00", 8);
	file[8] = (unsigned char)(hlen & 0xff);
	file[9] = (unsigned char)(hlen >> 8);
	memcpy(file + 10, dict, (size_t)dn);
	memset(file + 10 + dn, ' ', pad);
	file[10 + hlen - 1] = '\n';
	memcpy(file + 10 + hlen, data, len);
	return unit_write_file(dir, name, file, 10 + hlen + len);
}

TEST(public_fingerprint_bytes_and_file)
{
	char fp[RQ_FINGERPRINT_SIZE], again[RQ_FINGERPRINT_SIZE];
	uint8_t hash[RQ_HASH_LEN];
	const char text[] = "hello resque\n";
	/* `printf abc | b2sum -l 256` and `printf 'hello resque\n' | b2sum -l 256` */
	const char *abc = "b2:bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319";
	const char *hello = "b2:ecd2cd681fd840913491e1ff2a9c199577244aba6bcad9a28cb29f855b15e0df";

	rq_fingerprint_bytes(fp, "abc", 3);
	CHECK_STR_EQ(fp, abc);
	CHECK_OK(rq_fingerprint_parse(hash, fp));
	rq_fingerprint_format(again, hash);
	CHECK_STR_EQ(again, abc);
	CHECK_ERR(rq_fingerprint_parse(hash, "b2:xyz"), RQ_EINVALID);

	char *path = unit_write_file(unit_tmpdir(), "hello.txt", text, sizeof(text) - 1);
	rq_fp_result r;
	rq_fp_result_init(&r);
	CHECK_OK(rq_fingerprint_path(&r, path, NULL));
	CHECK_STR_EQ(r.fingerprint, hello);
	CHECK(!r.is_dir);
	CHECK_INT_EQ(r.files, 1);
	CHECK_INT_EQ(r.bytes, sizeof(text) - 1);
	rq_fp_result_release(&r);
	free(path);

	rq_fp_result_init(&r);
	CHECK_ERR(rq_fingerprint_path(&r, "/nonexistent/resque-public-test", NULL), RQ_ENOTFOUND);
	CHECK_CONTAINS(rq_error_last(), "/nonexistent/resque-public-test");
	rq_fp_result_release(&r);
}

/* Four rows in 2-D, classes 7 and 3: class 7 sums to (2, 0), class 3 to
 * (1, 1). */
static const float emb_old[] = { 1, 0, 1, 0, 0.5f, 0.5f, 0.5f, 0.5f };
static const int64_t lab_old[] = { 7, 7, 3, 3 };

TEST(public_array_summary_and_dist)
{
	const char *dir = unit_tmpdir();
	char *ep = write_npy(dir, "emb.npy", "<f4", 4, 2, emb_old, sizeof(emb_old));
	char *lp = write_npy(dir, "labels.npy", "<i8", 4, 0, lab_old, sizeof(lab_old));
	rq_array *emb = NULL, *lab = NULL;
	rq_summary *old_s = NULL, *back = NULL, *new_s = NULL;
	rq_buf enc = RQ_BUF_INIT, enc2 = RQ_BUF_INIT;
	rq_dist d;

	rq_dist_init(&d);
	CHECK_OK(rq_array_open_pair(&emb, &lab, ep, lp, NULL));
	if (!emb || !lab)
		goto done;
	CHECK_INT_EQ(rq_array_rows(emb), 4);
	CHECK_INT_EQ(rq_array_cols(emb), 2);
	CHECK(rq_array_dtype(emb) == RQ_DT_F32);
	CHECK(rq_array_dtype(lab) == RQ_DT_I64);
	CHECK_STR_EQ(rq_array_name(emb), ep);

	CHECK_OK(rq_summary_from_arrays(&old_s, emb, lab, 1));
	if (!old_s)
		goto done;
	CHECK_INT_EQ(old_s->n, 4);
	CHECK_INT_EQ(old_s->k, 2);
	long c7 = rq_summary_find(old_s, 7), c3 = rq_summary_find(old_s, 3);
	CHECK(c7 >= 0 && c3 >= 0 && rq_summary_find(old_s, 5) == -1);
	if (c7 < 0 || c3 < 0)
		goto done;
	CHECK_INT_EQ(old_s->counts[c7], 2);
	CHECK_NEAR(old_s->sums[(size_t)c7 * 2 + 0], 2.0, 0);
	CHECK_NEAR(old_s->sums[(size_t)c3 * 2 + 1], 1.0, 0);

	/* .rqs: header, 2 classes of (label, count, 2 sums), checksum */
	CHECK_OK(rq_summary_encode(&enc, old_s));
	CHECK_INT_EQ(enc.len, RQ_SUMMARY_HEADER_LEN + 2 * (8 + 8 + 2 * 8) + RQ_SUMMARY_HASH_LEN);
	CHECK(enc.len >= 8 && memcmp(enc.ptr, RQ_SUMMARY_MAGIC, 8) == 0);
	CHECK_OK(rq_summary_decode(&back, enc.ptr, enc.len, "old.rqs"));
	if (!back)
		goto done;
	CHECK_OK(rq_summary_encode(&enc2, back));
	CHECK(enc2.len == enc.len && memcmp(enc.ptr, enc2.ptr, enc.len) == 0);
	enc.ptr[RQ_SUMMARY_HEADER_LEN] ^= 1; /* a label byte: the checksum catches it */
	rq_summary *bad = NULL;
	CHECK_ERR(rq_summary_decode(&bad, enc.ptr, enc.len, "old.rqs"), RQ_EINTEGRITY);
	CHECK(bad == NULL);
	CHECK_CONTAINS(rq_error_last(), "old.rqs");

	/* The new side: class 7 turned by 90 degrees to (0, 2), class 3 kept:
	 * angles 0.5 and 0 (radians / pi), RESQUE_dist their mean 0.25. */
	const double x[] = { 0, 2, 1, 1 };
	const int64_t y[] = { 7, 3 };
	CHECK_OK(rq_summary_new(&new_s, 2, 1));
	if (!new_s)
		goto done;
	CHECK_OK(rq_summary_add_f64(new_s, x, y, 2));
	CHECK_OK(rq_dist_compute(&d, old_s, new_s));
	CHECK_NEAR(d.value, 0.25, 1e-12);
	CHECK_INT_EQ(d.nclasses, 2);
	if (d.nclasses == 2) {
		CHECK_INT_EQ(d.classes[0].label, 7); /* largest angle first */
		CHECK_NEAR(d.classes[0].angle, 0.5, 1e-12);
		CHECK_NEAR(d.classes[1].angle, 0.0, 1e-7);
	}
	CHECK_INT_EQ(d.nold_only + d.nnew_only + d.nzero, 0);
	rq_dist_release(&d);

	/* different dimensions are refused */
	rq_summary *wide = NULL;
	CHECK_OK(rq_summary_new(&wide, 3, 1));
	CHECK_ERR(rq_dist_compute(&d, old_s, wide), RQ_EINVALID);
	rq_summary_free(wide);
done:
	rq_dist_release(&d);
	rq_buf_release(&enc);
	rq_buf_release(&enc2);
	rq_summary_free(old_s);
	rq_summary_free(back);
	rq_summary_free(new_s);
	rq_array_free(emb);
	rq_array_free(lab);
	free(ep);
	free(lp);
}

TEST(public_forecast_cold_start)
{
	rq_forecast_input in;
	rq_forecast f;
	memset(&in, 0, sizeof(in));
	in.kind = &rq_shift_dist;
	in.index = 0.125;
	in.train_size = NAN;
	in.scratch_epochs = 100; /* E0: no history, the cold-start prior */
	in.intensity = NAN;
	in.pue = NAN;
	CHECK_OK(rq_forecast_compute(&f, &in));
	CHECK(f.epochs.known && f.prior_only);
	CHECK_STR_EQ(rq_calibration_name(f.cal_epochs.source), "prior");
	/* the prior scales E0 by R / R_full (dist: 0.5) */
	CHECK_NEAR(f.epochs.mean, 100 * 0.125 / rq_shift_dist.r_full, 1e-12);
	CHECK(f.epochs.p10 < f.epochs.mean && f.epochs.mean < f.epochs.p90);
	CHECK(!f.energy_kwh.known); /* no trace nor history of energy */

	in.index = -0.1;
	CHECK_ERR(rq_forecast_compute(&f, &in), RQ_EINVALID);
}
