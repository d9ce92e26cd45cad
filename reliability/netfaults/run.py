#!/usr/bin/python3
"""Runs the network-fault call under each impairment and writes the figures (scripts/network-faults.sh
calls this after building the plugin and creating the namespaces; run as root).

For each codec and scenario: link emulator in nf-r (linkemu.py), receiver peer in nf-b, sender
peer in nf-a (peer.py), signalling over a Unix-domain socket; then the three JSON files are
combined into one entry of --out, and the checks below decide the exit status:

  * decryption refusals (authentication, keyID, syntax, replay; both streams) are 0;
  * every frame the sender's transforms handed to the payloaders was checked and none carried
    plaintext (see peer.py), and at least one frame was checked;
  * with no impairment, >= 95 % of the frames are decoded intact;
  * after the outage, video recovers by itself: an intact frame arrives after the outage ends,
    and the encoder made a key frame after the outage began (requested: the encoder makes none
    by itself).
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
KEY = "8f1e0d2c3b4a59687766554433221100"   # the test key of these runs (never printed by the plugin)
FPS = 30
# A picture is intact at PSNR >= this against the picture the sender encoded under its number.
# Clean encodes of these pictures measured 41-52 dB; pictures decoded from lost references spread
# continuously from 12 dB upward (control-naive-loss-5), so the line is drawn close under the clean ones.
INTACT_PSNR_DB = 38.0

SCENARIOS = {
    "none": [],
    "loss-1": ["--loss", "0.01"],
    "loss-5": ["--loss", "0.05"],
    "loss-20": ["--loss", "0.20"],
    "jitter": ["--delay", "100", "--jitter", "30"],
    "outage": ["--outage-after", "{outage_after}", "--outage-for", "2"],
}
# Not in the default list: loss from the first packet on, call set-up included (ICE, DTLS). What it
# measures is how long set-up takes; the media checks apply to whatever part of the run had media.
SETUP = {"setup-loss-20": ["--loss", "0.20"]}
# Control runs: they show that the checks can fail. Their expectations are inverted.
CONTROLS = {
    # no encryption (worker=identity on both ends): the plaintext check must flag every frame
    "control-plaintext": {"link": [], "peers": ["--transform", "identity"]},
    # 5 % loss, depayloader neither waits for nor requests key frames: decoded pictures predicted
    # from lost references must show up as decoded but not intact
    "control-naive-loss-5": {"link": ["--loss", "0.05"], "peers": ["--naive-receiver"]},
}


def link_arguments(scenario):
    for table in (SCENARIOS, SETUP):
        if scenario in table:
            return table[scenario]
    return CONTROLS[scenario]["link"]


def ns(name, prefix):
    return ["ip", "netns", "exec", f"{prefix}-{name}"]


def run_scenario(codec, scenario, seconds, seed, work, prefix):
    tag = f"{codec}-{scenario}"
    files = {k: os.path.join(work, f"{tag}-{k}.json") for k in ("emu", "send", "recv")}
    for path in files.values():
        if os.path.exists(path):
            os.unlink(path)
    sock = os.path.join(work, f"{tag}.sock")
    outage_after = seconds / 3     # after the impairments started, i.e. after the call was set up
    link = link_arguments(scenario)
    emu_args = [a.format(outage_after=outage_after) for a in link]
    logs = {k: open(os.path.join(work, f"{tag}-{k}.log"), "w") for k in ("emu", "send", "recv")}
    emu = subprocess.Popen(ns("r", prefix) + [PY, os.path.join(HERE, "linkemu.py"), f"{prefix}-ra", f"{prefix}-rb",
                                              "--seed", str(seed), "--stats", files["emu"]]
                           + ([] if scenario in SETUP else ["--start-on-signal"]) + emu_args,
                           stdout=logs["emu"], stderr=subprocess.STDOUT)
    common = ["--codec", codec, "--socket", sock, "--key", KEY] + (CONTROLS[scenario]["peers"] if scenario in CONTROLS else [])
    recv = subprocess.Popen(ns("b", prefix) + [PY, os.path.join(HERE, "peer.py"), "--role", "recv", "--address", "10.77.0.2",
                                               "--duration", str(seconds + 2), "--out", files["recv"],
                                               "--notify-pid", str(emu.pid)] + common,
                            stdout=logs["recv"], stderr=subprocess.STDOUT)
    time.sleep(0.5)
    send = subprocess.Popen(ns("a", prefix) + [PY, os.path.join(HERE, "peer.py"), "--role", "send", "--address", "10.77.0.1",
                                               "--duration", str(seconds), "--out", files["send"]] + common,
                            stdout=logs["send"], stderr=subprocess.STDOUT)
    codes = {"send": send.wait(), "recv": recv.wait()}
    emu.terminate()
    codes["emu"] = emu.wait()
    for log in logs.values():
        log.close()
    data = {}
    for key, path in files.items():
        try:
            with open(path) as f:
                data[key] = json.load(f)
        except (OSError, ValueError) as error:
            data[key] = None
            codes[key] = f"{codes[key]} (no results: {error})"
    return analyse(codec, scenario, seconds, data, codes)


def load_scenario(codec, scenario, seconds, work):
    """The files a finished run left in `work`, analysed again (--reanalyse)."""
    data, codes = {}, {}
    for key in ("emu", "send", "recv"):
        path = os.path.join(work, f"{codec}-{scenario}-{key}.json")
        try:
            with open(path) as f:
                data[key] = json.load(f)
            codes[key] = 0
        except (OSError, ValueError) as error:
            data[key], codes[key] = None, f"no results: {error}"
    return analyse(codec, scenario, seconds, data, codes)


def stats_for(peer, encoding, kind):
    ssrc = (peer.get("ssrcs") or {}).get(encoding)
    for entry in (peer.get("webrtc_stats") or {}).values():
        if entry.get("ssrc") == ssrc and entry.get("type") == kind:
            return entry
    return {}


def analyse(codec, scenario, seconds, data, codes):
    send, recv, emu = data["send"], data["recv"], data["emu"]
    result = {"codec": codec, "scenario": scenario, "seconds": seconds, "exit_codes": codes, "failures": []}
    fail = result["failures"].append
    if not (send and recv and emu):
        fail(f"a process left no results: {codes}")
        return result
    control = scenario.startswith("control-")
    result["link"] = {"impaired_from_s": round(emu["impaired_from_wall"] - send["started_wall"], 3)
                      if emu.get("impaired_from_wall") else None,
                      "impairment": link_arguments(scenario), "directions": emu["directions"], "outage": emu["outage"]}

    pushed = {n: t for n, t in send["frames_pushed"]}
    decoded = recv["decoded"]
    intact = [(n, q, t) for n, q, t in decoded if n is not None and q >= INTACT_PSNR_DB]
    intact_numbers = {n for n, _, _ in intact}
    result["connected_after_s"] = round(recv["connected_wall"] - send["started_wall"], 3) if recv["connected_wall"] else None
    # ICE and DTLS both connected (webrtcbin's connection-state), as the receiver saw it
    result["peer_connected_after_s"] = (round(recv["pc_connected_wall"] - send["started_wall"], 3)
                                        if recv.get("pc_connected_wall") else None)
    if not intact:
        if scenario not in SETUP:
            fail("no intact video frame at all")
        first = None
    else:
        first = min(n for n, _, _ in intact)
    last = max(pushed) - FPS if pushed else -1     # the last second is still in flight at the end
    # frames sent: the pictures that entered the encoder (the queue before it drops pictures when
    # the sender falls behind, a loaded machine, not the network; counted apart)
    encoded = set(send["frames_encoded"])
    # the impairments start once the call is set up (linkemu --start-on-signal): frames pushed from then on
    impaired_from = emu.get("impaired_from_wall")
    if impaired_from is None:
        fail("the link was never impaired: the call was not set up (ICE + DTLS)")
        impaired_from = float("inf")
    if first is not None:
        first = max(first, min((n for n, t in pushed.items() if t >= impaired_from), default=first))
    window = [n for n in sorted(encoded) if first is not None and first <= n <= last]
    dropped_before_encoder = len([n for n in pushed if first is not None and first <= n <= last and n not in encoded])
    decoded_numbers = {n for n, _, _ in decoded if n is not None}
    # decoded but not intact: in the window (by number; an unreadable number by the time it was
    # decoded); the ones before it are the call's start (packets webrtcbin sends before DTLS is up)
    window_start = first if first is not None else float("inf")
    window_start_wall = max(impaired_from, min((t for _, _, t in intact), default=impaired_from))

    def in_window(n, t):
        return window_start <= n <= last if n is not None else t >= window_start_wall
    shown_corrupt = [q for n, q, t in decoded if (n is None or q < INTACT_PSNR_DB) and in_window(n, t)]
    corrupt_before = [q for n, q, t in decoded if (n is None or q < INTACT_PSNR_DB) and not in_window(n, t)]
    intact_psnr = sorted(q for n, q, _ in intact)
    video = {
        "frames_sent_in_window": len(window),
        "window": [first, last],
        "frames_decoded_in_window": len([n for n in window if n in decoded_numbers]),
        "frames_intact_in_window": len([n for n in window if n in intact_numbers]),
        "decoded_not_intact": len(shown_corrupt),
        "decoded_not_intact_before_window": len(corrupt_before),
        "dropped_before_encoder_in_window": dropped_before_encoder,
        "first_intact_after_connected_s": round(min(t for _, _, t in intact) - recv["connected_wall"], 3)
        if intact and recv["connected_wall"] else None,
        "intact_psnr_min_db": intact_psnr[0] if intact_psnr else None,
        "intact_psnr_median_db": intact_psnr[len(intact_psnr) // 2] if intact_psnr else None,
    }
    video["intact_share"] = round(video["frames_intact_in_window"] / len(window), 4) if window else 0.0
    # the longest time without an intact picture (a freeze), on the receiver's clock
    times = sorted(t for _, _, t in intact)
    gaps = [b - a for a, b in zip(times, times[1:])]
    video["longest_freeze_s"] = round(max(gaps), 3) if gaps else None
    result["video"] = video

    # key frames: requested by the receiver, honoured by the sender's encoder
    requests = recv["key_requests"]
    inbound = stats_for(recv, "VP8" if codec == "vp8" else "H264", "inbound-rtp")
    key_frames = send["encoder_key_frames"]
    # requests in the last 1.5 s may be answered after the sender stopped measuring: left out
    arrived = [t for t, _ in send["key_requests"] if t <= send["ended_wall"] - 1.5]
    honoured = [t for t in arrived if any(t <= k <= t + 1.0 for k in key_frames)]
    every_request = [t for t, _ in send["key_requests"]]
    unrequested = [k for k in key_frames[1:] if not any(t <= k <= t + 1.0 for t in every_request)]
    result["key_frames"] = {
        "force_key_unit_events_upstream_of_depayloader": len([r for r in requests if r[1].startswith("depayloader sink")]),
        "of_which_from_transform_or_decoder": len([r for r in requests if r[1].startswith("from transform")]),
        "receiver_app_requests_for_first_picture": len(recv.get("app_key_requests", [])),
        "rtcp_pli_sent": inbound.get("pli-count"), "rtcp_fir_sent": inbound.get("fir-count"),
        "rtcp_nack_sent": inbound.get("nack-count"),
        "requests_reaching_send_transform": send["elements"].get("send_video", {}).get("key-frame-requests"),
        "requests_arrived_at_sender": len(arrived),
        "requests_honoured_within_1s": len(honoured),
        "encoder_key_frames": len(key_frames),
        "encoder_key_frames_after_the_first": max(0, len(key_frames) - 1),
        "encoder_key_frames_unrequested": len(unrequested),
        "key_frames_out_of_receiver_depayloader": len(recv["depay_key_frames"]),
    }

    # decryption refusals: loss must not look like an attack
    refusals = {}
    for name, stats in recv["sframe_stats"].items():
        for kind in ("authentication", "keyID", "syntax", "replay"):
            refusals[f"{name}.{kind}"] = stats.get(kind, 0)
        refusals[f"{name}.dropped-awaiting-key-frame"] = stats.get("dropped-awaiting-key-frame", 0)
    refused = sum(v for k, v in refusals.items() if not k.endswith("dropped-awaiting-key-frame"))
    result["sframe"] = {"refusals": refused, "by_kind": refusals, "sframe_error_messages": len(recv["sframe_errors"]),
                        "receiver_stats": recv["sframe_stats"], "sender_stats": send["sframe_stats"]}
    if len(recv["sframe_stats"]) < 2 and scenario != "control-plaintext" and scenario not in SETUP:
        fail(f"sframe-stats missing from the receiver: {sorted(recv['sframe_stats'])}")
    if (refused or recv["sframe_errors"]) and not control:
        fail(f"{refused} decryption refusals, {len(recv['sframe_errors'])} sframe-error messages: "
             f"{recv['sframe_errors'][:3]}")

    # no plaintext crossed the link
    figures = send["figures"]
    plaintext = {
        "video_frames_checked": figures.get("video_checked", 0), "audio_frames_checked": figures.get("audio_checked", 0),
        "video_failures": figures.get("video_plaintext_failures", 0),
        "audio_failures": figures.get("audio_plaintext_failures", 0),
        "video_unmatched": figures.get("video_unmatched", 0), "audio_unmatched": figures.get("audio_unmatched", 0),
        "clear_prefix_max_share": send["clear_prefix_max"] if codec == "vp8" else {"audio": send["clear_prefix_max"]["audio"]},
        "video_clear_bytes_share": round(figures.get("video_clear_bytes", 0) / figures["video_checked_bytes"], 4)
        if codec == "vp8" and figures.get("video_checked_bytes") else None,
        "first_failures": send["plaintext_failures"][:5],
    }
    result["plaintext"] = plaintext
    if (plaintext["video_frames_checked"] == 0 or plaintext["audio_frames_checked"] == 0) and scenario not in SETUP:
        fail("no frame was checked for plaintext")
    if scenario == "control-plaintext":
        if not (plaintext["video_failures"] == plaintext["video_frames_checked"]
                and plaintext["audio_failures"] == plaintext["audio_frames_checked"]):
            fail(f"control: the plaintext check missed unencrypted frames: {plaintext}")
    elif plaintext["video_failures"] or plaintext["audio_failures"] or plaintext["video_unmatched"] or plaintext["audio_unmatched"]:
        fail(f"plaintext check failed: {plaintext}")
    if scenario == "control-naive-loss-5" and video["decoded_not_intact"] == 0:
        fail("control: a receiver that shows pictures predicted from lost references showed no corrupt picture")

    encrypted_audio = send["sframe_stats"].get("send_audio", {}).get("encrypted", 0)
    result["audio"] = {"frames_encrypted": encrypted_audio,
                       "frames_decrypted": recv["sframe_stats"].get("recv_audio", {}).get("decrypted"),
                       "decoder_output_buffers": recv["figures"].get("audio_decoded", 0)}
    result["errors_on_bus"] = [e for e in send["log"] + recv["log"] if "ERROR" in e[1]]
    if result["errors_on_bus"]:
        fail(f"errors on the bus: {result['errors_on_bus'][:3]}")

    if scenario == "none" and video["intact_share"] < 0.95:
        fail(f"only {video['intact_share']:.1%} intact without impairment")
    if len(arrived) != len(honoured) and not control:
        fail(f"{len(arrived) - len(honoured)} key-frame requests reached the sender without a key frame within 1 s")
    if emu["outage"]:
        start, end = emu["outage"]["start_wall"], emu["outage"]["end_wall"]
        after = [t for _, _, t in intact if t >= end]
        keys_after = [t for t in key_frames if t >= start]
        requests_after = [t for t, where in requests if t >= start and where.startswith("depayloader sink")]
        last_before = max([t for _, _, t in intact if t < start], default=None)
        result["outage"] = {
            "last_intact_before_outage_s": round(start - last_before, 3) if last_before else None,
            "first_intact_after_outage_end_s": round(min(after) - end, 3) if after else None,
            "first_key_request_after_outage_end_s": round(min(requests_after) - end, 3) if requests_after else None,
            "first_encoder_key_frame_after_outage_end_s": round(min(keys_after) - end, 3) if keys_after else None,
            "encoder_key_frames_after_outage_start": len(keys_after),
            "intact_frames_after_outage": len(after),
        }
        if not after:
            fail("video did not recover after the outage (no intact frame after it)")
        elif not keys_after:
            fail("no key frame after the outage: recovery without one?")
    result["ok"] = not result["failures"]
    return result


def verify_emulator(work, prefix):
    """ping through the emulator: loss and round-trip time as configured (the emulator's own check)."""
    checks = []
    for name, args, count, interval in [("none", [], 100, 0.01), ("loss-20", ["--loss", "0.20"], 500, 0.005),
                                         ("delay-100-jitter-30", ["--delay", "100", "--jitter", "30"], 200, 0.01)]:
        stats = os.path.join(work, f"ping-{name}-emu.json")
        emu = subprocess.Popen(ns("r", prefix) + [PY, os.path.join(HERE, "linkemu.py"), f"{prefix}-ra", f"{prefix}-rb",
                                                  "--seed", "7", "--stats", stats] + args,
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        time.sleep(0.5)
        ping = subprocess.run(ns("a", prefix) + ["ping", "-q", "-c", str(count), "-i", str(interval), "-W", "1",
                                                 "10.77.0.2"], capture_output=True, text=True)
        time.sleep(0.3)
        emu.terminate()
        emu.wait()
        with open(stats) as f:
            figures = json.load(f)
        lines = ping.stdout.strip().splitlines()
        loss_line = next((l for l in lines if "packet loss" in l), "")
        rtt_line = next((l for l in lines if l.startswith("rtt")), "")
        transmitted, received = int(loss_line.split()[0]), int(loss_line.split()[3])
        rtt = [float(x) for x in rtt_line.split("=")[1].split()[0].split("/")] if rtt_line else []
        reordered = sum(d["reordered"] for d in figures["directions"].values())
        entry = {"impairment": name, "ping_transmitted": transmitted, "ping_received": received,
                 "round_trip_loss": round(1 - received / transmitted, 4),
                 "expected_round_trip_loss": round(1 - (1 - float(args[1])) ** 2, 4) if name.startswith("loss") else 0.0,
                 "rtt_ms_min_avg_max_mdev": rtt, "emulator_frames_reordered": reordered,
                 "emulator": figures["directions"]}
        checks.append(entry)
        print(f"emulator check {name}: {received}/{transmitted} echoes, round-trip loss {entry['round_trip_loss']:.1%} "
              f"(expected {entry['expected_round_trip_loss']:.1%}), rtt min/avg/max/mdev {rtt} ms, reordered {reordered}",
              flush=True)
    return checks


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--codecs", default="vp8,h264")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--controls", default="vp8:control-plaintext,h264:control-plaintext,vp8:control-naive-loss-5",
                        help="codec:control pairs, comma-separated; none for none")
    parser.add_argument("--control-seconds", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--work", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--prefix", default="nf")
    parser.add_argument("--skip-emulator-check", action="store_true")
    parser.add_argument("--reanalyse", action="store_true",
                        help="no new runs: analyse the files of the runs in --work again (keeps --out's emulator check)")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    started = time.time()
    report = {"started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "seconds_per_run": args.seconds,
              "seed": args.seed, "link_emulator": "user space (linkemu.py, AF_PACKET bridge in namespace R)",
              "load_average_at_start": os.getloadavg()}
    if args.reanalyse:
        with open(args.out) as f:
            previous = json.load(f)
        report.update({k: previous[k] for k in ("started", "load_average_at_start", "load_average_at_end", "took_s",
                                                 "emulator_check") if k in previous})
    elif not args.skip_emulator_check:
        report["emulator_check"] = verify_emulator(args.work, args.prefix)
    report["runs"] = []
    plan = [(codec, scenario, args.seconds) for codec in args.codecs.split(",") for scenario in args.scenarios.split(",")]
    plan += [(pair.split(":")[0], pair.split(":")[1], args.control_seconds) for pair in args.controls.split(",") if pair and pair != "none"]
    for codec, scenario, seconds in plan:
        if True:
            result = (load_scenario(codec, scenario, seconds, args.work) if args.reanalyse
                      else run_scenario(codec, scenario, seconds, args.seed, args.work, args.prefix))
            report["runs"].append(result)
            v = result.get("video", {})
            k = result.get("key_frames", {})
            line = (f"{codec:4} {scenario:8} ICE {result.get('connected_after_s')} s, DTLS {result.get('peer_connected_after_s')} s, "
                    f"first picture {v.get('first_intact_after_connected_s')} s, intact {v.get('frames_intact_in_window')}/{v.get('frames_sent_in_window')} "
                    f"({v.get('intact_share', 0):.1%}), shown corrupt {v.get('decoded_not_intact')}, "
                    f"freeze max {v.get('longest_freeze_s')} s, PLI/FIR sent {k.get('rtcp_pli_sent')}/{k.get('rtcp_fir_sent')}, "
                    f"requests at sender {k.get('requests_arrived_at_sender')}, honoured {k.get('requests_honoured_within_1s')}, "
                    f"unrequested key frames {k.get('encoder_key_frames_unrequested')}, "
                    f"refusals {result.get('sframe', {}).get('refusals')}, "
                    f"plaintext failures {result.get('plaintext', {}).get('video_failures')}/{result.get('plaintext', {}).get('video_frames_checked')}")
            if "outage" in result:
                line += f", first intact {result['outage']['first_intact_after_outage_end_s']} s after the outage"
            print(("ok   " if result.get("ok") else "FAIL ") + line, flush=True)
            for failure in result["failures"]:
                print(f"     {failure}", flush=True)
    if not args.reanalyse:
        report["load_average_at_end"] = os.getloadavg()
        report["took_s"] = round(time.time() - started, 1)
    report["ok"] = all(r.get("ok") for r in report["runs"])
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    print(f"network faults: {sum(1 for r in report['runs'] if r.get('ok'))}/{len(report['runs'])} runs passed "
          f"in {report['took_s']} s; results in {args.out}", flush=True)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
