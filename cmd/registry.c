/*
 * The registry: every model and workload, in the order `list` shows them.
 */
#include <string.h>

#include "cmd/mix.h"
#include "cmd/registry.h"

extern const struct conc_model conc_model_sequential, conc_model_fork,
    conc_model_threads, conc_model_green, conc_model_eventloop,
    conc_model_uring, conc_model_python;
extern const struct conc_workload conc_workload_primes, conc_workload_sleep,
    conc_workload_yield, conc_workload_http, conc_workload_counter;
extern const struct conc_workload conc_workload_queue, conc_workload_event,
    conc_workload_philosophers;

const struct conc_model *const conc_models[] = {
    &conc_model_sequential, &conc_model_fork,      &conc_model_threads,
    &conc_model_green,      &conc_model_eventloop, &conc_model_uring,
    &conc_model_python,
    NULL,
};

const struct conc_workload *const conc_workloads[] = {
    &conc_workload_primes,
    &conc_workload_sleep,
    &conc_workload_yield,
    &conc_workload_http,
    &conc_workload_counter,
    &conc_workload_queue,
    &conc_workload_event,
    &conc_workload_philosophers,
    NULL,
};

const struct conc_model *conc_model_find(const char *name)
{
    for (size_t i = 0; conc_models[i]; i++)
        if (strcmp(conc_models[i]->name, name) == 0)
            return conc_models[i];
    return NULL;
}

const struct conc_workload *conc_workload_find(const char *name)
{
    if (conc_mix_is(name))
        return conc_mix_find(name); /* says why when it returns NULL */
    for (size_t i = 0; conc_workloads[i]; i++)
        if (strcmp(conc_workloads[i]->name, name) == 0)
            return conc_workloads[i];
    return NULL;
}
