# Shared by the tests that assert on measured time: a latency, a ratio of
# two wall times, a wait that scheduling decides. This machine and CI's are
# shared VMs whose speed drifts run to run, and a host hiccup can push one
# measurement past any fixed margin, so such a test gets up to 3 tries in
# all: a model that is really slow fails all three. Each retry is said in
# the log, so a test that only passes on its third try is visible. Tests
# of answers, exit codes and files never use this.

# timing_test: call first in a timing test's body.
timing_test() {
    BATS_TEST_RETRIES=2
    if [ "${BATS_TEST_TRY_NUMBER:-1}" -gt 1 ]; then
        echo "# timing test '$BATS_TEST_DESCRIPTION': try $BATS_TEST_TRY_NUMBER of 3 (the last failed)" >&3
    fi
}
