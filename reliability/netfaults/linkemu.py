#!/usr/bin/python3
"""A user-space link emulator: an Ethernet bridge between two interfaces made of AF_PACKET raw
sockets, with netem-like impairments on every frame in both directions.

This VM's kernel has no netem qdisc (`tc qdisc add ... netem` fails with "Specified qdisc kind is
unknown"), so the impairments are applied here instead, on the real link: run this in the middle
namespace R of A -- veth -- R -- veth -- B. Each frame received on one interface (frames the kernel
sent out, PACKET_OUTGOING, are skipped) is dropped, delayed or passed on unchanged to the other.

    linkemu.py IF1 IF2 [--loss P] [--delay MS] [--jitter MS] [--outage-after S --outage-for S]
               [--seed N] [--stats FILE] [--duration S]

--loss P          drop each frame with probability P (0..1), each direction independently
--delay/--jitter  hold each frame for delay +- jitter ms, uniformly drawn per frame (netem's default
                  distribution), released from a timer heap: frames overtake each other
--outage-after S  S seconds after start, drop every frame for --outage-for seconds
--seed N          the random generator's seed (runs are repeatable frame for frame given the same
                  arrival order)
--start-on-signal the link is clean until the process gets SIGUSR1 (the receiving peer sends it once
                  its call is set up, ICE and DTLS): impairments, and the outage's clock, start then

On SIGTERM/SIGINT (or after --duration) it writes its counters as JSON to --stats (or stdout):
frames received, passed, dropped (loss / outage), reordered (released after a frame that arrived
later in the same direction), the outage's wall-clock start and end (time.time(), the same clock in
every namespace), per direction.
"""
import argparse
import heapq
import json
import os
import random
import select
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def open_interface(name):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((name, 0))
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    return sock


class Direction:
    def __init__(self, name):
        self.name = name
        self.received = 0
        self.passed = 0
        self.dropped_loss = 0
        self.dropped_outage = 0
        self.reordered = 0
        self.bytes_passed = 0
        self.highest_released = -1   # ingress index of the latest-arrived frame released so far
        self.next_index = 0

    def figures(self):
        return {"received": self.received, "passed": self.passed, "dropped_loss": self.dropped_loss,
                "dropped_outage": self.dropped_outage, "reordered": self.reordered,
                "bytes_passed": self.bytes_passed}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("if1")
    parser.add_argument("if2")
    parser.add_argument("--loss", type=float, default=0.0)
    parser.add_argument("--delay", type=float, default=0.0, help="ms")
    parser.add_argument("--jitter", type=float, default=0.0, help="ms")
    parser.add_argument("--outage-after", type=float, default=None, help="s")
    parser.add_argument("--outage-for", type=float, default=2.0, help="s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stats", default=None)
    parser.add_argument("--duration", type=float, default=None, help="s")
    parser.add_argument("--start-on-signal", action="store_true")
    args = parser.parse_args()
    if not 0.0 <= args.loss <= 1.0 or args.delay < 0 or args.jitter < 0 or args.jitter > args.delay:
        parser.error("need 0 <= loss <= 1 and 0 <= jitter <= delay")

    rng = random.Random(args.seed)
    socks = [open_interface(args.if1), open_interface(args.if2)]
    directions = [Direction(f"{args.if1}->{args.if2}"), Direction(f"{args.if2}->{args.if1}")]
    heap = []          # (release monotonic time, ingress order, direction index, frame)
    order = 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    signal.signal(signal.SIGINT, lambda *_: stop.append(True))

    started = time.monotonic()
    started_wall = time.time()
    impaired = {}                # monotonic and wall time the impairments started

    def start_impairments(*_):
        if not impaired:
            impaired.update(monotonic=time.monotonic(), wall=time.time())
    signal.signal(signal.SIGUSR1, start_impairments)   # a no-op once started
    if not args.start_on_signal:
        start_impairments()
    outage = None
    outage_seen = {}
    send_errors = 0

    def release(now):
        nonlocal send_errors
        while heap and heap[0][0] <= now:
            _, _, index, ingress, frame = heapq.heappop(heap)
            direction = directions[index]
            if ingress < direction.highest_released:
                direction.reordered += 1
            else:
                direction.highest_released = ingress
            try:
                socks[1 - index].send(frame)
                direction.passed += 1
                direction.bytes_passed += len(frame)
            except OSError:
                send_errors += 1

    print(f"linkemu: {args.if1} <-> {args.if2}, loss {args.loss}, delay {args.delay} +- {args.jitter} ms, "
          f"outage {'none' if outage is None else f'{args.outage_for} s after {args.outage_after} s'}, "
          f"seed {args.seed}", flush=True)
    while not stop:
        now = time.monotonic()
        if outage is None and impaired and args.outage_after is not None:
            outage = (impaired["monotonic"] + args.outage_after, impaired["monotonic"] + args.outage_after + args.outage_for)
        if args.duration is not None and now - started >= args.duration:
            break
        timeout = 0.2 if not heap else max(0.0, heap[0][0] - now)
        try:
            readable, _, _ = select.select(socks, [], [], timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for sock in readable:
            index = socks.index(sock)
            direction = directions[index]
            while True:
                try:
                    frame, address = sock.recvfrom(65536)
                except BlockingIOError:
                    break
                if address[2] == PACKET_OUTGOING:   # our own sends on this interface
                    continue
                direction.received += 1
                ingress = direction.next_index
                direction.next_index += 1
                if not impaired:
                    socks[1 - index].send(frame)     # not yet: a clean cable
                    direction.passed += 1
                    direction.bytes_passed += len(frame)
                    direction.highest_released = ingress
                    continue
                if outage is not None and outage[0] <= now < outage[1]:
                    direction.dropped_outage += 1
                    outage_seen.setdefault("first_drop", time.time())
                    continue
                if args.loss > 0 and rng.random() < args.loss:
                    direction.dropped_loss += 1
                    continue
                delay = args.delay + (rng.uniform(-args.jitter, args.jitter) if args.jitter else 0.0)
                heapq.heappush(heap, (now + delay / 1000.0, order, index, ingress, frame))
                order += 1
        release(time.monotonic())
    release(float("inf"))   # what is in flight leaves at once: the link is going down anyway

    result = {
        "interfaces": [args.if1, args.if2],
        "loss": args.loss, "delay_ms": args.delay, "jitter_ms": args.jitter, "seed": args.seed,
        "started_wall": started_wall, "ran_s": round(time.monotonic() - started, 3),
        "impaired_from_wall": impaired.get("wall"),
        "outage": None if outage is None else {
            "start_wall": impaired["wall"] + args.outage_after,
            "end_wall": impaired["wall"] + args.outage_after + args.outage_for,
            "duration_s": args.outage_for,
        },
        "send_errors": send_errors,
        "directions": {d.name: d.figures() for d in directions},
    }
    text = json.dumps(result, indent=1)
    if args.stats:
        with open(args.stats + ".tmp", "w") as f:
            f.write(text + "\n")
        os.replace(args.stats + ".tmp", args.stats)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
