#!/usr/bin/env bash
# Installs the Debian packages uni's build, tests and benchmarks need. Idempotent:
# packages already present are skipped, so a second run costs one dpkg query.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libboost-dev catch2
  clang libclang-rt-14-dev
  iproute2 ethtool iputils-ping iputils-arping tcpdump nftables socat dnsmasq-base python3
  gnuplot-nox libbenchmark-dev
  libxen-dev qemu-system-x86 xen-hypervisor-4.17-amd64 lld
  bind9-dnsutils knot-dnsutils nsd bind9 knot dnsperf
  curl wrk nginx libfcgi-dev uwsgi uwsgi-plugin-python3
  memcached libmemcached-tools python3-pymemcache
  liburing-dev fio dmsetup
  dosfstools mtools
  openvswitch-switch openvswitch-testcontroller tshark python3-os-ken
  liblmdb-dev libsqlite3-dev sqlite3
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The tier-3 Xen tests boot a Linux dom0 unpacked (not installed) from Debian packages.
# Without them (no network) the tier-3 tests skip; everything else still runs.
dom0_fetch=("$(dirname "$0")/xen-dom0.sh" fetch)
[[ $(id -u) -eq 0 ]] || dom0_fetch=(sudo "${dom0_fetch[@]}")
"${dom0_fetch[@]}" || echo "setup: could not unpack the Xen dom0 packages: the tier-3 Xen tests will be skipped"
echo "setup: all packages present"
