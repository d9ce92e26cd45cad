#!/usr/bin/python3
"""Instructions per frame of a module transform against the same transform built in, counted by
valgrind (callgrind's instruction count of the whole process), so the figure does not move with
the load of a shared 2-core machine the way wall and CPU time do (benchmarks/module-overhead.c).

    benchmarks/run-module-instructions.sh        builds, then runs this with the copied plugin

    /usr/bin/python3 benchmarks/module_instructions.py OUTPUT.json   (GST_PLUGIN_PATH, GST_REGISTRY and
        GST_INSERTABLE_STREAMS_MODULE_PATH set by the caller)

Each pipeline runs twice under `valgrind --tool=callgrind`, with a short and a long input (encoded:
Ogg/Opus files of FEW and MANY 20 ms frames made here; raw: videotestsrc num-buffers FEW and MANY);
per frame = (instructions of the long run - those of the short run) / (MANY - FEW), which leaves
out start-up, plugin and module loading, and teardown. The ratio is module / built in per frame
of the whole pipeline (source, demuxer, element, sink), as the timed benchmark's ratios are.
The frames that reach fakesink are counted in a run of their own, outside valgrind (an identity
that reports every buffer costs more than the transforms); every variant of a case must carry the
same frames.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ENCODED = ("encoded-opus", [("passthrough", "identity"), ("swiftnegate", "negate")], 2000, 6000)
RAW = [("raw-1080p-i420", "I420"), ("raw-1080p-rgba", "RGBA")]
RAW_PAIRS = [("swiftmirror", "mirror")]
RAW_FEW, RAW_MANY = 8, 24


def encode_opus(path, frames):
    subprocess.run(["gst-launch-1.0", "-q", "audiotestsrc", f"num-buffers={frames}", "samplesperbuffer=960",
                    "wave=pink-noise", "!", "audio/x-raw,rate=48000,channels=2", "!", "opusenc", "bitrate=64000",
                    "!", "oggmux", "!", "filesink", f"location={path}"], check=True)


def pipeline(case, worker, source, counted=False):
    """The pipeline; `counted` puts a talkative identity before the sink (its per-buffer message
    costs far more than the transforms, so the instruction counts are taken without it)."""
    sink = (["identity", "name=count", "silent=false", "!"] if counted else []) + ["fakesink", "sync=false"]
    if case == "encoded-opus":
        return ["filesrc", f"location={source}", "!", "oggdemux", "!", "rtpscripttransform", "side=send",
                f"worker={worker}", "!"] + sink
    fmt = dict(RAW)[case]
    return ["videotestsrc", "pattern=black", f"num-buffers={source}", "!",
            f"video/x-raw,format={fmt},width=1920,height=1080,framerate=30/1", "!", "trackprocessor",
            f"worker={worker}", "pipe-to=g", "sync=false", "max-buffer-size=1024", "trackgenerator", "name=g", "!"] + sink


def count_frames(arguments):
    """The frames that reach the sink (one `chain` line of the identity per buffer with -v)."""
    result = subprocess.run(["gst-launch-1.0", "-v"] + arguments, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(arguments)}\n{result.stderr[-2000:]}")
    return len(re.findall(r"count: last-message = chain", result.stdout))


def count_instructions(arguments):
    """The instructions the whole process executed (valgrind's callgrind)."""
    result = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                             "gst-launch-1.0", "-q"] + arguments, capture_output=True, text=True)
    match = re.search(r"Collected\s*:\s*(\d+)", result.stderr) or re.search(r"I\s+refs:\s+([\d,]+)", result.stderr)
    if result.returncode != 0 or not match:
        sys.exit(f"failed under valgrind: {' '.join(arguments)}\n{result.stderr[-2000:]}")
    return int(match.group(1).replace(",", ""))


def measure(case, worker, few, many):
    low_frames, high_frames = count_frames(pipeline(case, worker, few, True)), count_frames(pipeline(case, worker, many, True))
    low, high = count_instructions(pipeline(case, worker, few)), count_instructions(pipeline(case, worker, many))
    return {"instructions": [low, high], "frames": [low_frames, high_frames],
            "per_frame": (high - low) / (high_frames - low_frames)}


def main():
    output = sys.argv[1]
    started = time.time()
    work = tempfile.mkdtemp()
    cases = []
    few_file, many_file = os.path.join(work, "few.ogg"), os.path.join(work, "many.ogg")
    name, pairs, few, many = ENCODED
    encode_opus(few_file, few)
    encode_opus(many_file, many)
    jobs = [(name, pairs, few_file, many_file)] + [(case, RAW_PAIRS, RAW_FEW, RAW_MANY) for case, _ in RAW]
    for case, case_pairs, low, high in jobs:
        variants = {}
        for module, builtin in case_pairs:
            for worker in (builtin, module):
                variants[worker] = measure(case, worker, low, high)
                print(f"{case} {worker}: {variants[worker]['per_frame']:.0f} instructions per frame "
                      f"({variants[worker]['frames']} frames)", flush=True)
        frames = {tuple(v["frames"]) for v in variants.values()}
        if len(frames) != 1:
            sys.exit(f"{case}: the variants did not all carry the same frames: {frames}")
        cases.append({"case": case, "variants": variants,
                      "pairs": [{"module": m, "builtin": b,
                                 "ratio": variants[m]["per_frame"] / variants[b]["per_frame"],
                                 "added_per_frame": variants[m]["per_frame"] - variants[b]["per_frame"]}
                                for m, b in case_pairs]})
    valgrind = subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip()
    json.dump({"date": time.strftime("%Y-%m-%d %H:%M %Z"), "valgrind": valgrind,
               "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
               "duration_s": round(time.time() - started), "cases": cases}, open(output, "w"), indent=1)


if __name__ == "__main__":
    main()
