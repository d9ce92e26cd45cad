#!/bin/bash
# Coverage-guided fuzzing of the plugin's parsers of untrusted bytes (libFuzzer + AddressSanitizer),
# RELIABILITY.md "Fuzzing". Not part of scripts/test.sh; the committed corpus is replayed there by
# FuzzRegressionTests.
#
#   scripts/fuzz.sh build                  build every target (fuzz/.build, release, -sanitize=fuzzer,address)
#   scripts/fuzz.sh list                   the target names
#   scripts/fuzz.sh TARGET SECONDS         run one target for SECONDS (starting from fuzz/corpus/TARGET)
#   scripts/fuzz.sh all SECONDS            run every target for SECONDS each, JOBS (default 2) at a time
#                                          (TARGETS="a b" to choose them, SKIP_BUILD=1 to run what is built)
#   scripts/fuzz.sh merge TARGET           add the run's edge-minimal corpus (-merge=1) to fuzz/corpus/TARGET
#   scripts/fuzz.sh repro TARGET FILE      run one input through the target (a crash reproducer)
#
# Each run writes fuzz/.work/TARGET/log.txt and updates fuzz/results.json with its executions,
# exec/s, coverage (libFuzzer's cov: and ft:), corpus size and crashes. Crash inputs land in
# fuzz/.work/TARGET/crashes/; minimise one with
#   fuzz/.build/release/fuzz-TARGET -minimize_crash=1 -runs=10000 CRASH
# and commit it under fuzz/crashes/TARGET/ (the regression test replays it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fuzz="$root/fuzz"
bin="$fuzz/.build/release"
targets=(sframe-header sframe-frame vp8-layout h26x-escaping framecryptor-receive worker options post-message)
# Swift's crash backtracer waits for a debugger-style symbolication that can hang under libFuzzer:
# libFuzzer and ASan report crashes themselves.
export SWIFT_BACKTRACE=enable=no
# The options / post-message targets call gst_init: a private registry, no plugins from elsewhere.
export GST_REGISTRY="${TMPDIR:-/tmp}/insertable-streams-fuzz-$$.registry"
export GST_PLUGIN_SYSTEM_PATH_1_0="" GST_PLUGIN_PATH=""
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"

build() {
    for target in "$@"; do
        nice -n 10 swift build --package-path "$fuzz" --scratch-path "$fuzz/.build" -c release \
            -Xswiftc -sanitize=fuzzer,address --product "fuzz-$target"
    done
}

run() {
    local target=$1 seconds=$2
    local work="$fuzz/.work/$target"
    mkdir -p "$work/corpus" "$work/crashes"
    cp -n "$fuzz/corpus/$target"/* "$work/corpus/" 2>/dev/null || true
    local extra=()
    [ -d "$fuzz/crashes/$target" ] && extra+=("$fuzz/crashes/$target")
    local started=$(date +%s)
    set +e
    nice -n 10 "$bin/fuzz-$target" "$work/corpus" "${extra[@]}" -max_total_time="$seconds" -print_final_stats=1 \
        -max_len=4096 -timeout=10 -rss_limit_mb=4096 -artifact_prefix="$work/crashes/" >"$work/log.txt" 2>&1
    local status=$?
    set -e
    local ended=$(date +%s)
    /usr/bin/python3 - "$fuzz/results.json" "$target" "$work" "$status" "$((ended - started))" <<'PY'
import json, os, re, sys, time
path, target, work, status, seconds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
log = open(os.path.join(work, "log.txt"), errors="replace").read()
def stat(name):
    m = re.search(r"stat::%s:\s*(\d+)" % name, log)
    return int(m.group(1)) if m else None
cov = re.findall(r"cov: (\d+) ft: (\d+)", log)
corpus = [f for f in os.listdir(os.path.join(work, "corpus"))]
crashes = sorted(f for f in os.listdir(os.path.join(work, "crashes")))
load = open("/proc/loadavg").read().split()[0]
entry = {
    "seconds": seconds, "exit_status": status,
    "executions": stat("number_of_executed_units"), "exec_per_sec": stat("average_exec_per_sec"),
    "cov": int(cov[-1][0]) if cov else None, "ft": int(cov[-1][1]) if cov else None,
    "corpus_files": len(corpus),
    "corpus_bytes": sum(os.path.getsize(os.path.join(work, "corpus", f)) for f in corpus),
    "new_units_added": stat("new_units_added"), "peak_rss_mb": stat("peak_rss_mb"),
    "crashes": crashes, "load_average_at_end": float(load),
    "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
}
# `all` runs JOBS targets at once: one writer at a time, and the file replaced whole.
import fcntl
with open(path + ".lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    results = json.load(open(path)) if os.path.exists(path) else {}
    results[target] = entry
    with open(path + ".tmp", "w") as out:
        json.dump(results, out, indent=2, sort_keys=True)
        out.write("\n")
    os.replace(path + ".tmp", path)
print(target, json.dumps(entry))
PY
}

case "${1:-}" in
    build) build "${targets[@]}" ;;
    list) printf '%s\n' "${targets[@]}" ;;
    all)
        seconds=${2:?seconds}
        # TARGETS="a b" narrows (and orders) the run; SKIP_BUILD=1 runs what is built.
        read -r -a selected <<<"${TARGETS:-${targets[*]}}"
        [ -n "${SKIP_BUILD:-}" ] || build "${selected[@]}"
        jobs=${JOBS:-2}
        for target in "${selected[@]}"; do
            while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
            run "$target" "$seconds" &
        done
        wait
        ;;
    merge)
        # The smallest set that keeps every coverage edge (edges only: no hit counters, no
        # comparison features, so it stays small), added to the hand-made seeds.
        target=${2:?target}
        rm -rf "$fuzz/.work/$target/merged"
        mkdir -p "$fuzz/.work/$target/merged"
        "$bin/fuzz-$target" -merge=1 -use_counters=0 -use_cmp=0 -max_len=4096 "$fuzz/.work/$target/merged" \
            "$fuzz/corpus/$target" "$fuzz/.work/$target/corpus" >"$fuzz/.work/$target/merge.txt" 2>&1
        for file in "$fuzz/.work/$target/merged"/*; do
            [ -s "$file" ] || continue  # the empty input is always there
            duplicate=
            for seed in "$fuzz/corpus/$target"/*; do cmp -s "$file" "$seed" && { duplicate=1; break; }; done
            [ -n "$duplicate" ] || cp "$file" "$fuzz/corpus/$target/"
        done
        grep -o "MERGE-OUTER: [0-9]* new files.*" "$fuzz/.work/$target/merge.txt" || true
        echo "$target: $(ls "$fuzz/corpus/$target" | wc -l) files in fuzz/corpus/$target"
        ;;
    repro) "$bin/fuzz-${2:?target}" "${3:?file}" ;;
    "" | -h | --help) sed -n 2,18p "$0" ;;
    *)
        target=$1
        printf '%s\n' "${targets[@]}" | grep -qx "$target" || { echo "unknown target $target; one of: ${targets[*]}" >&2; exit 2; }
        build "$target"
        run "$target" "${2:?seconds}"
        ;;
esac
