#!/usr/bin/env bash
# Runs the documented subset of the tests (RELIABILITY.md, "Thread safety") under a sanitizer:
#
#   scripts/sanitizers.sh thread            ThreadSanitizer  (scratch path .build-tsan)
#   scripts/sanitizers.sh address           AddressSanitizer + LeakSanitizer (.build-asan)
#   scripts/sanitizers.sh thread 'StressTests'    another --filter (a regex of test names)
#
# Debian's GStreamer and GLib are not instrumented. The suppression files next to this script
# (scripts/sanitizers/*.supp) name only frames inside GStreamer/GLib, each with its reason.
# Every report goes to .build-<kind>/reports/<kind>.<pid>; the script prints a summary and
# fails when a test failed or any report was written.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

kind=${1:-}
case "$kind" in
  thread)  scratch=.build-tsan ;;
  address) scratch=.build-asan ;;
  *) echo "usage: $0 thread|address [test filter regex]" >&2; exit 2 ;;
esac
shift

# Every element, the worker, the channel, the transforms and the key paths; not PluginTests and
# the four tests below that load the built plugin .so into gst-launch/gst-inspect/python (other,
# uninstrumented programs), and not the browser/webrtcbin examples (ExampleTests).
subset='^(CoreTests\.|InsertableStreamsTests\.(AppTransformTests|AsyncConsumerHandoffTests|BadInputTests|BridgeTests|ChannelTests|EncodedStreamsTests|FrameCryptorTests|HarnessTests|ModuleTests|MoreTransformTests|PadTaskElementTests|PixelTransformTests|ProcessorGeneratorTests|RtpScriptTransformControlTests|RtpScriptTransformTests|RtpVP8E2EEPayTests|SFrameTransformTests|SFrameVectorTests|StressTests|SwiftAPITests|VP8HeaderTests)/)'
filter=${1:-$subset}
# Tests that run gst-launch / gst-inspect (uninstrumented programs) on the built plugin .so.
skip='ModuleTests/(testGstLaunchLoadsTwoSwiftModulesAndACModuleNextToThePlugin|testModuleTransformsLeakNothing)|RtpVP8E2EEPayTests/(testInspectShowsAPayloader|testLeaksTracerFindsNothing)'

scripts/install-deps.sh
reports=$root/$scratch/reports
rm -rf "$reports"
mkdir -p "$reports"
log=$root/$scratch/test.log

if [ "$kind" = thread ]; then
  # Synchronization.Mutex's contended paths run in the uninstrumented Swift runtime: a shim
  # tells ThreadSanitizer about them (scripts/sanitizers/swift-mutex-tsan.c explains).
  mkdir -p "$root/$scratch"
  "$(dirname "$(command -v swift)")/clang" -shared -fPIC -O1 -Wall -Werror -o "$root/$scratch/libswift-mutex-tsan.so" \
    scripts/sanitizers/swift-mutex-tsan.c -ldl
  preload="$root/$scratch/libswift-mutex-tsan.so"
  # halt_on_error=0: see every report in one run; history_size=7: full second stacks.
  export TSAN_OPTIONS="suppressions=$root/scripts/sanitizers/tsan.supp halt_on_error=0 history_size=7 second_deadlock_stack=1 log_path=$reports/thread ${TSAN_OPTIONS:-}"
else
  preload=
  export ASAN_OPTIONS="detect_leaks=1 fast_unwind_on_malloc=0 malloc_context_size=10 halt_on_error=0 detect_stack_use_after_return=0 log_path=$reports/address ${ASAN_OPTIONS:-}"
  export LSAN_OPTIONS="suppressions=$root/scripts/sanitizers/lsan.supp print_suppressions=1 ${LSAN_OPTIONS:-}"
fi

start=$(date +%s)
echo "building with --sanitize=$kind into $scratch"
nice -n 10 swift build --build-tests --sanitize="$kind" --scratch-path "$scratch" >"$root/$scratch/build.log" 2>&1 \
  || { tail -50 "$root/$scratch/build.log"; exit 1; }
built=$(date +%s)
echo "built in $((built - start)) s; testing (filter $filter), log $log"
LD_PRELOAD=$preload nice -n 10 swift test --skip-build --sanitize="$kind" --scratch-path "$scratch" --disable-swift-testing \
  --filter "$filter" --skip "$skip" >"$log" 2>&1
status=$?
end=$(date +%s)

count=$(ls "$reports" | wc -l)
warnings=$(cat "$reports"/* 2>/dev/null | grep -c '^WARNING: ThreadSanitizer\|^==[0-9]*==ERROR: \(Address\|Leak\)Sanitizer')
grep -E "^Test Suite 'Selected tests'|Executed [0-9]+ tests" "$log" | tail -2
echo "tests: exit $status in $((end - built)) s; sanitizer report files: $count, reports: $warnings ($reports)"
if [ "$count" -gt 0 ]; then
  cat "$reports"/* | grep -E '^(WARNING|SUMMARY|==[0-9]+==ERROR)' | sort | uniq -c | sort -rn | head -40
fi
# A report file may hold only LeakSanitizer's "Suppressions used" table (print_suppressions=1):
# that is not a report; an error or a ThreadSanitizer warning is.
if [ "$count" -gt 0 ]; then
  echo "suppressions used (count, bytes, pattern), all report files together:"
  cat "$reports"/* | awk '/^Suppressions used:/ {on = 1; next} /^-+$/ {on = 0} on && $1 ~ /^[0-9]+$/' | sort -k3 | head -20
fi
[ "$status" -eq 0 ] && [ "$warnings" -eq 0 ]
