#!/usr/bin/python3
"""Sends an SFrame-encrypted Opus tone over RTP/UDP, the encryption done in Python:

    audiotestsrc is-live=true ! opusenc ! rtpscripttransform worker=app ! rtpopuspay pt=97 ! udpsink

`rtpscripttransform worker=app` emits `transform-frame` on its worker thread for every encoded
frame between encoder and payloader; the handler (below) returns
`TOC byte || SFrame header || ciphertext || tag` as a new sample (sframe.py: RFC 9605,
AES_128_GCM_SHA256_128 by default, the TOC byte authenticated as metadata). That is the layout of
the plugin's built-in `sframe` transform, so either end can be Python or the plugin:

    sframe_receive.py --key HEX                                    # Python receiver
    pipelines/sframe-udp.sh (its audio receiver on port 5006, key id 1)  # plugin receiver

The key is a base key of 16 bytes or more in hexadecimal: `--key HEX`, or `--key -` to read it
from standard input, or the environment variable SFRAME_KEY (neither shows in `ps`). It is never
printed. The counter starts at the wall clock in microseconds, as the plugin's, so restarting
with the same key reuses no nonce.

Usage: sframe_send.py --key HEX [--key-id 1] [--host 127.0.0.1] [--port 5006] [--seconds 10]
"""
import argparse
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sframe  # noqa: E402


def read_key(argument):
    """The base key from --key HEX, --key - (stdin) or $SFRAME_KEY; never echoed."""
    if argument == "-":
        text = sys.stdin.readline()
    elif argument:
        text = argument
    else:
        text = os.environ.get("SFRAME_KEY", "")
        if not text:
            raise sframe.SFrameError("other", "no key: give --key HEX, --key - (stdin) or SFRAME_KEY")
    return sframe.parse_hex_key(text)


class Encryptor:
    """The transform-frame handler of a send-side rtpscripttransform: SFrame in Python."""

    def __init__(self, key, key_id, suite=sframe.DEFAULT_SUITE):
        self.sender = sframe.Sender(suite)
        self.sender.set_key(key, key_id)
        self.encrypted = 0
        self.failed = 0
        self.bytes_in = 0
        self.bytes_out = 0

    def __call__(self, element, sample):
        info = sample.get_info()
        buffer = sample.get_buffer()
        ok, mapped = buffer.map(Gst.MapFlags.READ)
        if not ok:
            self.failed += 1
            return None
        frame = bytes(mapped.data)   # copy before unmap
        buffer.unmap(mapped)
        try:
            protected = sframe.protect_frame(self.sender, frame, info.get_string("mime-type"))
        except sframe.SFrameError as error:
            # Fail closed: a frame that cannot be encrypted is not sent. Tell the application
            # from the worker thread (the element's `message` signal and an element message).
            self.failed += 1
            element.emit("post-worker-message",
                         Gst.Structure.new_from_string(f'sframe-error, kind=(string){error.kind}, side=(string)send'))
            return None
        self.encrypted += 1
        self.bytes_in += len(frame)
        self.bytes_out += len(protected)
        # A new buffer without PTS gets the frame's timestamps and flags; caps None keep the codec.
        return Gst.Sample.new(Gst.Buffer.new_wrapped(protected), None, None, None)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Opus over RTP/UDP, SFrame-encrypted in Python")
    parser.add_argument("--key", help="base key in hexadecimal (16+ bytes), '-' to read it from stdin; default $SFRAME_KEY")
    parser.add_argument("--key-id", type=int, default=1)
    parser.add_argument("--suite", default=sframe.DEFAULT_SUITE.name, help="SFrame cipher suite (name or number)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5006)
    parser.add_argument("--pt", type=int, default=97, help="RTP payload type")
    parser.add_argument("--freq", type=float, default=440.0, help="tone frequency (Hz)")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to send (0: until Ctrl-C)")
    args = parser.parse_args(argv)

    try:
        key = read_key(args.key)
        encryptor = Encryptor(key, args.key_id, sframe.suite_named(args.suite))
    except (sframe.SFrameError, KeyError, ValueError) as error:
        print(f"sframe_send: {getattr(error, 'reason', error)}", file=sys.stderr)
        return 2
    del key

    Gst.init(None)
    if Gst.ElementFactory.find("rtpscripttransform") is None:
        print("rtpscripttransform not found: put libgstinsertablestreams.so on GST_PLUGIN_PATH", file=sys.stderr)
        return 2
    buffers = int(args.seconds * 50) if args.seconds > 0 else -1    # 20 ms buffers
    pipeline = Gst.parse_launch(
        f"audiotestsrc is-live=true num-buffers={buffers} samplesperbuffer=960 freq={args.freq} ! "
        "audio/x-raw,rate=48000,channels=1 ! audioconvert ! opusenc ! "
        "rtpscripttransform name=e2ee worker=app side=send ! "
        f"rtpopuspay pt={args.pt} ! udpsink name=udp host={args.host} port={args.port}")
    transform = pipeline.get_by_name("e2ee")
    transform.connect("transform-frame", encryptor)

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
        elif message.type == Gst.MessageType.WARNING:
            warning, _ = message.parse_warning()
            print(f"warning from {message.src.get_name()}: {warning.message}", file=sys.stderr)
        elif message.type == Gst.MessageType.ELEMENT and message.src == transform:
            print(f"worker: {message.get_structure().to_string()}", file=sys.stderr)

    def report():
        print(f"sent: {encryptor.encrypted} frames encrypted (key id {args.key_id}), {encryptor.failed} refused")
        return True

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    GLib.timeout_add_seconds(1, report)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, lambda: (pipeline.send_event(Gst.Event.new_eos()), True)[1])
    pipeline.set_state(Gst.State.PLAYING)
    loop.run()
    total = transform.get_property("total-frames")
    written = transform.get_property("written-frames")
    pipeline.set_state(Gst.State.NULL)
    bus.remove_signal_watch()
    overhead = (encryptor.bytes_out - encryptor.bytes_in) / encryptor.encrypted if encryptor.encrypted else 0
    print(f"sframe_send: {encryptor.encrypted} frames encrypted, {encryptor.failed} refused, "
          f"{total} frames from the encoder, {written} sent to the payloader, "
          f"{overhead:.1f} bytes of SFrame header and tag per frame, to {args.host}:{args.port}")
    return result["code"]


if __name__ == "__main__":
    sys.exit(main())
