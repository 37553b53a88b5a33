#!/usr/bin/env bash
# TAP round trip: runs the uni_tap_roundtrip program ($1) inside a fresh network
# namespace holding a TAP device with 10.77.0.1/24, so frames cross the TAP both
# ways with the Linux kernel as the peer. The namespace is always removed.
# Exit status: the program's (0 pass, 1 fail), or 77 (skip) when not root.
# Extra arguments are passed to the program (e.g. --pcap /tmp/tap.pcap).
set -euo pipefail

prog=${1:?usage: tap_roundtrip.sh PROGRAM [--pcap FILE]}
shift
skip() { echo "SKIP: needs root (network namespaces and TAP devices)"; exit 77; }

[ "$(id -u)" -eq 0 ] || skip

ns=uni-tap-$$
tap=unitap0
cleanup() { timeout 5 ip netns delete "$ns" 2>/dev/null || true; }
if ! err=$(timeout 5 ip netns add "$ns" 2>&1); then
  case $err in *"not permitted"* | *"ermission denied"*) skip ;; esac
  echo "FAIL: ip netns add $ns: $err"
  exit 1
fi
trap cleanup EXIT

in_ns() { timeout 5 ip netns exec "$ns" "$@"; }
# No IPv6: router solicitations and MLD reports would be noise on the TAP.
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
in_ns ip link set lo up
in_ns ip tuntap add dev "$tap" mode tap
in_ns ip addr add 10.77.0.1/24 dev "$tap"
in_ns ip link set "$tap" up

status=0
timeout 15 ip netns exec "$ns" "$prog" --tap "$tap" "$@" || status=$?
exit "$status"
