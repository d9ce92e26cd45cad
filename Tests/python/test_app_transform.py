#!/usr/bin/python3
"""The `app` transform from Python (PyGObject): `trackprocessor` and `rtpscripttransform` with
`worker=app` emit `transform-frame` (GstSample -> GstSample) on their worker thread for every
frame, and pass on what the handler returns. Checks, with real pipelines and real bytes:

  a. examples/python/vignette.py on trackprocessor: the generator's output == numpy's own
     apply() on the input frame, timestamps kept, the info structure's fields;
  b. no handler connected: identity;
  c. a handler returning None on every other frame: exactly those frames missing, others intact;
  d. `worker="app name=a ! app name=b"`: transform-frame::a then ::b; a handler without detail
     sees both steps; only the first connected handler runs;
  e. SFrame interop with examples/python/sframe.py: Python-encrypted Opus decrypts in the
     plugin's sframe, plugin-encrypted Opus decrypts in Python (byte for byte the encoder's
     frames, and decoded audio), a wrong key in Python is refused (sframe-error
     kind=authentication); the module against the RFC 9605 vectors;
  f. post-worker-message from a handler: the element's `message` signal and a bus element message;
  g. a slow handler on trackprocessor: the live source keeps its rate, the ring drops the oldest;
  h. bad returns: wrong-kind caps, a too-small buffer, the previous frame's sample, changed
     codec caps: a warning saying why, no crash, no duplicated frame;
  i. a frame returned at another size (fixed raw caps) changes the generator's caps;
  j. encoded frames: a new buffer without PTS takes the frame's timestamps and key/delta flags.

A handler must not keep its `sample` argument after returning: PyGObject wraps the arguments of
this signal (not introspected) without a reference, and the element releases the sample when the
handler returns (h3 keeps a real reference with GObject.Value, h4 with Gst.Sample.copy()).

Needs libgstinsertablestreams.so on GST_PLUGIN_PATH and Debian's /usr/bin/python3 with
python3-gi, python3-numpy, python3-cryptography. Prints PASS/FAIL per test, then
'python-app: N passed, M failed'; exits 0 only when every test passed. Each test has a
watchdog (TEST_TIMEOUT_S) that ends the process with a traceback if a pipeline hangs.
"""
import faulthandler
import os
import sys
import threading
import time
import traceback

import numpy as np
import gi

gi.require_version("Gst", "1.0")
from gi.repository import GObject, Gst  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True      # no __pycache__ in examples/python
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "python"))
import sframe  # noqa: E402
import vignette  # noqa: E402

Gst.init(None)

TEST_TIMEOUT_S = 25       # per test: a hang ends the process with every thread's traceback
WAIT_S = 10               # per pipeline: EOS or error within this
W, H = 320, 240
RAW = f"video/x-raw,format=RGBA,width={W},height={H},framerate=30/1"
# smpte bars that move (horizontal-speed): every frame differs, so bytes identify a frame.
SOURCE = f"videotestsrc pattern=smpte horizontal-speed=7 num-buffers={{n}} ! {RAW}"
KEY = "000102030405060708090a0b0c0d0e0f"
OPUS_SOURCE = ("audiotestsrc num-buffers={n} samplesperbuffer=960 freq=440 ! audio/x-raw,rate=48000,channels=1 ! "
               "opusenc")
MAIN_THREAD = threading.get_ident()


# ---------------------------------------------------------------------------------------------
# Helpers

class Run:
    """A pipeline played to EOS or ERROR, its appsinks collected, its bus messages kept."""

    def __init__(self, description):
        self.pipeline = Gst.parse_launch(description)
        self.sinks = {}
        it = self.pipeline.iterate_sinks()
        while True:
            result, sink = it.next()
            if result != Gst.IteratorResult.OK:
                break
            if sink.get_factory().get_name() == "appsink":
                self._collect(sink)
        self.warnings = []
        self.errors = []
        self.element_messages = []
        self.outcome = None

    def _collect(self, sink):
        frames = self.sinks.setdefault(sink.get_name(), [])

        def on_sample(appsink):
            sample = appsink.emit("pull-sample")
            buffer = sample.get_buffer()
            ok, info = buffer.map(Gst.MapFlags.READ)
            frames.append((buffer.pts, bytes(info.data), sample.get_caps().to_string(),
                           not buffer.has_flags(Gst.BufferFlags.DELTA_UNIT)))
            buffer.unmap(info)
            return Gst.FlowReturn.OK
        sink.set_property("emit-signals", True)
        sink.set_property("sync", False)
        sink.connect("new-sample", on_sample)

    def __getitem__(self, name):
        return self.pipeline.get_by_name(name)

    def frames(self, sink="out"):
        return self.sinks.get(sink, [])

    def play(self, timeout_s=WAIT_S):
        self.pipeline.set_state(Gst.State.PLAYING)
        bus = self.pipeline.get_bus()
        deadline = time.monotonic() + timeout_s
        kinds = Gst.MessageType.EOS | Gst.MessageType.ERROR | Gst.MessageType.WARNING | Gst.MessageType.ELEMENT
        while True:
            left = deadline - time.monotonic()
            message = bus.timed_pop_filtered(int(max(left, 0) * Gst.SECOND), kinds) if left > 0 else None
            if message is None:
                self.outcome = "timeout"
                break
            if message.type == Gst.MessageType.EOS:
                self.outcome = "eos"
                break
            if message.type == Gst.MessageType.ERROR:
                self.errors.append(message.parse_error()[0].message)
                self.outcome = "error"
                break
            if message.type == Gst.MessageType.WARNING:
                self.warnings.append((message.src.get_name(), message.parse_warning()[0].message))
            elif message.type == Gst.MessageType.ELEMENT:
                self.element_messages.append((message.src.get_name(), message.get_structure().to_string()))
        return self

    def stop(self):
        self.pipeline.set_state(Gst.State.NULL)

    def expect_eos(self):
        assert self.outcome == "eos", (self.outcome, self.errors, self.warnings)


def play(description, connect=None, timeout_s=WAIT_S):
    """Builds, lets `connect(run)` attach handlers, plays to the end, stops; returns the Run."""
    run = Run(description)
    if connect:
        connect(run)
    try:
        run.play(timeout_s)
    finally:
        run.stop()
    return run


def mapped_bytes(sample):
    buffer = sample.get_buffer()
    ok, info = buffer.map(Gst.MapFlags.READ)
    assert ok
    data = bytes(info.data)
    buffer.unmap(info)
    return data


def new_sample(data, caps=None):
    return Gst.Sample.new(Gst.Buffer.new_wrapped(bytes(data)), caps, None, None)


def as_rgba(data):
    return np.frombuffer(data, np.uint8).reshape(H, W, 4)


def raw_pipeline(n, worker="app", extra="", source=None):
    """The input frames through a tee: `in` gets them as they enter, `out` after the generator."""
    source = source or SOURCE.format(n=n)
    return (f"{source} ! tee name=t  t. ! queue ! appsink name=in  "
            f"t. ! queue ! trackprocessor name=tp worker=\"{worker}\" pipe-to=gen sync=false max-buffer-size=64 {extra} "
            f"trackgenerator name=gen ! appsink name=out")


# ---------------------------------------------------------------------------------------------
# a. The vignette example against numpy

def test_a_vignette_example_equals_numpy():
    infos, threads = [], []

    def connect(run):
        handler = vignette.make_handler()

        def wrapped(element, sample):
            infos.append((sample.get_info().to_string(), sample.get_buffer().pts, sample.get_buffer().duration))
            threads.append(threading.get_ident())
            return handler(element, sample)
        run["tp"].connect("transform-frame", wrapped)

    run = play(raw_pipeline(5), connect)
    run.expect_eos()
    inputs, outputs = run.frames("in"), run.frames("out")
    assert len(inputs) == 5 and len(outputs) == 5, (len(inputs), len(outputs))
    assert len({data for _, data, _, _ in inputs}) == 5, "the source's frames should all differ"
    for index, ((pts_in, data_in, _, _), (pts_out, data_out, caps, _)) in enumerate(zip(inputs, outputs)):
        assert pts_out == pts_in, (index, pts_in, pts_out)
        expected = vignette.apply(as_rgba(data_in)).tobytes()
        assert data_out == expected, f"frame {index}: {sum(a != b for a, b in zip(data_out, expected))} bytes differ from numpy"
        assert data_out != data_in, "the vignette changed nothing"
        assert f"width=(int){W}" in caps and "format=(string)RGBA" in caps, caps
    # The info structure handed to the handler.
    for index, (text, pts, duration) in enumerate(infos):
        info = Gst.Structure.from_string(text)[0]
        assert info.get_name() == "video-frame", text
        assert info.get_uint64("frame-id") == (True, index + 1), text
        assert info.get_int64("timestamp") == (True, pts // 1000), (text, pts)
        assert info.get_int64("duration") == (True, duration // 1000), (text, duration)
        assert info.get_string("format") == "RGBA", text
        for field, value in [("coded-width", W), ("coded-height", H), ("display-width", W), ("display-height", H)]:
            assert info.get_int(field) == (True, value), (field, text)
        for field in ["color-primaries", "color-transfer", "color-matrix"]:
            assert info.get_string(field), (field, text)
        assert info.get_boolean("full-range")[0], text
    assert threads and all(thread != MAIN_THREAD for thread in threads), "handler ran on the main thread"
    assert len(set(threads)) == 1, f"handler ran on {len(set(threads))} threads, expected the one worker thread"
    assert run["tp"].get_property("discarded-frames") == 0


# ---------------------------------------------------------------------------------------------
# b. No handler: identity

def test_b_no_handler_is_identity():
    run = play(raw_pipeline(4))
    run.expect_eos()
    inputs, outputs = run.frames("in"), run.frames("out")
    assert len(outputs) == 4, len(outputs)
    assert [(pts, data) for pts, data, _, _ in outputs] == [(pts, data) for pts, data, _, _ in inputs]


# ---------------------------------------------------------------------------------------------
# c. Dropping frames

def test_c_none_drops_exactly_those_frames():
    seen = []

    def drop_even(element, sample):
        frame_id = sample.get_info().get_uint64("frame-id")[1]
        seen.append(frame_id)
        return None if frame_id % 2 == 0 else sample

    run = play(raw_pipeline(7), lambda run: run["tp"].connect("transform-frame", drop_even))
    run.expect_eos()
    inputs, outputs = run.frames("in"), run.frames("out")
    assert seen == [1, 2, 3, 4, 5, 6, 7], seen
    kept = [inputs[i] for i in (0, 2, 4, 6)]
    assert [pts for pts, _, _, _ in outputs] == [pts for pts, _, _, _ in kept], (
        [pts for pts, *_ in outputs], [pts for pts, *_ in kept])
    assert [data for _, data, _, _ in outputs] == [data for _, data, _, _ in kept]


# ---------------------------------------------------------------------------------------------
# d. Detail routing

def add_one_to_byte_zero(sample):
    data = bytearray(mapped_bytes(sample))
    data[0] = (data[0] + 1) % 256
    return new_sample(data)


def test_d1_detail_routing_a_then_b():
    log = []

    def step(name):
        def handler(element, sample):
            log.append((name, sample.get_info().get_uint64("frame-id")[1], sample.get_buffer().pts, mapped_bytes(sample)[0]))
            return add_one_to_byte_zero(sample)
        return handler

    def connect(run):
        run["tp"].connect("transform-frame::a", step("a"))
        run["tp"].connect("transform-frame::b", step("b"))

    run = play(raw_pipeline(3, worker="app name=a ! app name=b"), connect)
    run.expect_eos()
    inputs, outputs = run.frames("in"), run.frames("out")
    assert len(outputs) == 3, len(outputs)
    assert [name for name, *_ in log] == ["a", "b"] * 3, log
    for index, (pts_in, data_in, _, _) in enumerate(inputs):
        a, b = log[2 * index], log[2 * index + 1]
        assert a[2] == b[2] == pts_in, (a, b, pts_in)
        assert a[3] == data_in[0] and b[3] == (data_in[0] + 1) % 256, "b must see a's output"
        assert outputs[index][1][0] == (data_in[0] + 2) % 256 and outputs[index][1][1:] == data_in[1:]


def test_d2_first_connected_handler_wins():
    calls = {"first": 0, "second": 0}

    def first(element, sample):
        calls["first"] += 1
        return add_one_to_byte_zero(sample)

    def second(element, sample):
        calls["second"] += 1
        return None

    def connect(run):
        run["tp"].connect("transform-frame", first)
        run["tp"].connect("transform-frame", second)

    run = play(raw_pipeline(3), connect)
    run.expect_eos()
    assert calls == {"first": 3, "second": 0}, calls
    inputs, outputs = run.frames("in"), run.frames("out")
    assert [data[0] for _, data, _, _ in outputs] == [(data[0] + 1) % 256 for _, data, _, _ in inputs]


def test_d3_handler_without_detail_sees_named_steps():
    """A handler connected without detail gets every app step's frames, named or not."""
    for element, description in [
        ("tp", raw_pipeline(3, worker="app name=a ! app name=b")),
        ("snd", f"{OPUS_SOURCE.format(n=2)} ! tee name=t  t. ! queue ! appsink name=in  "
                "t. ! queue ! rtpscripttransform name=snd worker=\"app name=a ! app name=b\" ! appsink name=out"),
    ]:
        calls = []

        def plain(el, sample):
            calls.append(sample.get_info().get_uint64("frame-id")[1])
            return add_one_to_byte_zero(sample)

        run = play(description, lambda run, element=element: run[element].connect("transform-frame", plain))
        run.expect_eos()
        inputs, outputs = run.frames("in"), run.frames("out")
        assert len(outputs) == len(inputs) > 0, (element, len(inputs), len(outputs))
        assert len(calls) == 2 * len(inputs), (
            f"{element} worker='app name=a ! app name=b': a handler connected to transform-frame without detail "
            f"ran {len(calls)} times for {len(inputs)} frames (expected {2 * len(inputs)}: both steps)")
        assert [data[0] for _, data, _, _ in outputs] == [(data[0] + 2) % 256 for _, data, _, _ in inputs]


# ---------------------------------------------------------------------------------------------
# e. SFrame interop

def test_e0_sframe_module_matches_rfc9605_vectors():
    assert sframe.check_test_vectors() >= 300


def opus_interop(send_worker, receive_worker, send_options="", receive_options="", connect=None, n=40, decode=False):
    tail = "! opusdec ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! appsink name=pcm" if decode else "! appsink name=out"
    return play(
        f"{OPUS_SOURCE.format(n=n)} ! tee name=t  t. ! queue ! appsink name=plain  "
        f"t. ! queue ! rtpscripttransform name=snd side=send worker={send_worker} {send_options} ! rtpopuspay ! "
        f"rtpopusdepay ! rtpscripttransform name=rcv side=receive worker={receive_worker} {receive_options} "
        f"{'! tee name=r r. ! queue ! appsink name=out r. ! queue ' if decode else ''}{tail}",
        connect)


def python_encryptor(key_hex, key_id, log):
    sender = sframe.Sender()
    sender.set_key(bytes.fromhex(key_hex), key_id)

    def encrypt(element, sample):
        info = sample.get_info()
        log.append((info.to_string(), sample.get_buffer().pts))
        return new_sample(sframe.protect_frame(sender, mapped_bytes(sample), info.get_string("mime-type")))
    return encrypt


def tone_crossings_per_second(pcm_frames):
    audio = np.frombuffer(b"".join(data for _, data, _, _ in pcm_frames), np.int16).astype(np.int32)
    signs = np.signbit(audio)
    return np.count_nonzero(signs[1:] != signs[:-1]) / (len(audio) / 48000), len(audio)


def test_e1_python_encrypts_plugin_decrypts():
    log = []
    run = opus_interop("app", "sframe", receive_options=f'options="sframe,key=(string){KEY},key-id=(guint64)5"',
                       connect=lambda run: run["snd"].connect("transform-frame", python_encryptor(KEY, 5, log)),
                       decode=True)
    run.expect_eos()
    plain, out = run.frames("plain"), run.frames("out")
    # opusenc ends with one more frame than the 40 buffers it got (its lookahead).
    assert len(plain) >= 40 and len(log) == len(plain), (len(plain), len(log))
    assert [data for _, data, _, _ in out] == [data for _, data, _, _ in plain], "decrypted frames differ from the encoder's"
    assert [pts for pts, *_ in out] == [pts for pts, *_ in plain]
    assert not any("sframe-error" in text for _, text in run.element_messages), run.element_messages
    crossings, samples = tone_crossings_per_second(run.frames("pcm"))
    assert samples >= 40 * 960 and abs(crossings - 880) < 30, (samples, crossings)
    # The send side's info structure.
    text, pts = log[1]
    info = Gst.Structure.from_string(text)[0]
    assert info.get_name() == "encoded-audio-frame", text
    assert info.get_string("mime-type") == "audio/opus" and info.get_string("side") == "send", text
    assert info.get_uint64("frame-id") == (True, 2) and info.get_int64("timestamp") == (True, pts // 1000), (text, pts)
    assert info.get_uint("payload-type")[0] and info.get_uint("ssrc")[0], text


def test_e2_plugin_encrypts_python_decrypts():
    receiver = sframe.Receiver()
    receiver.add_key(bytes.fromhex(KEY), 9)
    received, errors, infos = [], [], []

    def decrypt(element, sample):
        infos.append(sample.get_info().to_string())
        data = mapped_bytes(sample)
        received.append(data)
        try:
            return new_sample(sframe.unprotect_frame(receiver, data, "audio/opus"))
        except sframe.SFrameError as error:
            errors.append(error.kind)
            return None

    run = opus_interop("sframe", "app", send_options=f'options="sframe,key=(string){KEY},key-id=(guint64)9"',
                       connect=lambda run: run["rcv"].connect("transform-frame", decrypt))
    run.expect_eos()
    plain, out = run.frames("plain"), run.frames("out")
    assert errors == [], errors
    assert len(plain) >= 40 and len(out) == len(plain) == len(received), (len(plain), len(out), len(received))
    assert [data for _, data, _, _ in out] == [data for _, data, _, _ in plain], "Python's decryption differs from the encoder's frames"
    # What came over the wire: TOC clear, 8-byte header (key id 9, 7-byte clock counter), 16-byte tag.
    for wire, (_, clear, _, _) in zip(received, plain):
        assert len(wire) == len(clear) + 1 + 1 + 7 + 16 and wire[0] == clear[0] and wire[1:] != clear[1:], (len(wire), len(clear))
        assert sframe.decode_header(wire[1:])[0] == 9
    info = Gst.Structure.from_string(infos[0])[0]
    assert info.get_string("side") == "receive" and info.get_uint("sequence-number")[0], infos[0]


def test_e3_wrong_key_in_python_is_refused_by_plugin():
    wrong = "ff" * 16
    log = []
    run = opus_interop("app", "sframe", receive_options=f'options="sframe,key=(string){KEY},key-id=(guint64)5"',
                       connect=lambda run: run["snd"].connect("transform-frame", python_encryptor(wrong, 5, log)))
    run.expect_eos()
    assert len(log) >= 40 and run.frames("out") == [], (len(log), len(run.frames("out")))
    reports = [text for name, text in run.element_messages if name == "rcv" and text.startswith("sframe-error")]
    assert reports and all("kind=(string)authentication" in text for text in reports), run.element_messages
    total = max(int(text.split("total=(uint)")[1].split(",")[0].rstrip(";")) for text in reports)
    assert total == len(log), (reports, len(log))


# ---------------------------------------------------------------------------------------------
# f. post-worker-message

def test_f_post_worker_message_reaches_application():
    for element, description in [
        ("tp", raw_pipeline(4)),
        ("snd", f"{OPUS_SOURCE.format(n=4)} ! rtpscripttransform name=snd worker=app ! fakesink"),
    ]:
        signalled, posted = [], []

        def handler(el, sample):
            frame_id = sample.get_info().get_uint64("frame-id")[1]
            posted.append(frame_id)
            el.emit("post-worker-message", Gst.Structure.new_from_string(
                f"faces, count=(int){frame_id * 10}, label=(string)\"frame {frame_id}\""))
            return sample

        def connect(run, element=element):
            run[element].connect("transform-frame", handler)
            run[element].connect("message", lambda el, structure: signalled.append(
                (structure.get_name(), structure.get_int("count")[1], structure.get_string("label"))))

        run = play(description, connect)
        run.expect_eos()
        assert len(posted) >= 4, (element, posted)
        expected = [("faces", 10 * i, f"frame {i}") for i in posted]
        assert signalled == expected, (element, signalled)
        on_bus = [text for name, text in run.element_messages if name == element and text.startswith("faces")]
        assert len(on_bus) == len(posted), (element, run.element_messages)
        first = Gst.Structure.from_string(on_bus[0])[0]
        assert first.get_int("count") == (True, 10) and first.get_string("label") == "frame 1", on_bus[0]


# ---------------------------------------------------------------------------------------------
# g. A slow handler: the ring drops, the source keeps its rate

def test_g_slow_handler_drops_oldest_and_never_blocks_source():
    frames = 45
    source_times, handled = [], []

    def slow(element, sample):
        handled.append(sample.get_buffer().pts)
        time.sleep(0.05)
        return sample

    def connect(run):
        run["tp"].connect("transform-frame", slow)
        run["src"].get_static_pad("src").add_probe(
            Gst.PadProbeType.BUFFER, lambda pad, info: (source_times.append(time.monotonic()), Gst.PadProbeReturn.OK)[1])

    run = Run(f"videotestsrc name=src is-live=true num-buffers={frames} ! {RAW} ! "
              "trackprocessor name=tp worker=app pipe-to=gen trackgenerator name=gen ! fakesink")
    connect(run)
    try:
        run.play()
        total = run["tp"].get_property("total-frames")
        discarded = run["tp"].get_property("discarded-frames")
    finally:
        run.stop()
    run.expect_eos()
    span = source_times[-1] - source_times[0]
    # A blocked source would take >= 45 x 50 ms = 2.25 s; at 30 fps it takes 44/30 = 1.47 s.
    assert len(source_times) == frames and span < 2.0, (len(source_times), span)
    assert total == frames, total
    assert discarded > 0, discarded
    assert len(handled) + discarded == total, (len(handled), discarded, total)
    assert handled == sorted(handled) and len(set(handled)) == len(handled)


# ---------------------------------------------------------------------------------------------
# h. Bad returns

def bad_raw_return(make_return, expect_in_warning):
    def connect(run):
        run["tp"].connect("transform-frame", lambda element, sample: make_return(sample))
    run = play(raw_pipeline(3), connect)
    run.expect_eos()
    assert run.frames("out") == [], len(run.frames("out"))
    texts = [text for name, text in run.warnings if name == "tp"]
    assert texts and all(part in texts[0] for part in expect_in_warning), run.warnings
    return run


def test_h1_audio_caps_for_video_frame_is_refused():
    caps = Gst.Caps.from_string("audio/x-raw,format=S16LE,rate=48000,channels=2,layout=interleaved")
    bad_raw_return(lambda sample: new_sample(bytes(W * H * 4), caps),
                   ["audio caps", "for a video frame", "the frame was dropped"])


def test_h2_too_small_buffer_is_refused():
    bad_raw_return(lambda sample: new_sample(bytes(10)), ["10-byte buffer", f"{W}x{H}", str(W * H * 4)])


def test_h3_previous_frame_sample_is_refused_no_duplicate():
    """rtpscripttransform: even frames return the sample handed out for the frame before.

    The sample argument is only valid during the handler: PyGObject wraps it without a reference
    (the signal is not introspected), so a handler that keeps the wrapper and returns it later
    hands back freed memory. A GObject.Value holds a real reference to the same GstSample."""
    previous = {}

    def handler(element, sample):
        frame_id = sample.get_info().get_uint64("frame-id")[1]
        earlier = previous.get("sample")
        previous["sample"] = GObject.Value(Gst.Sample, sample)    # a reference to this GstSample
        return earlier.get_value() if frame_id % 2 == 0 else sample

    run = play(f"{OPUS_SOURCE.format(n=10)} ! tee name=t  t. ! queue ! appsink name=in  "
               "t. ! queue ! rtpscripttransform name=snd worker=app ! appsink name=out",
               lambda run: run["snd"].connect("transform-frame", handler))
    previous.clear()
    run.expect_eos()
    inputs, out = run.frames("in"), run.frames("out")
    pts = [p for p, *_ in out]
    assert len(inputs) >= 10 and [frame[:2] for frame in out] == [frame[:2] for frame in inputs[0::2]], (
        len(inputs), pts, [p for p, *_ in inputs])
    assert all(a < b for a, b in zip(pts, pts[1:])), pts
    texts = [text for name, text in run.warnings if name == "snd"]
    assert texts and "returned frame 1 while handling frame 2" in texts[0] and "never an earlier one" in texts[0], run.warnings
    refused = len(inputs) // 2
    counters = {name: run["snd"].get_property(name) for name in ["total-frames", "written-frames", "failed-frames", "rejected-frames"]}
    assert counters["written-frames"] == len(out) and counters["failed-frames"] + counters["rejected-frames"] == refused, counters


def test_h4_previous_frame_sample_is_refused_on_trackprocessor():
    """trackprocessor: every frame but the first returns a copy of the previous frame's sample
    (Gst.Sample.copy: a sample of its own, the same buffer and info, frame-id included)."""
    previous = {}

    def handler(element, sample):
        earlier = previous.get("sample")
        previous["sample"] = sample.copy()
        return earlier if earlier is not None else sample

    run = play(raw_pipeline(4), lambda run: run["tp"].connect("transform-frame", handler))
    previous.clear()
    run.expect_eos()
    inputs, outputs = run.frames("in"), run.frames("out")
    assert [data for _, data, _, _ in outputs] == [inputs[0][1]], len(outputs)
    texts = [text for name, text in run.warnings if name == "tp"]
    assert texts and "returned frame 1 while handling frame 2" in texts[0], run.warnings


def test_h5_encoded_caps_change_is_refused():
    caps = Gst.Caps.from_string("audio/x-raw,format=S16LE,rate=48000,channels=1,layout=interleaved")
    run = play(f"{OPUS_SOURCE.format(n=5)} ! rtpscripttransform name=snd worker=app ! appsink name=out",
               lambda run: run["snd"].connect("transform-frame", lambda element, sample: new_sample(mapped_bytes(sample), caps)))
    run.expect_eos()
    assert run.frames("out") == []
    assert any("cannot change the codec" in text for name, text in run.warnings if name == "snd"), run.warnings


# ---------------------------------------------------------------------------------------------
# i. Another size

def test_i_other_size_changes_generator_caps():
    half = Gst.Caps.from_string(f"video/x-raw,format=RGBA,width={W // 2},height={H // 2},framerate=30/1")

    def downscale(element, sample):
        return new_sample(np.ascontiguousarray(as_rgba(mapped_bytes(sample))[::2, ::2]).tobytes(), half)

    run = play(raw_pipeline(3), lambda run: run["tp"].connect("transform-frame", downscale))
    run.expect_eos()
    inputs, outputs = run.frames("in"), run.frames("out")
    assert len(outputs) == 3, len(outputs)
    for (pts_in, data_in, _, _), (pts_out, data_out, caps, _) in zip(inputs, outputs):
        assert f"width=(int){W // 2}" in caps and f"height=(int){H // 2}" in caps, caps
        assert pts_out == pts_in
        assert data_out == np.ascontiguousarray(as_rgba(data_in)[::2, ::2]).tobytes()


# ---------------------------------------------------------------------------------------------
# j. Encoded frames: a new buffer takes the frame's timestamps and key/delta flags

def test_j_encoded_new_buffer_keeps_timestamps_and_flags():
    types = []

    def rewrap(element, sample):
        types.append(sample.get_info().get_string("type"))
        return new_sample(mapped_bytes(sample))     # no PTS, no flags of its own

    run = play("videotestsrc num-buffers=12 ! video/x-raw,width=160,height=120,framerate=30/1 ! "
               "vp8enc keyframe-max-dist=4 deadline=1 ! tee name=t  t. ! queue ! appsink name=in  "
               "t. ! queue ! rtpscripttransform name=snd worker=app ! appsink name=out",
               lambda run: run["snd"].connect("transform-frame", rewrap))
    run.expect_eos()
    inputs, outputs = run.frames("in"), run.frames("out")
    assert len(outputs) == len(inputs) == 12, (len(inputs), len(outputs))
    assert [(pts, data, key) for pts, data, _, key in outputs] == [(pts, data, key) for pts, data, _, key in inputs]
    assert types == ["key" if key else "delta" for *_, key in inputs] and types.count("key") >= 3, types


# ---------------------------------------------------------------------------------------------

def main():
    if Gst.ElementFactory.find("trackprocessor") is None or Gst.ElementFactory.find("rtpscripttransform") is None:
        print("libgstinsertablestreams.so not found on GST_PLUGIN_PATH")
        print("python-app: 0 passed, 1 failed")
        return 1
    tests = [value for name, value in sorted(globals().items()) if name.startswith("test_") and callable(value)]
    passed = failed = 0
    started = time.monotonic()
    for test in tests:
        faulthandler.dump_traceback_later(TEST_TIMEOUT_S, exit=True)
        test_started = time.monotonic()
        try:
            test()
            passed += 1
            print(f"PASS {test.__name__} ({time.monotonic() - test_started:.2f} s)", flush=True)
        except Exception:  # report every failure, keep going
            failed += 1
            print(f"FAIL {test.__name__} ({time.monotonic() - test_started:.2f} s)", flush=True)
            traceback.print_exc()
        finally:
            faulthandler.cancel_dump_traceback_later()
    print(f"total {time.monotonic() - started:.1f} s")
    print(f"python-app: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
