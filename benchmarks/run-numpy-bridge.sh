#!/usr/bin/env bash
# The numpy vignette of examples/python/vignette.py on trackprocessor worker=app vs the same numpy
# code in an appsink -> numpy -> appsrc bridge, in the same process and interleaved rounds
# (benchmarks/numpy-bridge.py): throughput at 1280x720 RGBA, and a live 30 fps source with a slow
# handler (upstream rate, drops, lag). Writes benchmarks/numpy-bridge.json and re-renders
# BENCHMARKS.md (benchmarks/report.py renders that JSON as the section "numpy effect: app
# transform vs appsink/appsrc bridge"). About 2.5 minutes on 2 cores.
#
#   benchmarks/run-numpy-bridge.sh [numpy-bridge.py options]   # e.g. --rounds 5 --slow-rounds 1
#
# Builds nothing: it uses the release plugin .build/release/libgstinsertablestreams.so
# (swift build -c release --product gstinsertablestreams), copied alone into a temporary folder
# that is the GST_PLUGIN_PATH, with a private GST_REGISTRY. Needs Debian's /usr/bin/python3 with
# python3-gi and python3-numpy.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python=/usr/bin/python3
library=.build/release/libgstinsertablestreams.so
if [[ ! -f "$library" ]]; then
    echo "run-numpy-bridge.sh: $library is missing; build it with" >&2
    echo "  swift build -c release --product gstinsertablestreams" >&2
    exit 1
fi
newest="$(git log -1 --format=%ct -- Sources Package.swift 2>/dev/null || echo 0)"
if [[ "$(stat -c %Y "$library")" -lt "$newest" ]]; then
    echo "run-numpy-bridge.sh: warning: $library is older than the last commit under Sources/: rebuild it" >&2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/numpy-bridge.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir "$work/plugins"
cp "$library" "$work/plugins/"
unset GST_PLUGIN_PATH_1_0 GST_REGISTRY_1_0   # these take precedence over the unversioned names
export GST_PLUGIN_PATH="$work/plugins"
export GST_REGISTRY="$work/registry.bin"
export NUMPY_BRIDGE_PLUGIN_SOURCE="$library"

loaded="$(gst-inspect-1.0 insertablestreams | awk '/^  Filename/ {print $2}')"
if [[ "$loaded" != "$work/plugins/libgstinsertablestreams.so" ]]; then
    echo "run-numpy-bridge.sh: gst-inspect-1.0 found the plugin at '$loaded', expected $work/plugins" >&2
    exit 1
fi

timeout 600 "$python" benchmarks/numpy-bridge.py --output benchmarks/numpy-bridge.json "$@"
"$python" benchmarks/report.py benchmarks/results.json --output BENCHMARKS.md
echo "rendered BENCHMARKS.md"
