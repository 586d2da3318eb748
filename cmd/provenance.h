/* What produced an entry (docs/FORMATS.md "Provenance"): resque's own
 * command line, the directory and the git work tree's version it ran in,
 * and the machine's hardware. `resque run` and `resque commit` record it;
 * `resque show` prints it (cmd/show_provenance.c). */
#ifndef RESQUE_CMD_PROVENANCE_H
#define RESQUE_CMD_PROVENANCE_H

#include <jansson.h>
#include <stdio.h>
#include <sys/types.h>

struct rq_ledger;
struct rq_entry;

/* Remember resque's argv (main calls it first; borrowed for the process's
 * life). */
void cmd_provenance_set_argv(int argc, char **argv);

/* The command-line arguments `v[0..n)` as a JSON array of strings; bytes
 * that are not UTF-8 become \xHH (as in recorded paths). New reference. */
json_t *cmd_argv_json(size_t n, const char *const *v);

/* The "provenance" object of an entry: "argv" (as main received it),
 * "cwd" (relative to the project root, only when inside it), "code" (the
 * git work tree's {"commit", "branch", "dirty"}, when the directory is in
 * one) and "hardware" (rq_meter_machine_json). The directory is the
 * current one, or with `pid` > 0 (run --attach) that process's (/proc/PID/
 * cwd). Cannot fail: what cannot be found is left out, with a warning on
 * stderr when something was there but could not be read. New reference. */
json_t *cmd_provenance(struct rq_ledger *l, pid_t pid);

/* The lines of `show` for an entry's provenance, when it has one (an entry
 * written before provenance existed has none: nothing is printed). */
void show_provenance(FILE *f, const struct rq_entry *e);

#endif
