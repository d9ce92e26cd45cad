#!/usr/bin/python3
"""Prints the Markdown tables of RELIABILITY.md's "Network faults" from reliability/network-faults.json.

    /usr/bin/python3 reliability/netfaults/table.py [reliability/network-faults.json]
"""
import json
import sys

NAMES = {"none": "none", "loss-1": "1 % loss", "loss-5": "5 % loss", "loss-20": "20 % loss",
         "jitter": "100 ± 30 ms, reordering", "outage": "2 s outage",
         "control-plaintext": "control: no encryption", "control-naive-loss-5": "control: 5 % loss, naive receiver"}


def forward(run):
    """The sender-to-receiver direction of the link (the one carrying the media)."""
    directions = run["link"]["directions"]
    return max(directions.values(), key=lambda d: d["bytes_passed"])


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "reliability/network-faults.json"
    with open(path) as f:
        report = json.load(f)
    print("| emulator check (ping A→B through R) | echoes | round-trip loss (expected) | RTT min / avg / max / mdev ms | frames reordered |")
    print("|---|---|---|---|---|")
    for check in report.get("emulator_check", []):
        rtt = " / ".join(f"{x:g}" for x in check["rtt_ms_min_avg_max_mdev"])
        print(f"| {check['impairment']} | {check['ping_received']}/{check['ping_transmitted']} | "
              f"{check['round_trip_loss']:.1%} ({check['expected_round_trip_loss']:.1%}) | {rtt} | "
              f"{check['emulator_frames_reordered']} |")
    print()
    print("| codec | link A→B | frames dropped / reordered by the link (A→B) | video frames sent | intact | "
          "decoded, not intact (before the window) | call set up (ICE / ICE+DTLS) s | first intact picture after ICE connected, s | longest freeze s | FIR+PLI sent (receiver) | requests at sender / honoured ≤ 1 s | "
          "key frames by encoder (unrequested) | decryption refusals | frames checked for plaintext (video+audio) / failed | "
          "audio frames decrypted / encrypted | result |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for run in report["runs"]:
        if "video" not in run:
            print(f"| {run['codec']} | {NAMES.get(run['scenario'], run['scenario'])} | | | | | | | | | | | | | | "
                  f"FAIL: {'; '.join(run['failures'])} |")
            continue
        link = forward(run)
        video, keys, plain = run["video"], run["key_frames"], run["plaintext"]
        dropped = link["dropped_loss"] + link["dropped_outage"]
        sent_frames = video["frames_sent_in_window"]
        if video.get("dropped_before_encoder_in_window"):
            sent_frames = f"{sent_frames} (+{video['dropped_before_encoder_in_window']} dropped before the encoder)"
        pli_fir = (keys["rtcp_pli_sent"] or 0) + (keys["rtcp_fir_sent"] or 0)
        checked = plain["video_frames_checked"] + plain["audio_frames_checked"]
        failed = plain["video_failures"] + plain["audio_failures"]
        result = "ok" if run["ok"] else "FAIL: " + "; ".join(run["failures"])
        if run["scenario"] == "outage" and run.get("outage"):
            o = run["outage"]
            result += (f"; first intact picture {o['first_intact_after_outage_end_s']} s after the outage "
                       f"(request {o['first_key_request_after_outage_end_s']} s, key frame out of the encoder "
                       f"{o['first_encoder_key_frame_after_outage_end_s']} s)")
        print(f"| {run['codec']} | {NAMES.get(run['scenario'], run['scenario'])} | {dropped} of {link['received']} / "
              f"{link['reordered']} | {sent_frames} | {video['frames_intact_in_window']} ({video['intact_share']:.1%}) | "
              f"{video['decoded_not_intact']} ({video.get('decoded_not_intact_before_window', 0)}) | {run['connected_after_s']} / {run.get('peer_connected_after_s')} | {video['first_intact_after_connected_s']} | {video['longest_freeze_s']} | {pli_fir} | "
              f"{keys['requests_arrived_at_sender']} / {keys['requests_honoured_within_1s']} | "
              f"{keys['encoder_key_frames']} ({keys['encoder_key_frames_unrequested']}) | {run['sframe']['refusals']} | "
              f"{checked} / {failed} | {run['audio']['frames_decrypted']} / {run['audio']['frames_encrypted']} | {result} |")
    print()
    print(f"{len(report['runs'])} runs of {report['seconds_per_run']:g} s (controls shorter), seed {report['seed']}, "
          f"took {report['took_s']} s; load average {report['load_average_at_start'][0]:.1f} at the start, "
          f"{report['load_average_at_end'][0]:.1f} at the end; started {report['started']}.")


if __name__ == "__main__":
    main()
