#!/usr/bin/python3
"""Benchmarks trackprocessor/trackgenerator and rtpscripttransform against GStreamer's C
elements, and SFrame against `openssl speed`.

Run by benchmarks/run.sh, which builds the plugin and sets GST_PLUGIN_PATH / GST_REGISTRY.
Needs Debian's /usr/bin/python3 (PyGObject with Gst).

Three sections, each replaced as a whole in the results JSON (--results) by a run that measures
it; the Markdown (--output) is then rendered from the whole JSON by report.py:

- raw (raw.py; `--only` keys hop, drop, mirror, sepia, latency): trackprocessor/trackgenerator
  throughput vs queue, videoflip and coloreffects on 1080p frames (plus the same hop with rings
  of 4 frames that drop), latency of the thread hop, buffer copies. A run with only some of these
  keys leaves only those parts in the raw section.
- encoded (encoded.py; `--only encoded`): rtpscripttransform on pre-encoded VP8 and Opus.
- sframe (sframe.py; `--only sframe`): sframe-benchmark vs `openssl speed`; needs no plugin.

The pipelines run in a child process (this file with --serve; harness.py) so that a hang is
detected, its stacks saved under --out-dir, and the run carries on.

Before/after (--baseline-plugin DIR): a folder holding another build of libgstinsertablestreams.so,
typically of an older commit. A second child process loads it (GST_PLUGIN_PATH=DIR, its own private
GST_REGISTRY) and runs the plugin's variant of every raw throughput comparison and of the encoded
hop once more, as one more variant of the SAME interleaved rounds. Each comparison then also holds
baseline/C and ours/baseline ratios from those rounds, and the Markdown gets a before/after table.
"""
import argparse
import datetime
import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time

import encoded
import harness
import raw
import report
import sframe
from harness import Gst

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--output", help="markdown file to (over)write, rendered from --results")
    parser.add_argument("--results", default=os.path.join(HERE, "results.json"),
                        help="results JSON: the sections run replace their part of it (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=300, help="N for the filter comparisons")
    parser.add_argument("--hop-frames", type=int, default=2000,
                        help="N for identity vs queue, with and without drops (cheap per frame, so more frames)")
    parser.add_argument("--hop-rounds", type=int, default=9,
                        help="rounds for identity vs queue, with and without drops (cheap and the noisiest, so "
                             "more rounds)")
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
        "BENCH_SFRAME_BINARY", os.path.join(os.path.dirname(HERE), ".build-bench", "release", "sframe-benchmark")),
                        help="the sframe-benchmark executable (benchmarks/run.sh builds it)")
    parser.add_argument("--only", default="",
                        help=f"comma-separated subset: {','.join(raw.KEYS)},encoded,sframe. Only the sections run "
                             "are replaced in --results; the Markdown is rendered from all of it")
    parser.add_argument("--baseline-plugin", metavar="DIR",
                        help="folder holding another build of libgstinsertablestreams.so (e.g. of an older commit): "
                             "its variants of the raw throughput comparisons and of the encoded hop run too, in the "
                             "same rounds, from a second child process (GST_PLUGIN_PATH=DIR, private GST_REGISTRY); "
                             "adds baseline/C and ours/baseline ratios and a before/after table")
    parser.add_argument("--baseline-commit", default="unknown",
                        help="the commit the --baseline-plugin was built from (recorded and shown)")
    parser.add_argument("--baseline-label", default=None,
                        help="what changed between the baseline and the plugin under test, for the before/after "
                             "table's heading (\"Before/after LABEL\"), e.g. \"the core redesign\"")
    parser.add_argument("--out-dir", default=os.path.join(HERE, "out"), help="where stacks of hung pipelines go")
    args = parser.parse_args()
    if not args.serve and not args.output:
        parser.error("--output is required")
    args.only = set(filter(None, args.only.split(",")))
    unknown = args.only - set(raw.KEYS) - {"encoded", "sframe"}
    if unknown:
        parser.error(f"--only: unknown {', '.join(sorted(unknown))}")
    if args.baseline_plugin and not os.path.isfile(os.path.join(args.baseline_plugin, harness.LIBRARY)):
        parser.error(f"--baseline-plugin: no {harness.LIBRARY} in {args.baseline_plugin}")
    return args


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def start_baseline(args, ours_plugin, registry_dir):
    """The second child process, loading the plugin from --baseline-plugin with a registry file of
    its own; exits if it loads the plugin from anywhere else, or the very file under test."""
    library = os.path.realpath(os.path.join(args.baseline_plugin, harness.LIBRARY))
    if ours_plugin and os.path.realpath(ours_plugin) == library:
        sys.exit(f"--baseline-plugin: {library} is the plugin under test")
    env = harness.plugin_environment(os.path.dirname(library), os.path.join(registry_dir, "registry.bin"))
    child = harness.Child([sys.executable, os.path.abspath(__file__), "--serve"], args.out_dir, env)
    hello = child.start()
    if hello["plugin"] is None or os.path.realpath(hello["plugin"]) != library:
        child.stop()
        sys.exit(f"--baseline-plugin: the baseline child loaded the plugin from {hello['plugin']}, expected {library}")
    info = {"commit": args.baseline_commit, "label": args.baseline_label, "plugin": library,
            "sha256": sha256(library), "ours_sha256": sha256(ours_plugin) if ours_plugin else None}
    print(f"baseline plugin: {library} (commit {info['commit']})", flush=True)
    if info["sha256"] == info["ours_sha256"]:
        print("  WARNING: the baseline plugin is byte for byte the plugin under test", flush=True)
    return child, info


def run_info():
    info = harness.machine()
    info["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    info["commit"] = os.environ.get("BENCH_COMMIT", "unknown")
    info["swift"] = os.environ.get("BENCH_SWIFT", "swift version unknown")
    return info


def save(path, sections):
    """Replaces `sections` in the results JSON at `path` (created if missing); returns all of it."""
    try:
        with open(path) as f:
            results = json.load(f)
    except FileNotFoundError:
        results = {}
    results.update(sections)
    results = {key: results[key] for key in report.SECTIONS if key in results}
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    return results


def main():
    args = parse_args()
    if args.serve:
        harness.serve({**raw.HANDLERS, **encoded.HANDLERS}, raw.PIPELINE_HANDLERS)
        return 0

    wanted = lambda key: not args.only or key in args.only  # noqa: E731
    measure_raw = any(wanted(key) for key in raw.KEYS)
    # The SFrame section runs programs, not pipelines: alone, it needs neither the plugin nor the child.
    pipelines = measure_raw or wanted("encoded")
    if pipelines:
        if Gst.Registry.get().find_plugin("insertablestreams") is None:
            sys.exit("plugin insertablestreams not found: is GST_PLUGIN_PATH set (benchmarks/run.sh does it)?")
        for name in raw.REQUIRED_ELEMENTS:
            if Gst.ElementFactory.find(name) is None:
                sys.exit(f"GStreamer element {name} is missing")
    info = run_info()

    child = harness.Child([sys.executable, os.path.abspath(__file__), "--serve"], args.out_dir) if pipelines else None
    baseline, baseline_info, registry_dir = None, None, None
    if child:
        hello = child.start()
        print(f"plugin: {hello['plugin']}\n{info['gstreamer']}, {info['nproc']} CPUs, {info['cpu']}", flush=True)
        if args.baseline_plugin:
            registry_dir = tempfile.mkdtemp(prefix="bench-baseline-registry-")
            baseline, baseline_info = start_baseline(args, hello["plugin"], registry_dir)
    children = [c for c in (child, baseline) if c]

    started = time.monotonic()
    failures = {"raw": [], "encoded": [], "sframe": []}
    measured = {}
    if measure_raw:
        measured["raw"] = raw.measure(child, args, wanted, failures["raw"], baseline)
    hangs_before = [len(c.hangs) for c in children]
    if wanted("encoded"):
        measured["encoded"] = encoded.measure(child, args, failures["encoded"], baseline)
    hangs_after = [len(c.hangs) for c in children]
    if wanted("sframe"):
        measured["sframe"] = sframe.measure(args, failures["sframe"])
    if measure_raw and measured["raw"]["throughput"]:
        measured["raw"]["copies"] = raw.copies(child, measured["raw"]["throughput"], args.timeout, failures["raw"],
                                               baseline)

    for c in children:
        c.stop()
    if registry_dir:
        shutil.rmtree(registry_dir, ignore_errors=True)
    all_hangs = [hang for c in children for hang in c.hangs]
    spans = list(zip(children, hangs_before, hangs_after))
    hangs = {"raw": [hang for c, b, a in spans for hang in c.hangs[:b] + c.hangs[a:]],
             "encoded": [hang for c, b, a in spans for hang in c.hangs[b:a]], "sframe": []}
    run = {**info, "seconds": time.monotonic() - started}
    sections = {name: {"run": run, **(section or {}), "failures": failures[name], "hangs": hangs[name]}
                for name, section in measured.items()}
    for name in ("raw", "encoded"):
        if baseline_info and measured.get(name):
            sections[name]["baseline"] = baseline_info

    if measure_raw:
        raw.print_table(measured["raw"])
    if measured.get("encoded"):
        encoded.print_summary(measured["encoded"])
    results = save(args.results, sections)
    with open(args.output, "w") as out:
        out.write(report.render(results))
    print(f"wrote {args.results} ({', '.join(sections)}) and {args.output} ({run['seconds']:.0f} s)")
    for name in sections:
        for failure in failures[name]:
            print(f"FAILURE: {failure}", file=sys.stderr)
        for hang in hangs[name]:
            print(f"HANG: {hang}", file=sys.stderr)
    failed = any(failures.values()) or all_hangs or (wanted("sframe") and not measured["sframe"])
    return 1 if failed else 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
