/* Where a repository lives: discovery of `.resque/` and its paths. */
#ifndef RESQUE_REPO_H
#define RESQUE_REPO_H

#include "resque/buf.h"

/* Find the `.resque` directory: from RESQUE_DIR if set (the .resque
 * directory itself or a directory containing it), else walking up from
 * `start` (NULL: the working directory). `out` receives an absolute path
 * to `.resque`. RQ_ENOTFOUND with a helpful message when there is none. */
int rq_repo_discover(rq_buf *out, const char *start);

/* The project root: the directory that holds `.resque`. */
void rq_repo_root(rq_buf *out, const char *resque_dir);

#endif
