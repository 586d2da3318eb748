/* The calibration history of a forecast, gathered from the ledger
 * (docs/METHOD.md): the past updates of a base version's lineage whose plan and actual
 * are both recorded, the per-epoch energy traces of their runs (for STEP),
 * the from-scratch epochs E₀, and the grid context (region, intensity, PUE)
 * of a plan or a cost. The rules are in docs/METHOD.md, "Gathering the
 * history". Everything here reads the ledger; nothing writes it. */
#ifndef RESQUE_HISTORY_H
#define RESQUE_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include "resque/carbon.h"
#include "entry_int.h"
#include "resque/forecast.h"
#include "ledger_int.h"
#include "resque/sizes.h"

typedef struct rq_history {
	/* Past updates of `kind` (index finite) first, then the costs of the
	 * lineage's versions as from-scratch trainings (index NaN: never
	 * regressed on, but they feed STEP's totals/epochs fallback). */
	struct rq_history_point *points;
	size_t n_points;
	size_t n_updates;      /* the points that are past updates */
	struct rq_epoch_trace *traces;
	size_t n_traces;
	double scratch_epochs; /* E₀: epochs of the lineage's first version; NaN */
	char root[RQ_ID_HEX_SIZE]; /* entry id of the lineage's first version */
	const char *root_name; /* its name (borrowed from `keep`) */
	size_t n_versions;     /* versions in the lineage */
	size_t n_plans;        /* plans of the lineage (any kind) */
	/* What the strings and traces above point into: private to
	 * store/history.c. */
	struct rq_history_store *store;
} rq_history;

void rq_history_init(rq_history *h);
void rq_history_release(rq_history *h);

/* Gather the history of updates of `kind` for a plan from version `base`.
 * The lineage is every version sharing `base`'s first ancestor, plus every
 * version whose body.family equals `family` (NULL: `base`'s own
 * body.family, if any). A past update is a `plan` entry of that kind from
 * a lineage version with an `actual` entry whose body.plan is the plan's
 * id (the newest actual when several). Strings in `out` are borrowed from
 * `out` itself and live until rq_history_release. */
int rq_history_gather(rq_history *out, rq_ledger *l, const rq_entry *base,
		      const char *family, const rq_shift_kind *kind);

/* The grid context of a plan or a cost. */
typedef struct rq_grid {
	const rq_region *region; /* NULL when no region is known */
	double intensity;        /* g CO2e/kWh; NaN when unknown */
	double pue;              /* ≥ 1 */
	const char *intensity_source; /* "--intensity", "region", "none" (static) */
	const char *pue_source;       /* "--pue", "config", "region", "default" (static) */
} rq_grid;

/* Resolve the grid context: the region `region` (NULL: the repository's
 * resque.region, if set), looked up in the carbon table — an unknown code
 * is an error listing close matches (RQ_ENOTFOUND), never a default; the
 * intensity `intensity` when not NaN (it overrides the region's), else the
 * region's; the PUE `pue` when not NaN, else resque.pue, else the cloud
 * region's, else 1. `l` may be NULL (no repository settings). */
int rq_grid_resolve(rq_grid *out, rq_ledger *l, const char *region, double pue,
		    double intensity);

#endif
