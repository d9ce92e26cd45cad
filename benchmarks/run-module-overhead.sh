#!/usr/bin/env bash
# A Swift transform module's transform vs the same transform built in, as ratios from interleaved
# rounds of one run (benchmarks/module-overhead.c): raw 1080p I420 and RGBA, `worker=swiftmirror`
# (Tests/ModulePackages/second-module: the built-in mirror's in-place algorithm behind the module
# C ABI) vs `worker=mirror`, with `worker=identity` as the floor; encoded Opus-size frames,
# `worker=passthrough` (module) vs `worker=identity` (the floor) and `worker=swiftnegate` (the built-in
# negate's in-place path behind the module C ABI) vs `worker=negate`. Builds the plugin in release mode (scratch
# path .build-bench, as run.sh) and the modules (scripts/build-modules.sh release), writes
# benchmarks/module-overhead.json and prints the section BENCHMARKS.md shows (benchmarks/module_overhead_report.py;
# benchmarks/report.py renders it into BENCHMARKS.md).
#
#   benchmarks/run-module-overhead.sh [module-overhead options and cases]
#       default: -r 11 -o 100000 -v 600 (see benchmarks/module-overhead.c): about 70 s on 2 cores once
#       the builds are done (the first release build of the module packages takes 1-2 min more)
#
# The plugin and the module are copied into a temporary folder first and
# GST_INSERTABLE_STREAMS_MODULE_PATH points at that copy (the release module comes from
# .build/modules-release/; the tests' debug modules, ~100x slower for swiftmirror, live in
# .build/modules/). The JSON records both files' SHA-256.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
started="$(date +%s)"
load_at_start="$(cut -d" " -f1-3 /proc/loadavg)"
commit="$(git rev-parse --short HEAD)"
dirty="$(git status --porcelain -- Sources Tests Package.swift templates | head -c 1000)"  # what the build may contain
source benchmarks/stage-module-plugin.sh
cc -O2 -Wall -Wno-unused-parameter benchmarks/module-overhead.c -o "$work/module-overhead" $(pkg-config --cflags --libs gstreamer-1.0)
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(-r 11 -o 100000 -v 600)
"$work/module-overhead" "${args[@]}" | tee "$work/rounds.jsonl"
/usr/bin/python3 - "$work/rounds.jsonl" benchmarks/module-overhead.json "$started" "$work" "${args[*]}" "$load_at_start" "$commit" "$dirty" <<'PY'
import hashlib, json, os, platform, subprocess, sys, time
rounds_file, output, started, work, args, load_at_start, commit, dirty = sys.argv[1:9]
lines = [json.loads(line) for line in open(rounds_file) if line.startswith("{")]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
def run(*command):
    try:
        return subprocess.run(command, capture_output=True, text=True).stdout.strip()
    except OSError:
        return None
def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()
summary = [l for l in lines if "summary" in l]
result = {
    "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    "commit": commit, "worktree_clean": dirty == "", "uncommitted_at_build": dirty.splitlines(),
    "cpu": cpu, "nproc": os.cpu_count(), "load_average_at_start": [float(x) for x in load_at_start.split()], "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    "swift": (run("swift", "--version") or "").splitlines()[0] if run("swift", "--version") else None,
    "gstreamer": run("pkg-config", "--modversion", "gstreamer-1.0"),
    "arguments": args, "duration_s": round(time.time() - int(started)),
    "plugin_sha256": sha256(os.path.join(work, "plugin", "libgstinsertablestreams.so")),
    "module_sha256": sha256(os.path.join(work, "modules", "libsecond-module.so")),
    "module_built_by": "scripts/build-modules.sh release (.build/modules-release/second/libsecond-module.so)",
    "target_ratio": 1.05,
    "checks": [l for l in lines if "check" in l],
    "rounds": [l for l in lines if "round" in l],
    "summary": summary,
}
json.dump(result, open(output, "w"), indent=1)
PY
/usr/bin/python3 benchmarks/module_overhead_report.py benchmarks/module-overhead.json
