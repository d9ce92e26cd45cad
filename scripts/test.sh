#!/usr/bin/env bash
# The test suite: installs what is missing, builds the plugin (the Python and gst-inspect tests
# load the built .so), then runs every test. Tests use a private GST_REGISTRY.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build
swift test --disable-swift-testing "$@"
