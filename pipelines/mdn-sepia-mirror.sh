#!/usr/bin/env bash
# The MDN example (Insertable Streams for MediaStreamTrack): a track goes through a worker that
# applies sepia then mirrors it, and back out as a track:
#
#   readable.pipeThrough(new TransformStream({transform})).pipeTo(vtg.writable)
#
# In GStreamer: trackprocessor (MediaStreamTrackProcessor) runs `worker` on its own thread and
# pipes to trackgenerator (VideoTrackGenerator). videotestsrc stands in for the camera.
#
# usage: pipelines/mdn-sepia-mirror.sh [--snapshot FILE.png] [--seconds N]
source "$(dirname "$0")/common.sh"
snapshot="" seconds=5
while [ $# -gt 0 ]; do
  case "$1" in
    --snapshot) snapshot="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    *) echo "usage: $0 [--snapshot FILE.png] [--seconds N]" >&2; exit 2 ;;
  esac
done
frames=$((seconds * 30))
camera="videotestsrc is-live=true num-buffers=$frames pattern=smpte ! video/x-raw,width=640,height=360,framerate=30/1 ! videoconvert"
if [ -n "$snapshot" ]; then
  # One frame of the processed track, as PNG.
  gst-launch-1.0 -q $camera ! trackprocessor worker="sepia ! mirror" pipe-to=vtg \
    trackgenerator name=vtg ! videoconvert ! pngenc snapshot=true ! filesink location="$snapshot"
  echo "wrote $snapshot"
else
  gst-launch-1.0 $camera ! trackprocessor name=processor worker="sepia ! mirror" pipe-to=vtg \
    trackgenerator name=vtg ! fpsdisplaysink video-sink="$VIDEO_SINK" text-overlay=false signal-fps-measurements=true -v \
    | grep --line-buffered -E "last-message|Execution ended" | sed -u 's/.*last-message = /fps: /' | tail -n 3
fi
