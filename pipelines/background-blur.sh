#!/usr/bin/env bash
# Background blur (the use case the MDN page names): every frame through `blur radius=12`.
# usage: pipelines/background-blur.sh [--snapshot FILE.png]
source "$(dirname "$0")/common.sh"
sink="$VIDEO_SINK"
[ "${1:-}" = "--snapshot" ] && sink="videoconvert ! pngenc snapshot=true ! filesink location=${2:?file}"
gst-launch-1.0 -q videotestsrc is-live=true num-buffers=150 pattern=ball ! video/x-raw,format=I420,width=640,height=360,framerate=30/1 ! \
  trackprocessor worker="blur radius=12" pipe-to=out trackgenerator name=out ! $sink
