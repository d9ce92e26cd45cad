#!/usr/bin/env bash
# Benchmarks the plugin's trackprocessor/trackgenerator and rtpscripttransform against
# GStreamer's C elements, and SFrame against `openssl speed`. Writes the figures to
# benchmarks/results.json and renders BENCHMARKS.md at the package root from them
# (benchmarks/report.py; see benchmarks/README.md).
#
#   benchmarks/run.sh                 # everything (about 7-10 minutes on 2 cores)
#   benchmarks/run.sh --only encoded  # only the Encoded transforms section (rtpscripttransform, ~1.5-2 min)
#   benchmarks/run.sh --only sframe   # only SFrame vs `openssl speed` (~3 min); no plugin needed
#   benchmarks/run.sh --only hop,drop # only some parts of the raw section (hop,drop,mirror,sepia,latency)
#   benchmarks/run.sh --rounds 3      # extra arguments go to benchmarks/bench.py (see --help)
#
# Before/after in one run: build the plugin of the older commit yourself, copy its
# libgstinsertablestreams.so alone into a folder, and name that folder:
#
#   benchmarks/run.sh --only hop,drop,mirror,sepia,latency,encoded \
#       --baseline-plugin /tmp/plugin-before --baseline-commit 047780a --baseline-label "the core redesign"
#
# A second child process loads the plugin from that folder (GST_PLUGIN_PATH=<folder>, its own
# private GST_REGISTRY) and runs our variant of every raw throughput comparison and of the encoded
# hop as one more variant of the same interleaved rounds; results.json then holds baseline/C and
# ours/baseline ratios too, and BENCHMARKS.md gets a "Before/after <label> (one run)" table. The
# run's time limit is 20 minutes, 40 with a baseline plugin.
#
# A run replaces in results.json the sections it measured (raw, encoded, sframe) and keeps the
# others, then renders the whole of BENCHMARKS.md from it. Any of hop,drop,mirror,sepia,latency
# re-measures the raw section with only those parts: run all of them before committing.
#
# Builds the plugin in release mode in its own scratch path (.build-bench, git-ignored), copies
# libgstinsertablestreams.so alone into a temporary folder and runs everything with
# GST_PLUGIN_PATH=<that folder> and a private GST_REGISTRY, so no other build and no cached
# registry can be picked up. Needs Debian's /usr/bin/python3 with PyGObject (python3-gi).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python=/usr/bin/python3
if ! command -v swift >/dev/null && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi

"$python" -c 'import gi; gi.require_version("Gst", "1.0")' 2>/dev/null || {
    echo "run.sh: $python with PyGObject (gi) and GStreamer introspection is required" >&2
    exit 1
}

# Which sections run (bench.py's --only): the plugin is needed unless only `sframe` runs, the
# SFrame benchmark program unless `sframe` is left out.
only=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
        --only) only="${args[i + 1]:-}" ;;
        --only=*) only="${args[i]#--only=}" ;;
    esac
done
needs_plugin=1
needs_sframe=1
if [[ -n "$only" ]]; then
    [[ "$only" == "sframe" ]] && needs_plugin=0
    [[ ",$only," == *",sframe,"* ]] || needs_sframe=0
fi

echo "== building (release, scratch path .build-bench)"
bin_dir="$(swift build -c release --scratch-path .build-bench --show-bin-path)"
if [[ $needs_sframe -eq 1 ]]; then
    swift build -c release --scratch-path .build-bench --product sframe-benchmark
    export BENCH_SFRAME_BINARY="$bin_dir/sframe-benchmark"
    command -v openssl >/dev/null || { echo "run.sh: the SFrame section compares with openssl speed: install openssl" >&2; exit 1; }
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/gst-insertable-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
if [[ $needs_plugin -eq 1 ]]; then
    swift build -c release --scratch-path .build-bench --product gstinsertablestreams
    library="$bin_dir/libgstinsertablestreams.so"
    [[ -f "$library" ]] || { echo "run.sh: $library was not built" >&2; exit 1; }
    mkdir "$work/plugins"
    cp "$library" "$work/plugins/"

    # GST_PLUGIN_PATH_1_0 / GST_REGISTRY_1_0 take precedence over the unversioned names: clear them.
    unset GST_PLUGIN_PATH_1_0 GST_REGISTRY_1_0
    export GST_PLUGIN_PATH="$work/plugins"
    export GST_REGISTRY="$work/registry.bin"

    # The plugin must come from the folder just made, not from anywhere else.
    loaded="$(gst-inspect-1.0 insertablestreams | awk '/^  Filename/ {print $2}')"
    if [[ "$loaded" != "$work/plugins/libgstinsertablestreams.so" ]]; then
        echo "run.sh: gst-inspect-1.0 found the plugin at '$loaded', expected $work/plugins" >&2
        exit 1
    fi
fi

commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git status --porcelain -- Sources plugin Package.swift 2>/dev/null)" ]]; then
    commit="$commit (with uncommitted changes under Sources/, plugin/ or Package.swift)"
fi
export BENCH_COMMIT="$commit"
export BENCH_SWIFT="$(swift --version 2>&1 | head -n 1)"

echo "== benchmarking${GST_PLUGIN_PATH:+ (plugin from $GST_PLUGIN_PATH)}"
limit=20
for arg in "$@"; do
    [[ "$arg" == --baseline-plugin* ]] && limit=40
done
status=0
timeout $((limit * 60)) "$python" benchmarks/bench.py --output "$root/BENCHMARKS.md" \
    --results "$root/benchmarks/results.json" "$@" || status=$?
if [[ $status -eq 124 ]]; then
    echo "run.sh: the benchmark did not finish within $limit minutes" >&2
fi
exit "$status"
