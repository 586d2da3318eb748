/* resque verify: every check of docs/FORMATS.md over the ledger as git holds
 * it (not as index.db says), then index.db against the ledger. */
#include "common.h"
#include "ledger_int.h"
#include "object_int.h"
#include "evidence.h"
#include "resque/fingerprint.h"
#include "json.h"
#include "merkle.h"
#include "parallel_int.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>

/* Entries are read, parsed and their signatures checked on every core, a
 * batch at a time (bounded memory); the checks that depend on the entries
 * before (sequence, chain, signer authorisation) run in order between. */
#define BATCH 4096

struct signer {
	char id[RQ_KEY_ID_HEX + 1];
	uint8_t pk[RQ_PUBKEY_LEN];
	bool revoked;
	uint64_t revoked_at;
};

struct state {
	rq_verify_report *r;
	struct signer *signers;
	size_t nsigners, signers_alloc;
};

/* The formatted message, malloc'd. */
static char *vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static char *vformat(const char *fmt, va_list ap)
{
	rq_buf m = RQ_BUF_INIT;
	rq_buf_vprintf(&m, fmt, ap);
	return rq_buf_detach(&m, NULL);
}

void rq_verify_report_add(rq_verify_report *r, int64_t seq, const char *id, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *message = vformat(fmt, ap);
	va_end(ap);
	RQ_ALLOC_GROW(r->problems, r->nproblems + 1, r->problems_alloc);
	rq_problem *p = &r->problems[r->nproblems++];
	p->seq = seq;
	snprintf(p->id, sizeof(p->id), "%s", id ? id : "");
	p->message = message;
}

void rq_verify_report_release(rq_verify_report *r)
{
	for (size_t i = 0; i < r->nproblems; i++)
		free(r->problems[i].message);
	free(r->problems);
	free(r->leaves);
	free(r->commits);
	free(r->ids);
	for (size_t i = 0; i < r->nnamed; i++)
		free(r->named[i].name);
	free(r->named);
	free(r->signer_changes);
	memset(r, 0, sizeof(*r));
}

static struct signer *find_signer(struct state *s, const char *id)
{
	for (size_t i = 0; i < s->nsigners; i++)
		if (strcmp(s->signers[i].id, id) == 0)
			return &s->signers[i];
	return NULL;
}

static void record_change(struct state *s, uint64_t seq, bool revoke, const char *id, const uint8_t pk[RQ_PUBKEY_LEN])
{
	rq_verify_report *r = s->r;
	RQ_ALLOC_GROW(r->signer_changes, r->nsigner_changes + 1, r->signer_changes_alloc);
	rq_signer_change *c = &r->signer_changes[r->nsigner_changes++];
	memset(c, 0, sizeof(*c));
	c->seq = seq;
	c->revoke = revoke;
	snprintf(c->id, sizeof(c->id), "%s", id);
	if (pk)
		memcpy(c->pk, pk, RQ_PUBKEY_LEN);
}

static void add_signer(struct state *s, const char *id, const uint8_t pk[RQ_PUBKEY_LEN])
{
	struct signer *g = find_signer(s, id);
	if (!g) {
		RQ_ALLOC_GROW(s->signers, s->nsigners + 1, s->signers_alloc);
		g = &s->signers[s->nsigners++];
		snprintf(g->id, sizeof(g->id), "%s", id);
	}
	memcpy(g->pk, pk, RQ_PUBKEY_LEN);
	g->revoked = false;
}

/* What reindex writes to index.db of an entry (but its commit). */
struct row {
	char id[RQ_ID_HEX_SIZE];
	uint8_t digest[32]; /* BLAKE2b-256 of its bytes: faster to compare index.db's copy with than its leaf */
	char *type, *time, *signer, *name, *summary;
};

static void row_of(struct row *w, const rq_entry *e)
{
	rq_buf sum = RQ_BUF_INIT;
	const char *name = rq_entry_name(e);
	memcpy(w->id, e->id, RQ_ID_HEX_SIZE);
	w->type = rq_xstrdup(e->type);
	w->time = rq_xstrdup(e->time);
	w->signer = rq_xstrdup(e->signer);
	w->name = name ? rq_xstrdup(name) : NULL;
	rq_entry_summary(&sum, e);
	w->summary = rq_buf_detach(&sum, NULL);
}

static void row_release(struct row *w)
{
	free(w->type);
	free(w->time);
	free(w->signer);
	free(w->name);
	free(w->summary);
	memset(w, 0, sizeof(*w));
}

/* Problem messages of one entry found by a worker, in order. */
struct msgs {
	char **v;
	size_t n, alloc;
};

static void msg_add(struct msgs *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void msg_add(struct msgs *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *message = vformat(fmt, ap);
	va_end(ap);
	RQ_ALLOC_GROW(m->v, m->n + 1, m->alloc);
	m->v[m->n++] = message;
}

/* A tree's entries. From the raw bytes when the tree is well-formed
 * (known modes, names that are plain file names, strictly in git's order,
 * so that a look-up by name finds what libgit2's would); else from
 * libgit2's parse of it, whose look-ups are then used as they always were. */
struct tent {
	unsigned mode;
	const char *name;
	const git_oid *id;
};

struct rtree {
	git_tree *git;  /* when libgit2 parsed it */
	rq_buf raw;
	struct tent *v;
	size_t n, alloc;
};

static git_object_t tent_type(const struct tent *t)
{
	return (t->mode & 0170000) == 0160000 ? GIT_OBJECT_COMMIT
	       : (t->mode & 0170000) == 0040000 ? GIT_OBJECT_TREE : GIT_OBJECT_BLOB;
}

/* git's order of tree entries: a folder's name compares as if it ended in '/' */
static int tent_cmp(const struct tent *a, const struct tent *b)
{
	size_t la = strlen(a->name), lb = strlen(b->name), n = la < lb ? la : lb;
	int c = memcmp(a->name, b->name, n);
	if (c)
		return c;
	unsigned char ca = la > n ? (unsigned char)a->name[n] : tent_type(a) == GIT_OBJECT_TREE ? '/' : 0;
	unsigned char cb = lb > n ? (unsigned char)b->name[n] : tent_type(b) == GIT_OBJECT_TREE ? '/' : 0;
	return (int)ca - (int)cb;
}

static bool parse_raw_tree(struct rtree *t)
{
	static const struct { const char *text; unsigned mode; } modes[] = {
		{ "100644", 0100644 }, { "100755", 0100755 }, { "120000", 0120000 },
		{ "40000", 040000 },   { "160000", 0160000 },
	};
	const char *p = t->raw.ptr, *end = t->raw.ptr + t->raw.len;

	t->n = 0;
	while (p < end) {
		const char *sp = memchr(p, ' ', (size_t)(end - p)), *nul;
		size_t m = 0;
		if (!sp)
			return false;
		while (m < RQ_ARRAY_SIZE(modes) &&
		       (strlen(modes[m].text) != (size_t)(sp - p) || memcmp(p, modes[m].text, (size_t)(sp - p)) != 0))
			m++;
		nul = memchr(sp + 1, '\0', (size_t)(end - sp - 1));
		if (m == RQ_ARRAY_SIZE(modes) || !nul || nul == sp + 1 || end - nul - 1 < GIT_OID_RAWSZ ||
		    memchr(sp + 1, '/', (size_t)(nul - sp - 1)) || strcmp(sp + 1, ".") == 0 || strcmp(sp + 1, "..") == 0)
			return false;
		RQ_ALLOC_GROW(t->v, t->n + 1, t->alloc);
		t->v[t->n] = (struct tent){ modes[m].mode, sp + 1, (const git_oid *)(const void *)(nul + 1) };
		if (t->n && tent_cmp(&t->v[t->n - 1], &t->v[t->n]) >= 0)
			return false;
		t->n++;
		p = nul + 1 + GIT_OID_RAWSZ;
	}
	return true;
}

static const struct tent *rtree_byname(const struct rtree *t, const char *name)
{
	if (t->git) {
		const git_tree_entry *x = git_tree_entry_byname(t->git, name);
		for (size_t i = 0; x && i < t->n; i++)
			if (git_tree_entry_byindex(t->git, i) == x)
				return &t->v[i];
		return NULL;
	}
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].name, name) == 0)
			return &t->v[i];
	return NULL;
}

static void rtree_release(struct rtree *t)
{
	git_tree_free(t->git);
	rq_buf_release(&t->raw);
	free(t->v);
	t->git = NULL;
	t->v = NULL;
	t->n = t->alloc = 0;
}

/* What a worker reads with: its repository (worker 0: the ledger's own)
 * and the repository's packs alone, which it reads first (store/object.c:
 * no loose file looked for, no libgit2 object built or cached); anything
 * not read there (a loose object, or one that is missing, corrupt or of
 * the wrong type) goes through the guarded reads, which name the problem
 * exactly as they always have. */
struct reader {
	git_repository *repo;
	rq_packs *packs;      /* NULL: the guarded reads alone */
	bool own_repo;
	struct rtree tree, att; /* scratch: the entry's tree, its attachment folder */
	rq_buf entry, sig, data;
};

static int reader_open(struct reader *rd, rq_ledger *l, bool own)
{
	memset(rd, 0, sizeof(*rd));
	rq_buf_init(&rd->entry);
	rq_buf_init(&rd->sig);
	rq_buf_init(&rd->data);
	rq_buf_init(&rd->tree.raw);
	rq_buf_init(&rd->att.raw);
	if (own && git_repository_open_bare(&rd->repo, l->dir))
		return -1;
	rd->own_repo = own;
	if (!own)
		rd->repo = l->repo;
	if (rq_packs_open(&rd->packs, rd->repo))
		rq_error_clear(); /* the guarded reads still work */
	return 0;
}

/* Worker `worker`'s reader, opened on first use (NULL if it cannot be). */
static struct reader *reader_of(struct reader *readers, rq_ledger *l, size_t worker)
{
	struct reader *rd = &readers[worker];
	if (!rd->repo && reader_open(rd, l, worker != 0))
		return NULL;
	return rd;
}

static void reader_release(struct reader *rd)
{
	rtree_release(&rd->tree);
	rtree_release(&rd->att);
	rq_buf_release(&rd->entry);
	rq_buf_release(&rd->sig);
	rq_buf_release(&rd->data);
	rq_packs_free(rd->packs);
	if (rd->own_repo)
		git_repository_free(rd->repo);
	memset(rd, 0, sizeof(*rd));
}

/* A blob's bytes appended to `out`, as rq_object_blob gives them. */
static int read_blob(rq_buf *out, struct reader *rd, const git_oid *id)
{
	if (rq_packs_read(out, rd->packs, id, GIT_OBJECT_BLOB) == 0)
		return 0;
	return rq_object_blob(out, rd->repo, id);
}

/* Tree `id` into t (released first); rq_object_tree's error. */
static int rtree_load(struct rtree *t, struct reader *rd, const git_oid *id)
{
	int err;

	git_tree_free(t->git);
	t->git = NULL;
	t->n = 0;
	rq_buf_reset(&t->raw);
	if (rq_packs_read(&t->raw, rd->packs, id, GIT_OBJECT_TREE) == 0 && parse_raw_tree(t))
		return 0;
	t->n = 0;
	if ((err = rq_object_tree(&t->git, rd->repo, id)))
		return err;
	for (size_t i = 0; i < git_tree_entrycount(t->git); i++) {
		const git_tree_entry *x = git_tree_entry_byindex(t->git, i);
		RQ_ALLOC_GROW(t->v, t->n + 1, t->alloc);
		t->v[t->n++] = (struct tent){ (unsigned)git_tree_entry_filemode_raw(x), git_tree_entry_name(x),
					      git_tree_entry_id(x) };
	}
	return 0;
}

/* The entry's tree must hold exactly `entry` and `sig`, regular files
 * (mode 100644), and, when the entry records attachments, the folder `att`
 * holding exactly those, each a regular file that matches its recorded
 * fingerprint and size. Anything else (an extra file, a subdirectory, an
 * executable, a symlink, a submodule) is reported. */
static void check_attachments(struct msgs *out, struct reader *rd, const rq_entry *e)
{
	static const char *const names[3] = { "entry", "sig", "att" };
	json_t *atts = json_object_get(e->body, "attachments");
	const struct rtree *tree = &rd->tree;
	const struct tent *te = rtree_byname(tree, "att");
	struct rtree *at = NULL;
	rq_buf *data = &rd->data;
	size_t seen[3] = { 0, 0, 0 };
	const char *name;
	json_t *rec;

	for (size_t i = 0; i < tree->n; i++) {
		const char *n = tree->v[i].name;
		unsigned mode = tree->v[i].mode;
		size_t w = 0;
		while (w < 3 && strcmp(n, names[w]) != 0)
			w++;
		if (w == 3)
			msg_add(out, "its tree holds '%s' (mode %06o), which an entry's tree may not", n, mode);
		else if (++seen[w] > 1)
			msg_add(out, "its tree holds '%s' more than once", n);
		else if (w < 2 && mode != 0100644)
			msg_add(out, "'%s' in its tree has mode %06o, not 100644 (a regular file)", n, mode);
		else if (w == 2 && mode != 040000)
			msg_add(out, "'att' in its tree has mode %06o, not 040000 (a folder)", mode);
	}
	if (atts && !json_is_object(atts)) {
		msg_add(out, "its attachments record is not an object");
		return;
	}
	if (te && json_object_size(atts) == 0)
		msg_add(out, "its tree has an attachment folder but the entry records no attachments");
	if (te && tent_type(te) != GIT_OBJECT_TREE) {
		msg_add(out, "its attachment folder is not a folder");
		te = NULL;
	}
	if (te) {
		if (rtree_load(&rd->att, rd, te->id)) {
			msg_add(out, "its attachment folder cannot be read: %s", rq_error_last());
			return;
		}
		at = &rd->att;
	}
	json_object_foreach(atts, name, rec) {
		const struct tent *ae = at ? rtree_byname(at, name) : NULL;
		rq_buf_reset(data);
		if (!ae || tent_type(ae) != GIT_OBJECT_BLOB) {
			msg_add(out, "attachment '%s' is missing", name);
			continue;
		}
		if (read_blob(data, rd, ae->id)) {
			msg_add(out, "attachment '%s': %s", name, rq_error_last());
			continue;
		}
		char fp[RQ_FINGERPRINT_SIZE];
		rq_fingerprint_bytes(fp, data->ptr, data->len);
		if (strcmp(fp, rq_json_str(rec, "fingerprint", "")) != 0 ||
		    (json_int_t)data->len != rq_json_int(rec, "bytes", -1))
			msg_add(out, "attachment '%s' does not match its recorded fingerprint", name);
	}
	for (size_t i = 0; at && i < at->n; i++) {
		const char *n = at->v[i].name;
		unsigned mode = at->v[i].mode;
		if (!json_object_get(atts, n))
			msg_add(out, "attachment '%s' is not recorded in the entry", n);
		else if (mode != 0100644)
			msg_add(out, "attachment '%s' has mode %06o, not 100644 (a regular file)", n, mode);
	}
	rq_buf_reset(data);
}

/* The authorisation rules: genesis names the first signer; key entries
 * add and revoke signers and may be written only by a current signer.
 * The signature of an entry that changes no signer is left to the caller
 * (*defer_pk set to the key to check it with, *deferred true): those are
 * checked on every core after the batch; key entries are checked here, as
 * the signers that follow depend on them. */
static void check_signer(struct state *s, const rq_entry *e, const uint8_t sig[RQ_SIG_LEN], bool genesis,
			 bool *deferred, uint8_t defer_pk[RQ_PUBKEY_LEN])
{
	if (genesis) {
		json_t *k = json_object_get(e->body, "key");
		uint8_t pk[RQ_PUBKEY_LEN];
		if (strcmp(rq_json_str(k, "id", ""), e->signer) != 0 ||
		    rq_hex_decode(pk, 32, rq_json_str(k, "public", "")) != 0) {
			rq_verify_report_add(s->r, 0, e->id, "genesis entry does not name its signer's public key");
			return;
		}
		char id[RQ_KEY_ID_HEX + 1];
		rq_key_id_of(id, pk);
		if (strcmp(id, e->signer) != 0)
			rq_verify_report_add(s->r, 0, e->id, "genesis key id does not match its public key");
		add_signer(s, e->signer, pk);
		record_change(s, 0, false, e->signer, pk);
	}
	struct signer *g = find_signer(s, e->signer);
	if (!g) {
		rq_verify_report_add(s->r, (int64_t)e->seq, e->id, "signed by key %s, which is not a signer of this ledger",
			e->signer);
		return;
	}
	if (g->revoked) {
		rq_verify_report_add(s->r, (int64_t)e->seq, e->id, "signed by key %s, which was revoked at entry %" PRIu64,
			e->signer, g->revoked_at);
		return;
	}
	if (strcmp(e->type, "key") != 0) {
		memcpy(defer_pk, g->pk, RQ_PUBKEY_LEN);
		*deferred = true;
		return;
	}
	if (!rq_entry_sig_check(e, sig, g->pk)) {
		rq_verify_report_add(s->r, (int64_t)e->seq, e->id, "bad signature (key %s)", e->signer);
		return;
	}
	{
		const char *action = rq_json_str(e->body, "action", ""), *id = rq_json_str(e->body, "id", "");
		uint8_t pk[RQ_PUBKEY_LEN];
		char calc[RQ_KEY_ID_HEX + 1];
		if (strcmp(action, "add") == 0) {
			if (rq_hex_decode(pk, 32, rq_json_str(e->body, "public", "")) != 0) {
				rq_verify_report_add(s->r, (int64_t)e->seq, e->id, "key entry has no valid public key");
				return;
			}
			rq_key_id_of(calc, pk);
			if (strcmp(calc, id) != 0) {
				rq_verify_report_add(s->r, (int64_t)e->seq, e->id, "key entry's id does not match its public key");
				return;
			}
			add_signer(s, id, pk);
			record_change(s, e->seq, false, id, pk);
		} else if (strcmp(action, "revoke") == 0) {
			struct signer *v = find_signer(s, id);
			if (!v) {
				rq_verify_report_add(s->r, (int64_t)e->seq, e->id, "revokes key %s, which is not a signer", id);
				return;
			}
			v->revoked = true;
			v->revoked_at = e->seq;
			record_change(s, e->seq, true, id, NULL);
		} else {
			rq_verify_report_add(s->r, (int64_t)e->seq, e->id, "key entry with unknown action '%s'", action);
		}
	}
}

static bool text_eq(sqlite3_stmt *st, int col, const char *want)
{
	const char *got = (const char *)sqlite3_column_text(st, col);
	if (!want)
		return sqlite3_column_type(st, col) == SQLITE_NULL;
	return got && sqlite3_column_type(st, col) == SQLITE_TEXT &&
	       (size_t)sqlite3_column_bytes(st, col) == strlen(want) && strcmp(got, want) == 0;
}

/* index.db's entries table read and compared on a thread of its own while
 * the entries are read (it would otherwise be the serial tail of verify):
 * what check_index reports is kept per row, in index.db's order, and
 * reported by the caller's thread afterwards, as if read then. Each row
 * waits until the entry of its seq is checked (rows[seq] filled). */
struct iscan_row {
	int64_t seq;
	int bad;  /* -1, or the first column that disagrees (cols[] below) */
	char *id; /* index.db's id, for a row that is not in the ledger */
};

struct iscan {
	rq_ledger *l;
	const struct row *rows;
	const git_oid *commits;
	size_t n;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t ready;   /* rows[0, ready) are filled */
	bool stop;      /* the entries' check ended early: read no further */
	struct iscan_row *v;
	size_t nv, alloc;
	char *error;    /* "index.db cannot be read: ..." after the rows read */
	bool prepared;
	pthread_t tid;
	bool started;
};

static const char *const index_cols[] = { "id", "commit_oid", "type", "time", "signer", "name", "summary", "entry" };

/* The first column of index.db's row (at st) that disagrees with w, or -1. */
static int row_disagrees(sqlite3_stmt *st, const struct row *w, const git_oid *commit)
{
	char hex[GIT_OID_HEXSZ + 1];
	uint8_t digest[32];

	git_oid_tostr(hex, sizeof(hex), commit);
	if (!text_eq(st, 1, w->id))
		return 0;
	if (!text_eq(st, 2, hex))
		return 1;
	if (!text_eq(st, 3, w->type))
		return 2;
	if (!text_eq(st, 4, w->time))
		return 3;
	if (!text_eq(st, 5, w->signer))
		return 4;
	if (!text_eq(st, 6, w->name))
		return 5;
	if (!text_eq(st, 7, w->summary))
		return 6;
	crypto_generichash(digest, sizeof(digest), sqlite3_column_blob(st, 8),
			   (unsigned long long)sqlite3_column_bytes(st, 8), NULL, 0);
	if (sqlite3_column_type(st, 8) != SQLITE_BLOB || memcmp(digest, w->digest, sizeof(digest)) != 0)
		return 7;
	return -1;
}

static char *read_error(sqlite3 *db)
{
	rq_buf m = RQ_BUF_INIT;
	rq_buf_printf(&m, "index.db cannot be read: %s", sqlite3_errmsg(db));
	return rq_buf_detach(&m, NULL);
}

/* Wait until rows[seq] is filled; false when the entries' check stopped. */
static bool iscan_wait(struct iscan *sc, size_t seq)
{
	bool ok;
	pthread_mutex_lock(&sc->mu);
	while (sc->ready <= seq && !sc->stop)
		pthread_cond_wait(&sc->cv, &sc->mu);
	ok = sc->ready > seq;
	pthread_mutex_unlock(&sc->mu);
	return ok;
}

static void *iscan_main(void *arg)
{
	struct iscan *sc = arg;
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(sc->l->db,
			       "SELECT seq, id, commit_oid, type, time, signer, name, summary, entry FROM entries ORDER BY seq",
			       -1, &st, NULL) != SQLITE_OK) {
		sc->error = read_error(sc->l->db);
		return NULL;
	}
	sc->prepared = true;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct iscan_row x = { sqlite3_column_int64(st, 0), -1, NULL };
		if (x.seq < 0 || (size_t)x.seq >= sc->n) {
			const char *id = (const char *)sqlite3_column_text(st, 1);
			x.id = id ? rq_xstrdup(id) : NULL;
		} else if (!iscan_wait(sc, (size_t)x.seq)) {
			rc = SQLITE_DONE;
			break;
		} else if (sc->rows[x.seq].id[0]) { /* else the entry's own problem says enough */
			x.bad = row_disagrees(st, &sc->rows[x.seq], &sc->commits[x.seq]);
		}
		RQ_ALLOC_GROW(sc->v, sc->nv + 1, sc->alloc);
		sc->v[sc->nv++] = x;
	}
	if (rc != SQLITE_DONE)
		sc->error = read_error(sc->l->db);
	sqlite3_finalize(st);
	return NULL;
}

/* Start reading index.db beside the entries' check (run inline when no
 * thread can be made). */
static void iscan_start(struct iscan *sc, rq_ledger *l, const struct row *rows, const git_oid *commits, size_t n)
{
	memset(sc, 0, sizeof(*sc));
	sc->l = l;
	sc->rows = rows;
	sc->commits = commits;
	sc->n = n;
	pthread_mutex_init(&sc->mu, NULL);
	pthread_cond_init(&sc->cv, NULL);
	sc->started = pthread_create(&sc->tid, NULL, iscan_main, sc) == 0;
}

/* rows[0, ready) are filled (stop: no more will be). */
static void iscan_ready(struct iscan *sc, size_t ready, bool stop)
{
	if (!sc)
		return;
	pthread_mutex_lock(&sc->mu);
	sc->ready = ready;
	sc->stop = stop;
	pthread_cond_broadcast(&sc->cv);
	pthread_mutex_unlock(&sc->mu);
}

/* Wait for the read to end (or read now, when it had no thread). */
static void iscan_finish(struct iscan *sc)
{
	iscan_ready(sc, sc->n, true);
	if (sc->started)
		pthread_join(sc->tid, NULL);
	else
		iscan_main(sc);
	sc->started = false;
}

static void iscan_release(struct iscan *sc)
{
	for (size_t i = 0; i < sc->nv; i++)
		free(sc->v[i].id);
	free(sc->v);
	free(sc->error);
	pthread_mutex_destroy(&sc->mu);
	pthread_cond_destroy(&sc->cv);
	memset(sc, 0, sizeof(*sc));
}

/* Every column of every row of index.db's entries table against what
 * reindex would write from the ledger (rows[i], commits[i]), as read by
 * the scan `sc` (finished); rows past the ledger's `n` entries count only
 * when the tip has not moved since verify began (else another process is
 * appending them). */
static void check_index(struct state *s, struct iscan *sc, rq_ledger *l, struct row *rows, const git_oid *commits,
			size_t n, const git_oid *tip)
{
	sqlite3_stmt *st = NULL;
	size_t count = 0;
	char hex[GIT_OID_HEXSZ + 1];
	bool moved = false;
	git_oid now;

	if (git_reference_name_to_id(&now, l->repo, RQ_LEDGER_REF) == 0 && tip && !git_oid_equal(&now, tip))
		moved = true;
	for (size_t i = 0; i < sc->nv; i++) {
		const struct iscan_row *x = &sc->v[i];
		if (x->seq >= 0 && (size_t)x->seq >= n && moved)
			continue;
		count++;
		if (x->seq < 0 || (size_t)x->seq >= n)
			rq_verify_report_add(s->r, x->seq, x->id, "index.db lists entry %lld, which is not in the ledger",
				(long long)x->seq);
		else if (x->bad >= 0)
			rq_verify_report_add(s->r, x->seq, rows[x->seq].id,
				"index.db disagrees with the ledger about entry %lld: its %s (run 'resque reindex')",
				(long long)x->seq, index_cols[x->bad]);
	}
	if (sc->error) {
		rq_verify_report_add(s->r, -1, NULL, "%s", sc->error);
		return;
	}
	size_t good = 0;
	for (size_t i = 0; i < n; i++)
		good += rows[i].id[0] != '\0';
	if (count < good)
		rq_verify_report_add(s->r, -1, NULL, "index.db lacks %zu entries of the ledger (run 'resque reindex')", good - count);
	/* the index's tip must be the ledger's, or readers trust a stale index */
	if (n && sqlite3_prepare_v2(l->db, "SELECT value FROM meta WHERE key='tip'", -1, &st, NULL) == SQLITE_OK) {
		git_oid_tostr(hex, sizeof(hex), &commits[n - 1]);
		if (!moved && (sqlite3_step(st) != SQLITE_ROW || !text_eq(st, 0, hex)))
			rq_verify_report_add(s->r, -1, NULL, "index.db's recorded tip is not the ledger's (run 'resque reindex')");
		sqlite3_finalize(st);
	}
}

/* index.db's transparency log (table `merkle`) must hold exactly the
 * perfect subtrees of the leaves recomputed from the ledger's bytes. */
static void check_merkle(struct state *s, rq_ledger *l, const rq_merkle_levels *t, const git_oid *tip)
{
	sqlite3_stmt *st = NULL;
	uint64_t rows = 0, want = 0, n = t->depth ? t->count[0] : 0;
	bool ok = true, moved = false;
	git_oid now;
	int rc;

	/* nodes over entries appended since verify began are not its concern */
	if (git_reference_name_to_id(&now, l->repo, RQ_LEDGER_REF) == 0 && tip && !git_oid_equal(&now, tip))
		moved = true;

	if (sqlite3_prepare_v2(l->db, "SELECT level, idx, hash FROM merkle", -1, &st, NULL) != SQLITE_OK) {
		rq_verify_report_add(s->r, -1, NULL, "index.db cannot be read: %s", sqlite3_errmsg(l->db));
		return;
	}
	while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		sqlite3_int64 level = sqlite3_column_int64(st, 0), idx = sqlite3_column_int64(st, 1);
		if (moved && level >= 0 && level < 63 && idx >= 0 &&
		    ((uint64_t)idx + 1) << level > n)
			continue;
		rows++;
		ok = level >= 0 && level < (sqlite3_int64)t->depth && idx >= 0 &&
		     (uint64_t)idx < t->count[level] && sqlite3_column_bytes(st, 2) == RQ_HASH_LEN &&
		     memcmp(sqlite3_column_blob(st, 2), t->level[level][idx], RQ_HASH_LEN) == 0;
	}
	if (ok && rc != SQLITE_DONE) {
		rq_verify_report_add(s->r, -1, NULL, "index.db cannot be read: %s", sqlite3_errmsg(l->db));
		sqlite3_finalize(st);
		return;
	}
	sqlite3_finalize(st);
	for (unsigned i = 0; i < t->depth; i++)
		want += t->count[i];
	if (!ok || rows != want)
		rq_verify_report_add(s->r, -1, NULL, "index.db's Merkle tree disagrees with the ledger (run 'resque reindex')");
}

/* One entry of a batch: what a worker read and checked (phase 1), what
 * the ordered checks left for the signature check (phase 2), and its
 * outcome (phase 3). */
enum item_state { IT_UNREAD, IT_NO_COMMIT, IT_NO_ENTRY, IT_BAD_ENTRY, IT_PARSED };
enum sig_state { SIG_NONE, SIG_MALFORMED, SIG_PARSED };

struct item {
	enum item_state state;
	rq_entry *e;         /* IT_PARSED; its JSON kept only for init and key entries */
	char *error;         /* IT_BAD_ENTRY: why */
	char hash[RQ_HASH_HEX_SIZE];       /* IT_BAD_ENTRY: SHA-256 of the bytes */
	rq_hash leaf;
	enum sig_state sig;
	char keyid[RQ_KEY_ID_HEX + 1];
	uint8_t sigbytes[RQ_SIG_LEN];
	char *sigtext;       /* the signature file, when the caller keeps the entries */
	struct msgs att;     /* attachment problems */
	struct row row;      /* what reindex would write of it (but the commit) */
	bool deferred, sig_ok;
	uint8_t pk[RQ_PUBKEY_LEN];
	size_t pos;          /* where a bad signature's problem goes */
};

struct batch {
	rq_ledger *l;
	const git_oid *trees; /* tree of each commit of the chain */
	size_t first;
	struct item *items;
	struct reader *readers; /* one per worker; worker 0's reads through l->repo */
	bool keep;              /* the caller keeps the entries: keep their JSON and signatures */
	_Atomic bool repo_failed;
};

static struct reader *worker_reader(struct batch *b, size_t worker)
{
	return reader_of(b->readers, b->l, worker);
}

/* Why a worker could not read this entry's objects: the entry is bad. */
static void item_unreadable(struct item *x, const char *what)
{
	rq_buf m = RQ_BUF_INIT;
	rq_buf_printf(&m, "%s: %s", what, rq_error_last());
	x->state = IT_BAD_ENTRY;
	x->error = rq_buf_detach(&m, NULL);
}

/* The signature file `te` of the entry's tree (NULL: none). */
static void read_sig(struct item *x, struct reader *rd, const struct tent *te, bool keep)
{
	rq_buf *sb = &rd->sig;

	rq_buf_reset(sb);
	if (te && (tent_type(te) != GIT_OBJECT_BLOB || read_blob(sb, rd, te->id))) {
		x->sig = SIG_MALFORMED;
		if (tent_type(te) == GIT_OBJECT_BLOB)
			msg_add(&x->att, "its signature file: %s", rq_error_last());
	} else if (te) {
		if (keep)
			x->sigtext = rq_xstrndup(sb->ptr, sb->len);
		if (sb->len > 0)
			x->sig = rq_entry_sig_parse(x->keyid, x->sigbytes, sb->ptr, sb->len) ? SIG_MALFORMED
											    : SIG_PARSED;
	}
}

static void read_item(void *ctx, size_t worker, size_t k)
{
	struct batch *b = ctx;
	struct item *x = &b->items[k];
	struct reader *rd = worker_reader(b, worker);
	rq_buf *eb;
	const struct tent *te;

	if (!rd) {
		atomic_store(&b->repo_failed, true);
		return;
	}
	eb = &rd->entry;
	rq_buf_reset(eb);
	/* Every object through the guarded reads of store/object.c: a
	 * missing or corrupt one is this entry's problem, named, not a hang. */
	if (rtree_load(&rd->tree, rd, &b->trees[b->first + k])) {
		item_unreadable(x, "its tree");
		goto done;
	}
	te = rtree_byname(&rd->tree, "entry");
	if (!te) {
		x->state = IT_NO_ENTRY;
		goto done;
	}
	if (tent_type(te) != GIT_OBJECT_BLOB) {
		rq_error_set(RQ_EINTEGRITY, "it is not a file");
		item_unreadable(x, "its entry file");
		goto done;
	}
	if (read_blob(eb, rd, te->id)) {
		item_unreadable(x, "its entry file");
		goto done;
	}
	read_sig(x, rd, rtree_byname(&rd->tree, "sig"), b->keep);
	if (rq_entry_parse(&x->e, eb->ptr, eb->len)) {
		x->state = IT_BAD_ENTRY;
		x->error = rq_xstrdup(rq_error_last());
		rq_sha256_hex(x->hash, eb->ptr, eb->len);
		goto done;
	}
	x->state = IT_PARSED;
	rq_merkle_leaf_hash(x->leaf, eb->ptr, eb->len);
	check_attachments(&x->att, rd, x->e);
	row_of(&x->row, x->e);
	crypto_generichash(x->row.digest, sizeof(x->row.digest), (const unsigned char *)eb->ptr, eb->len, NULL, 0);
	if (!b->keep && strcmp(x->e->type, "init") != 0 && strcmp(x->e->type, "key") != 0) {
		/* the ordered checks need only the fixed fields */
		json_decref(x->e->root);
		x->e->root = NULL;
		x->e->body = NULL;
	}
done:
	rq_error_clear();
}

static void check_sig(void *ctx, size_t worker, size_t k)
{
	struct item *x = &((struct batch *)ctx)->items[k];
	(void)worker;
	if (x->deferred)
		x->sig_ok = rq_entry_sig_check(x->e, x->sigbytes, x->pk);
}

static void item_release(struct item *x)
{
	row_release(&x->row);
	rq_entry_free(x->e);
	free(x->sigtext);
	free(x->error);
	for (size_t i = 0; i < x->att.n; i++)
		free(x->att.v[i]);
	free(x->att.v);
	memset(x, 0, sizeof(*x));
}

/* Put the bad signatures found by phase 3 into the report, each where
 * check_signer would have put it, after problem `start`. */
static void merge_bad_sigs(rq_verify_report *r, size_t start, struct item *items, size_t n)
{
	size_t bad = 0;
	for (size_t k = 0; k < n; k++)
		bad += items[k].deferred && !items[k].sig_ok;
	if (!bad)
		return;
	size_t total = r->nproblems + bad, src = start, dst = start;
	rq_problem *v = rq_xcalloc(total, sizeof(*v));
	if (start)
		memcpy(v, r->problems, start * sizeof(*v));
	for (size_t k = 0; k < n; k++) {
		struct item *x = &items[k];
		if (!x->deferred || x->sig_ok)
			continue;
		while (src < x->pos)
			v[dst++] = r->problems[src++];
		rq_buf m = RQ_BUF_INIT;
		rq_buf_printf(&m, "bad signature (key %s)", x->e->signer);
		v[dst].seq = (int64_t)x->e->seq;
		snprintf(v[dst].id, sizeof(v[dst].id), "%s", x->e->id);
		v[dst++].message = rq_buf_detach(&m, NULL);
	}
	while (src < r->nproblems)
		v[dst++] = r->problems[src++];
	free(r->problems);
	r->problems = v;
	r->nproblems = total;
	r->problems_alloc = total;
}

/* One verification, between its steps. */
struct run {
	rq_verify_report *r;
	rq_ledger *l;
	const struct rq_verify_from *from; /* NULL: the whole ledger */
	struct state s;
	git_oid tip;
	git_oid *chain;       /* commits [0, n), oldest first, then their trees [n, 2n) */
	size_t n;
	uint64_t base;        /* sequence number of chain[0] */
	struct row *rows;     /* what index.db should hold of each entry */
	rq_merkle_levels tree;
	bool tree_ok;         /* every entry's bytes were read and parsed */
	char prev_id[RQ_ID_HEX_SIZE];
	bool prev_ok;
	struct reader *readers; /* one per worker (rq_parallel_workers) */
	size_t nreaders;
	struct iscan *iscan;  /* index.db read beside the entries (NULL: not checked) */
};

/* What the walk needs of a commit: its tree, first parent and number of
 * parents. */
struct commit_links {
	git_oid tree, parent;
	unsigned nparents;
};

/* From the raw commit when it is packed and libgit2 would parse it (then
 * it begins "tree HEX\n" and the "parent HEX\n" lines), else as
 * rq_object_commit reads it (with its error). */
static int read_commit(struct commit_links *out, struct reader *rd, git_repository *repo, const git_oid *id)
{
	rq_buf *raw = &rd->data;
	git_commit *c = NULL;
	git_oid other; /* a parent after the first */
	int valid = 0, err;

	memset(out, 0, sizeof(*out));
	rq_buf_reset(raw);
	if (rd->packs && rq_packs_read(raw, rd->packs, id, GIT_OBJECT_COMMIT) == 0 &&
	    git_object_rawcontent_is_valid(&valid, raw->ptr, raw->len, GIT_OBJECT_COMMIT) == 0 && valid &&
	    raw->len > 46 && memcmp(raw->ptr, "tree ", 5) == 0 && git_oid_fromstrn(&out->tree, raw->ptr + 5, 40) == 0) {
		const char *p = raw->ptr + 46, *end = raw->ptr + raw->len;
		while (end - p > 48 && memcmp(p, "parent ", 7) == 0 && p[47] == '\n') {
			if (git_oid_fromstrn(out->nparents ? &other : &out->parent, p + 7, 40))
				break;
			out->nparents++;
			p += 48;
		}
		if (end - p < 7 || memcmp(p, "parent ", 7) != 0)
			return 0;
		memset(out, 0, sizeof(*out));
	}
	git_error_clear();
	if ((err = rq_object_commit(&c, repo, id)))
		return err;
	git_oid_cpy(&out->tree, git_commit_tree_id(c));
	out->nparents = git_commit_parentcount(c);
	if (out->nparents)
		git_oid_cpy(&out->parent, git_commit_parent_id(c, 0));
	git_commit_free(c);
	return 0;
}

/* The commits index.db lists, read on every core: a shortcut for the walk
 * below when they are exactly the chain it would find, every link checked
 * (each commit readable, with one parent, the commit listed before it;
 * the first without one; the last the tip). index.db cannot fool it: any
 * other hint sends the walk the slow way, which names what is wrong. */
struct hint {
	rq_ledger *l;
	git_oid *commits;
	struct commit_links *links;
	bool *bad;
	struct reader *readers;
};

static void read_hint(void *ctx, size_t worker, size_t i)
{
	struct hint *h = ctx;
	struct reader *rd = reader_of(h->readers, h->l, worker);
	h->bad[i] = !rd || read_commit(&h->links[i], rd, rd->repo, &h->commits[i]) != 0;
	rq_error_clear();
}

static size_t hinted_commits(git_oid **out, rq_ledger *l)
{
	sqlite3_stmt *st = NULL;
	size_t n = 0, alloc = 0;
	bool ok = l->db && !l->index_unbuilt &&
		  sqlite3_prepare_v2(l->db, "SELECT seq, commit_oid FROM entries ORDER BY seq", -1, &st, NULL) == SQLITE_OK;

	*out = NULL;
	while (ok && sqlite3_step(st) == SQLITE_ROW) {
		const char *hex = (const char *)sqlite3_column_text(st, 1);
		RQ_ALLOC_GROW(*out, n + 1, alloc);
		ok = sqlite3_column_int64(st, 0) == (sqlite3_int64)n && hex && strlen(hex) == GIT_OID_HEXSZ &&
		     git_oid_fromstr(&(*out)[n], hex) == 0;
		n++;
	}
	sqlite3_finalize(st);
	if (!ok || !n) {
		free(*out);
		*out = NULL;
		return 0;
	}
	return n;
}

static bool walk_hinted(struct run *v)
{
	struct hint h = { v->l, NULL, NULL, NULL, v->readers };
	size_t n = hinted_commits(&h.commits, v->l);
	bool ok = n && git_oid_equal(&h.commits[n - 1], &v->tip);

	if (ok) {
		h.links = rq_xcalloc(n, sizeof(*h.links));
		h.bad = rq_xcalloc(n, sizeof(*h.bad));
		rq_parallel_for(n, read_hint, &h);
	}
	for (size_t i = 0; ok && i < n; i++)
		ok = !h.bad[i] && (i == 0 ? h.links[i].nparents == 0
				   : h.links[i].nparents == 1 && git_oid_equal(&h.links[i].parent, &h.commits[i - 1]));
	if (ok) {
		v->chain = rq_xcalloc(2 * n + 1, sizeof(*v->chain));
		for (size_t i = 0; i < n; i++) {
			v->chain[i] = h.commits[i];
			v->chain[n + i] = h.links[i].tree;
		}
		v->n = n;
	}
	free(h.commits);
	free(h.links);
	free(h.bad);
	rq_error_clear();
	return ok;
}

/* Walk first parents from the snapshot tip (the ledger must be a single
 * line) down to the genesis or to v->from's commit, into v->chain. False
 * when nothing can be checked (the problem is reported). */
static bool walk_chain(struct run *v)
{
	rq_verify_report *r = v->r;
	const struct rq_verify_from *from = v->from;
	git_reference *ref = NULL;
	git_oid cur, *chain = NULL;
	size_t n = 0;
	bool ok = false;

	if (from && from->tip) {
		git_oid_cpy(&v->tip, from->tip);
		goto walk;
	}
	if (git_reference_lookup(&ref, v->l->repo, RQ_LEDGER_REF)) {
		rq_verify_report_add(r, -1, NULL, "the ledger branch is missing");
		goto done;
	}
	if (git_reference_type(ref) != GIT_REFERENCE_DIRECT) {
		rq_verify_report_add(r, -1, NULL, "the ledger branch is not a direct reference");
		goto done;
	}
	/* The tip read once when the ledger was opened: entries appended
	 * since by another process are not part of this verification. */
	git_oid_cpy(&v->tip, v->l->has_tip ? &v->l->tip : git_reference_target(ref));
	if (!from && walk_hinted(v)) {
		ok = true;
		goto done;
	}
walk:
	/* chain[] gets each commit and, after it, its tree */
	git_oid_cpy(&cur, &v->tip);
	for (;;) {
		struct commit_links c;
		if (from && git_oid_equal(&cur, &from->commit))
			break;
		if (read_commit(&c, &v->readers[0], v->l->repo, &cur)) {
			rq_verify_report_add(r, -1, NULL, "ledger commit %s cannot be read: %s", git_oid_tostr_s(&cur),
				rq_error_last());
			break;
		}
		if ((n & (n - 1)) == 0)
			chain = rq_xreallocarray(chain, n ? 4 * n : 2, sizeof(*chain));
		chain[2 * n] = cur;
		git_oid_cpy(&chain[2 * n + 1], &c.tree);
		n++;
		unsigned np = c.nparents;
		if (np > 1)
			rq_verify_report_add(r, -1, NULL, "ledger commit %.12s is a merge: the ledger must be linear",
				git_oid_tostr_s(&cur));
		if (np == 0) {
			if (from) {
				rq_verify_report_add(r, (int64_t)from->size - 1, from->id,
					"history rewritten: the ledger no longer holds entry %" PRIu64
					" (%.12s) as verified before, in commit %.12s",
					from->size - 1, from->id, git_oid_tostr_s(&from->commit));
				goto done;
			}
			break;
		}
		git_oid_cpy(&cur, &c.parent);
	}
	/* oldest first: commits in chain[0..n), trees in chain[n..2n) */
	v->chain = rq_xcalloc(2 * n + 1, sizeof(*v->chain));
	for (size_t i = 0; i < n; i++) {
		v->chain[i] = chain[2 * (n - 1 - i)];
		v->chain[n + i] = chain[2 * (n - 1 - i) + 1];
	}
	v->n = n;
	ok = true;
done:
	free(chain);
	git_reference_free(ref);
	return ok;
}

/* The signers as the `from->size` entries verified before left them. */
static void replay_signers(struct state *s, const struct rq_verify_from *from)
{
	for (size_t i = 0; i < from->nsigners; i++) {
		const rq_signer_change *c = &from->signers[i];
		struct signer *g;
		if (c->seq >= from->size)
			continue;
		if (!c->revoke) {
			add_signer(s, c->id, c->pk);
		} else if ((g = find_signer(s, c->id))) {
			g->revoked = true;
			g->revoked_at = c->seq;
		}
	}
}

/* What only the genesis entry must be, and what the report keeps of it. */
static void check_genesis(rq_verify_report *r, const rq_entry *e)
{
	const json_t *gk = json_object_get(e->body, "key");
	const char *repo = rq_json_str(e->body, "repository", "");
	memcpy(r->genesis, e->id, RQ_ID_HEX_SIZE);
	if (strlen(repo) < sizeof(r->repository))
		memcpy(r->repository, repo, strlen(repo) + 1);
	snprintf(r->genesis_signer, sizeof(r->genesis_signer), "%s", e->signer);
	if (rq_hex_decode(r->genesis_pk, RQ_PUBKEY_LEN, rq_json_str(gk, "public", "")) != 0)
		memset(r->genesis_pk, 0, RQ_PUBKEY_LEN);
	if (strcmp(e->type, "init") != 0)
		rq_verify_report_add(r, 0, e->id, "the first entry is a %s entry, not the genesis (init) entry", e->type);
	if (strspn(e->prev, "0") != 64)
		rq_verify_report_add(r, 0, e->id, "the genesis entry does not start the hash chain (prev is not zero)");
}

static void add_named(rq_verify_report *r, uint64_t seq, const struct row *w)
{
	RQ_ALLOC_GROW(r->named, r->nnamed + 1, r->named_alloc);
	rq_named *nm = &r->named[r->nnamed++];
	nm->seq = seq;
	snprintf(nm->type, sizeof(nm->type), "%s", w->type);
	nm->name = rq_xstrdup(w->name);
}

/* The checks of entry `i` that depend on the entries before it: sequence,
 * chain, signature file, signer; its row moves to v->rows. */
static void check_item(struct run *v, struct item *x, size_t i)
{
	rq_verify_report *r = v->r;
	rq_entry *e = x->e;

	r->entries++;
	if (x->state == IT_NO_COMMIT) {
		rq_verify_report_add(r, (int64_t)i, NULL, "entry %zu: its commit cannot be read", i);
		return;
	}
	if (x->state == IT_NO_ENTRY || x->state == IT_BAD_ENTRY) {
		if (x->state == IT_NO_ENTRY)
			rq_verify_report_add(r, (int64_t)i, NULL, "entry %zu: commit %.12s has no entry file", i,
				git_oid_tostr_s(&v->chain[i - v->base]));
		else
			rq_verify_report_add(r, (int64_t)i, x->hash, "entry %zu: %s", i, x->error);
		v->prev_ok = false;
		v->tree_ok = false;
		return;
	}
	if (x->row.name)
		add_named(r, i, &x->row);
	v->rows[i - v->base] = x->row;
	memset(&x->row, 0, sizeof(x->row));
	rq_merkle_levels_append(&v->tree, x->leaf);
	if (e->seq != i)
		rq_verify_report_add(r, (int64_t)i, e->id,
			"entry at position %zu has sequence number %" PRIu64
			" (an entry was deleted, inserted or reordered)", i, e->seq);
	if (i == 0) {
		check_genesis(r, e);
	} else {
		if (strcmp(e->type, "init") == 0)
			rq_verify_report_add(r, (int64_t)i, e->id, "a second genesis (init) entry");
		if (v->prev_ok && strcmp(e->prev, v->prev_id) != 0)
			rq_verify_report_add(r, (int64_t)i, e->id,
				"hash chain broken: prev %.12s is not the hash of entry %zu (%.12s)",
				e->prev, i - 1, v->prev_id);
	}
	if (x->sig == SIG_NONE) {
		rq_verify_report_add(r, (int64_t)i, e->id, "unsigned: the entry has no signature file");
	} else if (x->sig == SIG_MALFORMED) {
		rq_verify_report_add(r, (int64_t)i, e->id, "its signature file is malformed");
	} else if (strcmp(x->keyid, e->signer) != 0) {
		rq_verify_report_add(r, (int64_t)i, e->id, "signature by key %s but the entry names signer %s",
			x->keyid, e->signer);
	} else if (i == 0 || strcmp(e->type, "init") != 0) {
		check_signer(&v->s, e, x->sigbytes, i == 0, &x->deferred, x->pk);
		x->pos = r->nproblems;
	}
	for (size_t m = 0; m < x->att.n; m++)
		rq_verify_report_add(r, (int64_t)e->seq, e->id, "%s", x->att.v[m]);
	memcpy(v->prev_id, e->id, RQ_ID_HEX_SIZE);
	v->prev_ok = true;
	memcpy(r->tip, e->id, RQ_ID_HEX_SIZE);
}

/* Every entry of the chain, a batch at a time: read and parse them on
 * every core, check them in order, then their signatures on every core.
 * With `kept`, the entries and signature files are handed over. */
static int check_entries(struct run *v, rq_entry **kept, char **kept_sigs)
{
	struct batch b = { 0 };
	int err = 0;

	b.l = v->l;
	b.trees = v->chain + v->n;
	b.keep = kept != NULL;
	b.items = rq_xcalloc(BATCH, sizeof(*b.items));
	b.readers = v->readers;
	atomic_init(&b.repo_failed, false);
	for (b.first = 0; b.first < v->n; b.first += BATCH) {
		size_t nb = v->n - b.first < BATCH ? v->n - b.first : BATCH, start = v->r->nproblems;
		rq_parallel_for(nb, read_item, &b);
		if (atomic_load(&b.repo_failed)) {
			err = rq_error_set(RQ_EIO, "%s: cannot open the repository to read it", v->l->dir);
			goto done;
		}
		for (size_t k = 0; k < nb; k++)
			check_item(v, &b.items[k], v->base + b.first + k);
		iscan_ready(v->iscan, b.first + nb, false);
		rq_parallel_for(nb, check_sig, &b);
		merge_bad_sigs(v->r, start, b.items, nb);
		for (size_t k = 0; k < nb; k++) {
			if (kept) {
				kept[b.first + k] = b.items[k].e;
				kept_sigs[b.first + k] = b.items[k].sigtext;
				b.items[k].e = NULL;
				b.items[k].sigtext = NULL;
			}
			item_release(&b.items[k]);
		}
	}
done:
	for (size_t k = 0; k < BATCH; k++)
		item_release(&b.items[k]);
	free(b.items);
	return err;
}

/* What verify read from git, for the callers that remember the ledger. */
static void keep_read(rq_verify_report *r, const struct run *v)
{
	size_t n = v->n;
	r->leaves = rq_xmallocarray(n, sizeof(*r->leaves));
	memcpy(r->leaves, v->tree.level[0], n * sizeof(*r->leaves));
	r->commits = rq_xmallocarray(n, sizeof(*r->commits));
	r->ids = rq_xmallocarray(n, sizeof(*r->ids));
	for (size_t i = 0; i < n; i++) {
		memcpy(r->commits[i], v->chain[i].id, 20);
		memcpy(r->ids[i], v->rows[i].id, RQ_ID_HEX_SIZE);
	}
	r->nleaves = n;
}

static void free_kept(rq_entry ***kept, char ***kept_sigs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		rq_entry_free((*kept)[i]);
		free((*kept_sigs)[i]);
	}
	free(*kept);
	free(*kept_sigs);
	*kept = NULL;
	*kept_sigs = NULL;
}

/* Verify the ledger as git holds it at the snapshot tip (l->tip): all of
 * it, or with `from` only the entries after the `from->size` verified
 * before (their chain continues from->id, their signers are from->signers
 * replayed, and index.db is left to the readers' checks). */
static int verify(rq_verify_report *r, rq_entry ***kept, char ***kept_sigs, rq_ledger *l,
		  const struct rq_verify_from *from)
{
	struct run v;
	struct iscan scan;
	int err = 0;

	memset(r, 0, sizeof(*r));
	memset(&v, 0, sizeof(v));
	v.r = r;
	v.s.r = r;
	v.l = l;
	v.from = from;
	v.base = from ? from->size : 0;
	v.tree_ok = true;
	rq_merkle_levels_init(&v.tree);
	r->index_rebuilt = l->index_rebuilt;
	v.nreaders = rq_parallel_workers();
	v.readers = rq_xcalloc(v.nreaders, sizeof(*v.readers));
	reader_open(&v.readers[0], l, false);
	if (!walk_chain(&v))
		goto done;
	v.rows = rq_xcalloc(v.n ? v.n : 1, sizeof(*v.rows));
	if (kept) {
		*kept = rq_xcalloc(v.n + 1, sizeof(**kept));
		*kept_sigs = rq_xcalloc(v.n + 1, sizeof(**kept_sigs));
	}
	if (from) {
		memcpy(v.prev_id, from->id, RQ_ID_HEX_SIZE);
		v.prev_ok = true;
		replay_signers(&v.s, from);
	}
	if (!from && !l->index_unbuilt) {
		v.iscan = &scan;
		iscan_start(&scan, l, v.rows, v.chain, v.n);
	}
	err = check_entries(&v, kept ? *kept : NULL, kept ? *kept_sigs : NULL);
	if (v.iscan)
		iscan_finish(v.iscan);
	if (err)
		goto done;
	for (size_t i = 0; i < v.s.nsigners; i++)
		r->signers += !v.s.signers[i].revoked;
	if (v.iscan) {
		size_t before = r->nproblems;
		check_index(&v.s, v.iscan, l, v.rows, v.chain, v.n, &v.tip);
		if (v.tree_ok) /* else the entries' own problems say enough */
			check_merkle(&v.s, l, &v.tree, &v.tip);
		r->index_problems = r->nproblems - before;
	}
	if (v.tree_ok && v.n)
		keep_read(r, &v);
	rq_error_clear();
done:
	if (v.iscan)
		iscan_release(v.iscan);
	rq_merkle_levels_release(&v.tree);
	for (size_t i = 0; v.rows && i < v.n; i++)
		row_release(&v.rows[i]);
	free(v.rows);
	free(v.chain);
	free(v.s.signers);
	for (size_t w = 0; w < v.nreaders; w++)
		reader_release(&v.readers[w]);
	free(v.readers);
	if (kept && *kept && (err || r->nproblems))
		free_kept(kept, kept_sigs, v.n);
	if (!err && r->nproblems)
		err = rq_error_set(RQ_EINTEGRITY, "%zu integrity problem%s found", r->nproblems,
				   r->nproblems == 1 ? "" : "s");
	return err;
}

int rq_ledger__verify_from(rq_verify_report *r, rq_ledger *l, const struct rq_verify_from *from)
{
	return verify(r, NULL, NULL, l, from);
}

int rq_ledger_verify(rq_verify_report *r, rq_ledger *l)
{
	return verify(r, NULL, NULL, l, NULL);
}

int rq_ledger_verify_entries(rq_verify_report *r, rq_entry ***entries, char ***sigs, rq_ledger *l)
{
	*entries = NULL;
	*sigs = NULL;
	return verify(r, entries, sigs, l, NULL);
}

/* The public way to verify (resque/ledger.h): the problems through a
 * callback, so that the report's internal types stay internal. */
int rq_ledger_check(uint64_t *entries, rq_ledger *l, rq_problem_fn fn, void *ctx)
{
	rq_verify_report r = { 0 };
	char *against_memory = NULL;
	int err;

	if (entries)
		*entries = 0;
	/* What was verified before (verify's memory) first, as every reader
	 * does: a ledger rolled back or rewritten since is sound in itself, so
	 * only that comparison can tell. */
	err = rq_ledger_guard(l);
	if (err && err != RQ_EINTEGRITY)
		return err;
	if (err)
		against_memory = rq_xstrdup(rq_error_last());
	err = rq_ledger_verify(&r, l);
	if (entries)
		*entries = r.entries;
	if (fn)
		for (size_t i = 0; i < r.nproblems; i++)
			fn(r.problems[i].seq, r.problems[i].id, r.problems[i].message, ctx);
	/* the guard's message only when the chain itself is sound: otherwise
	 * it names a problem reported above */
	if (against_memory && !err) {
		if (fn)
			fn(-1, "", against_memory, ctx);
		err = rq_error_set(RQ_EINTEGRITY, "%s", against_memory);
	}
	free(against_memory);
	rq_verify_report_release(&r);
	return err;
}
