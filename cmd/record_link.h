/* resque record --plan P --actual A (cmd/record_link.c). */
#ifndef RESQUE_CMD_RECORD_LINK_H
#define RESQUE_CMD_RECORD_LINK_H

#include <stdbool.h>

/* Link actual `actual_ref`, recorded without a plan, to plan `plan_ref`:
 * append a signed `actual` entry copying its body with `plan` and
 * `linked_from` set. Refused (exit 1) when P is not a plan, A not an
 * actual, or A is linked to a plan already. Prints the result; returns
 * the exit status. */
int record_link(const char *plan_ref, const char *actual_ref, bool json);

#endif
