#!/usr/bin/env bash
# The long stress runs of Tests/InsertableStreamsTests/StressTests.swift (RELIABILITY.md,
# "Thread safety"): eight threads against running elements for 60 s, 1,000 PLAYING/NULL cycles
# with data flowing, 500 two-pipeline teardowns in seeded random orders.
#
#   scripts/stress.sh                  debug build (.build), the long runs
#   scripts/stress.sh thread           the same under ThreadSanitizer (.build-tsan; slower)
#
# Tunable: INSERTABLE_STREAMS_STRESS_SECONDS, _CYCLES, _TEARDOWNS, _SEED (repeats an order).
set -euo pipefail
cd "$(dirname "$0")/.."
export INSERTABLE_STREAMS_STRESS=1
if [ "${1:-}" = thread ] || [ "${1:-}" = address ]; then
  exec scripts/sanitizers.sh "$1" 'InsertableStreamsTests\.StressTests/'
fi
scripts/install-deps.sh
nice -n 10 swift build --build-tests
log=.build/stress.log
start=$(date +%s)
set +e
nice -n 10 swift test --skip-build --disable-swift-testing --filter 'InsertableStreamsTests\.StressTests/' >"$log" 2>&1
status=$?
set -e
grep -E '^stress:|error:|Executed [0-9]+ tests' "$log" || true
echo "exit $status in $(( $(date +%s) - start )) s (log $log)"
exit $status
