#!/usr/bin/python3
"""Benchmarks trackprocessor/trackgenerator against GStreamer's C elements.

Run by benchmarks/run.sh, which builds the plugin and sets GST_PLUGIN_PATH / GST_REGISTRY.
Needs Debian's /usr/bin/python3 (PyGObject with Gst).

Throughput: each comparison runs ROUNDS rounds; a round plays every variant once (the order is
reversed every other round), each variant from READY to EOS over N frames of 1920x1080
`videotestsrc pattern=black`. Time/frame = wall time from set_state(PLAYING) to the EOS message,
divided by N. Per round, ratio = ours / C; we report the median of the per-round ratios with
min and max. Every run checks that all N frames reached the final fakesink (its `stats`
property: rendered, dropped) and, for our chain, that the processor and the generator
counted N frames and discarded none.

Latency: a live 30 fps pipeline; pad probes stamp time.monotonic_ns() when a buffer enters the
processor's (or queue's) sink pad and when it leaves the generator's (or queue's) src pad,
matched by PTS; the first WARMUP frames are ignored.
"""
import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

Gst.init(None)

SRC = "videotestsrc num-buffers={n} pattern=black ! video/x-raw,format={fmt},width=1920,height=1080"
OURS = ("trackprocessor name=proc worker={worker} pipe-to=gen sync=false max-buffer-size=1024 "
        "trackgenerator name=gen ! fakesink name=sink sync=false")
QUEUE = "queue max-size-buffers=1024 max-size-bytes=0 max-size-time=0"


class BenchError(Exception):
    pass


def ours(fmt, worker):
    return f"{SRC} ! {OURS.format(worker=worker)}".replace("{fmt}", fmt)


def reference(fmt, chain):
    return f"{SRC} ! {chain} ! fakesink name=sink sync=false".replace("{fmt}", fmt)


def run_to_eos(description, n, timeout_s):
    """Plays one pipeline to EOS; returns (seconds, counters). Raises BenchError on error, a
    time-out or a frame count that is not n."""
    pipeline = Gst.parse_launch(description.format(n=n))
    try:
        if pipeline.set_state(Gst.State.READY) == Gst.StateChangeReturn.FAILURE:
            raise BenchError(f"cannot go to READY: {description}")
        bus = pipeline.get_bus()
        start = time.monotonic_ns()
        pipeline.set_state(Gst.State.PLAYING)
        message = bus.timed_pop_filtered(timeout_s * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
        elapsed = (time.monotonic_ns() - start) / 1e9
        if message is None:
            raise BenchError(f"no EOS after {timeout_s} s (deadlock?): {description}")
        if message.type == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            raise BenchError(f"error from {message.src.get_name()}: {error.message} ({debug}): {description}")
        stats = pipeline.get_by_name("sink").get_property("stats")
        counters = {"rendered": stats.get_uint64("rendered")[1], "dropped": stats.get_uint64("dropped")[1]}
        processor = pipeline.get_by_name("proc")
        generator = pipeline.get_by_name("gen")
        if processor is not None:
            counters["proc_total"] = processor.get_property("total-frames")
            counters["proc_discarded"] = processor.get_property("discarded-frames")
            counters["gen_total"] = generator.get_property("total-frames")
            counters["gen_discarded"] = generator.get_property("discarded-frames")
        problems = []
        if counters["rendered"] != n or counters["dropped"] != 0:
            problems.append(f"fakesink rendered {counters['rendered']}, dropped {counters['dropped']}")
        if processor is not None:
            if counters["proc_total"] != n or counters["proc_discarded"] != 0:
                problems.append(f"trackprocessor total-frames {counters['proc_total']}, "
                                f"discarded-frames {counters['proc_discarded']}")
            if counters["gen_total"] != n or counters["gen_discarded"] != 0:
                problems.append(f"trackgenerator total-frames {counters['gen_total']}, "
                                f"discarded-frames {counters['gen_discarded']}")
        if problems:
            raise BenchError(f"expected {n} frames everywhere, got: {'; '.join(problems)}: {description}")
        return elapsed, counters
    finally:
        pipeline.set_state(Gst.State.NULL)


def throughput(name, variants, n, rounds, target, note, timeout_s):
    """variants: list of (label, description); the first is ours, the others references.
    Returns a result dict."""
    print(f"\n== {name}: {n} frames x {rounds} rounds", flush=True)
    for label, description in variants:  # warm-up: page in code, grow pools, fill caches
        run_to_eos(description, min(n, 60), timeout_s)
    times = {label: [] for label, _ in variants}
    frames = {}
    for round_index in range(rounds):
        order = variants if round_index % 2 == 0 else list(reversed(variants))
        line = []
        for label, description in order:
            seconds, counters = run_to_eos(description, n, timeout_s)
            times[label].append(seconds / n * 1000)
            frames[label] = counters
            line.append(f"{label} {seconds / n * 1000:.3f} ms")
        print(f"  round {round_index + 1}: " + ", ".join(line), flush=True)
    ours_label = variants[0][0]
    comparisons = []
    for label, description in variants[1:]:
        ratios = [a / b for a, b in zip(times[ours_label], times[label])]
        comparisons.append({
            "reference": label, "reference_pipeline": description.format(n=n),
            "ref_ms": statistics.median(times[label]), "ref_all": times[label],
            "ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
            "met": statistics.median(ratios) <= target,
        })
        c = comparisons[-1]
        print(f"  ours/{label}: median {c['ratio_median']:.3f} [{c['ratio_min']:.3f}-{c['ratio_max']:.3f}] "
              f"target <= {target}: {'met' if c['met'] else 'MISSED'}", flush=True)
    return {"name": name, "n": n, "rounds": rounds, "target": target, "note": note,
            "ours": ours_label, "ours_pipeline": variants[0][1].format(n=n),
            "ours_ms": statistics.median(times[ours_label]), "ours_all": times[ours_label],
            "frames": frames, "comparisons": comparisons}


def percentile(values, fraction):
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, int(-(-fraction * len(ordered) // 1)))  # ceil
    return ordered[min(rank, len(ordered)) - 1]


def latency(label, description, in_element, out_element, warmup, count, timeout_s):
    """Per-frame time from in_element's sink pad to out_element's src pad, in ms."""
    print(f"\n== latency: {label} ({warmup} warm-up + {count} frames at 30 fps)", flush=True)
    pipeline = Gst.parse_launch(description)
    entered = {}
    samples = []
    unmatched = [0]
    seen = [0]

    def on_enter(pad, info):
        now = time.monotonic_ns()
        entered[info.get_buffer().pts] = now
        return Gst.PadProbeReturn.OK

    def on_leave(pad, info):
        now = time.monotonic_ns()
        start = entered.pop(info.get_buffer().pts, None)
        seen[0] += 1
        if start is None:
            unmatched[0] += 1
        elif seen[0] > warmup:
            samples.append((now - start) / 1e6)
        return Gst.PadProbeReturn.OK

    pipeline.get_by_name(in_element).get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, on_enter)
    pipeline.get_by_name(out_element).get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_leave)
    bus = pipeline.get_bus()
    try:
        pipeline.set_state(Gst.State.PLAYING)
        deadline = time.monotonic() + timeout_s
        while len(samples) < count:
            message = bus.timed_pop_filtered(100 * Gst.MSECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
            if message is not None and message.type == Gst.MessageType.ERROR:
                error, debug = message.parse_error()
                raise BenchError(f"error: {error.message} ({debug}): {description}")
            if message is not None:
                raise BenchError(f"unexpected EOS: {description}")
            if time.monotonic() > deadline:
                raise BenchError(f"only {len(samples)} frames after {timeout_s} s: {description}")
        values = samples[:count]
        discarded = None
        processor = pipeline.get_by_name("proc")
        if processor is not None:
            discarded = processor.get_property("discarded-frames")
    finally:
        pipeline.set_state(Gst.State.NULL)
    result = {"label": label, "pipeline": description, "count": len(values), "unmatched": unmatched[0],
              "discarded": discarded, "median": statistics.median(values), "p99": percentile(values, 0.99),
              "min": min(values), "max": max(values), "mean": statistics.fmean(values)}
    print(f"  median {result['median']:.3f} ms, p99 {result['p99']:.3f} ms, min {result['min']:.3f}, "
          f"max {result['max']:.3f}, unmatched {unmatched[0]}, processor discarded {discarded}", flush=True)
    return result


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


def fmt_ms(value):
    return f"{value:.3f}"


def write_markdown(path, results, latencies, info, args, wall_s, failures):
    lines = []
    add = lines.append
    add("# Benchmarks")
    add("")
    add("Generated by `benchmarks/run.sh` (do not edit by hand; re-run it). Figures are from ONE run on a")
    add("small, shared (noisy) machine: treat differences of a few percent as noise.")
    add("")
    add(f"- Date: {info['date']}")
    add(f"- Machine: {info['nproc']} CPUs (nproc), {info['cpu']}, Linux {info['kernel']}")
    add(f"- GStreamer: {info['gstreamer']} (Debian); Python {info['python']} with PyGObject")
    add(f"- Plugin: `{info['plugin']}`, built with `swift build -c release --scratch-path .build-bench "
        f"--product gstinsertablestreams`; {info['swift']}; package commit {info['commit']}")
    add(f"- Whole benchmark (Python part): {wall_s:.0f} s")
    add("")
    add("## Method")
    add("")
    add("- Source for every throughput run: `videotestsrc num-buffers=N pattern=black` at 1920x1080 in the")
    add("  format named in the table; all sinks are `fakesink sync=false` and the processor has `sync=false`,")
    add("  so nothing is paced by the clock. Our chain is always")
    add("  `trackprocessor worker=W pipe-to=gen sync=false max-buffer-size=1024 trackgenerator name=gen ! fakesink`.")
    add("- Time/frame = wall time from `set_state(PLAYING)` (pipeline already in READY) to the EOS message on")
    add("  the bus, divided by N. It includes pipeline start-up and the drain at EOS.")
    add(f"- {args.rounds} rounds per comparison, after one unmeasured warm-up run of each variant. A round runs")
    add("  every variant once, the order reversed every other round; ratio = ours / C within a round. Reported:")
    add("  the median of the per-round ratios [min-max], and the median time/frame of each element.")
    add("- Every run is checked: the final `fakesink` rendered exactly N buffers (its `stats`), and for our chain")
    add("  the processor's `total-frames` = N and `discarded-frames` = 0, and the generator's likewise.")
    add("  A run that fails a check aborts the benchmark, so every figure below is for N of N frames delivered.")
    add("- `videoflip` and `coloreffects` run in the upstream streaming thread; our element always adds one")
    add("  thread hop (worker) plus the generator's own streaming thread. So each is also measured behind a")
    add("  `queue` (one thread hop, like ours).")
    add("- `mirror` and `sepia` work in place on the upstream buffer; `videoflip` writes a new output")
    add("  buffer; `coloreffects` works in place.")
    add("")
    add("## Throughput (1920x1080, lower time is better, ratio = ours / C)")
    add("")
    add("| Comparison | N | Frames delivered (ours / C) | Ours ms/frame | C ms/frame | Ratio median [min-max] | Target | Met? |")
    add("|---|---|---|---|---|---|---|---|")
    for result in results:
        ours_frames = result["frames"][result["ours"]]
        for c in result["comparisons"]:
            ref_frames = result["frames"][c["reference"]]
            delivered = (f"{ours_frames['rendered']}/{result['n']} (discarded {ours_frames['proc_discarded']}) / "
                         f"{ref_frames['rendered']}/{result['n']}")
            add(f"| {result['name']}: `{result['ours']}` vs `{c['reference']}` | {result['n']} | {delivered} | "
                f"{fmt_ms(result['ours_ms'])} | {fmt_ms(c['ref_ms'])} | "
                f"{c['ratio_median']:.3f} [{c['ratio_min']:.3f}-{c['ratio_max']:.3f}] | <= {result['target']} | "
                f"{'yes' if c['met'] else '**no**'} |")
    add("")
    for result in results:
        if result["note"]:
            add(f"- {result['name']}: {result['note']}")
    add("")
    add("Per-round times (ms/frame):")
    add("")
    for result in results:
        add(f"- {result['name']}: ours `{result['ours']}` "
            + ", ".join(fmt_ms(v) for v in result["ours_all"]))
        for c in result["comparisons"]:
            add(f"  - `{c['reference']}`: " + ", ".join(fmt_ms(v) for v in c["ref_all"]))
    add("")
    add("Pipelines (N substituted):")
    add("")
    for result in results:
        add(f"- `{result['ours_pipeline']}`")
        for c in result["comparisons"]:
            add(f"- `{c['reference_pipeline']}`")
    add("")
    add(f"## Latency of the thread hop (live 30 fps, I420 1920x1080, {args.latency_frames} frames after "
        f"{args.latency_warmup} warm-up)")
    add("")
    add("Per frame: `time.monotonic_ns()` in a pad probe when the buffer enters the processor's (queue's) sink")
    add("pad, and again when it leaves the generator's (queue's) src pad, matched by PTS. Python probes add a")
    add("little (GIL) to both sides.")
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
    if failures:
        add("## Failures")
        add("")
        for failure in failures:
            add(f"- {failure}")
        add("")
    with open(path, "w") as out:
        out.write("\n".join(lines))


def print_table(results, latencies):
    print("\n" + "=" * 118)
    print(f"{'comparison':<52} {'ours ms':>8} {'C ms':>8} {'ratio median [min-max]':>26} {'target':>8} {'met':>5} {'frames':>7}")
    for result in results:
        ours_frames = result["frames"][result["ours"]]
        for c in result["comparisons"]:
            label = f"{result['name']}: vs {c['reference']}"
            ratio = f"{c['ratio_median']:.3f} [{c['ratio_min']:.3f}-{c['ratio_max']:.3f}]"
            print(f"{label[:52]:<52} {result['ours_ms']:>8.3f} {c['ref_ms']:>8.3f} {ratio:>26} "
                  f"{'<=' + str(result['target']):>8} {'yes' if c['met'] else 'NO':>5} "
                  f"{ours_frames['rendered']:>4}/{result['n']}")
    print("-" * 118)
    for r in latencies:
        print(f"latency {r['label']:<44} median {r['median']:7.3f} ms   p99 {r['p99']:7.3f} ms   "
              f"({r['count']} frames, unmatched {r['unmatched']})")
    print("=" * 118)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", required=True, help="markdown file to (over)write")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=300, help="N for the filter comparisons")
    parser.add_argument("--hop-frames", type=int, default=1000,
                        help="N for identity vs queue (cheap per frame, so more frames)")
    parser.add_argument("--latency-frames", type=int, default=300)
    parser.add_argument("--latency-warmup", type=int, default=30)
    parser.add_argument("--timeout", type=int, default=120, help="seconds per pipeline run")
    parser.add_argument("--only", default="", help="comma-separated subset: hop,mirror,sepia,latency")
    args = parser.parse_args()

    plugin = Gst.Registry.get().find_plugin("insertablestreams")
    if plugin is None:
        sys.exit("plugin insertablestreams not found: is GST_PLUGIN_PATH set (benchmarks/run.sh does it)?")
    for name in ("videotestsrc", "videoflip", "coloreffects", "queue", "fakesink"):
        if Gst.ElementFactory.find(name) is None:
            sys.exit(f"GStreamer element {name} is missing")
    info = machine()
    info["plugin"] = plugin.get_filename()
    info["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    info["commit"] = os.environ.get("BENCH_COMMIT", "unknown")
    info["swift"] = os.environ.get("BENCH_SWIFT", "swift (version unknown)")
    print(f"plugin: {info['plugin']}\nGStreamer {info['gstreamer']}, {info['nproc']} CPUs, {info['cpu']}")

    only = set(filter(None, args.only.split(",")))
    wanted = lambda key: not only or key in only  # noqa: E731
    started = time.monotonic()
    results, latencies, failures = [], [], []

    def attempt(function, *arguments):
        try:
            return function(*arguments)
        except BenchError as error:
            print(f"  FAILED: {error}", flush=True)
            failures.append(str(error))
            return None

    n = args.frames
    plans = []
    if wanted("hop"):
        plans.append(("a. hop, I420", [("trackprocessor worker=identity", ours("I420", "identity")),
                                        ("queue", reference("I420", QUEUE))],
                      args.hop_frames, 1.05, "both one thread hop; nothing done to the pixels."))
    if wanted("mirror"):
        for fmt in ("I420", "RGBA"):
            plans.append((f"b. mirror, {fmt}",
                          [("trackprocessor worker=mirror", ours(fmt, "mirror")),
                           ("videoflip method=horizontal-flip", reference(fmt, "videoflip method=horizontal-flip")),
                           ("queue ! videoflip", reference(fmt, f"{QUEUE} ! videoflip method=horizontal-flip"))],
                          n, 1.0, None))
    if wanted("sepia"):
        plans.append(("c. sepia, RGBA", [("trackprocessor worker=sepia", ours("RGBA", "sepia")),
                                          ("coloreffects preset=sepia", reference("RGBA", "coloreffects preset=sepia")),
                                          ("queue ! coloreffects", reference("RGBA", f"{QUEUE} ! coloreffects preset=sepia"))],
                      n, 0.5, "coloreffects accepts RGBA (gst-inspect-1.0 coloreffects), so both get the same RGBA "
                              "caps, no conversion. Note the two sepias are different formulas: ours is the MDN "
                              "3x3 matrix, coloreffects maps luma through a 256-entry sepia table."))
    for name, variants, frames, target, note in plans:
        result = attempt(throughput, name, variants, frames, args.rounds, target, note, args.timeout)
        if result is not None:
            results.append(result)

    if wanted("latency"):
        live = "videotestsrc is-live=true ! video/x-raw,format=I420,width=1920,height=1080,framerate=30/1"
        for label, description, first, last in [
            ("trackprocessor worker=identity (sync default = true)",
             f"{live} ! trackprocessor name=proc worker=identity pipe-to=gen trackgenerator name=gen ! fakesink sync=false",
             "proc", "gen"),
            ("trackprocessor worker=identity sync=false",
             f"{live} ! trackprocessor name=proc worker=identity pipe-to=gen sync=false trackgenerator name=gen ! fakesink sync=false",
             "proc", "gen"),
            ("queue",
             f"{live} ! queue name=q ! fakesink sync=false", "q", "q"),
        ]:
            result = attempt(latency, label, description, first, last, args.latency_warmup, args.latency_frames,
                             args.timeout)
            if result is not None:
                latencies.append(result)

    wall = time.monotonic() - started
    print_table(results, latencies)
    write_markdown(args.output, results, latencies, info, args, wall, failures)
    print(f"wrote {args.output} ({wall:.0f} s)")
    if failures:
        print(f"{len(failures)} measurement(s) FAILED, see above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
