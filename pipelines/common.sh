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

# The video elements of the RTP examples: sets encode, pay, depay, decode and rtpcaps for
# vp8 or h264 (payload type 96). Fails for anything else.
rtp_video_codec() {
  case "$1" in
    vp8)  encode="vp8enc deadline=1 keyframe-max-dist=60"; pay="rtpvp8pay"; depay="rtpvp8depay"; decode="vp8dec"
          rtpcaps="application/x-rtp,media=video,clock-rate=90000,encoding-name=VP8,payload=96" ;;
    h264) encode="openh264enc ! video/x-h264,profile=constrained-baseline"; pay="rtph264pay config-interval=-1"
          depay="rtph264depay"; decode="avdec_h264"
          rtpcaps="application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96" ;;
    *) return 1 ;;
  esac
}
