#!/usr/bin/env bash
# End-to-end encryption over plain RTP on loopback, spelled for gst-launch: the sender encrypts
# every encoded frame with SFrame (RFC 9605, AES-128-GCM) between encoder and payloader, the
# receiver authenticates and decrypts it between depayloader and decoder. Video (VP8 or H.264)
# on UDP port 5004, Opus audio on 5006. The receiver's transforms report every refused frame as
# an `sframe-error` element message (printed here with gst-launch -m).
#
#   pipelines/sframe-udp.sh [vp8|h264] [seconds] [receiver-key]
#
# KEY (environment, 32+ hexadecimal digits) is the sender's key, key id 1; the receiver uses
# receiver-key (default: the same key). Give it another key to see frames refused as
# `authentication` and nothing decoded, while both pipelines keep running.
source "$(dirname "$0")/common.sh"
codec="${1:-vp8}"
seconds="${2:-10}"
key="${KEY:-000102030405060708090a0b0c0d0e0f}"
receiver_key="${3:-$key}"
rtp_video_codec "$codec" || { echo "usage: $0 [vp8|h264] [seconds] [receiver-key]" >&2; exit 2; }
send_options="sframe,key=(string)$key,key-id=(guint64)1"
receive_options="sframe,key=(string)$receiver_key,key-id=(guint64)1"

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then video_sink=autovideosink; else video_sink=fakesink; fi

receiver_log="$(mktemp)"
# Receiver first, so that the first key frame is not lost.
gst-launch-1.0 -v -m \
  udpsrc port=5004 caps="$rtpcaps" ! rtpjitterbuffer latency=100 ! $depay ! \
    rtpscripttransform name=video_receiver worker=sframe options="$receive_options" ! $decode ! videoconvert ! \
    fpsdisplaysink name=decoded text-overlay=false video-sink="$video_sink" fps-update-interval=1000 \
  udpsrc port=5006 caps="application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=97" ! \
    rtpjitterbuffer latency=100 ! rtpopusdepay ! rtpscripttransform name=audio_receiver worker=sframe options="$receive_options" ! \
    opusdec ! audioconvert ! fakesink sync=true >"$receiver_log" 2>&1 &
receiver=$!
trap 'kill $receiver 2>/dev/null || true; rm -f "$receiver_log"' EXIT
sleep 1

gst-launch-1.0 \
  videotestsrc is-live=true num-buffers=$((seconds * 30)) pattern=smpte ! video/x-raw,width=640,height=360,framerate=30/1 ! \
    videoconvert ! $encode ! rtpscripttransform worker=sframe options="$send_options" ! $pay pt=96 ! udpsink host=127.0.0.1 port=5004 \
  audiotestsrc is-live=true num-buffers=$((seconds * 50)) freq=440 ! audioconvert ! audioresample ! opusenc ! \
    rtpscripttransform worker=sframe options="$send_options" ! rtpopuspay pt=97 ! udpsink host=127.0.0.1 port=5006
sleep 1
echo "sent ${seconds} s of $codec video and Opus audio, SFrame-encrypted, over RTP/UDP on 127.0.0.1"
echo "receiver (last once-a-second report): $(grep -o 'rendered: [0-9]*, dropped: [0-9]*' "$receiver_log" | tail -1) decoded pictures"
refused="$(grep -c 'sframe-error' "$receiver_log" || true)"
echo "receiver: $refused sframe-error reports$( [ "$refused" -gt 0 ] && echo ", last: $(grep -o 'sframe-error.*' "$receiver_log" | tail -1)")"
