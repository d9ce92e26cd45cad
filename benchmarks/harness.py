"""What the pipeline sections share: the child process that runs the pipelines, run_to_eos and its
checks, hang detection, machine information and the statistics helpers.

The pipelines run in a child process (bench.py --serve) that the parent drives one request at a
time, so that a pipeline that deadlocks (at EOS or when it is set to NULL) is detected by a
time-out, its threads' stacks are saved, the child is killed and restarted, and the benchmark
carries on and reports the hang instead of hanging itself.
"""
import json
import math
import os
import platform
import resource
import select
import statistics
import subprocess
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

Gst.init(None)


LIBRARY = "libgstinsertablestreams.so"  # the plugin's file, in the folder GST_PLUGIN_PATH names


class RunError(Exception):
    pass


class Hang(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Child side: runs pipelines.

def run_to_eos(pipeline, description, n, timeout_s, lossy=False):
    """Plays `pipeline` to EOS; returns the result dict (the caller tears the pipeline down).

    Checks that N of N frames arrived everywhere (n None: whatever the fakesink rendered). With
    `lossy` (pipelines that may drop frames on purpose), checks instead that every frame is
    accounted for: processor total-frames = n, generator total-frames = n - processor
    discarded-frames = fakesink rendered, and fakesink rendered <= n."""
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
    if n is None:  # count only (the caller checks)
        n = counters["rendered"]
    problems = (_lossy_problems if lossy else _problems)(counters, n)
    if problems:
        expected = f"every one of {n} frames accounted for" if lossy else f"{n} frames everywhere"
        raise RunError(f"expected {expected}, got: {'; '.join(problems)}: {description}")
    return {"seconds": elapsed, "cpu_seconds": cpu, "switches": switches, "counters": counters}


def _problems(counters, n):
    problems = []
    if counters["rendered"] != n or counters["dropped"] != 0:
        problems.append(f"fakesink rendered {counters['rendered']}, dropped {counters['dropped']}")
    if "xform_total" in counters and (counters["xform_total"] != n or counters["xform_written"] != n
                                      or counters["xform_failed"] != 0 or counters["xform_rejected"] != 0):
        problems.append(f"rtpscripttransform total-frames {counters['xform_total']}, written-frames "
                        f"{counters['xform_written']}, failed-frames {counters['xform_failed']}, "
                        f"rejected-frames {counters['xform_rejected']}")
    if "proc_total" in counters:
        if counters["proc_total"] != n or counters["proc_discarded"] != 0:
            problems.append(f"trackprocessor total-frames {counters['proc_total']}, "
                            f"discarded-frames {counters['proc_discarded']}")
        if counters["gen_total"] != n or counters["gen_discarded"] != 0:
            problems.append(f"trackgenerator total-frames {counters['gen_total']}, "
                            f"discarded-frames {counters['gen_discarded']}")
    return problems


def _lossy_problems(counters, n):
    problems = []
    if counters["rendered"] > n or counters["dropped"] != 0:
        problems.append(f"fakesink rendered {counters['rendered']} of {n}, dropped {counters['dropped']}")
    if "proc_total" in counters:
        passed = counters["proc_total"] - counters["proc_discarded"]
        if counters["proc_total"] != n:
            problems.append(f"trackprocessor total-frames {counters['proc_total']}")
        if counters["gen_total"] != passed or counters["gen_discarded"] != 0 or counters["rendered"] != passed:
            problems.append(f"trackprocessor passed on {passed} frames (total - discarded), trackgenerator "
                            f"total-frames {counters['gen_total']}, discarded-frames {counters['gen_discarded']}, "
                            f"fakesink rendered {counters['rendered']}")
    return problems


def serve(handlers, pipeline_handlers):
    """Child: one JSON request per stdin line, one JSON reply per request on stdout.

    `handlers` maps an op to a function(request) -> dict. `pipeline_handlers` maps the ops that
    play the pipeline request["pipeline"] to a function(pipeline, request) -> dict ("eos", for
    run_to_eos, is built in); they get two replies: the result (before teardown, marked
    "teardown_follows") and {"teardown": "ok"} after set_state(NULL) returned, so that a deadlock
    at teardown does not lose the measurement."""
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing else may write to the protocol stream
    plugin = Gst.Registry.get().find_plugin("insertablestreams")
    pipeline_handlers = {"eos": lambda pipeline, request: run_to_eos(
        pipeline, request["pipeline"], request["n"], request["timeout"], request.get("lossy", False)),
        **pipeline_handlers}

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
            if op not in pipeline_handlers:
                reply({"ok": True, **handlers[op](request)})
                continue
            pipeline = Gst.parse_launch(request["pipeline"])
            try:
                reply({"ok": True, "teardown_follows": True, **pipeline_handlers[op](pipeline, request)})
            except RunError as error:
                reply({"ok": False, "teardown_follows": True, "error": str(error)})
            pipeline.set_state(Gst.State.NULL)
            del pipeline
            reply({"teardown": "ok"})
        except Exception as error:  # report, keep serving
            reply({"ok": False, "error": f"{type(error).__name__}: {error}"})


# ---------------------------------------------------------------------------------------------
# Parent side: drives the child.

class Child:
    def __init__(self, command, hang_dir, env=None):
        self.command = command
        self.hang_dir = hang_dir
        self.env = env  # None: this process's environment
        self.process = None
        self.hangs = []
        self.buffer = b""

    def start(self):
        self.process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self.env)
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
        if response.get("teardown_follows"):  # a pipeline op answers again once set_state(NULL) returned
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


def plugin_environment(plugin_dir, registry):
    """This process's environment, but with GST_PLUGIN_PATH = `plugin_dir` (instead of the folder
    of the plugin under test; the system's plugins load as usual) and the registry cache in the
    file `registry`, private to that folder: a cache shared with another plugin folder could hand
    the child the other build of the same plugin."""
    env = dict(os.environ)
    for name in ("GST_PLUGIN_PATH_1_0", "GST_REGISTRY_1_0"):  # would take precedence over the names below
        env.pop(name, None)
    env["GST_PLUGIN_PATH"] = plugin_dir
    env["GST_REGISTRY"] = registry
    return env


def run_in_child(child, description, expected, timeout_s, failures, lossy=False):
    """Plays `description` to EOS in the child; None (and the reason in `failures`) on a hang or error."""
    try:
        response = child.call({"op": "eos", "pipeline": description, "n": expected, "timeout": timeout_s,
                               "lossy": lossy}, timeout_s + 30)
    except Hang as error:
        failures.append(str(error))
        return None
    if not response.get("ok"):
        failures.append(response["error"])
        print(f"  FAILED: {response['error']}", flush=True)
        return None
    return response


# ---------------------------------------------------------------------------------------------
# Helpers.

def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def percentile(values, fraction):
    """Nearest-rank percentile: the smallest value with at least `fraction` of the values <= it."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered) - 1e-9))
    return ordered[rank - 1]


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
