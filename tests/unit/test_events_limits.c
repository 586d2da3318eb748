/* Unit tests of the RESQUE_EVENTS limits (issue 11 item 9): past a
 * million lines, later epoch marks are never lost and what was dropped
 * is reported. */
#include "unit.h"
#include "events.h"

static void feed_n(rq_events *e, const char *line, size_t n, double t)
{
	rq_buf b = RQ_BUF_INIT;
	size_t len = strlen(line);
	for (size_t i = 0; i < n; i++)
		rq_buf_put(&b, line, len);
	rq_events_feed(e, b.ptr, b.len, t);
	rq_buf_release(&b);
}

static long last_epoch(const rq_events *e, double *t)
{
	long last = 0;
	for (size_t i = 0; i < rq_events_count(e); i++) {
		const rq_event *ev = rq_events_get(e, i);
		if (ev->type == RQ_EVENT_EPOCH) {
			last = ev->epoch;
			*t = ev->t;
		}
	}
	return last;
}

TEST(events_metrics_past_limit_keep_later_epochs)
{
	rq_events *e = NULL;
	rq_buf notes = RQ_BUF_INIT;
	double t = 0;
	CHECK_OK(rq_events_open(&e, NULL));
	feed_n(e, "epoch\n", 1, 1);
	feed_n(e, "metric loss 0.5\n", RQ_EVENTS_MAX + 100000, 2);
	feed_n(e, "epoch 7\n", 1, 3);
	CHECK_INT_EQ(last_epoch(e, &t), 7);
	CHECK_NEAR(t, 3, 0);
	CHECK_INT_EQ(rq_events_count(e), RQ_EVENTS_MAX + 2);
	rq_events_notes(&notes, e);
	CHECK_CONTAINS(notes.ptr, "100000 metric lines past the limit of 1000000 were not recorded");
	CHECK_CONTAINS(rq_events_warnings(e), "more than 1000000 metrics");
	rq_buf_release(&notes);
	rq_events_free(e);
}

TEST(events_epochs_past_limit_merge_into_the_last)
{
	rq_events *e = NULL;
	rq_buf notes = RQ_BUF_INIT;
	double t = 0;
	CHECK_OK(rq_events_open(&e, NULL));
	feed_n(e, "epoch\n", RQ_EVENTS_MAX_EPOCHS, 1);
	feed_n(e, "epoch\n", 100000, 2);
	feed_n(e, "metric acc 0.9\n", 1, 2.5);
	feed_n(e, "epoch\n", 1, 3);
	CHECK_INT_EQ(last_epoch(e, &t), RQ_EVENTS_MAX_EPOCHS + 100001);
	CHECK_NEAR(t, 3, 0);
	CHECK_INT_EQ(rq_events_count(e), RQ_EVENTS_MAX_EPOCHS + 1);
	rq_events_notes(&notes, e);
	CHECK_CONTAINS(notes.ptr, "100001 epoch marks past the limit of 1000000 were merged into the last epoch");
	rq_buf_release(&notes);
	rq_events_free(e);
}

TEST(events_within_limits_no_notes)
{
	rq_events *e = NULL;
	rq_buf notes = RQ_BUF_INIT;
	CHECK_OK(rq_events_open(&e, NULL));
	feed_n(e, "epoch\nmetric a 1\n", 1000, 1);
	rq_events_notes(&notes, e);
	CHECK_STR_EQ(notes.ptr, "");
	rq_buf_release(&notes);
	rq_events_free(e);
}
