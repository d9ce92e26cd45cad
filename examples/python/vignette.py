#!/usr/bin/python3
"""A vignette (corners darkened) written in Python with numpy, run by the plugin's
`trackprocessor` on its worker thread through the `app` transform:

    videotestsrc is-live=true ! video/x-raw,format=RGBA,width=1280,height=720 !
        trackprocessor worker=app pipe-to=out   trackgenerator name=out ! videoconvert ! autovideosink

For every frame, `trackprocessor` emits `transform-frame` (GstSample in, GstSample out) on its
worker thread. The handler returns the frame to pass on, a new sample, or None to drop it.

Writability. In C the sample's buffer is writable when nothing else shares it, so a C handler
can edit it in place. In Python it is never writable: PyGObject holds references of its own to
the sample and the buffer, so `buffer.map(Gst.MapFlags.WRITE)` fails (or would write a shared
buffer). The idiom is therefore:

    ok, info = buffer.map(Gst.MapFlags.READ)
    frame = np.frombuffer(info.data, np.uint8).copy()   # copy before unmap: info.data dies with the map
    buffer.unmap(info)
    out = apply(frame.reshape(height, stride)...)        # compute a new array
    return Gst.Sample.new(Gst.Buffer.new_wrapped(out.tobytes()), None, None, None)

A new buffer without PTS gets the original frame's timestamps; caps None (or the caps given)
keep the frame's format and size.

Lifetime. The `sample` argument is valid only while the handler runs: PyGObject wraps the
arguments of this (non-introspected) signal without taking a reference, and the element releases
the sample when the handler returns. Keep bytes or arrays, not the Gst.Sample; to keep the
sample itself, keep `sample.copy()` (a reference of your own). The effect itself is `apply()`, a pure numpy function, so a
test can compare the plugin's output with numpy's own result.

trackprocessor never blocks its (live) source: when the handler is slower than the frames arrive,
its ring (max-buffer-size, 1 frame for video by default) drops the oldest frame; this program
prints how many (`discarded-frames`) at the end. For a non-live source (a file) set `leaky=no`
on trackprocessor instead: upstream then waits for the handler and every frame is processed.

Usage (Debian's /usr/bin/python3, python3-gi, python3-numpy; the plugin on GST_PLUGIN_PATH):
    vignette.py [--frames N] [--strength S] [--width W --height H] [--snapshot out.png] [--sink "fakesink"]
"""
import argparse
import functools
import os
import signal
import sys
import time

import numpy as np
import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import GLib, Gst, GstVideo  # noqa: E402

DEFAULT_STRENGTH = 0.7


@functools.lru_cache(maxsize=8)
def _mask(height, width, strength):
    """Fixed-point (x256) gain per sample, shape (height, width, 4): 256 (1.0) in the centre,
    256 * (1 - strength) in the corners, 256 for alpha (unchanged: (a * 256) >> 8 == a)."""
    y = (np.arange(height, dtype=np.float64) + 0.5) / height * 2 - 1
    x = (np.arange(width, dtype=np.float64) + 0.5) / width * 2 - 1
    distance2 = (x[np.newaxis, :] ** 2 + y[:, np.newaxis] ** 2) / 2      # 0 at the centre, ~1 in the corners
    gain = np.rint(np.clip(1.0 - strength * distance2, 0.0, 1.0) * 256).astype(np.uint16)
    mask = np.empty((height, width, 4), np.uint16)
    mask[:, :, :3] = gain[:, :, np.newaxis]
    mask[:, :, 3] = 256
    mask.setflags(write=False)
    return mask


def apply(frame: np.ndarray, strength: float = DEFAULT_STRENGTH) -> np.ndarray:
    """The vignette on an RGBA frame (height x width x 4, uint8): R, G and B scaled by the radial
    mask, v' = (v * gain) >> 8 with gain in 0..256 (exact integer arithmetic), alpha kept.
    Returns a new array; `frame` is not modified."""
    if frame.ndim != 3 or frame.shape[2] != 4 or frame.dtype != np.uint8:
        raise ValueError(f"apply() takes an RGBA uint8 array of shape (height, width, 4), not {frame.shape} {frame.dtype}")
    height, width, _ = frame.shape
    scaled = np.multiply(frame, _mask(height, width, float(strength)), dtype=np.uint16)
    scaled >>= 8
    return scaled.astype(np.uint8)


def frame_array(sample):
    """The RGBA frame of a sample as a (height, width, 4) array (a copy: the map ends here)."""
    video = GstVideo.VideoInfo.new_from_caps(sample.get_caps())
    width, height, stride = video.width, video.height, video.stride[0]
    buffer = sample.get_buffer()
    ok, info = buffer.map(Gst.MapFlags.READ)
    if not ok:
        raise RuntimeError("cannot map the frame")
    try:
        rows = np.frombuffer(info.data, np.uint8, count=stride * height).reshape(height, stride)
        return rows[:, :width * 4].reshape(height, width, 4).copy()
    finally:
        buffer.unmap(info)


def make_handler(strength=DEFAULT_STRENGTH, on_output=None):
    """A transform-frame handler applying the vignette; `on_output(array, info)` sees each result."""
    def on_transform_frame(element, sample):
        info = sample.get_info()
        if info is None or info.get_name() != "video-frame" or info.get_string("format") != "RGBA":
            return sample                                   # not ours: pass it on unchanged
        out = apply(frame_array(sample), strength)
        if on_output is not None:
            on_output(out, info)
        return Gst.Sample.new(Gst.Buffer.new_wrapped(out.tobytes()), None, None, None)
    return on_transform_frame


def write_png(array, path):
    """Encodes an RGBA array as PNG with GStreamer (appsrc ! pngenc ! filesink)."""
    height, width, _ = array.shape
    pipeline = Gst.parse_launch("appsrc name=src format=time ! videoconvert ! pngenc ! filesink name=file")
    pipeline.get_by_name("src").set_property(
        "caps", Gst.Caps.from_string(f"video/x-raw,format=RGBA,width={width},height={height},framerate=0/1"))
    pipeline.get_by_name("file").set_property("location", path)
    pipeline.set_state(Gst.State.PLAYING)
    source = pipeline.get_by_name("src")
    buffer = Gst.Buffer.new_wrapped(np.ascontiguousarray(array).tobytes())
    buffer.pts = 0
    source.emit("push-buffer", buffer)
    source.emit("end-of-stream")
    message = pipeline.get_bus().timed_pop_filtered(10 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if message is None or message.type != Gst.MessageType.EOS:
        raise RuntimeError(f"could not write {path}: {message.parse_error()[0].message if message else 'timeout'}")


def default_sink():
    return "autovideosink" if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") else "fakesink"


def main(argv=None):
    parser = argparse.ArgumentParser(description="A numpy vignette on trackprocessor worker=app")
    parser.add_argument("--frames", type=int, default=0, help="frames to send, then stop (0: until Ctrl-C)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--pattern", default="smpte", help="videotestsrc pattern")
    parser.add_argument("--strength", type=float, default=DEFAULT_STRENGTH, help="darkening of the corners, 0-1")
    parser.add_argument("--snapshot", metavar="PNG", help="write the last processed frame to this PNG file")
    parser.add_argument("--sink", default=default_sink(),
                        help="video sink (a gst-launch fragment; default autovideosink with a display, else fakesink)")
    args = parser.parse_args(argv)

    Gst.init(None)
    if Gst.ElementFactory.find("trackprocessor") is None:
        print("trackprocessor not found: put libgstinsertablestreams.so on GST_PLUGIN_PATH", file=sys.stderr)
        return 2
    num_buffers = args.frames if args.frames > 0 else -1
    pipeline = Gst.parse_launch(
        f"videotestsrc is-live=true num-buffers={num_buffers} pattern={args.pattern} ! "
        f"video/x-raw,format=RGBA,width={args.width},height={args.height},framerate=30/1 ! "
        f"trackprocessor name=processor worker=app pipe-to=out "
        f"trackgenerator name=out ! videoconvert ! {args.sink}")
    processor = pipeline.get_by_name("processor")

    state = {"processed": 0, "last": None, "busy": 0.0}

    def on_output(array, info):
        state["processed"] += 1
        if args.snapshot:
            state["last"] = array

    handler = make_handler(args.strength, on_output)

    def timed_handler(element, sample):
        start = time.monotonic()
        result = handler(element, sample)
        state["busy"] += time.monotonic() - start
        return result

    processor.connect("transform-frame", timed_handler)

    loop = GLib.MainLoop()
    outcome = {"code": 0}

    def on_message(bus, message):
        if message.type == Gst.MessageType.EOS:
            loop.quit()
        elif message.type == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            print(f"error from {message.src.get_name()}: {error.message}", file=sys.stderr)
            outcome["code"] = 1
            loop.quit()
        elif message.type == Gst.MessageType.WARNING:
            warning, _ = message.parse_warning()
            print(f"warning from {message.src.get_name()}: {warning.message}", file=sys.stderr)

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, lambda: (pipeline.send_event(Gst.Event.new_eos()), True)[1])

    started = time.monotonic()
    pipeline.set_state(Gst.State.PLAYING)
    loop.run()
    elapsed = time.monotonic() - started
    total = processor.get_property("total-frames")
    discarded = processor.get_property("discarded-frames")
    pipeline.set_state(Gst.State.NULL)
    bus.remove_signal_watch()

    processed = state["processed"]
    per_frame = 1000 * state["busy"] / processed if processed else 0.0
    print(f"vignette: {processed} frames processed, {discarded} dropped by the ring (discarded-frames), "
          f"{total} frames from the source, {elapsed:.1f} s, {per_frame:.1f} ms per frame in the handler")
    if args.snapshot:
        if state["last"] is None:
            print("no frame processed: no snapshot written", file=sys.stderr)
            return 1
        write_png(state["last"], args.snapshot)
        print(f"snapshot: {args.snapshot}")
    return outcome["code"]


if __name__ == "__main__":
    sys.exit(main())
