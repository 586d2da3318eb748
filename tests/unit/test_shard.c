/* Unit tests of sharded RESQUE_task (core/measure/shard.c, partial.c): the
 * library driven over shards equals rq_task_compute on the whole data; the
 * .rqp encoding round-trips and refuses damage; the contingency-table ARI
 * equals rq_ari; the shard checks compare multisets: a shard may repeat
 * as often as the state holds it, not more; the content checksum refuses
 * a step of another shard of the same identity; result refuses a table
 * that contradicts the class counts. */
#include "unit.h"
#include "resque/array.h"
#include "resque/measure.h"
#include "resque/shard.h"
#include "kmeans.h"

#include <sodium.h>

enum { N = 700, D = 6, K = 4, NSHARDS = 3 };
static const size_t cuts[NSHARDS + 1] = { 0, 1, 330, N };
/* Stand-ins for the content fingerprints of shard i's two files. */
static const char *fp_of[NSHARDS] = {
	"b2:0000000000000000000000000000000000000000000000000000000000000000",
	"b2:0000000000000000000000000000000000000000000000000000000000000001",
	"b2:0000000000000000000000000000000000000000000000000000000000000002",
};

static uint64_t fx_state = 7;
static double fx_uniform(void)
{
	fx_state = fx_state * 6364136223846793005u + 1442695040888963407u;
	return (double)(fx_state >> 11) * 0x1.0p-53;
}

/* Overlapping clusters; the second shard has no label 30. */
static void fixture(float *x, int64_t *y)
{
	for (size_t i = 0; i < N; i++) {
		int64_t c = (int64_t)(fx_uniform() * K);
		if (i >= cuts[1] && i < cuts[2] && c == 3)
			c = 1;
		y[i] = c * 10;
		for (size_t j = 0; j < D; j++)
			x[i * D + j] = (float)(fx_uniform() * 2 - 1 + (double)c * 0.4 * (j == (size_t)c));
	}
}

/* A .npy of n rows (`cols` 0: 1-D) with descr `descr` and raw data. */
static void npy(rq_buf *b, const char *descr, size_t n, size_t cols, const void *data, size_t len)
{
	rq_buf h = RQ_BUF_INIT;
	if (cols)
		rq_buf_printf(&h, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }", descr, n, cols);
	else
		rq_buf_printf(&h, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,), }", descr, n);
	while ((10 + h.len + 1) % 64)
		rq_buf_putc(&h, ' ');
	rq_buf_putc(&h, '\n');
	rq_buf_put(b, "\x93NUMPY\x01\x00", 8);
	uint8_t hl[2] = { (uint8_t)h.len, (uint8_t)(h.len >> 8) };
	rq_buf_put(b, hl, 2);
	rq_buf_put(b, h.ptr, h.len);
	rq_buf_put(b, data, len);
	rq_buf_release(&h);
}

struct shard {
	rq_buf eb, lb;
	rq_array *emb, *lab;
};

static void open_shards(struct shard *s, const float *x, const int64_t *y)
{
	for (size_t i = 0; i < NSHARDS; i++) {
		size_t n = cuts[i + 1] - cuts[i];
		rq_buf_init(&s[i].eb);
		rq_buf_init(&s[i].lb);
		npy(&s[i].eb, "<f4", n, D, x + cuts[i] * D, n * D * sizeof(float));
		npy(&s[i].lb, "<i8", n, 0, y + cuts[i], n * sizeof(int64_t));
		CHECK_OK(rq_array_open_buffer(&s[i].emb, s[i].eb.ptr, s[i].eb.len, "emb.npy", NULL));
		CHECK_OK(rq_array_open_buffer(&s[i].lab, s[i].lb.ptr, s[i].lb.len, "lab.npy", NULL));
	}
}

static void close_shards(struct shard *s)
{
	for (size_t i = 0; i < NSHARDS; i++) {
		rq_array_free(s[i].emb);
		rq_array_free(s[i].lab);
		rq_buf_release(&s[i].eb);
		rq_buf_release(&s[i].lb);
	}
}

static void state_id(uint8_t id[32], const rq_partial *state)
{
	rq_buf b = RQ_BUF_INIT;
	rq_partial_encode(&b, state);
	crypto_generichash(id, 32, (const unsigned char *)b.ptr, b.len, NULL, 0);
	rq_buf_release(&b);
}

/* One map step over every shard, merged in order and checked. */
static rq_partial *map_all(const rq_partial *state, struct shard *s, int32_t *asg, bool final,
			   bool with_previous)
{
	uint8_t id[32];
	rq_partial *parts[NSHARDS] = { NULL };
	const char *names[NSHARDS] = { "a", "b", "c" };
	state_id(id, state);
	for (size_t i = 0; i < NSHARDS; i++)
		CHECK_OK(rq_shard_step(&parts[i], state, id, "state", s[i].emb, s[i].lab,
				       with_previous ? asg + cuts[i] : NULL, asg + cuts[i], final,
				       fp_of[i], fp_of[i], 1));
	CHECK_OK(rq_shard_check(state, id, "state", parts, names, NSHARDS,
				final ? RQ_PARTIAL_FINAL : RQ_PARTIAL_STEP));
	for (size_t i = 1; i < NSHARDS; i++) {
		CHECK_OK(rq_partial_merge(parts[0], parts[i], names[i]));
		rq_partial_free(parts[i]);
	}
	return parts[0];
}

TEST(shard_task_equals_single_machine)
{
	static float x[N * D];
	static int64_t y[N];
	static int32_t asg[N];
	struct shard s[NSHARDS];
	rq_partial *stats = NULL, *part = NULL, *state = NULL;
	rq_task t;
	rq_task_opts o = { 0 };
	rq_rows rows;

	fixture(x, y);
	o.nthreads = 1;
	rq_rows_from_f32(&rows, x, N, D);
	CHECK_OK(rq_task_compute(&t, &rows, y, &o, "whole"));
	open_shards(s, x, y);
	for (size_t i = 0; i < NSHARDS; i++) {
		CHECK_OK(rq_shard_stats(i ? &part : &stats, s[i].emb, s[i].lab, fp_of[i], fp_of[i]));
		if (i) {
			CHECK_OK(rq_partial_merge(stats, part, "stats"));
			rq_partial_free(part);
		}
	}
	CHECK_INT_EQ(stats->k, K);
	CHECK_OK(rq_shard_init(&state, stats, 0, 0, "stats"));
	for (bool first = true; !state->done; first = false) {
		part = map_all(state, s, asg, false, !first);
		CHECK(first ? part->changed == RQ_PARTIAL_CHANGED_UNKNOWN : part->changed <= N);
		CHECK_OK(rq_shard_update(state, part, "state"));
		rq_partial_free(part);
	}
	part = map_all(state, s, asg, true, false);
	double ari = -1;
	CHECK_OK(rq_shard_ari(&ari, state, part, "state", "final"));
	CHECK(ari == t.ari);
	/* a forged table: one row moved between cells of two classes */
	size_t last = part->ncells - 1;
	CHECK(part->cells[0].cls != part->cells[last].cls && part->cells[0].count > 1);
	part->cells[0].count--;
	part->cells[last].count++;
	CHECK_ERR(rq_shard_ari(&ari, state, part, "state", "f.rqp"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "f.rqp: the table has ");
	CHECK_CONTAINS(rq_error_last(), " rows of label 0, the stats counted ");
	CHECK_CONTAINS(rq_error_last(), " (state): a final partial is forged or inconsistent");
	part->cells[0].count++;
	part->cells[last].count--;
	CHECK_OK(rq_shard_ari(&ari, state, part, "state", "final"));
	CHECK_INT_EQ(state->iteration, t.iterations);
	CHECK(memcmp(asg, t.assignment, sizeof(asg)) == 0);
	CHECK(t.iterations > 2);
	/* a done state is refused by update */
	CHECK_ERR(rq_shard_update(state, part, "state"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "state: the state is done");
	rq_partial_free(part);
	rq_partial_free(state);
	rq_partial_free(stats);
	rq_task_release(&t);
	close_shards(s);
}

TEST(shard_partial_roundtrip_and_damage)
{
	static float x[N * D];
	static int64_t y[N];
	struct shard s[NSHARDS];
	rq_partial *stats = NULL, *state = NULL, *step = NULL, *back = NULL;
	uint8_t id[32];

	fx_state = 11;
	fixture(x, y);
	open_shards(s, x, y);
	CHECK_OK(rq_shard_stats(&stats, s[2].emb, s[2].lab, fp_of[0], fp_of[0]));
	CHECK_OK(rq_shard_init(&state, stats, 5, 1e-3, "stats"));
	state_id(id, state);
	CHECK_OK(rq_shard_step(&step, state, id, "state", s[1].emb, s[1].lab, NULL, NULL, false, NULL,
			       NULL, 1));
	rq_partial *all[3] = { stats, state, step };
	for (size_t i = 0; i < 3; i++) {
		rq_buf a = RQ_BUF_INIT, b = RQ_BUF_INIT;
		rq_partial_encode(&a, all[i]);
		CHECK_OK(rq_partial_decode(&back, a.ptr, a.len, "p.rqp"));
		if (back) {
			rq_partial_encode(&b, back);
			CHECK(a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0);
		}
		rq_partial_free(back);
		for (size_t cut = 0; cut < a.len; cut += 1 + cut / 7) {
			CHECK(rq_partial_decode(&back, a.ptr, cut, "p.rqp") == RQ_EINVALID);
			CHECK(back == NULL);
		}
		a.ptr[a.len / 2] ^= 4;
		CHECK_ERR(rq_partial_decode(&back, a.ptr, a.len, "p.rqp"), RQ_EINTEGRITY);
		CHECK_CONTAINS(rq_error_last(), "p.rqp: checksum mismatch");
		rq_buf_release(&a);
		rq_buf_release(&b);
	}
	/* a step of another state; a state does not merge */
	rq_partial *other = NULL;
	const char *names[1] = { "step.rqp" };
	id[0] ^= 1;
	CHECK_ERR(rq_shard_check(state, id, "state.rqp", &step, names, 1, RQ_PARTIAL_STEP), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "step.rqp: computed against another state");
	CHECK_ERR(rq_partial_merge(state, state, "s.rqp"), RQ_EINVALID);
	CHECK_ERR(rq_partial_merge(step, stats, "stats.rqp"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "stats.rqp: a stats partial cannot be merged with a step partial");
	rq_partial_free(other);
	rq_partial_free(stats);
	rq_partial_free(state);
	rq_partial_free(step);
	close_shards(s);
}

TEST(shard_check_missing_and_repeated)
{
	static float x[N * D];
	static int64_t y[N];
	struct shard s[NSHARDS];
	rq_partial *st[NSHARDS] = { NULL }, *state = NULL, *steps[4] = { NULL };
	const char *names[4] = { "s1", "s2", "s3", "s1b" };
	uint8_t id[32];

	fixture(x, y);
	open_shards(s, x, y);
	for (size_t i = 0; i < NSHARDS; i++) {
		CHECK_OK(rq_shard_stats(&st[i], s[i].emb, s[i].lab, fp_of[i], fp_of[i]));
		if (i)
			CHECK_OK(rq_partial_merge(st[0], st[i], "stats"));
	}
	CHECK_OK(rq_shard_init(&state, st[0], 0, 0, "stats"));
	state_id(id, state);
	for (size_t i = 0; i < 4; i++)
		CHECK_OK(rq_shard_step(&steps[i], state, id, "state", s[i % NSHARDS].emb,
				       s[i % NSHARDS].lab, NULL, NULL, false, NULL, NULL, 1));
	CHECK_OK(rq_shard_check(state, id, "state", steps, names, 3, RQ_PARTIAL_STEP));
	CHECK_ERR(rq_shard_check(state, id, "state", steps, names, 2, RQ_PARTIAL_STEP), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "state: shard 3 of 3");
	CHECK_ERR(rq_shard_check(state, id, "state", steps, names, 4, RQ_PARTIAL_STEP), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "s1b, entry 1 of 1: shard 1 of 3 (1 rows) again, already covered by s1: "
			"the state holds it 1 time");
	CHECK_ERR(rq_shard_check(state, id, "state", steps, names, 3, RQ_PARTIAL_FINAL), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "s1: a step partial, not a final partial");
	for (size_t i = 0; i < 4; i++)
		rq_partial_free(steps[i]);
	for (size_t i = 0; i < NSHARDS; i++)
		rq_partial_free(st[i]);
	rq_partial_free(state);
	close_shards(s);
}

/* A state whose shards 2 and 3 have one identity and content (the same
 * rows) but other content fingerprints: steps are checked by (identity,
 * rows, content checksum), so shard 2's step twice passes; final partials by their content too, so shard 2's
 * final partial twice is refused, naming what is missing. */
TEST(shard_check_repeated_identity)
{
	static float x[N * D];
	static int64_t y[N];
	struct shard s[NSHARDS];
	rq_partial *st[3] = { NULL }, *state = NULL, *steps[3] = { NULL }, *fin[3] = { NULL };
	const char *names[3] = { "a", "b", "c" };
	const size_t of[3] = { 0, 1, 1 }; /* the data of each state shard */
	const char *fp[3] = { fp_of[0], fp_of[1], fp_of[2] };
	uint8_t id[32];

	fixture(x, y);
	open_shards(s, x, y);
	for (size_t i = 0; i < 3; i++) {
		CHECK_OK(rq_shard_stats(&st[i], s[of[i]].emb, s[of[i]].lab, fp[i], fp[i]));
		if (i)
			CHECK_OK(rq_partial_merge(st[0], st[i], "stats"));
	}
	CHECK_OK(rq_shard_init(&state, st[0], 0, 0, "stats"));
	CHECK_INT_EQ(state->nshards, 3);
	state_id(id, state);
	for (size_t i = 0; i < 3; i++)
		CHECK_OK(rq_shard_step(&steps[i], state, id, "state", s[of[i]].emb, s[of[i]].lab, NULL,
				       NULL, false, NULL, NULL, 1));
	CHECK_OK(rq_shard_check(state, id, "state", steps, names, 3, RQ_PARTIAL_STEP));
	rq_partial *swapped[3] = { steps[1], steps[0], steps[1] };
	CHECK_OK(rq_shard_check(state, id, "state", swapped, names, 3, RQ_PARTIAL_STEP));
	rq_partial *zero_twice[3] = { steps[0], steps[1], steps[0] };
	CHECK_ERR(rq_shard_check(state, id, "state", zero_twice, names, 3, RQ_PARTIAL_STEP), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "c, entry 1 of 1: shard 1 of 3 (1 rows) again, already covered by a");

	state->done = true; /* for --final */
	state_id(id, state);
	for (size_t i = 0; i < 3; i++)
		CHECK_OK(rq_shard_step(&fin[i], state, id, "state", s[of[i]].emb, s[of[i]].lab, NULL, NULL,
				       true, fp[i], fp[i], 1));
	rq_partial *order[3] = { fin[2], fin[0], fin[1] };
	CHECK_OK(rq_shard_check(state, id, "state", order, names, 3, RQ_PARTIAL_FINAL));
	rq_partial *twice[3] = { fin[0], fin[1], fin[1] };
	CHECK_ERR(rq_shard_check(state, id, "state", twice, names, 3, RQ_PARTIAL_FINAL), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "c, entry 1 of 1: shard 2 of 3 (329 rows) again, already covered by b, "
			"and no final partial has the content of shard 3 of 3 (329 rows), of the same identity "
			"(its embeddings file b2:0000000000000000000000000000000000000000000000000000000000000002)");
	for (size_t i = 0; i < 3; i++) {
		rq_partial_free(st[i]);
		rq_partial_free(steps[i]);
		rq_partial_free(fin[i]);
	}
	rq_partial_free(state);
	close_shards(s);
}

TEST(shard_ari_table_equals_ari)
{
	enum { M = 500, KA = 5, KB = 7 };
	static int32_t a[M], b[M];
	uint64_t table[KA * KB] = { 0 };
	rq_partial_cell cells[KA * KB], *counted = NULL;
	size_t m = 0, mc = 0;
	for (size_t i = 0; i < M; i++) {
		a[i] = (int32_t)(fx_uniform() * KA);
		b[i] = fx_uniform() < 0.6 ? a[i] : (int32_t)(fx_uniform() * KB);
		table[(size_t)a[i] * KB + (size_t)b[i]]++;
	}
	/* the non-zero cells, in reverse order: the ARI does not need them sorted */
	for (size_t c = KA * KB; c-- > 0;)
		if (table[c])
			cells[m++] = (rq_partial_cell){ c / KB, c % KB, table[c] };
	double x = -2, t = -3;
	CHECK_OK(rq_ari(&x, a, KA, b, KB, M));
	CHECK_OK(rq_ari_cells(&t, cells, m, KA, KB));
	CHECK(x == t);
	CHECK_OK(rq_ari_count_cells(&counted, &mc, a, KA, b, KB, M));
	CHECK(mc == m && counted[0].cls == cells[m - 1].cls && counted[0].count == cells[m - 1].count);
	free(counted);
	rq_partial_cell big[1] = { { 0, 0, 3037000500u } };
	CHECK_ERR(rq_ari_cells(&t, big, 1, 1, 1), RQ_EINVALID);
	rq_partial_cell out[1] = { { 1, 0, 5 } };
	CHECK_ERR(rq_ari_cells(&t, out, 1, 1, 1), RQ_EINVALID);
}

/* The content checksum: the same from stats, a step on 1, 2 or 3 threads
 * and the bits summed here; a step of another shard of the same identity
 * (one row between the first and the last changed) is refused. */
TEST(shard_checksum_refuses_a_swapped_step)
{
	enum { M = 1300 };
	static float x[M * D], x2[M * D];
	static int64_t y[M];
	static int32_t lab[M];
	rq_buf eb[2] = { RQ_BUF_INIT, RQ_BUF_INIT }, lb = RQ_BUF_INIT;
	rq_array *emb[2] = { NULL, NULL }, *la = NULL;
	rq_partial *st[2] = { NULL, NULL }, *state = NULL, *steps[2] = { NULL, NULL };
	const char *names[2] = { "a.rqp", "b.rqp" };
	uint64_t want = 0, sums[3] = { 0 };
	uint8_t id[32];
	size_t changed;
	rq_rows rows;

	fx_state = 3;
	for (size_t i = 0; i < M; i++) {
		y[i] = (int64_t)(i % K);
		for (size_t j = 0; j < D; j++) {
			x[i * D + j] = (float)(fx_uniform() * 2 - 1 + (double)y[i] * (j == (size_t)y[i]));
			uint32_t bits;
			memcpy(&bits, &x[i * D + j], 4);
			want += bits;
		}
	}
	memcpy(x2, x, sizeof(x));
	x2[700 * D + 2] += 0.25f;
	float shift[D] = { 0.5f, 0, 0, 0, 0, 0 }, centers[K * D];
	memcpy(centers, x, sizeof(centers));
	rq_rows_from_f32(&rows, x, M, D);
	for (size_t t = 0; t < 3; t++) {
		for (size_t i = 0; i < M; i++)
			lab[i] = -1;
		CHECK_OK(rq_kmeans_pass(&changed, NULL, NULL, lab, &rows, shift, centers, K, t + 1,
					&sums[t]));
	}
	CHECK(sums[0] == want && sums[1] == want && sums[2] == want);

	npy(&eb[0], "<f4", M, D, x, sizeof(x));
	npy(&eb[1], "<f4", M, D, x2, sizeof(x2));
	npy(&lb, "<i8", M, 0, y, sizeof(y));
	CHECK_OK(rq_array_open_buffer(&la, lb.ptr, lb.len, "lab.npy", NULL));
	for (size_t i = 0; i < 2; i++) {
		CHECK_OK(rq_array_open_buffer(&emb[i], eb[i].ptr, eb[i].len, names[i], NULL));
		CHECK_OK(rq_shard_stats(&st[i], emb[i], la, fp_of[i], fp_of[0]));
	}
	CHECK(st[0]->shards[0].checksum == want && st[1]->shards[0].checksum != want);
	CHECK(memcmp(st[0]->shards[0].id, st[1]->shards[0].id, 32) == 0);
	CHECK_OK(rq_partial_merge(st[0], st[1], "b.rqp"));
	CHECK_OK(rq_shard_init(&state, st[0], 0, 0, "stats"));
	CHECK(state->counts[0] == 2 * ((M + K - 1) / K));
	state_id(id, state);
	for (size_t i = 0; i < 2; i++)
		CHECK_OK(rq_shard_step(&steps[i], state, id, "state", emb[i], la, NULL, NULL, false, NULL,
				       NULL, i + 2));
	CHECK(steps[0]->shards[0].checksum == want);
	CHECK_OK(rq_shard_check(state, id, "state", steps, names, 2, RQ_PARTIAL_STEP));
	rq_partial *swapped[2] = { steps[0], steps[0] };
	CHECK_ERR(rq_shard_check(state, id, "state", swapped, names, 2, RQ_PARTIAL_STEP), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "b.rqp, entry 1 of 1: shard 1 of 2 (1300 rows) again, already "
			"covered by a.rqp, and no step partial has the content of shard 2 of 2 (1300 "
			"rows), of the same identity (its content checksum ");
	rq_partial *one[1] = { steps[1] };
	state->nshards = 1; /* a state of shard 1 only, given shard 2's step */
	CHECK_ERR(rq_shard_check(state, id, "state", one, names + 1, 1, RQ_PARTIAL_STEP), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "b.rqp, entry 1 of 1: shard 1 of 1 (1300 rows) by its identity, but "
			"the embeddings it read have content checksum ");
	state->nshards = 2;
	for (size_t i = 0; i < 2; i++) {
		rq_partial_free(st[i]);
		rq_partial_free(steps[i]);
		rq_array_free(emb[i]);
		rq_buf_release(&eb[i]);
	}
	rq_partial_free(state);
	rq_array_free(la);
	rq_buf_release(&lb);
}

/* Re-seal a partial's bytes after editing them (the BLAKE2b-256 trailer). */
static void reseal(rq_buf *b)
{
	crypto_generichash((unsigned char *)b->ptr + b->len - 32, 32, (const unsigned char *)b->ptr,
			   b->len - 32, NULL, 0);
}

static void put_le64(char *at, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		at[i] = (char)(v >> (8 * i));
}

/* Review fixes: a shard given twice is taken, rows above INT64_MAX, a done state at
 * iteration 0, a wrong changed count, a step whose rows or iteration
 * contradict the state, a final partial of changed files, sparse cells. */
TEST(shard_refuses_what_the_reviews_found)
{
	static float x[N * D];
	static int64_t y[N];
	static int32_t asg[N];
	struct shard s[NSHARDS];
	rq_partial *st[NSHARDS] = { NULL }, *dup = NULL, *state = NULL, *back = NULL, *p = NULL;
	const char *names[2] = { "s1.rqp", "s1-again.rqp" };
	uint8_t id[32];

	fx_state = 5;
	fixture(x, y);
	open_shards(s, x, y);
	for (size_t i = 0; i < NSHARDS; i++)
		CHECK_OK(rq_shard_stats(&st[i], s[i].emb, s[i].lab, fp_of[i], fp_of[i]));
	/* the same shard twice, by identity and by content: merged, not refused */
	CHECK_OK(rq_shard_stats(&dup, s[1].emb, s[1].lab, fp_of[1], fp_of[1]));
	CHECK_OK(rq_partial_merge(dup, st[1], names[1]));
	CHECK_INT_EQ(dup->nshards, 2);
	CHECK(dup->n == 2 * st[1]->n && dup->counts[0] == 2 * st[1]->counts[0]);
	for (size_t i = 1; i < NSHARDS; i++)
		CHECK_OK(rq_partial_merge(st[0], st[i], "stats"));
	CHECK_OK(rq_shard_init(&state, st[0], 0, 0, "stats"));
	CHECK(state->rel_tol == 1e-4 && state->max_iter == 300);

	/* rows above INT64_MAX; a done state at iteration 0 */
	rq_buf b = RQ_BUF_INIT;
	rq_partial_encode(&b, st[2]);
	put_le64(b.ptr + 32, (uint64_t)INT64_MAX + 1);
	reseal(&b);
	CHECK_ERR(rq_partial_decode(&back, b.ptr, b.len, "big.rqp"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "big.rqp: header says 9223372036854775808 rows, more than");
	rq_buf_reset(&b);
	rq_partial_encode(&b, state);
	CHECK_OK(rq_partial_decode(&back, b.ptr, b.len, "s.rqp"));
	rq_partial_free(back);
	back = NULL;
	state->done = true;
	rq_buf_reset(&b);
	rq_partial_encode(&b, state);
	state->done = false;
	CHECK_ERR(rq_partial_decode(&back, b.ptr, b.len, "done0.rqp"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "done0.rqp: iteration 0 of at most 300 is inconsistent");
	rq_buf_release(&b);

	/* iteration 0 -> 1, then a step that says nothing changed */
	rq_partial *step = map_all(state, s, asg, false, false);
	CHECK_OK(rq_shard_update(state, step, "state"));
	rq_partial_free(step);
	step = map_all(state, s, asg, false, true);
	CHECK(step->changed > 0);
	float *before = malloc((size_t)K * D * sizeof(float));
	memcpy(before, state->centers, (size_t)K * D * sizeof(float));
	step->changed = 0;
	CHECK_ERR(rq_shard_update(state, step, "state.rqp"), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "state.rqp: the steps say no row changed but the centres moved");
	CHECK(state->iteration == 1 && memcmp(before, state->centers, (size_t)K * D * sizeof(float)) == 0);
	free(before);
	rq_partial_free(step);

	/* a step whose iteration or rows contradict the state; a final
	 * partial of files other than the stats read */
	state_id(id, state);
	const char *nm[1] = { "p.rqp" };
	state->done = true; /* for --final */
	CHECK_OK(rq_shard_step(&p, state, id, "state", s[1].emb, s[1].lab, NULL, NULL, true, fp_of[1],
			       fp_of[0], 1));
	CHECK(p->ncells <= p->n && p->ncells >= 1);
	CHECK_ERR(rq_shard_check(state, id, "state", &p, nm, 1, RQ_PARTIAL_FINAL), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "p.rqp, entry 1 of 1: shard 2 of 3 (329 rows) by its identity, but its "
			"labels file changed since `resque shard stats` "
			"(b2:0000000000000000000000000000000000000000000000000000000000000001 then");
	p->state_iteration = 0;
	CHECK_ERR(rq_shard_check(state, id, "state", &p, nm, 1, RQ_PARTIAL_FINAL), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "p.rqp: says iteration 0 but names this state, which is at iteration 1");
	p->state_iteration = 1;
	p->shards[0].rows++;
	CHECK_ERR(rq_shard_check(state, id, "state", &p, nm, 1, RQ_PARTIAL_FINAL), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "p.rqp, entry 1 of 1: 330 rows, but shard 2 of 3 (329 rows) has its "
			"identity: the partial is inconsistent");
	rq_partial_free(p);

	rq_partial_free(dup);
	for (size_t i = 0; i < NSHARDS; i++)
		rq_partial_free(st[i]);
	rq_partial_free(state);
	close_shards(s);
}
