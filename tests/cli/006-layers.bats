#!/usr/bin/env bats
# The layers hold (scripts/check-layers.sh): cmd/ -> models/ -> workloads/
# -> lib/, and no workload names a model. The checker itself must catch a
# breach, or its pass on the tree means nothing.

top() { cd "$BATS_TEST_DIRNAME/../.." && pwd; }

@test "the tree keeps its layers" {
    run "$(top)/scripts/check-layers.sh" "$(top)"
    echo "$output"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
}

@test "the layer check catches an include above a layer and a named model" {
    local t=$BATS_TEST_TMPDIR/tree
    mkdir -p "$t"
    cp -r "$(top)"/lib "$(top)"/models "$(top)"/workloads "$(top)"/cmd "$t"/
    echo '#include "cmd/exit.h"' >>"$t/workloads/sleep.c"
    echo '#include "models/model.h"' >>"$t/lib/heap.c"
    echo '#include "cmd/report.h"' >>"$t/models/fork.c"
    printf 'static const char *layers_x = "threads";\n' >>"$t/workloads/primes.c"
    printf '/* under "green" in a comment is fine */\n' >>"$t/workloads/yield.c"
    run "$(top)/scripts/check-layers.sh" "$t"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *'workloads/sleep.c includes "cmd/exit.h"'* ]]
    [[ "$output" == *'lib/heap.c includes "models/model.h"'* ]]
    [[ "$output" == *'models/fork.c includes "cmd/report.h"'* ]]
    [[ "$output" == *"workloads/primes.c names the model 'threads'"* ]]
    [[ "$output" != *yield.c* ]]
}
