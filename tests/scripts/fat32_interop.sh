#!/usr/bin/env bash
# FAT-32 interop, judged by Linux's own tools (issue 16): an image made by
# mkfs.fat -F 32 and filled by mcopy (long names, nested directories, empty
# files, files of many sizes) is read back by uni byte for byte; then uni writes
# (files, directories, long names, rename, move, remove, truncate) and the image
# must pass fsck.fat -n without a word and copy back with mcopy byte for byte;
# a volume uni formats passes the same judges.
# As root, where the kernel has vfat and loop devices, the Linux driver reads it too.
#   fat32_interop.sh FAT32_TOOL
set -euo pipefail
tool=$1
for t in mkfs.fat fsck.fat mcopy; do
  command -v "$t" >/dev/null || { echo "SKIP: $t not installed (scripts/setup.sh: dosfstools mtools)"; exit 77; }
done
work=$(mktemp -d)
cleanup() {
  mountpoint -q "$work/mnt" 2>/dev/null && umount "$work/mnt"
  rm -rf "$work"
}
trap cleanup EXIT
export MTOOLS_SKIP_CHECK=1
img=$work/fat.img
src=$work/src
expected=$work/expected

# 33 MiB is the smallest size mkfs.fat -F 32 gives at least 65525 clusters
# (mtools takes fewer for FAT-16); the clusters are then one sector.
truncate -s 33M "$img"
mkfs.fat -F 32 -n UNITEST "$img" >/dev/null

# 1. mcopy writes, uni reads.
mkdir -p "$src/docs/Deeper Level/third" "$src/EMPTYDIR" "$src/Long Directory Name with Spaces"
for n in 0 1 511 512 513 4095 4096 4097 65535 65536 100000 1048577; do
  head -c "$n" /dev/urandom >"$src/docs/size $n.bin"
done
echo "short and upper" >"$src/README.TXT"
echo "lower case 8.3" >"$src/notes.txt"
: >"$src/docs/Deeper Level/empty file"
head -c 3000 /dev/urandom >"$src/docs/Deeper Level/third/caf$(printf '\xc3\xa9') $(printf '\xe2\x82\xac').dat"
head -c 70000 /dev/urandom >"$src/Long Directory Name with Spaces/a file whose name is well over thirteen characters long.data"
for i in $(seq 1 40); do echo "$i" >"$src/docs/Deeper Level/entry $i of many in one directory.txt"; done
mcopy -s -i "$img" "$src"/* ::/
"$tool" "$img" dump "$work/read1"
diff -r "$src" "$work/read1"
echo "ok: uni reads what mcopy wrote ($(find "$src" -type f | wc -l) files)"

# 2. uni writes; the expected tree gets the same changes.
cp -a "$src" "$expected"
mkdir -p "$work/new/nested dir/inner"
head -c 300000 /dev/urandom >"$work/new/big file with a long name.bin"
: >"$work/new/EMPTY.TXT"
echo lower >"$work/new/lower.txt"
head -c 5000 /dev/urandom >"$work/new/nested dir/inner/$(printf '\xc3\xbcn\xc3\xafc\xc3\xb6d\xc3\xa9') name.txt"
"$tool" "$img" putdir "$work/new" "written by uni"
cp -a "$work/new" "$expected/written by uni"
"$tool" "$img" rename "written by uni/lower.txt" "written by uni/nested dir/Renamed Lower.txt"
mv "$expected/written by uni/lower.txt" "$expected/written by uni/nested dir/Renamed Lower.txt"
"$tool" "$img" rename "Long Directory Name with Spaces" "written by uni/moved directory"
mv "$expected/Long Directory Name with Spaces" "$expected/written by uni/moved directory"
"$tool" "$img" remove "docs/size 65535.bin"
rm "$expected/docs/size 65535.bin"
for i in $(seq 1 20); do
  "$tool" "$img" remove "docs/Deeper Level/entry $i of many in one directory.txt"
  rm "$expected/docs/Deeper Level/entry $i of many in one directory.txt"
done
"$tool" "$img" truncate "docs/size 1048577.bin" 5000
truncate -s 5000 "$expected/docs/size 1048577.bin"
"$tool" "$img" truncate "docs/size 4097.bin" 9000
truncate -s 9000 "$expected/docs/size 4097.bin"
"$tool" "$img" mkdir "written by uni/an empty directory"
mkdir "$expected/written by uni/an empty directory"
"$tool" "$img" put "$work/new/big file with a long name.bin" "README.TXT"
cp "$work/new/big file with a long name.bin" "$expected/README.TXT"

out=$(fsck.fat -n "$img" 2>&1) || { echo "$out"; echo "FAIL: fsck.fat -n found errors"; exit 1; }
if [ "$(printf '%s\n' "$out" | wc -l)" -ne 2 ]; then
  echo "$out"
  echo "FAIL: fsck.fat -n had something to say"
  exit 1
fi
echo "ok: fsck.fat -n: $(printf '%s\n' "$out" | tail -1)"
mkdir "$work/back"
mcopy -s -i "$img" ::/ "$work/back/"
diff -r "$expected" "$work/back"
echo "ok: mcopy copies back what uni wrote"
"$tool" "$img" dump "$work/read2"
diff -r "$expected" "$work/read2"
echo "ok: uni reads back what it wrote"

# 3. uni's formatter: fsck.fat and mcopy take its volume as their own.
fresh=$work/fresh.img
truncate -s 33M "$fresh"
"$tool" "$fresh" format
"$tool" "$fresh" putdir "$work/new" ""
out=$(fsck.fat -n "$fresh" 2>&1) || { echo "$out"; echo "FAIL: fsck.fat -n on uni's formatted volume"; exit 1; }
[ "$(printf '%s\n' "$out" | wc -l)" -eq 2 ] || { echo "$out"; echo "FAIL: fsck.fat -n had something to say"; exit 1; }
mkdir "$work/fresh"
mcopy -s -i "$fresh" ::/ "$work/fresh/"
diff -r "$work/new" "$work/fresh"
echo "ok: a volume uni formatted passes fsck.fat -n and copies back with mcopy"

# 4. The Linux vfat driver, where it can be used.
mkdir "$work/mnt"
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP (vfat part only): not root"
elif ! mount -o loop,ro -t vfat "$img" "$work/mnt" 2>/dev/null; then
  echo "SKIP (vfat part only): this kernel cannot mount vfat on a loop device here"
else
  diff -r "$expected" "$work/mnt"
  umount "$work/mnt"
  echo "ok: the Linux vfat driver reads what uni wrote"
fi
