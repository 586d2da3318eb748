/* BLAS and LAPACKE loaded with dlopen on the first call that needs them
 * (see linalg_int.h for why): one table of function pointers per library,
 * filled once under pthread_once. */
#include "common.h"
#include "linalg_int.h"

#include <dlfcn.h>
#include <pthread.h>

/* One library: where to look, what failed. */
struct lib {
	const char *env;       /* a path or soname that replaces the defaults */
	const char *names[2];  /* the sonames tried in turn */
	const char *package;   /* the Debian package that holds them */
	const char *what;      /* for the message: what needs the library */
	const char *used;      /* the name it was loaded by */
	void *handle;
	char error[512];       /* why it could not be loaded, or "" */
};

static struct lib blas_lib = {
	.env = "RESQUE_BLAS_LIB",
	.names = { "libopenblas.so.0", "libopenblas.so" },
	.package = "libopenblas0",
	.what = "this computation needs BLAS",
};
static struct lib lapack_lib = {
	.env = "RESQUE_LAPACKE_LIB",
	.names = { "liblapacke.so.3", "liblapacke.so" },
	.package = "liblapacke",
	.what = "this computation needs LAPACKE",
};
static struct rq_blas blas;
static struct rq_lapack lapack;
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static pthread_once_t lapack_once = PTHREAD_ONCE_INIT;

/* dlopen the library (RTLD_LOCAL: its symbols stay out of the global
 * scope); on failure, lib->error says why. */
static bool open_lib(struct lib *lib)
{
	const char *path = getenv(lib->env);
	const char *err;

	if (path && *path) {
		lib->used = path;
		if ((lib->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
			return true;
		err = dlerror();
		snprintf(lib->error, sizeof(lib->error), "%s: %s (set by $%s)", lib->what,
			 err ? err : path, lib->env);
		return false;
	}
	lib->used = lib->names[0];
	if ((lib->handle = dlopen(lib->names[0], RTLD_NOW | RTLD_LOCAL)))
		return true;
	err = dlerror();
	snprintf(lib->error, sizeof(lib->error), "%s: %s (apt-get install %s)", lib->what,
		 err ? err : lib->names[0], lib->package);
	lib->used = lib->names[1];
	return (lib->handle = dlopen(lib->names[1], RTLD_NOW | RTLD_LOCAL)) != NULL;
}

/* dlsym into *fn; a missing function is recorded in lib->error. */
static void find(struct lib *lib, void **fn, const char *name)
{
	if ((*fn = dlsym(lib->handle, name)) || lib->error[0])
		return;
	snprintf(lib->error, sizeof(lib->error), "%s: %s has no function %s", lib->what, lib->used,
		 name);
}

/* BLAS libraries other than OpenBLAS have no thread count to set: they
 * are taken to run on the calling thread. */
static int one_thread(void)
{
	return 1;
}

static void any_threads(int n)
{
	(void)n;
}

static void load_blas(void)
{
	if (!open_lib(&blas_lib))
		return;
	blas_lib.error[0] = '\0';
	find(&blas_lib, (void **)&blas.sgemm, "cblas_sgemm");
	find(&blas_lib, (void **)&blas.dsyrk, "cblas_dsyrk");
	if (!(*(void **)&blas.get_num_threads = dlsym(blas_lib.handle, "openblas_get_num_threads")) ||
	    !(*(void **)&blas.set_num_threads = dlsym(blas_lib.handle, "openblas_set_num_threads"))) {
		blas.get_num_threads = one_thread;
		blas.set_num_threads = any_threads;
	}
}

static void load_lapack(void)
{
	if (!open_lib(&lapack_lib))
		return;
	lapack_lib.error[0] = '\0';
	find(&lapack_lib, (void **)&lapack.dposv, "LAPACKE_dposv");
	find(&lapack_lib, (void **)&lapack.dpotrf, "LAPACKE_dpotrf");
	find(&lapack_lib, (void **)&lapack.dpotri, "LAPACKE_dpotri");
}

int rq_blas_load(const struct rq_blas **out)
{
	*out = NULL;
	pthread_once(&blas_once, load_blas);
	if (blas_lib.error[0])
		return rq_error_set(RQ_EUNSUPPORTED, "%s", blas_lib.error);
	*out = &blas;
	return 0;
}

int rq_lapack_load(const struct rq_lapack **out)
{
	*out = NULL;
	pthread_once(&lapack_once, load_lapack);
	if (lapack_lib.error[0])
		return rq_error_set(RQ_EUNSUPPORTED, "%s", lapack_lib.error);
	*out = &lapack;
	return 0;
}
