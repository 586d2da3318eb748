/* resque dataset add|show|status: record a dataset directory's fingerprint
 * and manifest in the ledger, show it, and compare it with the tree now. */
#include "common.h"
#include "cmd.h"
#include "resque/bounds.h"
#include "progress.h"
#include "resque/array.h"
#include "resque/fingerprint.h"
#include "resque/json.h"
#include "resque/ledger.h"
#include "resque/repo.h"
#include "resque/statcache.h"
#include "resque/summary.h"

#include <sys/stat.h>

/* ---- Shared helpers ------------------------------------------------------ */

/* A JSON string for a path; bytes that are not UTF-8 (paths are bytes)
 * are shown as \xHH so the document stays valid. New reference. */
static json_t *path_json(const char *p)
{
	json_t *j = json_string(p);
	if (j)
		return j;
	rq_buf b = RQ_BUF_INIT;
	for (const unsigned char *c = (const unsigned char *)p; *c; c++) {
		if (*c >= 0x80 || *c < 0x20)
			rq_buf_printf(&b, "\\x%02x", *c);
		else
			rq_buf_putc(&b, (char)*c);
	}
	j = json_string(b.ptr);
	rq_buf_release(&b);
	return j;
}

/* The project root (the directory holding .resque), resolved. */
static int project_root(rq_buf *out, rq_ledger *l)
{
	rq_buf root = RQ_BUF_INIT;
	rq_repo_root(&root, rq_ledger_dir(l));
	char *real = realpath(root.ptr, NULL);
	rq_buf_puts(out, real ? real : root.ptr);
	free(real);
	rq_buf_release(&root);
	return 0;
}

/* `path` as recorded: relative to the project root when inside it, else
 * absolute. */
static int recorded_path(rq_buf *out, rq_ledger *l, const char *path)
{
	rq_buf root = RQ_BUF_INIT;
	char *real = realpath(path, NULL);
	int err = 0;

	if (!real) {
		err = rq_error_set(errno == ENOENT ? RQ_ENOTFOUND : RQ_EIO, "%s: %s", path,
				   errno == ENOENT ? "no such file or directory" : "cannot be resolved");
		goto done;
	}
	project_root(&root, l);
	size_t n = root.len;
	if (strcmp(real, root.ptr) == 0)
		rq_buf_puts(out, ".");
	else if (n == 1 && root.ptr[0] == '/')
		rq_buf_puts(out, real + 1);
	else if (strncmp(real, root.ptr, n) == 0 && real[n] == '/')
		rq_buf_puts(out, real + n + 1);
	else
		rq_buf_puts(out, real);
done:
	free(real);
	rq_buf_release(&root);
	return err;
}

/* A recorded path back to one usable from here. */
static void resolve_recorded(rq_buf *out, rq_ledger *l, const char *rec)
{
	if (rec[0] == '/') {
		rq_buf_puts(out, rec);
		return;
	}
	project_root(out, l);
	if (strcmp(rec, ".") != 0)
		rq_buf_printf(out, "%s%s", out->len && out->ptr[out->len - 1] == '/' ? "" : "/", rec);
}

static int fingerprint_with_cache(rq_fp_result *out, rq_ledger *l, const char *path, const char *what)
{
	rq_statcache *sc = NULL;
	struct progress bar;
	rq_fp_options o = { NULL, 0, false, progress_fp, &bar };
	int err;

	if (rq_statcache_open(&sc, l) == 0)
		o.cache = rq_statcache_iface(sc);
	rq_error_clear();
	progress_init(&bar, what);
	err = rq_fingerprint_path(out, path, &o);
	progress_done(&bar);
	rq_statcache_free(sc);
	return err;
}

static bool name_ok(const char *s)
{
	if (!*s || strlen(s) > 100 || s[0] == '-' || s[0] == '.')
		return false;
	for (const char *c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '.' || *c == '_' || *c == '-'))
			return false;
	return true;
}

/* ---- Labels: the class histogram ---------------------------------------- */

struct class_count {
	int64_t label;
	uint64_t n;
};

static void count_label(struct class_count **v, size_t *n, size_t *alloc, int64_t y)
{
	size_t lo = 0, hi = *n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if ((*v)[mid].label < y)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < *n && (*v)[lo].label == y) {
		(*v)[lo].n++;
		return;
	}
	if (*n == *alloc) {
		*alloc = *alloc ? 2 * *alloc : 16;
		*v = rq_xrealloc(*v, *alloc * sizeof(**v));
	}
	memmove(&(*v)[lo + 1], &(*v)[lo], (*n - lo) * sizeof(**v));
	(*v)[lo].label = y;
	(*v)[lo].n = 1;
	(*n)++;
}

/* {"LABEL": count, ...} of the labels file. */
static int class_histogram(json_t **out, const char *path, const char *tensor)
{
	rq_array *a = NULL;
	struct class_count *v = NULL;
	size_t n = 0, alloc = 0, block = 65536;
	int64_t *buf = NULL;
	json_t *j = NULL;
	int err;

	*out = NULL;
	if ((err = rq_array_open(&a, path, tensor)))
		goto done;
	if (rq_array_cols(a) != 1) {
		err = rq_error_set(RQ_EINVALID, "%s: labels must be one column, not %zu", path,
				   rq_array_cols(a));
		goto done;
	}
	buf = rq_xcalloc(block, sizeof(*buf));
	for (size_t row = 0, rows = rq_array_rows(a); row < rows; row += block) {
		size_t k = rows - row < block ? rows - row : block;
		if ((err = rq_array_read_labels(a, row, k, buf)))
			goto done;
		for (size_t i = 0; i < k; i++)
			count_label(&v, &n, &alloc, buf[i]);
	}
	j = json_object();
	for (size_t i = 0; i < n; i++) {
		char key[32];
		snprintf(key, sizeof(key), "%" PRId64, v[i].label);
		json_object_set_new(j, key, json_integer((json_int_t)v[i].n));
	}
	*out = j;
done:
	free(buf);
	free(v);
	rq_array_free(a);
	return err;
}

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

/* RQ_EEXISTS when a dataset is named `name` already: checked before the
 * fingerprinting and again under the writer's lock, so that two concurrent
 * adds cannot both take the name. */
static int dataset_name_free(rq_ledger *l, const char *name)
{
	rq_entry *other = NULL;
	int err = rq_ledger_lookup(&other, l, name, "dataset");
	if (err == 0 && rq_entry_name(other) && strcmp(rq_entry_name(other), name) == 0)
		err = rq_error_set(RQ_EEXISTS, "dataset name '%s' is already in use (entry %.12s); choose another with --name",
				   name, other->id);
	else if (!err || err == RQ_ENOTFOUND || err == RQ_EAMBIGUOUS)
		err = 0;
	if (!err)
		rq_error_clear();
	rq_entry_free(other);
	return err;
}

static int dataset_name_check(rq_ledger *l, void *name)
{
	return dataset_name_free(l, name);
}

int cmd_dataset_record(rq_entry **out, rq_ledger *l, const char *path, const char *name, const char *labels,
		       const char *tensor, const char *embeddings)
{
	rq_buf sumbytes = RQ_BUF_INIT;
	rq_fp_result fp, lfp;
	rq_buf rec = RQ_BUF_INIT, lrec = RQ_BUF_INIT, man = RQ_BUF_INIT, base = RQ_BUF_INIT;
	json_t *body = NULL, *classes = NULL;
	struct stat st;
	int err;

	*out = NULL;
	rq_fp_result_init(&fp);
	rq_fp_result_init(&lfp);
	if (stat(path, &st) != 0) {
		err = rq_error_set(RQ_EINVALID, "%s: %s", path,
				   errno == ENOENT ? "no such file or directory" : "cannot be read");
		goto done;
	}
	if (!S_ISDIR(st.st_mode)) {
		err = rq_error_set(RQ_EINVALID,
				   "%s: not a directory (a dataset is a directory; 'resque fingerprint' takes one file)",
				   path);
		goto done;
	}
	if ((err = recorded_path(&rec, l, path)))
		goto done;
	if (!name) {
		char *real = realpath(path, NULL);
		rq_buf_puts(&base, real ? real : path);
		free(real);
		const char *slash = strrchr(base.ptr, '/');
		name = slash ? slash + 1 : base.ptr;
	}
	if ((err = rq_bound_name(name, "a dataset name", NULL)))
		goto done;
	if (!name_ok(name)) {
		err = rq_error_set(RQ_EINVALID, "'%s' cannot name a dataset: use letters, digits, '.', '_' and '-' "
						"(not first: '.', '-'); choose one with --name",
				   name);
		goto done;
	}
	if ((err = dataset_name_free(l, name)))
		goto done;
	if (labels) {
		/* Read the labels before the long part, so a bad file fails fast. */
		if ((err = class_histogram(&classes, labels, tensor)) ||
		    (err = fingerprint_with_cache(&lfp, l, labels, "fingerprinting labels")) ||
		    (err = recorded_path(&lrec, l, labels)))
			goto done;
	}
	if (embeddings) {
		/* The data's representation under the current model: lets
		 * 'resque plan --dataset NAME' measure the shift on its own. */
		rq_array *ea = NULL, *la = NULL;
		rq_summary *sum = NULL;
		err = rq_array_open_pair(&ea, &la, embeddings, labels, NULL);
		if (!err)
			err = rq_summary_from_arrays(&sum, ea, la, 1);
		if (!err)
			err = rq_summary_encode(&sumbytes, sum);
		rq_summary_free(sum);
		rq_array_free(ea);
		rq_array_free(la);
		if (err)
			goto done;
	}
	if ((err = fingerprint_with_cache(&fp, l, path, "fingerprinting")))
		goto done;
	rq_manifest_encode(&man, &fp.manifest);
	body = json_pack("{s:s, s:o, s:s, s:I, s:I}", "name", name, "path", path_json(rec.ptr),
			 "fingerprint", fp.fingerprint, "files", (json_int_t)fp.files, "bytes",
			 (json_int_t)fp.bytes);
	if (classes) {
		json_object_set_new(body, "classes", classes);
		classes = NULL;
		json_object_set_new(body, "labels", json_pack("{s:o, s:s}", "path", path_json(lrec.ptr),
							      "fingerprint", lfp.fingerprint));
	}
	rq_attachment att[2] = { { "manifest", man.ptr, man.len }, { "summary.rqs", sumbytes.ptr, sumbytes.len } };
	if (embeddings) {
		rq_fp_result efp;
		rq_buf erec = RQ_BUF_INIT;
		rq_fp_result_init(&efp);
		if ((err = fingerprint_with_cache(&efp, l, embeddings, "fingerprinting embeddings")) ||
		    (err = recorded_path(&erec, l, embeddings))) {
			rq_fp_result_release(&efp);
			rq_buf_release(&erec);
			goto done;
		}
		json_object_set_new(body, "embeddings", json_pack("{s:o, s:s}", "path", path_json(erec.ptr),
								  "fingerprint", efp.fingerprint));
		json_object_set_new(body, "summary", json_pack("{s:s}", "attachment", "summary.rqs"));
		rq_fp_result_release(&efp);
		rq_buf_release(&erec);
	}
	err = rq_ledger_append_if(out, l, "dataset", body, att, embeddings ? 2 : 1, dataset_name_check, (void *)name);
	body = NULL;
done:
	rq_buf_release(&sumbytes);
	json_decref(body);
	json_decref(classes);
	rq_fp_result_release(&fp);
	rq_fp_result_release(&lfp);
	rq_buf_release(&rec);
	rq_buf_release(&lrec);
	rq_buf_release(&man);
	rq_buf_release(&base);
	return err;
}

static int dataset_add(int argc, char **argv)
{
	const char *path = NULL, *name = NULL, *labels = NULL, *tensor = NULL, *embeddings = NULL;
	bool json = false;
	const struct opt opts[] = {
		{ OPT_STRING, 'n', "name", &name, "NAME", "the dataset's name (default: the directory's name)" },
		{ OPT_STRING, 0, "embeddings", &embeddings, "FILE", "its embeddings under the current model, with --labels: record a representation summary" },
		{ OPT_STRING, 0, "labels", &labels, "FILE", "class labels (.npy or safetensors): record the class histogram" },
		{ OPT_STRING, 0, "tensor", &tensor, "NAME", "the labels' tensor in a safetensors file" },
		{ OPT_BOOL, 0, "json", &json, NULL, "print the new entry as JSON" },
		{ OPT_ARG, 0, "PATH", &path, NULL, "the dataset's directory", OPT_REQUIRED },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	rq_key *k = NULL;
	rq_entry *e = NULL;
	struct stat st;
	int rc = 0, err;

	OPT_PARSE(&add_help, opts, argc, argv);
	if (tensor && !labels)
		return cmd_usage(&add_help, opts, "--tensor names a tensor of the --labels file");
	if (embeddings && !labels)
		return cmd_usage(&add_help, opts, "--embeddings needs --labels");
	if (embeddings && tensor)
		return cmd_usage(&add_help, opts, "--tensor applies to --labels alone; give --embeddings as .npy or a one-tensor file");
	/* Check the path before looking for a repository: the clearer error. */
	if (stat(path, &st) != 0)
		return cmd_error("%s: %s", path, errno == ENOENT ? "no such file or directory" : "cannot be read");
	if (!S_ISDIR(st.st_mode))
		return cmd_error("%s: not a directory (a dataset is a directory; 'resque fingerprint' takes one file)",
				 path);
	if ((rc = cmd_open_ledger(&l, &k)))
		return rc;
	if ((err = cmd_dataset_record(&e, l, path, name, labels, tensor, embeddings))) {
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

static int read_manifest(rq_manifest *out, rq_ledger *l, const rq_entry *e)
{
	rq_buf b = RQ_BUF_INIT, name = RQ_BUF_INIT;
	int err = rq_ledger_attachment(&b, l, e, "manifest");
	if (!err) {
		rq_buf_printf(&name, "manifest of entry %.12s", e->id);
		err = rq_manifest_parse(out, b.ptr, b.len, name.ptr);
	}
	rq_buf_release(&b);
	rq_buf_release(&name);
	return err;
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
	    (files && (err = read_manifest(&m, l, e)))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	const json_t *b = e->body;
	if (json) {
		static const char *const keys[] = { "name", "path", "fingerprint", "files", "bytes", "classes", "labels" };
		json_t *j = cmd_entry_json(e);
		for (size_t i = 0; i < RQ_ARRAY_SIZE(keys); i++)
			if (json_object_get(b, keys[i]))
				json_object_set(j, keys[i], json_object_get(b, keys[i]));
		if (files) {
			json_t *a = json_array();
			for (size_t i = 0; i < m.n; i++) {
				char f[RQ_FINGERPRINT_SIZE];
				rq_fingerprint_format(f, m.v[i].hash);
				json_array_append_new(a, json_pack("{s:o, s:s, s:I, s:s}", "path",
								   path_json(m.v[i].path), "kind",
								   m.v[i].link ? "link" : "file", "bytes",
								   (json_int_t)m.v[i].size, "fingerprint", f));
			}
			json_object_set_new(j, "manifest", a);
		}
		rc = cmd_print_json(j);
		json_decref(j);
		goto done;
	}
	printf("dataset      %s\nentry        %s\nrecorded     %s by %s\npath         %s\n"
	       "fingerprint  %s\nfiles        %" JSON_INTEGER_FORMAT "\nbytes        %" JSON_INTEGER_FORMAT "\n",
	       rq_json_str(b, "name", "?"), e->id, e->time, e->signer, rq_json_str(b, "path", "?"),
	       rq_json_str(b, "fingerprint", "?"), rq_json_int(b, "files", 0), rq_json_int(b, "bytes", 0));
	const json_t *lab = json_object_get(b, "labels");
	if (json_is_object(lab))
		printf("labels       %s (%s)\n", rq_json_str(lab, "path", "?"), rq_json_str(lab, "fingerprint", "?"));
	const json_t *cls = json_object_get(b, "classes");
	if (json_is_object(cls)) {
		const char *key;
		json_t *v;
		printf("classes      %zu:", json_object_size(cls));
		json_object_foreach((json_t *)cls, key, v)
			printf(" %s=%" JSON_INTEGER_FORMAT, key, json_integer_value(v));
		putchar('\n');
	}
	if (files) {
		putchar('\n');
		for (size_t i = 0; i < m.n; i++) {
			char f[RQ_FINGERPRINT_SIZE];
			rq_fingerprint_format(f, m.v[i].hash);
			printf("%s %12" PRIu64 "  %s  %s\n", m.v[i].link ? "link" : "file", m.v[i].size, f,
			       m.v[i].path);
		}
	}
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
	rq_entry *e = NULL;
	rq_manifest old;
	rq_fp_result now;
	rq_manifest_change *ch = NULL;
	rq_buf where = RQ_BUF_INIT;
	size_t nch = 0, count[3] = { 0, 0, 0 };
	int rc, err;

	OPT_PARSE(&status_help, opts, argc, argv);
	rq_manifest_init(&old);
	rq_fp_result_init(&now);
	if ((rc = cmd_open_ledger(&l, NULL)))
		return rc;
	if ((err = rq_ledger_lookup(&e, l, ref, "dataset")) || (err = read_manifest(&old, l, e))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	const char *name = rq_json_str(e->body, "name", "?");
	const char *rec = rq_json_str(e->body, "path", NULL);
	const char *recorded = rq_json_str(e->body, "fingerprint", "?");
	if (!rec || !*rec) {
		rc = cmd_error("dataset %s (entry %.12s) records no path", name, e->id);
		goto done;
	}
	resolve_recorded(&where, l, rec);
	if (!rq_is_dir(where.ptr)) {
		rc = cmd_error("%s: the directory of dataset %s is gone (%s)", rec, name,
			       rq_path_exists(where.ptr) ? "not a directory" : "no such directory");
		goto done;
	}
	if ((err = fingerprint_with_cache(&now, l, where.ptr, "fingerprinting"))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	rq_manifest_diff(&ch, &nch, &old, &now.manifest);
	for (size_t i = 0; i < nch; i++)
		count[ch[i].kind == RQ_CHANGE_ADDED ? 0 : ch[i].kind == RQ_CHANGE_REMOVED ? 1 : 2]++;
	if (json) {
		json_t *lists[3] = { json_array(), json_array(), json_array() };
		for (size_t i = 0; i < nch; i++) {
			int w = ch[i].kind == RQ_CHANGE_ADDED ? 0 : ch[i].kind == RQ_CHANGE_REMOVED ? 1 : 2;
			json_array_append_new(lists[w], path_json(ch[i].path));
		}
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:o, s:o, s:o}", "name", name, "id",
				      e->id, "path", rec, "recorded", recorded, "current", now.fingerprint,
				      "clean", nch == 0, "added", lists[0], "removed", lists[1], "changed",
				      lists[2]);
		rc = cmd_print_json(j);
		json_decref(j);
		goto done;
	}
	if (nch == 0) {
		printf("dataset %s at %s: unchanged (%" PRIu64 " files, %s)\n", name, rec, now.files,
		       now.fingerprint);
		goto done;
	}
	printf("dataset %s at %s: %zu added, %zu removed, %zu changed\n", name, rec, count[0], count[1],
	       count[2]);
	printf("  recorded %s\n  now      %s\n\n", recorded, now.fingerprint);
	for (size_t i = 0; i < nch; i++) {
		const char *what = ch[i].kind == RQ_CHANGE_ADDED ? "added:  " :
				   ch[i].kind == RQ_CHANGE_REMOVED ? "removed:" : "changed:";
		json_t *pj = path_json(ch[i].path); /* shows odd bytes escaped */
		printf("\t%s %s\n", what, json_string_value(pj));
		json_decref(pj);
	}
done:
	free(ch);
	rq_manifest_release(&old);
	rq_fp_result_release(&now);
	rq_buf_release(&where);
	rq_entry_free(e);
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
