#!/usr/bin/env bash
# Soak: an end-to-end-encrypted webrtcbin call (SFrame on both ends, VP8 + Opus, keys rotating)
# and a raw 1080p `trackprocessor worker="sepia ! mirror"` -> `trackgenerator` track, for N minutes
# in one process (reliability/soak.py), sampling resident memory, open file descriptors and
# threads every 10 s; then GStreamer's `leaks` tracer at gst_deinit. Writes the samples and the
# summary to reliability/soak.json, the plot to docs/soak.png, the leaks tracer's log to
# reliability/soak-leaks.log. Exits 0 when growth after warm-up is within 2% for all three (RSS: beyond
# the frames alive at each sample, which it counts; and the frames alive may not trend up),
# nothing was refused, no error was posted and no object was alive at gst_deinit.
#
# usage: scripts/soak.sh [--minutes N] [--warm-up-minutes M] [--rotate-s S] [--out-dir DIR] [--default-allocator]
#   defaults: 30 minutes, warm-up 5 minutes (a third of the run if that is shorter), keys
#   rotated every 60 s; --out-dir DIR writes soak.json, soak.png and soak-leaks.log there instead.
# Not part of scripts/test.sh.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
minutes=30 warm_up_minutes=5 rotate_s=60 out_dir="" default_allocator=0
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes="$2"; shift 2 ;;
    --warm-up-minutes) warm_up_minutes="$2"; shift 2 ;;
    --rotate-s) rotate_s="$2"; shift 2 ;;
    --out-dir) out_dir="$2"; shift 2 ;;
    --default-allocator) default_allocator=1; shift ;;
    *) sed -n '2,15p' "$0" >&2; exit 2 ;;
  esac
done

# GStreamer, PyGObject, the plugin (release build, copied alone into .build/plugin, private registry).
source "$repo/pipelines/common.sh"
# The plot only: not a dependency of the test suite.
if ! /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y python3-matplotlib >&2 || { apt-get update >&2 && apt-get install -y python3-matplotlib >&2; }
fi

if [ -n "$out_dir" ]; then
  mkdir -p "$out_dir"
  json="$out_dir/soak.json" png="$out_dir/soak.png" leaks="$out_dir/soak-leaks.log"
else
  json="$repo/reliability/soak.json" png="$repo/docs/soak.png" leaks="$repo/reliability/soak-leaks.log"
fi
rm -f "$leaks"

# Baseline: what GStreamer itself leaves alive at gst_deinit, with no plugin of ours loaded
# (Debian's dtlsdec, used by webrtcbin, keeps one process-wide GstDtlsAgent). The report
# counts only the objects beyond these.
baseline="${leaks%.log}-baseline.log"
rm -f "$baseline"
env -u GST_PLUGIN_PATH GST_REGISTRY="$INSERTABLE_STREAMS_PLUGIN_DIR/baseline-registry.bin" \
  GST_TRACERS=leaks GST_DEBUG="GST_TRACER:7" GST_DEBUG_FILE="$baseline" GST_DEBUG_NO_COLOR=1 \
  gst-launch-1.0 -q fakesrc num-buffers=1 ! dtlsdec ! fakesink >/dev/null 2>&1 || true

# Every malloc of 1 MiB or more gets its own mmap and is unmapped when freed (glibc otherwise
# raises its threshold after the first freed frame and keeps freed 8 MB frames in its arenas):
# RSS then holds exactly the frames alive at each sample, which soak.py counts and takes out.
# --default-allocator runs without it (the RSS criterion is then the fit only).
if [ "$default_allocator" = 0 ]; then export MALLOC_MMAP_THRESHOLD_=1048576; fi

echo "soak: $minutes min, samples every 10 s into $json" >&2
status=0
GST_TRACERS=leaks GST_DEBUG="GST_TRACER:7" GST_DEBUG_FILE="$leaks" GST_DEBUG_NO_COLOR=1 \
  /usr/bin/python3 "$repo/reliability/soak.py" run --minutes "$minutes" --rotate-s "$rotate_s" --out "$json" || status=$?
echo "soak: the run exited with $status" >&2
# Growth, frames, leaks, plot. Fails when a criterion fails (or the run did not finish).
/usr/bin/python3 "$repo/reliability/soak.py" report --samples "$json" --leaks "$leaks" --baseline-leaks "$baseline" --plot "$png" \
  --warm-up-s "$(awk "BEGIN { print $warm_up_minutes * 60 }")" && [ "$status" -eq 0 ]
