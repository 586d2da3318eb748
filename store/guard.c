/* The guard: every command checks the ledger's tip against what this user
 * verified before (verify's memory under $RESQUE_HOME, resque/known.h)
 * and verifies the entries new since, before it reads or writes anything
 * (docs/FORMATS.md; issue 11). What it has verified -- the leaf hash and the
 * commit of each entry, and the signers -- is what the readers of
 * store/ledger.c check index.db's rows against, so index.db is a cache
 * that vouches for nothing.
 *
 * Warm, with nothing new: the tip entry is read from git and its leaf
 * hash compared with the remembered one (a few object reads and one pread
 * per file). New entries: only they are verified (signatures, chain,
 * signers, attachments), from the remembered signer set. Cold (nothing
 * remembered of this repository, or a memory from an older resque): the
 * whole ledger is verified once, as `resque verify` does. */
#include "common.h"
#include "ledger_int.h"
#include "json.h"
#include "known.h"

#include <sodium.h>

struct rq_guard {
	char repository[RQ_KNOWN_ID_MAX + 1];
	char genesis[RQ_ID_HEX_SIZE];
	uint64_t known;          /* entries the memory files hold: [0, known) */
	bool remembered;         /* the memory can be read (else all is in RAM) */
	/* entries verified by this process beyond the memory: [known, size) */
	rq_hash *extra_leaves;
	uint8_t (*extra_commits)[20];
	char (*extra_ids)[RQ_ID_HEX_SIZE];
	/* every leaf and commit [0, size), once rq_guard_load_all ran */
	rq_hash *all_leaves;
	uint8_t (*all_commits)[20];
	rq_signer_change *signers;
	size_t nsigners, signers_alloc;
	rq_named *named;         /* named entries of [known, size), or all when not remembered */
	size_t nnamed, named_alloc;
	/* the memory's named entries before `mem_named_below`, read once per
	 * process (rq_guard_find_name), sorted by name, then seq */
	rq_named *mem_named;
	size_t nmem_named;
	uint64_t mem_named_below;
	bool mem_named_read;
	uint64_t leaf_reads;     /* rq_guard_leaf's reads of one entry's records */
	uint8_t (*mem_ids)[RQ_HASH_LEN]; /* the memory's ids [0, mem_ids_n), after many look-ups */
	uint64_t mem_ids_n, id_reads;
	uint8_t *row_ok;         /* bitmap over [0, size) */
	bool behind_place;       /* the snapshot has fewer entries than this place had */
	uint64_t row_bits;
};

static void rq_guard_free_contents(struct rq_guard *g);

void rq_guard_free(struct rq_guard *g)
{
	if (!g)
		return;
	rq_guard_free_contents(g);
	free(g);
}

static void rq_guard_free_contents(struct rq_guard *g)
{
	free(g->extra_leaves);
	free(g->extra_commits);
	free(g->extra_ids);
	free(g->all_leaves);
	free(g->all_commits);
	free(g->signers);
	rq_known_names_free(g->named, g->nnamed);
	rq_known_names_free(g->mem_named, g->nmem_named);
	free(g->mem_ids);
	free(g->row_ok);
	memset(g, 0, sizeof(*g));
}

static int refuse(int64_t seq, const char *id, const char *message)
{
	if (seq >= 0)
		return rq_error_set(RQ_EINTEGRITY, "the ledger does not verify (run 'resque verify'): entry %" PRId64
				    " (%.12s): %s", seq, id && *id ? id : "?", message);
	return rq_error_set(RQ_EINTEGRITY, "the ledger does not verify (run 'resque verify'): %s", message);
}

/* The first problem of a failed verification that concerns the ledger
 * (not index.db), as an error. */
static int refuse_report(const rq_verify_report *r)
{
	/* index.db's problems come last; readers check index.db themselves */
	if (r->nproblems <= r->index_problems)
		return 0;
	const rq_problem *p = &r->problems[0];
	return refuse(p->seq, p->id, p->message);
}

static void add_extra(struct rq_guard *g, uint64_t at, const rq_hash *leaves, const uint8_t (*commits)[20],
		      const char (*ids)[RQ_ID_HEX_SIZE], uint64_t n)
{
	g->extra_leaves = rq_xreallocarray(g->extra_leaves, (size_t)(at + n), sizeof(*g->extra_leaves));
	g->extra_commits = rq_xreallocarray(g->extra_commits, (size_t)(at + n), sizeof(*g->extra_commits));
	g->extra_ids = rq_xreallocarray(g->extra_ids, (size_t)(at + n), sizeof(*g->extra_ids));
	memcpy(g->extra_leaves + at, leaves, n * sizeof(*leaves));
	memcpy(g->extra_commits + at, commits, n * sizeof(*commits));
	memcpy(g->extra_ids + at, ids, n * sizeof(*ids));
}

static void add_named(struct rq_guard *g, const rq_named *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		RQ_ALLOC_GROW(g->named, g->nnamed + 1, g->named_alloc);
		g->named[g->nnamed] = v[i];
		g->named[g->nnamed++].name = rq_xstrdup(v[i].name);
	}
}

static void set_signers(struct rq_guard *g, const rq_signer_change *a, size_t na, uint64_t below,
			const rq_signer_change *b, size_t nb)
{
	size_t k = 0;
	free(g->signers);
	g->signers_alloc = na + nb + 1;
	g->signers = rq_xcalloc(g->signers_alloc, sizeof(*g->signers));
	for (size_t i = 0; i < na; i++)
		if (a[i].seq < below)
			g->signers[k++] = a[i];
	for (size_t i = 0; i < nb; i++)
		g->signers[k++] = b[i];
	g->nsigners = k;
}

/* The memory could not be read or written: keep what was verified in RAM
 * for this process (the next command verifies again), and say so once. */
static void keep_in_ram(struct rq_guard *g, const rq_verify_report *r, const char *why)
{
	g->known = 0;
	g->remembered = false;
	add_extra(g, 0, (const rq_hash *)r->leaves, (const uint8_t (*)[20])r->commits, (const char (*)[RQ_ID_HEX_SIZE])r->ids,
		  r->nleaves);
	set_signers(g, NULL, 0, 0, r->signer_changes, r->nsigner_changes);
	add_named(g, r->named, r->nnamed);
	rq_ledger__notice("%s", why);
}

/* Verify the whole ledger, compare it with the memory and remember it.
 * A memory that fails its own checks (a crash, a full disk, a partial
 * restore) holds nothing to compare with: it is dropped and made afresh. */
static int cold(rq_ledger *l, struct rq_guard *g, const char *why)
{
	rq_verify_report r;
	rq_buf warning = RQ_BUF_INIT;
	bool updated = false;
	int err;

	rq_ledger__notice("verifying the ledger first (%s)", why);
	err = rq_ledger__verify_from(&r, l, NULL);
	if (err && err != RQ_EINTEGRITY)
		goto done;
	err = 0;
	if (r.nproblems > r.index_problems) {
		err = refuse_report(&r);
		goto done;
	}
	if (!r.leaves || r.nleaves != l->size || !rq_known_id_valid(r.repository)) {
		err = refuse(-1, NULL, !rq_known_id_valid(r.repository) ? "its genesis entry names no valid repository id"
									 : "not every entry could be read");
		goto done;
	}
	snprintf(g->repository, sizeof(g->repository), "%s", r.repository);
	memcpy(g->genesis, r.genesis, RQ_ID_HEX_SIZE);
	/* Rolled back, rewritten or re-created since it was remembered? */
	{
		rq_known k;
		rq_hash *kv = NULL;
		uint64_t at = UINT64_MAX;
		int e2 = rq_known_get(&k, &kv, r.repository);
		if (e2 == 0)
			e2 = rq_known_compare(&at, &k, kv, r.genesis, (const rq_hash *)r.leaves, r.nleaves);
		free(kv);
		/* shorter only because another process appended since the
		 * snapshot: no rollback */
		if (e2 == RQ_EINTEGRITY && at == UINT64_MAX && r.nleaves < k.size && rq_ledger_tip_moved(l))
			e2 = 0;
		if (e2 == RQ_EINTEGRITY) {
			err = rq_error_set(RQ_EINTEGRITY, "%s (run 'resque verify')", rq_error_last());
			goto done;
		}
		if (e2 == RQ_EINVALID) {
			bool dropped;
			rq_ledger__notice("the memory of this ledger was damaged (%s): remembering it afresh",
					  rq_error_last());
			rq_known_forget(&dropped, r.repository);
		}
		rq_error_clear();
	}
	if (rq_known_put_all(&updated, r.repository, r.genesis, (const rq_hash *)r.leaves,
			     (const uint8_t (*)[20])r.commits, r.nleaves, r.signer_changes, r.nsigner_changes, r.named,
			     r.nnamed, (const char (*)[RQ_ID_HEX_SIZE])r.ids, 0, l->dir)) {
		rq_buf_printf(&warning, "could not remember the verified ledger: %s", rq_error_last());
		rq_error_clear();
		keep_in_ram(g, &r, warning.ptr);
		goto done;
	}
	g->known = r.nleaves;
	g->remembered = true;
	set_signers(g, NULL, 0, 0, r.signer_changes, r.nsigner_changes);
done:
	rq_verify_report_release(&r);
	rq_buf_release(&warning);
	return err;
}

/* The genesis entry as index.db has it: a claim, to find the memory by
 * (the memory's own leaf hash of entry 0 then confirms or refutes it). */
static int claimed_genesis(rq_buf *repository, rq_hash leaf, char id[RQ_ID_HEX_SIZE], rq_ledger *l)
{
	sqlite3_stmt *st = NULL;
	rq_entry *e = NULL;
	int err = RQ_ENOTFOUND;

	if (sqlite3_prepare_v2(l->db, rq_index_queries[RQ_Q_GENESIS], -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW &&
	    rq_entry_parse(&e, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0)) == 0) {
		const char *rid = rq_json_str(e->body, "repository", "");
		if (rq_known_id_valid(rid)) {
			rq_buf_puts(repository, rid);
			rq_merkle_leaf_hash(leaf, e->bytes.ptr, e->bytes.len);
			memcpy(id, e->id, RQ_ID_HEX_SIZE);
			err = 0;
		}
	}
	rq_error_clear();
	rq_entry_free(e);
	sqlite3_finalize(st);
	return err;
}

/* Verify the entries [k, size) new since the memory's k entries. */
/* Remember entries [k, n) verified by this process (leaves, commits, ids
 * and named entries given for them) on top of the memory's k: 0, or the
 * error, and then the caller keeps them in RAM. */
static int remember_new(rq_ledger *l, struct rq_guard *g, uint64_t k, uint64_t n, const rq_hash *nl,
			const uint8_t (*nc)[20], const char (*ni)[RQ_ID_HEX_SIZE], const rq_named *named, size_t nnamed)
{
	bool updated = false;
	/* Only the new records: the memory holds the first k, which are never
	 * rewritten (O(new), not O(ledger), per append). A memory that holds
	 * fewer (another process rewound it) or a failed write is an error:
	 * the caller keeps the new records in RAM and says so, and the next
	 * command verifies them again. */
	return rq_known_put_all(&updated, g->repository, g->genesis, nl, nc, n, g->signers, g->nsigners, named, nnamed,
				ni, k, l->dir);
}

/* Verify the entries [k, size) new since the memory's k entries. A memory
 * whose records cannot be read is damaged: RQ_EINVALID, for a cold start. */
static int incremental(rq_ledger *l, struct rq_guard *g, const rq_known_state *st, uint64_t k)
{
	rq_verify_report r;
	struct rq_verify_from from;
	rq_entry *prev = NULL;
	rq_hash leaf;
	uint8_t commit[20];
	int err;

	memset(&r, 0, sizeof(r));
	memset(&from, 0, sizeof(from));
	/* the last remembered entry, read through its remembered commit */
	if ((err = rq_known_read_leaf_range(&leaf, g->repository, k - 1, 1)) ||
	    (err = rq_known_read_commits(&commit, g->repository, k - 1, 1)))
		goto done;
	git_oid_fromraw(&from.commit, commit);
	if (rq_ledger__entry_at(&prev, l, &from.commit) != 0) {
		rq_error_clear();
		err = refuse((int64_t)k - 1, NULL, "history rewritten: the commit verified for this entry is gone");
		goto done;
	}
	rq_hash got;
	rq_merkle_leaf_hash(got, prev->bytes.ptr, prev->bytes.len);
	if (sodium_memcmp(got, leaf, RQ_HASH_LEN) != 0) {
		err = refuse((int64_t)k - 1, prev->id, "history rewritten: not the entry verified there before");
		goto done;
	}
	from.size = k;
	memcpy(from.id, prev->id, RQ_ID_HEX_SIZE);
	from.signers = st->signers;
	from.nsigners = st->nsigners;
	if (l->preverified && l->preverified_from == k && git_oid_equal(&l->preverified_tip, &l->tip)) {
		r = *l->preverified;
		memset(l->preverified, 0, sizeof(*l->preverified));
		err = 0;
	} else {
		err = rq_ledger__verify_from(&r, l, &from);
	}
	l->preverified = NULL;
	if (err && err != RQ_EINTEGRITY)
		goto done;
	err = 0;
	if (r.nproblems) {
		err = refuse_report(&r);
		goto done;
	}
	if (!r.leaves || k + r.nleaves != l->size) {
		err = refuse(-1, NULL, "not every new entry could be read");
		goto done;
	}
	set_signers(g, st->signers, st->nsigners, k, r.signer_changes, r.nsigner_changes);
	if (remember_new(l, g, k, l->size, (const rq_hash *)r.leaves, (const uint8_t (*)[20])r.commits,
			 (const char (*)[RQ_ID_HEX_SIZE])r.ids, r.named, r.nnamed) == 0) {
		g->known = l->size;
		goto done;
	}
	/* not remembered: this process keeps the new entries in RAM */
	rq_ledger__notice("could not remember the verified ledger: %s", rq_error_last());
	rq_error_clear();
	add_extra(g, 0, (const rq_hash *)r.leaves, (const uint8_t (*)[20])r.commits, (const char (*)[RQ_ID_HEX_SIZE])r.ids,
		  r.nleaves);
	add_named(g, r.named, r.nnamed);
	g->known = k;
done:
	rq_entry_free(prev);
	rq_verify_report_release(&r);
	return err;
}

/* The memory of this repository fails its own checks (a crash, a full
 * disk, a partial restore): it holds nothing to compare with, so it is
 * dropped, and the whole ledger verified and remembered afresh. */
static int damaged(rq_ledger *l, struct rq_guard *g, const char *repository)
{
	rq_buf why = RQ_BUF_INIT;
	bool dropped;
	int err;
	rq_buf_printf(&why, "its record on this machine is damaged: %s", rq_error_last());
	rq_error_clear();
	if (rq_known_forget(&dropped, repository))
		rq_error_clear();
	err = cold(l, g, why.ptr);
	rq_buf_release(&why);
	return err;
}

/* A ledger the memory covers (its tip is entry `tip->seq` < the memory's
 * size): the tip must be the entry verified at that place, in the commit
 * verified, and this place must not have held more entries before. */
static int covered(rq_ledger *l, struct rq_guard *g, const rq_known_state *st, const char *repo,
		   const rq_entry *tip, const rq_hash tip_leaf)
{
	rq_hash mem;
	uint8_t commit[20];

	if (rq_known_read_leaf_range(&mem, repo, tip->seq, 1) || rq_known_read_commits(&commit, repo, tip->seq, 1))
		return damaged(l, g, repo);
	if (sodium_memcmp(mem, tip_leaf, RQ_HASH_LEN) != 0 || memcmp(commit, l->tip.id, 20) != 0)
		return refuse((int64_t)tip->seq, tip->id, "history rewritten: not the entry verified there before");
	if (st->place_size > l->size) {
		g->behind_place = true;
		return rq_error_set(RQ_EINTEGRITY, "ledger rolled back from %" PRIu64 " to %" PRIu64
				    " entries since it was last used here (run 'resque verify')", st->place_size, l->size);
	}
	set_signers(g, st->signers, st->nsigners, l->size, NULL, 0);
	if (st->place_size < l->size && rq_known_set_place(repo, l->dir, l->size) != 0)
		rq_error_clear(); /* a read-only home: rollback detection only */
	return 0;
}

static int guard(rq_ledger *l, struct rq_guard *g)
{
	rq_buf repo = RQ_BUF_INIT;
	rq_known k;
	rq_known_state st;
	rq_entry *tip = NULL;
	rq_hash leaf0, claimed0, tip_leaf;
	char id0[RQ_ID_HEX_SIZE];
	int err;

	memset(&st, 0, sizeof(st));
	if (!l->has_tip)
		return 0; /* an empty ledger (init writes the genesis) */
	if ((err = rq_ledger__entry_at(&tip, l, &l->tip))) {
		err = refuse((int64_t)l->size - 1, NULL, rq_error_last());
		goto done;
	}
	rq_merkle_leaf_hash(tip_leaf, tip->bytes.ptr, tip->bytes.len);
	if (claimed_genesis(&repo, claimed0, id0, l) != 0) {
		err = cold(l, g, "index.db does not name the repository");
		goto done;
	}
	err = rq_known_get(&k, NULL, repo.ptr);
	if (err == RQ_ENOTFOUND) {
		rq_error_clear();
		err = cold(l, g, "no record of an earlier verify");
		goto done;
	}
	if (err == RQ_EINVALID || (!err && (err = rq_known_state_get(&st, repo.ptr, l->dir)) == RQ_EINVALID)) {
		err = damaged(l, g, repo.ptr);
		goto done;
	}
	if (err)
		goto done;
	snprintf(g->repository, sizeof(g->repository), "%s", repo.ptr);
	memcpy(g->genesis, k.genesis, RQ_ID_HEX_SIZE);
	if (st.verified < k.size || strcmp(k.genesis, id0) != 0 ||
	    rq_known_read_leaf_range(&leaf0, repo.ptr, 0, 1) != 0 ||
	    sodium_memcmp(leaf0, claimed0, RQ_HASH_LEN) != 0) {
		rq_error_clear();
		err = cold(l, g, "the record of the last verify is incomplete");
		goto done;
	}
	g->remembered = true;
	g->known = k.size;
	if (tip->seq < k.size) {
		err = covered(l, g, &st, repo.ptr, tip, tip_leaf);
		goto done;
	}
	err = incremental(l, g, &st, k.size);
	if (err == RQ_EINVALID) {
		rq_guard_free_contents(g);
		err = damaged(l, g, repo.ptr);
	}
done:
	rq_known_state_release(&st);
	rq_entry_free(tip);
	rq_buf_release(&repo);
	return err;
}

int rq_ledger_guard(rq_ledger *l)
{
	if (l->guard)
		return 0;
	struct rq_guard *g = rq_xcalloc(1, sizeof(*g));
	int err = guard(l, g);
	/* Fewer entries than another command saw here: a rollback, or only a
	 * snapshot taken before other processes appended (and remembered) --
	 * then the branch has moved since, and a new snapshot is taken. */
	for (int tries = 0; err && g->behind_place && tries < 100; tries++) {
		git_oid now;
		if (git_reference_name_to_id(&now, l->repo, RQ_LEDGER_REF) != 0 || git_oid_equal(&now, &l->tip))
			break;
		rq_error_clear();
		rq_guard_free(g);
		g = rq_xcalloc(1, sizeof(*g));
		if ((err = rq_ledger__resnapshot(l)))
			break;
		err = guard(l, g);
	}
	if (err) {
		rq_guard_free(g);
		return err;
	}
	l->guard = g;
	return 0;
}

int rq_guard_advance(rq_ledger *l, const git_oid *tip)
{
	rq_entry *e = NULL;
	int err;

	if ((err = rq_ledger__entry_at(&e, l, tip))) {
		rq_error_prefix(err, "the ledger's new tip: ");
		return err;
	}
	git_oid_cpy(&l->tip, tip);
	l->has_tip = true;
	l->size = e->seq + 1;
	rq_entry_free(e);
	rq_guard_free(l->guard);
	l->guard = NULL;
	return rq_ledger_guard(l);
}

int rq_guard_leaf(rq_hash leaf, uint8_t commit[20], rq_ledger *l, uint64_t seq)
{
	int err;
	if ((err = rq_ledger_guard(l)))
		return err;
	struct rq_guard *g = l->guard;
	if (seq >= l->size)
		return rq_error_set(RQ_ENOTFOUND, "no entry %" PRIu64 " in the ledger", seq);
	if (g->all_leaves) {
		memcpy(leaf, g->all_leaves[seq], RQ_HASH_LEN);
		memcpy(commit, g->all_commits[seq], 20);
		return 0;
	}
	if (seq >= g->known) {
		memcpy(leaf, g->extra_leaves[seq - g->known], RQ_HASH_LEN);
		memcpy(commit, g->extra_commits[seq - g->known], 20);
		return 0;
	}
	/* Many single reads (a long lineage walk): load them all at once. */
	if (++g->leaf_reads == 256) {
		if (rq_guard_load_all(l) == 0) {
			memcpy(leaf, g->all_leaves[seq], RQ_HASH_LEN);
			memcpy(commit, g->all_commits[seq], 20);
			return 0;
		}
		rq_error_clear(); /* then one at a time, as before */
	}
	if ((err = rq_known_read_leaf_range((rq_hash *)leaf, g->repository, seq, 1)) ||
	    (err = rq_known_read_commits((uint8_t (*)[20])commit, g->repository, seq, 1)))
		return err;
	return 0;
}

int rq_guard_load_all(rq_ledger *l)
{
	int err;
	if ((err = rq_ledger_guard(l)))
		return err;
	struct rq_guard *g = l->guard;
	if (g->all_leaves || l->size == 0)
		return 0;
	rq_hash *lv = rq_xmallocarray((size_t)l->size, sizeof(*lv));
	uint8_t (*cv)[20] = rq_xmallocarray((size_t)l->size, sizeof(*cv));
	uint64_t mem = g->known < l->size ? g->known : l->size; /* a copy behind the memory */
	if (mem && ((err = rq_known_read_leaf_range(lv, g->repository, 0, mem)) ||
		    (err = rq_known_read_commits(cv, g->repository, 0, mem)))) {
		free(lv);
		free(cv);
		return err;
	}
	if (l->size > g->known) {
		memcpy(lv + g->known, g->extra_leaves, (size_t)(l->size - g->known) * sizeof(*lv));
		memcpy(cv + g->known, g->extra_commits, (size_t)(l->size - g->known) * sizeof(*cv));
	}
	g->all_leaves = lv;
	g->all_commits = cv;
	return 0;
}

void rq_guard_signers(const rq_signer_change **v, size_t *n, rq_ledger *l)
{
	*v = l->guard ? l->guard->signers : NULL;
	*n = l->guard ? l->guard->nsigners : 0;
}

bool rq_guard_row_ok(rq_ledger *l, uint64_t seq)
{
	struct rq_guard *g = l->guard;
	return g && seq < g->row_bits && (g->row_ok[seq / 8] >> (seq % 8) & 1);
}

void rq_guard_set_row_ok(rq_ledger *l, uint64_t seq)
{
	struct rq_guard *g = l->guard;
	if (!g || !l->reading || seq >= l->size)
		return; /* outside a read transaction the row may change */
	if (!g->row_ok) {
		g->row_bits = l->size;
		g->row_ok = rq_xcalloc((size_t)(g->row_bits + 7) / 8, 1);
	}
	if (seq < g->row_bits)
		g->row_ok[seq / 8] |= (uint8_t)(1u << (seq % 8));
}

void rq_guard_rows_reset(rq_ledger *l)
{
	struct rq_guard *g = l->guard;
	if (g) {
		free(g->row_ok);
		g->row_ok = NULL;
		g->row_bits = 0;
	}
}

static int by_name_seq(const void *a, const void *b)
{
	const rq_named *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* The memory's named entries before `below`, read and sorted once (again
 * only when the memory has grown: this process appended). */
static int mem_names(struct rq_guard *g, uint64_t below)
{
	int err;
	if (g->mem_named_read && g->mem_named_below == below)
		return 0;
	rq_known_names_free(g->mem_named, g->nmem_named);
	g->mem_named = NULL;
	g->nmem_named = 0;
	g->mem_named_read = false;
	if ((err = rq_known_read_names(&g->mem_named, &g->nmem_named, g->repository, below)))
		return err;
	if (g->nmem_named)
		qsort(g->mem_named, g->nmem_named, sizeof(*g->mem_named), by_name_seq);
	g->mem_named_below = below;
	g->mem_named_read = true;
	return 0;
}

int rq_guard_find_name(int64_t *seq, rq_ledger *l, const char *name, const char *type)
{
	int err;

	*seq = -1;
	if ((err = rq_ledger_guard(l)))
		return err;
	struct rq_guard *g = l->guard;
	if (g->remembered) {
		if ((err = mem_names(g, g->known < l->size ? g->known : l->size)))
			return err;
		const rq_named *v = g->mem_named;
		size_t lo = 0, hi = g->nmem_named;
		while (lo < hi) { /* the first record of `name` */
			size_t mid = lo + (hi - lo) / 2;
			if (strcmp(v[mid].name, name) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (size_t i = lo; i < g->nmem_named && strcmp(v[i].name, name) == 0; i++)
			if (!type || strcmp(v[i].type, type) == 0)
				*seq = (int64_t)v[i].seq; /* in seq order: the newest wins */
	}
	for (size_t i = 0; i < g->nnamed; i++)
		if (g->named[i].seq < l->size && strcmp(g->named[i].name, name) == 0 &&
		    (!type || strcmp(g->named[i].type, type) == 0))
			*seq = (int64_t)g->named[i].seq;
	return 0;
}

/* The change of signers an appended key entry makes (false: none). */
static bool signer_change_of(rq_signer_change *c, const rq_entry *e)
{
	const char *action = rq_json_str(e->body, "action", "");
	memset(c, 0, sizeof(*c));
	if (strcmp(e->type, "key") != 0)
		return false;
	c->seq = e->seq;
	snprintf(c->id, sizeof(c->id), "%s", rq_json_str(e->body, "id", ""));
	if (strcmp(action, "revoke") == 0) {
		c->revoke = true;
		return true;
	}
	return strcmp(action, "add") == 0 && rq_hex_decode(c->pk, 32, rq_json_str(e->body, "public", "")) == 0;
}

void rq_guard_appended(rq_ledger *l, const rq_entry *e, const rq_hash leaf, const git_oid *tip, bool remember)
{
	struct rq_guard *g = l->guard;
	uint64_t seq = l->size;
	uint8_t c[20];
	char id[RQ_ID_HEX_SIZE];
	rq_hash lf;
	rq_signer_change change;
	const char *name = rq_entry_name(e);
	rq_named nm = { seq, "", NULL };

	git_oid_cpy(&l->tip, tip);
	l->has_tip = true;
	l->size = seq + 1;
	if (!g)
		return;
	memcpy(c, tip->id, 20);
	memcpy(id, e->id, RQ_ID_HEX_SIZE);
	memcpy(lf, leaf, RQ_HASH_LEN);
	nm.name = name ? rq_xstrdup(name) : NULL;
	snprintf(nm.type, sizeof(nm.type), "%s", e->type);
	if (signer_change_of(&change, e)) {
		RQ_ALLOC_GROW(g->signers, g->nsigners + 1, g->signers_alloc);
		g->signers[g->nsigners++] = change;
	}
	if (g->all_leaves) {
		g->all_leaves = rq_xreallocarray(g->all_leaves, (size_t)l->size, sizeof(*g->all_leaves));
		g->all_commits = rq_xreallocarray(g->all_commits, (size_t)l->size, sizeof(*g->all_commits));
		memcpy(g->all_leaves[seq], leaf, RQ_HASH_LEN);
		memcpy(g->all_commits[seq], tip->id, 20);
	}
	/* Remember it at once, still under the writer's lock: a rollback of
	 * this very entry with plain git (a revoked key brought back, say)
	 * must be caught by the next command, as any other. */
	if (remember && g->remembered && g->known == seq &&
	    remember_new(l, g, seq, seq + 1, (const rq_hash *)&lf, (const uint8_t (*)[20])&c,
			 (const char (*)[RQ_ID_HEX_SIZE])&id, &nm, name ? 1 : 0) == 0) {
		g->known = seq + 1;
		goto done;
	}
	if (remember && g->remembered && g->known == seq)
		rq_ledger__notice("could not remember the verified ledger: %s", rq_error_last());
	rq_error_clear();
	if (seq >= g->known) {
		add_extra(g, seq - g->known, (const rq_hash *)&lf, (const uint8_t (*)[20])&c, (const char (*)[RQ_ID_HEX_SIZE])&id, 1);
		if (name)
			add_named(g, &nm, 1);
	}
done:
	free(nm.name);
}

int rq_guard_remember_appended(rq_ledger *l)
{
	struct rq_guard *g = l->guard;
	int err;
	if (!g || !g->remembered || l->size <= g->known)
		return 0;
	uint64_t k = g->known;
	if ((err = remember_new(l, g, k, l->size, (const rq_hash *)g->extra_leaves, (const uint8_t (*)[20])g->extra_commits,
				(const char (*)[RQ_ID_HEX_SIZE])g->extra_ids, g->named, g->nnamed)))
		return err;
	g->known = l->size;
	free(g->extra_leaves);
	free(g->extra_commits);
	free(g->extra_ids);
	g->extra_leaves = NULL;
	g->extra_commits = NULL;
	g->extra_ids = NULL;
	rq_known_names_free(g->named, g->nnamed);
	g->named = NULL;
	g->nnamed = g->named_alloc = 0;
	return 0;
}

static bool id_has_prefix(const uint8_t id[RQ_HASH_LEN], const char *low, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned nib = (i & 1) ? id[i / 2] & 0x0f : id[i / 2] >> 4;
		char c = low[i];
		unsigned want = c >= 'a' ? (unsigned)(c - 'a' + 10) : (unsigned)(c - '0');
		if (nib != want)
			return false;
	}
	return true;
}

/* The entry whose whole id is `low`, found through index.db's id column
 * and confirmed against the id the guard verified at that place (ids are
 * hashes of the entries, so no other entry has it): -1 when index.db has
 * no such row or a row that is not that entry. */
static int64_t exact_id(rq_ledger *l, const char *low)
{
	struct rq_guard *g = l->guard;
	sqlite3_stmt *st = NULL;
	int64_t seq = -1;
	uint8_t raw[RQ_HASH_LEN];

	if (sqlite3_prepare_v2(l->db, rq_index_queries[RQ_Q_BY_ID], -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, low, RQ_ID_HEX_SIZE - 1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		seq = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (seq < 0 || (uint64_t)seq >= l->size)
		return -1;
	uint64_t mem = g->remembered ? (g->known < l->size ? g->known : l->size) : 0;
	if (++g->id_reads == 256 && mem && !g->mem_ids) { /* a long lineage walk: read them all once */
		g->mem_ids = rq_xmallocarray((size_t)mem, sizeof(*g->mem_ids));
		g->mem_ids_n = mem;
		if (rq_known_read_ids(g->mem_ids, g->repository, 0, mem) != 0) {
			rq_error_clear();
			free(g->mem_ids);
			g->mem_ids = NULL;
		}
	}
	if ((uint64_t)seq < mem && g->mem_ids && (uint64_t)seq < g->mem_ids_n)
		memcpy(raw, g->mem_ids[seq], RQ_HASH_LEN);
	else if ((uint64_t)seq < mem ? rq_known_read_ids(&raw, g->repository, (uint64_t)seq, 1) != 0
				     : rq_hex_decode(raw, RQ_HASH_LEN, g->extra_ids[(uint64_t)seq - g->known]) != 0) {
		rq_error_clear();
		return -1;
	}
	return id_has_prefix(raw, low, RQ_ID_HEX_SIZE - 1) ? seq : -1;
}

int rq_guard_find_id(int64_t *seq, size_t *matches, rq_ledger *l, const char *low, size_t len)
{
	uint64_t mem;
	int err;

	*seq = -1;
	*matches = 0;
	if ((err = rq_ledger_guard(l)))
		return err;
	struct rq_guard *g = l->guard;
	/* A whole id: one row of index.db, confirmed. A prefix: every verified
	 * id, since index.db could hide a second match of it. */
	if (len == RQ_ID_HEX_SIZE - 1 && (*seq = exact_id(l, low)) >= 0) {
		*matches = 1;
		return 0;
	}
	mem = g->remembered ? (g->known < l->size ? g->known : l->size) : 0;
	if (mem) {
		uint8_t (*ids)[RQ_HASH_LEN] = rq_xcalloc((size_t)mem, sizeof(*ids));
		if ((err = rq_known_read_ids(ids, g->repository, 0, mem)) == 0)
			for (uint64_t i = 0; i < mem; i++)
				if (id_has_prefix(ids[i], low, len)) {
					*seq = (int64_t)i;
					(*matches)++;
				}
		free(ids);
		if (err)
			return err;
	}
	for (uint64_t i = mem; i < l->size; i++) {
		uint8_t raw[RQ_HASH_LEN];
		if (rq_hex_decode(raw, 32, g->extra_ids[i - g->known]) == 0 && id_has_prefix(raw, low, len)) {
			*seq = (int64_t)i;
			(*matches)++;
		}
	}
	return 0;
}

uint64_t rq_guard_known(rq_ledger *l)
{
	return l->guard && l->guard->remembered ? l->guard->known : 0;
}
