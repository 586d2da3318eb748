/* resque verify: check the whole ledger (docs/FORMATS.md), then what is known
 * of it from outside: a signed checkpoint, the trusted genesis
 * keys, and verify's memory of this repository under $RESQUE_HOME. Exit 3
 * on any integrity violation, naming the entry and what is wrong. */
#include "common.h"
#include "cmd.h"
#include "term.h"
#include "checkpoint.h"
#include "json.h"
#include "known.h"
#include "ledger_int.h"
#include "lines.h"
#include "tlog.h"

#include <sodium.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct cmd_help help = {
	"verify", "check the ledger's signatures, chain and index",
	"Checks every entry: canonical encoding, hash chain, sequence numbers,\n"
	"signature, that its signer was authorised at that point, that its\n"
	"attachments match their recorded fingerprints, and that index.db agrees\n"
	"with the ledger. Exit status 0 when clean, 3 on any violation.\n\n"
	"Then what is known of the ledger from outside it:\n"
	"  --checkpoint FILE: a checkpoint saved earlier ('resque checkpoint > FILE')\n"
	"    must be of this repository, signed by one of its signers (or by a\n"
	"    --key), and the ledger must extend it: no fewer entries, and its first\n"
	"    N entries hash to the checkpoint's root.\n"
	"  --key PUBKEY / --keys FILE: the genesis entry must be signed by one of\n"
	"    these keys ('resque key export' prints one; PUBKEY is that line, a\n"
	"    public key file or 64 hex digits; FILE has one key a line, # comments).\n"
	"  Memory: each clean verify remembers, under $RESQUE_HOME (known_ledgers,\n"
	"    like ssh's known_hosts), the repository's genesis entry and the\n"
	"    largest tree verified. A later ledger of the same repository id that\n"
	"    is shorter ('ledger rolled back from N to M entries'), differs in an\n"
	"    entry seen before ('history rewritten at entry K') or has another\n"
	"    genesis entry is an integrity violation. --forget drops this\n"
	"    repository's memory first (after a deliberate rewrite, or to repair\n"
	"    a corrupt memory file).\n\n"
	"--json prints {\"ok\", \"entries\", \"signers\", \"tip\", \"index_rebuilt\",\n"
	"\"problems\": [{\"seq\", \"id\", \"message\"}], \"repository\", \"tree\":\n"
	"{\"size\", \"root\"}, \"genesis_signer\", \"genesis_trusted\", \"pinned_genesis\",\n"
	"\"remembered\": {\"size\", \"root\", \"updated\", \"file\"}, \"checkpoint\": {\"file\",\n"
	"\"origin\", \"size\", \"root\", \"consistent\"}} (seq is null for problems that\n"
	"concern no single entry; genesis_trusted is null without --key/--keys,\n"
	"remembered null when nothing is, checkpoint null without --checkpoint).",
};

/* A set of verifier keys: the trusted ones, or the ledger's signers. */
struct keyset {
	rq_verifier *v;
	size_t n, alloc;
};

static void trusted_add(struct keyset *t, const rq_verifier *v)
{
	RQ_ALLOC_GROW(t->v, t->n + 1, t->alloc);
	t->v[t->n++] = *v;
}

/* --key (a file or the key's text) and --keys FILE (one key a line). */
static int load_trusted(struct keyset *t, const struct opt_list *keys, const char *keysfile)
{
	rq_buf text = RQ_BUF_INIT, name = RQ_BUF_INIT;
	rq_verifier v;
	int err = 0;

	for (size_t i = 0; i < keys->n; i++) {
		if ((err = cmd_load_verifier(&v, keys->v[i])))
			goto done;
		trusted_add(t, &v);
	}
	if (keysfile) {
		size_t before = t->n, len;
		const char *line;
		rq_lines it;
		rq_buf_reset(&text);
		if ((err = rq_file_read_max(&text, keysfile, 1u << 20)))
			goto done;
		rq_lines_init(&it, text.ptr, text.len);
		while (rq_lines_next(&it, &line, &len)) {
			while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
				len--;
			while (len && (*line == ' ' || *line == '\t')) {
				line++;
				len--;
			}
			if (!len || *line == '#')
				continue;
			rq_buf_reset(&name);
			rq_buf_printf(&name, "%s: line %zu", keysfile, it.lineno);
			if ((err = rq_verifier_parse(&v, line, len, name.ptr)))
				goto done;
			trusted_add(t, &v);
		}
		if (t->n == before) {
			err = rq_error_set(RQ_EINVALID, "%s: no keys in the file", keysfile);
			goto done;
		}
	}
done:
	rq_buf_release(&text);
	rq_buf_release(&name);
	return err;
}

static int read_checkpoint(rq_checkpoint *out, const char *path)
{
	rq_buf text = RQ_BUF_INIT;
	int err = rq_file_read_max(&text, path, RQ_CHECKPOINT_MAX);
	if (!err)
		err = rq_checkpoint_parse(out, text.ptr, text.len, path);
	rq_buf_release(&text);
	return err;
}

/* Whether a resque writer holds the writers' lock right now (then git's
 * lock of the ledger branch may be its own, not a leftover). */
static bool writer_active(rq_ledger *l)
{
	rq_buf path = RQ_BUF_INIT;
	bool held = false;
	rq_buf_printf(&path, "%s/ledger.lock", rq_ledger_dir(l));
	int fd = open(path.ptr, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
		close(fd);
	}
	rq_buf_release(&path);
	return held;
}

/* Every key the ledger ever authorised (init and key-add entries): a
 * checkpoint may predate a revocation. */
static void add_verifier(struct keyset *s, const uint8_t pk[RQ_PUBKEY_LEN])
{
	rq_key key;
	memset(&key, 0, sizeof(key));
	memcpy(key.pk, pk, RQ_PUBKEY_LEN);
	rq_key_id_of(key.id, key.pk);
	RQ_ALLOC_GROW(s->v, s->n + 1, s->alloc);
	rq_verifier_of(&s->v[s->n++], &key);
}

/* What the ledger is now, as the outside checks need it. */
struct view {
	rq_buf repository;
	char genesis[RQ_ID_HEX_SIZE];
	char genesis_signer[RQ_KEY_ID_SIZE];
	uint8_t genesis_pk[RQ_PUBKEY_LEN];
	rq_hash *leaves;
	uint64_t n;
	rq_merkle_levels tree;
	rq_hash root;
};

/* From what verify itself read from git (never index.db again: it may
 * have changed since, and what is remembered must be what was verified). */
static int gather(struct view *w, const rq_verify_report *r)
{
	if (!r->leaves || !r->genesis[0])
		return rq_error_set(RQ_EINTEGRITY, "the ledger's entries could not all be read");
	if (!r->repository[0])
		return rq_error_set(RQ_EINTEGRITY, "the genesis entry names no repository");
	rq_buf_puts(&w->repository, r->repository);
	memcpy(w->genesis, r->genesis, sizeof(w->genesis));
	memcpy(w->genesis_signer, r->genesis_signer, sizeof(w->genesis_signer));
	memcpy(w->genesis_pk, r->genesis_pk, RQ_PUBKEY_LEN);
	w->n = r->nleaves;
	w->leaves = rq_xmallocarray(w->n ? w->n : 1, sizeof(*w->leaves));
	memcpy(w->leaves, r->leaves, w->n * sizeof(*w->leaves));
	for (uint64_t i = 0; i < w->n; i++)
		rq_merkle_levels_append(&w->tree, w->leaves[i]);
	return rq_merkle_root(w->root, w->n, rq_merkle_levels_node, &w->tree);
}

static bool is_trusted(const struct keyset *t, const uint8_t pk[RQ_PUBKEY_LEN])
{
	for (size_t i = 0; i < t->n; i++)
		if (sodium_memcmp(t->v[i].pk, pk, RQ_PUBKEY_LEN) == 0)
			return true;
	return false;
}

static const char *entry_id(const rq_verify_report *r, uint64_t seq, char out[RQ_ID_HEX_SIZE])
{
	/* as verify read it from git: the guarded readers refuse a ledger
	 * that differs from the memory, which is what is being reported */
	out[0] = '\0';
	if (r->ids && seq < r->nleaves)
		memcpy(out, r->ids[seq], RQ_ID_HEX_SIZE);
	return out;
}

/* The memory's verdict on the ledger now. */
static void check_memory(rq_verify_report *r, rq_ledger *l, const struct view *w, const rq_known *k,
			 const rq_hash *kleaves)
{
	char id[RQ_ID_HEX_SIZE];
	if (strcmp(k->genesis, w->genesis) != 0) {
		rq_verify_report_add(r, 0, w->genesis,
			"genesis entry changed: this repository id was first seen with genesis %s (re-created ledger?)",
			k->genesis);
		return;
	}
	uint64_t diff = rq_known_first_difference(w->leaves, w->n, kleaves, k->size);
	/* fewer entries than remembered, unless another process appended
	 * (and remembered) since this verify took its snapshot */
	if (w->n < k->size && !rq_ledger_tip_moved(l))
		rq_verify_report_add(r, -1, NULL, "ledger rolled back from %" PRIu64 " to %" PRIu64 " entries since it was last verified",
			k->size, w->n);
	if (diff != UINT64_MAX)
		rq_verify_report_add(r, (int64_t)diff, entry_id(r, diff, id),
			"history rewritten at entry %" PRIu64 ": it is not the entry verified there before", diff);
}

struct cp_result {
	bool consistent;
};

static void check_checkpoint(struct cp_result *res, rq_verify_report *r, const char *file, const rq_checkpoint *c,
			     struct view *w, const struct keyset *t, const struct keyset *s,
			     const rq_known *k, const rq_hash *kleaves)
{
	rq_buf origin = RQ_BUF_INIT;
	rq_hash root;
	bool signed_ok = false;

	res->consistent = false;
	rq_buf_printf(&origin, "%s%s", RQ_ORIGIN_PREFIX, w->repository.ptr);
	if (strcmp(c->origin, origin.ptr) != 0) {
		rq_verify_report_add(r, -1, NULL, "checkpoint %s is of '%s', not of this ledger ('%s')", file, c->origin, origin.ptr);
		goto done;
	}
	const struct keyset *keys = t->n ? t : s;
	for (size_t i = 0; i < keys->n && !signed_ok; i++)
		signed_ok = rq_checkpoint_verify(c, &keys->v[i], file) == 0;
	rq_error_clear();
	if (!signed_ok) {
		rq_verify_report_add(r, -1, NULL, "checkpoint %s is not signed by %s", file,
			t->n ? "any of the trusted keys" : "any signer of this ledger");
		goto done;
	}
	if (c->size > w->n) {
		rq_verify_report_add(r, -1, NULL, "ledger rolled back from %" PRIu64 " to %" PRIu64 " entries (checkpoint %s)",
			c->size, w->n, file);
		goto done;
	}
	if (rq_merkle_root(root, c->size, rq_merkle_levels_node, &w->tree) != 0) {
		rq_verify_report_add(r, -1, NULL, "checkpoint %s: %s", file, rq_error_last());
		goto done;
	}
	if (sodium_memcmp(root, c->root, RQ_HASH_LEN) != 0) {
		/* The memory, if it agrees with the checkpoint, can tell where. */
		uint64_t diff = UINT64_MAX;
		if (k && k->size >= c->size) {
			rq_merkle_levels kt;
			rq_hash kroot;
			rq_merkle_levels_init(&kt);
			for (uint64_t i = 0; i < c->size; i++)
				rq_merkle_levels_append(&kt, kleaves[i]);
			if (rq_merkle_root(kroot, c->size, rq_merkle_levels_node, &kt) == 0 &&
			    sodium_memcmp(kroot, c->root, RQ_HASH_LEN) == 0)
				diff = rq_known_first_difference(w->leaves, c->size, kleaves, c->size);
			rq_merkle_levels_release(&kt);
		}
		if (diff != UINT64_MAX)
			rq_verify_report_add(r, -1, NULL, "history rewritten at entry %" PRIu64 ": the first %" PRIu64
				" entries do not hash to the root of checkpoint %s", diff, c->size, file);
		else
			rq_verify_report_add(r, -1, NULL, "the first %" PRIu64 " entries do not hash to the root of checkpoint %s",
				c->size, file);
		goto done;
	}
	res->consistent = true;
done:
	rq_buf_release(&origin);
}

static json_t *tree_json(uint64_t size, const rq_hash root)
{
	rq_buf b = RQ_BUF_INIT;
	rq_base64_encode(&b, root, RQ_HASH_LEN);
	json_t *j = json_pack("{s:I, s:s}", "size", (json_int_t)size, "root", b.ptr);
	rq_buf_release(&b);
	return j;
}

struct verify_opts {
	bool json, quiet, forget;
	const char *cpfile, *keysfile;
	struct opt_list keys;
};

/* One verify, between its steps. */
struct verify_run {
	struct verify_opts o;
	struct keyset trusted;  /* --key, --keys */
	struct keyset signers;  /* every key the ledger authorised */
	rq_checkpoint cp;
	bool have_cp;
	rq_ledger *l;
	rq_verify_report r;
	struct view w;          /* what the outside checks need */
	bool have_view;
	rq_known known, *kp;    /* the memory of this repository, if any */
	rq_hash *kleaves;
	bool memory_ok, remembered_updated;
	struct cp_result cpres;
	rq_buf kpath;
};

static void run_init(struct verify_run *v)
{
	memset(v, 0, sizeof(*v));
	rq_buf_init(&v->w.repository);
	rq_buf_init(&v->kpath);
	rq_merkle_levels_init(&v->w.tree);
}

static void run_release(struct verify_run *v)
{
	rq_verify_report_release(&v->r);
	rq_checkpoint_release(&v->cp);
	rq_merkle_levels_release(&v->w.tree);
	rq_buf_release(&v->w.repository);
	rq_buf_release(&v->kpath);
	free(v->w.leaves);
	free(v->kleaves);
	free(v->trusted.v);
	free(v->signers.v);
	opt_list_release(&v->o.keys);
	cmd_close_ledger(v->l, NULL);
}

/* The trusted keys and the checkpoint, before the ledger is opened. */
static int load_outside(struct verify_run *v)
{
	int err;
	if ((err = load_trusted(&v->trusted, &v->o.keys, v->o.keysfile)))
		return cmd_fail_code(err == RQ_EINTEGRITY ? RQ_EINVALID : err);
	if (v->o.cpfile) {
		if (read_checkpoint(&v->cp, v->o.cpfile))
			return cmd_fail_code(RQ_EINVALID);
		v->have_cp = true;
	}
	return 0;
}

/* Every entry as git holds it, then what the outside checks need of it
 * (a ledger broken enough to lack it has problems listed already). */
static int verify_ledger(struct verify_run *v)
{
	rq_buf lockpath = RQ_BUF_INIT;
	int rc, err;

	if ((rc = cmd_open_ledger_unguarded(&v->l, NULL)))
		return rc;
	err = rq_ledger_verify(&v->r, v->l);
	/* Not tampering (a killed write leaves it) and the next write removes
	 * it, so a warning that leaves the exit status alone. */
	rq_buf_printf(&lockpath, "%s/%s.lock", rq_ledger_dir(v->l), RQ_LEDGER_REF);
	if (rq_path_exists(lockpath.ptr) && !writer_active(v->l))
		cmd_warn("%s: a lock left by an interrupted write; the next write removes it", lockpath.ptr);
	rq_buf_release(&lockpath);
	if (err && err != RQ_EINTEGRITY)
		return cmd_fail_code(err);
	if ((err = gather(&v->w, &v->r))) {
		if (!v->r.nproblems)
			return cmd_fail_code(err);
		if (v->have_cp || v->trusted.n)
			rq_verify_report_add(&v->r, -1, NULL, "cannot check it against %s: %s",
				v->have_cp ? "the checkpoint" : "the trusted keys", rq_error_last());
		rq_error_clear();
		return 0;
	}
	v->have_view = true;
	if (v->trusted.n && !is_trusted(&v->trusted, v->w.genesis_pk))
		rq_verify_report_add(&v->r, 0, v->w.genesis, "genesis signed by key %s, which is not among the trusted keys",
			v->w.genesis_signer);
	return 0;
}

/* The memory (known_ledgers): forget on request, then compare. */
static int check_known(struct verify_run *v)
{
	const char *repo = v->w.repository.ptr;
	int err;

	rq_known_path(&v->kpath);
	rq_error_clear();
	if (!v->have_view)
		return 0;
	if (strlen(repo) > RQ_KNOWN_ID_MAX || !rq_is_hex(repo, v->w.repository.len)) {
		cmd_warn("repository id '%s' cannot be remembered", repo);
		return 0;
	}
	if (v->o.forget) {
		bool dropped;
		if ((err = rq_known_forget(&dropped, repo)))
			return cmd_fail_code(err);
		if (dropped && !v->o.quiet && !v->o.json)
			fprintf(stderr, "resque: forgot what was remembered of repository %s\n", repo);
	}
	err = rq_known_get(&v->known, &v->kleaves, repo);
	if (err == 0) {
		v->kp = &v->known;
		check_memory(&v->r, v->l, &v->w, &v->known, v->kleaves);
	} else if (err != RQ_ENOTFOUND) {
		return cmd_fail_code(err);
	}
	rq_error_clear();
	v->memory_ok = true;
	return 0;
}

/* Remember only a ledger that verified without any problem. */
static void remember(struct verify_run *v)
{
	struct view *w = &v->w;
	rq_verify_report *r = &v->r;
	int err;

	if (!v->memory_ok || r->nproblems || (v->kp && v->kp->size >= w->n && !r->commits))
		return;
	if (r->commits && r->ids && r->nleaves == w->n)
		err = rq_known_put_all(&v->remembered_updated, w->repository.ptr, w->genesis, w->leaves,
				       (const uint8_t (*)[20])r->commits, w->n, r->signer_changes, r->nsigner_changes,
				       r->named, r->nnamed, (const char (*)[RQ_ID_HEX_SIZE])r->ids, 0, rq_ledger_dir(v->l));
	else
		err = rq_known_put(&v->remembered_updated, w->repository.ptr, w->genesis, w->leaves, w->n);
	if (err) {
		cmd_warn("could not remember this ledger's state: %s", rq_error_last());
	} else if (v->remembered_updated) {
		memset(&v->known, 0, sizeof(v->known));
		snprintf(v->known.repository, sizeof(v->known.repository), "%s", w->repository.ptr);
		memcpy(v->known.genesis, w->genesis, RQ_ID_HEX_SIZE);
		v->known.size = w->n;
		memcpy(v->known.root, w->root, RQ_HASH_LEN);
		v->kp = &v->known;
	}
	rq_error_clear();
}

static json_t *problems_json(const rq_verify_report *r)
{
	json_t *probs = json_array();
	for (size_t i = 0; i < r->nproblems; i++) {
		const rq_problem *p = &r->problems[i];
		json_t *j = json_pack("{s:s}", "message", p->message);
		json_object_set_new(j, "seq", p->seq >= 0 ? json_integer(p->seq) : json_null());
		json_object_set_new(j, "id", p->id[0] ? json_string(p->id) : json_null());
		json_array_append_new(probs, j);
	}
	return probs;
}

static int print_json(const struct verify_run *v)
{
	const rq_verify_report *r = &v->r;
	const struct view *w = &v->w;
	bool view = v->have_view;
	json_t *j = json_pack("{s:b, s:I, s:I, s:s, s:b, s:o}", "ok", r->nproblems == 0, "entries",
			      (json_int_t)r->entries, "signers", (json_int_t)r->signers, "tip", r->tip,
			      "index_rebuilt", r->index_rebuilt, "problems", problems_json(r));
	json_object_set_new(j, "repository", view ? json_string(w->repository.ptr) : json_null());
	json_object_set_new(j, "tree", view ? tree_json(w->n, w->root) : json_null());
	json_object_set_new(j, "genesis_signer", view ? json_string(w->genesis_signer) : json_null());
	json_object_set_new(j, "genesis_trusted", view && v->trusted.n
							  ? json_boolean(is_trusted(&v->trusted, w->genesis_pk))
							  : json_null());
	json_object_set_new(j, "pinned_genesis", v->kp ? json_string(v->kp->genesis) : json_null());
	json_t *mem = v->kp ? tree_json(v->kp->size, v->kp->root) : json_null();
	if (v->kp) {
		json_object_set_new(mem, "updated", json_boolean(v->remembered_updated));
		json_object_set_new(mem, "file", json_string(v->kpath.ptr));
	}
	json_object_set_new(j, "remembered", mem);
	json_t *cj = json_null();
	if (v->have_cp) {
		cj = tree_json(v->cp.size, v->cp.root);
		json_object_set_new(cj, "file", json_string(v->o.cpfile));
		json_object_set_new(cj, "origin", json_string(v->cp.origin));
		json_object_set_new(cj, "consistent", json_boolean(v->cpres.consistent));
	}
	json_object_set_new(j, "checkpoint", cj);
	int rc = cmd_print_json(j);
	json_decref(j);
	return rc;
}

static void print_text(const struct verify_run *v)
{
	const rq_verify_report *r = &v->r;
	for (size_t i = 0; i < r->nproblems; i++) {
		const rq_problem *p = &r->problems[i];
		if (p->seq >= 0)
			printf("entry %" PRId64 " (%.12s): %s\n", p->seq, p->id[0] ? p->id : "?", p->message);
		else if (strncmp(p->message, "ledger ", 7) == 0)
			printf("%s\n", p->message);
		else
			printf("ledger: %s\n", p->message);
	}
	if (!v->o.quiet && !r->nproblems) {
		printf("%sok%s: %" PRIu64 " entries verified, %" PRIu64 " signer%s, tip %.12s\n", term_on(stdout, TERM_GOOD),
		       term_off(stdout), r->entries, r->signers, r->signers == 1 ? "" : "s", r->tip);
		if (v->have_cp)
			printf("checkpoint %s: the ledger extends it (%" PRIu64 " of %" PRIu64 " entries)\n", v->o.cpfile,
			       v->cp.size, v->w.n);
		if (v->trusted.n)
			printf("genesis signed by trusted key %s\n", v->w.genesis_signer);
	}
	if (r->nproblems)
		fprintf(stderr, "resque: verification %sfailed%s: %zu problem%s\n", term_on(stderr, TERM_BAD),
			term_off(stderr), r->nproblems,
			r->nproblems == 1 ? "" : "s");
}

int cmd_verify(int argc, char **argv)
{
	struct verify_run v;
	int rc = 0;

	run_init(&v);
	const struct opt opts[] = {
		{ OPT_STRING, 0, "checkpoint", &v.o.cpfile, "FILE", "the ledger must extend this signed checkpoint" },
		{ OPT_LIST, 0, "key", &v.o.keys, "PUBKEY", "the genesis must be signed by this key (repeatable)" },
		{ OPT_STRING, 0, "keys", &v.o.keysfile, "FILE", "trusted keys, one a line" },
		{ OPT_BOOL, 0, "forget", &v.o.forget, NULL, "drop what verify remembers of this repository first" },
		{ OPT_BOOL, 0, "json", &v.o.json, NULL, "print the report as JSON" },
		{ OPT_BOOL, 'q', "quiet", &v.o.quiet, NULL, "print only problems" },
		{ OPT_END },
	};
	if (!opt_parse(&rc, &help, opts, argc, argv) || (rc = load_outside(&v)) || (rc = verify_ledger(&v)) ||
	    (rc = check_known(&v)))
		goto done;
	if (v.have_cp && v.have_view) {
		/* from what verify read from git, not index.db */
		for (size_t i = 0; i < v.r.nsigner_changes; i++)
			if (!v.r.signer_changes[i].revoke)
				add_verifier(&v.signers, v.r.signer_changes[i].pk);
		check_checkpoint(&v.cpres, &v.r, v.o.cpfile, &v.cp, &v.w, &v.trusted, &v.signers, v.kp, v.kleaves);
	}
	remember(&v);
	if (v.o.json)
		rc = print_json(&v);
	else
		print_text(&v);
	if (!rc && v.r.nproblems)
		rc = EXIT_INTEGRITY;
done:
	run_release(&v);
	return rc;
}
