/*
 * threads: not built yet; registered so that `list` shows it and `run` exits 3.
 */
#include "models/model.h"

const struct conc_model conc_model_threads = {
    .name = "threads",
    .summary = "not built yet",
    .unavailable = "not implemented yet",
};
