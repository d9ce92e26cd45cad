#!/usr/bin/env bash
# The app transform's cost per frame: `worker=app` with a C transform-frame handler returning its
# input vs `worker=identity`, on Opus-size encoded frames and 1080p I420 raw frames, interleaved
# rounds in one run (benchmarks/app-overhead.c). Builds the plugin in release mode (scratch path
# .build-bench, as run.sh) and writes benchmarks/app-overhead.json; BENCHMARKS.md quotes it.
#
#   benchmarks/run-app-overhead.sh [rounds] [opus frames] [video frames]    # defaults 7 30000 600
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --product gstinsertablestreams --scratch-path .build-bench >/dev/null
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp .build-bench/release/libgstinsertablestreams.so "$work/"
cc -O2 -Wall -Wno-unused-parameter benchmarks/app-overhead.c -o "$work/app-overhead" $(pkg-config --cflags --libs gstreamer-1.0)
GST_PLUGIN_PATH="$work" GST_REGISTRY="$work/registry.bin" "$work/app-overhead" "$@" | tee "$work/rounds.jsonl"
/usr/bin/python3 - "$work/rounds.jsonl" benchmarks/app-overhead.json <<'PY'
import json, platform, sys
lines = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
json.dump({"cpu": cpu, "rounds": [l for l in lines if "round" in l], "summary": [l for l in lines if "summary" in l]},
          open(sys.argv[2], "w"), indent=1)
PY
