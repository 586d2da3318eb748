/* libresque, the whole public API in one include: a program writes
 * `#include <resque/resque.h>` and links with
 * `pkg-config --cflags --libs --static resque`. Every function declared
 * here is RQ_EXTERN (resque/export.h); nothing else of the library can be
 * called. No header here includes a third-party header. */
#ifndef RESQUE_RESQUE_H
#define RESQUE_RESQUE_H

#include "resque/export.h"
#include "resque/version.h"
#include "resque/sizes.h"
#include "resque/error.h"
#include "resque/buf.h"
#include "resque/repo.h"
#include "resque/key.h"
#include "resque/keystore.h"
#include "resque/entry.h"
#include "resque/ledger.h"
#include "resque/fingerprint.h"
#include "resque/array.h"
#include "resque/summary.h"
#include "resque/measure.h"
#include "resque/shard.h"
#include "resque/forecast.h"
#include "resque/meter.h"
#include "resque/carbon.h"

#endif
