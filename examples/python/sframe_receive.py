#!/usr/bin/python3
"""Receives SFrame-encrypted Opus over RTP/UDP and decrypts it in Python:

    udpsrc port=5006 ! rtpjitterbuffer ! rtpopusdepay ! rtpscripttransform worker=app ! opusdec ! ... ! autoaudiosink

`rtpscripttransform worker=app` emits `transform-frame` on its worker thread for every encoded
frame between depayloader and decoder. The handler authenticates and decrypts it with sframe.py
(RFC 9605, the plugin's Opus layout: the TOC byte clear and authenticated) and returns the
encoder's frame as a new sample, or None to drop a frame that does not authenticate (fail
closed: the decoder gets only authentic frames). The sender can be sframe_send.py or the
plugin's own `sframe` (pipelines/sframe-udp.sh sends its audio to port 5006 with key id 1).

Refused frames are counted by kind (authentication, keyID, syntax, replay) and reported from the
worker thread with `post-worker-message` (at most once a second per kind), which the element
turns into its `message` signal and an element message on the bus, as the plugin's sframe does
with `sframe-error`. At the end it prints the counts and what the decoder produced (RMS level
and the tone's frequency, measured from zero crossings).

Key: `--key HEX`, `--key -` (stdin) or $SFRAME_KEY, 16+ bytes; never printed.

Usage: sframe_receive.py --key HEX [--key-id 1] [--port 5006] [--seconds 15] [--sink fakesink]
"""
import argparse
import math
import os
import signal
import sys
import time

import numpy as np
import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sframe  # noqa: E402
from sframe_send import read_key  # noqa: E402


class Decryptor:
    """The transform-frame handler of a receive-side rtpscripttransform."""

    KINDS = ("authentication", "keyID", "syntax", "replay")

    def __init__(self, keys, suite=sframe.DEFAULT_SUITE):
        self.receiver = sframe.Receiver(suite)
        for key_id, key in keys.items():
            self.receiver.add_key(key, key_id)
        self.decrypted = 0
        self.refused = {kind: 0 for kind in self.KINDS}
        self._unreported = {}
        self._last_report = {}

    def __call__(self, element, sample):
        info = sample.get_info()
        buffer = sample.get_buffer()
        ok, mapped = buffer.map(Gst.MapFlags.READ)
        if not ok:
            return None
        frame = bytes(mapped.data)   # copy before unmap
        buffer.unmap(mapped)
        try:
            plaintext = sframe.unprotect_frame(self.receiver, frame, info.get_string("mime-type"))
        except sframe.SFrameError as error:
            self._refused(element, error, frame)
            return None
        self.decrypted += 1
        return Gst.Sample.new(Gst.Buffer.new_wrapped(plaintext), None, None, None)

    def _refused(self, element, error, frame):
        kind = error.kind if error.kind in self.refused else "syntax"
        self.refused[kind] += 1
        self._unreported[kind] = self._unreported.get(kind, 0) + 1
        now = time.monotonic()
        if now - self._last_report.get(kind, -math.inf) < 1.0:
            return
        self._last_report[kind] = now
        try:
            key_id = sframe.decode_header(frame[1:])[0]
        except sframe.SFrameError:
            key_id = None
        fields = f"kind=(string){kind}, frames=(guint64){self._unreported.pop(kind)}, total=(guint64){self.refused[kind]}"
        if key_id is not None:
            fields += f", key-id=(guint64){key_id}"
        report = Gst.Structure.new_from_string(f"sframe-error, {fields}, side=(string)receive")
        # From the worker thread to the application: the element's `message` signal + the bus.
        element.emit("post-worker-message", report)


class ToneMeter:
    """RMS and zero-crossing frequency of decoded S16 mono audio, from a pad probe."""

    def __init__(self):
        self.buffers = 0
        self.samples = 0
        self.square_sum = 0.0
        self.crossings = 0
        self.rate = 48000
        self._last = None

    def probe(self, pad, info):
        buffer = info.get_buffer()
        ok, mapped = buffer.map(Gst.MapFlags.READ)
        if ok:
            audio = np.frombuffer(mapped.data, np.int16).astype(np.float64) / 32768.0
            buffer.unmap(mapped)
            self.buffers += 1
            self.samples += len(audio)
            self.square_sum += float(np.dot(audio, audio))
            signs = np.signbit(audio)
            if len(signs):
                if self._last is not None and self._last != signs[0]:
                    self.crossings += 1
                self.crossings += int(np.count_nonzero(signs[1:] != signs[:-1]))
                self._last = bool(signs[-1])
        return Gst.PadProbeReturn.OK

    def summary(self):
        if self.samples == 0:
            return "no audio decoded"
        rms = math.sqrt(self.square_sum / self.samples)
        level = 20 * math.log10(rms) if rms > 0 else -math.inf
        frequency = self.crossings / 2 / (self.samples / self.rate)
        return f"{self.samples / self.rate:.2f} s of audio decoded, RMS {level:.1f} dBFS, tone {frequency:.0f} Hz"


def main(argv=None):
    parser = argparse.ArgumentParser(description="Opus over RTP/UDP, SFrame-decrypted in Python")
    parser.add_argument("--key", help="base key in hexadecimal (16+ bytes), '-' to read it from stdin; default $SFRAME_KEY")
    parser.add_argument("--key-id", type=int, default=1)
    parser.add_argument("--suite", default=sframe.DEFAULT_SUITE.name, help="SFrame cipher suite (name or number)")
    parser.add_argument("--port", type=int, default=5006)
    parser.add_argument("--pt", type=int, default=97, help="RTP payload type")
    parser.add_argument("--seconds", type=float, default=15.0, help="how long to listen (0: until Ctrl-C)")
    parser.add_argument("--sink", default="autoaudiosink", help="audio sink (a gst-launch fragment)")
    args = parser.parse_args(argv)

    try:
        decryptor = Decryptor({args.key_id: read_key(args.key)}, sframe.suite_named(args.suite))
    except (sframe.SFrameError, KeyError, ValueError) as error:
        print(f"sframe_receive: {getattr(error, 'reason', error)}", file=sys.stderr)
        return 2

    Gst.init(None)
    if Gst.ElementFactory.find("rtpscripttransform") is None:
        print("rtpscripttransform not found: put libgstinsertablestreams.so on GST_PLUGIN_PATH", file=sys.stderr)
        return 2
    pipeline = Gst.parse_launch(
        f"udpsrc port={args.port} caps=\"application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload={args.pt}\" ! "
        "rtpjitterbuffer latency=100 ! rtpopusdepay ! "
        "rtpscripttransform name=e2ee worker=app side=receive ! "
        "opusdec ! audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! "
        f"identity name=decoded ! {args.sink}")
    transform = pipeline.get_by_name("e2ee")
    transform.connect("transform-frame", decryptor)
    meter = ToneMeter()
    pipeline.get_by_name("decoded").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, meter.probe)

    loop = GLib.MainLoop()
    result = {"code": 0}

    def on_message(bus, message):
        if message.type == Gst.MessageType.EOS:
            loop.quit()
        elif message.type == Gst.MessageType.ERROR:
            error, _ = message.parse_error()
            print(f"error from {message.src.get_name()}: {error.message}", file=sys.stderr)
            result["code"] = 1
            loop.quit()
        elif message.type == Gst.MessageType.ELEMENT and message.src == transform:
            print(f"worker: {message.get_structure().to_string()}")

    def report():
        refused = ", ".join(f"{kind} {count}" for kind, count in decryptor.refused.items() if count)
        print(f"received: {decryptor.decrypted} frames decrypted" + (f", refused: {refused}" if refused else ""))
        return True

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    GLib.timeout_add_seconds(1, report)
    if args.seconds > 0:
        GLib.timeout_add(int(args.seconds * 1000), lambda: (loop.quit(), False)[1])
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, lambda: (loop.quit(), True)[1])
    pipeline.set_state(Gst.State.PLAYING)
    print(f"listening on UDP port {args.port} (key id {args.key_id})")
    loop.run()
    total = transform.get_property("total-frames")
    pipeline.set_state(Gst.State.NULL)
    bus.remove_signal_watch()
    refused = sum(decryptor.refused.values())
    kinds = ", ".join(f"{kind}={count}" for kind, count in decryptor.refused.items())
    print(f"sframe_receive: {decryptor.decrypted} frames decrypted, {refused} refused ({kinds}), "
          f"{total} frames from the depayloader; {meter.summary()}")
    return result["code"]


if __name__ == "__main__":
    sys.exit(main())
