#!/usr/bin/env bash
# bench/vchan.sh [BUILD_DIR]: vchan against TCP over netfront between a uni
# domU and dom0, in one run: the tier-3 harness (tests/xen/dom0.sh, Xen 4.17
# under QEMU TCG, a Linux dom0) boots once; dom0 runs bench/vchan_peer against
# vchan-echo-xen over a vchan (64 KiB rings, libxenvchan's client) and against
# tcp-echo-xen over netfront (uni's TCP, Linux's netback and bridge), twice,
# alternately: bulk throughput (8 MiB echoed, every byte checked) and the median
# round trip of 200 exchanges of 64 bytes. Under emulated Xen only the ratios
# mean anything: both carriers pay TCG, and the machine's load moves both.
# BUILD_DIR: the xen preset's build (default build/xen: vchan-echo-xen and
# tcp-echo-xen). Writes bench/results/vchan.md; exits 77 without the harness.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${1:-$here/build/xen}")
for image in vchan-echo-xen tcp-echo-xen; do
  [[ -f $build/examples/$image ]] || { echo "no $build/examples/$image: cmake --preset xen && cmake --build --preset xen"; exit 1; }
done
command -v c++ >/dev/null && [[ -f /usr/include/libxenvchan.h ]] || { echo "SKIP: c++ and libxen-dev build the peer"; exit 77; }
work=$(mktemp -d) && trap 'rm -rf "$work"' EXIT
c++ -std=c++20 -O2 -static-libstdc++ -static-libgcc -o "$work/vchan_peer" "$here/bench/vchan_peer.cpp" -lxenvchan || exit 1
cd "$work"
UNI_VCHAN_BENCH=$work/vchan_peer UNI_VCHAN_TCP_ECHO=$build/examples/tcp-echo-xen UNI_XEN_TIER3_TIMEOUT=400 \
  bash "$here/tests/xen/dom0.sh" "$build/examples/vchan-echo-xen" vchan-echo vchan >"$work/run.out" 2>&1
status=$?
lines=$(tr -d '\r' <vchan-echo-dom0.log | sed -n 's/^dom0: bench: //p')
[[ $status == 77 ]] && { cat "$work/run.out"; exit 77; }
mkdir -p "$here/bench/results"
{
  echo "# vchan against TCP over netfront (Xen 4.17 under QEMU TCG, load: $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  echo "Only the ratios mean anything: emulation slows both carriers."
  echo
  echo '```'
  echo "$lines"
  echo '```'
  echo "$lines" | awk '
    / vchan / { v_t[$2] = substr($9, 2) + 0; v_r[$2] = $14 + 0 }
    / tcp /   { t_t[$2] = substr($9, 2) + 0; t_r[$2] = $14 + 0 }
    END {
      for (r in v_t) if (r in t_t)
        printf "run %s vchan/TCP throughput %.2f, TCP/vchan round trip %.2f\n", r, v_t[r] / t_t[r], t_r[r] / v_r[r]
    }' | sort
} | tee "$here/bench/results/vchan.md"
[[ $status == 0 ]] || { echo "the run failed: $work/run.out"; tail -20 "$work/run.out"; exit 1; }
