/* Recording datasets in the ledger (see dataset.h): the directory's
 * fingerprint and manifest, the labels' class histogram, the embeddings'
 * representation summary, and the paths as the ledger records them. */
#include "common.h"
#include "resque/array.h"
#include "bounds.h"
#include "dataset.h"
#include "lineage.h"
#include "resque/repo.h"
#include "statcache.h"
#include "resque/summary.h"

#include <math.h>
#include <sys/stat.h>

json_t *rq_dataset_path_json(const char *p)
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
static void project_root(rq_buf *out, rq_ledger *l)
{
	rq_buf root = RQ_BUF_INIT;
	rq_repo_root(&root, rq_ledger_dir(l));
	char *real = realpath(root.ptr, NULL);
	rq_buf_puts(out, real ? real : root.ptr);
	free(real);
	rq_buf_release(&root);
}

int rq_dataset_relpath(rq_buf *out, rq_ledger *l, const char *path)
{
	rq_buf root = RQ_BUF_INIT;
	char *real = realpath(path, NULL);
	int err = 0;

	if (!real) {
		err = rq_error_os("%s", path);
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

void rq_dataset_abspath(rq_buf *out, rq_ledger *l, const char *rec)
{
	if (rec[0] == '/') {
		rq_buf_puts(out, rec);
		return;
	}
	project_root(out, l);
	if (strcmp(rec, ".") != 0)
		rq_buf_printf(out, "%s%s", out->len && out->ptr[out->len - 1] == '/' ? "" : "/", rec);
}

int rq_dataset_manifest(rq_manifest *out, rq_ledger *l, const rq_entry *e)
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

/* Hands the fingerprinter's progress to the caller's callback, with the
 * name of what is being fingerprinted. */
struct progress_relay {
	const rq_dataset_options *o;
	const char *what;
};

static void relay_progress(void *ctx, const rq_fp_progress *p)
{
	const struct progress_relay *r = ctx;
	r->o->progress(r->o->progress_ctx, r->what, p);
}

int rq_dataset_fingerprint(rq_fp_result *out, rq_ledger *l, const char *path, const char *what,
			   const rq_dataset_options *o)
{
	rq_statcache *sc = NULL;
	struct progress_relay relay = { o, what };
	rq_fp_options fo = { NULL, 0, false, NULL, NULL };
	int err;

	if (o && o->progress) {
		fo.progress = relay_progress;
		fo.progress_ctx = &relay;
	}
	/* without the cache everything is hashed: slower, never wrong */
	if (rq_statcache_open(&sc, l) == 0)
		fo.cache = rq_statcache_iface(sc);
	rq_error_clear();
	err = rq_fingerprint_path(out, path, &fo);
	if (fo.progress)
		o->progress(o->progress_ctx, what, NULL);
	rq_statcache_free(sc);
	return err;
}

int rq_dataset_check_dir(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return rq_error_set(RQ_EINVALID, "%s: %s", path,
				    errno == ENOENT ? "no such file or directory" : "cannot be read");
	if (!S_ISDIR(st.st_mode))
		return rq_error_set(RQ_EINVALID,
				    "%s: not a directory (a dataset is a directory; 'resque fingerprint' takes one file)",
				    path);
	return 0;
}

/* ---- Labels: the class histogram ---------------------------------------- */

struct class_count {
	int64_t label;
	uint64_t n;
};

/* Count `y` in `v`, kept sorted by label. */
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
	RQ_ALLOC_GROW(*v, *n + 1, *alloc);
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
		char key[32]; /* an int64 in decimal */
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

/* ---- Recording ------------------------------------------------------------ */

/* RQ_EEXISTS when a dataset is named `name` already: checked before the
 * fingerprinting and again under the writer's lock, so that two concurrent
 * adds cannot both take the name. */
static int dataset_name_check(rq_ledger *l, void *name)
{
	return rq_name_free(l, name, RQ_NAME_DATASET);
}

/* What a dataset entry is built from, gathered before anything is written. */
struct dataset_parts {
	const char *name;
	rq_buf base;         /* holds the default name */
	rq_buf rec;          /* the directory as recorded */
	rq_fp_result fp;     /* the directory */
	rq_buf manifest;
	json_t *classes;     /* the labels' histogram */
	rq_fp_result lfp;    /* the labels */
	rq_buf lrec;
	rq_fp_result efp;    /* the embeddings */
	rq_buf erec;
	rq_buf summary;      /* the embeddings' summary.rqs */
};

static void parts_init(struct dataset_parts *p)
{
	memset(p, 0, sizeof(*p));
	rq_buf *bufs[] = { &p->base, &p->rec, &p->manifest, &p->lrec, &p->erec, &p->summary };
	for (size_t i = 0; i < RQ_ARRAY_SIZE(bufs); i++)
		rq_buf_init(bufs[i]);
	rq_fp_result_init(&p->fp);
	rq_fp_result_init(&p->lfp);
	rq_fp_result_init(&p->efp);
}

static void parts_release(struct dataset_parts *p)
{
	rq_buf_release(&p->base);
	rq_buf_release(&p->rec);
	rq_fp_result_release(&p->fp);
	rq_buf_release(&p->manifest);
	json_decref(p->classes);
	rq_fp_result_release(&p->lfp);
	rq_buf_release(&p->lrec);
	rq_fp_result_release(&p->efp);
	rq_buf_release(&p->erec);
	rq_buf_release(&p->summary);
}

/* The name given, else the directory's base name; valid and free. */
static int choose_name(struct dataset_parts *p, rq_ledger *l, const char *path, const char *name)
{
	int err;
	if (!name) {
		char *real = realpath(path, NULL);
		rq_buf_puts(&p->base, real ? real : path);
		free(real);
		const char *slash = strrchr(p->base.ptr, '/');
		name = slash ? slash + 1 : p->base.ptr;
	}
	if ((err = rq_bound_name(name, "a dataset name", NULL)))
		return err;
	if (!rq_name_valid(name, RQ_NAME_DATASET))
		return rq_error_set(RQ_EINVALID, "'%s' cannot name a dataset: use letters, digits, '.', '_' and '-' "
						 "(not first: '.', '-'); choose one with --name",
				    name);
	if ((err = rq_name_free(l, name, RQ_NAME_DATASET)))
		return err;
	p->name = name;
	return 0;
}

/* The representation of the data under the current model: lets
 * 'resque plan --dataset NAME' measure the shift on its own. */
static int embeddings_summary(rq_buf *out, const char *embeddings, const char *labels)
{
	rq_array *ea = NULL, *la = NULL;
	rq_summary *sum = NULL;
	int err = rq_array_open_pair(&ea, &la, embeddings, labels, NULL);
	if (!err)
		err = rq_summary_from_arrays(&sum, ea, la, 1);
	if (!err)
		err = rq_summary_encode(out, sum);
	rq_summary_free(sum);
	rq_array_free(ea);
	rq_array_free(la);
	return err;
}

/* Everything the entry records, the cheap checks first so that a bad
 * labels file fails before the long fingerprinting of the directory. */
static int gather_parts(struct dataset_parts *p, rq_ledger *l, const char *path, const rq_dataset_options *o)
{
	int err;
	if ((err = rq_dataset_check_dir(path)) || (err = rq_dataset_relpath(&p->rec, l, path)) ||
	    (err = choose_name(p, l, path, o->name)))
		return err;
	if (o->labels && ((err = class_histogram(&p->classes, o->labels, o->tensor)) ||
			  (err = rq_dataset_fingerprint(&p->lfp, l, o->labels, "fingerprinting labels", o)) ||
			  (err = rq_dataset_relpath(&p->lrec, l, o->labels))))
		return err;
	if (o->embeddings && (err = embeddings_summary(&p->summary, o->embeddings, o->labels)))
		return err;
	if ((err = rq_dataset_fingerprint(&p->fp, l, path, "fingerprinting", o)))
		return err;
	rq_manifest_encode(&p->manifest, &p->fp.manifest);
	if (o->embeddings &&
	    ((err = rq_dataset_fingerprint(&p->efp, l, o->embeddings, "fingerprinting embeddings", o)) ||
	     (err = rq_dataset_relpath(&p->erec, l, o->embeddings))))
		return err;
	return 0;
}

/* The entry's body (docs/FORMATS.md, "Datasets"). New reference. */
static json_t *build_body(struct dataset_parts *p, const rq_dataset_options *o)
{
	json_t *body = json_pack("{s:s, s:o, s:s, s:I, s:I}", "name", p->name, "path",
				 rq_dataset_path_json(p->rec.ptr), "fingerprint", p->fp.fingerprint, "files",
				 (json_int_t)p->fp.files, "bytes", (json_int_t)p->fp.bytes);
	if (p->classes) {
		json_object_set_new(body, "classes", p->classes);
		p->classes = NULL;
		json_object_set_new(body, "labels", json_pack("{s:o, s:s}", "path", rq_dataset_path_json(p->lrec.ptr),
							      "fingerprint", p->lfp.fingerprint));
	}
	if (o->embeddings) {
		json_object_set_new(body, "embeddings", json_pack("{s:o, s:s}", "path",
								  rq_dataset_path_json(p->erec.ptr),
								  "fingerprint", p->efp.fingerprint));
		json_object_set_new(body, "summary", json_pack("{s:s}", "attachment", "summary.rqs"));
	}
	return body;
}

int rq_dataset_record(rq_entry **out, rq_ledger *l, const char *path, const rq_dataset_options *o)
{
	static const rq_dataset_options none = { 0 };
	struct dataset_parts p;
	int err;

	*out = NULL;
	if (!o)
		o = &none;
	parts_init(&p);
	if (!(err = gather_parts(&p, l, path, o))) {
		rq_attachment att[2] = { { "manifest", p.manifest.ptr, p.manifest.len },
					 { "summary.rqs", p.summary.ptr, p.summary.len } };
		err = rq_ledger_append_if(out, l, "dataset", build_body(&p, o), att, o->embeddings ? 2 : 1,
					  dataset_name_check, (void *)(uintptr_t)p.name);
	}
	parts_release(&p);
	return err;
}

double rq_dataset_samples(const json_t *body)
{
	json_t *classes = json_object_get(body, "classes"), *v;
	const char *k;
	double n = 0;

	if (!json_is_object(classes) || !json_object_size(classes))
		return NAN;
	json_object_foreach(classes, k, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return NAN;
		n += (double)json_integer_value(v);
	}
	return n > 0 ? n : NAN;
}
