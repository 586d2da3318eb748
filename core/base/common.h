/* Included first by every .c file of the project: the standard headers we
 * use everywhere, the internal headers of core/base (setting errors, filling
 * buffers, the allocators, util), then banned.h so unsafe string functions
 * fail to compile. */
#ifndef RESQUE_COMMON_H
#define RESQUE_COMMON_H

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_int.h"
#include "buf_int.h"
#include "util.h"

#define RQ_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define RQ_UNUSED(x) ((void)(x))

#include "banned.h"

#endif
