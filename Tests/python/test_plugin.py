#!/usr/bin/python3
"""An existing GStreamer application, in Python (PyGObject), using the plugin with no Swift of
its own: it loads libgstinsertablestreams.so from GST_PLUGIN_PATH and runs pipelines with
trackprocessor and trackgenerator, checking pixels, counts, timestamps and error text.

Run with Debian's /usr/bin/python3 (python3-gi). Prints 'N passed, N failed' and exits non-zero
on any failure.
"""
import sys
import traceback

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

Gst.init(None)

CAPS = "video/x-raw,format=RGBA,width=40,height=30,framerate=30/1"


def run(description, timeout_s=20):
    """Plays a pipeline to EOS or ERROR; returns (pipeline, collected buffers, messages)."""
    pipeline = Gst.parse_launch(description)
    collected = []
    sink = pipeline.get_by_name("out")
    if sink is not None:
        def on_sample(appsink):
            sample = appsink.emit("pull-sample")
            buffer = sample.get_buffer()
            ok, info = buffer.map(Gst.MapFlags.READ)
            collected.append((buffer.pts, bytes(info.data)))
            buffer.unmap(info)
            return Gst.FlowReturn.OK
        sink.set_property("emit-signals", True)
        sink.connect("new-sample", on_sample)
    pipeline.set_state(Gst.State.PLAYING)
    bus = pipeline.get_bus()
    messages = []
    while True:
        message = bus.timed_pop_filtered(timeout_s * Gst.SECOND,
                                         Gst.MessageType.EOS | Gst.MessageType.ERROR | Gst.MessageType.WARNING)
        if message is None:
            messages.append(("timeout", ""))
            break
        if message.type == Gst.MessageType.EOS:
            messages.append(("eos", ""))
            break
        if message.type == Gst.MessageType.ERROR:
            error, _ = message.parse_error()
            messages.append(("error", error.message))
            break
        warning, _ = message.parse_warning()
        messages.append(("warning", warning.message))
    return pipeline, collected, messages


def stop(pipeline):
    pipeline.set_state(Gst.State.NULL)


def test_plugin_loads_with_both_elements():
    plugin = Gst.Registry.get().find_plugin("insertablestreams")
    assert plugin is not None, "plugin insertablestreams not found on GST_PLUGIN_PATH"
    for name, long_name in [("trackprocessor", "Track processor (MediaStreamTrackProcessor)"),
                            ("trackgenerator", "Track generator (VideoTrackGenerator)")]:
        factory = Gst.ElementFactory.find(name)
        assert factory is not None, name
        assert factory.get_metadata("long-name") == long_name, factory.get_metadata("long-name")


def test_mirror_is_exact():
    reference, expected, messages = run(f"videotestsrc num-buffers=2 pattern=smpte ! {CAPS} ! appsink name=out sync=false")
    stop(reference)
    pipeline, mirrored, messages = run(
        f"videotestsrc num-buffers=2 pattern=smpte ! {CAPS} ! trackprocessor name=proc worker=mirror pipe-to=gen "
        f"sync=false max-buffer-size=8 trackgenerator name=gen ! appsink name=out sync=false")
    assert messages[-1][0] == "eos", messages
    assert len(mirrored) == 2 and len(expected) == 2
    width, height = 40, 30
    for (pts_a, a), (pts_b, b) in zip(expected, mirrored):
        assert pts_a == pts_b, (pts_a, pts_b)
        for y in range(height):
            for x in range(width):
                left = (y * width + x) * 4
                right = (y * width + width - 1 - x) * 4
                assert b[left:left + 4] == a[right:right + 4], (x, y)
    assert pipeline.get_by_name("proc").get_property("total-frames") == 2
    stop(pipeline)


def test_grayscale_formula():
    reference, expected, _ = run(f"videotestsrc num-buffers=1 pattern=smpte ! {CAPS} ! appsink name=out sync=false")
    stop(reference)
    pipeline, gray, messages = run(
        f"videotestsrc num-buffers=1 pattern=smpte ! {CAPS} ! trackprocessor worker=grayscale pipe-to=gen "
        f"sync=false trackgenerator name=gen ! appsink name=out sync=false")
    assert messages[-1][0] == "eos", messages
    a, b = expected[0][1], gray[0][1]
    for i in range(0, len(a), 4):
        y = 0.299 * a[i] + 0.587 * a[i + 1] + 0.114 * a[i + 2]
        assert abs(b[i] - y) <= 1 and b[i] == b[i + 1] == b[i + 2], (i, a[i:i + 4], b[i:i + 4])
        assert b[i + 3] == a[i + 3]
    stop(pipeline)


def test_unknown_transform_error():
    pipeline, _, messages = run("videotestsrc num-buffers=1 ! trackprocessor worker=vintage pipe-to=gen trackgenerator name=gen ! fakesink")
    kind, text = messages[-1]
    assert kind == "error", messages
    assert "unknown transform 'vintage'" in text and "sepia" in text, text
    stop(pipeline)


def test_muted_property_and_counts():
    pipeline, out, messages = run(
        f"videotestsrc num-buffers=5 ! {CAPS} ! trackprocessor pipe-to=gen sync=false max-buffer-size=8 "
        f"trackgenerator name=gen muted=true ! appsink name=out sync=false")
    assert messages[-1][0] == "eos", messages
    assert out == []
    assert pipeline.get_by_name("gen").get_property("discarded-frames") == 5
    stop(pipeline)


def test_sframe_keys_from_python():
    """A Python application drives end-to-end encryption: the receiver starts without the key
    (frames are refused as keyID and reported through the `message` signal), the application
    sends it with post-message, and decrypted frames flow."""
    key = "000102030405060708090a0b0c0d0e0f"
    pipeline = Gst.parse_launch(
        "audiotestsrc is-live=true num-buffers=100 ! opusenc ! "
        f"rtpscripttransform name=snd worker=sframe options=\"o,key=(string){key},key-id=(guint64)4\" ! "
        "rtpopuspay ! rtpopusdepay ! rtpscripttransform name=rcv side=receive worker=sframe ! appsink name=out sync=false")
    received = []
    sink = pipeline.get_by_name("out")
    sink.set_property("emit-signals", True)
    sink.connect("new-sample", lambda appsink: (received.append(appsink.emit("pull-sample")), Gst.FlowReturn.OK)[1])
    replies = []
    receiver = pipeline.get_by_name("rcv")
    receiver.connect("message", lambda element, structure: replies.append(structure.to_string()))
    pipeline.set_state(Gst.State.PLAYING)
    bus = pipeline.get_bus()
    bus.timed_pop_filtered(500 * Gst.MSECOND, Gst.MessageType.ERROR)
    assert received == [], "nothing may decrypt without the key"
    assert any("kind=(string)keyID" in reply and "key-id=(uint)4" in reply for reply in replies), replies
    receiver.emit("post-message", Gst.Structure.new_from_string(f"add-key, key-id=(guint64)4, key=(string){key}"))
    message = bus.timed_pop_filtered(10 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    assert message is not None and message.type == Gst.MessageType.EOS, message
    assert any(reply.startswith("sframe-keys") and "key-ids=(string)4" in reply for reply in replies), replies
    assert 50 <= len(received) < 100, len(received)
    stop(pipeline)


def main():
    tests = [value for name, value in sorted(globals().items()) if name.startswith("test_") and callable(value)]
    passed = failed = 0
    for test in tests:
        try:
            test()
            passed += 1
            print(f"PASS {test.__name__}")
        except Exception:  # report every failure, keep going
            failed += 1
            print(f"FAIL {test.__name__}")
            traceback.print_exc()
    print(f"python: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
