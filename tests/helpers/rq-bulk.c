/* Test and benchmark helper: create a repository and append entries fast
 * through the library (rq_ledger_init, rq_ledger_append), a realistic
 * life for reports spread evenly over START..END (RESQUE_NOW is set per
 * entry):
 *
 *   version (cost from a cost file one time in four, else from the last
 *     run's actual, as `resque commit --actual` copies it)
 *   plan (dist) and plan (task) from it, with forecasts and intervals
 *   actual of the first plan, as `resque record` writes it
 *   actual of the second plan, as `resque run` writes it (rapl+nvml, or
 *     the estimate meter one time in four)
 *   note
 *   actual not linked to a plan, as `resque import nvidia-smi` writes it
 *
 * cycling until N entries (genesis included). Bodies copy the shapes the
 * commands write (docs/FORMATS.md), without the summary attachment of
 * versions. Key: the default one of $RESQUE_HOME (created without a
 * passphrase when there is none, as `resque init` does). index.db is
 * written with synchronous=OFF (derived data; a crash means a reindex),
 * and git objects go to an in-memory store written as one packfile at
 * the end (every 8192 entries), instead of four loose objects per entry.
 *
 *   rq-bulk [--notes | --attachments] RESQUE_DIR N [START [END]]
 *                                        (default 2023-01-01 .. 2025-06-30)
 *
 * --notes writes notes only after the genesis (the smallest entries);
 * --attachments gives every version the summary attachment summary.rqs that
 * `resque commit --embeddings` stores (10 classes of 512 dimensions, moments
 * 1: 41,032 bytes of a valid .rqs, docs/FORMATS.md), recorded in its body.
 *
 * Prints "N entries in S s". Exit 0, 1 on error, 2 on usage. */
#include "common.h"
#include "json.h"
#include "resque/keystore.h"
#include "ledger_int.h"
#include "util.h"
#include "ledger_int.h"

#include <git2/sys/mempack.h>
#include <math.h>
#include <git2/sys/odb_backend.h>
#include <sodium.h>
#include <time.h>

#define FLUSH_EVERY 8192

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void)
{
	/* splitmix64: deterministic, so two runs build the same bodies */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rng_unit(void) /* (0, 1) */
{
	return ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_lognormal(double median, double sigma)
{
	double u1 = rng_unit(), u2 = rng_unit();
	double z = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
	return median * exp(sigma * z);
}

static void rng_fingerprint(char out[68])
{
	static const char hex[] = "0123456789abcdef";
	memcpy(out, "b2:", 3);
	for (int i = 0; i < 64; i += 16) {
		uint64_t r = rng_next();
		for (int j = 0; j < 16; j++)
			out[3 + i + j] = hex[(r >> (4 * j)) & 15];
	}
	out[67] = '\0';
}

/* {mean, p10, p90, p2_5, p97_5} of a lognormal of median m and spread s */
static json_t *interval(double m, double s)
{
	return json_pack("{s:f, s:f, s:f, s:f, s:f}", "mean", m * exp(s * s / 2), "p10", m * exp(-1.2816 * s),
			 "p90", m * exp(1.2816 * s), "p2_5", m * exp(-1.96 * s), "p97_5", m * exp(1.96 * s));
}

struct grid {
	const char *region;
	double intensity, pue;
};
static const struct grid grids[] = { { "FR", 56.039, 1.0 }, { "DE", 380.95, 1.2 }, { "FR", 56.039, 1.1 } };

struct bulk {
	rq_ledger *l;
	git_odb_backend *mempack;
	uint64_t n, done;
	int64_t t0, t1;
	unsigned long cycle;
	bool verbose; /* RQ_BULK_VERBOSE: progress every 1000 entries */
	bool notes, attachments; /* --notes, --attachments */
	const rq_attachment *att; /* of the next append */
	size_t natt;
	struct timespec c0;
	char version_id[65], version_name[32], last_measured[65];
	double last_measured_kwh, last_measured_s, last_measured_pue, last_measured_intensity;
	const char *last_measured_region, *last_measured_method;
	unsigned last_measured_epochs;
	struct {
		char id[65];
		double energy, p10, p90, pue, intensity;
		const char *region, *hardware;
	} plan[2];
};

static int flush_pack(struct bulk *b)
{
	git_buf pack = { 0 };
	git_odb *odb = NULL;
	git_odb_writepack *wp = NULL;
	git_indexer_progress stats = { 0 };
	int err = 0;

	if (!b->mempack)
		return 0;
	if (git_repository_odb(&odb, b->l->repo) || git_mempack_dump(&pack, b->l->repo, b->mempack) ||
	    git_odb_write_pack(&wp, odb, NULL, NULL) || wp->append(wp, pack.ptr, pack.size, &stats) ||
	    wp->commit(wp, &stats)) {
		err = rq_git_error(RQ_EIO, "writing the packfile");
		goto done;
	}
	git_mempack_reset(b->mempack);
	git_odb_refresh(odb);
	/* merged as appends merge them (store/pack.c): geometrically */
	err = rq_ledger__pack(b->l, true);
done:
	if (wp)
		wp->free(wp);
	git_buf_dispose(&pack);
	git_odb_free(odb);
	return err;
}

static int append(struct bulk *b, const char *type, json_t *body, char id_out[65])
{
	char now[21];
	rq_entry *e = NULL;
	int err;

	rq_time_format(now, b->t0 + (int64_t)((double)(b->t1 - b->t0) * (double)b->done / (double)(b->n - 1)));
	setenv("RESQUE_NOW", now, 1);
	err = rq_ledger_append(&e, b->l, type, body, b->att, b->natt);
	b->att = NULL;
	b->natt = 0;
	if (err)
		return err;
	if (id_out)
		memcpy(id_out, e->id, 65);
	rq_entry_free(e);
	b->done++;
	if (b->done % FLUSH_EVERY == 0)
		err = flush_pack(b);
	if (b->verbose && b->done % 1000 == 0) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		fprintf(stderr, "%" PRIu64 " entries, %.2f s\n", b->done,
			(double)(t.tv_sec - b->c0.tv_sec) + (double)(t.tv_nsec - b->c0.tv_nsec) / 1e9);
	}
	return err;
}

#define SUM_K 10
#define SUM_D 512

static void put_le(rq_buf *out, uint64_t v, size_t len)
{
	for (size_t i = 0; i < len; i++)
		rq_buf_putc(out, (char)(v >> (8 * i)));
}

/* A valid summary.rqs (moments 1) of SUM_K classes of SUM_D dimensions
 * with random sums; the number of rows summarised in *rows. */
static void summary_rqs(rq_buf *out, uint64_t *rows)
{
	uint8_t sum[32];

	*rows = 0;
	rq_buf_put(out, "RQSUMMRY", 8);
	put_le(out, 1, 4);
	put_le(out, 1, 4);
	put_le(out, SUM_D, 8);
	put_le(out, SUM_K, 8);
	size_t nat = out->len;
	put_le(out, 0, 8); /* N, below */
	for (uint64_t c = 0; c < SUM_K; c++) {
		uint64_t count = 1500 + rng_next() % 1000;
		*rows += count;
		put_le(out, c, 8);
		put_le(out, count, 8);
		for (int j = 0; j < SUM_D; j++) {
			double v = (rng_unit() - 0.5) * (double)count;
			uint64_t bits;
			memcpy(&bits, &v, 8);
			put_le(out, bits, 8);
		}
	}
	for (size_t i = 0; i < 8; i++)
		out->ptr[nat + i] = (char)(*rows >> (8 * i));
	crypto_generichash(sum, sizeof(sum), (const unsigned char *)out->ptr, out->len, NULL, 0);
	rq_buf_put(out, sum, sizeof(sum));
}

static int add_version(struct bulk *b)
{
	static rq_buf rqs = RQ_BUF_INIT;
	static rq_attachment att[1];
	char fp[68];
	const struct grid *g = &grids[b->cycle % 3];
	json_t *cost, *body;
	char name[32], path[48];

	snprintf(name, sizeof(name), "v%lu", b->cycle + 1);
	snprintf(path, sizeof(path), "%s.safetensors", name);
	if (b->last_measured[0] && b->cycle % 4) {
		double kwh = b->last_measured_kwh;
		char src[80];
		snprintf(src, sizeof(src), "actual:%s", b->last_measured);
		/* as `resque commit --actual` copies them */
		cost = json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:s, s:s, s:s, s:s}", "epochs",
				 (int)b->last_measured_epochs, "energy_kwh", kwh, "duration_s", b->last_measured_s,
				 "carbon_kg", kwh * b->last_measured_pue * b->last_measured_intensity / 1000, "pue",
				 b->last_measured_pue, "intensity_g_per_kwh", b->last_measured_intensity, "hardware",
				 "rtx3090", "region", b->last_measured_region, "method", b->last_measured_method,
				 "source", src);
	} else {
		double kwh = rng_lognormal(12, 0.4);
		static const char *methods[] = { "measured", "imported", "estimated" };
		cost = json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:s, s:s, s:s, s:s}", "epochs", 30, "energy_kwh", kwh,
				 "duration_s", kwh * 3000, "carbon_kg", kwh * g->pue * g->intensity / 1000, "pue",
				 g->pue, "intensity_g_per_kwh", g->intensity, "hardware", "rtx3090", "region",
				 g->region, "method", methods[(b->cycle / 2) % 3], "source", "cost file");
	}
	rng_fingerprint(fp);
	body = json_pack("{s:s, s:{s:s, s:s, s:I}, s:o}", "name", name, "weights", "path", path,
			 "fingerprint", fp, "bytes", (json_int_t)(94371840 + (rng_next() % 4096)), "cost", cost);
	if (b->version_id[0]) {
		json_object_set_new(body, "parent", json_string(b->version_id));
		json_object_set_new(body, "parent_name", json_string(b->version_name));
	}
	json_object_set_new(body, "family", json_string("resnet50-imagenet"));
	if (b->attachments) {
		uint64_t rows;
		rq_buf_reset(&rqs);
		summary_rqs(&rqs, &rows);
		json_object_set_new(body, "summary",
				    json_pack("{s:s, s:I, s:I, s:I, s:i}", "attachment", "summary.rqs", "classes",
					      (json_int_t)SUM_K, "dim", (json_int_t)SUM_D, "rows", (json_int_t)rows,
					      "moments", 1));
		att[0] = (rq_attachment){ "summary.rqs", rqs.ptr, rqs.len };
		b->att = att;
		b->natt = 1;
	}
	memcpy(b->version_name, name, sizeof(name));
	return append(b, "version", body, b->version_id);
}

/* The shift family of the cycle's dist update: "unspecified", or with
 * RQ_BULK_FAMILIES=N one of N families "fam0".."fam<N-1>" in turn (the
 * plan benchmark's lineage of several families). */
static const char *dist_family(const struct bulk *b)
{
	static char name[32];
	const char *env = getenv("RQ_BULK_FAMILIES");
	unsigned n = env ? (unsigned)strtoul(env, NULL, 10) : 0;

	if (!n)
		return "unspecified";
	snprintf(name, sizeof(name), "fam%lu", b->cycle % n);
	return name;
}

static int add_plan(struct bulk *b, int k)
{
	const char *fam = k ? "noise" : dist_family(b);
	const struct grid *g = &grids[(b->cycle + (unsigned)k) % 3];
	double idx = 0.05 + 0.3 * rng_unit(), epochs = 2 + 40 * idx, kwh_epoch = 0.4;
	double s = 0.5, e_kwh = epochs * kwh_epoch, c = g->pue * g->intensity / 1000;
	char fe[68], fl[68];
	json_t *body;

	rng_fingerprint(fe);
	rng_fingerprint(fl);
	body = json_pack(
		"{s:{s:f, s:f, s:s, s:i, s:i, s:b, s:s}, s:{s:{s:s, s:s}, s:{s:s, s:s}},"
		" s:{s:i, s:f, s:i, s:s}, s:{s:o, s:o, s:o, s:o}, s:s, s:s, s:s, s:f, s:f, s:s, s:f, s:s,"
		" s:{s:f, s:f}, s:{s:o, s:o, s:o, s:i}, s:s, s:i}",
		"calibration", "a", 1.5, "b", 38.0, "basis", "family", "families", 1, "n", (int)(b->cycle * 2 % 500),
		"prior_only", 0, "shift_family", fam,
		"candidate", "embeddings", "fingerprint", fe, "path", "d-emb.npy", "labels", "fingerprint", fl, "path",
		"d-lab.npy",
		"energy_per_epoch", "epochs", 30, "kwh", kwh_epoch, "runs", 1,
		"source", "total energy / epochs of 1 past update(s) on 'rtx3090', per training sample × 20000 samples",
		"forecast", "carbon_kg", interval(e_kwh * c, s), "duration_s", interval(epochs * 1200, s),
		"energy_kwh", interval(e_kwh, s), "epochs", interval(epochs, s),
		"from", b->version_id, "from_name", b->version_name, "hardware", "rtx3090", "index", idx,
		"intensity_g_per_kwh", g->intensity, "kind", k ? "task" : "dist", "pue", g->pue, "region", g->region,
		"saving", "carbon_kg", (30 - epochs) * kwh_epoch * c, "energy_kwh", (30 - epochs) * kwh_epoch,
		"scratch", "carbon_kg", interval(12 * c, 0.2), "duration_s", interval(36000, 0.2), "energy_kwh",
		interval(12, 0.2), "epochs", 30,
		"shift_family", fam, "train_size", 20000);
	b->plan[k].energy = e_kwh * exp(s * s / 2);
	b->plan[k].p10 = e_kwh * exp(-1.2816 * s);
	b->plan[k].p90 = e_kwh * exp(1.2816 * s);
	b->plan[k].pue = g->pue;
	b->plan[k].intensity = g->intensity;
	b->plan[k].region = g->region;
	return append(b, "plan", body, b->plan[k].id);
}

static int add_plan_dist(struct bulk *b)
{
	return add_plan(b, 0);
}

static int add_plan_task(struct bulk *b)
{
	return add_plan(b, 1);
}

/* `resque record`'s shape */
static int add_recorded(struct bulk *b)
{
	double kwh = rng_lognormal(b->plan[0].energy, 0.45), c = b->plan[0].pue * b->plan[0].intensity / 1000;
	json_t *body = json_pack("{s:f, s:f, s:f, s:i, s:s, s:b, s:f, s:s, s:s, s:f, s:s, s:f, s:s, s:s, s:i}",
				 "carbon_kg", kwh * c, "duration_s", kwh * 3000, "energy_kwh", kwh, "epochs",
				 (int)(kwh / 0.4) + 1, "hardware", "rtx3090", "inside_p80",
				 kwh >= b->plan[0].p10 && kwh <= b->plan[0].p90, "intensity_g_per_kwh",
				 b->plan[0].intensity, "meter", "manual", "method", "imported", "param_change",
				 0.01 + 0.02 * rng_unit(), "plan", b->plan[0].id, "pue", b->plan[0].pue, "region",
				 b->plan[0].region, "shift_family", dist_family(b), "train_size", 20000);
	return append(b, "actual", body, NULL);
}

/* `resque run`'s shape, measured by RAPL and NVML */
static int add_run(struct bulk *b)
{
	double kwh = rng_lognormal(b->plan[1].energy, 0.45), c = b->plan[1].pue * b->plan[1].intensity / 1000;
	unsigned epochs = (unsigned)(kwh / 0.4) + 1;
	json_t *ee = json_array(), *ed = json_array(), *body;

	for (unsigned i = 0; i < epochs && i < 64; i++) {
		json_array_append_new(ee, json_real(kwh / epochs));
		json_array_append_new(ed, json_real(kwh * 3000 / epochs));
	}
	/* one run in four is metered by the estimate (no RAPL, no NVML) */
	bool est = b->cycle % 4 == 2;
	json_t *domains = est ? json_pack("{s:f, s:f}", "cpu (estimate)", kwh * 0.9, "memory (estimate)", kwh * 0.1)
			      : json_pack("{s:f, s:f, s:f}", "package-0", kwh * 0.2, "dram-0", kwh * 0.05, "gpu0",
					  kwh * 0.75);
	body = json_pack("{s:f, s:[s, s, s, s], s:o, s:f, s:f, s:o, s:o, s:i, s:i, s:s, s:b, s:f,"
			 " s:s, s:s, s:s, s:f, s:s, s:f, s:s, s:f, s:f}",
			 "carbon_kg", kwh * c, "command", "python", "train.py", "--epochs", "100", "domains_kwh",
			 domains, "duration_s", kwh * 3000, "energy_kwh", kwh, "epoch_duration_s", ed,
			 "epoch_energy_kwh", ee, "epochs", (int)epochs, "exit_status", 0, "hardware", "rtx3090",
			 "inside_p80", kwh >= b->plan[1].p10 && kwh <= b->plan[1].p90, "intensity_g_per_kwh",
			 b->plan[1].intensity, "meter", est ? "estimate" : "rapl+nvml", "method",
			 est ? "estimated" : "measured", "plan", b->plan[1].id, "pue", b->plan[1].pue, "region",
			 b->plan[1].region, "stable_epoch_energy_kwh", kwh / epochs, "status", "succeeded",
			 "tail_energy_kwh", 0.0, "grad_norm", 3.5 + rng_unit());
	if (est && body)
		json_object_set_new(body, "estimate",
				    json_pack("{s:s, s:f, s:f, s:s, s:f}", "cpu_model", "AMD EPYC 7R13", "cpu_seconds",
					      kwh * 3.6e6 / 42.5, "memory_w_per_gb", 0.3725, "tdp_source",
					      "table: AMD EPYC 7R13", "watts_per_cpu", 42.5));
	b->last_measured_method = est ? "estimated" : "measured";
	b->last_measured_kwh = kwh;
	b->last_measured_s = kwh * 3000;
	b->last_measured_epochs = epochs;
	b->last_measured_pue = b->plan[1].pue;
	b->last_measured_intensity = b->plan[1].intensity;
	b->last_measured_region = b->plan[1].region;
	return append(b, "actual", body, b->last_measured);
}

/* `resque import nvidia-smi`'s shape, not linked to a plan */
static int add_import(struct bulk *b)
{
	const struct grid *g = &grids[b->cycle % 3];
	double kwh = rng_lognormal(0.4, 0.3);
	char fp[68], file[64];
	unsigned samples = (unsigned)(kwh * 3.6e6 / 220);

	rng_fingerprint(fp);
	snprintf(file, sizeof(file), "logs/run-%lu-gpu-power.csv", b->cycle);
	json_t *body = json_pack("{s:f, s:f, s:f, s:[{s:f, s:s, s:i}], s:f, s:s, s:s, s:f, s:s,"
				 " s:{s:s, s:s, s:s, s:s, s:f, s:i, s:i, s:s}, s:s}",
				 "carbon_kg", kwh * g->pue * g->intensity / 1000, "duration_s", (double)samples,
				 "energy_kwh", kwh, "gpus", "energy_kwh", kwh, "name", "NVIDIA GeForce RTX 3070",
				 "samples", (int)samples, "intensity_g_per_kwh", g->intensity, "meter", "nvidia-smi",
				 "method", "imported", "pue", g->pue, "region", g->region, "source", "end",
				 "2023/03/02 10:43:27.948", "file", file, "fingerprint", fp, "format", "nvidia-smi",
				 "max_w", 240.41, "samples", (int)samples, "skipped", 0, "start",
				 "2023/03/02 09:00:30.840", "status", "succeeded");
	return append(b, "actual", body, NULL);
}

static int add_note(struct bulk *b)
{
	char msg[96];
	snprintf(msg, sizeof(msg), "cycle %lu: retrained %s after the data refresh", b->cycle, b->version_name);
	return append(b, "note", json_pack("{s:s}", "message", msg), NULL);
}

static int load_key(rq_key **out)
{
	int err = rq_keystore_load(out, NULL, NULL);
	if (err == RQ_ENOTFOUND) {
		rq_error_clear();
		if ((err = rq_key_generate(out)) || (err = rq_keystore_save(*out, NULL)) ||
		    (err = rq_keystore_set_default((*out)->id)))
			return err;
	}
	return err;
}

int main(int argc, char **argv)
{
	struct bulk b = { 0 };
	rq_key *k = NULL;
	git_odb *odb = NULL;
	struct timespec c0, c1;
	char *end = NULL;
	int err = 0;

	for (; argc > 1 && argv[1][0] == '-' && argv[1][1] == '-'; argc--, argv++) {
		if (strcmp(argv[1], "--notes") == 0)
			b.notes = true;
		else if (strcmp(argv[1], "--attachments") == 0)
			b.attachments = true;
		else
			break;
	}
	if (argc < 3 || argc > 5 || (b.notes && b.attachments) || sodium_init() < 0) {
		fprintf(stderr, "usage: rq-bulk [--notes | --attachments] RESQUE_DIR N [START [END]]\n");
		return 2;
	}
	b.n = strtoull(argv[2], &end, 10);
	if (*end || b.n < 2 || rq_time_parse(&b.t0, argc > 3 ? argv[3] : "2023-01-01T00:00:00Z") ||
	    rq_time_parse(&b.t1, argc > 4 ? argv[4] : "2025-06-30T00:00:00Z") || b.t1 < b.t0) {
		fprintf(stderr, "usage: rq-bulk RESQUE_DIR N [START [END]] (N >= 2; times as 2024-01-31T00:00:00Z)\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &c0);
	b.c0 = c0;
	b.verbose = getenv("RQ_BULK_VERBOSE") != NULL;
	char now[21];
	rq_time_format(now, b.t0);
	setenv("RESQUE_NOW", now, 1);
	if ((err = load_key(&k)) || (err = rq_ledger_init(&b.l, argv[1], k)))
		goto done;
	b.done = 1;
	rq_ledger_set_signer(b.l, k);
	sqlite3_exec(rq_ledger_db(b.l), "PRAGMA synchronous=OFF", NULL, NULL, NULL);
	/* the memory of what was verified is updated once, at the end
	 * (RQ_BULK_EACH: after every entry, as commands do) */
	if (!getenv("RQ_BULK_EACH"))
		rq_ledger__batch(b.l, true);
	if (!getenv("RQ_BULK_LOOSE")) {
		if (git_repository_odb(&odb, b.l->repo) || git_mempack_new(&b.mempack) ||
		    git_odb_add_backend(odb, b.mempack, 1000)) {
			err = rq_git_error(RQ_EIO, "adding the in-memory object store");
			goto done;
		}
	}
	for (b.cycle = 0; b.done < b.n && !err; b.cycle++) {
		static int (*const steps[])(struct bulk *) = { add_version, add_plan_dist, add_plan_task, add_recorded,
							       add_run, add_note, add_import };
		if (b.notes)
			err = add_note(&b);
		for (size_t i = 0; i < RQ_ARRAY_SIZE(steps) && b.done < b.n && !err && !b.notes; i++)
			err = steps[i](&b);
	}
	if (!err)
		err = flush_pack(&b);
	if (!err)
		err = rq_ledger__batch(b.l, false);
	clock_gettime(CLOCK_MONOTONIC, &c1);
	if (!err)
		printf("%" PRIu64 " entries in %.2f s\n", b.done,
		       (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9);
done:
	if (err)
		fprintf(stderr, "rq-bulk: %s\n", rq_error_last());
	git_odb_free(odb);
	rq_ledger_free(b.l); /* the odb owns the mempack backend */
	rq_key_free(k);
	return err ? 1 : 0;
}
