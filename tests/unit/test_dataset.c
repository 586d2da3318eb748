/* Unit tests of store/dataset.c and the name rule of store/lineage.c:
 * which names each kind accepts, recorded paths both ways, and a dataset
 * recorded, refused under a taken name, and read back. */
#include "unit.h"
#include "dataset.h"
#include "json.h"
#include "key_int.h"
#include "ledger_int.h"
#include "lineage.h"

#include <sodium.h>
#include <sys/stat.h>

TEST(name_valid_by_kind)
{
	CHECK(rq_name_valid("v1", RQ_NAME_VERSION));
	CHECK(rq_name_valid("v1+fix", RQ_NAME_VERSION));
	CHECK(!rq_name_valid("v1+fix", RQ_NAME_DATASET));
	CHECK(!rq_name_valid("latest", RQ_NAME_VERSION));
	CHECK(rq_name_valid("latest", RQ_NAME_DATASET));
	CHECK(rq_name_valid("train_2.v-1", RQ_NAME_DATASET));
	for (int kind = RQ_NAME_VERSION; kind <= RQ_NAME_DATASET; kind++) {
		CHECK(!rq_name_valid("", (enum rq_name_kind)kind));
		CHECK(!rq_name_valid("-x", (enum rq_name_kind)kind));
		CHECK(!rq_name_valid(".x", (enum rq_name_kind)kind));
		CHECK(!rq_name_valid("bad name", (enum rq_name_kind)kind));
		CHECK(!rq_name_valid("../x", (enum rq_name_kind)kind));
	}
	char longest[102];
	memset(longest, 'a', sizeof(longest));
	longest[100] = '\0';
	CHECK(rq_name_valid(longest, RQ_NAME_DATASET));
	longest[100] = 'a';
	longest[101] = '\0';
	CHECK(!rq_name_valid(longest, RQ_NAME_DATASET));
}

TEST(dataset_path_json_escapes_bytes)
{
	json_t *j = rq_dataset_path_json("ok/path");
	CHECK_STR_EQ(json_string_value(j), "ok/path");
	json_decref(j);
	j = rq_dataset_path_json("bad\xff/x");
	CHECK_STR_EQ(json_string_value(j), "bad\\xff/x");
	json_decref(j);
}

/* A repository in a fresh directory (the project root), with a signer. */
static rq_ledger *new_project(rq_buf *root, rq_key **k)
{
	rq_buf dir = RQ_BUF_INIT, home = RQ_BUF_INIT;
	rq_ledger *l = NULL;
	char *real = realpath(unit_tmpdir(), NULL);
	rq_buf_puts(root, real);
	free(real);
	rq_buf_printf(&home, "%s/home", root->ptr);
	setenv("RESQUE_HOME", home.ptr, 1);
	rq_buf_printf(&dir, "%s/.resque", root->ptr);
	if (sodium_init() < 0 || rq_key_generate(k) != 0 || rq_ledger_init(&l, dir.ptr, *k) != 0)
		unit_fail(__FILE__, __LINE__, "new project: %s", rq_error_last());
	else
		rq_ledger_set_signer(l, *k);
	rq_buf_release(&dir);
	rq_buf_release(&home);
	return l;
}

TEST(dataset_paths_relative_to_the_root)
{
	rq_buf root = RQ_BUF_INIT, p = RQ_BUF_INIT, rec = RQ_BUF_INIT, back = RQ_BUF_INIT;
	rq_key *k = NULL;
	rq_ledger *l = new_project(&root, &k);
	if (!l)
		goto done;
	rq_buf_printf(&p, "%s/data/train", root.ptr);
	CHECK_OK(rq_mkdir_p(p.ptr, 0700));
	CHECK_OK(rq_dataset_relpath(&rec, l, p.ptr));
	CHECK_STR_EQ(rec.ptr, "data/train");
	rq_dataset_abspath(&back, l, rec.ptr);
	CHECK_STR_EQ(back.ptr, p.ptr);
	rq_buf_reset(&rec);
	CHECK_OK(rq_dataset_relpath(&rec, l, root.ptr));
	CHECK_STR_EQ(rec.ptr, ".");
	rq_buf_reset(&back);
	rq_dataset_abspath(&back, l, ".");
	CHECK_STR_EQ(back.ptr, root.ptr);
	rq_buf_reset(&rec);
	CHECK_OK(rq_dataset_relpath(&rec, l, "/"));
	CHECK_STR_EQ(rec.ptr, "/");
	rq_buf_reset(&p);
	rq_buf_printf(&p, "%s/missing", root.ptr);
	rq_buf_reset(&rec);
	CHECK_ERR(rq_dataset_relpath(&rec, l, p.ptr), RQ_ENOTFOUND);
	CHECK_CONTAINS(rq_error_last(), "/missing: ");
done:
	rq_ledger_free(l);
	rq_key_free(k);
	rq_buf_release(&root);
	rq_buf_release(&p);
	rq_buf_release(&rec);
	rq_buf_release(&back);
}

TEST(dataset_record_and_read_back)
{
	rq_buf root = RQ_BUF_INIT, dir = RQ_BUF_INIT, file = RQ_BUF_INIT;
	rq_key *k = NULL;
	rq_entry *e = NULL, *again = NULL;
	rq_manifest m;
	rq_ledger *l = new_project(&root, &k);
	rq_manifest_init(&m);
	if (!l)
		goto done;
	rq_buf_printf(&dir, "%s/train", root.ptr);
	CHECK_OK(rq_mkdir_p(dir.ptr, 0700));
	free(unit_write_file(dir.ptr, "a.txt", "hello", 5));
	rq_buf_printf(&file, "%s/a.txt", dir.ptr);
	CHECK_ERR(rq_dataset_check_dir(file.ptr), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "not a directory");
	CHECK_OK(rq_dataset_record(&e, l, dir.ptr, NULL));
	if (!e)
		goto done;
	CHECK_STR_EQ(rq_entry_name(e), "train");
	CHECK_STR_EQ(rq_json_str(e->body, "path", ""), "train");
	CHECK_INT_EQ(rq_json_int(e->body, "files", 0), 1);
	CHECK_INT_EQ(rq_json_int(e->body, "bytes", 0), 5);
	CHECK_OK(rq_dataset_manifest(&m, l, e));
	CHECK_INT_EQ(m.n, 1);
	/* the name is taken now; a bad name is refused before any work */
	CHECK_ERR(rq_dataset_record(&again, l, dir.ptr, NULL), RQ_EEXISTS);
	CHECK_CONTAINS(rq_error_last(), "already in use");
	rq_dataset_options o = { .name = "v1+x" };
	CHECK_ERR(rq_dataset_record(&again, l, dir.ptr, &o), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "cannot name a dataset");
	CHECK(again == NULL);
done:
	rq_manifest_release(&m);
	rq_entry_free(e);
	rq_entry_free(again);
	rq_ledger_free(l);
	rq_key_free(k);
	rq_buf_release(&root);
	rq_buf_release(&dir);
	rq_buf_release(&file);
}
