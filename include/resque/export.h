/* RQ_EXTERN marks a function of the public API. The library is compiled
 * with -fvisibility=hidden and the installed libresque.a keeps only the
 * symbols so marked (the Makefile localises the rest), so that a program
 * can call exactly what include/resque/ declares, after libgit2's
 * GIT_EXTERN. */
#ifndef RESQUE_EXPORT_H
#define RESQUE_EXPORT_H

#define RQ_EXTERN __attribute__((visibility("default")))

/* The public headers' declarations have C linkage in C++ too. */
#ifdef __cplusplus
#define RQ_BEGIN_DECLS extern "C" {
#define RQ_END_DECLS }
#else
#define RQ_BEGIN_DECLS
#define RQ_END_DECLS
#endif

#endif
