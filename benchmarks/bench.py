#!/usr/bin/python3
"""Benchmarks trackprocessor/trackgenerator against GStreamer's C elements.

Run by benchmarks/run.sh, which builds the plugin and sets GST_PLUGIN_PATH / GST_REGISTRY.
Needs Debian's /usr/bin/python3 (PyGObject with Gst).

The pipelines run in a child process (this file with --serve) that the parent drives one
request at a time, so that a pipeline that deadlocks (at EOS or when it is set to NULL) is
detected by a time-out, its threads' stacks are saved, the child is killed and restarted, and
the benchmark carries on and reports the hang instead of hanging itself.

Throughput: each comparison runs ROUNDS rounds; a round plays every variant once (the order is
reversed every other round), each variant from READY to EOS over N frames of 1920x1080
`videotestsrc pattern=black`. Time/frame = wall time from set_state(PLAYING) to the EOS message,
divided by N. Per round, ratio = ours / C; we report the median of the per-round ratios with
min and max. Every run checks that all N frames reached the final fakesink (its `stats`
property: rendered, dropped) and, for our chain, that the processor and the generator counted
N frames and discarded none.

Encoded transforms (`--only encoded` runs just this): a 1920x1080 VP8 stream (vp8enc, written
into an IVF file several times over) and an Opus stream (opusenc, Ogg) are encoded once into a
temporary folder; then `filesrc ! ivfparse|oggdemux ! X ! fakesink` is timed for X =
`rtpscripttransform worker=identity`, `queue` (both one thread hop) and nothing (baseline), in
interleaved rounds, plus `worker=negate` / `negate clear=none` (and `rtpvp8pay ! srtpenc` as a C
reference) on the VP8 stream for bytes/s. Wall time and the process's CPU time are both recorded.

SFrame (`--only sframe` runs just this, and then rewrites only the SFrame section of --output):
no pipelines. `sframe-benchmark` (Sources/SFrameBenchmark, built by run.sh) times
SFrameSender.protect / SFrameReceiver.unprotect for AES_128_GCM_SHA256_128 and
AES_128_CTR_HMAC_SHA256_80 on 1, 10 and 100 KB frames, interleaved in rounds with `openssl speed`
(-evp aes-128-gcm, -aead -evp aes-128-gcm, -evp aes-128-ctr, -hmac sha256) on the same sizes;
ratio = ours / OpenSSL per round, median [min-max].

Latency: a live 30 fps pipeline; pad probes stamp time.monotonic_ns() when a buffer enters the
processor's (or queue's) sink pad and when it leaves the generator's (or queue's) src pad,
matched by PTS; the first WARMUP frames are ignored.
"""
import argparse
import datetime
import json
import math
import os
import platform
import resource
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

Gst.init(None)

WIDTH, HEIGHT = 1920, 1080
SRC = "videotestsrc num-buffers={n} pattern=black ! video/x-raw,format=%s,width=1920,height=1080"
OURS = ("trackprocessor name=proc worker=%s pipe-to=gen sync=false max-buffer-size=1024 "
        "trackgenerator name=gen ! fakesink name=sink sync=false")
QUEUE = "queue max-size-buffers=1024 max-size-bytes=0 max-size-time=0"
# In GStreamer 1.22.0 `videoflip method=horizontal-flip` (the deprecated property) leaves the
# frames unchanged; `video-direction=horiz` flips. check_references() verifies this each run.
VIDEOFLIP = "videoflip video-direction=horiz"
VIDEOFLIP_METHOD = "videoflip method=horizontal-flip"


def ours(fmt, worker):
    return (SRC % fmt) + " ! " + (OURS % worker)


def reference(fmt, chain):
    return (SRC % fmt) + f" ! {chain} ! fakesink name=sink sync=false"


# ---------------------------------------------------------------------------------------------
# Child side: runs pipelines.

class RunError(Exception):
    pass


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def run_to_eos(pipeline, description, n, timeout_s):
    """Plays `pipeline` to EOS; returns the result dict (the caller tears the pipeline down)."""
    if pipeline.set_state(Gst.State.READY) == Gst.StateChangeReturn.FAILURE:
        raise RunError(f"cannot go to READY: {description}")
    bus = pipeline.get_bus()
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    cpu_start = time.process_time()
    start = time.monotonic_ns()
    pipeline.set_state(Gst.State.PLAYING)
    message = bus.timed_pop_filtered(timeout_s * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    elapsed = (time.monotonic_ns() - start) / 1e9
    cpu = time.process_time() - cpu_start
    after = resource.getrusage(resource.RUSAGE_SELF)
    switches = (after.ru_nvcsw - usage.ru_nvcsw) + (after.ru_nivcsw - usage.ru_nivcsw)
    if message is None:
        raise RunError(f"no EOS after {timeout_s} s (deadlock?): {description}")
    if message.type == Gst.MessageType.ERROR:
        error, debug = message.parse_error()
        raise RunError(f"error from {message.src.get_name()}: {error.message} ({debug}): {description}")
    stats = pipeline.get_by_name("sink").get_property("stats")
    counters = {"rendered": stats.get_uint64("rendered")[1], "dropped": stats.get_uint64("dropped")[1]}
    processor = pipeline.get_by_name("proc")
    if processor is not None:
        generator = pipeline.get_by_name("gen")
        counters["proc_total"] = processor.get_property("total-frames")
        counters["proc_discarded"] = processor.get_property("discarded-frames")
        counters["gen_total"] = generator.get_property("total-frames")
        counters["gen_discarded"] = generator.get_property("discarded-frames")
    transform = pipeline.get_by_name("xform")  # rtpscripttransform (Encoded transforms section)
    if transform is not None:
        for key in ("total-frames", "written-frames", "failed-frames", "rejected-frames"):
            counters["xform_" + key.split("-")[0]] = transform.get_property(key)
    problems = []
    if n is None:  # count only (the caller checks)
        n = counters["rendered"]
    if counters["rendered"] != n or counters["dropped"] != 0:
        problems.append(f"fakesink rendered {counters['rendered']}, dropped {counters['dropped']}")
    if transform is not None and (counters["xform_total"] != n or counters["xform_written"] != n
                                  or counters["xform_failed"] != 0 or counters["xform_rejected"] != 0):
        problems.append(f"rtpscripttransform total-frames {counters['xform_total']}, written-frames "
                        f"{counters['xform_written']}, failed-frames {counters['xform_failed']}, "
                        f"rejected-frames {counters['xform_rejected']}")
    if processor is not None:
        if counters["proc_total"] != n or counters["proc_discarded"] != 0:
            problems.append(f"trackprocessor total-frames {counters['proc_total']}, "
                            f"discarded-frames {counters['proc_discarded']}")
        if counters["gen_total"] != n or counters["gen_discarded"] != 0:
            problems.append(f"trackgenerator total-frames {counters['gen_total']}, "
                            f"discarded-frames {counters['gen_discarded']}")
    if problems:
        raise RunError(f"expected {n} frames everywhere, got: {'; '.join(problems)}: {description}")
    return {"seconds": elapsed, "cpu_seconds": cpu, "switches": switches, "counters": counters}


def percentile(values, fraction):
    """Nearest-rank percentile: the smallest value with at least `fraction` of the values <= it."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered) - 1e-9))
    return ordered[rank - 1]


def run_latency(pipeline, description, in_element, out_element, warmup, count, timeout_s):
    entered = {}
    samples = []
    state = {"unmatched": 0, "seen": 0}

    def on_enter(pad, info):
        now = time.monotonic_ns()
        entered[info.get_buffer().pts] = now
        return Gst.PadProbeReturn.OK

    def on_leave(pad, info):
        now = time.monotonic_ns()
        start = entered.pop(info.get_buffer().pts, None)
        state["seen"] += 1
        if start is None:
            state["unmatched"] += 1
        elif state["seen"] > warmup:
            samples.append((now - start) / 1e6)
        return Gst.PadProbeReturn.OK

    pipeline.get_by_name(in_element).get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, on_enter)
    pipeline.get_by_name(out_element).get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_leave)
    bus = pipeline.get_bus()
    pipeline.set_state(Gst.State.PLAYING)
    deadline = time.monotonic() + timeout_s
    while len(samples) < count:
        message = bus.timed_pop_filtered(100 * Gst.MSECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
        if message is not None and message.type == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            raise RunError(f"error: {error.message} ({debug}): {description}")
        if message is not None:
            raise RunError(f"unexpected EOS: {description}")
        if time.monotonic() > deadline:
            raise RunError(f"only {len(samples)} frames after {timeout_s} s: {description}")
    values = samples[:count]
    processor = pipeline.get_by_name("proc")
    discarded = processor.get_property("discarded-frames") if processor is not None else None
    return {"count": len(values), "unmatched": state["unmatched"], "discarded": discarded,
            "median": statistics.median(values), "p99": percentile(values, 0.99),
            "min": min(values), "max": max(values), "mean": statistics.fmean(values)}


def grab(description):
    """The first buffer at appsink `out` of a small pipeline, as bytes."""
    pipeline = Gst.parse_launch(description)
    try:
        pipeline.set_state(Gst.State.PLAYING)
        sample = pipeline.get_by_name("out").emit("try-pull-sample", 10 * Gst.SECOND)
        if sample is None:
            raise RunError(f"no frame from {description}")
        buffer = sample.get_buffer()
        ok, info = buffer.map(Gst.MapFlags.READ)
        data = bytes(info.data)
        buffer.unmap(info)
        return data
    finally:
        pipeline.set_state(Gst.State.NULL)


def check_references():
    """Checks on a small SMPTE frame that every element compared really does the work:
    our mirror and videoflip give the same horizontally flipped picture, sepia and coloreffects
    change it, identity and queue do not. Returns a list of (check, outcome, ok)."""
    results = []
    for fmt in ("I420", "RGBA"):
        src = f"videotestsrc num-buffers=1 pattern=smpte ! video/x-raw,format={fmt},width=64,height=16"
        sink = "appsink name=out sync=false"
        original = grab(f"{src} ! {sink}")
        flipped = grab(f"{src} ! {VIDEOFLIP} ! {sink}")
        method = grab(f"{src} ! {VIDEOFLIP_METHOD} ! {sink}")
        mirrored = grab(f"{src} ! trackprocessor worker=mirror pipe-to=g sync=false trackgenerator name=g ! {sink}")
        identity = grab(f"{src} ! trackprocessor worker=identity pipe-to=g sync=false trackgenerator name=g ! {sink}")
        results.append((f"{fmt}: `{VIDEOFLIP}` changes the frame", flipped != original, flipped != original))
        results.append((f"{fmt}: `trackprocessor worker=mirror` output == `{VIDEOFLIP}` output",
                        mirrored == flipped, mirrored == flipped))
        results.append((f"{fmt}: `trackprocessor worker=identity` output == input", identity == original,
                        identity == original))
        results.append((f"{fmt}: `{VIDEOFLIP_METHOD}` changes the frame (False = it is a pass-through here, "
                        "so it is NOT used as the reference)", method != original, True))
    src = "videotestsrc num-buffers=1 pattern=smpte ! video/x-raw,format=RGBA,width=64,height=16"
    original = grab(f"{src} ! appsink name=out sync=false")
    sepia_c = grab(f"{src} ! coloreffects preset=sepia ! appsink name=out sync=false")
    sepia_ours = grab(f"{src} ! trackprocessor worker=sepia pipe-to=g sync=false trackgenerator name=g ! "
                      "appsink name=out sync=false")
    results.append(("RGBA: `coloreffects preset=sepia` changes the frame", sepia_c != original, sepia_c != original))
    results.append(("RGBA: `trackprocessor worker=sepia` changes the frame", sepia_ours != original,
                    sepia_ours != original))
    return [{"check": c, "outcome": bool(o), "ok": bool(k)} for c, o, k in results]


LOG_TARGET = [None]  # the counts dict of the running count_copies(), if any


def _count_performance_messages(category, level, file, function, line, obj, message, *user_data):
    counts = LOG_TARGET[0]
    if counts is None:
        return
    text = message.get()
    if "copy GstBuffer miniobject" in text:
        counts["copied"] += 1
    elif "discarding buffer" in text:
        counts["discarded"] += 1


def count_copies(description, n, timeout_s):
    """Plays the pipeline to EOS while counting two GST_PERFORMANCE debug messages: a GstBuffer
    copied by gst_buffer_make_writable because it was shared, and a buffer pool discarding a
    returned buffer because its memory was still shared (the pool then allocates a new one).
    Replaces the default debug log function, so the parent runs this after the timed runs."""
    if not getattr(count_copies, "installed", False):
        Gst.debug_remove_log_function(None)
        Gst.debug_add_log_function(_count_performance_messages, None)
        Gst.debug_set_threshold_for_name("GST_PERFORMANCE", Gst.DebugLevel.DEBUG)
        Gst.debug_set_active(True)
        count_copies.installed = True
    counts = {"copied": 0, "discarded": 0}
    pipeline = Gst.parse_launch(description)
    LOG_TARGET[0] = counts
    try:
        run_to_eos(pipeline, description, n, timeout_s)
    finally:
        LOG_TARGET[0] = None
        pipeline.set_state(Gst.State.NULL)
    return counts


# ---------------------------------------------------------------------------------------------
# Encoded transforms (rtpscripttransform): streams encoded once per run, then parsed from files.

# Caps-compatible with rtpscripttransform's pad templates; the queue gets the element's limit.
ENCODED_QUEUE = "queue max-size-buffers=60 max-size-bytes=0 max-size-time=0"
ENCODED_OURS = "rtpscripttransform name=xform max-pending-frames=60 worker=\"{worker}\""
SRTP_KEY = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d"  # 16-byte key + 14-byte salt
ENCODED_TARGET = 1.10
SRTP = f"srtpenc key={SRTP_KEY} rtp-cipher=aes-128-icm rtp-auth=null"


def pull_all(description, timeout_s):
    """Plays a pipeline ending in `appsink name=out` to EOS; returns [(bytes, is_delta)]."""
    pipeline = Gst.parse_launch(description)
    frames = []
    try:
        pipeline.set_state(Gst.State.PLAYING)
        sink = pipeline.get_by_name("out")
        deadline = time.monotonic() + timeout_s
        while True:
            sample = sink.emit("try-pull-sample", Gst.SECOND)
            if sample is None:
                if sink.get_property("eos"):
                    break
                message = pipeline.get_bus().pop_filtered(Gst.MessageType.ERROR)
                if message is not None:
                    error, debug = message.parse_error()
                    raise RunError(f"error: {error.message} ({debug}): {description}")
                if time.monotonic() > deadline:
                    raise RunError(f"not finished after {timeout_s} s: {description}")
                continue
            buffer = sample.get_buffer()
            frames.append((buffer.extract_dup(0, buffer.get_size()),
                           bool(buffer.has_flags(Gst.BufferFlags.DELTA_UNIT))))
    finally:
        pipeline.set_state(Gst.State.NULL)
    return frames


def count_run(description, timeout_s):
    pipeline = Gst.parse_launch(description)
    try:
        return run_to_eos(pipeline, description, None, timeout_s)["counters"]["rendered"]
    finally:
        pipeline.set_state(Gst.State.NULL)


def prepare_encoded(request):
    """Encodes the VP8 and Opus streams of the Encoded transforms section into request["dir"]:
    an IVF file of `unique` VP8 frames written `repeat` times in a row (timestamps keep rising;
    each copy starts with a key frame), and an Ogg/Opus file of `audio_frames` 20 ms frames."""
    folder, timeout_s = request["dir"], request["timeout"]
    width, height, unique, repeat = request["width"], request["height"], request["unique"], request["repeat"]
    started = time.monotonic()
    video_source = (f"videotestsrc num-buffers={unique} pattern=smpte horizontal-speed=8 ! "
                    f"video/x-raw,format=I420,width={width},height={height},framerate=30/1")
    encoder = (f"vp8enc deadline=1 cpu-used=16 end-usage=cbr target-bitrate={request['bitrate']} "
               "keyframe-max-dist=150 threads=2")
    frames = pull_all(f"{video_source} ! {encoder} ! appsink name=out sync=false", timeout_s)
    if len(frames) != unique:
        raise RunError(f"vp8enc gave {len(frames)} frames for {unique} input frames")
    ivf = os.path.join(folder, "video.ivf")
    with open(ivf, "wb") as out:
        # IVF: 32-byte file header (frame rate 30/1), then per frame a 12-byte header (size, pts).
        out.write(b"DKIF" + struct.pack("<HH4sHHIIII", 0, 32, b"VP80", width, height, 30, 1, unique * repeat, 0))
        index = 0
        for _ in range(repeat):
            for data, _delta in frames:
                out.write(struct.pack("<IQ", len(data), index))
                out.write(data)
                index += 1
    sizes = [len(data) for data, _ in frames]
    video_seconds = time.monotonic() - started
    video_parse = f"filesrc location={ivf} ! ivfparse"
    packets = count_run(f"{video_parse} ! rtpvp8pay ! fakesink name=sink sync=false", timeout_s)

    started = time.monotonic()
    ogg = os.path.join(folder, "audio.ogg")
    encoded = {"packets": 0, "bytes": 0}

    def on_packet(pad, info):
        encoded["packets"] += 1
        encoded["bytes"] += info.get_buffer().get_size()
        return Gst.PadProbeReturn.OK

    description = (f"audiotestsrc num-buffers={request['audio_frames']} samplesperbuffer=960 wave=pink-noise ! "
                   "audio/x-raw,format=S16LE,rate=48000,channels=2 ! opusenc name=enc bitrate=64000 complexity=0 ! "
                   f"oggmux ! filesink location={ogg}")
    pipeline = Gst.parse_launch(description)
    pipeline.get_by_name("enc").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_packet)
    try:
        pipeline.set_state(Gst.State.PLAYING)
        message = pipeline.get_bus().timed_pop_filtered(timeout_s * Gst.SECOND,
                                                        Gst.MessageType.EOS | Gst.MessageType.ERROR)
        if message is None or message.type != Gst.MessageType.EOS:
            raise RunError(f"encoding Opus failed or timed out: {description}")
    finally:
        pipeline.set_state(Gst.State.NULL)
    audio_seconds = time.monotonic() - started
    audio_frames = count_run(f"filesrc location={ogg} ! oggdemux ! fakesink name=sink sync=false", timeout_s)
    return {"video": {"path": ivf, "parse": video_parse, "frames": unique * repeat, "unique": unique,
                      "repeat": repeat, "width": width, "height": height, "bitrate": request["bitrate"],
                      "bytes": sum(sizes) * repeat, "file_bytes": os.path.getsize(ivf),
                      "mean": statistics.fmean(sizes), "min": min(sizes), "max": max(sizes),
                      "key_frames": sum(1 for _, delta in frames if not delta) * repeat,
                      "rtp_packets": packets, "source": video_source, "encoder": encoder,
                      "encode_seconds": video_seconds},
            "audio": {"path": ogg, "parse": f"filesrc location={ogg} ! oggdemux", "frames": audio_frames,
                      "encoded_packets": encoded["packets"], "encoded_bytes": encoded["bytes"],
                      "file_bytes": os.path.getsize(ogg), "source": description, "encode_seconds": audio_seconds}}


def grab_many(description, count):
    """The first `count` buffers at appsink `out` of a pipeline, as a list of bytes."""
    pipeline = Gst.parse_launch(description)
    frames = []
    try:
        pipeline.set_state(Gst.State.PLAYING)
        sink = pipeline.get_by_name("out")
        while len(frames) < count:
            sample = sink.emit("try-pull-sample", 10 * Gst.SECOND)
            if sample is None:
                raise RunError(f"only {len(frames)} of {count} buffers from {description}")
            buffer = sample.get_buffer()
            frames.append(buffer.extract_dup(0, buffer.get_size()))
    finally:
        pipeline.set_state(Gst.State.NULL)
    return frames


def clear_prefix(original, rewritten):
    """(bytes left as they were at the start, whether every byte after them is inverted)."""
    if len(original) != len(rewritten):
        return 0, False
    difference = int.from_bytes(original, "big") ^ int.from_bytes(rewritten, "big")
    changed = (difference.bit_length() + 7) // 8  # bytes from the first changed one to the end
    return len(original) - changed, difference == (1 << (8 * changed)) - 1


def check_encoded(video_parse, audio_parse, count):
    """On the first `count` buffers of each stream: identity passes the bytes unchanged, negate
    leaves a clear prefix (what payloaders parse) and inverts every byte after it, `negate
    clear=none` inverts every byte. Also returns the share of the bytes negate left clear."""
    results, clear = [], {}
    sink = "appsink name=out sync=false max-buffers=0"
    for kind, parse in (("VP8", video_parse), ("Opus", audio_parse)):
        original = grab_many(f"{parse} ! {sink}", count)
        identity = grab_many(f"{parse} ! {ENCODED_OURS.format(worker='identity')} ! {sink}", count)
        negated = grab_many(f"{parse} ! {ENCODED_OURS.format(worker='negate')} ! {sink}", count)
        negated_all = grab_many(f"{parse} ! {ENCODED_OURS.format(worker='negate clear=none')} ! {sink}", count)
        total = sum(map(len, original))
        ok = identity == original
        results.append((f"{kind}, first {count} buffers ({total} bytes): `worker=identity` output == input", ok, ok))
        prefixes = [clear_prefix(a, b) for a, b in zip(original, negated)]
        kept = sum(k for k, _ in prefixes)
        ok = len(negated) == len(original) and all(inverted for _, inverted in prefixes)
        results.append((f"{kind}: `worker=negate` inverts every byte after a clear prefix of {min(k for k, _ in prefixes)}"
                        f"-{max(k for k, _ in prefixes)} bytes per buffer ({100 * kept / total:.1f}% of the bytes "
                        "left clear)", ok, ok))
        prefixes = [clear_prefix(a, b) for a, b in zip(original, negated_all)]
        ok = all(k == 0 and inverted for k, inverted in prefixes)
        results.append((f"{kind}: `worker=\"negate clear=none\"` inverts every byte", ok, ok))
        clear[kind] = kept / total
    return {"checks": [{"check": c, "outcome": bool(o), "ok": bool(k)} for c, o, k in results], "clear": clear}


def serve():
    """Child: one JSON request per stdin line, one JSON reply per request on stdout. A pipeline
    request gets two replies: the result (before teardown) and {"teardown": "ok"} after
    set_state(NULL) returned, so that a deadlock at teardown does not lose the measurement."""
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing else may write to the protocol stream
    plugin = Gst.Registry.get().find_plugin("insertablestreams")

    def reply(value):
        out.write(json.dumps(value) + "\n")
        out.flush()

    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        try:
            if op == "hello":
                reply({"ok": True, "plugin": plugin.get_filename() if plugin else None,
                       "gstreamer": Gst.version_string()})
                continue
            if op == "check":
                reply({"ok": True, "checks": check_references()})
                continue
            if op == "prepare_encoded":
                reply({"ok": True, **prepare_encoded(request)})
                continue
            if op == "check_encoded":
                reply({"ok": True, **check_encoded(request["video"], request["audio"], request["count"])})
                continue
            if op == "copies":
                reply({"ok": True, **count_copies(request["pipeline"], request["n"], request["timeout"])})
                continue
            description = request["pipeline"]
            pipeline = Gst.parse_launch(description)
            try:
                if op == "eos":
                    result = run_to_eos(pipeline, description, request["n"], request["timeout"])
                else:
                    result = run_latency(pipeline, description, request["in"], request["out"],
                                         request["warmup"], request["count"], request["timeout"])
                reply({"ok": True, **result})
            except RunError as error:
                reply({"ok": False, "error": str(error)})
            pipeline.set_state(Gst.State.NULL)
            del pipeline
            reply({"teardown": "ok"})
        except Exception as error:  # report, keep serving
            reply({"ok": False, "error": f"{type(error).__name__}: {error}"})


# ---------------------------------------------------------------------------------------------
# Parent side: drives the child, aggregates, reports.

class Hang(Exception):
    pass


class Child:
    def __init__(self, hang_dir):
        self.hang_dir = hang_dir
        self.process = None
        self.hangs = []
        self.buffer = b""

    def start(self):
        self.process = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.buffer = b""
        return self.call({"op": "hello"}, 60)

    def _read_line(self, timeout_s):
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self.process.stdout], [], [], remaining)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 65536)
                if not chunk:
                    raise Hang("the benchmark child process died (crash?); exit code "
                               f"{self.process.wait()}")
                self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def _hung(self, what):
        """Saves the stacks of the hung child, kills it, starts a new one."""
        pid = self.process.pid
        path = os.path.join(self.hang_dir, f"hang-{len(self.hangs) + 1}-pid{pid}.txt")
        stacks = "(gdb not available)"
        try:
            stacks = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "set complaints 0",
                                     "-ex", "thread apply all bt 25"], capture_output=True, text=True,
                                    timeout=120).stdout
        except (OSError, subprocess.TimeoutExpired) as error:
            stacks = f"(gdb failed: {error})"
        os.makedirs(self.hang_dir, exist_ok=True)
        with open(path, "w") as f:
            f.write(f"{what}\n\n{stacks}")
        self.process.kill()
        self.process.wait()
        self.hangs.append(f"{what} (stacks: {os.path.relpath(path)})")
        print(f"  HANG: {what}; stacks saved to {path}; restarting the child", flush=True)
        self.start()

    def call(self, request, timeout_s):
        self.process.stdin.write((json.dumps(request) + "\n").encode())
        self.process.stdin.flush()
        response = self._read_line(timeout_s)
        if response is None:
            self._hung(f"no answer within {timeout_s} s to {request.get('op')} `{request.get('pipeline', '')}`")
            raise Hang(f"pipeline hung while running: {request.get('pipeline', request)}")
        if request["op"] in ("eos", "latency"):  # these answer again once set_state(NULL) returned
            teardown = self._read_line(30)
            if teardown is None:
                self._hung(f"set_state(NULL) did not return within 30 s after "
                           f"{'EOS' if request['op'] == 'eos' else 'the measurement'}: `{request['pipeline']}`")
        return response

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def run_in_child(child, description, expected, timeout_s, failures):
    """Plays `description` to EOS in the child; None (and the reason in `failures`) on a hang or error."""
    try:
        response = child.call({"op": "eos", "pipeline": description, "n": expected, "timeout": timeout_s},
                              timeout_s + 30)
    except Hang as error:
        failures.append(str(error))
        return None
    if not response.get("ok"):
        failures.append(response["error"])
        print(f"  FAILED: {response['error']}", flush=True)
        return None
    return response


def throughput(child, name, variants, n, rounds, target, note, timeout_s, failures):
    """variants: list of (label, description); the first is ours, the others references."""
    print(f"\n== {name}: {n} frames x {rounds} rounds", flush=True)

    def run(description, frames):
        return run_in_child(child, description.format(n=frames), frames, timeout_s, failures)

    for label, description in variants:  # warm-up: page in code, grow pools, fill caches
        run(description, min(n, 60))
    times = {label: [] for label, _ in variants}
    frames = {}
    complete_rounds = []
    for round_index in range(rounds):
        order = variants if round_index % 2 == 0 else list(reversed(variants))
        line, per_round = [], {}
        for label, description in order:
            response = run(description, n)
            if response is None:
                line.append(f"{label} FAILED")
                continue
            per_round[label] = response["seconds"] / n * 1000
            frames[label] = response["counters"]
            line.append(f"{label} {per_round[label]:.3f} ms")
        print(f"  round {round_index + 1}: " + ", ".join(line), flush=True)
        if len(per_round) == len(variants):
            complete_rounds.append(per_round)
            for label in per_round:
                times[label].append(per_round[label])
    if not complete_rounds:
        return None
    ours_label = variants[0][0]
    comparisons = []
    for label, description in variants[1:]:
        ratios = [r[ours_label] / r[label] for r in complete_rounds]
        comparisons.append({
            "reference": label, "reference_pipeline": description.format(n=n),
            "ref_ms": statistics.median(times[label]), "ref_all": times[label],
            "ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
            "met": statistics.median(ratios) <= target,
        })
        c = comparisons[-1]
        print(f"  ours/{label}: median {c['ratio_median']:.3f} [{c['ratio_min']:.3f}-{c['ratio_max']:.3f}] "
              f"target <= {target}: {'met' if c['met'] else 'MISSED'}", flush=True)
    return {"name": name, "n": n, "rounds": len(complete_rounds), "target": target, "note": note,
            "ours": ours_label, "ours_pipeline": variants[0][1].format(n=n),
            "ours_ms": statistics.median(times[ours_label]), "ours_all": times[ours_label],
            "frames": frames, "comparisons": comparisons}


def interleaved(child, name, variants, rounds, timeout_s, failures):
    """variants: [(key, description, expected frames)]. One unmeasured warm-up run of each, then
    `rounds` rounds, each running every variant once (reversed order every other round).
    Returns the complete rounds as [{key: wall seconds, "cpu:" + key: CPU seconds}] and the last
    counters of each variant."""
    print(f"\n== {name}: {rounds} rounds", flush=True)

    def run(description, expected):
        return run_in_child(child, description, expected, timeout_s, failures)

    for _, description, expected in variants:
        run(description, expected)
    complete, counters = [], {}
    for round_index in range(rounds):
        order = variants if round_index % 2 == 0 else list(reversed(variants))
        per_round = {}
        for key, description, expected in order:
            response = run(description, expected)
            if response is not None:
                per_round[key] = response["seconds"]
                per_round["cpu:" + key] = response["cpu_seconds"]
                per_round["cs:" + key] = response["switches"]
                counters[key] = response["counters"]
        print(f"  round {round_index + 1}: " + ", ".join(f"{key} {per_round[key] * 1000:.1f} ms"
                                                         for key, _, _ in order if key in per_round), flush=True)
        if len(per_round) == 3 * len(variants):
            complete.append(per_round)
    return complete, counters


def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "all": list(values)}


def encoded_section(child, args, failures):
    """The Encoded transforms section: rtpscripttransform on pre-encoded VP8 and Opus streams."""
    missing = [name for name in ("rtpscripttransform", "vp8enc", "ivfparse", "opusenc", "oggmux", "oggdemux",
                                 "rtpvp8pay", "appsink") if Gst.ElementFactory.find(name) is None]
    if missing:
        failures.append(f"Encoded transforms not run: missing elements {', '.join(missing)}")
        return None
    folder = tempfile.mkdtemp(prefix="encoded-", dir=os.environ.get("TMPDIR", "/tmp"))
    try:
        return _encoded_section(child, args, failures, folder)
    finally:
        for entry in os.listdir(folder):
            os.unlink(os.path.join(folder, entry))
        os.rmdir(folder)


def _encoded_section(child, args, failures, folder):
    print(f"\n== encoded streams: encoding {args.encoded_unique} VP8 frames and "
          f"{args.encoded_audio_frames} Opus frames into {folder}", flush=True)
    request = {"op": "prepare_encoded", "dir": folder, "width": 1920, "height": 1080, "bitrate": 20_000_000,
               "unique": args.encoded_unique, "repeat": args.encoded_repeat,
               "audio_frames": args.encoded_audio_frames, "timeout": 300}
    try:
        streams = child.call(request, 400)
    except Hang as error:
        failures.append(f"encoding the streams hung: {error}")
        return None
    if not streams.get("ok"):
        failures.append(f"encoding the streams failed: {streams['error']}")
        return None
    video, audio = streams["video"], streams["audio"]
    print(f"  VP8: {video['frames']} frames ({video['unique']} encoded in {video['encode_seconds']:.1f} s, x "
          f"{video['repeat']}), {video['bytes'] / 1e6:.1f} MB, mean {video['mean'] / 1000:.1f} KB/frame, "
          f"{video['rtp_packets']} RTP packets", flush=True)
    print(f"  Opus: {audio['frames']} buffers out of oggdemux ({audio['encoded_packets']} packets from opusenc, "
          f"{audio['encoded_bytes']} bytes, encoded in {audio['encode_seconds']:.1f} s)", flush=True)
    # oggdemux also pushes the two Ogg/Opus header packets (OpusHead, OpusTags) as buffers.
    if audio["frames"] != audio["encoded_packets"] + 2:
        failures.append(f"Opus: oggdemux gave {audio['frames']} buffers for {audio['encoded_packets']} "
                        "encoded packets (expected 2 more, the header packets)")
    try:
        response = child.call({"op": "check_encoded", "video": video["parse"], "audio": audio["parse"],
                               "count": video["unique"]}, 300)
        if not response.get("ok"):
            failures.append(f"the encoded checks failed: {response['error']}")
        checks, clear = response.get("checks", []), response.get("clear", {})
    except Hang as error:
        failures.append(f"the encoded checks hung: {error}")
        checks, clear = [], {}
    for check in checks:
        print(f"  {check['check']}: {check['outcome']}{'' if check['ok'] else '  <-- CHECK FAILED'}", flush=True)
        if not check["ok"]:
            failures.append(f"check failed: {check['check']}")

    sink = "fakesink name=sink sync=false"
    ours = lambda worker: ENCODED_OURS.format(worker=worker)  # noqa: E731
    n, a = video["frames"], audio["frames"]
    video_variants = [
        ("none", f"{video['parse']} ! {sink}", n),
        ("queue", f"{video['parse']} ! {ENCODED_QUEUE} ! {sink}", n),
        ("identity", f"{video['parse']} ! {ours('identity')} ! {sink}", n),
        ("negate", f"{video['parse']} ! {ours('negate')} ! {sink}", n),
        ("negate_all", f"{video['parse']} ! {ours('negate clear=none')} ! {sink}", n),
    ]
    srtp = Gst.ElementFactory.find("srtpenc") is not None
    if srtp:
        video_variants += [("pay", f"{video['parse']} ! rtpvp8pay ! {sink}", video["rtp_packets"]),
                           ("srtp", f"{video['parse']} ! rtpvp8pay ! {SRTP} ! {sink}", video["rtp_packets"])]
    audio_variants = [
        ("none", f"{audio['parse']} ! {sink}", a),
        ("queue", f"{audio['parse']} ! {ENCODED_QUEUE} ! {sink}", a),
        ("identity", f"{audio['parse']} ! {ours('identity')} ! {sink}", a),
    ]
    result = {"video": video, "audio": audio, "checks": checks, "clear": clear, "srtp": srtp, "streams": []}
    for stream, variants, frames in (("VP8", video_variants, n), ("Opus", audio_variants, a)):
        rounds, counters = interleaved(child, f"encoded, {stream}: {frames} frames", variants,
                                       args.encoded_rounds, args.timeout, failures)
        if not rounds:
            continue
        us = lambda seconds, count=frames: seconds / count * 1e6  # noqa: E731
        entry = {"name": stream, "n": frames, "rounds": len(rounds), "counters": counters,
                 "pipelines": {key: description for key, description, _ in variants},
                 "per_frame": {key: spread([us(r[key]) for r in rounds]) for key, _, _ in variants},
                 "cpu_per_frame": {key: spread([us(r["cpu:" + key]) for r in rounds]) for key, _, _ in variants},
                 "switches": {key: spread([r["cs:" + key] / frames for r in rounds]) for key, _, _ in variants},
                 "whole": spread([r["identity"] / r["queue"] for r in rounds])}
        for prefix, name in (("", "hop"), ("cpu:", "cpu_hop")):
            ours_hop = [r[prefix + "identity"] - r[prefix + "none"] for r in rounds]
            queue_hop = [r[prefix + "queue"] - r[prefix + "none"] for r in rounds]
            ratios = [o / q for o, q in zip(ours_hop, queue_hop) if q > 0]
            entry[name + "_ours"] = spread([us(v) for v in ours_hop])
            entry[name + "_queue"] = spread([us(v) for v in queue_hop])
            entry[name] = spread(ratios) if ratios else None
            entry[name + "_skipped"] = len(rounds) - len(ratios)
        for key in ("whole", "hop", "cpu_hop"):
            if entry[key] is not None:
                entry[key]["met"] = entry[key]["median"] <= ENCODED_TARGET
        if stream == "VP8":
            costs = {}
            for key, reference in (("negate", "identity"), ("negate_all", "identity"), ("srtp", "pay")):
                if any(k == key for k, _, _ in variants):
                    seconds = [r[key] - r[reference] for r in rounds]
                    cpu = [r["cpu:" + key] - r["cpu:" + reference] for r in rounds]
                    costs[key] = {"us": spread([us(v) for v in seconds]), "seconds": spread(seconds),
                                  "cpu_us": spread([us(v) for v in cpu]), "cpu_seconds": spread(cpu)}
            entry["costs"] = costs
        result["streams"].append(entry)
        print(f"  {stream}: per frame (median us): " + ", ".join(
            f"{key} {entry['per_frame'][key]['median']:.2f}" for key, _, _ in variants), flush=True)
        print(f"  {stream}: whole-pipeline identity/queue {entry['whole']['median']:.3f} "
              f"[{entry['whole']['min']:.3f}-{entry['whole']['max']:.3f}]; per hop "
              + (f"{entry['hop']['median']:.3f} [{entry['hop']['min']:.3f}-{entry['hop']['max']:.3f}]"
                 if entry["hop"] else "n/a") + f"; target <= {ENCODED_TARGET}", flush=True)
        print(f"  {stream}: context switches per frame: " + ", ".join(
            f"{key} {entry['switches'][key]['median']:.2f}" for key, _, _ in variants), flush=True)
        print(f"  {stream}: CPU per hop identity/queue " + (
            f"{entry['cpu_hop']['median']:.3f} [{entry['cpu_hop']['min']:.3f}-{entry['cpu_hop']['max']:.3f}] "
            f"({entry['cpu_hop_ours']['median']:.2f} vs {entry['cpu_hop_queue']['median']:.2f} us CPU/frame)"
            if entry["cpu_hop"] else "n/a"), flush=True)
        for key, cost in entry.get("costs", {}).items():
            print(f"  {stream}: {key}: wall {cost['us']['median']:+.2f} us/frame, "
                  f"{throughput_mbs(video['bytes'], cost['seconds']['median'])}; CPU {cost['cpu_us']['median']:+.2f} "
                  f"us/frame, {throughput_mbs(video['bytes'], cost['cpu_seconds']['median'])}", flush=True)
    return result


def throughput_mbs(total_bytes, seconds):
    return f"{total_bytes / seconds / 1e6:,.0f} MB/s" if seconds > 0 else "unmeasurable (no extra time)"


def baseline(child, fmt, n, timeout_s, failures):
    """Median ms/frame of the source alone (videotestsrc ! fakesink), for context."""
    values = []
    description = (SRC % fmt) + " ! fakesink name=sink sync=false"
    for _ in range(3):
        try:
            response = child.call({"op": "eos", "pipeline": description.format(n=n), "n": n,
                                   "timeout": timeout_s}, timeout_s + 30)
        except Hang as error:
            failures.append(str(error))
            continue
        if response.get("ok"):
            values.append(response["seconds"] / n * 1000)
    return statistics.median(values) if values else None


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(),
            "gstreamer": Gst.version_string(), "python": platform.python_version()}


def write_markdown(path, results, latencies, checks, baselines, copies, info, args, wall_s, failures, hangs,
                   encoded=None, sframe=None):
    lines = []
    add = lines.append
    add("# Benchmarks")
    add("")
    add("Generated by `benchmarks/run.sh` (re-run it rather than editing this file). The figures come from")
    add("ONE run on a small, shared, noisy machine: differences of a few percent are noise, and the")
    add("[min-max] range of the per-round ratios shows how much.")
    add("")
    add(f"- Date: {info['date']}")
    add(f"- Machine: {info['nproc']} CPUs (nproc), `{info['cpu']}` (/proc/cpuinfo), Linux {info['kernel']}")
    add(f"- GStreamer: {info['gstreamer']} (Debian packages); Python {info['python']} with PyGObject")
    add(f"- Plugin: `libgstinsertablestreams.so` built by `swift build -c release --scratch-path .build-bench "
        f"--product gstinsertablestreams` ({info['swift']}), package commit {info['commit']}, loaded from a "
        "temporary GST_PLUGIN_PATH holding only that file, with a private GST_REGISTRY")
    add(f"- Duration of the measurements: {wall_s:.0f} s")
    add("")
    add("## Method")
    add("")
    add("- Every throughput run: `videotestsrc num-buffers=N pattern=black` at 1920x1080 in the format named,")
    add("  into the element(s) under test, into `fakesink sync=false`. Our chain is always")
    add("  `trackprocessor worker=W pipe-to=gen sync=false max-buffer-size=1024 trackgenerator name=gen ! fakesink sync=false`;")
    add("  every `queue` is `queue max-size-buffers=1024 max-size-bytes=0 max-size-time=0`. Nothing is paced by a clock.")
    add("- Time/frame = wall time from `set_state(PLAYING)` (pipeline already in READY) to the EOS message on the")
    add("  bus, divided by N. It includes start-up and the drain at EOS (for our element: until the worker has")
    add("  passed every frame to the generator and the generator's EOS reached its fakesink).")
    add(f"- {args.rounds} measured rounds per comparison ({args.hop_rounds} for the cheap, noisy hop comparison), after")
    add("  one unmeasured warm-up run of each variant. A round")
    add("  runs every variant once, in reverse order every other round; ratio = ours / C within a round. Reported:")
    add("  the median of the per-round ratios [min-max], and the median time/frame of each element over the rounds.")
    add("  A round in which any variant failed is left out of the ratios (see Failures).")
    add("- Every run is checked: the final `fakesink` rendered exactly N buffers and dropped none (its `stats`")
    add("  property), and in our chain the processor's `total-frames` = N with `discarded-frames` = 0, and the")
    add("  generator's likewise. A run failing a check is reported as a failure, not timed. So every figure below")
    add("  is for N of N frames delivered.")
    add("- The pipelines run in a child Python process driven by the parent; a pipeline that does not reach EOS,")
    add("  or whose `set_state(NULL)` does not return, is detected by a time-out, its stacks are saved under")
    add("  `benchmarks/out/`, and the child is restarted.")
    add("- `videoflip` and `coloreffects` run in the upstream streaming thread; our element always hands frames to")
    add("  its worker thread and then to the generator's streaming thread. So each C element is measured twice:")
    add("  directly, and behind a `queue` (one thread hop).")
    add("- `videoflip` always writes a new output buffer; `coloreffects` works in place. Whether our transforms")
    add("  write in place or into a new buffer is the element's business; the buffer-copies table at the end")
    add("  shows what happened in this build.")
    add("- \"Met?\" compares the median ratio with the target; \"not robust\" means the per-round [min-max] range")
    add("  straddles the target, so another run may well give the other answer.")
    add("")
    add("### Are the compared elements doing the work? (checked on a 64x16 SMPTE frame in this run)")
    add("")
    for check in checks:
        add(f"- {check['check']}: **{check['outcome']}**{'' if check['ok'] else ' -- CHECK FAILED'}")
    add("")
    add("The brief named `videoflip method=horizontal-flip`. In this GStreamer (1.22.0) that setting leaves the")
    add("frames unchanged (see the check above: with it videoflip costs nothing), so comparing against it would")
    add(f"compare a flip with a pass-through. The reference used is `{VIDEOFLIP}`, which does flip.")
    add("")
    add("## Throughput (1920x1080; lower time is better; ratio = ours / C, lower is better for us)")
    add("")
    add("| Comparison | N x rounds | Frames delivered: ours (discarded) / C | Ours ms/frame | C ms/frame | Ratio median [min-max] | Target | Met? |")
    add("|---|---|---|---|---|---|---|---|")
    for result in results:
        ours_frames = result["frames"][result["ours"]]
        for c in result["comparisons"]:
            ref_frames = result["frames"][c["reference"]]
            delivered = (f"{ours_frames['rendered']}/{result['n']} ({ours_frames['proc_discarded']}) / "
                         f"{ref_frames['rendered']}/{result['n']}")
            add(f"| {result['name']}: `{result['ours']}` vs `{c['reference']}` | {result['n']} x {result['rounds']} | {delivered} | "
                f"{result['ours_ms']:.3f} | {c['ref_ms']:.3f} | "
                f"{c['ratio_median']:.3f} [{c['ratio_min']:.3f}-{c['ratio_max']:.3f}] | <= {result['target']} | "
                f"{verdict(c, result['target'])} |")
    add("")
    if baselines:
        add("For context, the source alone (`videotestsrc ... ! fakesink sync=false`, median of 3 runs): "
            + "; ".join(f"{fmt} {value:.3f} ms/frame" for fmt, value in baselines.items() if value is not None)
            + ". Each time above includes this.")
        add("")
    for result in results:
        if result["note"]:
            add(f"- {result['name']}: {result['note']}")
    add("")
    add("Per-round times (ms/frame, in round order):")
    add("")
    for result in results:
        add(f"- {result['name']}, ours: " + ", ".join(f"{v:.3f}" for v in result["ours_all"]))
        for c in result["comparisons"]:
            add(f"  - `{c['reference']}`: " + ", ".join(f"{v:.3f}" for v in c["ref_all"]))
    add("")
    add("Pipelines (as run):")
    add("")
    for result in results:
        add(f"- `{result['ours_pipeline']}`")
        for c in result["comparisons"]:
            add(f"- `{c['reference_pipeline']}`")
    add("")
    add(f"## Latency of the thread hop (live, 30 fps, I420 1920x1080; {args.latency_frames} frames after "
        f"{args.latency_warmup} warm-up frames)")
    add("")
    add("Per frame: `time.monotonic_ns()` in a pad probe when the buffer enters the processor's (queue's) sink pad")
    add("and again when it leaves the generator's (queue's) src pad, matched by PTS. The Python probes add a little")
    add("(GIL) to both. The first row is the pipeline of the brief (processor `sync` left at its default, true: the")
    add("sink-pad probe fires before GstBaseSink's clock wait, so that wait counts); the second sets `sync=false`.")
    add("")
    add("| Element | Frames | Median ms | p99 ms | Min ms | Max ms | Unmatched | Processor discarded |")
    add("|---|---|---|---|---|---|---|---|")
    for r in latencies:
        add(f"| {r['label']} | {r['count']} | {r['median']:.3f} | {r['p99']:.3f} | {r['min']:.3f} | {r['max']:.3f} | "
            f"{r['unmatched']} | {'-' if r['discarded'] is None else r['discarded']} |")
    add("")
    for r in latencies:
        add(f"- {r['label']}: `{r['pipeline']}`")
    add("")
    if copies:
        add("## Buffer copies (untimed runs, counted from the GST_PERFORMANCE debug log)")
        add("")
        add("\"Copies\": `gst_buffer_make_writable` had to copy a GstBuffer because another reference to it")
        add("existed. \"Pool discards\": videotestsrc's buffer pool threw a returned buffer away because its")
        add("memory was still shared, so it must allocate (and page-fault in) a new 1080p buffer later. Neither")
        add("happens when every element owns the only reference to the frame it writes.")
        add("")
        add("| Pipeline | Frames | GstBuffer copies | Pool discards |")
        add("|---|---|---|---|")
        for label, n, _, counts in copies:
            add(f"| {label} | {n} | {counts['copied']} | {counts['discarded']} |")
        add("")
    if encoded:
        encoded_markdown(add, encoded, args)
    if sframe:
        sframe_markdown(add, sframe, args, info)
    add("## Failures and hangs in this run")
    add("")
    if not failures and not hangs:
        add("None: every run reached EOS with all frames delivered, and every pipeline shut down.")
    for failure in failures:
        add(f"- {failure}")
    for hang in hangs:
        add(f"- HANG: {hang}")
    add("")
    with open(path, "w") as out:
        out.write("\n".join(lines))


def encoded_markdown(add, encoded, args):
    video, audio = encoded["video"], encoded["audio"]
    add(f"## Encoded transforms (`rtpscripttransform`; lower time is better; ratio = ours / C, lower is better for us)")
    add("")
    add("Streams, encoded once at the start of this run into a temporary folder, then only read back and parsed")
    add("in the timed runs (so no encoder runs while timing):")
    add("")
    add(f"- VP8 {video['width']}x{video['height']}: `{video['source']} ! {video['encoder']}`; the "
        f"{video['unique']} frames are written {video['repeat']} times in a row into one IVF file (timestamps keep "
        f"rising, each copy starts with a key frame): N = {video['frames']} frames, {video['bytes'] / 1e6:.1f} MB "
        f"of VP8 ({video['mean'] / 1000:.1f} KB per frame on average, {video['min'] / 1000:.1f}-"
        f"{video['max'] / 1000:.1f} KB), {video['key_frames']} key frames. Read by `{video['parse'].split(' location=')[0]} "
        f"location=<file> ! ivfparse`.")
    packets = audio["encoded_packets"]
    add(f"- Opus: `{audio['source'].split(' ! oggmux')[0]}` into `oggmux`: {packets} packets of 20 ms, "
        f"{audio['encoded_bytes'] / packets:.0f} bytes each on average. Read by `filesrc location=<file> ! oggdemux`, "
        f"which also pushes the two header packets (OpusHead, OpusTags) as buffers: N = {audio['frames']} buffers.")
    add("")
    add("Method:")
    add("")
    add("- Each run is `<read and parse> ! X ! fakesink sync=false`, timed like the runs above (from `set_state(PLAYING)`,")
    add(f"  pipeline in READY, to the EOS message). X is `{ENCODED_OURS.format(worker='W')}`,")
    add(f"  or `{ENCODED_QUEUE}` (the same limit of 60 waiting frames), or nothing")
    add("  (baseline: reading, parsing and the sink alone). `rtpscripttransform` and `queue` are both one thread hop")
    add("  (a src pad task), and nothing in the pipeline is paced by a clock.")
    add(f"- {args.encoded_rounds} rounds per stream after one unmeasured warm-up run of each variant; a round runs every")
    add("  variant of the stream once, in reverse order every other round. Per-round ratios, reported as median [min-max].")
    add("- Whole pipeline: time(ours) / time(queue). Per hop: (time(ours) - time(baseline)) / (time(queue) - time(baseline)),")
    add("  i.e. only what each element adds per frame, reading, parsing and the sink taken out. The per-hop figures are")
    add("  small differences of noisy times, so their [min-max] ranges are wide.")
    add("- Every run is checked: the fakesink rendered exactly N buffers and dropped none, and `rtpscripttransform`'s")
    add("  `total-frames` = `written-frames` = N with `failed-frames` = `rejected-frames` = 0. So every figure is for N of N frames.")
    add("")
    add(f"Are the transforms doing the work? (checked on the first {video['unique']} buffers of each stream in this run)")
    add("")
    for check in encoded["checks"]:
        add(f"- {check['check']}: **{check['outcome']}**{'' if check['ok'] else ' -- CHECK FAILED'}")
    add("")
    add("### Per-frame cost: `rtpscripttransform worker=identity` vs `queue` (both one thread hop)")
    add("")
    add("| Stream | N x rounds | Frames delivered: ours (total/written) / queue / baseline | Measure | Baseline us/frame | Ours us/frame | queue us/frame | Ratio median [min-max] | Target | Met? |")
    add("|---|---|---|---|---|---|---|---|---|---|")
    for s in encoded["streams"]:
        c = s["counters"]
        delivered = (f"{c['identity']['rendered']}/{s['n']} ({c['identity']['xform_total']}/{c['identity']['xform_written']}) / "
                     f"{c['queue']['rendered']}/{s['n']} / {c['none']['rendered']}/{s['n']}")
        pf, cpf = s["per_frame"], s["cpu_per_frame"]
        rows = [("whole pipeline: wall time per frame", f"{pf['none']['median']:.2f}", pf["identity"]["median"],
                 pf["queue"]["median"], s["whole"])]
        if s["hop"] is not None:
            rows.append(("per hop: (wall time - baseline) per frame", "-", s["hop_ours"]["median"],
                         s["hop_queue"]["median"], s["hop"]))
        if s["cpu_hop"] is not None:
            rows.append(("per hop, CPU: (CPU time - baseline) per frame", f"({cpf['none']['median']:.2f} CPU)",
                         s["cpu_hop_ours"]["median"], s["cpu_hop_queue"]["median"], s["cpu_hop"]))
        for measure, base, mine, theirs, ratio in rows:
            add(f"| {s['name']} | {s['n']} x {s['rounds']} | {delivered} | {measure} | {base} | {mine:.2f} | {theirs:.2f} | "
                f"{ratio['median']:.3f} [{ratio['min']:.3f}-{ratio['max']:.3f}] | <= {ENCODED_TARGET} | "
                f"{verdict({'met': ratio['met'], 'ratio_min': ratio['min'], 'ratio_max': ratio['max']}, ENCODED_TARGET)} |")
    add("")
    for s in encoded["streams"]:
        sw = s["switches"]
        add(f"- {s['name']}: context switches per frame (voluntary + involuntary, all threads of the process, median over "
            f"the rounds): ours {sw['identity']['median']:.2f}, queue {sw['queue']['median']:.2f}, baseline "
            f"{sw['none']['median']:.2f}.")
    add("- Ours / queue us/frame: medians over the rounds (per-hop rows: of the per-round differences from the baseline).")
    add("  Wall time is what the pipeline takes; CPU time is `time.process_time()` of the process running the pipeline")
    add("  (every thread), so it also counts work done on the second core while the first is busy, which wall time hides.")
    for s in encoded["streams"]:
        for key, label in (("hop_skipped", "per-hop"), ("cpu_hop_skipped", "per-hop CPU")):
            if s[key]:
                add(f"- {s['name']}: {s[key]} round(s) left out of the {label} ratio: there queue took no more than the "
                    "baseline.")
    add("")
    vp8 = next((s for s in encoded["streams"] if s["name"] == "VP8"), None)
    if vp8 is not None and vp8.get("costs"):
        add(f"### `negate` throughput (VP8 stream above: {video['bytes'] / 1e6:.1f} MB per run; MB = 10^6 bytes)")
        add("")
        add("Cost attributable to the transform = time(`worker=W`) - time(`worker=identity`) in the same round, in wall time and")
        add("in CPU time; throughput = encoded bytes / that cost (from the median cost; the range from the highest and lowest")
        add("per-round costs). The transform runs on the element's worker thread while the upstream thread reads and parses")
        add("the next frames on the other core, so much of its work does not lengthen the pipeline: the wall-time figure is")
        add("what it costs this pipeline, the CPU-time figure is closer to the work itself (and to what it would cost on a")
        add("busy machine).")
        add("")
        add("| Transform | Compared with | Frames delivered | Extra wall us/frame median [min-max] | Throughput by wall time, MB/s [range] | Extra CPU us/frame median [min-max] | Throughput by CPU time, MB/s [range] |")
        add("|---|---|---|---|---|---|---|")
        labels = {"negate": ("`rtpscripttransform worker=negate`", "`worker=identity`", "negate"),
                  "negate_all": ("`rtpscripttransform worker=\"negate clear=none\"`", "`worker=identity`", "negate_all"),
                  "srtp": (f"C reference, not the same job: `rtpvp8pay ! {SRTP.split(' key=')[0]} rtp-cipher=aes-128-icm rtp-auth=null`",
                           "`rtpvp8pay` alone", "srtp")}
        for key, cost in vp8["costs"].items():
            label, reference, counter = labels[key]
            counters = vp8["counters"][counter]
            expected = video["rtp_packets"] if key == "srtp" else vp8["n"]
            unit = " RTP packets" if key == "srtp" else ""
            delivered = f"{counters['rendered']}/{expected}{unit}"
            if "xform_total" in counters:
                delivered += f" ({counters['xform_total']}/{counters['xform_written']})"
            cells = []
            for prefix in ("", "cpu_"):
                us, seconds = cost[prefix + "us"], cost[prefix + "seconds"]
                low, high = seconds["max"], seconds["min"]
                rng = (f"{video['bytes'] / low / 1e6:,.0f}" if low > 0 else "-") + "-" + (
                    f"{video['bytes'] / high / 1e6:,.0f}" if high > 0 else "unbounded")
                cells.append(f"{us['median']:.2f} [{us['min']:.2f}-{us['max']:.2f}] | "
                             f"{throughput_mbs(video['bytes'], seconds['median'])} [{rng}]")
            add(f"| {label} | {reference} | {delivered} | {cells[0]} | {cells[1]} |")
        add("")
        share = encoded["clear"].get("VP8")
        add("- `negate` (default clear-bytes policy) inverts every byte after the prefix GStreamer's VP8 payloader parses (frame")
        add("  header, first partition and partition-size table)" + (
            f": {100 * share:.1f}% of this stream's bytes stay clear (checks above), so it inverts about "
            f"{100 * (1 - share):.0f}% of the bytes counted here;" if share is not None else ";")
            + " `negate clear=none` inverts every byte.")
        if encoded["srtp"]:
            add("- No C element inverts the bytes of encoded frames, so there is no C equivalent of `negate`. For scale only,")
            add("  the C element that does transform every payload byte of this stream in a real pipeline is `srtpenc`")
            add("  (encryption). It works on the RTP packets (so it needs `rtpvp8pay` in front, the reference run),")
            add(f"  {video['rtp_packets']} packets per run, runs AES-128 in counter mode (no authentication), far more work per byte")
            add("  than NOT, and adds per-packet overhead; so it is no ratio and has no target.")
        else:
            add("- No C element inverts the bytes of encoded frames, so there is no C equivalent of `negate` (`srtpenc`, the")
            add("  nearest C job on the same bytes, is not installed here).")
        add("")
    add("Per-round times (us/frame, wall / CPU, in round order):")
    add("")
    for s in encoded["streams"]:
        for key, values in s["per_frame"].items():
            unit = f" (per {s['n']} frames, not per packet)" if key in ("pay", "srtp") else ""
            add(f"- {s['name']}, {key}{unit}: " + ", ".join(
                f"{v:.2f}/{c:.2f}" for v, c in zip(values["all"], s["cpu_per_frame"][key]["all"])))
    add("")
    add("Pipelines (as run; `<dir>` is the temporary folder):")
    add("")
    for s in encoded["streams"]:
        for key, description in s["pipelines"].items():
            add(f"- {s['name']}, {key}: `{description.replace(os.path.dirname(video['path']), '<dir>')}`")
    add("")


# ---------------------------------------------------------------------------------------------
# SFrame (`--only sframe`): SFrameSender.protect / SFrameReceiver.unprotect throughput against
# `openssl speed` on the same frame sizes, in interleaved rounds. Runs no pipeline and needs
# neither the plugin nor the child process.

SFRAME_TARGET = 0.8
# (cipher suite id, registry name, short key). The CTR suite's reference is AES-CTR + HMAC.
SFRAME_SUITES = [("0x0004", "AES_128_GCM_SHA256_128", "gcm"), ("0x0001", "AES_128_CTR_HMAC_SHA256_80", "ctr_hmac")]
SFRAME_OPS = ("encrypt", "decrypt")  # the ones compared with OpenSSL
# Measured in the same processes: SFrameAEAD alone (no SFrame header, AAD = the metadata), to
# show how much of each frame's time is the AEAD and how much the SFrame layer around it.
SFRAME_AEAD_OPS = ("seal", "open")
# What glibc's own dynamic malloc thresholds become once a process has freed a 4 MB block (a
# raw 1080p frame, say): no heap trimming between 100 KB frames. Plus memcpy without REP MOVSB,
# whose AMD Zen 3 slow path (20-30x when dst - src mod 4096 is 1..31) Data copies can hit.
SFRAME_TUNABLES = ("glibc.malloc.mmap_threshold=4194304:glibc.malloc.trim_threshold=8388608:"
                   "glibc.cpu.x86_rep_movsb_threshold=4194304")
# `openssl speed` references: -mr machine-readable, -elapsed wall-clock time like ours.
SFRAME_OPENSSL = {
    "gcm": ["-evp", "aes-128-gcm"],
    "gcm_aead": ["-aead", "-evp", "aes-128-gcm"],
    "ctr": ["-evp", "aes-128-ctr"],
    "hmac": ["-hmac", "sha256"],
}
SFRAME_CPU_FLAGS = ("aes", "vaes", "pclmulqdq", "vpclmulqdq", "sha_ni", "avx2", "avx512f")


def openssl_command(key, size, seconds):
    return ["openssl", "speed", "-mr", "-elapsed", "-seconds", str(seconds), "-bytes", str(size)] + SFRAME_OPENSSL[key]


def run_openssl(key, size, seconds, failures):
    """MB/s (10^6 bytes/s) from `openssl speed -mr`'s `+F:<n>:<name>:<bytes per second>` line."""
    command = openssl_command(key, size, seconds)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    except (OSError, subprocess.TimeoutExpired) as error:
        failures.append(f"`{' '.join(command)}` failed: {error}")
        return None
    for line in (done.stdout + "\n" + done.stderr).splitlines():
        if line.startswith("+F:"):
            return float(line.rsplit(":", 1)[1]) / 1e6
    failures.append(f"`{' '.join(command)}` printed no +F: line (exit {done.returncode}): {done.stderr.strip()[-200:]}")
    return None


def sframe_command(binary, suite_id, size, args, ops=SFRAME_OPS + SFRAME_AEAD_OPS):
    return [binary, "--seconds", str(args.sframe_seconds), "--warmup", str(args.sframe_warmup), "--sizes", str(size),
            "--suites", suite_id, "--ops", ",".join(ops)]


def run_sframe(binary, suite_id, size, args, tuned, failures, ops=SFRAME_OPS + SFRAME_AEAD_OPS):
    """{op: record} from sframe-benchmark's JSON lines; one process per suite and size, so that
    every measurement starts from the same fresh malloc state whatever ran before it."""
    command = sframe_command(binary, suite_id, size, args, ops)
    env = {key: value for key, value in os.environ.items() if key != "GLIBC_TUNABLES"}
    if tuned:
        env["GLIBC_TUNABLES"] = SFRAME_TUNABLES
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        failures.append(f"`{' '.join(command)}` failed: {error}")
        return None
    records = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            records[record["op"]] = record
    if done.returncode != 0 or set(records) != set(ops):
        failures.append(f"`{' '.join(command)}` exited {done.returncode} with {sorted(records)}: "
                        f"{done.stderr.strip()[-300:]}")
        return None
    return records


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    present = set(line.split(":", 1)[1].split())
                    return {flag: flag in present for flag in SFRAME_CPU_FLAGS}
    except OSError:
        pass
    return {}


def sframe_section(args, failures):
    binary = args.sframe_binary
    if not os.access(binary, os.X_OK):
        failures.append(f"SFrame: {binary} not found: build it with `swift build -c release --product "
                        "sframe-benchmark --scratch-path .build-bench` (benchmarks/run.sh does)")
        return None
    sizes = [int(size) for size in args.sframe_sizes.split(",")]
    ssl_seconds = max(1, int(round(args.sframe_openssl_seconds)))  # openssl speed takes whole seconds
    version = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
    print(f"\n== SFrame: sizes {sizes}, {args.sframe_rounds} rounds; ours {args.sframe_seconds} s per measurement, "
          f"{version} {ssl_seconds} s per measurement", flush=True)
    started = time.monotonic()
    # rounds[i][size] = {"ours:<suite>": records, "tuned:<suite>": records, "ssl:<key>": MB/s}
    rounds = []
    for round_index in range(args.sframe_rounds):
        per_size = {}
        for size in (sizes if round_index % 2 == 0 else list(reversed(sizes))):
            variants = [(f"ours:{key}", suite_id, False) for suite_id, _, key in SFRAME_SUITES]
            variants += [(f"tuned:{key}", suite_id, True) for suite_id, _, key in SFRAME_SUITES]
            variants += [(f"ssl:{key}", None, None) for key in SFRAME_OPENSSL]
            if round_index % 2:
                variants.reverse()
            results = {}
            for label, suite_id, tuned in variants:
                if label.startswith("ssl:"):
                    results[label] = run_openssl(label[4:], size, ssl_seconds, failures)
                else:
                    results[label] = run_sframe(binary, suite_id, size, args, tuned, failures)
            per_size[size] = results
            line = []
            for _, _, key in SFRAME_SUITES:
                records = results.get(f"ours:{key}")
                if records:
                    line.append(f"{key} enc {records['encrypt']['mb_per_s']:.0f} dec {records['decrypt']['mb_per_s']:.0f}")
            line += [f"openssl {key} {results[f'ssl:{key}']:.0f}" for key in SFRAME_OPENSSL if results[f"ssl:{key}"]]
            print(f"  round {round_index + 1}, {size} B (MB/s): " + ", ".join(line), flush=True)
        rounds.append(per_size)
    elapsed = time.monotonic() - started

    def reference(results, key):
        if key == "gcm":
            return results.get("ssl:gcm")
        ctr, hmac = results.get("ssl:ctr"), results.get("ssl:hmac")
        return 1 / (1 / ctr + 1 / hmac) if ctr and hmac else None  # both passes over every byte

    rows = []
    for _, name, key in SFRAME_SUITES:
        for op in SFRAME_OPS:
            for size in sizes:
                row = {"suite": name, "key": key, "op": op, "size": size}
                for variant in ("ours", "tuned"):
                    mbs, us, ratios = [], [], []
                    for per_size in rounds:
                        results = per_size[size]
                        records, ref = results.get(f"{variant}:{key}"), reference(results, key)
                        if records and ref:
                            mbs.append(records[op]["mb_per_s"])
                            us.append(records[op]["us_per_frame"])
                            ratios.append(records[op]["mb_per_s"] / ref)
                    row[variant] = {"mbs": spread(mbs), "us": spread(us), "ratio": spread(ratios)} if ratios else None
                refs = [reference(per_size[size], key) for per_size in rounds]
                row["ref"] = spread([r for r in refs if r]) if any(refs) else None
                rows.append(row)
    openssl = {}
    for size in sizes:
        for key in SFRAME_OPENSSL:
            values = [per_size[size][f"ssl:{key}"] for per_size in rounds if per_size[size].get(f"ssl:{key}")]
            openssl[(key, size)] = spread(values) if values else None
        combined = [reference(per_size[size], "ctr_hmac") for per_size in rounds]
        combined = [value for value in combined if value]
        openssl[("ctr_hmac", size)] = spread(combined) if combined else None
    for row in rows:
        if row["ours"]:
            r = row["ours"]["ratio"]
            print(f"  {row['suite']} {row['op']} {row['size']} B: ours {row['ours']['mbs']['median']:.0f} MB/s, "
                  f"ratio {r['median']:.3f} [{r['min']:.3f}-{r['max']:.3f}]"
                  + (f"; with tunables {row['tuned']['ratio']['median']:.3f}" if row["tuned"] else ""), flush=True)
    # us/frame of every op (the AEAD-alone ones too), median over the rounds, per suite, size, variant
    per_frame = {}
    for _, _, key in SFRAME_SUITES:
        for size in sizes:
            for variant in ("ours", "tuned"):
                for op in SFRAME_OPS + SFRAME_AEAD_OPS:
                    values = [per_size[size][f"{variant}:{key}"][op]["us_per_frame"] for per_size in rounds
                              if per_size[size].get(f"{variant}:{key}")]
                    per_frame[(key, size, variant, op)] = statistics.median(values) if values else None
    return {"rows": rows, "openssl": openssl, "sizes": sizes, "rounds": len(rounds), "seconds": elapsed,
            "per_frame": per_frame,
            "openssl_version": version, "ssl_seconds": ssl_seconds, "binary": binary, "flags": cpu_flags(),
            "glibc": os.confstr("CS_GNU_LIBC_VERSION") if hasattr(os, "confstr") else "unknown"}


def sframe_markdown(add, sframe, args, info, failures=()):
    sizes = sframe["sizes"]
    flags = ", ".join(f"{flag} {'yes' if present else 'no'}" for flag, present in sframe["flags"].items())
    add("## SFrame encryption throughput vs OpenSSL (ratio = ours / OpenSSL, higher is better for us)")
    add("")
    add(f"- Date: {info['date']}; package commit {info['commit']}; {info['swift']}")
    add(f"- Machine: {info['nproc']} CPUs, `{info['cpu']}`, Linux {info['kernel']}, {sframe['glibc']}; "
        f"CPU flags: {flags}")
    add(f"- Ours: `sframe-benchmark` (Sources/SFrameBenchmark), built by `swift build -c release --product "
        "sframe-benchmark --scratch-path .build-bench`. It times `SFrameSender.protect(frame, metadata:)` "
        "(encrypt) and `SFrameReceiver.unprotect(frame, metadata:)` (decrypt) in a loop on one thread, on "
        "random frames of the given size with 10 bytes of metadata (AAD = the SFrame header, 6 bytes here, "
        "plus the metadata), a key id above 7 and counters from 2^16. MB/s = 10^6 plaintext bytes per second "
        "of wall time; us/frame = wall time per call. Every call allocates and returns its output, as the API does. "
        "The same processes also time `SFrameAEAD.seal` / `open` alone (last table).")
    add("- swift-crypto on Linux runs BoringSSL underneath (vendored in swift-crypto 4.5.2: AES-GCM with "
        "VAES/VPCLMULQDQ AVX2 code, AES-NI CTR, SHA-NI SHA-256), so this compares BoringSSL behind the Swift "
        f"API with {sframe['openssl_version']} (Debian's) called in a tight loop.")
    add(f"- OpenSSL, single-threaded: `openssl speed -mr -elapsed -seconds {sframe['ssl_seconds']} -bytes N` with "
        "`-evp aes-128-gcm` (the reference for the GCM suite); `-aead -evp aes-128-gcm` (per message: IV, "
        "13 bytes of AAD, data, tag, as one AEAD call); `-evp aes-128-ctr`; `-hmac sha256`. `-elapsed`: wall "
        "time, as ours. The CTR+HMAC suite has no single OpenSSL counterpart, so its reference is the two "
        "passes it makes over every byte, combined: 1 / (1/CTR + 1/HMAC) MB/s (labelled `CTR+HMAC combined`).")
    add(f"- {sframe['rounds']} rounds. A round measures, for each size, ours (both suites, each in its own "
        "process), ours again with glibc tunables (below), and the four OpenSSL runs, in reverse order every "
        f"other round (sizes too). Ours: {args.sframe_seconds} s per measurement after a {args.sframe_warmup} s "
        "warm-up in the same process. Ratio = ours / OpenSSL within a round; reported as median [min-max] over "
        f"the rounds. Target: >= {SFRAME_TARGET} for AES-GCM. Decrypt is compared with the same (encrypt) "
        "references: AES-GCM and CTR+HMAC cost the same both ways.")
    add(f"- \"With glibc tunables\": the same runs of ours with `GLIBC_TUNABLES={SFRAME_TUNABLES}`. Diagnostic, "
        "not the result: it shows what glibc (malloc trimming and memcpy, see the notes) adds to our figures.")
    add(f"- Duration of this section: {sframe['seconds']:.0f} s. Reproduce: `benchmarks/run.sh --only sframe` "
        "(updates only this section of BENCHMARKS.md), or by hand: "
        f"`.build-bench/release/sframe-benchmark --seconds {args.sframe_seconds} --sizes "
        f"{','.join(map(str, sizes))} --suites 0x0004,0x0001` and `{' '.join(openssl_command('gcm', 'N', sframe['ssl_seconds']))}`.")
    add("")
    add("| Suite | Op | Frame | Ours MB/s (us/frame) | OpenSSL reference MB/s | Ratio median [min-max] | Target | Met? | With glibc tunables: ours MB/s, ratio median [min-max] |")
    add("|---|---|---|---|---|---|---|---|---|")
    for row in sframe["rows"]:
        reference = "AES-128-GCM" if row["key"] == "gcm" else "CTR+HMAC combined"
        if not row["ours"] or not row["ref"]:
            add(f"| {row['suite']} | {row['op']} | {row['size']} B | failed | | | | | |")
            continue
        ours, ratio = row["ours"], row["ours"]["ratio"]
        target = f">= {SFRAME_TARGET}" if row["key"] == "gcm" else "-"
        if row["key"] == "gcm":
            met = "yes" if ratio["median"] >= SFRAME_TARGET else "**no**"
            if ratio["min"] < SFRAME_TARGET <= ratio["max"]:
                met += " (not robust: range straddles the target)"
        else:
            met = "-"
        tuned = row["tuned"]
        tuned_cell = (f"{tuned['mbs']['median']:,.0f}, {tuned['ratio']['median']:.2f} [{tuned['ratio']['min']:.2f}-"
                      f"{tuned['ratio']['max']:.2f}]" if tuned else "failed")
        add(f"| {row['suite']} | {row['op']} | {row['size'] // 1024} KB | {ours['mbs']['median']:,.0f} "
            f"({ours['us']['median']:.2f}) | {row['ref']['median']:,.0f} ({reference}) | "
            f"{ratio['median']:.2f} [{ratio['min']:.2f}-{ratio['max']:.2f}] | {target} | {met} | {tuned_cell} |")
    add("")
    add("OpenSSL alone (MB/s, median [min-max] over the rounds):")
    add("")
    add("| Frame | `-evp aes-128-gcm` | `-aead -evp aes-128-gcm` | `-evp aes-128-ctr` | `-hmac sha256` | CTR+HMAC combined |")
    add("|---|---|---|---|---|---|")
    for size in sizes:
        cells = []
        for key in ("gcm", "gcm_aead", "ctr", "hmac", "ctr_hmac"):
            value = sframe["openssl"].get((key, size))
            cells.append(f"{value['median']:,.0f} [{value['min']:,.0f}-{value['max']:,.0f}]" if value else "failed")
        add(f"| {size // 1024} KB | " + " | ".join(cells) + " |")
    add("")
    add("Where the time goes (us/frame, median over the rounds; default environment / with glibc tunables). "
        "`SFrameAEAD.seal` / `open` alone were timed in the same processes as `protect` / `unprotect`: the AEAD "
        "without the SFrame layer (no header; AAD = the 10 bytes of metadata; a fixed nonce).")
    add("")
    add("| Suite | Frame | protect | SFrameAEAD.seal alone | unprotect | SFrameAEAD.open alone |")
    add("|---|---|---|---|---|---|")
    per_frame = sframe["per_frame"]

    def cell(key, size, op):
        return " / ".join(f"{value:.2f}" if value is not None else "failed"
                          for value in (per_frame.get((key, size, "ours", op)), per_frame.get((key, size, "tuned", op))))

    for _, name, key in SFRAME_SUITES:
        for size in sizes:
            add(f"| {name} | {size // 1024} KB | {cell(key, size, 'encrypt')} | {cell(key, size, 'seal')} | "
                f"{cell(key, size, 'decrypt')} | {cell(key, size, 'open')} |")
    add("")
    add("Notes:")
    add("")
    add("- What is compared. `openssl speed -evp aes-128-gcm` calls EVP_EncryptUpdate over and over on one context: no")
    add("  key setup, IV, AAD or tag per message, nothing allocated. `-aead` adds IV, AAD and tag per message. Each of")
    add("  our frames is a complete AEAD call through the Swift API: swift-crypto's `AES.GCM.seal` sets up a new")
    add("  BoringSSL context (key schedule and GHASH key powers) per call, allocates its output and copies it into the")
    add("  sealed box; `protect` then encodes the header, builds the AAD and copies header and sealed bytes into the")
    add("  frame it returns. These fixed costs, a few microseconds per frame, decide the 1 KB and 10 KB ratios; the")
    add("  AES-GCM code itself (BoringSSL's VAES/AVX2 code) is faster per byte than this OpenSSL 3.0 build's, which is why")
    add("  the 100 KB ratios can exceed 1.")
    add("- `protect` minus `SFrameAEAD.seal alone` is the SFrame layer (SFrameContexts.swift: header, AAD, nonce, the")
    add("  copy into a new Data); `SFrameAEAD.seal` alone is swift-crypto plus this package's AEAD code.")
    add("- 100 KB frames in the default environment: a fresh process has glibc's initial malloc thresholds, so freeing")
    add("  the ~100 KB buffers of one frame (swift-crypto's output, the sealed box, the frame) shrinks the heap")
    add("  (trim) and the next frame faults the pages back in; and copies made with `rep movsb` (glibc 2.36 memcpy for")
    add("  these sizes) run 20-30x slower on this AMD Zen 3 CPU when the destination is 1-31 bytes past the source modulo")
    add("  4096, which the page-rounded sizes of Data's buffers make likely here. The tunables remove both; a process that has freed one")
    add("  block of 4 MB or more (a raw 1080p video frame, for example) gets the same malloc thresholds from glibc by")
    add("  itself. Both effects grow with the number of frame-sized buffers each call allocates and copies.")
    add("- The CTR+HMAC suite passes over every byte twice (AES-CTR, then HMAC-SHA256 over the ciphertext), so its")
    add("  reference is the two OpenSSL figures combined; HMAC-SHA256 is most of its cost.")
    add("")
    for failure in failures:
        add(f"- Failure: {failure}")
    if failures:
        add("")


def splice_section(path, heading, lines):
    """Replaces the section starting with `heading` (up to the next `## `) in `path`, or inserts
    it before the failures section (or at the end): for runs of one section only."""
    try:
        with open(path) as f:
            old = f.read().split("\n")
    except FileNotFoundError:
        old = ["# Benchmarks", ""]
    start = next((i for i, line in enumerate(old) if line.startswith(heading)), None)
    if start is None:
        start = next((i for i, line in enumerate(old) if line.startswith("## Failures and hangs")), len(old))
        end = start
    else:
        end = next((i for i in range(start + 1, len(old)) if old[i].startswith("## ")), len(old))
    with open(path, "w") as f:
        f.write("\n".join(old[:start] + lines + old[end:]))


def verdict(comparison, target):
    answer = "yes" if comparison["met"] else "**no**"
    if comparison["ratio_min"] <= target < comparison["ratio_max"]:
        answer += " (not robust: range straddles the target)"
    return answer


def print_table(results, latencies):
    width = 122
    print("\n" + "=" * width)
    print(f"{'comparison':<56} {'ours ms':>8} {'C ms':>8} {'ratio median [min-max]':>26} {'target':>7} {'met':>4} {'frames':>9}")
    for result in results:
        ours_frames = result["frames"][result["ours"]]
        for c in result["comparisons"]:
            label = f"{result['name']}: vs {c['reference']}"
            ratio = f"{c['ratio_median']:.3f} [{c['ratio_min']:.3f}-{c['ratio_max']:.3f}]"
            print(f"{label[:56]:<56} {result['ours_ms']:>8.3f} {c['ref_ms']:>8.3f} {ratio:>26} "
                  f"{'<=' + str(result['target']):>7} {('yes' if c['met'] else 'NO') + ('?' if c['ratio_min'] <= result['target'] < c['ratio_max'] else ''):>4} "
                  f"{ours_frames['rendered']:>4}/{result['n']:<4}")
    print("(a '?' after yes/NO: the per-round [min-max] range straddles the target, so the verdict is not robust)")
    print("-" * width)
    for r in latencies:
        print(f"latency {r['label']:<52} median {r['median']:7.3f} ms   p99 {r['p99']:7.3f} ms   "
              f"({r['count']} frames, unmatched {r['unmatched']})")
    print("=" * width)


def print_encoded(encoded):
    for s in encoded["streams"]:
        pf = s["per_frame"]
        print(f"encoded {s['name']}: us/frame baseline {pf['none']['median']:.2f}, identity {pf['identity']['median']:.2f}, "
              f"queue {pf['queue']['median']:.2f}; identity/queue whole {s['whole']['median']:.3f} "
              f"[{s['whole']['min']:.3f}-{s['whole']['max']:.3f}]"
              + (f", per hop {s['hop']['median']:.3f} [{s['hop']['min']:.3f}-{s['hop']['max']:.3f}] "
                 f"({s['hop_ours']['median']:.2f} vs {s['hop_queue']['median']:.2f} us)" if s["hop"] else "")
              + (f", per hop CPU {s['cpu_hop']['median']:.3f} [{s['cpu_hop']['min']:.3f}-{s['cpu_hop']['max']:.3f}] "
                 f"({s['cpu_hop_ours']['median']:.2f} vs {s['cpu_hop_queue']['median']:.2f} us)" if s["cpu_hop"] else "")
              + f" (target <= {ENCODED_TARGET})")
        for key, cost in s.get("costs", {}).items():
            print(f"encoded {s['name']}: {key}: wall {cost['us']['median']:+.2f} us/frame, "
                  f"{throughput_mbs(encoded['video']['bytes'], cost['seconds']['median'])}; CPU "
                  f"{cost['cpu_us']['median']:+.2f} us/frame, "
                  f"{throughput_mbs(encoded['video']['bytes'], cost['cpu_seconds']['median'])}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--output", help="markdown file to (over)write")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=300, help="N for the filter comparisons")
    parser.add_argument("--hop-frames", type=int, default=2000,
                        help="N for identity vs queue (cheap per frame, so more frames)")
    parser.add_argument("--hop-rounds", type=int, default=9,
                        help="rounds for identity vs queue (cheap and the noisiest, so more rounds)")
    parser.add_argument("--latency-frames", type=int, default=300)
    parser.add_argument("--latency-warmup", type=int, default=30)
    parser.add_argument("--timeout", type=int, default=60, help="seconds per pipeline run")
    parser.add_argument("--encoded-rounds", type=int, default=15,
                        help="rounds per stream in the Encoded transforms section")
    parser.add_argument("--encoded-unique", type=int, default=300,
                        help="VP8 frames (1920x1080) encoded once at the start of the Encoded transforms section")
    parser.add_argument("--encoded-repeat", type=int, default=10,
                        help="times the encoded VP8 frames are written into the IVF file (N = unique x repeat)")
    parser.add_argument("--encoded-audio-frames", type=int, default=30000,
                        help="Opus frames (20 ms) encoded for the Encoded transforms section")
    parser.add_argument("--sframe-rounds", type=int, default=5, help="rounds of the SFrame section")
    parser.add_argument("--sframe-seconds", type=float, default=0.3,
                        help="seconds per measurement of sframe-benchmark (SFrame section)")
    parser.add_argument("--sframe-warmup", type=float, default=0.1,
                        help="unmeasured seconds before each measurement of sframe-benchmark")
    parser.add_argument("--sframe-openssl-seconds", type=int, default=1,
                        help="seconds per `openssl speed` measurement (whole seconds)")
    parser.add_argument("--sframe-sizes", default="1024,10240,102400", help="frame sizes of the SFrame section")
    parser.add_argument("--sframe-binary", default=os.environ.get(
        "BENCH_SFRAME_BINARY", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                            ".build-bench", "release", "sframe-benchmark")),
                        help="the sframe-benchmark executable (benchmarks/run.sh builds it)")
    parser.add_argument("--only", default="",
                        help="comma-separated subset: hop,mirror,sepia,latency,encoded,sframe. "
                             "`--only sframe` alone rewrites only the SFrame section of --output")
    parser.add_argument("--out-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "out"),
                        help="where stacks of hung pipelines go")
    args = parser.parse_args()
    if args.serve:
        serve()
        return 0
    if not args.output:
        parser.error("--output is required")

    only = set(filter(None, args.only.split(",")))
    wanted = lambda key: not only or key in only  # noqa: E731
    # The SFrame section runs programs, not pipelines: alone, it needs neither the plugin nor the child.
    pipelines = not only or bool(only - {"sframe"})
    if pipelines:
        if Gst.Registry.get().find_plugin("insertablestreams") is None:
            sys.exit("plugin insertablestreams not found: is GST_PLUGIN_PATH set (benchmarks/run.sh does it)?")
        for name in ("videotestsrc", "videoflip", "coloreffects", "queue", "fakesink", "appsink"):
            if Gst.ElementFactory.find(name) is None:
                sys.exit(f"GStreamer element {name} is missing")
    info = machine()
    info["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    info["commit"] = os.environ.get("BENCH_COMMIT", "unknown")
    info["swift"] = os.environ.get("BENCH_SWIFT", "swift version unknown")

    child = Child(args.out_dir) if pipelines else None
    if child:
        hello = child.start()
        info["plugin"] = hello["plugin"]
        print(f"plugin: {info['plugin']}\n{info['gstreamer']}, {info['nproc']} CPUs, {info['cpu']}", flush=True)

    started = time.monotonic()
    results, latencies, failures = [], [], []

    checks = []
    if child:
        try:
            checks = child.call({"op": "check"}, 120)["checks"]
        except Hang as error:
            failures.append(f"the element checks hung: {error}")
        print("\n== checks")
    for check in checks:
        print(f"  {check['check']}: {check['outcome']}{'' if check['ok'] else '  <-- CHECK FAILED'}")
        if not check["ok"]:
            failures.append(f"check failed: {check['check']}")

    n = args.frames
    baselines = {}
    if wanted("hop") or wanted("mirror") or wanted("sepia"):
        print("\n== source alone (context)", flush=True)
        for fmt in ("I420", "RGBA"):
            baselines[fmt] = baseline(child, fmt, n, args.timeout, failures)
            print(f"  {fmt}: {baselines[fmt]:.3f} ms/frame" if baselines[fmt] else f"  {fmt}: failed", flush=True)
    plans = []
    if wanted("hop"):
        plans.append(("a. hop, I420", [("trackprocessor worker=identity", ours("I420", "identity")),
                                        ("queue", reference("I420", QUEUE))],
                      args.hop_frames, 1.05,
                      "both one thread hop; nothing is done to the pixels. At a few tenths of a ms per frame most "
                      "of the time is the source copying its cached 3 MB black frame into each buffer (see the "
                      "source-alone figure), and the rest depends on how buffers are recycled (memory and cache "
                      "effects, see the buffer-copies table) as much as on the hop, so this ratio moves a lot "
                      "between runs on this machine; read it with its [min-max] range."))
    if wanted("mirror"):
        for fmt in ("I420", "RGBA"):
            plans.append((f"b. mirror, {fmt}",
                          [("trackprocessor worker=mirror", ours(fmt, "mirror")),
                           (VIDEOFLIP, reference(fmt, VIDEOFLIP)),
                           (f"queue ! {VIDEOFLIP}", reference(fmt, f"{QUEUE} ! {VIDEOFLIP}"))],
                          n, 1.0, None))
    if wanted("sepia"):
        plans.append(("c. sepia, RGBA", [("trackprocessor worker=sepia", ours("RGBA", "sepia")),
                                          ("coloreffects preset=sepia", reference("RGBA", "coloreffects preset=sepia")),
                                          ("queue ! coloreffects preset=sepia",
                                           reference("RGBA", f"{QUEUE} ! coloreffects preset=sepia"))],
                      n, 0.5, "coloreffects accepts RGBA (gst-inspect-1.0 coloreffects), so both get the same RGBA "
                              "caps and nothing is converted. The two sepias are different formulas: ours is the "
                              "MDN 3x3 matrix per pixel; coloreffects maps each pixel's luma through a 256-entry "
                              "sepia table. Black input does not shorten either (no data-dependent branches)."))
    for name, variants, frames, target, note in plans:
        rounds = args.hop_rounds if name.startswith("a.") else args.rounds
        result = throughput(child, name, variants, frames, rounds, target, note, args.timeout, failures)
        if result is not None:
            results.append(result)

    if wanted("latency"):
        live = "videotestsrc is-live=true ! video/x-raw,format=I420,width=1920,height=1080,framerate=30/1"
        for label, description, first, last in [
            ("trackprocessor worker=identity (sync: default true)",
             f"{live} ! trackprocessor name=proc worker=identity pipe-to=gen trackgenerator name=gen ! fakesink sync=false",
             "proc", "gen"),
            ("trackprocessor worker=identity sync=false",
             f"{live} ! trackprocessor name=proc worker=identity pipe-to=gen sync=false trackgenerator name=gen ! "
             "fakesink sync=false", "proc", "gen"),
            ("queue", f"{live} ! queue name=q ! fakesink sync=false", "q", "q"),
        ]:
            print(f"\n== latency: {label}", flush=True)
            seconds = (args.latency_warmup + args.latency_frames) / 30 + args.timeout
            try:
                response = child.call({"op": "latency", "pipeline": description, "in": first, "out": last,
                                       "warmup": args.latency_warmup, "count": args.latency_frames,
                                       "timeout": seconds}, seconds + 30)
            except Hang as error:
                failures.append(str(error))
                continue
            if not response.get("ok"):
                failures.append(response["error"])
                print(f"  FAILED: {response['error']}", flush=True)
                continue
            response.update(label=label, pipeline=description)
            latencies.append(response)
            print(f"  median {response['median']:.3f} ms, p99 {response['p99']:.3f} ms, "
                  f"min {response['min']:.3f}, max {response['max']:.3f}, unmatched {response['unmatched']}, "
                  f"processor discarded {response['discarded']}", flush=True)

    encoded = encoded_section(child, args, failures) if wanted("encoded") else None

    sframe, sframe_failures = None, []
    if wanted("sframe"):
        sframe = sframe_section(args, sframe_failures)
        failures += sframe_failures

    copies = []
    if results:
        print("\n== buffer copies (GST_PERFORMANCE log, untimed runs)", flush=True)
        for result in results:
            pipelines = [(result["ours"], result["ours_pipeline"])] + [
                (c["reference"], c["reference_pipeline"]) for c in result["comparisons"]]
            for label, description in pipelines:
                if any(description == seen for _, _, seen, _ in copies):
                    continue
                try:
                    response = child.call({"op": "copies", "pipeline": description, "n": result["n"],
                                           "timeout": args.timeout}, args.timeout + 60)
                except Hang as error:
                    failures.append(str(error))
                    continue
                if not response.get("ok"):
                    failures.append(response["error"])
                    continue
                copies.append((f"{result['name']}: `{label}`", result["n"], description, response))
                print(f"  {result['name']}: {label}: {response['copied']} GstBuffer copies, "
                      f"{response['discarded']} pool discards for {result['n']} frames", flush=True)

    hangs = []
    if child:
        child.stop()
        hangs = child.hangs
    wall = time.monotonic() - started
    if results or latencies:
        print_table(results, latencies)
    if encoded:
        print_encoded(encoded)
    if pipelines:
        write_markdown(args.output, results, latencies, checks, baselines, copies, info, args, wall, failures,
                       hangs, encoded, sframe)
        print(f"wrote {args.output} ({wall:.0f} s)")
    elif sframe:
        lines = []
        sframe_markdown(lines.append, sframe, args, info, sframe_failures)
        splice_section(args.output, "## SFrame", lines)
        print(f"updated the SFrame section of {args.output} ({wall:.0f} s)")
    for failure in failures:
        print(f"FAILURE: {failure}", file=sys.stderr)
    for hang in hangs:
        print(f"HANG: {hang}", file=sys.stderr)
    return 1 if failures or hangs or (wanted("sframe") and not sframe) else 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
