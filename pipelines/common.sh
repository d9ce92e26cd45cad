# Sourced by the example pipelines: builds the plugin (release) if needed and points GStreamer
# at a folder holding only it, with a private registry, so nothing needs installing.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$repo/scripts/install-deps.sh"
if [ -z "${INSERTABLE_STREAMS_PLUGIN_DIR:-}" ]; then
  (cd "$repo" && swift build -c release --product gstinsertablestreams >&2)
  INSERTABLE_STREAMS_PLUGIN_DIR="$repo/.build/plugin"
  mkdir -p "$INSERTABLE_STREAMS_PLUGIN_DIR"
  cp "$repo/.build/release/libgstinsertablestreams.so" "$INSERTABLE_STREAMS_PLUGIN_DIR/"
fi
export GST_PLUGIN_PATH="$INSERTABLE_STREAMS_PLUGIN_DIR"
export GST_REGISTRY="$INSERTABLE_STREAMS_PLUGIN_DIR/registry.bin"

# A video sink: the screen when there is one, otherwise nothing to show.
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  VIDEO_SINK="videoconvert ! autovideosink"
else
  VIDEO_SINK="fakesink sync=true"
fi
