#!/usr/bin/env bash
# The MDN encoded-transform example over plain RTP on loopback: a sender inverts the bytes of
# every encoded frame between encoder and payloader, a receiver restores them between
# depayloader and decoder. Video (VP8 or H.264) on UDP port 5004, Opus audio on 5006.
#
#   pipelines/rtp-negate-udp.sh [vp8|h264] [seconds]      (default vp8, 10 s)
#
# Leave out the receiver's rtpscripttransform to see what the wire carries: the decoder then
# shows garbage (VP8) or errors (H.264), since the frame bytes really changed.
source "$(dirname "$0")/common.sh"
codec="${1:-vp8}"
seconds="${2:-10}"
rtp_video_codec "$codec" || { echo "usage: $0 [vp8|h264] [seconds]" >&2; exit 2; }
frames=$((seconds * 30))
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then video_sink=autovideosink; else video_sink=fakesink; fi

receiver_log="$(mktemp)"
# Receiver first, so that the first key frame is not lost. fpsdisplaysink reports how many
# decoded pictures it rendered.
gst-launch-1.0 -v \
  udpsrc port=5004 caps="$rtpcaps" ! rtpjitterbuffer latency=100 ! $depay ! \
    rtpscripttransform name=video_receiver worker=negate ! $decode ! videoconvert ! \
    fpsdisplaysink name=decoded text-overlay=false video-sink="$video_sink" fps-update-interval=1000 \
  udpsrc port=5006 caps="application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=97" ! \
    rtpjitterbuffer latency=100 ! rtpopusdepay ! rtpscripttransform name=audio_receiver worker=negate ! \
    opusdec ! audioconvert ! fakesink sync=true >"$receiver_log" 2>&1 &
receiver=$!
trap 'kill $receiver 2>/dev/null || true; rm -f "$receiver_log"' EXIT
sleep 1

gst-launch-1.0 \
  videotestsrc is-live=true num-buffers="$frames" pattern=smpte ! video/x-raw,width=640,height=360,framerate=30/1 ! \
    videoconvert ! $encode ! rtpscripttransform worker=negate ! $pay pt=96 ! udpsink host=127.0.0.1 port=5004 \
  audiotestsrc is-live=true num-buffers=$((seconds * 50)) freq=440 ! audioconvert ! audioresample ! opusenc ! \
    rtpscripttransform worker=negate ! rtpopuspay pt=97 ! udpsink host=127.0.0.1 port=5006
sleep 1
echo "sent ${seconds} s of $codec video and Opus audio with negated frames over RTP/UDP on 127.0.0.1"
echo "receiver (last once-a-second report): $(grep -o 'rendered: [0-9]*, dropped: [0-9]*' "$receiver_log" | tail -1) decoded pictures"
