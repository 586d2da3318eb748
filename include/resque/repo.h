/* Where a repository lives: discovery of `.resque/` and its paths. */
#ifndef RESQUE_REPO_H
#define RESQUE_REPO_H

#include "resque/buf.h"
#include "resque/export.h"

RQ_BEGIN_DECLS

/* Find the `.resque` directory: from RESQUE_DIR if set (the .resque
 * directory itself or a directory containing it), else walking up from
 * `start` (NULL: the working directory). Its absolute path is appended to
 * `out` (the caller's buffer). RQ_ENOTFOUND with a helpful message when
 * there is none. */
RQ_EXTERN int rq_repo_discover(rq_buf *out, const char *start);

/* Append the project root, the directory that holds `resque_dir` (a
 * `.resque` path), to `out` (the caller's buffer). Cannot fail. */
RQ_EXTERN void rq_repo_root(rq_buf *out, const char *resque_dir);

RQ_END_DECLS

#endif
