"""The raw-frame section: trackprocessor/trackgenerator against GStreamer's C elements.

Throughput: each comparison runs ROUNDS rounds; a round plays every variant once (the order is
reversed every other round), each variant from READY to EOS over N frames of 1920x1080
`videotestsrc pattern=black`. Time/frame = wall time from set_state(PLAYING) to the EOS message,
divided by N. Per round, ratio = ours / C; we report the median of the per-round ratios with
min and max. Every run checks that all N frames reached the final fakesink (its `stats`
property: rendered, dropped) and, for our chain, that the processor and the generator counted
N frames and discarded none; except the comparison with a 4-frame ring ("drop"), which drops
frames on purpose: there every frame must be accounted for, and the drops are reported.

Latency: a live 30 fps pipeline; pad probes stamp time.monotonic_ns() when a buffer enters the
processor's (or queue's) sink pad and when it leaves the generator's (or queue's) src pad,
matched by PTS; the first WARMUP frames are ignored.

Buffer copies: every throughput pipeline once more, untimed, counting GST_PERFORMANCE messages.

With a baseline plugin (bench.py --baseline-plugin), our variant of every throughput comparison
runs once more per round, in the baseline child process (the other build of the plugin): one more
variant of the same interleaved rounds, last in the order (first in the reversed rounds).
"""
import statistics
import time

from harness import Gst, Hang, RunError, percentile, run_in_child, run_to_eos, spread

SRC = "videotestsrc num-buffers={n} pattern=black ! video/x-raw,format=%s,width=1920,height=1080"
OURS = ("trackprocessor name=proc worker=%s pipe-to=gen sync=false max-buffer-size=%d "
        "trackgenerator name=gen ! fakesink name=sink sync=false")
RING = 1024
QUEUE = "queue max-size-buffers=1024 max-size-bytes=0 max-size-time=0"
# The "drop" comparison: both hold at most 4 frames and drop the oldest when full.
DROP_RING = 4
DROP_QUEUE = "queue max-size-buffers=4 max-size-bytes=0 max-size-time=0 leaky=downstream"
# In GStreamer 1.22.0 `videoflip method=horizontal-flip` (the deprecated property) leaves the
# frames unchanged; `video-direction=horiz` flips. check_references() verifies this each run.
VIDEOFLIP = "videoflip video-direction=horiz"
VIDEOFLIP_METHOD = "videoflip method=horizontal-flip"
KEYS = ("hop", "drop", "mirror", "sepia", "latency")  # the parts `--only` can pick
BASELINE_SUFFIX = " [baseline plugin]"  # our label + this = the label of the baseline plugin's variant
REQUIRED_ELEMENTS = ("videotestsrc", "videoflip", "coloreffects", "queue", "fakesink", "appsink")


def ours(fmt, worker, ring=RING):
    return (SRC % fmt) + " ! " + (OURS % (worker, ring))


def reference(fmt, chain):
    return (SRC % fmt) + f" ! {chain} ! fakesink name=sink sync=false"


# ---------------------------------------------------------------------------------------------
# Child side.

def run_latency(pipeline, request):
    description, warmup, count, timeout_s = (request["pipeline"], request["warmup"], request["count"],
                                             request["timeout"])
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

    pipeline.get_by_name(request["in"]).get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, on_enter)
    pipeline.get_by_name(request["out"]).get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_leave)
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
            "min": min(values), "max": max(values)}


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


def check_references(request):
    """Checks on a small SMPTE frame that every element compared really does the work:
    our mirror and videoflip give the same horizontally flipped picture, sepia and coloreffects
    change it, identity and queue do not."""
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
    return {"checks": [{"check": c, "outcome": bool(o), "ok": bool(k)} for c, o, k in results]}


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


def count_copies(request):
    """Plays the pipeline to EOS while counting two GST_PERFORMANCE debug messages: a GstBuffer
    copied by gst_buffer_make_writable because it was shared, and a buffer pool discarding a
    returned buffer because its memory was still shared (the pool then allocates a new one).
    Replaces the default debug log function, so the parent runs this after the timed runs."""
    description = request["pipeline"]
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
        run_to_eos(pipeline, description, request["n"], request["timeout"], request["lossy"])
    finally:
        LOG_TARGET[0] = None
        pipeline.set_state(Gst.State.NULL)
    return counts


HANDLERS = {"check": check_references, "copies": count_copies}
PIPELINE_HANDLERS = {"latency": run_latency}


# ---------------------------------------------------------------------------------------------
# Parent side.

def throughput(child, plan, failures, baseline_child=None):
    """plan["variants"]: list of (label, description); the first is ours, the others references.
    With plan["lossy"], frames may be dropped: the runs check that every frame is accounted for,
    and the frames delivered and dropped per round are recorded. With `baseline_child`, ours runs
    there too (the baseline plugin), as the last variant of every round."""
    name, variants, n, rounds, target, lossy = (plan["name"], plan["variants"], plan["n"], plan["rounds"],
                                                plan["target"], plan["lossy"])
    timeout_s = plan["timeout"]
    ours_label = variants[0][0]
    runs = [(label, description, child) for label, description in variants]
    baseline_label = None
    if baseline_child is not None:
        baseline_label = ours_label + BASELINE_SUFFIX
        runs.append((baseline_label, variants[0][1], baseline_child))
    print(f"\n== {name}: {n} frames x {rounds} rounds", flush=True)

    def run(runner, description, frames):
        return run_in_child(runner, description.format(n=frames), frames, timeout_s, failures, lossy)

    for label, description, runner in runs:  # warm-up: page in code, grow pools, fill caches
        run(runner, description, min(n, 60))
    times = {label: [] for label, _, _ in runs}
    frames = {}
    complete_rounds, complete_counters = [], []
    for round_index in range(rounds):
        order = runs if round_index % 2 == 0 else list(reversed(runs))
        line, per_round, counters = [], {}, {}
        for label, description, runner in order:
            response = run(runner, description, n)
            if response is None:
                line.append(f"{label} FAILED")
                continue
            per_round[label] = response["seconds"] / n * 1000
            frames[label] = counters[label] = response["counters"]
            line.append(f"{label} {per_round[label]:.3f} ms")
        print(f"  round {round_index + 1}: " + ", ".join(line), flush=True)
        if len(per_round) == len(runs):
            complete_rounds.append(per_round)
            complete_counters.append(counters)
            for label in per_round:
                times[label].append(per_round[label])
    if not complete_rounds:
        return None
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
        if baseline_label:
            # The same rounds: baseline / C, and ours / baseline (the same for every reference).
            c["baseline_ratio"] = spread([r[baseline_label] / r[label] for r in complete_rounds])
            c["after_before"] = spread([r[ours_label] / r[baseline_label] for r in complete_rounds])
            print(f"  baseline/{label}: median {c['baseline_ratio']['median']:.3f} "
                  f"[{c['baseline_ratio']['min']:.3f}-{c['baseline_ratio']['max']:.3f}]", flush=True)
    baseline_counters = frames.pop(baseline_label, None)
    result = {"key": plan["key"], "name": name, "n": n, "rounds": len(complete_rounds), "target": target,
              "note": plan["note"], "ours": ours_label, "ours_pipeline": variants[0][1].format(n=n),
              "ours_ms": statistics.median(times[ours_label]), "ours_all": times[ours_label],
              "frames": frames, "comparisons": comparisons}
    if baseline_label:
        result["baseline"] = {"label": baseline_label, "ms": statistics.median(times[baseline_label]),
                              "all": times[baseline_label], "frames": baseline_counters,
                              "after_before": spread([r[ours_label] / r[baseline_label] for r in complete_rounds])}
        ab = result["baseline"]["after_before"]
        print(f"  ours/baseline plugin: median {ab['median']:.3f} [{ab['min']:.3f}-{ab['max']:.3f}] "
              f"({result['ours_ms']:.3f} vs {result['baseline']['ms']:.3f} ms/frame)", flush=True)
    if lossy:
        result["drops"] = {}
        for label, _, _ in runs:
            delivered = [counters[label]["rendered"] for counters in complete_counters]
            dropped = [n - value for value in delivered]
            entry = {"delivered": spread(delivered), "dropped": spread(dropped), "dropped_all": dropped}
            if label == baseline_label:
                result["baseline"]["drops"] = entry
            else:
                result["drops"][label] = entry
            print(f"  {label}: dropped {statistics.median(dropped):g} of {n} frames per run "
                  f"[{min(dropped)}-{max(dropped)}]", flush=True)
    return result


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


def plans(args, wanted):
    """The throughput comparisons `wanted` picks, in the order they run."""
    n = args.frames
    common = {"timeout": args.timeout, "lossy": False, "note": None, "rounds": args.rounds, "n": n}
    result = []
    if wanted("hop"):
        result.append({**common, "key": "hop", "name": "a. hop, I420", "n": args.hop_frames,
                       "rounds": args.hop_rounds, "target": 1.05,
                       "variants": [("trackprocessor worker=identity", ours("I420", "identity")),
                                    ("queue", reference("I420", QUEUE))],
                       "note": "both one thread hop; nothing is done to the pixels. At a few tenths of a ms per "
                               "frame most of the time is the source copying its cached 3 MB black frame into each "
                               "buffer (see the source-alone figure), and the rest depends on how buffers are "
                               "recycled (memory and cache effects, see the buffer-copies table) as much as on the "
                               "hop, so this ratio moves a lot between runs on this machine; read it with its "
                               "[min-max] range."})
    if wanted("mirror"):
        for fmt in ("I420", "RGBA"):
            result.append({**common, "key": "mirror", "name": f"b. mirror, {fmt}", "target": 1.0,
                           "variants": [("trackprocessor worker=mirror", ours(fmt, "mirror")),
                                        (VIDEOFLIP, reference(fmt, VIDEOFLIP)),
                                        (f"queue ! {VIDEOFLIP}", reference(fmt, f"{QUEUE} ! {VIDEOFLIP}"))]})
    if wanted("sepia"):
        result.append({**common, "key": "sepia", "name": "c. sepia, RGBA", "target": 0.5,
                       "variants": [("trackprocessor worker=sepia", ours("RGBA", "sepia")),
                                    ("coloreffects preset=sepia", reference("RGBA", "coloreffects preset=sepia")),
                                    ("queue ! coloreffects preset=sepia",
                                     reference("RGBA", f"{QUEUE} ! coloreffects preset=sepia"))],
                       "note": "coloreffects accepts RGBA (gst-inspect-1.0 coloreffects), so both get the same RGBA "
                               "caps and nothing is converted. The two sepias are different formulas: ours is the "
                               "MDN 3x3 matrix per pixel; coloreffects maps each pixel's luma through a 256-entry "
                               "sepia table. Black input does not shorten either (no data-dependent branches)."})
    if wanted("drop"):
        result.append({**common, "key": "drop", "name": "d. hop with drops, I420", "n": args.hop_frames,
                       "rounds": args.hop_rounds, "target": 1.05, "lossy": True,
                       "variants": [(f"trackprocessor worker=identity max-buffer-size={DROP_RING}",
                                     ours("I420", "identity", DROP_RING)),
                                    ("queue leaky=downstream", reference("I420", DROP_QUEUE))],
                       "note": f"the hop of a. with room for only {DROP_RING} frames: our ring and `{DROP_QUEUE}` "
                               "both drop their oldest frame when a new one arrives while they are full, and the "
                               "source feeds them as fast as it can. Time is per INPUT frame (N), whatever was dropped; the "
                               "frames dropped by each are in the table below. So the runs are not N of N: "
                               "each is checked to account for every frame (processor `total-frames` = N, "
                               "generator `total-frames` = N - processor `discarded-frames` = fakesink rendered; "
                               "fakesink rendered <= N behind the queue)."})
    return result


LATENCY_SOURCE = "videotestsrc is-live=true ! video/x-raw,format=I420,width=1920,height=1080,framerate=30/1"
LATENCY_VARIANTS = [
    ("trackprocessor worker=identity (sync: default true)",
     f"{LATENCY_SOURCE} ! trackprocessor name=proc worker=identity pipe-to=gen trackgenerator name=gen ! "
     "fakesink sync=false", "proc", "gen"),
    ("trackprocessor worker=identity sync=false",
     f"{LATENCY_SOURCE} ! trackprocessor name=proc worker=identity pipe-to=gen sync=false trackgenerator name=gen ! "
     "fakesink sync=false", "proc", "gen"),
    ("queue", f"{LATENCY_SOURCE} ! queue name=q ! fakesink sync=false", "q", "q"),
]


def latencies(child, args, failures):
    results = []
    for label, description, first, last in LATENCY_VARIANTS:
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
        results.append({"label": label, "pipeline": description,
                        **{key: response[key] for key in ("count", "median", "p99", "min", "max", "unmatched",
                                                          "discarded")}})
        print(f"  median {response['median']:.3f} ms, p99 {response['p99']:.3f} ms, "
              f"min {response['min']:.3f}, max {response['max']:.3f}, unmatched {response['unmatched']}, "
              f"processor discarded {response['discarded']}", flush=True)
    return results


def copies(child, results, timeout_s, failures, baseline_child=None):
    """Buffer copies and pool discards of every throughput pipeline (untimed; after every timed run,
    since it replaces the child's debug log function); our pipelines also with the baseline plugin
    when there is one."""
    print("\n== buffer copies (GST_PERFORMANCE log, untimed runs)", flush=True)
    rows = []
    for result in results:
        pipelines = [(result["ours"], result["ours_pipeline"], child, False)]
        if baseline_child is not None and "baseline" in result:
            pipelines.append((result["ours"], result["ours_pipeline"], baseline_child, True))
        pipelines += [(c["reference"], c["reference_pipeline"], child, False) for c in result["comparisons"]]
        for label, description, runner, is_baseline in pipelines:
            if any(description == row["pipeline"] and is_baseline == row.get("baseline", False) for row in rows):
                continue
            try:
                response = runner.call({"op": "copies", "pipeline": description, "n": result["n"],
                                        "timeout": timeout_s, "lossy": "drops" in result}, timeout_s + 60)
            except Hang as error:
                failures.append(str(error))
                continue
            if not response.get("ok"):
                failures.append(response["error"])
                continue
            rows.append({"label": f"{result['name']}: `{label}`" + (", baseline plugin" if is_baseline else ""),
                         "n": result["n"], "pipeline": description, "copied": response["copied"],
                         "discarded": response["discarded"]})
            if is_baseline:
                rows[-1]["baseline"] = True
            print(f"  {result['name']}: {label}: {response['copied']} GstBuffer copies, "
                  f"{response['discarded']} pool discards for {result['n']} frames", flush=True)
    return rows


def measure(child, args, wanted, failures, baseline_child=None):
    """Everything of the section but the buffer copies (see copies()); returns the section's dict.
    With `baseline_child`, the throughput comparisons also run our variants with the baseline plugin
    (see throughput()), and the checks of our elements run with it too."""
    section = {"settings": {"rounds": args.rounds, "hop_rounds": args.hop_rounds,
                            "latency_frames": args.latency_frames, "latency_warmup": args.latency_warmup},
               "videoflip": VIDEOFLIP, "checks": [], "baselines": {}, "throughput": [], "latency": [],
               "copies": []}
    print("\n== checks")
    try:
        response = child.call({"op": "check"}, 120)
        if response.get("ok"):
            section["checks"] = response["checks"]
        else:
            failures.append(f"the element checks failed: {response['error']}")
    except Hang as error:
        failures.append(f"the element checks hung: {error}")
    if baseline_child is not None:
        try:
            response = baseline_child.call({"op": "check"}, 120)
            if response.get("ok"):
                section["checks"] += [{**check, "check": "baseline plugin: " + check["check"]}
                                      for check in response["checks"] if "trackprocessor" in check["check"]]
            else:
                failures.append(f"the element checks with the baseline plugin failed: {response['error']}")
        except Hang as error:
            failures.append(f"the element checks with the baseline plugin hung: {error}")
    for check in section["checks"]:
        print(f"  {check['check']}: {check['outcome']}{'' if check['ok'] else '  <-- CHECK FAILED'}")
        if not check["ok"]:
            failures.append(f"check failed: {check['check']}")

    if any(wanted(key) for key in ("hop", "drop", "mirror", "sepia")):
        print("\n== source alone (context)", flush=True)
        for fmt in ("I420", "RGBA"):
            value = baseline(child, fmt, args.frames, args.timeout, failures)
            section["baselines"][fmt] = value
            print(f"  {fmt}: {value:.3f} ms/frame" if value else f"  {fmt}: failed", flush=True)
    for plan in plans(args, wanted):
        result = throughput(child, plan, failures, baseline_child)
        if result is not None:
            section["throughput"].append(result)
    if wanted("latency"):
        section["latency"] = latencies(child, args, failures)
    return section


def print_table(section):
    results, latency = section["throughput"], section["latency"]
    if not results and not latency:
        return
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
    for result in results:
        if "baseline" in result:
            b = result["baseline"]
            print(f"{result['name']}: baseline plugin {b['ms']:.3f} ms/frame; ours/baseline "
                  f"{b['after_before']['median']:.3f} [{b['after_before']['min']:.3f}-{b['after_before']['max']:.3f}]; "
                  + "; ".join(f"baseline/{c['reference']} {c['baseline_ratio']['median']:.3f}"
                              for c in result["comparisons"]))
    print("-" * width)
    for r in latency:
        print(f"latency {r['label']:<52} median {r['median']:7.3f} ms   p99 {r['p99']:7.3f} ms   "
              f"({r['count']} frames, unmatched {r['unmatched']})")
    print("=" * width)
