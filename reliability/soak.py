#!/usr/bin/python3
"""Soak: an end-to-end-encrypted webrtcbin call and a raw 1080p `sepia ! mirror` track, for
N minutes in this one process, sampling its resident memory, open file descriptors and
threads every 10 s; then every pipeline to NULL, every reference dropped and Gst.deinit(), so
that GStreamer's `leaks` tracer (GST_TRACERS=leaks, set by scripts/soak.sh) reports what is
still alive.

  soak.py run --minutes 30 --out reliability/soak.json
      the run; rewrites the JSON after every sample, so an interrupted run keeps its data
  soak.py report --samples reliability/soak.json --leaks LOG --plot docs/soak.png
      parses the leaks tracer's log, computes the growth after warm-up, writes the plot and
      the summary into the JSON; exits 1 when a criterion fails

What runs (all live, 30 fps sources):

* the call: peer A (webrtcbin) sends SMPTE bars 640x360 VP8 and a 440 Hz Opus tone, each
  through `rtpscripttransform worker=sframe` (keys given as a GstStructure `options`, never in
  a launch string); peer B (webrtcbin, same pipeline) decrypts with `rtpscripttransform
  worker=sframe` and decodes. Offer/answer and ICE in-process, ICE pinned to 127.0.0.1. The
  keys rotate every --rotate-s seconds without a gap (add-key to the receivers, set-key on the
  senders a second later, remove-key of the old key two seconds after that), and `get-stats` is
  posted to every transform at each sample: the key and message paths run throughout.
  Counted: video frames decoded and *intact* (the 7 bars' colours), audio frames decoded,
  decryption refusals (sframe-stats).
* the raw track: videotestsrc 1920x1080 RGBA 30/1 -> trackprocessor worker="sepia ! mirror"
  pipe-to=soakgen in one pipeline, `trackgenerator name=soakgen ! fakesink` in a second
  pipeline (processor and generator meet by name across pipelines). Counted: frames into the
  processor (total/discarded) and frames out of the generator.

Secrets: the keys are random per run and never printed, logged or written.
"""
import argparse
import gc
import json
import math
import os
import re
import sys
import threading
import time

WARM_UP_DEFAULT_S = 300
SAMPLE_S = 10
SMPTE_BARS = [(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0), (255, 0, 255), (255, 0, 0), (0, 0, 255)]
TOLERANCE = 40
CALL_W, CALL_H = 640, 360
RAW_W, RAW_H = 1920, 1080


def proc_status():
    """VmRSS (kB), Threads and the number of open file descriptors of this process."""
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            fields[name] = value.strip()
    fds = len(os.listdir("/proc/self/fd")) - 1  # listdir's own descriptor
    return int(fields["VmRSS"].split()[0]), int(fields["Threads"]), fds


def mallinfo():
    """glibc's mallinfo2 (all arenas), or None when it is missing (glibc < 2.33)."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = MallInfo2
    except (OSError, AttributeError):
        return None
    return libc.mallinfo2()


def malloc_in_use_kb():
    """Bytes handed out by glibc's malloc and not freed (all arenas, plus mmapped chunks), in kB:
    what RSS would be without the allocator's retained free memory and the mapped libraries."""
    info = mallinfo()
    return None if info is None else (info.uordblks + info.hblkhd) // 1024


def mapped_blocks():
    """(count, kB) of the chunks malloc gave its own mmap: with MALLOC_MMAP_THRESHOLD_ fixed at
    1 MiB (scripts/soak.sh sets it) these are exactly the large blocks alive, i.e. the 1080p
    frames (7.9 MiB each) and nothing of the call (its largest buffers are below 1 MiB); each
    is unmapped when freed, so it leaves RSS at once."""
    info = mallinfo()
    return (None, None) if info is None else (info.hblks, info.hblkhd // 1024)


def cpu_seconds():
    with open("/proc/self/stat") as stat:
        parts = stat.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------------
# run
# ------------------------------------------------------------------------------------------

def run(args):
    import gi
    gi.require_version("Gst", "1.0")
    gi.require_version("GstWebRTC", "1.0")
    gi.require_version("GstSdp", "1.0")
    from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: F401  (GstSdp: the SDP types)
    try:
        gi.require_version("Nice", "0.1")
        from gi.repository import Nice
    except (ImportError, ValueError):
        Nice = None

    Gst.init(None)
    duration = args.minutes * 60.0
    started = time.monotonic()

    class Counters:
        """Updated from streaming threads (each += runs under the GIL), read on the main loop."""

        def __init__(self):
            self.video_sent = 0
            self.video_decoded = 0
            self.video_intact = 0
            self.audio_sent = 0
            self.audio_decoded = 0
            self.raw_out = 0

    counters = Counters()
    errors = []
    warnings = []
    stats = {}            # element name -> latest sframe-stats fields
    probes = []           # (pad, id)
    handlers = []         # (object, id)
    watches = []          # buses with a signal watch
    state = {"offered": False, "rotations": 0, "video_key": 1, "audio_key": 2, "stopping": False,
             "connected_after": None}

    def new_key():
        return os.urandom(16).hex()

    def options(key, key_id):
        return Gst.Structure.new_from_string(f"sframe,key=(string){key},key-id=(guint64){key_id}")

    def connect(obj, signal, callback, *extra):
        handlers.append((obj, obj.connect(signal, callback, *extra)))

    def probe(pad, callback):
        def on_probe(pad, info):
            if info.type & Gst.PadProbeType.BUFFER_LIST:
                buffers = info.get_buffer_list()
                for index in range(buffers.length()):
                    callback(buffers.get(index))
            else:
                callback(info.get_buffer())
            return Gst.PadProbeReturn.OK
        probes.append((pad, pad.add_probe(Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST, on_probe)))

    keys = {"video": new_key(), "audio": new_key()}

    # -- the call ---------------------------------------------------------------------------
    call = Gst.parse_launch(
        "webrtcbin name=peer_a bundle-policy=max-bundle "
        "webrtcbin name=peer_b bundle-policy=max-bundle "
        f"videotestsrc is-live=true pattern=smpte ! video/x-raw,width={CALL_W},height={CALL_H},framerate=30/1 "
        "! videoconvert ! vp8enc deadline=1 keyframe-max-dist=60 "
        "! rtpscripttransform name=send_video worker=sframe "
        "! rtpvp8pay name=pay_video ! application/x-rtp,media=video,encoding-name=VP8,payload=96 ! peer_a. "
        "audiotestsrc is-live=true wave=sine freq=440 ! audioconvert ! audioresample ! opusenc "
        "! rtpscripttransform name=send_audio worker=sframe "
        "! rtpopuspay name=pay_audio ! application/x-rtp,media=audio,encoding-name=OPUS,payload=97 ! peer_a.")
    call.get_by_name("send_video").set_property("options", options(keys["video"], state["video_key"]))
    call.get_by_name("send_audio").set_property("options", options(keys["audio"], state["audio_key"]))
    peer_a, peer_b = call.get_by_name("peer_a"), call.get_by_name("peer_b")
    for pad in peer_a.sinkpads:
        pad.get_property("transceiver").set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)

    def pin_to_loopback(webrtcbin):
        if Nice is None:
            return False
        ice = webrtcbin.get_property("ice-agent")
        if ice.__grefcount__ == 1:
            # webrtcbin 1.22 keeps its GstWebRTCNice with its floating reference; PyGObject has
            # just sunk it, so give webrtcbin its reference back (see Tests/python/test_webrtc.py).
            ice._ref()
        agent = ice.get_property("agent")
        address = Nice.Address()
        return address.set_from_string("127.0.0.1") and agent.add_local_address(address)

    pinned = not args.no_pin and all(pin_to_loopback(peer) for peer in (peer_a, peer_b))

    def on_video_sent(buffer):
        counters.video_sent += 1

    def on_audio_sent(buffer):
        counters.audio_sent += 1

    probe(call.get_by_name("pay_video").get_static_pad("sink"), on_video_sent)
    probe(call.get_by_name("pay_audio").get_static_pad("sink"), on_audio_sent)

    def on_negotiation_needed(element):
        GLib.idle_add(create_offer)

    def create_offer():
        if not state["offered"]:
            state["offered"] = True
            peer_a.emit("create-offer", None, Gst.Promise.new_with_change_func(on_reply, "offer"))
        return GLib.SOURCE_REMOVE

    def on_reply(promise, field):
        GLib.idle_add(on_description, promise, field)

    def on_description(promise, field):
        reply = promise.get_reply() if promise.wait() == Gst.PromiseResult.REPLIED else None
        description = reply.get_value(field) if reply is not None and reply.has_field(field) else None
        if description is None:
            errors.append(f"create-{field} failed")
            return GLib.SOURCE_REMOVE
        local, remote = (peer_a, peer_b) if field == "offer" else (peer_b, peer_a)
        local.emit("set-local-description", description, None)
        remote.emit("set-remote-description", description, None)
        if field == "offer":
            peer_b.emit("create-answer", None, Gst.Promise.new_with_change_func(on_reply, "answer"))
        return GLib.SOURCE_REMOVE

    def on_ice_candidate(element, mline, candidate, other):
        GLib.idle_add(lambda: other.emit("add-ice-candidate", mline, candidate) and False)

    def on_video_decoded(buffer):
        counters.video_decoded += 1

    def on_audio_decoded(buffer):
        counters.audio_decoded += 1

    def on_video_check(buffer):
        stride = (CALL_W * 4 + 3) & ~3
        y = CALL_H // 3
        for index, expected in enumerate(SMPTE_BARS):
            x = (2 * index + 1) * CALL_W // 14
            pixel = buffer.extract_dup(y * stride + x * 4, 3)
            if len(pixel) < 3 or any(abs(got - want) > TOLERANCE for got, want in zip(pixel, expected)):
                return
        counters.video_intact += 1

    def on_incoming_stream(element, pad):
        if pad.direction != Gst.PadDirection.SRC:
            return
        caps = pad.get_current_caps() or pad.query_caps(None)
        encoding = (caps.get_structure(0).get_string("encoding-name") or "").upper()
        if encoding == "VP8":
            description = ("rtpvp8depay ! rtpscripttransform name=recv_video worker=sframe "
                           "! vp8dec name=dec_video ! videoconvert ! video/x-raw,format=RGBx "
                           "! fakesink name=sink_video sync=false async=false")
        elif encoding == "OPUS":
            description = ("rtpopusdepay ! rtpscripttransform name=recv_audio worker=sframe "
                           "! opusdec name=dec_audio ! fakesink sync=false async=false")
        else:
            errors.append(f"unexpected stream {caps.to_string()}")
            description = "fakesink sync=false async=false"
        branch = Gst.parse_bin_from_description(description, True)
        if encoding == "VP8":
            branch.get_by_name("recv_video").set_property("options", options(keys["video"], state["video_key"]))
            probe(branch.get_by_name("dec_video").get_static_pad("src"), on_video_decoded)
            probe(branch.get_by_name("sink_video").get_static_pad("sink"), on_video_check)
        elif encoding == "OPUS":
            branch.get_by_name("recv_audio").set_property("options", options(keys["audio"], state["audio_key"]))
            probe(branch.get_by_name("dec_audio").get_static_pad("src"), on_audio_decoded)
        call.add(branch)
        branch.sync_state_with_parent()
        if pad.link(branch.get_static_pad("sink")) != Gst.PadLinkReturn.OK:
            errors.append(f"cannot link the {encoding} stream")

    connect(peer_a, "on-negotiation-needed", on_negotiation_needed)
    connect(peer_a, "on-ice-candidate", on_ice_candidate, peer_b)
    connect(peer_b, "on-ice-candidate", on_ice_candidate, peer_a)
    connect(peer_b, "pad-added", on_incoming_stream)

    # -- the raw 1080p track, processor and generator in two pipelines ----------------------
    raw = Gst.parse_launch(
        f"videotestsrc is-live=true ! video/x-raw,format=RGBA,width={RAW_W},height={RAW_H},framerate=30/1 "
        "! trackprocessor name=processor worker=\"sepia ! mirror\" pipe-to=soakgen")
    generator = Gst.parse_launch("trackgenerator name=soakgen ! fakesink name=raw_sink sync=false async=false")

    def on_raw_out(buffer):
        counters.raw_out += 1

    probe(generator.get_by_name("raw_sink").get_static_pad("sink"), on_raw_out)

    # -- bus --------------------------------------------------------------------------------
    def on_message(bus, message, pipeline_name):
        if message.type == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            errors.append(f"{pipeline_name}: {message.src.get_name()}: {error.message}")
        elif message.type == Gst.MessageType.WARNING:
            error, debug = message.parse_warning()
            warnings.append(f"{pipeline_name}: {message.src.get_name()}: {error.message}")
        elif message.type == Gst.MessageType.ELEMENT:
            structure = message.get_structure()
            if structure is not None and structure.get_name() == "sframe-stats":
                fields = {}
                for index in range(structure.n_fields()):
                    name = structure.nth_field_name(index)
                    value = structure.get_value(name)
                    if isinstance(value, (int, str)):
                        fields[name] = value
                stats[message.src.get_name()] = fields
            elif structure is not None and structure.get_name() == "sframe-error":
                warnings.append(f"{pipeline_name}: {message.src.get_name()}: sframe-error "
                                f"{structure.get_string('kind')}")

    for name, pipeline in (("call", call), ("raw", raw), ("generator", generator)):
        bus = pipeline.get_bus()
        bus.add_signal_watch()
        watches.append(bus)
        connect(bus, "message", on_message, name)

    # -- key rotation -----------------------------------------------------------------------
    def transform(name):
        return call.get_by_name(name)

    def post(name, text):
        element = transform(name)
        if element is not None:
            element.emit("post-message", Gst.Structure.new_from_string(text))

    pending = set()  # one-shot timeouts still to run: removed at teardown (they hold the pipeline)

    def later(milliseconds, callback):
        def once():
            pending.discard(source[0])
            return callback()
        source = [GLib.timeout_add(milliseconds, once)]
        pending.add(source[0])

    def rotate():
        if state["stopping"]:
            return GLib.SOURCE_REMOVE
        old = {"video": state["video_key"], "audio": state["audio_key"]}
        new = {kind: old[kind] + 2 for kind in old}
        fresh = {kind: new_key() for kind in old}
        for kind in old:
            post(f"recv_{kind}", f"add-key, key=(string){fresh[kind]}, key-id=(guint64){new[kind]}")

        def switch_senders():
            for kind in old:
                post(f"send_{kind}", f"set-key, key=(string){fresh[kind]}, key-id=(guint64){new[kind]}")
            later(2000, forget_old)
            return GLib.SOURCE_REMOVE

        def forget_old():
            for kind in old:
                post(f"recv_{kind}", f"remove-key, key-id=(guint64){old[kind]}")
            return GLib.SOURCE_REMOVE

        later(1000, switch_senders)
        state["video_key"], state["audio_key"] = new["video"], new["audio"]
        state["rotations"] += 1
        return GLib.SOURCE_CONTINUE

    # -- sampling ---------------------------------------------------------------------------
    samples = []
    meta = {
        "minutes": args.minutes, "sample_s": SAMPLE_S, "rotate_s": args.rotate_s,
        "call": f"webrtcbin loopback, VP8 {CALL_W}x{CALL_H} 30/1 + Opus, sframe both ends, ICE on 127.0.0.1"
                f"{'' if pinned else ' (not pinned)'}",
        "raw": f"videotestsrc {RAW_W}x{RAW_H} RGBA 30/1 ! trackprocessor worker=\"sepia ! mirror\" pipe-to "
               "| trackgenerator ! fakesink (two pipelines)",
        "pid": os.getpid(), "cpus": os.cpu_count(),
        "gst": Gst.version_string(),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "mmap_threshold": os.environ.get("MALLOC_MMAP_THRESHOLD_"),
    }

    def write(final=False):
        data = {"meta": meta, "samples": samples, "errors": errors[:50], "error_count": len(errors),
                "warnings": warnings[:50], "warning_count": len(warnings), "complete": final}
        temporary = args.out + ".tmp"
        with open(temporary, "w") as out:
            json.dump(data, out, indent=1)
        os.replace(temporary, args.out)

    processor = raw.get_by_name("processor")

    def take_sample():
        rss, threads, fds = proc_status()
        blocks, blocks_kb = mapped_blocks()
        now = time.monotonic() - started
        sample = {
            "t": round(now, 2), "rss_kb": rss, "threads": threads, "fds": fds, "malloc_in_use_kb": malloc_in_use_kb(),
            "mapped_blocks": blocks, "mapped_kb": blocks_kb,
            "cpu_s": round(cpu_seconds(), 2), "load1": round(os.getloadavg()[0], 2),
            "video_sent": counters.video_sent, "video_decoded": counters.video_decoded,
            "video_intact": counters.video_intact, "audio_sent": counters.audio_sent,
            "audio_decoded": counters.audio_decoded,
            "raw_in": processor.get_property("total-frames"),
            "raw_discarded": processor.get_property("discarded-frames"),
            "raw_out": counters.raw_out, "key_rotations": state["rotations"],
            "refused": sum(stats.get(n, {}).get(kind, 0) for n in ("recv_video", "recv_audio")
                           for kind in ("authentication", "keyID", "syntax", "replay")),
            "decrypted": sum(stats.get(n, {}).get("decrypted", 0) for n in ("recv_video", "recv_audio")),
            "encrypted": sum(stats.get(n, {}).get("encrypted", 0) for n in ("send_video", "send_audio")),
        }
        samples.append(sample)
        write()
        previous = samples[-2] if len(samples) > 1 else None
        if previous is not None:
            dt = sample["t"] - previous["t"]
            print(f"[{now:7.1f} s] rss {rss / 1024:.1f} MiB, fds {fds}, threads {threads}, "
                  f"raw {(sample['raw_out'] - previous['raw_out']) / dt:.1f} fps, "
                  f"call video {(sample['video_decoded'] - previous['video_decoded']) / dt:.1f} fps decoded "
                  f"({(sample['video_intact'] - previous['video_intact']) / dt:.1f} intact), "
                  f"audio {(sample['audio_decoded'] - previous['audio_decoded']) / dt:.1f}/s, "
                  f"refused {sample['refused']}, errors {len(errors)}, load {sample['load1']}", flush=True)
        for name in ("send_video", "send_audio", "recv_video", "recv_audio"):
            post(name, "get-stats")  # the reply arrives on the bus before the next sample

    loop = GLib.MainLoop()
    sources = []

    def tick():
        take_sample()
        if time.monotonic() - started >= duration:
            loop.quit()
            return GLib.SOURCE_REMOVE
        return GLib.SOURCE_CONTINUE

    def watchdog_connect():
        if counters.video_decoded > 0 and counters.audio_decoded > 0:
            state["connected_after"] = round(time.monotonic() - started, 2)
            print(f"connected after {state['connected_after']} s", flush=True)
            meta["connected_after_s"] = state["connected_after"]
            return GLib.SOURCE_REMOVE
        if time.monotonic() - started > 30:
            errors.append("no media decoded at peer B within 30 s")
            loop.quit()
            return GLib.SOURCE_REMOVE
        return GLib.SOURCE_CONTINUE

    # The generator first: the processor's first frames then have somewhere to go.
    for pipeline in (generator, raw, call):
        if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            errors.append("a pipeline cannot play")
    take_sample()
    sources.append(GLib.timeout_add_seconds(SAMPLE_S, tick))
    sources.append(GLib.timeout_add(100, watchdog_connect))
    if args.rotate_s > 0:
        sources.append(GLib.timeout_add_seconds(args.rotate_s, rotate))

    # A stuck main loop must not hang the soak forever.
    hard_limit = duration + 120

    def hard_timeout():
        print(f"hard time-out after {hard_limit:.0f} s: the main loop is stuck", file=sys.stderr, flush=True)
        os._exit(3)
    timer = threading.Timer(hard_limit, hard_timeout)
    timer.daemon = True
    timer.start()

    loop.run()
    state["stopping"] = True

    # -- teardown: everything to NULL, every reference dropped, then Gst.deinit() ------------
    for source in sources + list(pending):
        if GLib.MainContext.default().find_source_by_id(source) is not None:
            GLib.source_remove(source)
    pending.clear()
    for pipeline in (call, raw, generator):
        pipeline.set_state(Gst.State.NULL)
    for bus in watches:
        bus.remove_signal_watch()
    for obj, handler in handlers:
        obj.disconnect(handler)
    for pad, probe_id in probes:
        pad.remove_probe(probe_id)
    context = GLib.MainContext.default()
    while context.iteration(False):  # pending idle callbacks hold references
        pass
    meta["ended_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write(final=True)
    timer.cancel()
    ok = not errors
    print(f"samples {len(samples)}, errors {len(errors)}, warnings {len(warnings)}", flush=True)
    for error in errors[:10]:
        print(f"error: {error}", flush=True)
    del probes[:], handlers[:], watches[:], sources[:]
    return ok


# ------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------

def theil_sen(points):
    """Median of pairwise slopes and the matching intercept: robust to a few outliers."""
    slopes = []
    for i in range(len(points)):
        for j in range(i + 1, len(points)):
            (x0, y0), (x1, y1) = points[i], points[j]
            if x1 != x0:
                slopes.append((y1 - y0) / (x1 - x0))
    slopes.sort()
    slope = median(slopes) if slopes else 0.0
    intercept = median(sorted(y - slope * x for x, y in points))
    return slope, intercept


def median(values):
    values = sorted(values)
    n = len(values)
    if n == 0:
        return float("nan")
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def parse_leaks(path):
    """The leaks tracer (1.22) logs one `object-alive` record per object still alive at
    gst_deinit (and `object-refings` ones with check-refs). Returns (count, {type: count})."""
    alive = {}
    count = 0
    if not path or not os.path.exists(path):
        return None, {}
    record = re.compile(r"object-alive, type-name=\(string\)([^,]+),")
    with open(path, errors="replace") as log:
        for line in log:
            match = record.search(line)
            if match is None or match.group(1) == "%s":  # %s: the record's format, logged at start
                continue
            count += 1
            alive[match.group(1)] = alive.get(match.group(1), 0) + 1
    return count, alive


def leaks_of_ours(leaks, by_type, baseline_types):
    """The objects alive at gst_deinit minus, type by type, as many as a pipeline WITHOUT this
    plugin leaves alive too (the baseline run of scripts/soak.sh: Debian's dtlsdec keeps one
    process-wide GstDtlsAgent with a generated certificate and never frees it)."""
    if leaks is None:
        return None, {}
    ours = {name: count - baseline_types.get(name, 0) for name, count in by_type.items()
            if count > baseline_types.get(name, 0)}
    return sum(ours.values()), ours


def report(args):
    with open(args.samples) as source:
        data = json.load(source)
    samples = data["samples"]
    meta = data["meta"]
    duration = samples[-1]["t"] if samples else 0
    warm_up = min(args.warm_up_s, duration / 3)
    after = [s for s in samples if s["t"] >= warm_up]
    summary = {"duration_s": round(duration, 1), "warm_up_s": round(warm_up, 1), "samples": len(samples),
               "samples_after_warm_up": len(after), "limit_percent": args.limit}
    failures = []
    if len(after) < 6:
        failures.append(f"only {len(after)} samples after warm-up")
    informative = ["malloc_in_use_kb"] if after and after[0].get("malloc_in_use_kb") is not None else []
    # With every large block mmapped (meta["mmap_threshold"], set by scripts/soak.sh), RSS is
    # the rest of the process plus exactly the frames alive at the sampling instant: the rest
    # ("rss_beyond_frames_kb") is what must not grow, and the number of frames alive must not
    # trend up. Without it, RSS moves by whole frames and only the fit of RSS is checked.
    exact = bool(meta.get("mmap_threshold")) and all(s.get("mapped_kb") is not None for s in samples)
    summary["frames_accounted"] = exact
    if exact:
        for s in samples:
            s["rss_beyond_frames_kb"] = s["rss_kb"] - s["mapped_kb"]
    checked = (["rss_beyond_frames_kb"] if exact else []) + ["rss_kb", "fds", "threads"]
    fit_only = {"rss_kb"} if exact else set()
    for metric in checked + informative:
        if len(after) < 2:
            break
        points = [(s["t"], s[metric]) for s in after]
        slope, intercept = theil_sen(points)
        start_fit = intercept + slope * after[0]["t"]
        end_fit = intercept + slope * after[-1]["t"]
        growth_fit = 100.0 * (end_fit - start_fit) / start_fit if start_fit else float("nan")
        # The first and the last 5 minutes after warm-up (a quarter of what follows warm-up in a
        # shorter run): their medians. A single sample is noisy: RSS moves by whole 1080p RGBA
        # frames (7.9 MiB each) with the number of frames in flight at that instant.
        k = max(1, min(30, len(after) // 4))
        first = median(s[metric] for s in after[:k])
        last = median(s[metric] for s in after[-k:])
        growth_medians = 100.0 * (last - first) / first if first else float("nan")
        mean_first = sum(s[metric] for s in after[:k]) / k
        mean_last = sum(s[metric] for s in after[-k:]) / k
        entry = {
            "at_warm_up_end": after[0][metric], "at_end": after[-1][metric],
            "min_after_warm_up": min(s[metric] for s in after), "max_after_warm_up": max(s[metric] for s in after),
            "window_samples": k,
            "median_first": first, "median_last": last, "growth_percent_medians": round(growth_medians, 3),
            "mean_first": round(mean_first, 1), "mean_last": round(mean_last, 1),
            "growth_percent_means": round(100.0 * (mean_last - mean_first) / mean_first, 3) if mean_first else None,
            "theil_sen_slope_per_hour": round(slope * 3600, 2),
            "growth_percent_fit": round(growth_fit, 3),
        }
        summary[metric] = entry
        worst = growth_fit if metric in fit_only else max(growth_medians, growth_fit)  # shrinking is not growth
        entry["criterion"] = "fit" if metric in fit_only else "medians and fit"
        if metric not in informative and not worst <= args.limit:
            failures.append(f"{metric} grew {growth_medians:.2f}% (medians) / {growth_fit:.2f}% (fit) after warm-up")
    if exact and len(after) >= 2:
        # Frames alive: a count of a few, so the limit is absolute: the fit over the run after
        # warm-up may not rise by one whole frame.
        slope, intercept = theil_sen([(s["t"], s["mapped_blocks"]) for s in after])
        rise = slope * (after[-1]["t"] - after[0]["t"])
        counts = [s["mapped_blocks"] for s in after]
        summary["mapped_blocks"] = {
            "min_after_warm_up": min(counts), "max_after_warm_up": max(counts),
            "median_first": median(counts[:max(1, min(30, len(after) // 4))]),
            "median_last": median(counts[-max(1, min(30, len(after) // 4)):]),
            "fit_rise_over_run": round(rise, 3), "criterion": "fit rises by less than 1 block",
        }
        if not rise < 1:
            failures.append(f"the large blocks alive (frames) rose by {rise:.2f} over the run after warm-up (fit)")
    if samples:
        last, first = samples[-1], samples[0]
        span = last["t"] - first["t"]
        warm = after[0] if after else first
        span_after = last["t"] - warm["t"]
        summary["frames"] = {key: last[key] for key in ("video_sent", "video_decoded", "video_intact", "audio_sent",
                                                        "audio_decoded", "raw_in", "raw_discarded", "raw_out",
                                                        "encrypted", "decrypted", "refused", "key_rotations")}
        summary["fps"] = {
            "raw_out_mean": round((last["raw_out"] - first["raw_out"]) / span, 2) if span else 0,
            "raw_out_after_warm_up": round((last["raw_out"] - warm["raw_out"]) / span_after, 2) if span_after else 0,
            "call_video_decoded_mean": round((last["video_decoded"] - first["video_decoded"]) / span, 2) if span else 0,
            "call_video_intact_share": round(last["video_intact"] / last["video_decoded"], 4) if last["video_decoded"] else 0,
            "call_audio_decoded_per_s": round((last["audio_decoded"] - first["audio_decoded"]) / span, 2) if span else 0,
        }
        intervals = []
        for previous, sample in zip(samples, samples[1:]):
            dt = sample["t"] - previous["t"]
            intervals.append((sample["raw_out"] - previous["raw_out"]) / dt if dt else 0)
        if intervals:
            summary["fps"]["raw_out_min_10s"] = round(min(intervals), 2)
            summary["fps"]["raw_out_max_10s"] = round(max(intervals), 2)
        summary["load1_mean"] = round(sum(s["load1"] for s in samples) / len(samples), 2)
        summary["cpu_percent_mean"] = round(100 * (last["cpu_s"] - first["cpu_s"]) / span, 1) if span else 0
        if last["video_decoded"] == 0 or last["raw_out"] == 0:
            failures.append("a stream never ran")
        if last["refused"]:
            failures.append(f"{last['refused']} frames refused by the receivers")
    summary["errors"] = data.get("error_count", 0)
    if summary["errors"]:
        failures.append(f"{summary['errors']} error messages")
    leaks, by_type = parse_leaks(args.leaks)
    baseline, baseline_types = parse_leaks(args.baseline_leaks) if args.baseline_leaks else (None, {})
    ours, ours_by_type = leaks_of_ours(leaks, by_type, baseline_types)
    summary["leaks"] = leaks
    summary["leaks_by_type"] = by_type
    summary["baseline_leaks_without_plugin"] = baseline_types
    summary["leaks_not_in_baseline"] = ours
    summary["leaks_not_in_baseline_by_type"] = ours_by_type
    if leaks is None:
        failures.append("no leaks tracer log")
    elif ours:
        failures.append(f"{ours} objects alive at gst_deinit (beyond the baseline without the plugin): {ours_by_type}")
    summary["complete_run"] = bool(data.get("complete"))
    if not summary["complete_run"]:
        failures.append("the run did not finish (no teardown)")
    summary["failures"] = failures
    summary["pass"] = not failures
    data["summary"] = summary
    with open(args.samples, "w") as out:
        json.dump(data, out, indent=1)
    if args.plot:
        plot(samples, warm_up, summary, meta, args.plot)
    print(json.dumps(summary, indent=1))
    print("soak: PASS" if not failures else "soak: FAIL: " + "; ".join(failures))
    return 0 if not failures else 1


def plot(samples, warm_up, summary, meta, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [s["t"] / 60 for s in samples]
    fig, axes = plt.subplots(4, 1, figsize=(10, 11), sharex=True)
    panels = [
        ("resident memory (MiB)", [s["rss_kb"] / 1024 for s in samples], "rss_kb"),
        ("open file descriptors", [s["fds"] for s in samples], "fds"),
        ("threads", [s["threads"] for s in samples], "threads"),
    ]
    for axis, (label, values, metric) in zip(axes, panels):
        axis.plot(minutes, values, marker=".", linewidth=1, label="VmRSS" if metric == "rss_kb" else None)
        if metric == "rss_kb" and samples[0].get("malloc_in_use_kb") is not None:
            in_use = [s["malloc_in_use_kb"] / 1024 for s in samples]
            axis.plot(minutes, in_use, linewidth=1, color="tab:purple", label="malloc'd, not freed (mallinfo2)")
            values = values + in_use
        if metric == "rss_kb" and summary.get("frames_accounted"):
            beyond = [s["rss_beyond_frames_kb"] / 1024 for s in samples]
            axis.plot(minutes, beyond, linewidth=1, color="tab:orange", label="VmRSS minus the frames alive (mmapped blocks)")
            values = values + beyond
        axis.set_ylabel(label)
        axis.axvspan(0, warm_up / 60, color="0.9", label="warm-up")
        entry = summary.get("rss_beyond_frames_kb" if metric == "rss_kb" and summary.get("frames_accounted") else metric)
        if entry:
            scale = 1024 if metric == "rss_kb" else 1
            base = entry["median_first"] / scale
            limit = summary["limit_percent"] / 100
            axis.fill_between([warm_up / 60, minutes[-1]], base * (1 - limit), base * (1 + limit), color="tab:green",
                              alpha=0.15, label=f"±{summary['limit_percent']:g}% of the first 5 min's median")
            show = (lambda v: f"{v / 1024:.1f} MiB") if metric == "rss_kb" else str
            what = "beyond the frames alive" if entry is summary.get("rss_beyond_frames_kb") else label
            axis.set_title(f"{what}: {show(entry['at_warm_up_end'])} at end of warm-up, {show(entry['at_end'])} at end; "
                           f"growth {entry['growth_percent_medians']:+.2f}% (medians), {entry['growth_percent_fit']:+.2f}% (fit)",
                           fontsize=9)
        low, high = min(values), max(values)
        pad = max(1.0, 0.05 * high)
        axis.set_ylim(max(0, low - pad), high + pad)
        axis.grid(alpha=0.3)
        axis.legend(loc="lower right", fontsize=8)
    raw_fps, call_fps, intact_fps = [], [], []
    for previous, sample in zip(samples, samples[1:]):
        dt = sample["t"] - previous["t"]
        raw_fps.append((sample["raw_out"] - previous["raw_out"]) / dt if dt else 0)
        call_fps.append((sample["video_decoded"] - previous["video_decoded"]) / dt if dt else 0)
        intact_fps.append((sample["video_intact"] - previous["video_intact"]) / dt if dt else 0)
    axis = axes[3]
    axis.plot(minutes[1:], raw_fps, label="raw 1080p sepia ! mirror, out of the generator", linewidth=1)
    axis.plot(minutes[1:], call_fps, label="call: video decoded (SFrame)", linewidth=1)
    axis.plot(minutes[1:], intact_fps, label="call: video intact", linewidth=1, linestyle="--")
    axis.axvspan(0, warm_up / 60, color="0.9")
    axis.set_ylabel("frames per second")
    axis.set_xlabel("minutes")
    axis.set_ylim(0, 35)
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right", fontsize=8)
    leaks = summary.get("leaks")
    fig.suptitle(f"Soak, {summary['duration_s'] / 60:.1f} min: E2EE webrtcbin call + raw 1080p track, one process "
                 f"({meta.get('cpus')} cores, mean load {summary.get('load1_mean')})\n"
                 f"leaks tracer: {leaks} alive ({summary.get('leaks_not_in_baseline')} beyond GStreamer's own)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(path, dpi=80)
    print(f"wrote {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run")
    run_parser.add_argument("--minutes", type=float, default=30)
    run_parser.add_argument("--rotate-s", type=int, default=60, help="key rotation period, 0: never")
    run_parser.add_argument("--out", required=True)
    run_parser.add_argument("--no-pin", action="store_true", help="ICE on every interface, not only 127.0.0.1")
    report_parser = sub.add_parser("report")
    report_parser.add_argument("--samples", required=True)
    report_parser.add_argument("--leaks")
    report_parser.add_argument("--plot")
    report_parser.add_argument("--baseline-leaks", help="the leaks tracer's log of a pipeline without the plugin")
    report_parser.add_argument("--warm-up-s", type=float, default=WARM_UP_DEFAULT_S)
    report_parser.add_argument("--limit", type=float, default=2.0, help="allowed growth after warm-up, percent")
    args = parser.parse_args()
    if args.command == "run":
        ok = run(args)  # its locals (pipelines, closures, wrappers) go with its frame
        gc.collect()
        from gi.repository import Gst
        Gst.deinit()  # the leaks tracer reports here
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0 if ok else 1)  # no Python finalizer may touch GStreamer after deinit
    else:
        sys.exit(report(args))


if __name__ == "__main__":
    main()
