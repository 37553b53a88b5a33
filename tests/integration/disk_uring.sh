#!/usr/bin/env bash
# The io_uring disk against a model (disk_uring.cpp): on a file, direct and
# buffered, with injected I/O errors (this kernel has no device mapper, so the
# FaultDisk injects them between the request queue and the driver), and, as
# root, on a loop device over a file. A few seconds in all. Buffered reads try
# the page cache first (RWF_NOWAIT); --cold drops the file's pages from it as
# the run goes, so reads are held whole, in part and not at all.
set -euo pipefail
bin=$1
work=$(mktemp -d /var/tmp/uni-disk-XXXXXX)
loop=
cleanup() {
  [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

head -c $((16 << 20)) /dev/urandom >"$work/file.img"  # allocated: no holes to fill on the way
echo "== a file, direct I/O"
"$bin" "$work/file.img" --ms 1000
echo "== a file, direct I/O into registered memory (READ_FIXED/WRITE_FIXED)"
"$bin" "$work/file.img" --registered --ms 800
echo "== a file, direct I/O into registered huge pages (huge_page_pool)"
"$bin" "$work/file.img" --huge --ms 800
echo "== a file, buffered (--disk-cache)"
"$bin" "$work/file.img" --buffered --ms 600
echo "== a file, buffered into registered memory, its pages dropped from the page cache as it runs (reads held whole, in part, not at all)"
"$bin" "$work/file.img" --buffered --registered --cold --ms 600
echo "== a file, buffered, every write synced (O_DSYNC: flushes need no entry), pages dropped as it runs"
"$bin" "$work/file.img" --buffered --synced --cold --ms 600
echo "== a file, direct, every write synced"
"$bin" "$work/file.img" --synced --ms 600
echo "== a file, direct I/O into registered memory, on the run loop's ring (a TAP appliance's wait)"
"$bin" "$work/file.img" --registered --ring --ms 800
echo "== a file, buffered into registered memory, on the run loop's ring, pages dropped as it runs"
"$bin" "$work/file.img" --buffered --registered --ring --cold --ms 600
echo "== a file, direct, 3% of requests failing with an I/O error"
"$bin" "$work/file.img" --errors --ms 800

if [ "$(id -u)" = 0 ] && command -v losetup >/dev/null && loop=$(losetup --find --show "$work/file.img" 2>/dev/null); then
  echo "== loop device $loop, direct I/O, registered memory"
  "$bin" "$loop" --registered --ms 1000
  echo "== loop device $loop, buffered, pages dropped as it runs"
  "$bin" "$loop" --buffered --cold --ms 600
else
  loop=
  echo "(no loop device: not root, or none free; the file runs above stand for it)"
fi
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
  echo "== tmpfs, buffered: the file system refuses RWF_NOWAIT, so reads go on the ring"
  unshare -m sh -c "mount -t tmpfs tmpfs '$work' && head -c 4M /dev/urandom >'$work/t.img' && exec '$bin' '$work/t.img' --buffered --ms 300" |
    tee "$work/tmpfs.out" | grep -v '^queue'
  grep -q "refuses RWF_NOWAIT" "$work/tmpfs.out"
fi
if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null; then
  echo "== a file another user owns, buffered, run as nobody: opened without O_NOATIME (only an owner may ask it)"
  head -c 4M /dev/urandom >"$work/other.img"
  chmod 666 "$work/other.img"
  chmod 755 "$work"
  runuser -u nobody -- "$bin" "$work/other.img" --buffered --ms 300
fi
if command -v dmsetup >/dev/null && dmsetup targets >/dev/null 2>&1; then
  echo "(device mapper present: dm-error would apply here; the fault disk covers it on every kernel)"
fi
echo "PASS"
