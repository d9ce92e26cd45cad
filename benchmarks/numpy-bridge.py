#!/usr/bin/python3
"""The numpy vignette of examples/python/vignette.py run two ways, in the same process and the same
interleaved rounds (issue 12):

  plugin         videotestsrc ! RGBA 1280x720 ! trackprocessor worker=app pipe-to=CH
                 trackgenerator name=CH ! fakesink           (handler: vignette.make_handler())
  bridge-signal  videotestsrc ! RGBA 1280x720 ! appsink emit-signals=true      -- "new-sample" callback:
                 pull the sample, vignette.apply(), push a new buffer (PTS/duration copied) -->
                 appsrc format=time caps=... ! fakesink                  (the callback runs in the
                 appsink's streaming thread, so upstream waits for it)
  bridge-pull    the same two pipelines, but a Python thread loops on appsink.pull_sample() (appsink
                 left at its defaults: max-buffers=0, drop=false, so its queue is unbounded)
  bridge-pull-drop  (slow case only) bridge-pull with appsink max-buffers=1 drop=true: what a user
                 must configure to get the plugin's behaviour (drop the oldest, upstream never waits)

Both bridges are what a competent Python user writes: caps on the appsrc, format=time, timestamps
copied, the same numpy code (vignette.frame_array + vignette.apply + Gst.Buffer.new_wrapped) as the
plugin's handler.

(a) Throughput, non-live: videotestsrc num-buffers=N, every sink sync=false, trackprocessor
    sync=false max-buffer-size=N (so its ring never drops: N of N frames in every variant, checked).
    Frames per second = N / wall time from PLAYING to the EOS of the last pipeline; CPU time =
    time.process_time() over the same span (every thread of this process; user and system apart).
    Ratio plugin/bridge per round. One unmeasured warm-up run per variant, which also checks the
    output against apply().
(b) Slow handler, live: videotestsrc is-live=true at 30 fps, the same handler plus time.sleep(S),
    for T seconds, element defaults otherwise (trackprocessor: 1-frame ring; appsink: defaults).
    Upstream rate = buffers leaving videotestsrc's src pad per second (pad probe); frames handled,
    frames at the sink, frames dropped (plugin: discarded-frames), frames waiting in the appsink
    queue at the end (upstream minus handled), and each frame's lag when the handler starts it: the
    pipeline's running time minus the frame's PTS (a live videotestsrc stamps a frame with the running
    time it is due at, so this is how far behind live the frame is, wherever it waited).

Needs Debian's /usr/bin/python3 with python3-gi and python3-numpy, and the plugin on
GST_PLUGIN_PATH (benchmarks/run-numpy-bridge.sh does that and writes benchmarks/numpy-bridge.json).
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples", "python"))

import numpy as np  # noqa: E402
import gi  # noqa: E402

gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
from gi.repository import Gst, GstApp  # noqa: E402,F401

import vignette  # noqa: E402  (examples/python/vignette.py: apply(), frame_array(), make_handler())

Gst.init(None)

WIDTH, HEIGHT = 1280, 720
VARIANTS = ("plugin", "plugin-ring", "bridge-signal", "bridge-pull")
SLOW_VARIANTS = ("plugin", "bridge-signal", "bridge-pull", "bridge-pull-drop")
BRIDGES = ("bridge-signal", "bridge-pull")
_channel = [0]


class RunError(Exception):
    pass


def caps_text(fps):
    return f"video/x-raw,format=RGBA,width={WIDTH},height={HEIGHT},framerate={fps}/1"


def next_channel():
    _channel[0] += 1
    return f"numpybridge{_channel[0]}"


def cpu_times():
    """User and system CPU seconds of every thread of this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def check_bus(pipeline, what):
    message = pipeline.get_bus().pop_filtered(Gst.MessageType.ERROR)
    if message is not None:
        error, debug = message.parse_error()
        raise RunError(f"{what}: error from {message.src.get_name()}: {error.message} ({debug})")


def wait_eos(pipeline, timeout_s, what):
    message = pipeline.get_bus().timed_pop_filtered(int(timeout_s * Gst.SECOND),
                                                     Gst.MessageType.EOS | Gst.MessageType.ERROR)
    if message is None:
        raise RunError(f"{what}: no EOS within {timeout_s} s")
    if message.type == Gst.MessageType.ERROR:
        error, debug = message.parse_error()
        raise RunError(f"{what}: error from {message.src.get_name()}: {error.message} ({debug})")


def rendered(sink):
    return sink.get_property("stats").get_uint64("rendered")[1]


class Probe:
    """Counts the buffers leaving videotestsrc (when each left); with `keep_first`, copies the first
    frame (for the output check)."""

    def __init__(self, pipeline, keep_first=False):
        self.times = []
        self.first = None
        self.keep_first = keep_first
        pad = pipeline.get_by_name("src").get_static_pad("src")
        pad.add_probe(Gst.PadProbeType.BUFFER, self.on_buffer)

    def on_buffer(self, pad, info):
        now = time.monotonic()
        buffer = info.get_buffer()
        self.times.append(now)
        if self.keep_first and self.first is None:
            ok, mapped = buffer.map(Gst.MapFlags.READ)
            self.first = np.frombuffer(mapped.data, np.uint8).copy().reshape(HEIGHT, WIDTH, 4)
            buffer.unmap(mapped)
        return Gst.PadProbeReturn.OK


class Output:
    """fakesink handoff: copies the first frame rendered (warm-up runs only)."""

    def __init__(self, sink):
        self.first = None
        sink.set_property("signal-handoffs", True)
        sink.connect("handoff", self.on_handoff)

    def on_handoff(self, sink, buffer, pad):
        if self.first is None:
            ok, mapped = buffer.map(Gst.MapFlags.READ)
            self.first = np.frombuffer(mapped.data, np.uint8).copy().reshape(HEIGHT, WIDTH, 4)
            buffer.unmap(mapped)


class Handled:
    """Per-frame bookkeeping around the handler: how many, and each frame's lag when the handler
    starts it: the pipeline's running time now minus the frame's PTS (videotestsrc is-live stamps
    each frame with the running time at which it is due, so this is how far behind live it is)."""

    def __init__(self, element, sleep_s, live):
        self.count = 0      # frames the handler finished
        self.started = 0    # frames the handler started
        self.lags = []
        self.busy = 0.0
        self.element = element if live else None
        self.sleep_s = sleep_s

    def start(self, pts):
        self.started += 1
        if self.element is not None:
            clock = self.element.get_clock()
            if clock is not None and pts != Gst.CLOCK_TIME_NONE:
                self.lags.append((clock.get_time() - self.element.get_base_time() - pts) / 1e9)
        return time.monotonic()

    def end(self, started):
        if self.sleep_s:
            time.sleep(self.sleep_s)
        self.count += 1
        self.busy += time.monotonic() - started


# ---------------------------------------------------------------------------------------------
# The variants. Each builds its pipeline(s) and returns a Run with start(), wait_done(), stop().

def bridge_process(sample):
    """What the bridge does with a sample: exactly the plugin handler's numpy work
    (vignette.make_handler: frame_array, apply, tobytes, new_wrapped), timestamps copied."""
    out = vignette.apply(vignette.frame_array(sample))
    inbuf = sample.get_buffer()
    outbuf = Gst.Buffer.new_wrapped(out.tobytes())
    outbuf.pts = inbuf.pts
    outbuf.dts = inbuf.dts
    outbuf.duration = inbuf.duration
    return outbuf


class PluginRun:
    # The ring of the non-live runs: "leaky-no" = the default 1-frame ring with leaky=no (upstream
    # waits for the handler: what a non-live source needs); "full" = leaky=downstream (the
    # default) with a ring of N frames (nothing dropped, the source runs ahead); "default" = the
    # element's defaults (frames are dropped).
    RINGS = {"leaky-no": " leaky=no", "full": " max-buffer-size={frames}", "default": ""}

    def __init__(self, live, frames, sleep_s, check, ring="leaky-no"):
        channel = next_channel()
        ring = self.RINGS[ring].format(frames=frames)
        if live:
            source = f"videotestsrc name=src is-live=true ! {caps_text(30)} ! trackprocessor name=proc worker=app pipe-to={channel}"
        else:
            source = (f"videotestsrc name=src num-buffers={frames} ! {caps_text(30)} ! "
                      f"trackprocessor name=proc worker=app pipe-to={channel} sync=false{ring}")
        self.pipeline = Gst.parse_launch(f"{source}  trackgenerator name={channel} ! fakesink name=sink sync=false")
        self.processor = self.pipeline.get_by_name("proc")
        self.generator = self.pipeline.get_by_name(channel)
        self.sink = self.pipeline.get_by_name("sink")
        self.probe = Probe(self.pipeline, keep_first=check) if (live or check) else None
        self.output = Output(self.sink) if check else None
        self.handled = Handled(self.processor, sleep_s, live)
        inner = vignette.make_handler()
        handled = self.handled

        def on_transform_frame(element, sample):
            started = handled.start(sample.get_buffer().pts)
            result = inner(element, sample)
            handled.end(started)
            return result

        self.processor.connect("transform-frame", on_transform_frame)
        self.pipeline.set_state(Gst.State.READY)

    def start(self):
        self.pipeline.set_state(Gst.State.PLAYING)

    def wait_done(self, timeout_s):
        wait_eos(self.pipeline, timeout_s, "plugin")

    def counters(self):
        return {"handled": self.handled.count, "started": self.handled.started, "at_sink": rendered(self.sink),
                "dropped": self.processor.get_property("discarded-frames"),
                "processor_total": self.processor.get_property("total-frames"),
                "generator_total": self.generator.get_property("total-frames")}

    def stop(self):
        check_bus(self.pipeline, "plugin")
        self.pipeline.set_state(Gst.State.NULL)


class BridgeRun:
    def __init__(self, mode, live, frames, sleep_s, check, drop=False):
        self.mode = mode
        if live:
            source = f"videotestsrc name=src is-live=true ! {caps_text(30)} ! appsink name=appsink"
        else:
            source = f"videotestsrc name=src num-buffers={frames} ! {caps_text(30)} ! appsink name=appsink sync=false"
        self.upstream = Gst.parse_launch(source)
        self.downstream = Gst.parse_launch("appsrc name=appsrc format=time ! fakesink name=sink sync=false")
        self.appsink = self.upstream.get_by_name("appsink")
        if drop:
            self.appsink.set_property("max-buffers", 1)
            self.appsink.set_property("drop", True)
        self.appsrc = self.downstream.get_by_name("appsrc")
        self.appsrc.set_property("caps", Gst.Caps.from_string(caps_text(30)))
        if live:
            self.appsrc.set_property("is-live", True)
        self.sink = self.downstream.get_by_name("sink")
        self.probe = Probe(self.upstream, keep_first=check) if (live or check) else None
        self.output = Output(self.sink) if check else None
        self.handled = Handled(self.appsink, sleep_s, live)
        self.thread = None
        self.stopping = False
        if mode == "signal":
            self.appsink.set_property("emit-signals", True)
            self.appsink.connect("new-sample", self.on_new_sample)
        self.downstream.set_state(Gst.State.READY)
        self.upstream.set_state(Gst.State.READY)

    def handle(self, sample):
        started = self.handled.start(sample.get_buffer().pts)
        outbuf = bridge_process(sample)
        self.handled.end(started)
        return self.appsrc.push_buffer(outbuf)

    def on_new_sample(self, appsink):
        sample = appsink.pull_sample()
        if sample is None:
            return Gst.FlowReturn.EOS
        return self.handle(sample)

    def pull_loop(self):
        while not self.stopping:
            sample = self.appsink.pull_sample()   # None at EOS or when the pipeline stops
            if sample is None:
                break
            if self.handle(sample) != Gst.FlowReturn.OK:
                break
        if not self.stopping:
            self.appsrc.end_of_stream()

    def start(self):
        self.downstream.set_state(Gst.State.PLAYING)
        self.upstream.set_state(Gst.State.PLAYING)
        if self.mode == "pull":
            self.thread = threading.Thread(target=self.pull_loop, daemon=True)
            self.thread.start()

    def wait_done(self, timeout_s):
        deadline = time.monotonic() + timeout_s
        if self.mode == "signal":
            wait_eos(self.upstream, timeout_s, "bridge upstream")  # after the last callback returned
            self.appsrc.end_of_stream()
        wait_eos(self.downstream, max(1.0, deadline - time.monotonic()), "bridge downstream")

    def counters(self):
        return {"handled": self.handled.count, "started": self.handled.started, "at_sink": rendered(self.sink),
                "dropped": 0}

    def stop(self):
        check_bus(self.upstream, "bridge upstream")
        check_bus(self.downstream, "bridge downstream")
        self.stopping = True
        self.upstream.set_state(Gst.State.NULL)    # unblocks pull_sample() and a blocked callback
        if self.thread is not None:
            self.thread.join(10)
            if self.thread.is_alive():
                raise RunError("bridge-pull: the pull thread did not stop")
        self.downstream.set_state(Gst.State.NULL)


def make_run(variant, live, frames, sleep_s=0.0, check=False):
    if variant == "plugin":
        return PluginRun(live, frames, sleep_s, check)
    if variant == "plugin-ring":
        return PluginRun(live, frames, sleep_s, check, ring="full")
    return BridgeRun(variant.split("-")[1], live, frames, sleep_s, check, drop=variant.endswith("-drop"))


# ---------------------------------------------------------------------------------------------

def throughput_run(variant, frames, check=False):
    run = make_run(variant, live=False, frames=frames, check=check)
    try:
        user0, sys0 = cpu_times()
        cpu0 = time.process_time()
        t0 = time.monotonic()
        run.start()
        run.wait_done(120)
        wall = time.monotonic() - t0
        cpu = time.process_time() - cpu0
        user1, sys1 = cpu_times()
        counters = run.counters()
        result = {"wall_s": wall, "cpu_s": cpu, "fps": frames / wall, "cpu_ms_per_frame": 1000 * cpu / frames,
                  "user_ms_per_frame": 1000 * (user1 - user0) / frames, "sys_ms_per_frame": 1000 * (sys1 - sys0) / frames,
                  "handler_ms_per_frame": 1000 * run.handled.busy / max(1, run.handled.count), **counters}
        if counters["handled"] != frames or counters["at_sink"] != frames or counters["dropped"]:
            raise RunError(f"{variant}: expected {frames} of {frames} frames, got {counters}")
        if check:
            if run.probe.first is None or run.output.first is None:
                raise RunError(f"{variant}: output check: no frame captured")
            result["output_equals_apply"] = bool(np.array_equal(vignette.apply(run.probe.first), run.output.first))
        return result
    finally:
        run.stop()


def default_ring_run(frames):
    """The plugin variant of (a) with the ring left at its default (1 frame): the non-live source
    outruns the handler and the ring drops frames (informational, not a throughput figure)."""
    run = PluginRun(live=False, frames=frames, sleep_s=0.0, check=False, ring="default")
    try:
        t0 = time.monotonic()
        run.start()
        run.wait_done(120)
        wall = time.monotonic() - t0
        return {"frames": frames, "wall_s": wall, "sink_fps": run.counters()["at_sink"] / wall, **run.counters()}
    finally:
        run.stop()


def slow_run(variant, seconds, sleep_s):
    run = make_run(variant, live=True, frames=0, sleep_s=sleep_s)
    try:
        run.start()
        t0 = time.monotonic()
        time.sleep(seconds)
        counters = run.counters()
        t1 = time.monotonic()
        times = [t for t in list(run.probe.times) if t <= t1]
        lags = list(run.handled.lags)
        upstream = len(times)
        span = times[-1] - times[0] if upstream > 1 else float("nan")
        second_half = [t for t in times if t >= t0 + seconds / 2]
        half_span = (second_half[-1] - second_half[0]) if len(second_half) > 1 else float("nan")
        # Frames waiting: in the processor's ring (plugin) or the appsink's queue (bridges), not yet
        # started by the handler (a frame in the handler is neither waiting nor handled).
        if variant == "plugin":
            waiting = counters["processor_total"] - counters["started"] - counters["dropped"]
        elif variant.endswith("-drop"):  # appsink max-buffers=1 drop=true counts no drops: at most 1 waits
            waiting = min(1, upstream - counters["started"])
            counters["dropped"] = upstream - counters["started"] - waiting
        else:
            waiting = upstream - counters["started"]
        result = {"seconds": t1 - t0, "upstream_frames": upstream,
                  "upstream_fps": (upstream - 1) / span,
                  "upstream_fps_second_half": (len(second_half) - 1) / half_span,
                  "handled_fps": counters["handled"] / (t1 - t0),
                  "waiting_at_end": waiting, "waiting_mb_at_end": waiting * WIDTH * HEIGHT * 4 / 1e6,
                  "lag_ms_median": 1000 * statistics.median(lags) if lags else None,
                  "lag_ms_last": 1000 * lags[-1] if lags else None,
                  "lag_ms_max": 1000 * max(lags) if lags else None, **counters}
        return result
    finally:
        run.stop()


def spread(values):
    values = [v for v in values if v is not None]
    return {"median": statistics.median(values), "min": min(values), "max": max(values)} if values else None


def loadavg():
    """The 1-minute load average (other processes on the machine show up here)."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(),
            "gstreamer": Gst.version_string(), "python": platform.python_version(), "numpy": np.__version__}


def plugin_info():
    plugin = Gst.Registry.get().find_plugin("insertablestreams")
    if plugin is None:
        sys.exit("plugin insertablestreams not found: is GST_PLUGIN_PATH set (benchmarks/run-numpy-bridge.sh does it)?")
    path = plugin.get_filename()
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    source = os.environ.get("NUMPY_BRIDGE_PLUGIN_SOURCE", path)
    built = os.path.getmtime(os.path.join(ROOT, source)) if not os.path.isabs(source) else os.path.getmtime(source)
    info = {"loaded_from": path, "sha256": digest, "source": source,
            "built": datetime.datetime.fromtimestamp(built, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    # The build's source: the last commit touching Sources/ or Package.swift made before the file was
    # written (plus whatever was uncommitted then), and whether commits under Sources/ came after it.
    def git(*args):
        return subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True).stdout.strip()
    info["sources_commit_before_build"] = git("log", "-1", f"--before=@{int(built)}", "--format=%h", "--",
                                              "Sources", "Package.swift") or "unknown"
    newer = git("log", f"--since=@{int(built) + 1}", "--format=%h", "--", "Sources", "Package.swift").split()
    info["commits_under_sources_since_build"] = len(newer)
    return info


def commit():
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "Sources", "plugin", "Package.swift"],
                               capture_output=True, text=True).stdout.strip()
        return head + (" (with uncommitted changes under Sources/, plugin/ or Package.swift)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300, help="frames per throughput run (default 300)")
    parser.add_argument("--rounds", type=int, default=15, help="throughput rounds (default 15)")
    parser.add_argument("--slow-rounds", type=int, default=3, help="rounds of the slow-handler case (default 3)")
    parser.add_argument("--slow-seconds", type=float, default=5.0, help="length of each slow run (default 5 s)")
    parser.add_argument("--sleep-ms", type=float, default=60.0, help="added to the handler in the slow case (default 60)")
    parser.add_argument("--output", help="JSON file to write")
    args = parser.parse_args()

    info = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": commit(), **machine(), "plugin": plugin_info()}
    print(f"{info['nproc']} CPUs, {info['cpu']}, {info['gstreamer']}, numpy {info['numpy']}; "
          f"plugin {info['plugin']['loaded_from']}", flush=True)
    started = time.monotonic()
    load_before = loadavg()

    checks = {}
    for variant in VARIANTS:  # warm-up, unmeasured; checks the output against apply()
        result = throughput_run(variant, min(args.frames, 30), check=True)
        checks[variant] = result["output_equals_apply"]
        print(f"warm-up {variant}: output == vignette.apply(input): {checks[variant]}", flush=True)
        if not checks[variant]:
            sys.exit(f"{variant}: the output is not vignette.apply() of the input")

    throughput = {variant: [] for variant in VARIANTS}
    for round_index in range(args.rounds):
        order = VARIANTS if round_index % 2 == 0 else tuple(reversed(VARIANTS))
        for variant in order:
            result = throughput_run(variant, args.frames)
            throughput[variant].append(result)
            print(f"round {round_index + 1} {variant:13s} {result['fps']:6.1f} fps, {result['cpu_ms_per_frame']:5.1f} ms CPU/frame, "
                  f"handler {result['handler_ms_per_frame']:5.1f} ms", flush=True)

    default_ring = default_ring_run(args.frames)
    print(f"plugin, default ring: {default_ring['handled']} of {args.frames} frames handled, "
          f"{default_ring['dropped']} dropped, {default_ring['sink_fps']:.1f} fps at the sink", flush=True)

    slow = {variant: [] for variant in SLOW_VARIANTS}
    for round_index in range(args.slow_rounds):
        order = SLOW_VARIANTS if round_index % 2 == 0 else tuple(reversed(SLOW_VARIANTS))
        for variant in order:
            result = slow_run(variant, args.slow_seconds, args.sleep_ms / 1000)
            slow[variant].append(result)
            print(f"slow {round_index + 1} {variant:16s} upstream {result['upstream_fps']:5.1f} fps, handled {result['handled']}, "
                  f"sink {result['at_sink']}, dropped {result['dropped']}, waiting {result['waiting_at_end']}, "
                  f"lag behind live: median {result['lag_ms_median']:.0f} ms, last {result['lag_ms_last']:.0f} ms", flush=True)

    def ratios(key, plugin, bridge):
        return [p[key] / b[key] for p, b in zip(throughput[plugin], throughput[bridge])]

    summary = {"throughput": {}, "slow": {}}
    for variant in VARIANTS:
        runs = throughput[variant]
        summary["throughput"][variant] = {key: spread([r[key] for r in runs])
                                          for key in ("fps", "cpu_ms_per_frame", "user_ms_per_frame", "sys_ms_per_frame",
                                                      "handler_ms_per_frame")}
    for plugin in ("plugin", "plugin-ring"):
        for bridge in BRIDGES:
            summary["throughput"][plugin + "_over_" + bridge] = {
                "fps": spread(ratios("fps", plugin, bridge)),
                "cpu_ms_per_frame": spread(ratios("cpu_ms_per_frame", plugin, bridge))}
    for variant in SLOW_VARIANTS:
        runs = slow[variant]
        summary["slow"][variant] = {key: spread([r[key] for r in runs])
                                    for key in ("upstream_fps", "upstream_fps_second_half", "handled_fps", "handled",
                                                "at_sink", "dropped", "waiting_at_end", "waiting_mb_at_end",
                                                "lag_ms_median", "lag_ms_last")}
    output = {"run": {**info, "seconds": time.monotonic() - started, "loadavg_before": load_before,
                      "loadavg_after": loadavg()},
              "settings": {"width": WIDTH, "height": HEIGHT, "format": "RGBA", "frames": args.frames,
                           "rounds": args.rounds, "slow_rounds": args.slow_rounds, "slow_seconds": args.slow_seconds,
                           "sleep_ms": args.sleep_ms, "live_fps": 30, "pattern": "smpte (videotestsrc default)"},
              "output_checks": checks, "summary": summary, "plugin_default_ring": default_ring,
              "throughput_runs": throughput, "slow_runs": slow}
    text = json.dumps(output, indent=1) + "\n"
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
        print(f"wrote {args.output} ({output['run']['seconds']:.0f} s)")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
