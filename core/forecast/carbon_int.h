/* Private to the carbon module: the generated table (core/forecast/carbon_table.c). */
#ifndef RESQUE_CARBON_INT_H
#define RESQUE_CARBON_INT_H

#include "resque/carbon.h"

extern const rq_region rq_carbon_table[];
extern const size_t rq_carbon_table_len;

/* An old spelling of a code the generator corrected (a typo of the source
 * data) and the code it is now. */
typedef struct {
	const char *old, *code;
} rq_region_alias;

/* Ends with { NULL, NULL }. */
extern const rq_region_alias rq_carbon_aliases[];

#endif
