#!/usr/bin/env bash
# Instructions per frame of a Swift module transform vs the same transform built in, counted by
# valgrind (benchmarks/module_instructions.py): the figure of benchmarks/run-module-overhead.sh
# without the noise of a shared machine's timing. Builds the plugin (release, .build-bench) and the
# modules (scripts/build-modules.sh release), copies both into a temporary folder, writes
# benchmarks/module-instructions.json; BENCHMARKS.md's module section shows it (report.py).
# About 5 minutes on 2 cores once the builds are done. Needs valgrind (Debian's `valgrind`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install -y valgrind" >&2; exit 2; }
source benchmarks/stage-module-plugin.sh
gst-inspect-1.0 rtpscripttransform >/dev/null  # the registry, once, outside the counted runs
/usr/bin/python3 benchmarks/module_instructions.py benchmarks/module-instructions.json
/usr/bin/python3 benchmarks/module_overhead_report.py benchmarks/module-overhead.json
