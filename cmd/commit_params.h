/* resque commit --parent V --weights W: the parameter change of the update
 * (cmd/commit_params.c). */
#ifndef RESQUE_CMD_COMMIT_PARAMS_H
#define RESQUE_CMD_COMMIT_PARAMS_H

#include <jansson.h>
#include "entry_int.h"
#include "ledger_int.h"

/* The version's `param_change` object: {"value", "parent", "tensors",
 * "actual"} — the mean over tensors of ||w - w0|| / sqrt(n) between the
 * parent's weights (when their recorded file is at hand and still matches
 * its fingerprint) and `weights`, and the update's actual it belongs to:
 * `actual` (commit --actual) when given, else the newest actual of a plan
 * from the parent that no version names yet. *out is NULL, with a note on
 * stderr saying why, when it cannot be computed; that is not an error.
 * 0, or an error code from reading the ledger. */
int commit_param_change(json_t **out, rq_ledger *l, const rq_entry *parent, const char *weights,
			const rq_entry *actual);

#endif
