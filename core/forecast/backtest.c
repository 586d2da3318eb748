/* Replaying a lineage's history through the forecaster, each update
 * forecast from the ones before it (backtest.h; docs/METHOD.md). */
#include "common.h"
#include "backtest.h"

#include <math.h>

const char *rq_backtest_outcome(int outcome)
{
	static const char *const names[RQ_BT_OUTCOMES] = { "epochs", "energy_kwh", "duration_s",
							   "param_change", "grad_norm" };
	return outcome >= 0 && outcome < RQ_BT_OUTCOMES ? names[outcome] : "?";
}

struct ordered {
	size_t i;
	uint64_t order;
};

static int by_order(const void *x, const void *y)
{
	const struct ordered *a = x, *b = y;
	if (a->order != b->order)
		return (a->order > b->order) - (a->order < b->order);
	return (a->i > b->i) - (a->i < b->i);
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

/* The input of step `p`: what was known before point p. */
static void step_input(rq_forecast_input *out, const rq_forecast_input *in, const struct rq_history_point *p,
		       struct rq_history_point *hist, struct rq_epoch_trace *tr)
{
	*out = *in;
	out->history = hist;
	out->traces = tr;
	out->n_history = out->n_traces = 0;
	for (size_t i = 0; i < in->n_history; i++)
		if (in->history[i].known_at < p->order)
			hist[out->n_history++] = in->history[i];
	for (size_t i = 0; i < in->n_traces; i++)
		if (in->traces[i].order < p->order)
			tr[out->n_traces++] = in->traces[i];
	out->index = p->index;
	out->family = p->family;
	out->hardware = p->hardware;
	out->train_size = p->train_size;
}

static void run_step(rq_backtest_step *s, const rq_forecast_input *in, size_t i,
		     struct rq_history_point *hist, struct rq_epoch_trace *tr)
{
	const struct rq_history_point *p = &in->history[i];
	rq_forecast_input sin;

	s->point = i;
	step_input(&sin, in, p, hist, tr);
	s->actual[RQ_BT_EPOCHS] = p->epochs;
	s->actual[RQ_BT_ENERGY] = p->energy_kwh;
	s->actual[RQ_BT_DURATION] = p->duration_s;
	s->actual[RQ_BT_PARAM] = p->param_change;
	s->actual[RQ_BT_GRAD] = p->grad_norm;
	s->forecast = rq_forecast_compute(&s->f, &sin) == 0;
	if (!s->forecast)
		snprintf(s->message, sizeof(s->message), "%s", rq_error_last());
	rq_error_clear();
	s->q[RQ_BT_EPOCHS] = &s->f.epochs;
	s->q[RQ_BT_ENERGY] = &s->f.energy_kwh;
	s->q[RQ_BT_DURATION] = &s->f.duration_s;
	s->q[RQ_BT_PARAM] = &s->f.param_change;
	s->q[RQ_BT_GRAD] = &s->f.grad_norm;
}

/* The same figures as the report's "forecast quality": median APE over
 * actuals > 0, coverage of both intervals; runs that missed their target
 * are counted apart. */
static void summarise(rq_backtest *bt, const rq_forecast_input *in, const bool *counts)
{
	double *ape = rq_xcalloc(bt->n_steps + 1, sizeof(double));

	for (int o = 0; o < RQ_BT_OUTCOMES; o++) {
		rq_backtest_quality *q = &bt->quality[o];
		memset(q, 0, sizeof(*q));
		for (size_t k = 0; k < bt->n_steps; k++) {
			const rq_backtest_step *s = &bt->steps[k];
			double a = s->actual[o];
			if (!counts[k] || !s->forecast || !s->q[o]->known || !isfinite(a))
				continue;
			if (in->history[s->point].censored) {
				q->censored++;
				continue;
			}
			q->n++;
			q->in80 += a >= s->q[o]->p10 && a <= s->q[o]->p90;
			q->in95 += a >= s->q[o]->p2_5 && a <= s->q[o]->p97_5;
			if (a > 0)
				ape[q->n_ape++] = 100 * fabs(a - s->q[o]->p50) / a;
		}
		q->median_ape = NAN;
		if (q->n_ape) {
			qsort(ape, q->n_ape, sizeof(double), cmp_double);
			q->median_ape = q->n_ape % 2 ? ape[q->n_ape / 2]
						     : 0.5 * (ape[q->n_ape / 2 - 1] + ape[q->n_ape / 2]);
		}
	}
	free(ape);
}

void rq_backtest_run(rq_backtest *out, const rq_forecast_input *in, uint64_t from)
{
	struct ordered *ord = rq_xcalloc(in->n_history + 1, sizeof(*ord));
	struct rq_history_point *hist = rq_xcalloc(in->n_history + 1, sizeof(*hist));
	struct rq_epoch_trace *tr = rq_xcalloc(in->n_traces + 1, sizeof(*tr));
	bool *counts;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < in->n_history; i++) {
		const struct rq_history_point *p = &in->history[i];
		if (p->kind && in->kind && strcmp(p->kind->name, in->kind->name) == 0 && isfinite(p->index))
			ord[n++] = (struct ordered){ i, p->order };
	}
	qsort(ord, n, sizeof(*ord), by_order);
	out->steps = rq_xcalloc(n + 1, sizeof(*out->steps));
	counts = rq_xcalloc(n + 1, sizeof(bool));
	for (size_t k = 0; k < n; k++) {
		run_step(&out->steps[k], in, ord[k].i, hist, tr);
		counts[k] = ord[k].order >= from;
	}
	out->n_steps = n;
	summarise(out, in, counts);
	free(counts);
	free(ord);
	free(hist);
	free(tr);
}

void rq_backtest_release(rq_backtest *bt)
{
	free(bt->steps);
	memset(bt, 0, sizeof(*bt));
}
