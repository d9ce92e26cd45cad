#!/usr/bin/env bash
# AES-128-GCM through sframe and framecryptor vs `openssl speed`, same run (benchmarks/crypto.py),
# and the release plugin's size. Writes benchmarks/crypto.json and prints the section that
# benchmarks/report.py renders into BENCHMARKS.md. About 1 minute after the release builds.
#
#   benchmarks/run-crypto.sh [--rounds N] [--seconds S]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --product sframe-benchmark --scratch-path .build-bench >/dev/null
swift build -c release --product gstinsertablestreams --scratch-path .build-bench >/dev/null
exec /usr/bin/python3 benchmarks/crypto.py .build-bench/release/sframe-benchmark .build-bench/release/libgstinsertablestreams.so "$@"
