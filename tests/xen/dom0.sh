#!/usr/bin/env bash
# tests/xen/dom0.sh IMAGE NAME [ping ADDR [tcp|http|http-fat|dns|memcache|tweets] | disk | summon | vchan]: tier 3. (IMAGE `linux`: a Debian Linux
# PVH domU with netfront instead of a uni image, the comparison for boot times.) Boots the real Xen 4.17 under
# QEMU (TCG) with a Debian Linux PV dom0 that runs from an initramfs built here:
# busybox, the Xen toolstack (xenstored, xenconsoled, xl) and the kernel's
# netback and bridge modules, from the packages scripts/xen-dom0.sh unpacked.
# dom0 creates IMAGE as a PVH domU (`xl create`, a vif on bridge xenbr0 at
# 10.0.0.1/24), waits for the domU's console (through its PV console ring and
# xenconsoled) to say "NAME: exit status 0" -- or, with `ping ADDR`, for the
# appliance to answer ping there (and with `tcp`, to echo a file over TCP port 7);
# with `disk` (IMAGE: tests/integration/disk_check.cpp), it also gives the domU a
# disk image through blkback (xvda, a loop device) twice: first made here with the
# pattern of seed 7, which the appliance reads and checks (--check read), then it
# writes seed 9's and reads it back (--check write), and once that domain is gone
# the image's bytes must be seed 9's; with `http-fat` (IMAGE: www-disk), the http
# checks against a FAT-32 image of examples/www/site made here by mkfs.fat and
# mcopy, given as xvda; with `tweets`, tests/xen/tweets_dom0.sh's checks (the
# appliance's B-tree on a disk through blkback, read back by a second domain) --
# prints the domU console, and reports the
# verdict to QEMU's isa-debug-exit through /dev/port.
# The domU console log is kept as NAME-dom0.domu.log, the whole run as NAME-dom0.log.
# Exits 77 when QEMU, Xen or the dom0 packages are missing.
set -u
image=$1 name=$2 check=${3:-exit} ping_addr=${4:-10.0.0.2} check_tcp=${5:-}
dom0=${UNI_XEN_DOM0:-/var/cache/uni/xen-dom0}
timeout_s=${UNI_XEN_TIER3_TIMEOUT:-120}
log="$PWD/$name-dom0.log"

qemu=$(command -v qemu-system-x86_64) || { echo "SKIP: qemu-system-x86_64 is not installed (scripts/setup.sh)"; exit 77; }
xen_gz=/boot/xen-4.17-amd64.gz
[[ -f $xen_gz ]] || { echo "SKIP: $xen_gz is missing (scripts/setup.sh installs xen-hypervisor-4.17-amd64)"; exit 77; }
[[ -f $dom0/.complete ]] || { echo "SKIP: no dom0 packages in $dom0 (scripts/xen-dom0.sh fetch, run by scripts/setup.sh)"; exit 77; }
kver=$(sed 's/^linux-image-//' "$dom0/kernel-package")
root=$dom0/root

work=$(mktemp -d) && trap 'rm -rf "$work"' EXIT
zcat "$xen_gz" >"$work/xen.elf"
rd=$work/initramfs
mkdir -p "$rd"/{bin,sbin,dev,proc,sys,run,tmp,etc/xen/scripts,lib/modules,lib64,app,usr/lib/xen-4.17/bin,var/lib/xen,var/log/xen/console}
cp "$root/bin/busybox" "$rd/bin/busybox"
ln -s /run "$rd/var/run"
for applet in $("$root/bin/busybox" --list); do [[ -e $rd/bin/$applet ]] || ln -s busybox "$rd/bin/$applet"; done
for tool in xl xenstored xenconsoled xen-init-dom0; do cp "$root/usr/lib/xen-4.17/bin/$tool" "$rd/usr/lib/xen-4.17/bin/"; done
cp "$root/usr/bin/xenstore-write" "$root/usr/bin/xenstore-read" "$rd/bin/" 2>/dev/null
# Shared libraries of the toolstack, from the host (the same Debian packages).
libs=$(for b in "$rd"/usr/lib/xen-4.17/bin/* "$rd"/bin/xenstore-*; do ldd "$b" 2>/dev/null; done | awk '/=> \// {print $3}' | sort -u)
mkdir -p "$rd/lib/x86_64-linux-gnu"
for l in $libs /lib/x86_64-linux-gnu/libgcc_s.so.1; do cp -L "$l" "$rd/lib/x86_64-linux-gnu/"; done
cp -L /lib64/ld-linux-x86-64.so.2 "$rd/lib64/"
mods=(net/llc/llc net/802/stp net/bridge/bridge drivers/xen/xen-evtchn drivers/xen/xen-gntdev drivers/xen/xen-gntalloc
      drivers/xen/xen-privcmd drivers/xen/xenfs/xenfs drivers/net/xen-netback/xen-netback)
load="llc stp bridge xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-netback"
if [[ $check == disk || $check_tcp == http-fat || $check_tcp == tweets ]]; then  # blkback, and loop devices for the image file
  mods+=(drivers/block/loop drivers/block/xen-blkback/xen-blkback)
  load="$load loop xen-blkback"
fi
for m in "${mods[@]}"; do cp "$root/lib/modules/$kver/kernel/$m.ko" "$rd/lib/modules/"; done
: >"$rd/etc/xen/xl.conf"
domu_kernel="kernel = \"/app/$name\""
domu_memory=32
domu_type=pvh
if [[ $image == linux ]]; then
  # A Linux domU: the same kernel, netfront from its modules, eth0 at 10.0.0.2.
  drd=$work/domu-initramfs
  mkdir -p "$drd"/{bin,dev,proc,sys}
  cp "$root/bin/busybox" "$drd/bin/busybox"
  for applet in sh mount insmod ip sleep; do ln -s busybox "$drd/bin/$applet"; done
  cp "$root/lib/modules/$kver/kernel/drivers/net/xen-netfront.ko" "$drd/"
  printf '#!/bin/sh\nmount -t proc proc /proc; mount -t sysfs sys /sys\ninsmod /xen-netfront.ko\nip link set lo up; ip addr add 10.0.0.2/24 dev eth0; ip link set eth0 up\necho "linux domU: eth0 up"\nwhile true; do sleep 3600; done\n' >"$drd/init"
  chmod +x "$drd/init"
  (cd "$drd" && find . | "$root/bin/busybox" cpio -o -H newc 2>/dev/null) >"$rd/app/domu.cpio"
  cp "$root/boot/vmlinuz-$kver" "$rd/app/$name"
  domu_kernel="kernel = \"/app/$name\"
ramdisk = \"/app/domu.cpio\"
extra = \"console=hvc0 quiet\""
  domu_memory=160
  # PV: under QEMU's TCG, Xen's SVM cannot emulate the RDTSCP a PVH Linux runs.
  domu_type=pv
else
  cp "$image" "$rd/app/$name"
fi

# The vif hotplug script (Debian's are bash): add the vif to the bridge, tell libxl.
cat >"$rd/etc/xen/scripts/vif-bridge" <<'HOTPLUG'
#!/bin/sh
if [ "$1" = online ] || [ "$1" = add ]; then
  ip link set "$vif" up
  brctl addif xenbr0 "$vif"
fi
xenstore-write "$XENBUS_PATH/hotplug-status" connected
HOTPLUG
chmod +x "$rd/etc/xen/scripts/vif-bridge"
# The disk hotplug script (Debian's is bash): the image on a loop device, whose
# major:minor (hex) blkback opens.
cat >"$rd/etc/xen/scripts/block" <<'HOTPLUG'
#!/bin/sh
if [ "$1" = add ]; then
  dev=$(losetup -f)
  losetup "$dev" "$(xenstore-read "$XENBUS_PATH/params")" || exit 1
  xenstore-write "$XENBUS_PATH/physical-device" "$(stat -L -c %t:%T "$dev")"
  xenstore-write "$XENBUS_PATH/physical-device-path" "$dev"
  xenstore-write "$XENBUS_PATH/hotplug-status" connected
elif [ "$1" = remove ]; then
  dev=$(xenstore-read "$XENBUS_PATH/physical-device-path") && losetup -d "$dev"
fi
HOTPLUG
chmod +x "$rd/etc/xen/scripts/block"
devices="vif = [ 'bridge=xenbr0,mac=00:16:3e:00:00:02' ]"
if [[ $check_tcp == http-fat ]]; then
  for t in mkfs.fat mcopy; do command -v $t >/dev/null || { echo "SKIP: $t makes the FAT image"; exit 77; }; done
  devices+=$'\n'"disk = [ 'format=raw, vdev=xvda, access=rw, target=/tmp/disk.img' ]"
  truncate -s 40M "$rd/app/disk.img" && mkfs.fat -F 32 "$rd/app/disk.img" >/dev/null &&
    MTOOLS_SKIP_CHECK=1 mcopy -s -i "$rd/app/disk.img" "$(dirname "$0")"/../../examples/www/site/* ::/ || exit 1
  # 1 MiB of random bytes: a download that netfront sends as merged frames.
  head -c 1048576 /dev/urandom >"$rd/app/big.bin" && MTOOLS_SKIP_CHECK=1 mcopy -i "$rd/app/disk.img" "$rd/app/big.bin" ::/ || exit 1
fi
if [[ $check == disk ]]; then
  devices+=$'\n'"disk = [ 'format=raw, vdev=xvda, access=rw, target=/tmp/disk.img' ]"
  # disk_check.cpp's pattern: byte i of sector s is (s * 31 + i + seed) mod 256,
  # but for its first 8 bytes, s in little-endian. 2 MiB; seed 7 to read, seed 9 written.
  command -v python3 >/dev/null || { echo "SKIP: python3 makes the disk images"; exit 77; }
  python3 - "$rd/app" <<'PY'
import struct, sys
for seed, name in ((7, "disk.img"), (9, "want.img")):
    with open(f"{sys.argv[1]}/{name}", "wb") as f:
        for s in range(4096):
            f.write(struct.pack("<Q", s) + bytes((s * 31 + i + seed) & 255 for i in range(8, 512)))
PY
fi
app_check=""  # an appliance's checks of its own, once it answers ping
[[ $check_tcp == tweets ]] && source "$(dirname "${BASH_SOURCE[0]}")/tweets_dom0.sh"  # the B-tree kept across domains
domu_cfg() {  # NAME EXTRA: an xl configuration
  printf '%s\n' "name = \"$1\"" "type = \"$domu_type\"" "$domu_kernel" "memory = $domu_memory" "vcpus = 1" \
    "$devices" ${2:+"extra = \"$2\""} 'on_poweroff = "destroy"' 'on_crash = "preserve"'
}
if [[ $check == disk ]]; then
  domu_cfg "$name-read" "--check read --seed 7" >"$rd/app/$name-read.cfg"
  domu_cfg "$name" "--check write --seed 9" >"$rd/app/$name.cfg"
else
  domu_cfg "$name" >"$rd/app/$name.cfg"
fi

# A mode in a file of its own sets mode_init: dom0's checks, once the bridge is up.
mode_init=""
[[ $check == summon ]] && source "$(dirname "${BASH_SOURCE[0]}")/summon_dom0.sh"  # uni-summon (examples/summon)
[[ $check == vchan ]] && source "$(dirname "${BASH_SOURCE[0]}")/vchan_dom0.sh"  # vchan-echo against libxenvchan
cat >"$rd/init" <<INIT
#!/bin/sh
export PATH=/bin:/sbin:/usr/lib/xen-4.17/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/pts /run/xen; mount -t devpts devpts /dev/pts
for m in $load; do insmod /lib/modules/\$m.ko; done
mount -t xenfs xenfs /proc/xen
verdict() { echo "dom0: verdict \$1"; printf "\\\\\$(printf %o \$1)" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null; poweroff -f; }
xenstored --pid-file /run/xenstored.pid || verdict 10
xen-init-dom0 >/dev/null || verdict 11
xenconsoled --log=guest --log-dir=/var/log/xen/console || verdict 12
brctl addbr xenbr0; ip addr add 10.0.0.1/24 dev xenbr0; ip link set xenbr0 up
$mode_init
if [ "$check" = disk ]; then
  # First direction: the domU reads the image made here.
  cp /app/disk.img /tmp/disk.img
  timeout 20 xl create /app/$name-read.cfg || verdict 14
  read_log=/var/log/xen/console/guest-$name-read.log
  limit=\$(( \$(cut -d. -f1 /proc/uptime) + ${UNI_XEN_DOMU_SECONDS:-40} ))
  while [ \$(cut -d. -f1 /proc/uptime) -lt \$limit ] && ! grep -qE "exit status|panic:" \$read_log 2>/dev/null; do sleep 0.1; done
  for i in \$(seq 1 50); do xl list $name-read >/dev/null 2>&1 || break; sleep 0.2; done
  echo "dom0: ---- domU console ($name-read) ----"; cat \$read_log; echo "dom0: ---- end ----"
  grep -q "$name: exit status 0" \$read_log || verdict 15
fi
case "$check_tcp" in http-fat|tweets) cp /app/disk.img /tmp/disk.img ;; esac
echo "dom0: toolstack up at \$(cut -d' ' -f1 /proc/uptime) s; xl create $name"
t0=\$(cut -d' ' -f1 /proc/uptime)
# (xl used to die at random here, in its domain-monitoring child or of heap
# corruption, leaving a half-made domain, until Xen's FPU switching was made
# eager (spec-ctrl=eager-fpu below), and once hung after restoring the domain's
# CPU: cut it off after 20 s (it takes ~1 s), remove what it left
# by id, wait until that is gone, and try again, three times in all.)
create_domain() {  # CFG NAME
  for attempt in 1 2 3; do
    timeout 20 xl create \$1 && return 0
    echo "dom0: xl create failed (attempt \$attempt)"
    for id in \$(xl list 2>/dev/null | awk 'NR > 2 { print \$2 }'); do xl destroy \$id 2>/dev/null; done
    for i in 1 2 3 4 5 6 7 8 9 10; do xl list \$2 >/dev/null 2>&1 || break; sleep 0.5; done
  done
  return 1
}
create_domain /app/$name.cfg $name || verdict 13
domu=/var/log/xen/console/guest-$name.log
ok=0
limit=\$(( \${t0%.*} + ${UNI_XEN_DOMU_SECONDS:-40} ))
while [ \$(cut -d. -f1 /proc/uptime) -lt \$limit ]; do
  if [ "$check" = ping ]; then
    if ping -c 1 -W 1 $ping_addr >/dev/null 2>&1; then echo "dom0: $ping_addr answered ping \$(awk -v t0=\$t0 '{printf "%.2f", \$1 - t0}' /proc/uptime) s after xl create"; ok=1; break; fi
  elif grep -q "$name: exit status 0" \$domu 2>/dev/null; then ok=1; break; fi
  grep -qE "panic:|exit status [1-9]" \$domu 2>/dev/null && break
  sleep 0.1
done
if [ "$check" = ping ] && [ \$ok = 1 ]; then
  ping -c 5 -i 0.2 $ping_addr | sed 's/^/dom0: /'
  # 3000 bytes: fragmented both ways (reassembly in the appliance, multi-slot TX).
  ping -c 2 -s 3000 -W 2 $ping_addr | sed 's/^/dom0: /' | grep -q "2 packets received" || { echo "dom0: large ping failed"; ok=0; }
  if [ "$check_tcp" = tcp ]; then
    # TCP echo over netfront: the bytes must come back unchanged.
    seq 1 20000 >/tmp/sent  # 108894 bytes: many segments, windows, multi-slot frames
    nc -w 5 $ping_addr 7 </tmp/sent >/tmp/got
    if cmp -s /tmp/sent /tmp/got; then echo "dom0: tcp echo of \$(wc -c </tmp/sent) bytes came back intact"
    else echo "dom0: tcp echo failed (\$(wc -c </tmp/got) bytes back)"; ok=0; fi
    # Bulk, with netfront's offloads: 2 MiB of random bytes there and back, timed
    # (emulated: a functional figure). The counters are checked at the stop, below.
    dd if=/dev/urandom of=/tmp/bulk bs=65536 count=32 2>/dev/null
    t0=\$(cut -d' ' -f1 /proc/uptime)
    nc -w 5 $ping_addr 7 </tmp/bulk >/tmp/bulk-back
    t=\$(awk -v t0=\$t0 '{printf "%.2f", \$1 - t0}' /proc/uptime)
    if cmp -s /tmp/bulk /tmp/bulk-back; then echo "dom0: tcp echo of 2 MiB came back intact in \$t s"
    else echo "dom0: tcp echo of 2 MiB failed (\$(wc -c </tmp/bulk-back) bytes back)"; ok=0; fi
  fi
  if [ "$check_tcp" = http ] || [ "$check_tcp" = http-fat ]; then
    # The www appliance: busybox wget fetches the embedded home page twice.
    if wget -q -O /tmp/page http://$ping_addr/ && grep -q "served by <strong>www</strong>" /tmp/page &&
       wget -q -O /tmp/css http://$ping_addr/style.css && grep -q "font-family" /tmp/css; then
      echo "dom0: http GET / (\$(wc -c </tmp/page) bytes) and /style.css from www over netfront"
    else echo "dom0: http GET failed (\$(wc -c </tmp/page 2>/dev/null) bytes)"; ok=0; fi
    if [ "$check_tcp" = http-fat ]; then  # timed (emulated: a functional figure)
      t0=\$(cut -d' ' -f1 /proc/uptime)
      wget -q -O /tmp/big http://$ping_addr/big.bin
      t=\$(awk -v t0=\$t0 '{printf "%.2f", \$1 - t0}' /proc/uptime)
      if cmp -s /tmp/big /app/big.bin; then echo "dom0: http GET /big.bin (1 MiB) intact in \$t s"
      else echo "dom0: http GET /big.bin failed (\$(wc -c </tmp/big 2>/dev/null) bytes)"; ok=0; fi
    fi
  fi
  if [ "$check_tcp" = dns ]; then
    # The DNS appliance (examples/dns, example.zone compiled in): busybox nslookup asks it.
    if nslookup www.example.com $ping_addr >/tmp/ns 2>&1 && grep -q "192.0.2.80" /tmp/ns &&
       nslookup -type=mx example.com $ping_addr >/tmp/mx 2>&1 && grep -q "mail.example.com" /tmp/mx; then
      echo "dom0: dns answered A www.example.com and MX example.com over netfront"
    else echo "dom0: dns query failed"; cat /tmp/ns /tmp/mx 2>/dev/null; ok=0; fi
  fi
  if [ "$check_tcp" = memcache ]; then
    # The memcache appliance: busybox nc sets a key, then gets it back (and a miss).
    printf 'set dom0 7 0 11\\r\\nhello, xen!\\r\\nget dom0 nokey\\r\\n' | nc -w 3 $ping_addr 11211 >/tmp/mc
    if [ "\$(tr -d '\\r' </tmp/mc | tr '\\n' '|')" = "STORED|VALUE dom0 7 11|hello, xen!|END|" ]; then
      echo "dom0: memcache stored and answered a get over netfront"
    else echo "dom0: memcache answer wrong:"; cat /tmp/mc; ok=0; fi
  fi
$app_check
  # A clean stop: xl shutdown -> control/shutdown -> netfront closes -> poweroff.
  if [ "$image" != linux ]; then
    timeout 20 xl shutdown -w $name >/dev/null 2>&1
    grep -q "netfront: closed" \$domu && grep -q "$name: exit status 0" \$domu || { echo "dom0: no clean shutdown"; ok=0; }
    # The bulk echo came in merged frames over several slots with checksums offloaded, the download
    # left merged (UNI_XEN_NETFRONT_OFFLOADS=0: an image without them, to measure against)
    # (an echo's segments carry a new ACK each, and merge only by chance: merged sends are the download's).
    if [ "${UNI_XEN_NETFRONT_OFFLOADS:-1}" = 1 ]; then
      case "$check_tcp" in
        tcp) want="rx multi-slot [1-9][0-9]* gso [1-9][0-9]* csum [1-9][0-9]* drops 0 rejects 0" ;;
        http-fat) want="drops 0 rejects 0; tx gso [1-9]" ;;
        *) want= ;;
      esac
      [ -z "\$want" ] || grep -Eq "netfront offloads: .*\$want" \$domu || { echo "dom0: netfront's offloads were not used"; ok=0; }
    fi
  fi
fi
if [ "$check" = disk ] && [ \$ok = 1 ]; then
  # The other direction: the domain is gone, blkback has let go; the image's bytes.
  for i in \$(seq 1 50); do xl list $name >/dev/null 2>&1 || break; sleep 0.2; done
  if cmp /tmp/disk.img /app/want.img; then echo "dom0: the image holds the 2 MiB the domU wrote"
  else echo "dom0: the image's bytes are not what the domU wrote"; ok=0; fi
  # blkback offers both optional features blkfront uses: a two-page ring (its
  # Config's 64 requests) and indirect requests (its 16-page requests, one each).
  grep -q "a ring of 2 pages (64 requests), 32 pages a request (indirect)" \$domu &&
    grep -qE "blkfront: closed \([0-9]+ requests, [1-9][0-9]* of them indirect" \$domu ||
    { echo "dom0: blkfront did not use a two-page ring and indirect requests"; ok=0; }
fi
echo "dom0: ---- domU console ----"; cat \$domu; echo "dom0: ---- end ----"
if [ \$ok != 1 ]; then echo "dom0: diagnostics"; brctl show; ip -s link; cat /proc/net/arp; fi
if [ \$ok != 1 ] && [ "$check" = disk ]; then
  for k in state hotplug-status physical-device sectors feature-flush-cache; do
    echo "dom0: vbd backend \$k: \$(xenstore-read /local/domain/0/backend/vbd/1/51712/\$k 2>&1)"
  done
  echo "dom0: vbd frontend state: \$(xenstore-read /local/domain/1/device/vbd/51712/state 2>&1)"; losetup -a
fi
xl list
[ \$ok = 1 ] && verdict 0
verdict 1
INIT
chmod +x "$rd/init"
(cd "$rd" && find . | "$root/bin/busybox" cpio -o -H newc 2>/dev/null) >"$work/initramfs.cpio"  # busybox: cpio may be absent on the host

# spec-ctrl=eager-fpu: on this (AMD) CPU model Xen defaults to lazy FPU
# switching: it sets CR0.TS when a vCPU goes and loads the next one's registers
# at its first FPU instruction (#NM). QEMU 7.2's TCG raises #NM for FXSAVE and
# SSE but not for XSAVE/XRSTOR, with which dom0's Linux saves and restores its
# processes' registers: once a domU has used the FPU, dom0's processes run with
# another's SSE/AVX registers (measured: a dom0 memcpy loop beside vchan traffic
# had 40 of 780 copies wrong, 9 of 1122 with AVX off; busybox, the shell, xl and
# vchan-socket-proxy died in malloc at garbage addresses). Eager switching
# (Intel's default) loads them at every vCPU switch and never relies on #NM:
# 0 of 1236 copies wrong.
xen_cmdline="console=com1 com1=115200 dom0_mem=512M smap=0 spec-ctrl=eager-fpu noreboot loglvl=all guest_loglvl=all"
start=$(date +%s%N)
"$qemu" -accel tcg -cpu max -m 1536 -nographic -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
  -kernel "$work/xen.elf" \
  -append "$xen_cmdline" \
  -initrd "$root/boot/vmlinuz-$kver console=hvc0 earlyprintk=xen quiet,$work/initramfs.cpio" </dev/null >"$log" 2>&1 &
pid=$!
verdict=""
deadline=$((SECONDS + timeout_s))
while kill -0 "$pid" 2>/dev/null; do
  if grep -qE 'Panic on CPU|Kernel panic|Hardware Dom0 (halted|crashed|shutdown)' "$log"; then
    sleep 0.3; kill "$pid" 2>/dev/null; verdict="stopped on: $(grep -m1 -E 'Panic on CPU|Kernel panic|Hardware Dom0' "$log")"; break
  fi
  if ((SECONDS >= deadline)); then kill "$pid" 2>/dev/null; verdict="timed out after ${timeout_s}s"; break; fi
  sleep 0.1
done
wait "$pid"
rc=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
tr -d '\r' <"$log" | sed -n '/dom0: ---- domU console/,/dom0: ---- end/p' >"$PWD/$name-dom0.domu.log"
tr -d '\r' <"$log" | grep -E '^dom0:|^\[|^Name|^Domain-0|^'"$name" | head -60
echo "--- QEMU exit status $rc after ${elapsed_ms} ms (log: $log) $verdict"
((rc == 1)) && { echo "PASS: tier 3 ($check) of $name"; exit 0; }
echo "FAIL: tier 3 ($check) of $name"
exit 1
