/* Private to the carbon module: the generated table (core/forecast/carbon_table.c). */
#ifndef RESQUE_CARBON_INT_H
#define RESQUE_CARBON_INT_H

#include "resque/carbon.h"

extern const rq_region rq_carbon_table[];
extern const size_t rq_carbon_table_len;

#endif
