/* Unit tests of the RESQUE_EVENTS protocol: parsing, partial lines, the
 * tail of a growing file, per-epoch energy. */
#include "unit.h"
#include "events.h"

TEST(events_parse_lines)
{
	rq_events *e = NULL;
	CHECK_OK(rq_events_open(&e, NULL));
	const char text[] = "# start\nepoch\nmetric grad_norm 1.75\r\n\n  epoch   5 \n"
			    "metric acc 0.9\nbogus 1\nepoch 3\nepoch x\nmetric bad!name 1\n"
			    "metric loss nan\nmetric loss\nepoch\n";
	rq_events_feed(e, text, sizeof(text) - 1, 2.5);
	CHECK_INT_EQ(rq_events_count(e), 5);
	const rq_event *ev = rq_events_get(e, 0);
	CHECK_INT_EQ(ev->type, RQ_EVENT_EPOCH);
	CHECK_INT_EQ(ev->epoch, 1);
	CHECK_NEAR(ev->t, 2.5, 0);
	ev = rq_events_get(e, 1);
	CHECK_INT_EQ(ev->type, RQ_EVENT_METRIC);
	CHECK_STR_EQ(ev->name, "grad_norm");
	CHECK_NEAR(ev->value, 1.75, 0);
	CHECK_INT_EQ(ev->epoch, 1);
	CHECK_INT_EQ(rq_events_get(e, 2)->epoch, 5);
	CHECK_INT_EQ(rq_events_get(e, 3)->epoch, 5);
	CHECK_INT_EQ(rq_events_get(e, 4)->epoch, 6);
	const char *w = rq_events_warnings(e);
	CHECK_CONTAINS(w, "events: line 7: unknown event 'bogus'");
	CHECK_CONTAINS(w, "events: line 8: epoch 3 after epoch 5, ignored");
	CHECK_CONTAINS(w, "events: line 9: 'x' is not an epoch number");
	CHECK_CONTAINS(w, "events: line 10: 'bad!name' is not a metric name");
	CHECK_CONTAINS(w, "events: line 11: 'nan' is not a finite number");
	CHECK_CONTAINS(w, "events: line 12: 'metric' needs a name and a value");
	rq_events_free(e);
}

TEST(events_partial_and_long_lines)
{
	rq_events *e = NULL;
	CHECK_OK(rq_events_open(&e, NULL));
	rq_events_feed(e, "ep", 2, 1.0);
	CHECK_INT_EQ(rq_events_count(e), 0);
	rq_events_feed(e, "och\nmetric a 1", 14, 2.0);
	CHECK_INT_EQ(rq_events_count(e), 1);
	CHECK_NEAR(rq_events_get(e, 0)->t, 2.0, 0);
	char *big = rq_xmalloc(RQ_EVENTS_MAX_LINE + 10);
	memset(big, 'x', RQ_EVENTS_MAX_LINE + 10);
	rq_events_feed(e, "\n", 1, 3.0);
	rq_events_feed(e, big, RQ_EVENTS_MAX_LINE + 10, 3.0);
	rq_events_feed(e, "\nepoch\nmetric b 2", 17, 4.0);
	CHECK_OK(rq_events_finish(e, 5.0));
	CHECK_INT_EQ(rq_events_count(e), 4);
	CHECK_CONTAINS(rq_events_warnings(e), "line 3: longer than 4096 bytes, skipped");
	CHECK_NEAR(rq_events_get(e, 3)->t, 5.0, 0);
	CHECK_STR_EQ(rq_events_get(e, 3)->name, "b");
	free(big);
	rq_events_free(e);
}

TEST(events_tail_file)
{
	const char *dir = unit_tmpdir();
	rq_buf path = RQ_BUF_INIT;
	rq_buf_printf(&path, "%s/events", dir);
	rq_events *e = NULL;
	CHECK_OK(rq_events_open(&e, path.ptr));
	CHECK_OK(rq_events_poll(e, 0.5)); /* not there yet */
	FILE *f = fopen(path.ptr, "a");
	fputs("epoch 1\nmetric gr", f);
	fflush(f);
	CHECK_OK(rq_events_poll(e, 1.0));
	CHECK_INT_EQ(rq_events_count(e), 1);
	fputs("ad_norm 3\nepoch\n", f);
	fclose(f);
	CHECK_OK(rq_events_poll(e, 2.0));
	CHECK_OK(rq_events_finish(e, 3.0));
	CHECK_INT_EQ(rq_events_count(e), 3);
	CHECK_STR_EQ(rq_events_get(e, 1)->name, "grad_norm");
	CHECK_NEAR(rq_events_get(e, 1)->t, 2.0, 0);
	CHECK_INT_EQ(rq_events_get(e, 2)->epoch, 2);
	rq_events_free(e);
	rq_buf_release(&path);
}

TEST(events_epoch_energy)
{
	/* 100 W from t=0 to 10 s, then 200 W to 20 s */
	rq_energy_point tl[] = { { 0, 0 }, { 5, 500 }, { 10, 1000 }, { 15, 2000 }, { 20, 3000 } };
	CHECK_NEAR(rq_energy_at(tl, 5, -1), 0, 0);
	CHECK_NEAR(rq_energy_at(tl, 5, 2.5), 250, 1e-9);
	CHECK_NEAR(rq_energy_at(tl, 5, 12), 1400, 1e-9);
	CHECK_NEAR(rq_energy_at(tl, 5, 99), 3000, 0);
	CHECK_NEAR(rq_energy_at(tl, 0, 3), 0, 0);
	rq_events *e = NULL;
	rq_events_open(&e, NULL);
	rq_events_feed(e, "epoch\n", 6, 4);
	rq_events_feed(e, "metric x 1\nepoch\n", 17, 12);
	rq_events_feed(e, "epoch\n", 6, 18);
	double *j = NULL, tail = -1, stable = 0;
	size_t n = 0;
	CHECK_OK(rq_events_epoch_energy(&j, &n, &tail, e, tl, 5));
	CHECK_INT_EQ(n, 3);
	if (n == 3) {
		CHECK_NEAR(j[0], 400, 1e-9);
		CHECK_NEAR(j[1], 1000, 1e-9);
		CHECK_NEAR(j[2], 1200, 1e-9);
		CHECK_NEAR(tail, 400, 1e-9);
		CHECK_OK(rq_epoch_energy_stable(&stable, j, n));
		CHECK_NEAR(stable, 1100, 1e-9);
	}
	CHECK_ERR(rq_epoch_energy_stable(&stable, j, 0), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "no epoch was marked");
	free(j);
	rq_events_free(e);
}

TEST(events_target)
{
	rq_events *e = NULL;
	CHECK_OK(rq_events_open(&e, NULL));
	CHECK_INT_EQ(rq_events_target(e), RQ_TARGET_UNKNOWN);
	const char text[] = "epoch\ntarget missed\ntarget maybe\ntarget\ntarget missed now\n";
	rq_events_feed(e, text, sizeof(text) - 1, 1.0);
	CHECK_INT_EQ(rq_events_target(e), RQ_TARGET_MISSED);
	CHECK_INT_EQ(rq_events_count(e), 1); /* a target line is not an event of the list */
	const char *w = rq_events_warnings(e);
	CHECK_CONTAINS(w, "events: line 3: 'target' takes one word: reached or missed");
	CHECK_CONTAINS(w, "events: line 4: 'target' takes one word");
	CHECK_CONTAINS(w, "events: line 5: 'target' takes one word");
	rq_events_feed(e, "\ttarget  reached\r\n", 18, 2.0); /* the last one wins */
	CHECK_INT_EQ(rq_events_target(e), RQ_TARGET_REACHED);
	rq_events_feed(e, "target missed", 13, 3.0);
	CHECK_OK(rq_events_finish(e, 4.0));
	CHECK_INT_EQ(rq_events_target(e), RQ_TARGET_MISSED);
	CHECK_STR_EQ(rq_target_name(RQ_TARGET_MISSED), "missed");
	CHECK_STR_EQ(rq_target_name(RQ_TARGET_REACHED), "reached");
	CHECK(rq_target_name(RQ_TARGET_UNKNOWN) == NULL);
	CHECK_INT_EQ(rq_target_parse("Missed"), RQ_TARGET_UNKNOWN);
	rq_events_free(e);
}

TEST(events_status)
{
	rq_events *e = NULL;
	CHECK_OK(rq_events_open(&e, NULL));
	CHECK_INT_EQ(rq_events_status(e), RQ_RUN_STATUS_UNKNOWN);
	const char text[] = "epoch\nstatus failed\nstatus maybe\nstatus\nstatus failed now\nstatus Succeeded\n";
	rq_events_feed(e, text, sizeof(text) - 1, 1.0);
	CHECK_INT_EQ(rq_events_status(e), RQ_RUN_STATUS_FAILED);
	CHECK_INT_EQ(rq_events_count(e), 1); /* a status line is not an event of the list */
	const char *w = rq_events_warnings(e);
	CHECK_CONTAINS(w, "events: line 3: 'status' takes one word: failed or succeeded");
	CHECK_CONTAINS(w, "events: line 4: 'status' takes one word");
	CHECK_CONTAINS(w, "events: line 5: 'status' takes one word");
	CHECK_CONTAINS(w, "events: line 6: 'status' takes one word");
	rq_events_feed(e, "\tstatus  succeeded\r\n", 20, 2.0); /* the last one wins */
	CHECK_INT_EQ(rq_events_status(e), RQ_RUN_STATUS_SUCCEEDED);
	CHECK_INT_EQ(rq_events_target(e), RQ_TARGET_UNKNOWN); /* status and target are apart */
	rq_events_feed(e, "status failed", 13, 3.0);
	CHECK_INT_EQ(rq_events_status(e), RQ_RUN_STATUS_SUCCEEDED); /* no newline yet */
	CHECK_OK(rq_events_finish(e, 4.0));
	CHECK_INT_EQ(rq_events_status(e), RQ_RUN_STATUS_FAILED);
	CHECK_STR_EQ(rq_run_status_name(RQ_RUN_STATUS_FAILED), "failed");
	CHECK_STR_EQ(rq_run_status_name(RQ_RUN_STATUS_SUCCEEDED), "succeeded");
	CHECK(rq_run_status_name(RQ_RUN_STATUS_UNKNOWN) == NULL);
	CHECK_INT_EQ(rq_run_status_parse("Failed"), RQ_RUN_STATUS_UNKNOWN);
	CHECK_INT_EQ(rq_run_status_parse(NULL), RQ_RUN_STATUS_UNKNOWN);
	rq_events_free(e);
}
