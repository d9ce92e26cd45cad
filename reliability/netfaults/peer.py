#!/usr/bin/python3
"""One peer of the network-fault call: webrtcbin, SFrame (rtpscripttransform worker=sframe) on
every stream, signalling as JSON lines over a Unix-domain socket (a file: it crosses network
namespaces; the media goes through the emulated link).

    peer.py --role recv --socket PATH --key HEX --out FILE [--codec vp8|h264] [--duration S]
    peer.py --role send --socket PATH --key HEX --out FILE [--codec vp8|h264] [--duration S]

The sender (offerer, send-only) feeds its encoder numbered pictures (appsrc, 320x240 I420, 30/s):
a scrolling pattern whose top band carries the frame number as 16 black/white blocks and their
complement. The encoder makes key frames only on request (vp8enc keyframe-mode=disabled,
openh264enc gop-size=0): after a loss or the outage, a picture comes back only through a key-frame
request (RTCP PLI from the depayloader's request-keyframe, or rtpscripttransform's
send-key-frame-request). Opus audio (a 440 Hz tone) runs alongside, SFrame-encrypted too.

Plaintext check (sender): a probe on each send transform's sink pad keeps the encoder's frame, one
on its src pad compares what goes to the payloader: the frame must differ, and for VP8/Opus it must
be clear prefix || SFrame header (config byte of key id 1 or 2, 7-byte counter) || ciphertext ||
16-byte tag, where the ciphertext matches the plaintext it replaces in about 1/256 of its bytes (a
leak: > 10 % of at least 16 bytes); for H.264, no slice NAL unit's body (after its header and
first byte) may appear in the output. Every frame is checked, failures are counted.

Intact (receiver): a decoded picture whose frame number reads back (16 bits and their complement)
and whose luma is within PSNR >= run.py's INTACT_PSNR_DB of the picture the sender fed its encoder under
that number (regenerated here: the pattern is a function of the number).

Writes one JSON file (--out) with every figure; the orchestrator (run.py) combines both peers' and
the link emulator's files.
"""
import argparse
import collections
import faulthandler
import signal
import subprocess
import json
import os
import socket
import sys
import threading
import time

import numpy as np
import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstVideo", "1.0")
gi.require_version("GstApp", "1.0")
from gi.repository import GLib, Gst, GstApp, GstSdp, GstVideo, GstWebRTC  # noqa: E402,F401

# PyGObject resolves these attributes lazily and not thread-safely: two streaming threads reaching
# `Gst.PadProbeType.BUFFER` first at the same moment made one fail with "type object
# 'PadProbeType' has no attribute 'BUFFER'" (seen once, in the video and audio pad-added handlers).
# Resolve every one used from a streaming thread here, on the main thread, before any exists.
for _name in ("BUFFER", "EVENT_UPSTREAM"):
    getattr(Gst.PadProbeType, _name)
for _enum, _name in ((Gst.PadProbeReturn, "OK"), (Gst.BufferFlags, "DELTA_UNIT"), (Gst.PadDirection, "SRC"),
                     (Gst.PadLinkReturn, "OK"), (Gst.FlowReturn, "OK"), (Gst.FlowReturn, "EOS")):
    getattr(_enum, _name)

WIDTH, HEIGHT, FPS = 320, 240, 30
BITS = 16
BAND = 32                  # rows 0-15: the number's bits, rows 16-31: their complement
VIDEO_KEY_ID, AUDIO_KEY_ID = 1, 2
FIRST_PICTURE_WAIT_MS = 1000   # receiver: ask for a key frame when no picture this long after the stream began
SFRAME_TAG = 16            # AES_128_GCM_SHA256_128
SFRAME_HEADER = 8          # config byte + 7-byte counter (the clock-based counter), key id < 8


# -- the numbered pictures -----------------------------------------------------------------------

def _texture():
    rng = np.random.default_rng(14)
    blocks = rng.integers(40, 216, size=(HEIGHT // 16, 2 * WIDTH // 16)).astype(np.float32)
    blocky = np.repeat(np.repeat(blocks, 16, axis=0), 16, axis=1)
    y, x = np.mgrid[0:HEIGHT, 0:2 * WIDTH].astype(np.float32)
    waves = 40 * np.sin(x / 9.0 + y / 23.0) + 25 * np.sin(y / 7.0)
    return np.clip(0.6 * blocky + 0.4 * 128 + waves * 0.8, 16, 235).astype(np.uint8)


TEXTURE = _texture()


def luma(number):
    """The Y plane of picture `number`: the texture scrolled by 2 px a frame, the number on top."""
    shift = (2 * number) % WIDTH
    plane = TEXTURE[:, shift:shift + WIDTH].copy()
    block = WIDTH // BITS
    for bit in range(BITS):
        on = (number >> bit) & 1
        plane[0:BAND // 2, bit * block:(bit + 1) * block] = 235 if on else 16
        plane[BAND // 2:BAND, bit * block:(bit + 1) * block] = 16 if on else 235
    return plane


CHROMA = np.full((HEIGHT // 2) * (WIDTH // 2) * 2, 128, dtype=np.uint8).tobytes()


def read_number(plane):
    block = WIDTH // BITS
    number = 0
    for bit in range(BITS):
        x0 = bit * block + block // 4
        x1 = bit * block + 3 * block // 4
        top = plane[4:BAND // 2 - 4, x0:x1].mean()
        bottom = plane[BAND // 2 + 4:BAND - 4, x0:x1].mean()
        if top > 128 and bottom < 128:
            number |= 1 << bit
        elif not (top < 128 and bottom > 128):
            return None
    return number


def psnr(a, b):
    mse = np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2)
    return 99.0 if mse == 0 else float(10 * np.log10(255.0 * 255.0 / mse))


# -- plaintext check ----------------------------------------------------------------------------

def sframe_config_byte(key_id):
    return (key_id << 4) | 0x08 | (SFRAME_HEADER - 2)   # X=0, K=key id, Y=1, C=counter length-1


def check_ciphertext(plain, sent, key_id):
    """VP8/Opus: sent = plain[:L] || header || ct || tag. Returns (ok, clear prefix L, reason)."""
    if sent == plain:
        return False, len(plain), "identical to the encoder's frame"
    if len(sent) != len(plain) + SFRAME_HEADER + SFRAME_TAG:
        return False, None, f"size {len(sent)} for a {len(plain)}-byte frame"
    p = 0
    limit = min(len(plain), len(sent))
    a, b = np.frombuffer(plain, dtype=np.uint8), np.frombuffer(sent, dtype=np.uint8)
    differs = np.nonzero(a[:limit] != b[:limit])[0]
    p = int(differs[0]) if len(differs) else limit
    config = sframe_config_byte(key_id)
    for clear in range(p, max(p - SFRAME_HEADER - 1, -1), -1):
        if sent[clear] != config:
            continue
        ct = b[clear + SFRAME_HEADER: clear + SFRAME_HEADER + len(plain) - clear]
        pt = a[clear:]
        if len(ct) != len(pt):
            continue
        equal = int(np.count_nonzero(ct == pt))
        if len(pt) >= 16 and equal > 0.1 * len(pt):
            return False, clear, f"{equal} of {len(pt)} bytes equal to the plaintext"
        return True, clear, None
    return False, None, f"no SFrame header (key id {key_id}) after the {p} clear bytes"


def h264_slice_bodies(frame):
    """The bodies (after NAL header and first byte) of the slice NAL units of an Annex B frame."""
    starts = []
    i = 0
    n = len(frame)
    while True:
        i = frame.find(b"\x00\x00\x01", i)
        if i < 0:
            break
        starts.append(i + 3)
        i += 3
    bodies = []
    for index, start in enumerate(starts):
        end = starts[index + 1] - 3 if index + 1 < len(starts) else n
        while end > start and frame[end - 1] == 0:
            end -= 1
        if start < n and frame[start] & 0x1F in (1, 5):
            bodies.append(frame[start + 2:end])
    return bodies


def check_h264(plain, sent):
    if sent == plain:
        return False, "identical to the encoder's frame"
    for body in h264_slice_bodies(plain):
        probe = body[:32]
        if len(probe) >= 16 and probe in sent:
            return False, "a slice body went out in clear"
    return True, None


# -- the peer -----------------------------------------------------------------------------------

class Peer:
    def __init__(self, args):
        self.args = args
        self.role = args.role
        self.loop = GLib.MainLoop()
        self.started_wall = time.time()
        self.events = collections.Counter()
        self.log = []                 # (wall time, text): signalling and bus events
        self.sframe_stats = {}
        self.sframe_errors = []
        self.lock = threading.Lock()  # guards the figures written by streaming threads below
        self.figures = collections.Counter()
        self.frames_pushed = []       # sender: (number, wall time)
        self.frames_encoded = []      # sender: numbers of the pictures that entered the encoder
        self.encoder_key_frames = []  # sender: wall times of key frames out of the encoder
        self.plain_pending = {"video": collections.deque(), "audio": collections.deque()}
        self.plaintext_failures = []
        self.clear_prefix_max = {"video": 0.0, "audio": 0.0}
        self.decoded = []             # receiver: (number or None, psnr, wall time)
        self.key_requests = []        # receiver: (wall time, where) of GstForceKeyUnit going upstream
        self.app_key_requests = []    # receiver: (wall time, accepted) of our own send-key-frame-request
        self.depay_key_frames = []    # receiver: wall times of key frames out of the depayloader
        self.webrtc_stats = {}
        self.connected_wall = None
        self.pc_connected_wall = None
        self.ssrcs = {}               # encoding name -> SSRC of our stream (webrtcbin's stats by SSRC)
        self.sock = None
        self.send_lock = threading.Lock()
        self.description = self.build()

    # pipeline ----------------------------------------------------------------------------------

    def sframe(self, name, key_id, extra=""):
        if self.args.transform == "identity":     # control run: no encryption at all
            return f"rtpscripttransform name={name} worker=identity"
        return (f'rtpscripttransform name={name} worker="sframe{extra}" '
                f'options="sframe,key=(string){self.args.key},key-id=(guint64){key_id}"')

    def build(self):
        a = self.args
        if self.role == "send":
            if a.codec == "vp8":
                encoder = ("vp8enc name=enc deadline=1 keyframe-mode=disabled target-bitrate=600000 "
                           "threads=1 cpu-used=8 error-resilient=default")
                pay = "rtpvp8pay name=pay_video picture-id-mode=15-bit"
                rtp = "application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000"
            else:
                encoder = ("openh264enc name=enc gop-size=0 scene-change-detection=false bitrate=600000 complexity=low "
                           "! video/x-h264,profile=constrained-baseline,stream-format=byte-stream,alignment=au")
                pay = "rtph264pay name=pay_video config-interval=-1 aggregate-mode=zero-latency"
                rtp = "application/x-rtp,media=video,encoding-name=H264,payload=102,clock-rate=90000"
            rtp += ",rtcp-fb-nack-pli=(boolean)true,rtcp-fb-nack=(boolean)true"
            description = (
                "webrtcbin name=peer bundle-policy=max-bundle "
                f"appsrc name=vsrc is-live=true do-timestamp=true format=time block=false "
                f"caps=video/x-raw,format=I420,width={WIDTH},height={HEIGHT},framerate={FPS}/1 "
                f"! queue max-size-buffers=4 leaky=downstream ! {encoder} "
                f"! {self.sframe('send_video', VIDEO_KEY_ID)} ! {pay} ! {rtp} ! peer. "
                "audiotestsrc is-live=true wave=sine freq=440 ! audioconvert ! audioresample "
                f"! opusenc ! {self.sframe('send_audio', AUDIO_KEY_ID)} ! rtpopuspay name=pay_audio "
                "! application/x-rtp,media=audio,encoding-name=OPUS,payload=97,clock-rate=48000 ! peer.")
        else:
            description = "webrtcbin name=peer bundle-policy=max-bundle"
        return description

    def start(self):
        parsed = Gst.parse_launch(self.description)
        if isinstance(parsed, Gst.Pipeline):
            self.pipeline = parsed
        else:                          # one element: parse_launch returns it bare
            self.pipeline = Gst.Pipeline.new("receiver")
            self.pipeline.add(parsed)
        self.webrtc = self.pipeline.get_by_name("peer")
        self.pin_ice(self.webrtc)
        self.webrtc.connect("on-ice-candidate", self.on_ice_candidate)
        self.webrtc.connect("notify::ice-connection-state", self.on_ice_state)
        self.webrtc.connect("notify::connection-state", self.on_connection_state)
        self.webrtc.connect("on-new-transceiver", self.on_new_transceiver)
        if self.role == "send":
            for pad in self.webrtc.sinkpads:
                transceiver = pad.get_property("transceiver")
                transceiver.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
                transceiver.set_property("do-nack", True)
            self.webrtc.connect("on-negotiation-needed", lambda *_: GLib.idle_add(self.create_offer))
            self.probe_encoder()
            self.count_key_requests(self.pipeline.get_by_name("send_video").get_static_pad("src"), "at the sender")
            for kind in ("video", "audio"):
                self.probe_plaintext(kind)
        else:
            self.webrtc.connect("pad-added", self.on_incoming_stream)
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self.on_message)
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            raise RuntimeError("the pipeline cannot play")
        if self.role == "send":
            threading.Thread(target=self.feed, daemon=True).start()

    def pin_ice(self, webrtcbin):
        """Host candidates on the namespace's one address only (not lo)."""
        try:
            gi.require_version("Nice", "0.1")
            from gi.repository import Nice
        except (ImportError, ValueError):
            return
        ice = webrtcbin.get_property("ice-agent")
        if ice.__grefcount__ == 1:
            ice._ref()   # webrtcbin 1.22 keeps the floating reference PyGObject just sank (see test_webrtc.py)
        agent = ice.get_property("agent")
        address = Nice.Address()
        if address.set_from_string(self.args.address):
            agent.add_local_address(address)

    def on_new_transceiver(self, element, transceiver):
        transceiver.set_property("do-nack", True)

    # sender: frames, probes ----------------------------------------------------------------------

    def feed(self):
        appsrc = self.pipeline.get_by_name("vsrc")
        period = 1.0 / FPS
        next_time = time.monotonic()
        number = 0
        while not self.stopping:
            buffer = Gst.Buffer.new_wrapped(luma(number).tobytes() + CHROMA)
            buffer.offset = number          # read back at the encoder's sink pad
            with self.lock:
                self.frames_pushed.append((number, time.time()))
            if appsrc.emit("push-buffer", buffer) != Gst.FlowReturn.OK:
                break
            number += 1
            next_time += period
            delay = next_time - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_time = time.monotonic()   # late (loaded machine): do not burst to catch up

    stopping = False

    def probe_encoder(self):
        def on_input(pad, info):
            with self.lock:
                self.frames_encoded.append(info.get_buffer().offset)
            return Gst.PadProbeReturn.OK
        self.pipeline.get_by_name("enc").get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, on_input)
        pad = self.pipeline.get_by_name("enc").get_static_pad("src")

        def on_buffer(pad, info):
            buffer = info.get_buffer()
            if not buffer.has_flags(Gst.BufferFlags.DELTA_UNIT):
                with self.lock:
                    self.encoder_key_frames.append(time.time())
            return Gst.PadProbeReturn.OK
        pad.add_probe(Gst.PadProbeType.BUFFER, on_buffer)

    def probe_plaintext(self, kind):
        transform = self.pipeline.get_by_name(f"send_{kind}")
        pending = self.plain_pending[kind]
        key_id = VIDEO_KEY_ID if kind == "video" else AUDIO_KEY_ID
        h264 = kind == "video" and self.args.codec == "h264"

        def on_plain(pad, info):
            buffer = info.get_buffer()
            with self.lock:
                pending.append((buffer.pts, buffer.extract_dup(0, buffer.get_size())))
            return Gst.PadProbeReturn.OK

        def on_sent(pad, info):
            buffer = info.get_buffer()
            sent = buffer.extract_dup(0, buffer.get_size())
            with self.lock:
                while pending and pending[0][0] != buffer.pts:
                    pending.popleft()         # a frame the transform dropped (no key yet)
                    self.figures[f"{kind}_not_sent"] += 1
                if not pending:
                    self.figures[f"{kind}_unmatched"] += 1
                    return Gst.PadProbeReturn.OK
                _, plain = pending.popleft()
            if h264:
                ok, reason = check_h264(plain, sent)
                clear = None
            else:
                ok, clear, reason = check_ciphertext(plain, sent, key_id)
            with self.lock:
                self.figures[f"{kind}_checked"] += 1
                self.figures[f"{kind}_checked_bytes"] += len(plain)
                if clear is not None and plain:
                    self.clear_prefix_max[kind] = max(self.clear_prefix_max[kind], clear / len(plain))
                    self.figures[f"{kind}_clear_bytes"] += clear
                if not ok:
                    self.figures[f"{kind}_plaintext_failures"] += 1
                    if len(self.plaintext_failures) < 20:
                        self.plaintext_failures.append(f"{kind} pts {buffer.pts}: {reason}")
            return Gst.PadProbeReturn.OK
        transform.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, on_plain)
        transform.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_sent)

    # receiver: branches, checks ------------------------------------------------------------------

    def on_incoming_stream(self, element, pad):
        if pad.direction != Gst.PadDirection.SRC:
            return
        caps = pad.get_current_caps() or pad.query_caps(None)
        encoding = (caps.get_structure(0).get_string("encoding-name") or "").upper()
        found, ssrc = caps.get_structure(0).get_uint("ssrc")
        if found:
            self.ssrcs[encoding] = ssrc
        keep = ("request-keyframe=false wait-for-keyframe=false" if self.args.naive_receiver
                else "request-keyframe=true wait-for-keyframe=true")
        if encoding == "VP8":
            description = (f"rtpvp8depay name=depay_video {keep} ! {self.sframe('recv_video', VIDEO_KEY_ID)} "
                           "! vp8dec name=dec_video ! videoconvert ! video/x-raw,format=I420 "
                           "! appsink name=sink_video sync=false async=false emit-signals=true max-buffers=8")
        elif encoding == "H264":
            decoder = "avdec_h264" if Gst.ElementFactory.find("avdec_h264") else "openh264dec"
            description = (f"rtph264depay name=depay_video {keep} "
                           "! video/x-h264,stream-format=byte-stream,alignment=au "
                           f"! {self.sframe('recv_video', VIDEO_KEY_ID)} ! h264parse ! {decoder} name=dec_video "
                           "! videoconvert ! video/x-raw,format=I420 "
                           "! appsink name=sink_video sync=false async=false emit-signals=true max-buffers=8")
        elif encoding == "OPUS":
            description = (f"rtpopusdepay name=depay_audio ! {self.sframe('recv_audio', AUDIO_KEY_ID)} "
                           "! opusdec name=dec_audio ! fakesink name=sink_audio sync=false async=false")
        else:
            self.note(f"unexpected stream {caps.to_string()}")
            description = "fakesink sync=false async=false"
        branch = Gst.parse_bin_from_description(description, True)
        self.pipeline.add(branch)
        if encoding in ("VP8", "H264"):
            depay = branch.get_by_name("depay_video")
            self.count_key_requests(depay.get_static_pad("sink"), "depayloader sink (all)")
            self.count_key_requests(depay.get_static_pad("src"), "from transform or decoder")
            depay.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, self.on_depay_buffer)
            branch.get_by_name("sink_video").connect("new-sample", self.on_video_sample)
            GLib.timeout_add(FIRST_PICTURE_WAIT_MS, self.request_first_picture, branch.get_by_name("recv_video"))
        elif encoding == "OPUS":
            def on_audio(pad, info):
                with self.lock:
                    self.figures["audio_decoded"] += 1
                return Gst.PadProbeReturn.OK
            branch.get_by_name("dec_audio").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_audio)
        branch.sync_state_with_parent()
        if pad.link(branch.get_static_pad("sink")) != Gst.PadLinkReturn.OK:
            self.note(f"cannot link {encoding}")

    def request_first_picture(self, transform):
        """A video stream has started and no picture has decoded yet: ask the sender for a key frame
        (rtpscripttransform send-key-frame-request, RTCP FIR/PLI), as browsers do; again after each
        FIRST_PICTURE_WAIT_MS until one decodes. The depayloader waits for a key frame but asks for
        one only when it sees packets missing, so a first key frame lost whole is never asked for."""
        with self.lock:
            decoded = bool(self.decoded)
        if decoded or self.stopping or len(self.app_key_requests) >= 20:
            return GLib.SOURCE_REMOVE
        sent = transform.emit("send-key-frame-request")
        with self.lock:
            self.app_key_requests.append((time.time(), bool(sent)))
        return GLib.SOURCE_CONTINUE

    def count_key_requests(self, pad, where):
        def on_event(pad, info):
            event = info.get_event()
            structure = event.get_structure()
            if structure is not None and structure.get_name() == "GstForceKeyUnit":
                with self.lock:
                    self.key_requests.append((time.time(), where))
            return Gst.PadProbeReturn.OK
        pad.add_probe(Gst.PadProbeType.EVENT_UPSTREAM, on_event)

    def on_depay_buffer(self, pad, info):
        buffer = info.get_buffer()
        with self.lock:
            self.figures["video_received"] += 1
            if not buffer.has_flags(Gst.BufferFlags.DELTA_UNIT):
                self.depay_key_frames.append(time.time())
        return Gst.PadProbeReturn.OK

    def on_video_sample(self, sink):
        sample = sink.emit("pull-sample")
        if sample is None:
            return Gst.FlowReturn.EOS
        now = time.time()
        buffer = sample.get_buffer()
        info = GstVideo.VideoInfo.new_from_caps(sample.get_caps())
        stride, offset = info.stride[0], info.offset[0]
        data = buffer.extract_dup(offset, stride * info.height)
        plane = np.frombuffer(data, dtype=np.uint8)
        if len(plane) < stride * HEIGHT or info.width != WIDTH or info.height != HEIGHT:
            with self.lock:
                self.decoded.append((None, 0.0, now))
            return Gst.FlowReturn.OK
        plane = plane[:stride * HEIGHT].reshape(HEIGHT, stride)[:, :WIDTH]
        number = read_number(plane)
        quality = psnr(plane, luma(number)) if number is not None else 0.0
        with self.lock:
            self.decoded.append((number, round(quality, 2), now))
        return Gst.FlowReturn.OK

    # signalling ---------------------------------------------------------------------------------

    def send(self, message):
        line = (json.dumps(message) + "\n").encode()
        with self.send_lock:
            self.sock.sendall(line)

    def reader(self):
        buffered = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                GLib.idle_add(self.note, "signalling closed")
                return
            buffered += chunk
            while b"\n" in buffered:
                line, buffered = buffered.split(b"\n", 1)
                GLib.idle_add(self.on_signal, json.loads(line))

    def create_offer(self):
        if self.events["offered"]:
            return GLib.SOURCE_REMOVE
        self.events["offered"] += 1
        self.webrtc.emit("create-offer", None, Gst.Promise.new_with_change_func(self.on_created, "offer"))
        return GLib.SOURCE_REMOVE

    def on_created(self, promise, field):
        promise.wait()
        reply = promise.get_reply()
        description = reply.get_value(field) if reply is not None and reply.has_field(field) else None
        if description is None:
            GLib.idle_add(self.note, f"create-{field} failed")
            return
        self.webrtc.emit("set-local-description", description, None)
        self.send({"type": field, "sdp": description.sdp.as_text()})

    def on_signal(self, message):
        if message["type"] in ("offer", "answer"):
            _, sdp = GstSdp.SDPMessage.new_from_text(message["sdp"])
            kind = GstWebRTC.WebRTCSDPType.OFFER if message["type"] == "offer" else GstWebRTC.WebRTCSDPType.ANSWER
            self.webrtc.emit("set-remote-description", GstWebRTC.WebRTCSessionDescription.new(kind, sdp), None)
            if message["type"] == "offer":
                self.webrtc.emit("create-answer", None, Gst.Promise.new_with_change_func(self.on_created, "answer"))
        elif message["type"] == "ice":
            self.webrtc.emit("add-ice-candidate", message["mline"], message["candidate"])
        return GLib.SOURCE_REMOVE

    def on_ice_candidate(self, element, mline, candidate):
        self.send({"type": "ice", "mline": mline, "candidate": candidate})

    def on_ice_state(self, element, _):
        state = element.get_property("ice-connection-state")
        self.log.append((time.time(), f"ice {state.value_nick}"))
        if state in (GstWebRTC.WebRTCICEConnectionState.CONNECTED, GstWebRTC.WebRTCICEConnectionState.COMPLETED) \
                and self.connected_wall is None:
            self.connected_wall = time.time()
            if self.role == "recv":
                GLib.timeout_add_seconds(10, self.check_stalled)

    def on_connection_state(self, element, _):
        """The peer connection: connected once ICE and DTLS (the SRTP keys) both are."""
        state = element.get_property("connection-state")
        self.log.append((time.time(), f"peer connection {state.value_nick}"))
        if state == GstWebRTC.WebRTCPeerConnectionState.CONNECTED and self.pc_connected_wall is None:
            self.pc_connected_wall = time.time()
            if self.args.notify_pid:
                os.kill(self.args.notify_pid, signal.SIGUSR1)   # the link emulator: impair from now on

    def check_stalled(self):
        """Diagnostics: connected 10 s ago and not one picture decoded: every thread's stack to stderr."""
        with self.lock:
            stalled = not self.decoded
        if stalled:
            self.note("STALLED: no picture decoded 10 s after ICE connected; thread stacks in the log")
            faulthandler.dump_traceback(all_threads=True)
            sys.stderr.flush()
            subprocess.run(["gdb", "-p", str(os.getpid()), "-batch", "-ex", "thread apply all bt"],
                           stdout=sys.stderr, stderr=subprocess.STDOUT, check=False)
        return GLib.SOURCE_REMOVE

    def note(self, text):
        self.log.append((time.time(), text))
        return GLib.SOURCE_REMOVE

    # bus ----------------------------------------------------------------------------------------

    def on_message(self, bus, message):
        if message.type == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            self.note(f"ERROR {message.src.get_name()}: {error.message}")
            self.figures["errors"] += 1
        elif message.type == Gst.MessageType.WARNING:
            error, debug = message.parse_warning()
            self.note(f"WARNING {message.src.get_name()}: {error.message}")
            self.figures["warnings"] += 1
        elif message.type == Gst.MessageType.ELEMENT:
            structure = message.get_structure()
            name = structure.get_name() if structure else ""
            if name == "sframe-stats":
                self.sframe_stats[message.src.get_name()] = structure_dict(structure)
            elif name == "sframe-error":
                self.sframe_errors.append({"element": message.src.get_name(), **structure_dict(structure)})

    # the end -------------------------------------------------------------------------------------

    def collect_stats(self):
        names = ["send_video", "send_audio"] if self.role == "send" else ["recv_video", "recv_audio"]
        for name in names:
            element = self.pipeline.get_by_name(name)
            if element is not None:
                element.emit("post-message", Gst.Structure.new_empty("get-stats"))
        promise = Gst.Promise.new()
        self.webrtc.emit("get-stats", None, promise)
        if promise.wait() == Gst.PromiseResult.REPLIED and promise.get_reply() is not None:
            reply = promise.get_reply()
            rtp = {}

            def each(field_id, value):
                if isinstance(value, Gst.Structure):
                    entry = structure_dict(value)
                    if entry.get("type") in ("inbound-rtp", "outbound-rtp", "remote-inbound-rtp"):
                        rtp[GLib.quark_to_string(field_id)] = entry
                return True
            reply.foreach(each)
            self.webrtc_stats = rtp
        if self.role == "send":
            for encoding, name in (("VIDEO", "pay_video"), ("OPUS", "pay_audio")):
                caps = self.pipeline.get_by_name(name).get_static_pad("src").get_current_caps()
                found, ssrc = caps.get_structure(0).get_uint("ssrc") if caps else (False, 0)
                if found:
                    self.ssrcs[encoding] = ssrc
        element_figures = {}
        for name in names:
            element = self.pipeline.get_by_name(name)
            if element is not None:
                element_figures[name] = {p: element.get_property(p) for p in
                                         ["total-frames", "written-frames", "rejected-frames", "failed-frames",
                                          "key-frame-requests"]}
        self.element_figures = element_figures
        GLib.timeout_add(500, self.finish)   # the sframe-stats replies come over the bus
        return GLib.SOURCE_REMOVE

    def finish(self):
        self.stopping = True
        self.pipeline.set_state(Gst.State.NULL)
        with self.lock:
            result = {
                "role": self.role, "codec": self.args.codec, "started_wall": self.started_wall,
                "connected_wall": self.connected_wall, "pc_connected_wall": self.pc_connected_wall, "ended_wall": time.time(),
                "figures": dict(self.figures), "log": self.log[-60:],
                "sframe_stats": self.sframe_stats, "sframe_errors": self.sframe_errors,
                "elements": getattr(self, "element_figures", {}), "webrtc_stats": self.webrtc_stats,
                "ssrcs": self.ssrcs,
            }
            if self.role == "send":
                result.update({
                    "frames_pushed": self.frames_pushed, "frames_encoded": self.frames_encoded,
                    "encoder_key_frames": self.encoder_key_frames,
                    "plaintext_failures": self.plaintext_failures, "key_requests": self.key_requests, "clear_prefix_max": self.clear_prefix_max,
                })
            else:
                result.update({
                    "decoded": self.decoded, "key_requests": self.key_requests,
                    "app_key_requests": self.app_key_requests,
                    "depay_key_frames": self.depay_key_frames,
                })
        with open(self.args.out + ".tmp", "w") as f:
            json.dump(result, f, default=str)
        os.replace(self.args.out + ".tmp", self.args.out)
        self.loop.quit()
        return GLib.SOURCE_REMOVE


def structure_dict(structure):
    out = {}

    def each(field_id, value):
        name = GLib.quark_to_string(field_id)
        if hasattr(value, "value_nick"):     # a GEnum (also an int)
            out[name] = value.value_nick
        elif isinstance(value, (bool, int, float, str)):
            out[name] = value
        else:
            out[name] = str(value)
        return True
    structure.foreach(each)
    return out


def connect_signalling(args):
    if args.role == "recv":
        if os.path.exists(args.socket):
            os.unlink(args.socket)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(args.socket)
        server.listen(1)
        server.settimeout(30)
        conn, _ = server.accept()
        server.close()
        conn.settimeout(None)
        return conn
    deadline = time.monotonic() + 30
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(args.socket)
            return sock
        except OSError:
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)   # the receiver has not bound its socket yet


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=["send", "recv"], required=True)
    parser.add_argument("--codec", choices=["vp8", "h264"], default="vp8")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--address", required=True, help="this peer's address for ICE")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--transform", choices=["sframe", "identity"], default="sframe",
                        help="identity: the plaintext control run (the check must flag every frame)")
    parser.add_argument("--notify-pid", type=int, default=None,
                        help="SIGUSR1 to this process once the call is set up (the link emulator's start)")
    parser.add_argument("--naive-receiver", action="store_true",
                        help="depayloader neither waits for nor requests key frames: the intact control run")
    args = parser.parse_args()
    Gst.init(None)
    peer = Peer(args)
    peer.sock = connect_signalling(args)
    peer.start()
    threading.Thread(target=peer.reader, daemon=True).start()
    GLib.timeout_add(int(args.duration * 1000), peer.collect_stats)
    watchdog = threading.Timer(args.duration + 30, lambda: os._exit(3))
    watchdog.daemon = True
    watchdog.start()
    peer.loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
