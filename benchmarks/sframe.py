"""The SFrame section: SFrameSender.protect / SFrameReceiver.unprotect throughput against
`openssl speed` on the same frame sizes, in interleaved rounds.

No pipelines: `sframe-benchmark` (Sources/SFrameBenchmark, built by run.sh) times protect /
unprotect for AES_128_GCM_SHA256_128 and AES_128_CTR_HMAC_SHA256_80 on 1, 10 and 100 KB frames,
interleaved in rounds with `openssl speed` (-evp aes-128-gcm, -aead -evp aes-128-gcm, -evp
aes-128-ctr, -hmac sha256) on the same sizes; ratio = ours / OpenSSL per round, median
[min-max]. Needs neither the plugin nor the child process.
"""
import json
import os
import statistics
import subprocess
import time

from harness import spread

TARGET = 0.8
# (cipher suite id, registry name, short key). The CTR suite's reference is AES-CTR + HMAC.
SUITES = [("0x0004", "AES_128_GCM_SHA256_128", "gcm"), ("0x0001", "AES_128_CTR_HMAC_SHA256_80", "ctr_hmac")]
OPS = ("encrypt", "decrypt")  # the ones compared with OpenSSL
# Measured in the same processes: SFrameAEAD alone (no SFrame header, AAD = the metadata), to
# show how much of each frame's time is the AEAD and how much the SFrame layer around it.
AEAD_OPS = ("seal", "open")
# What glibc's own dynamic malloc thresholds become once a process has freed a 4 MB block (a
# raw 1080p frame, say): no heap trimming between 100 KB frames. Plus memcpy without REP MOVSB,
# whose AMD Zen 3 slow path (20-30x when dst - src mod 4096 is 1..31) Data copies can hit.
TUNABLES = ("glibc.malloc.mmap_threshold=4194304:glibc.malloc.trim_threshold=8388608:"
            "glibc.cpu.x86_rep_movsb_threshold=4194304")
# `openssl speed` references: -mr machine-readable, -elapsed wall-clock time like ours.
OPENSSL = {
    "gcm": ["-evp", "aes-128-gcm"],
    "gcm_aead": ["-aead", "-evp", "aes-128-gcm"],
    "ctr": ["-evp", "aes-128-ctr"],
    "hmac": ["-hmac", "sha256"],
}
CPU_FLAGS = ("aes", "vaes", "pclmulqdq", "vpclmulqdq", "sha_ni", "avx2", "avx512f")


def openssl_command(key, size, seconds):
    return ["openssl", "speed", "-mr", "-elapsed", "-seconds", str(seconds), "-bytes", str(size)] + OPENSSL[key]


def run_openssl(key, size, seconds, failures):
    """MB/s (10^6 bytes/s) from `openssl speed -mr`'s `+F:<n>:<name>:<bytes per second>` line."""
    command = openssl_command(key, size, seconds)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    except (OSError, subprocess.TimeoutExpired) as error:
        failures.append(f"`{' '.join(command)}` failed: {error}")
        return None
    for line in (done.stdout + "\n" + done.stderr).splitlines():
        if line.startswith("+F:"):
            return float(line.rsplit(":", 1)[1]) / 1e6
    failures.append(f"`{' '.join(command)}` printed no +F: line (exit {done.returncode}): {done.stderr.strip()[-200:]}")
    return None


def run_sframe(binary, suite_id, size, args, tuned, failures):
    """{op: record} from sframe-benchmark's JSON lines; one process per suite and size, so that
    every measurement starts from the same fresh malloc state whatever ran before it."""
    ops = OPS + AEAD_OPS
    command = [binary, "--seconds", str(args.sframe_seconds), "--warmup", str(args.sframe_warmup),
               "--sizes", str(size), "--suites", suite_id, "--ops", ",".join(ops)]
    env = {key: value for key, value in os.environ.items() if key != "GLIBC_TUNABLES"}
    if tuned:
        env["GLIBC_TUNABLES"] = TUNABLES
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        failures.append(f"`{' '.join(command)}` failed: {error}")
        return None
    records = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            records[record["op"]] = record
    if done.returncode != 0 or set(records) != set(ops):
        failures.append(f"`{' '.join(command)}` exited {done.returncode} with {sorted(records)}: "
                        f"{done.stderr.strip()[-300:]}")
        return None
    return records


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    present = set(line.split(":", 1)[1].split())
                    return {flag: flag in present for flag in CPU_FLAGS}
    except OSError:
        pass
    return {}


def reference(results, key):
    """The OpenSSL reference of a suite in one round and size: AES-GCM, or CTR and HMAC combined."""
    if key == "gcm":
        return results.get("ssl:gcm")
    ctr, hmac = results.get("ssl:ctr"), results.get("ssl:hmac")
    return 1 / (1 / ctr + 1 / hmac) if ctr and hmac else None  # both passes over every byte


def measure(args, failures):
    """The section's dict, or None if sframe-benchmark is missing."""
    binary = args.sframe_binary
    if not os.access(binary, os.X_OK):
        failures.append(f"SFrame: {binary} not found: build it with `swift build -c release --product "
                        "sframe-benchmark --scratch-path .build-bench` (benchmarks/run.sh does)")
        return None
    sizes = [int(size) for size in args.sframe_sizes.split(",")]
    ssl_seconds = max(1, int(round(args.sframe_openssl_seconds)))  # openssl speed takes whole seconds
    version = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
    print(f"\n== SFrame: sizes {sizes}, {args.sframe_rounds} rounds; ours {args.sframe_seconds} s per measurement, "
          f"{version} {ssl_seconds} s per measurement", flush=True)
    started = time.monotonic()
    # rounds[i][size] = {"ours:<suite>": records, "tuned:<suite>": records, "ssl:<key>": MB/s}
    rounds = []
    for round_index in range(args.sframe_rounds):
        per_size = {}
        for size in (sizes if round_index % 2 == 0 else list(reversed(sizes))):
            variants = [(f"ours:{key}", suite_id, False) for suite_id, _, key in SUITES]
            variants += [(f"tuned:{key}", suite_id, True) for suite_id, _, key in SUITES]
            variants += [(f"ssl:{key}", None, None) for key in OPENSSL]
            if round_index % 2:
                variants.reverse()
            results = {}
            for label, suite_id, tuned in variants:
                if label.startswith("ssl:"):
                    results[label] = run_openssl(label[4:], size, ssl_seconds, failures)
                else:
                    results[label] = run_sframe(binary, suite_id, size, args, tuned, failures)
            per_size[size] = results
            line = []
            for _, _, key in SUITES:
                records = results.get(f"ours:{key}")
                if records:
                    line.append(f"{key} enc {records['encrypt']['mb_per_s']:.0f} dec {records['decrypt']['mb_per_s']:.0f}")
            line += [f"openssl {key} {results[f'ssl:{key}']:.0f}" for key in OPENSSL if results[f"ssl:{key}"]]
            print(f"  round {round_index + 1}, {size} B (MB/s): " + ", ".join(line), flush=True)
        rounds.append(per_size)
    elapsed = time.monotonic() - started

    rows = []
    for _, name, key in SUITES:
        for op in OPS:
            for size in sizes:
                row = {"suite": name, "key": key, "op": op, "size": size}
                for variant in ("ours", "tuned"):
                    mbs, us, ratios = [], [], []
                    for per_size in rounds:
                        results = per_size[size]
                        records, ref = results.get(f"{variant}:{key}"), reference(results, key)
                        if records and ref:
                            mbs.append(records[op]["mb_per_s"])
                            us.append(records[op]["us_per_frame"])
                            ratios.append(records[op]["mb_per_s"] / ref)
                    row[variant] = ({"mbs": statistics.median(mbs), "us": statistics.median(us),
                                     "ratio": spread(ratios)} if ratios else None)
                refs = [reference(per_size[size], key) for per_size in rounds]
                row["ref"] = statistics.median([r for r in refs if r]) if any(refs) else None
                rows.append(row)
    openssl = []
    for size in sizes:
        row = {"size": size}
        for key in OPENSSL:
            values = [per_size[size][f"ssl:{key}"] for per_size in rounds if per_size[size].get(f"ssl:{key}")]
            row[key] = spread(values) if values else None
        combined = [reference(per_size[size], "ctr_hmac") for per_size in rounds]
        combined = [value for value in combined if value]
        row["ctr_hmac"] = spread(combined) if combined else None
        openssl.append(row)
    for row in rows:
        if row["ours"]:
            r = row["ours"]["ratio"]
            print(f"  {row['suite']} {row['op']} {row['size']} B: ours {row['ours']['mbs']:.0f} MB/s, "
                  f"ratio {r['median']:.3f} [{r['min']:.3f}-{r['max']:.3f}]"
                  + (f"; with tunables {row['tuned']['ratio']['median']:.3f}" if row["tuned"] else ""), flush=True)
    # us/frame of every op (the AEAD-alone ones too), median over the rounds, per suite, size, variant
    per_frame = []
    for _, name, key in SUITES:
        for size in sizes:
            row = {"suite": name, "size": size}
            for variant in ("ours", "tuned"):
                row[variant] = {}
                for op in OPS + AEAD_OPS:
                    values = [per_size[size][f"{variant}:{key}"][op]["us_per_frame"] for per_size in rounds
                              if per_size[size].get(f"{variant}:{key}")]
                    row[variant][op] = statistics.median(values) if values else None
            per_frame.append(row)
    return {"settings": {"seconds": args.sframe_seconds, "warmup": args.sframe_warmup},
            "target": TARGET, "tunables": TUNABLES, "sizes": sizes, "rounds": len(rounds), "seconds": elapsed,
            "openssl_version": version, "ssl_seconds": ssl_seconds,
            "openssl_reference": " ".join(openssl_command("gcm", "N", ssl_seconds)),
            "flags": cpu_flags(), "glibc": os.confstr("CS_GNU_LIBC_VERSION") if hasattr(os, "confstr") else "unknown",
            "rows": rows, "openssl": openssl, "per_frame": per_frame}
