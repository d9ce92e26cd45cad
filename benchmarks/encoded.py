"""The Encoded transforms section: rtpscripttransform on pre-encoded VP8 and Opus streams.

A 1920x1080 VP8 stream (vp8enc, written into an IVF file several times over) and an Opus stream
(opusenc, Ogg) are encoded once into a temporary folder; then `filesrc ! ivfparse|oggdemux ! X !
fakesink` is timed for X = `rtpscripttransform worker=identity`, `queue` (both one thread hop) and
nothing (baseline), in interleaved rounds, plus `worker=negate` / `negate clear=none` (and
`rtpvp8pay ! srtpenc` as a C reference) on the VP8 stream for bytes/s. Wall time and the
process's CPU time are both recorded.

With a baseline plugin (bench.py --baseline-plugin), `worker=identity` also runs in the baseline
child process (the other build of the plugin) as one more variant of the same rounds, placed right
after ours ("identity_baseline").
"""
import os
import statistics
import struct
import tempfile
import time

from harness import Gst, Hang, RunError, run_in_child, run_to_eos, spread
from report import mbs_text

# Caps-compatible with rtpscripttransform's pad templates; the queue gets the element's limit.
QUEUE = "queue max-size-buffers=60 max-size-bytes=0 max-size-time=0"
OURS = "rtpscripttransform name=xform max-pending-frames=60 worker=\"{worker}\""
SRTP_KEY = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d"  # 16-byte key + 14-byte salt
SRTP_SETTINGS = "rtp-cipher=aes-128-icm rtp-auth=null"
SRTP = f"srtpenc key={SRTP_KEY} {SRTP_SETTINGS}"
TARGET = 1.10
BASELINE = "identity_baseline"  # the variant key of `worker=identity` run with the baseline plugin
REQUIRED_ELEMENTS = ("rtpscripttransform", "vp8enc", "ivfparse", "opusenc", "oggmux", "oggdemux", "rtpvp8pay",
                     "appsink")


# ---------------------------------------------------------------------------------------------
# Child side.

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


def prepare(request):
    """Encodes the VP8 and Opus streams of the section into request["dir"]: an IVF file of
    `unique` VP8 frames written `repeat` times in a row (timestamps keep rising; each copy starts
    with a key frame), and an Ogg/Opus file of `audio_frames` 20 ms frames."""
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
    return {"video": {"parse": video_parse, "frames": unique * repeat, "unique": unique,
                      "repeat": repeat, "width": width, "height": height, "bitrate": request["bitrate"],
                      "bytes": sum(sizes) * repeat, "mean": statistics.fmean(sizes), "min": min(sizes),
                      "max": max(sizes), "key_frames": sum(1 for _, delta in frames if not delta) * repeat,
                      "rtp_packets": packets, "source": video_source, "encoder": encoder,
                      "encode_seconds": video_seconds},
            "audio": {"parse": f"filesrc location={ogg} ! oggdemux", "frames": audio_frames,
                      "encoded_packets": encoded["packets"], "encoded_bytes": encoded["bytes"],
                      "source": description, "encode_seconds": audio_seconds}}


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


def check(request):
    """On the first `count` buffers of each stream: identity passes the bytes unchanged, negate
    leaves a clear prefix (what payloaders parse) and inverts every byte after it, `negate
    clear=none` inverts every byte. Also returns the share of the bytes negate left clear."""
    video_parse, audio_parse, count = request["video"], request["audio"], request["count"]
    results, clear = [], {}
    sink = "appsink name=out sync=false max-buffers=0"
    for kind, parse in (("VP8", video_parse), ("Opus", audio_parse)):
        original = grab_many(f"{parse} ! {sink}", count)
        identity = grab_many(f"{parse} ! {OURS.format(worker='identity')} ! {sink}", count)
        negated = grab_many(f"{parse} ! {OURS.format(worker='negate')} ! {sink}", count)
        negated_all = grab_many(f"{parse} ! {OURS.format(worker='negate clear=none')} ! {sink}", count)
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


HANDLERS = {"prepare_encoded": prepare, "check_encoded": check}


# ---------------------------------------------------------------------------------------------
# Parent side.

def interleaved(child, name, variants, rounds, timeout_s, failures, runners=None):
    """variants: [(key, description, expected frames)]. One unmeasured warm-up run of each, then
    `rounds` rounds, each running every variant once (reversed order every other round), in the
    child process `runners[key]` (default: `child`).
    Returns the complete rounds as [{key: wall seconds, "cpu:" + key: CPU seconds,
    "cs:" + key: context switches}] and the last counters of each variant."""
    print(f"\n== {name}: {rounds} rounds", flush=True)
    runners = runners or {}

    def run(key, description, expected):
        return run_in_child(runners.get(key, child), description, expected, timeout_s, failures)

    for key, description, expected in variants:
        run(key, description, expected)
    complete, counters = [], {}
    for round_index in range(rounds):
        order = variants if round_index % 2 == 0 else list(reversed(variants))
        per_round = {}
        for key, description, expected in order:
            response = run(key, description, expected)
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


def mbs(total_bytes, seconds):
    """MB/s (10^6 bytes/s), None when `seconds` is not positive (no extra time to divide by)."""
    return total_bytes / seconds / 1e6 if seconds > 0 else None


def measure(child, args, failures, baseline_child=None):
    """The section's dict, or None if it could not run. With `baseline_child`, `worker=identity`
    runs with the baseline plugin too (see interleaved())."""
    missing = [name for name in REQUIRED_ELEMENTS if Gst.ElementFactory.find(name) is None]
    if missing:
        failures.append(f"Encoded transforms not run: missing elements {', '.join(missing)}")
        return None
    folder = tempfile.mkdtemp(prefix="encoded-", dir=os.environ.get("TMPDIR", "/tmp"))
    try:
        return _measure(child, args, failures, folder, baseline_child)
    finally:
        for entry in os.listdir(folder):
            os.unlink(os.path.join(folder, entry))
        os.rmdir(folder)


def _measure(child, args, failures, folder, baseline_child):
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
    if baseline_child is not None:
        try:
            response = baseline_child.call({"op": "check_encoded", "video": video["parse"], "audio": audio["parse"],
                                            "count": video["unique"]}, 300)
            if response.get("ok"):
                checks += [{**entry, "check": "baseline plugin: " + entry["check"]}
                           for entry in response["checks"] if "worker=identity" in entry["check"]]
            else:
                failures.append(f"the encoded checks with the baseline plugin failed: {response['error']}")
        except Hang as error:
            failures.append(f"the encoded checks with the baseline plugin hung: {error}")
    for entry in checks:
        print(f"  {entry['check']}: {entry['outcome']}{'' if entry['ok'] else '  <-- CHECK FAILED'}", flush=True)
        if not entry["ok"]:
            failures.append(f"check failed: {entry['check']}")

    sink = "fakesink name=sink sync=false"
    ours = lambda worker: OURS.format(worker=worker)  # noqa: E731
    n, a = video["frames"], audio["frames"]
    video_variants = [
        ("none", f"{video['parse']} ! {sink}", n),
        ("queue", f"{video['parse']} ! {QUEUE} ! {sink}", n),
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
        ("queue", f"{audio['parse']} ! {QUEUE} ! {sink}", a),
        ("identity", f"{audio['parse']} ! {ours('identity')} ! {sink}", a),
    ]
    runners = {}
    if baseline_child is not None:  # right after ours: the same description, the other plugin
        for variants in (video_variants, audio_variants):
            index = next(i for i, (key, _, _) in enumerate(variants) if key == "identity")
            variants.insert(index + 1, (BASELINE, variants[index][1], variants[index][2]))
        runners[BASELINE] = baseline_child
    shown = ("width", "height", "source", "encoder", "unique", "repeat", "frames", "bytes", "mean", "min", "max",
             "key_frames", "rtp_packets")
    section = {"settings": {"rounds": args.encoded_rounds}, "target": TARGET,
               "element": OURS.format(worker="W"), "queue": QUEUE,
               "srtp": f"srtpenc {SRTP_SETTINGS}" if srtp else None,
               "video": {key: video[key] for key in shown},
               "audio": {"source": audio["source"].replace(folder, "<dir>"),
                         **{key: audio[key] for key in ("encoded_packets", "encoded_bytes", "frames")}},
               "checks": checks, "clear": clear, "streams": []}
    for stream, variants, frames in (("VP8", video_variants, n), ("Opus", audio_variants, a)):
        rounds, counters = interleaved(child, f"encoded, {stream}: {frames} frames", variants,
                                       args.encoded_rounds, args.timeout, failures, runners)
        if not rounds:
            continue
        entry = _stream(stream, variants, frames, rounds, counters, video["bytes"], folder)
        section["streams"].append(entry)
        _print_stream(entry, [key for key, _, _ in variants], video["bytes"])
    return section


def _stream(stream, variants, frames, rounds, counters, video_bytes, folder):
    """One stream's figures from its complete rounds."""
    us = lambda seconds: seconds / frames * 1e6  # noqa: E731
    keys = [key for key, _, _ in variants]

    def per_frame(prefix):
        result = {}
        for key in keys:
            values = [us(r[prefix + key]) for r in rounds]
            result[key] = {"median": statistics.median(values), "all": values}
        return result

    entry = {"name": stream, "n": frames, "rounds": len(rounds), "counters": counters,
             "pipelines": {key: description.replace(folder, "<dir>") for key, description, _ in variants},
             "per_frame": per_frame(""), "cpu_per_frame": per_frame("cpu:"),
             "switches": {key: statistics.median([r["cs:" + key] / frames for r in rounds]) for key in keys},
             "whole": spread([r["identity"] / r["queue"] for r in rounds])}
    for prefix, name in (("", "hop"), ("cpu:", "cpu_hop")):
        ours_hop = [r[prefix + "identity"] - r[prefix + "none"] for r in rounds]
        queue_hop = [r[prefix + "queue"] - r[prefix + "none"] for r in rounds]
        ratios = [o / q for o, q in zip(ours_hop, queue_hop) if q > 0]
        entry[name + "_ours"] = statistics.median([us(v) for v in ours_hop])
        entry[name + "_queue"] = statistics.median([us(v) for v in queue_hop])
        entry[name] = spread(ratios) if ratios else None
        entry[name + "_skipped"] = len(rounds) - len(ratios)
    for key in ("whole", "hop", "cpu_hop"):
        if entry[key] is not None:
            entry[key]["met"] = entry[key]["median"] <= TARGET
    if BASELINE in keys:
        entry["baseline"] = _baseline(rounds, us)
    if stream == "VP8":
        entry["costs"] = {}
        for key, reference in (("negate", "identity"), ("negate_all", "identity"), ("srtp", "pay")):
            if key in keys:
                cost = {}
                for prefix, name in (("", ""), ("cpu:", "cpu_")):
                    seconds = [r[prefix + key] - r[prefix + reference] for r in rounds]
                    cost[name + "us"] = spread([us(v) for v in seconds])
                    cost[name + "mbs"] = {"median": mbs(video_bytes, statistics.median(seconds)),
                                          "low": mbs(video_bytes, max(seconds)),
                                          "high": mbs(video_bytes, min(seconds))}
                entry["costs"][key] = cost
    return entry


def _baseline(rounds, us):
    """The baseline plugin's `worker=identity` in the same rounds: its ratios to queue (as ours:
    whole pipeline, per hop wall and CPU) and ours / baseline, per round, as median [min-max]."""
    result = {"whole": spread([r[BASELINE] / r["queue"] for r in rounds]),
              "after_before": {"whole": spread([r["identity"] / r[BASELINE] for r in rounds])}}
    for prefix, name in (("", "hop"), ("cpu:", "cpu_hop")):
        before = [r[prefix + BASELINE] - r[prefix + "none"] for r in rounds]
        after = [r[prefix + "identity"] - r[prefix + "none"] for r in rounds]
        queue = [r[prefix + "queue"] - r[prefix + "none"] for r in rounds]
        ratios = [b / q for b, q in zip(before, queue) if q > 0]
        result[name] = spread(ratios) if ratios else None
        result[name + "_skipped"] = len(rounds) - len(ratios)
        result[name + "_baseline"] = statistics.median([us(v) for v in before])
        ratios = [o / b for o, b in zip(after, before) if b > 0]
        result["after_before"][name] = spread(ratios) if ratios else None
        result["after_before"][name + "_skipped"] = len(rounds) - len(ratios)
    return result


def _print_stream(entry, keys, video_bytes):
    stream = entry["name"]
    print(f"  {stream}: per frame (median us): " + ", ".join(
        f"{key} {entry['per_frame'][key]['median']:.2f}" for key in keys), flush=True)
    print(f"  {stream}: whole-pipeline identity/queue {entry['whole']['median']:.3f} "
          f"[{entry['whole']['min']:.3f}-{entry['whole']['max']:.3f}]; per hop "
          + (f"{entry['hop']['median']:.3f} [{entry['hop']['min']:.3f}-{entry['hop']['max']:.3f}]"
             if entry["hop"] else "n/a") + f"; target <= {TARGET}", flush=True)
    print(f"  {stream}: context switches per frame: " + ", ".join(
        f"{key} {entry['switches'][key]:.2f}" for key in keys), flush=True)
    print(f"  {stream}: CPU per hop identity/queue " + (
        f"{entry['cpu_hop']['median']:.3f} [{entry['cpu_hop']['min']:.3f}-{entry['cpu_hop']['max']:.3f}] "
        f"({entry['cpu_hop_ours']:.2f} vs {entry['cpu_hop_queue']:.2f} us CPU/frame)"
        if entry["cpu_hop"] else "n/a"), flush=True)
    if "baseline" in entry:
        b = entry["baseline"]
        text = lambda s: f"{s['median']:.3f} [{s['min']:.3f}-{s['max']:.3f}]" if s else "n/a"  # noqa: E731
        print(f"  {stream}: baseline plugin/queue: whole {text(b['whole'])}, per hop {text(b['hop'])}, "
              f"per hop CPU {text(b['cpu_hop'])}", flush=True)
        print(f"  {stream}: ours/baseline plugin: whole {text(b['after_before']['whole'])}, per hop "
              f"{text(b['after_before']['hop'])}, per hop CPU {text(b['after_before']['cpu_hop'])}", flush=True)
    for key, cost in entry.get("costs", {}).items():
        print(f"  {stream}: {key}: wall {cost['us']['median']:+.2f} us/frame, {mbs_text(cost['mbs']['median'])}; "
              f"CPU {cost['cpu_us']['median']:+.2f} us/frame, {mbs_text(cost['cpu_mbs']['median'])}", flush=True)


def print_summary(section):
    for s in section["streams"]:
        pf = s["per_frame"]
        print(f"encoded {s['name']}: us/frame baseline {pf['none']['median']:.2f}, identity {pf['identity']['median']:.2f}, "
              f"queue {pf['queue']['median']:.2f}; identity/queue whole {s['whole']['median']:.3f} "
              f"[{s['whole']['min']:.3f}-{s['whole']['max']:.3f}]"
              + (f", per hop {s['hop']['median']:.3f} [{s['hop']['min']:.3f}-{s['hop']['max']:.3f}] "
                 f"({s['hop_ours']:.2f} vs {s['hop_queue']:.2f} us)" if s["hop"] else "")
              + (f", per hop CPU {s['cpu_hop']['median']:.3f} [{s['cpu_hop']['min']:.3f}-{s['cpu_hop']['max']:.3f}] "
                 f"({s['cpu_hop_ours']:.2f} vs {s['cpu_hop_queue']:.2f} us)" if s["cpu_hop"] else "")
              + f" (target <= {TARGET})")
        for key, cost in s.get("costs", {}).items():
            print(f"encoded {s['name']}: {key}: wall {cost['us']['median']:+.2f} us/frame, "
                  f"{mbs_text(cost['mbs']['median'])}; CPU {cost['cpu_us']['median']:+.2f} us/frame, "
                  f"{mbs_text(cost['cpu_mbs']['median'])}")
