#!/usr/bin/env bash
# tests/xen/boot.sh MODE IMAGE NAME: boots a uni Xen image and judges its console.
#   qemu  tier 1: QEMU loads IMAGE through its PVH note (no Xen). The boot path
#         and serial output must work; the image must say it is not on Xen and
#         stop through isa-debug-exit with status 0 (QEMU exits 1 = (0 << 1) | 1).
#   xen   tier 2: the real Xen 4.17 (Debian's hypervisor package) under QEMU TCG
#         boots IMAGE as a PVH dom0; its banner and "NAME: exit status 0" must
#         appear on Xen's serial console (HYPERVISOR_console_io), and dom0 ends
#         the run through isa-debug-exit.
#   flags tier 2 with FLAGS (the 5th argument) on the command line: the appliance
#         must refuse them with EXPECT (the 4th) and exit status 2.
#   fault tier 1 for tests/xen/fault_image.cpp: QEMU boots IMAGE without Xen with
#         NAME as its command line (the fault to provoke); start of day's trap
#         handler must report it (EXPECT, the 4th argument) and stop with status 255.
# Stops at once on a panic or crash line; the console log is kept as
# NAME-MODE.log in the working directory. Exits 77 when QEMU or Xen is missing.
set -u
mode=$1 image=$2 name=$3 fault_expect=${4:-} flags_given=${5:-}
want_rc=1
log="$PWD/$name-$mode.log"
timeout_s=${UNI_XEN_TEST_TIMEOUT:-40}

qemu=$(command -v qemu-system-x86_64) || { echo "SKIP: qemu-system-x86_64 is not installed (scripts/setup.sh installs qemu-system-x86)"; exit 77; }
[[ -f $image ]] || { echo "FAIL: no image $image"; exit 1; }

args=(-accel tcg -cpu max -m 512 -nographic -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04)
case $mode in
  qemu)
    args+=(-kernel "$image" -append "uni tier1")
    expect=("uni: $name: booted by QEMU's PVH loader, cmdline 'uni tier1'" "boot: W^X holds" "not running on Xen")
    ;;
  fault)
    args+=(-kernel "$image" -append "fault $name")
    expect=("panic: page fault" "$fault_expect")
    want_rc=255  # isa-debug-exit status 255: (255 << 1) | 1, truncated to 8 bits
    ;;
  xen|flags)
    xen_gz=/boot/xen-4.17-amd64.gz
    [[ -f $xen_gz ]] || { echo "SKIP: $xen_gz is missing (scripts/setup.sh installs xen-hypervisor-4.17-amd64)"; exit 77; }
    work=$(mktemp -d) && trap 'rm -rf "$work"' EXIT
    zcat "$xen_gz" >"$work/xen.elf"
    # smap=0: QEMU 7.2's TCG faults spuriously with SMAP (see xen-recipe.md).
    args+=(-kernel "$work/xen.elf"
      -append "console=com1 com1=115200 loglvl=all guest_loglvl=all dom0=pvh dom0-iommu=none dom0_mem=64M smap=0 noreboot"
      -initrd "$image uni tier2${flags_given:+ $flags_given}")
    expect=("uni: $name on Xen 4.17 (PVH dom0" "boot: W^X holds" "uni: $name: exit status 0")
    if [[ $mode == flags ]]; then
      # The command line's flags go through the appliance's parser before any
      # device: a bad one is one line and exit status 2, (2 << 1) | 1 for QEMU.
      expect=("uni: $name on Xen 4.17 (PVH dom0" "$name: $fault_expect (see --help)" "uni: $name: exit status 2")
      want_rc=5
    fi
    ;;
  *) echo "usage: $0 qemu|xen|fault|flags IMAGE NAME [EXPECT [FLAGS]]"; exit 2 ;;
esac

start=$(date +%s%N)
"$qemu" "${args[@]}" </dev/null >"$log" 2>&1 &
pid=$!
# Watch the console: stop early on a panic, a crash or a halted dom0.
verdict=""
deadline=$((SECONDS + timeout_s))
# (A fault test expects a panic: its image stops by itself right after.)
stop_on='Panic on CPU|crashed|panic:|Hardware Dom0 halted|Hardware Dom0 shutdown'
[[ $mode == fault ]] && stop_on='Panic on CPU|crashed|Hardware Dom0'
while kill -0 "$pid" 2>/dev/null; do
  if grep -qE "$stop_on" "$log"; then
    sleep 0.2; kill "$pid" 2>/dev/null; verdict="stopped on: $(grep -m1 -E "$stop_on" "$log")"
    break
  fi
  if ((SECONDS >= deadline)); then
    kill "$pid" 2>/dev/null; verdict="timed out after ${timeout_s}s"
    break
  fi
  sleep 0.05
done
wait "$pid"
rc=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
tr -d '\r' <"$log" | grep -E '^\[|^\(XEN\) (Xen version|.*Dom0|.*PVH)|uni' | head -40
echo "--- QEMU exit status $rc after ${elapsed_ms} ms (log: $log) ${verdict}"

fail=0
[[ -z $verdict ]] || fail=1
((rc == want_rc)) || { echo "FAIL: expected QEMU to exit through isa-debug-exit with $want_rc, got $rc"; fail=1; }
for e in "${expect[@]}"; do
  grep -qF -- "$e" "$log" || { echo "FAIL: missing on the console: $e"; fail=1; }
done
if ((fail == 0)); then echo "PASS: $mode boot of $name"; else echo "--- last lines of the log:"; tr -d '\r' <"$log" | tail -15; fi
exit $fail
