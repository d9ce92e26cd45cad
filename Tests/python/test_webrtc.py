#!/usr/bin/python3
"""Two webrtcbin peers in one Python (PyGObject) process, with the plugin's rtpscripttransform
on both ends: peer A sends VP8 video and Opus audio whose encoded frames `worker=negate` inverts
between encoder and payloader; peer B undoes it between depayloader and decoder and checks the
decoded SMPTE bars and 440 Hz tone. Offer/answer and ICE candidates are exchanged in-process on
a GLib main loop. Also checks the element counters, send-key-frame-request (RTCP PLI/FIR back to
the sender's transform and a key frame out of B's depayloader) and generate-key-frame on the
wrong side (False and an InvalidStateError warning).

Needs only Debian's GStreamer elements and libgstinsertablestreams.so on GST_PLUGIN_PATH. Run
with Debian's /usr/bin/python3 (python3-gi). Prints one PASS/FAIL line per check, then
'python-webrtc: N passed, M failed'; exits 0 only when every check passed.
"""
import os
import sys
import threading
import time
import traceback
from array import array

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("GstSdp", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402,F401  (GstSdp: the SDP types)

try:  # libnice's introspection (gir1.2-nice-0.1), to pin ICE to 127.0.0.1
    gi.require_version("Nice", "0.1")
    from gi.repository import Nice  # noqa: E402
except (ImportError, ValueError):
    Nice = None

Gst.init(None)

OVERALL_TIMEOUT_S = 40          # the whole test, then every check still waiting fails
HARD_TIMEOUT_S = 55             # a watchdog thread exits even if the main loop itself is stuck
CONNECT_TIMEOUT_S = 15
WARM_UP_S = 2.0
MEASURE_S = 3.0
KEY_FRAME_WAIT_S = 1.5
WIDTH, HEIGHT = 320, 240

SEND = (
    "webrtcbin name=peer_a bundle-policy=max-bundle "
    "webrtcbin name=peer_b bundle-policy=max-bundle "
    f"videotestsrc is-live=true pattern=smpte ! video/x-raw,width={WIDTH},height={HEIGHT},framerate=30/1 ! videoconvert "
    "! vp8enc deadline=1 keyframe-max-dist=60 ! rtpscripttransform name=send_video worker=negate "
    "! rtpvp8pay name=pay_video ! application/x-rtp,media=video,encoding-name=VP8,payload=96 ! peer_a. "
    "audiotestsrc is-live=true wave=sine freq=440 ! audioconvert ! audioresample ! opusenc "
    "! rtpscripttransform name=send_audio worker=negate "
    "! rtpopuspay name=pay_audio ! application/x-rtp,media=audio,encoding-name=OPUS,payload=97 ! peer_a."
)

# videotestsrc pattern=smpte in GStreamer 1.22 draws the 7 top bars at 100 % in RGB.
SMPTE_BARS = [(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0), (255, 0, 255), (255, 0, 0), (0, 0, 255)]
TOLERANCE = 40
SINE_CROSSINGS_PER_S = 880.0     # a 440 Hz sine crosses zero twice per period
AUDIO_RATE = 48000


class TimedOut(Exception):
    pass


class Counters:
    """Updated from streaming threads (each += runs under the GIL), read on the main thread."""

    def __init__(self):
        self.video_sent = 0
        self.video_received = 0
        self.video_decoded = 0
        self.video_intact = 0
        self.video_key_sent_times = []   # time.monotonic() of key frames entering A's payloader
        self.video_key_times = []        # time.monotonic() of key frames leaving B's depayloader
        self.last_colours = None
        self.audio_sent = 0
        self.audio_decoded = 0
        self.audio_checked = 0
        self.audio_intact = 0
        self.audio_crossings = 0
        self.audio_samples = 0
        self.last_rate = None

    def snapshot(self):
        return {k: (len(v) if isinstance(v, list) else v) for k, v in vars(self).items()
                if isinstance(v, (int, list))}


class Loopback:
    def __init__(self):
        self.started = time.monotonic()
        self.counters = Counters()
        self.messages = []               # (kind, source, text, debug, monotonic time) from the bus
        self.signalling_errors = []
        self.offered = False
        self.branches = {}
        self.pipeline = Gst.parse_launch(SEND)
        self.peer_a = self.pipeline.get_by_name("peer_a")
        self.peer_b = self.pipeline.get_by_name("peer_b")
        for pad in self.peer_a.sinkpads:  # peer A only sends
            pad.get_property("transceiver").set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
        self.candidates = []
        self.pinned = all(self.gather_on_loopback(peer) for peer in (self.peer_a, self.peer_b))
        self.probe("pay_video", "sink", self.on_video_sent)
        self.probe("pay_audio", "sink", self.on_audio_sent)
        self.peer_a.connect("on-negotiation-needed", self.on_negotiation_needed)
        self.peer_a.connect("on-ice-candidate", self.on_ice_candidate, self.peer_b)
        self.peer_b.connect("on-ice-candidate", self.on_ice_candidate, self.peer_a)
        self.peer_b.connect("pad-added", self.on_incoming_stream)
        self.bus = self.pipeline.get_bus()
        self.bus.add_signal_watch()
        self.bus.connect("message", self.on_message)

    # -- helpers ---------------------------------------------------------------------------

    def element(self, name):
        return self.pipeline.get_by_name(name)

    def probe(self, element, pad_name, callback):
        element = self.element(element) if isinstance(element, str) else element
        pad = element.get_static_pad(pad_name)

        def on_probe(pad, info):
            if info.type & Gst.PadProbeType.BUFFER_LIST:
                buffers = info.get_buffer_list()
                for index in range(buffers.length()):
                    callback(pad, buffers.get(index))
            else:
                callback(pad, info.get_buffer())
            return Gst.PadProbeReturn.OK
        pad.add_probe(Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST, on_probe)

    @staticmethod
    def gather_on_loopback(webrtcbin):
        """Both peers are in this process: host candidates on 127.0.0.1 suffice. libnice leaves
        loopback out by default, so a machine whose only interface is lo would have none."""
        if Nice is None:
            return False
        ice = webrtcbin.get_property("ice-agent")
        if ice.__grefcount__ == 1:
            # webrtcbin 1.22 keeps its GstWebRTCNice with the floating reference it was created
            # with; PyGObject has just sunk it, so dropping `ice` would free webrtcbin's agent.
            # Give webrtcbin its reference back.
            ice._ref()
        agent = ice.get_property("agent")
        address = Nice.Address()
        return address.set_from_string("127.0.0.1") and agent.add_local_address(address)

    def errors(self):
        return self.signalling_errors + [f"{m[0]}: {m[1]}: {m[2]}" for m in self.messages if m[0] == "error"]

    # -- signalling (webrtcbin's threads; everything is handed to the main loop) -------------

    def on_negotiation_needed(self, element):
        GLib.idle_add(self.create_offer)

    def create_offer(self):
        if not self.offered:
            self.offered = True
            promise = Gst.Promise.new_with_change_func(self.on_reply, "offer")
            self.peer_a.emit("create-offer", None, promise)
        return GLib.SOURCE_REMOVE

    def on_reply(self, promise, field):
        GLib.idle_add(self.on_description, promise, field)

    def on_description(self, promise, field):
        reply = promise.get_reply() if promise.wait() == Gst.PromiseResult.REPLIED else None
        description = reply.get_value(field) if reply is not None and reply.has_field(field) else None
        if description is None:
            error = reply.get_value("error") if reply is not None and reply.has_field("error") else None
            self.signalling_errors.append(f"create-{field} failed: {error.message if error else reply}")
            return GLib.SOURCE_REMOVE
        local, remote = (self.peer_a, self.peer_b) if field == "offer" else (self.peer_b, self.peer_a)
        for element, signal, step in [(local, "set-local-description", f"{field}: set-local-description"),
                                      (remote, "set-remote-description", f"{field}: set-remote-description")]:
            element.emit(signal, description, Gst.Promise.new_with_change_func(self.on_description_set, step))
        if field == "offer":  # webrtcbin queues its operations: B answers once the offer is set
            self.peer_b.emit("create-answer", None, Gst.Promise.new_with_change_func(self.on_reply, "answer"))
        return GLib.SOURCE_REMOVE

    def on_description_set(self, promise, step):
        reply = promise.get_reply()
        if reply is not None and reply.has_field("error"):
            self.signalling_errors.append(f"{step} failed: {reply.get_value('error').message}")

    def on_ice_candidate(self, element, mline, candidate, other):
        self.candidates.append(candidate)
        GLib.idle_add(lambda: other.emit("add-ice-candidate", mline, candidate) and False)

    # -- receive branches (built in the streaming thread: the pad pushes right after) --------

    def on_incoming_stream(self, element, pad):
        if pad.direction != Gst.PadDirection.SRC:
            return
        caps = pad.get_current_caps() or pad.query_caps(None)
        encoding = caps.get_structure(0).get_string("encoding-name") or ""
        if encoding.upper() == "VP8":
            description = ("rtpvp8depay name=depay_video ! rtpscripttransform name=recv_video worker=negate "
                           "! vp8dec name=dec_video ! videoconvert ! video/x-raw,format=RGBx "
                           "! fakesink name=sink_video sync=false async=false")
        elif encoding.upper() == "OPUS":
            description = ("rtpopusdepay name=depay_audio ! rtpscripttransform name=recv_audio worker=negate "
                           "! opusdec name=dec_audio ! audioconvert ! audioresample "
                           f"! audio/x-raw,format=S16LE,layout=interleaved,channels=1,rate={AUDIO_RATE} "
                           "! fakesink name=sink_audio sync=false async=false")
        else:
            self.signalling_errors.append(f"unexpected stream {caps.to_string()}")
            description = "fakesink sync=false async=false"
        branch = Gst.parse_bin_from_description(description, True)
        self.pipeline.add(branch)
        if encoding.upper() == "VP8":
            self.probe(branch.get_by_name("depay_video"), "src", self.on_video_received)
            self.probe(branch.get_by_name("dec_video"), "src", self.on_video_decoded)
            self.probe(branch.get_by_name("sink_video"), "sink", self.on_video_check)
        elif encoding.upper() == "OPUS":
            self.probe(branch.get_by_name("dec_audio"), "src", self.on_audio_decoded)
            self.probe(branch.get_by_name("sink_audio"), "sink", self.on_audio_check)
        branch.sync_state_with_parent()
        result = pad.link(branch.get_static_pad("sink"))
        if result != Gst.PadLinkReturn.OK:
            self.signalling_errors.append(f"cannot link {encoding} stream: {result}")
        self.branches[encoding.upper()] = branch

    # -- probes (streaming threads) --------------------------------------------------------

    def on_video_sent(self, pad, buffer):
        self.counters.video_sent += 1
        if not buffer.has_flags(Gst.BufferFlags.DELTA_UNIT):
            self.counters.video_key_sent_times.append(time.monotonic())

    def on_audio_sent(self, pad, buffer):
        self.counters.audio_sent += 1

    def on_video_received(self, pad, buffer):
        self.counters.video_received += 1
        if not buffer.has_flags(Gst.BufferFlags.DELTA_UNIT):
            self.counters.video_key_times.append(time.monotonic())

    def on_video_decoded(self, pad, buffer):
        self.counters.video_decoded += 1

    def on_audio_decoded(self, pad, buffer):
        self.counters.audio_decoded += 1

    def on_video_check(self, pad, buffer):
        caps = pad.get_current_caps()
        structure = caps.get_structure(0)
        width, height = structure.get_int("width")[1], structure.get_int("height")[1]
        stride = (width * 4 + 3) & ~3  # RGBx, GStreamer's default stride
        y = height // 3
        colours = []
        intact = True
        for index, expected in enumerate(SMPTE_BARS):
            x = (2 * index + 1) * width // 14
            pixel = buffer.extract_dup(y * stride + x * 4, 3)
            if len(pixel) < 3:
                intact = False
                break
            colours.append(tuple(pixel))
            intact = intact and all(abs(got - want) <= TOLERANCE for got, want in zip(pixel, expected))
        self.counters.last_colours = colours
        if intact:
            self.counters.video_intact += 1

    def on_audio_check(self, pad, buffer):
        samples = array("h", buffer.extract_dup(0, buffer.get_size() & ~1))
        if sys.byteorder != "little":
            samples.byteswap()
        if len(samples) < 480:  # under 10 ms: too short to judge
            return
        crossings = 0
        positive = samples[0] >= 0
        for sample in samples:
            now = sample >= 0
            if now != positive:
                crossings += 1
                positive = now
        rate = crossings * AUDIO_RATE / len(samples)
        self.counters.audio_checked += 1
        self.counters.audio_crossings += crossings
        self.counters.audio_samples += len(samples)
        self.counters.last_rate = rate
        if abs(rate - SINE_CROSSINGS_PER_S) <= 0.15 * SINE_CROSSINGS_PER_S:
            self.counters.audio_intact += 1

    # -- bus (main loop) -------------------------------------------------------------------

    def on_message(self, bus, message):
        if message.type in (Gst.MessageType.ERROR, Gst.MessageType.WARNING):
            error, debug = message.parse_error() if message.type == Gst.MessageType.ERROR else message.parse_warning()
            kind = "error" if message.type == Gst.MessageType.ERROR else "warning"
            self.messages.append((kind, message.src.get_name(), error.message, debug or "", time.monotonic()))

    # -- waiting on the main loop ----------------------------------------------------------

    def spin(self, seconds, until=None):
        """Runs the main loop for `seconds` or until `until()` is true (returns whether it was)."""
        loop = GLib.MainLoop()
        deadline = time.monotonic() + seconds
        outcome = []

        def tick():
            if until is not None and until():
                outcome.append(True)
            elif time.monotonic() >= self.started + OVERALL_TIMEOUT_S:
                outcome.append(TimedOut)
            elif time.monotonic() >= deadline:
                outcome.append(False)
            else:
                return GLib.SOURCE_CONTINUE
            loop.quit()
            return GLib.SOURCE_REMOVE
        GLib.timeout_add(10, tick)
        loop.run()
        if outcome[0] is TimedOut:
            raise TimedOut(f"overall time-out of {OVERALL_TIMEOUT_S} s")
        return outcome[0]

    def start(self):
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            raise RuntimeError(f"the pipeline cannot play: {self.errors()}")

    def stop(self):
        self.pipeline.set_state(Gst.State.NULL)
        self.bus.remove_signal_watch()


# -- the checks --------------------------------------------------------------------------------

def check_video_frames_decode_intact(loopback, window):
    sent, intact = window["video_sent"], window["video_intact"]
    assert sent >= 20 * MEASURE_S, f"only {sent} video frames sent in {MEASURE_S} s (30/s expected)"
    assert intact >= 0.9 * sent, f"{intact} intact of {sent} sent; last colours {loopback.counters.last_colours}"


def check_audio_frames_decode_to_the_tone(loopback, window):
    sent, decoded, intact = window["audio_sent"], window["audio_decoded"], window["audio_intact"]
    assert sent >= 40 * MEASURE_S, f"only {sent} audio frames sent in {MEASURE_S} s (50/s expected)"
    assert decoded >= 0.9 * sent, f"{decoded} decoded of {sent} sent"
    assert window["audio_samples"] > 0, "no audio reached the sink"
    rate = window["audio_crossings"] * AUDIO_RATE / window["audio_samples"]
    assert abs(rate - SINE_CROSSINGS_PER_S) <= 0.15 * SINE_CROSSINGS_PER_S, f"zero-crossing rate {rate:.0f}/s"
    assert intact >= 0.9 * sent, f"{intact} buffers at ~880 crossings/s of {sent} sent; last {loopback.counters.last_rate}"


def check_transforms_are_rtpscripttransform_and_healthy(loopback, window):
    for name in ["send_video", "send_audio", "recv_video", "recv_audio"]:
        element = loopback.element(name)
        assert element is not None, f"no element {name}"
        factory = element.get_factory().get_name()
        assert factory == "rtpscripttransform", f"{name} is a {factory}"
    recv_video = loopback.element("recv_video")
    assert recv_video.get_property("failed-frames") == 0, recv_video.get_property("failed-frames")
    assert recv_video.get_property("written-frames") > 0, recv_video.get_property("written-frames")
    for name in ["send_video", "send_audio", "recv_audio"]:
        element = loopback.element(name)
        assert element.get_property("failed-frames") == 0 and element.get_property("rejected-frames") == 0, name
    assert not loopback.errors(), loopback.errors()


def check_send_key_frame_request_brings_a_key_frame(loopback, window):
    send_video, recv_video = loopback.element("send_video"), loopback.element("recv_video")
    requests_before = send_video.get_property("key-frame-requests")
    key_frames_before = len(loopback.counters.video_key_times)
    key_frames_sent_before = len(loopback.counters.video_key_sent_times)
    emitted = time.monotonic()
    assert recv_video.emit("send-key-frame-request") is True, "send-key-frame-request returned False"
    seen = {}

    def arrived():
        if "request" not in seen and send_video.get_property("key-frame-requests") > requests_before:
            seen["request"] = time.monotonic() - emitted
        if "key" not in seen and len(loopback.counters.video_key_times) > key_frames_before:
            seen["key"] = loopback.counters.video_key_times[key_frames_before] - emitted
        if "sent" not in seen and len(loopback.counters.video_key_sent_times) > key_frames_sent_before:
            seen["sent"] = loopback.counters.video_key_sent_times[key_frames_sent_before] - emitted
        return "request" in seen and "key" in seen
    loopback.spin(KEY_FRAME_WAIT_S, until=arrived)
    loopback.key_frame_figures = seen
    assert "request" in seen, f"send_video's key-frame-requests stayed {requests_before} for {KEY_FRAME_WAIT_S} s"
    assert "key" in seen, f"no key frame left peer B's depayloader within {KEY_FRAME_WAIT_S} s"


def check_generate_key_frame_on_the_receive_side_fails(loopback, window):
    recv_video = loopback.element("recv_video")
    emitted = time.monotonic()
    assert recv_video.emit("generate-key-frame", None) is False, "generate-key-frame returned True on the receive side"

    def warned():
        return any(m[0] == "warning" and m[4] >= emitted and "InvalidStateError" in m[2] + m[3] for m in loopback.messages)
    assert loopback.spin(2, until=warned), f"no InvalidStateError warning: {loopback.messages}"
    loopback.generate_warning = next(m[2] for m in loopback.messages if m[0] == "warning" and "InvalidStateError" in m[2] + m[3])


CHECKS = [check_video_frames_decode_intact, check_audio_frames_decode_to_the_tone,
          check_transforms_are_rtpscripttransform_and_healthy, check_send_key_frame_request_brings_a_key_frame,
          check_generate_key_frame_on_the_receive_side_fails]


def report(results):
    passed = sum(1 for ok in results.values() if ok)
    failed = len(CHECKS) - passed
    print(f"python-webrtc: {passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1


def main():
    results = {}

    def watchdog():  # the main loop itself is stuck: report what we have and leave
        for check in CHECKS:
            if check.__name__ not in results:
                print(f"FAIL {check.__name__} (hard time-out of {HARD_TIMEOUT_S} s)", flush=True)
        report(results)
        os._exit(1)
    timer = threading.Timer(HARD_TIMEOUT_S, watchdog)
    timer.daemon = True
    timer.start()

    loopback = None
    window = None
    setup_failure = None
    try:
        loopback = Loopback()
        loopback.start()
        counters = loopback.counters
        connected = loopback.spin(CONNECT_TIMEOUT_S, until=lambda: loopback.errors()
                                  or (counters.video_decoded > 0 and counters.audio_decoded > 0))
        if not connected or loopback.errors():
            raise RuntimeError(f"no media decoded at peer B within {CONNECT_TIMEOUT_S} s: {loopback.errors()} "
                               f"{counters.snapshot()}")
        connected_after = time.monotonic() - loopback.started
        addresses = sorted({c.split()[4] for c in loopback.candidates if len(c.split()) > 4})
        print(f"ICE: {len(loopback.candidates)} candidates on {', '.join(addresses)}"
              f"{'' if loopback.pinned else ' (not pinned to 127.0.0.1: no Nice introspection)'}", flush=True)
        loopback.spin(WARM_UP_S)
        before = counters.snapshot()
        loopback.spin(MEASURE_S)
        after = counters.snapshot()
        window = {key: after[key] - before[key] for key in after}
        rate = window["audio_crossings"] * AUDIO_RATE / window["audio_samples"] if window["audio_samples"] else 0
        print(f"connected after {connected_after:.2f} s; in {MEASURE_S} s: video sent {window['video_sent']}, "
              f"received {window['video_received']}, decoded {window['video_decoded']}, intact {window['video_intact']}; "
              f"audio sent {window['audio_sent']}, decoded {window['audio_decoded']}, "
              f"at ~880/s {window['audio_intact']}, zero crossings {rate:.0f}/s", flush=True)
    except Exception as error:  # every check fails with the reason
        setup_failure = error
        traceback.print_exc()

    for check in CHECKS:
        try:
            if setup_failure is not None:
                raise AssertionError(f"no loopback: {setup_failure}")
            check(loopback, window)
            results[check.__name__] = True
            print(f"PASS {check.__name__}", flush=True)
        except Exception:  # report every failure, keep going
            results[check.__name__] = False
            print(f"FAIL {check.__name__}", flush=True)
            traceback.print_exc()
            sys.stderr.flush()

    if loopback is not None:
        for name in ["send_video", "send_audio", "recv_video", "recv_audio"]:
            element = loopback.element(name)
            if element is not None:
                figures = {p: element.get_property(p) for p in
                           ["total-frames", "written-frames", "rejected-frames", "failed-frames", "key-frame-requests"]}
                print(f"{name}: {figures}")
        if getattr(loopback, "key_frame_figures", None):
            labels = {"request": "send_video saw the request", "sent": "key frame into A's payloader",
                      "key": "key frame out of B's depayloader"}
            print("after send-key-frame-request: " + ", ".join(f"{labels[k]} after {v:.3f} s"
                                                              for k, v in sorted(loopback.key_frame_figures.items(), key=lambda kv: kv[1])))
        if getattr(loopback, "generate_warning", None):
            print(f"generate-key-frame warning: {loopback.generate_warning}")
        loopback.stop()
    timer.cancel()
    sys.stdout.flush()
    return report(results)


if __name__ == "__main__":
    sys.exit(main())
