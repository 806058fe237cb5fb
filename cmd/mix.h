/*
 * Mixed cells: tasks of two or more workloads in one run under one model
 * ("sleep:63+primes:1"), as one composite workload that hands each call
 * to the part a task belongs to. See docs/workloads.md "Mixed cells".
 */
#ifndef CONC_MIX_H
#define CONC_MIX_H

#include <stdbool.h>

#include "workloads/workload.h"

/* At most this many workloads in one mix. */
#define CONC_MIX_PARTS_MAX 4

/* Whether name is a mix's spec (it joins workloads with '+'). */
bool conc_mix_is(const char *name);

/*
 * The composite workload for spec, "W[:N]+W[:N]...": each part a known
 * workload, at most once, with N tasks (a count >= 1); one part may omit
 * N and then runs whatever --tasks leaves it. Built once per spec and kept
 * until the process exits, so equal specs give the same pointer. NULL
 * after printing one line when the spec is malformed, names an unknown
 * workload, gives a zero count or makes too many options.
 */
const struct conc_workload *conc_mix_find(const char *spec);

/*
 * The name a mix's option i (of params p, a mix's) is recorded under in a
 * report: "sleep.ms" whether "ms" or "sleep.ms" was given, so that one
 * cell has one identity.
 */
const char *conc_mix_record_key(const struct conc_params *p, int i);

#endif
