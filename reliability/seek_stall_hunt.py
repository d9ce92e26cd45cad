#!/usr/bin/python3
"""Hunts a rare stall after a flushing seek through trackprocessor (seen once, before the flush fix
of ee72201, in ProcessorGeneratorTests.testFlushingSeekDoesNotDeadlock: no frame and no EOS after
the seek, nothing on the bus). Runs the test's pipeline again and again: 300 ms of play, a flushing
seek to 9-10 s on the processor, then it waits up to 5 s for the EOS. When it does not come, the
stacks of every thread (gdb attached to this process) go to stall-stacks-RUN.txt and the script
exits 3, leaving the process as it was found until gdb is done.

    GST_PLUGIN_PATH=.build/release /usr/bin/python3 reliability/seek_stall_hunt.py [RUNS] [OUTPUT_DIR]

Needs Debian's python3-gi and gdb. Uses a private registry. 300 runs took about 8 minutes here and
found no stall on the code after the fix (2026-12-02).
"""
import os
import subprocess
import sys
import tempfile

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

PIPELINE = ("videotestsrc num-buffers=300 ! video/x-raw,format=RGBA,width=64,height=48,framerate=30/1 ! "
            'trackprocessor name=proc worker="delay ms=2" pipe-to=gen trackgenerator name=gen ! fakesink name=out')


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    output = sys.argv[2] if len(sys.argv) > 2 else "."
    os.environ.setdefault("GST_REGISTRY", os.path.join(tempfile.gettempdir(), f"seek-stall-hunt-{os.getpid()}.registry"))
    Gst.init(None)
    if Gst.ElementFactory.find("trackprocessor") is None:
        sys.exit("no trackprocessor: point GST_PLUGIN_PATH at the built plugin (e.g. .build/release)")
    for run in range(runs):
        pipeline = Gst.parse_launch(PIPELINE)
        pipeline.set_state(Gst.State.PLAYING)
        pipeline.get_bus().timed_pop_filtered(300 * Gst.MSECOND, Gst.MessageType.ERROR)
        seeked = pipeline.get_by_name("proc").seek(1.0, Gst.Format.TIME, Gst.SeekFlags.FLUSH, Gst.SeekType.SET,
                                                   9 * Gst.SECOND, Gst.SeekType.SET, 10 * Gst.SECOND)
        message = pipeline.get_bus().timed_pop_filtered(5 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
        if message is None:
            path = os.path.join(output, f"stall-stacks-{run}.txt")
            stacks = subprocess.run(["gdb", "-batch", "-p", str(os.getpid()), "-ex", "thread apply all bt"],
                                    capture_output=True, text=True).stdout
            with open(path, "w") as f:
                f.write(stacks)
            print(f"run {run}: no EOS within 5 s of the seek (seek returned {seeked}); every thread's stack in {path}")
            os._exit(3)
        if message.type == Gst.MessageType.ERROR:
            print(f"run {run}: error {message.parse_error()}")
        pipeline.set_state(Gst.State.NULL)
    print(f"{runs} runs, no stall")


if __name__ == "__main__":
    main()
