#!/usr/bin/env bash
# Audio through the same elements: a 440 Hz tone at -6 dB (AudioData in, AudioData out).
source "$(dirname "$0")/common.sh"
gst-launch-1.0 -q audiotestsrc is-live=true num-buffers=100 freq=440 ! audio/x-raw,format=F32LE,channels=2,rate=48000 ! \
  trackprocessor worker="gain db=-6" pipe-to=out trackgenerator name=out kind=audio ! audioconvert ! \
  wavenc ! filesink location="${1:-/tmp/gain.wav}"
echo "wrote ${1:-/tmp/gain.wav}"
