#!/usr/bin/env bash
# www-disk over host sockets, serving a FAT-32 image (issue 16): the image is
# made by Linux's tools (mkfs.fat -F 32, then mcopy of examples/www/site and a
# large random file), given with --disk, read by io_uring with O_DIRECT. The
# judges of www_checks.sh: curl for every site file byte for byte, HEAD,
# keep-alive, If-None-Match (304 on the weak ETag), Range, 404 and 405, 200
# concurrent keep-alive connections; then a large file (larger than the FAT
# cache's reach and than the whole page pool, 16 MiB: it must stream) by
# sha256, with a range from its middle, and the pages used stay far below its
# size. Start-up errors: no --disk, and a disk with no FAT-32 volume.
#   www_disk_socket.sh PATH_TO_www-disk-socket SITE_DIR [LARGE_MIB]   (default 18)
set -euo pipefail
app=$1
SITE=$2
mib=${3:-18}
for t in mkfs.fat mcopy; do
  command -v "$t" >/dev/null || { echo "SKIP: $t not installed (scripts/setup.sh: dosfstools mtools)"; exit 77; }
done
RUN=""
WORK=$(mktemp -d /var/tmp/uni-wwwdisk-XXXXXX)  # a real file system: /tmp may refuse O_DIRECT
pid=
trap 'rc=$?; [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; ((rc)) && cat "$WORK/log"; rm -rf "$WORK"' EXIT
source "$(dirname "$0")/www_checks.sh"
source "$(dirname "$0")/www_socket_run.sh"  # start, stop
export MTOOLS_SKIP_CHECK=1

img=$WORK/site.img
truncate -s 100M "$img"
mkfs.fat -F 32 -n WWW "$img" >/dev/null
mcopy -s -i "$img" "$SITE"/* ::/
head -c "$((mib << 20))" /dev/urandom >"$WORK/large.bin"
mcopy -i "$img" "$WORK/large.bin" ::/
ok "image: mkfs.fat -F 32 (100 MiB, $(($(od -An -tu1 -j13 -N1 "$img"))) sector(s) a cluster), mcopy of the site and a $mib MiB file"

start --disk "$img"
www_basic_checks
www_concurrency_check 200
# Every file of the site, byte for byte (the basic checks take a few).
(cd "$SITE" && find . -type f -printf '%P\n') | while read -r f; do
  client curl -sS -o "$WORK/got" "$BASE/$f" || die "GET /$f failed"
  cmp -s "$WORK/got" "$SITE/$f" || die "GET /$f differs from the site's file"
done
ok "every file of the site, byte for byte"
[[ $(client curl -sS -o /dev/null -w '%{http_code}' "$BASE/about/missing/") == 404 ]] || die "no 404 under a directory"
want=$(sha256sum <"$WORK/large.bin" | cut -d' ' -f1)
t0=$(date +%s.%N)
client curl -sS -o "$WORK/large.out" "$BASE/large.bin" || die "large file: curl failed"
t1=$(date +%s.%N)
[[ $(sha256sum <"$WORK/large.out" | cut -d' ' -f1) == "$want" ]] || die "large file: sha256 differs ($(stat -c %s "$WORK/large.out") bytes came)"
ok "$mib MiB file from the FAT image, sha256 equal, $(awk -v a="$t0" -v b="$t1" -v m="$mib" 'BEGIN { printf "%.2f s, %.1f MiB/s", b - a, m / (b - a) }')"
client curl -sS -o "$WORK/large.range" -r 10000000-10000099 "$BASE/large.bin"
cmp -s "$WORK/large.range" <(tail -c +10000001 "$WORK/large.bin" | head -c 100) || die "large file: range differs"
ok "a 100-byte range from the middle of it"
stop
high=$(sed -n 's/.*pages: [0-9]* in use of [0-9]*, high water \([0-9]*\).*/\1/p' "$WORK/log")
[[ -n "$high" ]] && ((high * 4 < (mib << 10) / 2)) || die "pages: high water ${high:-?} pages for a $mib MiB file: not streamed"
ok "at most $high pages ($((high * 4)) KiB) in use at once, 200 connections and the $mib MiB file included"
grep -q "stream errors" "$WORK/log" && ! grep -q " [1-9][0-9]* stream errors" "$WORK/log" ||
  die "stream errors counted: $(grep 'stream errors' "$WORK/log")"

# Start-up: the disk is required, and must hold a FAT-32 volume.
status=0
timeout 10 "$app" --port 8080 >"$WORK/log" 2>&1 || status=$?
((status == 2)) && grep -q -- "--disk" "$WORK/log" || die "no --disk: exit status $status: $(cat "$WORK/log")"
head -c 1M /dev/zero >"$WORK/zero.img"
status=0
timeout 10 "$app" --port 8080 --disk "$WORK/zero.img" >"$WORK/log" 2>&1 || status=$?
((status == 1)) && grep -q "no FAT-32 volume" "$WORK/log" || die "a disk of zeros: exit status $status: $(cat "$WORK/log")"
ok "no --disk exits 2; a disk without FAT-32 exits 1 saying so"
echo "www-disk over host sockets: all checks passed"
