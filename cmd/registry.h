/*
 * The only registry: every model and workload, compiled in or not.
 */
#ifndef CONC_REGISTRY_H
#define CONC_REGISTRY_H

#include "models/model.h"
#include "workloads/workload.h"

/* NULL-terminated, in the order `list` and `sweep --models all` use. */
extern const struct conc_model *const conc_models[];
extern const struct conc_workload *const conc_workloads[];

/* Lookup by name; NULL when unknown. A mix ("sleep:63+primes:1", see
   cmd/mix.h) is built on first lookup, and NULL then comes after a line
   saying what is wrong with it. */
const struct conc_model *conc_model_find(const char *name);
const struct conc_workload *conc_workload_find(const char *name);

#endif
