#!/usr/bin/env bash
# Installs uni from a build tree into a scratch prefix, then builds tests/consumer,
# a separate project, against it as a user would:
#   - pkg-config: uni.pc's flags compile a program that prints UNI_VERSION_STRING;
#   - find_package(uni 0.1...1.0), POSIX tree: runs `consumer`, then
#     upper-socket, which socat judges (a datagram and a TCP stream come back
#     upper-cased), and
#     builds upper-tap;
#   - the same CMakeLists.txt in a tree configured with the package's
#     xen-toolchain.cmake: upper-xen, booted by QEMU (tests/xen/boot.sh qemu,
#     tier 1). That part is skipped, with a line saying so, when the Xen
#     toolchain (g++-12, the Xen public headers) is missing.
#   consumer.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
scratch=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$scratch"' EXIT
prefix=$scratch/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in include/uni/core/task.hpp include/uni/version.hpp include/uni/posix/clock.hpp include/uni/xen/netif.hpp \
         include/uni/boot/heap.hpp share/uni/boot/start.cpp share/uni/boot/layout.ld.in \
         lib/cmake/uni/uniXen.cmake lib/cmake/uni/xen-toolchain.cmake share/pkgconfig/uni.pc \
         lib/cmake/uni/uniXenCfg.cmake share/doc/uni/LICENSE share/doc/uni/CHANGELOG.md; do
  [[ -f $prefix/$f ]] || { echo "FAIL: the package has no $f"; exit 1; }
done

# pkg-config
printf '#include <cstdio>\n#include <uni/version.hpp>\nint main() { std::puts(UNI_VERSION_STRING); }\n' >"$scratch/v.cpp"
# shellcheck disable=SC2046
c++ $(PKG_CONFIG_PATH=$prefix/share/pkgconfig pkg-config --cflags uni) "$scratch/v.cpp" -o "$scratch/v"
version=$("$scratch/v")
[[ $version == $(PKG_CONFIG_PATH=$prefix/share/pkgconfig pkg-config --modversion uni) ]] ||
  { echo "FAIL: uni.pc's version is not UNI_VERSION_STRING ($version)"; exit 1; }
echo "pkg-config: uni $version"

# POSIX targets
cmake -S "$src/tests/consumer" -B "$scratch/posix" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_PREFIX_PATH="$prefix" \
  >"$scratch/posix.log" 2>&1 || { echo "FAIL: configuring the POSIX tree"; cat "$scratch/posix.log"; exit 1; }
cmake --build "$scratch/posix" >"$scratch/posix.log" 2>&1 || { echo "FAIL: building"; tail -40 "$scratch/posix.log"; exit 1; }
"$scratch/posix/consumer"
[[ -x $scratch/posix/upper-tap ]] || { echo "FAIL: no upper-tap"; exit 1; }
port=$((20000 + RANDOM % 12000))
"$scratch/posix/upper-socket" --port "$port" 2>"$scratch/upper.log" &
pid=$!
for _ in $(seq 50); do grep -q listening "$scratch/upper.log" && break; sleep 0.1; done
got=$(printf 'hello, uni 1' | timeout 5 socat -t 0.3 - "UDP:127.0.0.1:$port")
[[ $got == "HELLO, UNI 1" ]] || { echo "FAIL: upper-socket answered '$got'"; cat "$scratch/upper.log"; exit 1; }
got=$(printf 'over tcp 2' | timeout 5 socat -t 1 - "TCP:127.0.0.1:$port")
[[ $got == "OVER TCP 2" ]] || { echo "FAIL: upper-socket answered '$got' over TCP"; cat "$scratch/upper.log"; exit 1; }
kill -TERM "$pid"
wait "$pid" || { echo "FAIL: upper-socket did not stop cleanly on SIGTERM"; cat "$scratch/upper.log"; exit 1; }
echo "upper-socket: answered HELLO, UNI 1 over UDP and OVER TCP 2 over TCP"

# The Xen target, from the same CMakeLists.txt
if ! command -v g++-12 >/dev/null || [[ ! -f /usr/include/xen/arch-x86/hvm/start_info.h ]]; then
  echo "SKIP (xen part): g++-12 or the Xen public headers (libxen-dev) are missing"
  exit 0
fi
cmake -S "$src/tests/consumer" -B "$scratch/xen" -G Ninja -DCMAKE_BUILD_TYPE=MinSizeRel -DCMAKE_PREFIX_PATH="$prefix" \
  --toolchain "$prefix/lib/cmake/uni/xen-toolchain.cmake" >"$scratch/xen.log" 2>&1 ||
  { echo "FAIL: configuring the Xen tree"; cat "$scratch/xen.log"; exit 1; }
cmake --build "$scratch/xen" >"$scratch/xen.log" 2>&1 || { echo "FAIL: building upper-xen"; tail -40 "$scratch/xen.log"; exit 1; }
[[ -f $scratch/xen/upper-xen && -f $scratch/xen/upper-xen.cfg ]] || { echo "FAIL: no upper-xen image or xl configuration"; exit 1; }
rc=0
(cd "$scratch" && bash "$src/tests/xen/boot.sh" qemu "$scratch/xen/upper-xen" upper) || rc=$?
[[ $rc == 77 ]] && { echo "SKIP (xen boot): QEMU is missing; upper-xen was built"; exit 0; }
exit $rc
