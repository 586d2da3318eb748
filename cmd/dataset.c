/* resque dataset add|show|status: record a dataset directory's fingerprint
 * and manifest in the ledger, show it, and compare it with the tree now.
 * The recording itself is the library's (resque/dataset.h). */
#include "common.h"
#include "cmd.h"
#include "progress_named.h"
#include "dataset.h"
#include "resque/fingerprint.h"
#include "json.h"
#include "ledger_int.h"

/* ---- dataset add ---------------------------------------------------------- */

static const struct cmd_help add_help = {
	"dataset add", "record a dataset directory in the ledger",
	"Fingerprints every file under PATH (one thread per core; unchanged files\n"
	"come from the stat cache) and appends a signed 'dataset' entry with the\n"
	"directory's fingerprint, file count, total bytes, its path relative to\n"
	"the project root and, as the attachment 'manifest', the list of files.\n"
	"With --labels, the class histogram of the labels file (.npy or\n"
	"safetensors) and its fingerprint are recorded too; with --embeddings as\n"
	"well (the data passed through the current model), their representation\n"
	"summary is attached, so that 'resque plan --dataset NAME' can measure\n"
	"the shift from the dataset alone. NAME defaults to the directory's base\n"
	"name and must not be used by another dataset.",
};

static int dataset_add(int argc, char **argv)
{
	const char *path = NULL;
	rq_dataset_options o = { 0 };
	bool json = false;
	const struct opt opts[] = {
		{ OPT_STRING, 'n', "name", &o.name, "NAME", "the dataset's name (default: the directory's name)" },
		{ OPT_STRING, 0, "embeddings", &o.embeddings, "FILE", "its embeddings under the current model, with --labels: record a representation summary" },
		{ OPT_STRING, 0, "labels", &o.labels, "FILE", "class labels (.npy or safetensors): record the class histogram" },
		{ OPT_STRING, 0, "tensor", &o.tensor, "NAME", "the labels' tensor in a safetensors file" },
		{ OPT_BOOL, 0, "json", &json, NULL, "print the new entry as JSON" },
		{ OPT_ARG, 0, "PATH", &path, NULL, "the dataset's directory", OPT_REQUIRED },
		{ OPT_END },
	};
	struct progress bar = { 0 };
	rq_ledger *l = NULL;
	rq_key *k = NULL;
	rq_entry *e = NULL;
	int rc = 0, err;

	OPT_PARSE(&add_help, opts, argc, argv);
	if (o.tensor && !o.labels)
		return cmd_usage(&add_help, opts, "--tensor names a tensor of the --labels file");
	if (o.embeddings && !o.labels)
		return cmd_usage(&add_help, opts, "--embeddings needs --labels");
	if (o.embeddings && o.tensor)
		return cmd_usage(&add_help, opts, "--tensor applies to --labels alone; give --embeddings as .npy or a one-tensor file");
	/* Check the path before looking for a repository: the clearer error. */
	if ((err = rq_dataset_check_dir(path)))
		return cmd_fail_code(err);
	if ((rc = cmd_open_ledger(&l, &k)))
		return rc;
	o.progress = progress_named;
	o.progress_ctx = &bar;
	if ((err = rq_dataset_record(&e, l, path, &o))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if (json) {
		rc = cmd_print_entry(e);
	} else {
		printf("%.12s dataset %s: %" JSON_INTEGER_FORMAT " files, %" JSON_INTEGER_FORMAT " bytes, %s\n", e->id,
		       rq_entry_name(e), rq_json_int(e->body, "files", 0), rq_json_int(e->body, "bytes", 0),
		       rq_json_str(e->body, "fingerprint", ""));
	}
done:
	rq_entry_free(e);
	cmd_close_ledger(l, k);
	return rc;
}

/* ---- dataset show --------------------------------------------------------- */

static const struct cmd_help show_help = {
	"dataset show", "show a recorded dataset",
	"REF is a dataset's name or a unique prefix of its entry id. --files lists\n"
	"the recorded manifest. --json prints the entry's common fields (id, seq,\n"
	"type, time, signer, summary, prev, name, commit), then name, path,\n"
	"fingerprint, files, bytes, classes and labels when recorded, and with\n"
	"--files \"manifest\": [{\"path\", \"kind\" (file|link), \"bytes\",\n"
	"\"fingerprint\"}].",
};

/* The entry's fields and, with --files, its manifest, as JSON. */
static int show_json(const rq_entry *e, const rq_manifest *m, bool files)
{
	static const char *const keys[] = { "name", "path", "fingerprint", "files", "bytes", "classes", "labels" };
	json_t *j = cmd_entry_json(e);
	for (size_t i = 0; i < RQ_ARRAY_SIZE(keys); i++)
		if (json_object_get(e->body, keys[i]))
			json_object_set(j, keys[i], json_object_get(e->body, keys[i]));
	if (files) {
		json_t *a = json_array();
		for (size_t i = 0; i < m->n; i++) {
			char f[RQ_FINGERPRINT_SIZE];
			rq_fingerprint_format(f, m->v[i].hash);
			json_array_append_new(a, json_pack("{s:o, s:s, s:I, s:s}", "path",
							   rq_dataset_path_json(m->v[i].path), "kind",
							   m->v[i].link ? "link" : "file", "bytes",
							   (json_int_t)m->v[i].size, "fingerprint", f));
		}
		json_object_set_new(j, "manifest", a);
	}
	int rc = cmd_print_json(j);
	json_decref(j);
	return rc;
}

static void show_text(const rq_entry *e, const rq_manifest *m, bool files)
{
	const json_t *b = e->body;
	printf("dataset      %s\nentry        %s\nrecorded     %s by %s\npath         %s\n"
	       "fingerprint  %s\nfiles        %" JSON_INTEGER_FORMAT "\nbytes        %" JSON_INTEGER_FORMAT "\n",
	       rq_json_str(b, "name", "?"), e->id, e->time, e->signer, rq_json_str(b, "path", "?"),
	       rq_json_str(b, "fingerprint", "?"), rq_json_int(b, "files", 0), rq_json_int(b, "bytes", 0));
	const json_t *lab = json_object_get(b, "labels");
	if (json_is_object(lab))
		printf("labels       %s (%s)\n", rq_json_str(lab, "path", "?"), rq_json_str(lab, "fingerprint", "?"));
	json_t *cls = json_object_get(b, "classes");
	if (json_is_object(cls)) {
		const char *key;
		json_t *v;
		printf("classes      %zu:", json_object_size(cls));
		json_object_foreach(cls, key, v)
			printf(" %s=%" JSON_INTEGER_FORMAT, key, json_integer_value(v));
		putchar('\n');
	}
	if (files) {
		putchar('\n');
		for (size_t i = 0; i < m->n; i++) {
			char f[RQ_FINGERPRINT_SIZE];
			rq_fingerprint_format(f, m->v[i].hash);
			printf("%s %12" PRIu64 "  %s  %s\n", m->v[i].link ? "link" : "file", m->v[i].size, f,
			       m->v[i].path);
		}
	}
}

static int dataset_show(int argc, char **argv)
{
	const char *ref = NULL;
	bool json = false, files = false;
	const struct opt opts[] = {
		{ OPT_BOOL, 0, "files", &files, NULL, "list the recorded files" },
		{ OPT_BOOL, 0, "json", &json, NULL, "print as JSON" },
		{ OPT_ARG, 0, "NAME|ID", &ref, NULL, "the dataset: its name or an entry id prefix", OPT_REQUIRED },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	rq_entry *e = NULL;
	rq_manifest m;
	int rc, err;

	OPT_PARSE(&show_help, opts, argc, argv);
	rq_manifest_init(&m);
	if ((rc = cmd_open_ledger(&l, NULL)))
		return rc;
	if ((err = rq_ledger_lookup(&e, l, ref, "dataset")) ||
	    (files && (err = rq_dataset_manifest(&m, l, e)))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if (json)
		rc = show_json(e, &m, files);
	else
		show_text(e, &m, files);
done:
	rq_manifest_release(&m);
	rq_entry_free(e);
	cmd_close_ledger(l, NULL);
	return rc;
}

/* ---- dataset status ------------------------------------------------------- */

static const struct cmd_help status_help = {
	"dataset status", "list what changed in a dataset since it was recorded",
	"Fingerprints the dataset's directory again (unchanged files come from\n"
	"the stat cache, so this is fast) and lists the files added, removed and\n"
	"changed since the entry was recorded, like `git status`. The exit status\n"
	"is 0 either way. --json prints {\"name\", \"id\", \"path\", \"recorded\",\n"
	"\"current\", \"clean\", \"added\": [...], \"removed\": [...], \"changed\": [...]}.",
};

/* A dataset's recorded state against its directory now. */
struct dataset_diff {
	rq_entry *e;
	const char *name, *rec, *recorded; /* borrowed from e */
	rq_manifest old;     /* as recorded */
	rq_fp_result now;
	rq_manifest_change *ch; /* paths borrowed from old and now */
	size_t nch;
	size_t count[3]; /* added, removed, changed */
};

static size_t change_slot(const rq_manifest_change *c)
{
	return c->kind == RQ_CHANGE_ADDED ? 0 : c->kind == RQ_CHANGE_REMOVED ? 1 : 2;
}

/* Look the dataset up, fingerprint its directory again and diff the
 * manifests. 0, or the exit status after printing the error. */
static int status_gather(struct dataset_diff *d, rq_ledger *l, const char *ref)
{
	rq_buf where = RQ_BUF_INIT;
	struct progress bar = { 0 };
	rq_dataset_options o = { .progress = progress_named, .progress_ctx = &bar };
	int rc = 0, err;

	if ((err = rq_ledger_lookup(&d->e, l, ref, "dataset")) || (err = rq_dataset_manifest(&d->old, l, d->e))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	d->name = rq_json_str(d->e->body, "name", "?");
	d->rec = rq_json_str(d->e->body, "path", NULL);
	d->recorded = rq_json_str(d->e->body, "fingerprint", "?");
	if (!d->rec || !*d->rec) {
		rc = cmd_error("dataset %s (entry %.12s) records no path", d->name, d->e->id);
		goto done;
	}
	rq_dataset_abspath(&where, l, d->rec);
	if (!rq_is_dir(where.ptr)) {
		rc = cmd_error("%s: the directory of dataset %s is gone (%s)", d->rec, d->name,
			       rq_path_exists(where.ptr) ? "not a directory" : "no such directory");
		goto done;
	}
	if ((err = rq_dataset_fingerprint(&d->now, l, where.ptr, "fingerprinting", &o))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	rq_manifest_diff(&d->ch, &d->nch, &d->old, &d->now.manifest);
	for (size_t i = 0; i < d->nch; i++)
		d->count[change_slot(&d->ch[i])]++;
done:
	rq_buf_release(&where);
	return rc;
}

static int status_json(const struct dataset_diff *d)
{
	json_t *lists[3] = { json_array(), json_array(), json_array() };
	for (size_t i = 0; i < d->nch; i++)
		json_array_append_new(lists[change_slot(&d->ch[i])], rq_dataset_path_json(d->ch[i].path));
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:o, s:o, s:o}", "name", d->name, "id", d->e->id,
			      "path", d->rec, "recorded", d->recorded, "current", d->now.fingerprint, "clean",
			      d->nch == 0, "added", lists[0], "removed", lists[1], "changed", lists[2]);
	int rc = cmd_print_json(j);
	json_decref(j);
	return rc;
}

static void status_text(const struct dataset_diff *d)
{
	static const char *const what[3] = { "added:  ", "removed:", "changed:" };
	if (d->nch == 0) {
		printf("dataset %s at %s: unchanged (%" PRIu64 " files, %s)\n", d->name, d->rec, d->now.files,
		       d->now.fingerprint);
		return;
	}
	printf("dataset %s at %s: %zu added, %zu removed, %zu changed\n", d->name, d->rec, d->count[0],
	       d->count[1], d->count[2]);
	printf("  recorded %s\n  now      %s\n\n", d->recorded, d->now.fingerprint);
	for (size_t i = 0; i < d->nch; i++) {
		json_t *pj = rq_dataset_path_json(d->ch[i].path); /* shows odd bytes escaped */
		printf("\t%s %s\n", what[change_slot(&d->ch[i])], json_string_value(pj));
		json_decref(pj);
	}
}

static int dataset_status(int argc, char **argv)
{
	const char *ref = NULL;
	bool json = false;
	const struct opt opts[] = {
		{ OPT_BOOL, 0, "json", &json, NULL, "print as JSON" },
		{ OPT_ARG, 0, "NAME|ID", &ref, NULL, "the dataset: its name or an entry id prefix", OPT_REQUIRED },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	struct dataset_diff d = { 0 };
	int rc;

	OPT_PARSE(&status_help, opts, argc, argv);
	rq_manifest_init(&d.old);
	rq_fp_result_init(&d.now);
	if ((rc = cmd_open_ledger(&l, NULL)))
		return rc;
	if ((rc = status_gather(&d, l, ref)))
		goto done;
	if (json)
		rc = status_json(&d);
	else
		status_text(&d);
done:
	free(d.ch);
	rq_manifest_release(&d.old);
	rq_fp_result_release(&d.now);
	rq_entry_free(d.e);
	cmd_close_ledger(l, NULL);
	return rc;
}

int cmd_dataset(int argc, char **argv)
{
	static const struct subcmd subs[] = {
		{ "add", dataset_add, "record a dataset directory in the ledger" },
		{ "show", dataset_show, "show a recorded dataset" },
		{ "status", dataset_status, "list what changed in a dataset since it was recorded" },
		{ NULL, NULL, NULL },
	};
	return cmd_dispatch_sub("dataset", subs, argc, argv);
}
