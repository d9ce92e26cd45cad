#!/bin/sh
# Network faults: a real two-peer webrtcbin call (SFrame on both ends, VP8 + Opus, then H.264 +
# Opus) between two network namespaces joined through a user-space link emulator, under no
# impairment, 1 %, 5 % and 20 % loss, 100 ms +- 30 ms jitter with reordering, and a 2 s outage.
# Writes reliability/network-faults.json and prints one line per run; exits non-zero when a
# check fails (decryption refusals, plaintext on the link, no recovery after the outage, ...).
# See RELIABILITY.md "Network faults". Needs root (network namespaces). About 8 minutes.
#
#   scripts/network-faults.sh [--seconds N] [--codecs vp8,h264] [--scenarios none,loss-1,...]
#                             [--controls none|codec:control,...] [--out FILE] [--no-build]
#   (--scenarios setup-loss-20: 20 % loss from the first packet, call set-up included; not in the default list)
#
# This VM's kernel has no netem qdisc, so tc is not used: reliability/netfaults/linkemu.py bridges
# the two veth links at layer 2 with AF_PACKET sockets and applies the impairments itself.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=1
ARGS=""
OUT=reliability/network-faults.json
while [ $# -gt 0 ]; do
    case "$1" in
    --no-build) BUILD=0 ;;
    --out) OUT=$2; shift ;;
    *) ARGS="$ARGS $1" ;;
    esac
    shift
done

[ "$(id -u)" = 0 ] || { echo "network-faults: needs root (network namespaces)" >&2; exit 2; }
need=""
command -v ethtool >/dev/null 2>&1 || need="$need ethtool"
command -v ping >/dev/null 2>&1 || need="$need iputils-ping"
/usr/bin/python3 -c "import numpy" 2>/dev/null || need="$need python3-numpy"
if [ -n "$need" ]; then
    apt-get install -y $need >/dev/null
fi

# Is the kernel's netem there? (Reported only: the runs use the user-space emulator either way,
# so that figures from here and from a kernel with netem compare.)
PREFIX=nf
ip netns add "$PREFIX-probe" 2>/dev/null || true
ip -n "$PREFIX-probe" link add nfprobe0 type dummy 2>/dev/null || true
if ip netns exec "$PREFIX-probe" tc qdisc add dev nfprobe0 root netem loss 1% 2>/dev/null; then
    echo "network-faults: this kernel has netem (not used: the user-space emulator keeps runs comparable)"
else
    echo "network-faults: no netem qdisc in this kernel; using the user-space link emulator"
fi
ip netns del "$PREFIX-probe" 2>/dev/null || true

if [ "$BUILD" = 1 ]; then
    nice -n 10 swift build -c release --product gstinsertablestreams >/tmp/network-faults-build.log 2>&1 \
        || { tail -20 /tmp/network-faults-build.log; exit 1; }
fi
PLUGIN_DIR="$ROOT/.build/release"
[ -f "$PLUGIN_DIR/libgstinsertablestreams.so" ] || { echo "network-faults: no $PLUGIN_DIR/libgstinsertablestreams.so" >&2; exit 1; }

WORK=$(mktemp -d /tmp/network-faults.XXXXXX)
cleanup() { NF_PREFIX=$PREFIX reliability/netfaults/netns.sh down; }
trap cleanup EXIT INT TERM
NF_PREFIX=$PREFIX reliability/netfaults/netns.sh up

export GST_PLUGIN_PATH="$PLUGIN_DIR" GST_REGISTRY="$WORK/registry.bin" GST_REGISTRY_FORK=no
# shellcheck disable=SC2086
nice -n 5 /usr/bin/python3 reliability/netfaults/run.py --work "$WORK" --out "$OUT" \
    --prefix "$PREFIX" $ARGS
status=$?
echo "network-faults: logs and per-process results in $WORK"
exit $status
