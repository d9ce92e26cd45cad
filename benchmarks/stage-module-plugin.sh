# Sourced by run-module-overhead.sh and run-module-instructions.sh (from the repository root):
# builds the plugin (release, scratch path .build-bench) and the modules (scripts/build-modules.sh
# release), copies the plugin and the second test module into a temporary folder `$work` (removed
# on exit), and exports GST_PLUGIN_PATH, GST_REGISTRY (private) and
# GST_INSERTABLE_STREAMS_MODULE_PATH pointing there.
swift build -c release --product gstinsertablestreams --scratch-path .build-bench >/dev/null
scripts/build-modules.sh release >/dev/null
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/plugin" "$work/modules"
cp .build-bench/release/libgstinsertablestreams.so "$work/plugin/"
cp .build/modules-release/second/libsecond-module.so "$work/modules/"
export GST_PLUGIN_PATH="$work/plugin" GST_REGISTRY="$work/registry.bin" GST_INSERTABLE_STREAMS_MODULE_PATH="$work/modules"
