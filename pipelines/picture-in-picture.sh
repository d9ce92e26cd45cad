#!/usr/bin/env bash
# The seed's weather map + presenter: TWO tracks combined into one by a transform.
#
# From gst-launch, two processors feed one transform like this:
#   - `presenter` is a trackprocessor with no worker and no pipe-to: it only keeps the latest
#     frames of its track in its ring (max-buffer-size, default 1);
#   - the `map` processor runs `pip source=presenter`, which on every map frame takes the
#     newest presenter frame from that ring and draws it scaled into a corner;
#   - the result goes to one trackgenerator. Both inputs must have the same format (RGBA here).
#
# usage: pipelines/picture-in-picture.sh [--snapshot FILE.png]
source "$(dirname "$0")/common.sh"
sink="$VIDEO_SINK"
[ "${1:-}" = "--snapshot" ] && sink="videoconvert ! pngenc snapshot=true ! filesink location=${2:?file}"
gst-launch-1.0 -q \
  videotestsrc is-live=true num-buffers=150 pattern=pinwheel ! video/x-raw,format=RGBA,width=640,height=360,framerate=30/1 ! \
    trackprocessor name=map worker="pip source=presenter position=bottom-right scale=0.3" pipe-to=combined \
  videotestsrc is-live=true pattern=ball ! video/x-raw,format=RGBA,width=320,height=240,framerate=30/1 ! \
    trackprocessor name=presenter \
  trackgenerator name=combined ! $sink
