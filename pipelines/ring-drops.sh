#!/usr/bin/env bash
# A slow consumer: `delay ms=100` takes 100 ms per frame of a 30 fps source. The processor's ring
# (max-buffer-size=1) drops the OLDEST frames instead of blocking the source; the counters show it.
source "$(dirname "$0")/common.sh"
gst-launch-1.0 -v videotestsrc is-live=true num-buffers=90 ! video/x-raw,width=320,height=240,framerate=30/1 ! \
  trackprocessor name=processor worker="delay ms=100" pipe-to=out trackgenerator name=out ! fakesink 2>&1 | tail -n 2
echo "90 frames in; about 3 s at 10 frames/s out: the rest were discarded (see trackprocessor's discarded-frames)"
