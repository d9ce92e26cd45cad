#!/bin/sh
# Three network namespaces A -- veth -- R -- veth -- B for the network-fault runs.
#   netns.sh up    creates them (A: nf-a, 10.77.0.1/24 on nf-a0; B: nf-b, 10.77.0.2/24 on nf-b0;
#                  R: nf-r holds nf-ra and nf-rb, no addresses: linkemu.py bridges them)
#   netns.sh down  removes them
# Checksum and segmentation offloads are switched off on the peers' interfaces: a veth frame
# read from a raw socket in R may otherwise carry a checksum the kernel never filled in.
set -eu
PREFIX=${NF_PREFIX:-nf}
A=$PREFIX-a R=$PREFIX-r B=$PREFIX-b
case "${1:-}" in
up)
    "$0" down 2>/dev/null || true
    ip netns add "$A"; ip netns add "$R"; ip netns add "$B"
    ip link add "${PREFIX}-a0" netns "$A" type veth peer name "${PREFIX}-ra" netns "$R"
    ip link add "${PREFIX}-b0" netns "$B" type veth peer name "${PREFIX}-rb" netns "$R"
    for ns in "$A" "$R" "$B"; do ip -n "$ns" link set lo up; done
    ip -n "$A" addr add 10.77.0.1/24 dev "${PREFIX}-a0"
    ip -n "$B" addr add 10.77.0.2/24 dev "${PREFIX}-b0"
    for pair in "$A:${PREFIX}-a0" "$B:${PREFIX}-b0" "$R:${PREFIX}-ra" "$R:${PREFIX}-rb"; do
        ns=${pair%%:*} dev=${pair#*:}
        ip netns exec "$ns" ethtool -K "$dev" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
        ip -n "$ns" link set "$dev" up
    done
    ip netns exec "$R" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip -n "$R" link set "${PREFIX}-ra" promisc on
    ip -n "$R" link set "${PREFIX}-rb" promisc on
    ;;
down)
    for ns in "$A" "$R" "$B"; do ip netns del "$ns" 2>/dev/null || true; done
    ;;
*)
    echo "usage: $0 up|down" >&2; exit 2 ;;
esac
