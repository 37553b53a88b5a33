#!/usr/bin/env bash
# A stand-in for the Xen toolstack's `xl`, for uni-summon's test without Xen
# (tests/integration/summon.sh puts it on PATH as `xl`). Its "domains" are
# processes: `xl create CFG name="D" kernel="IMAGE"` runs the command the
# configuration's `fake_run = "..."` gives (in the background, its pid in
# $FAKE_XL/D.pid); `fake_mode` makes it fail ("fail": a half-made domain, then
# exit 3), hang ("hang") or take a second ("slow"). `xl shutdown -w D` and
# `xl destroy D` end the process; `xl list` lists them; `xl domid D` exits 0
# while D's process runs. Every call is logged in
# $FAKE_XL/calls ("create D", ...); `$FAKE_XL/concurrent` gets, at each create,
# how many creates were running then; a hanging create's pid is $FAKE_XL/D.create-pid.
set -u
dir=${FAKE_XL:?}
verb=$1
shift
field() { sed -n "s/^$1 *= *\"\(.*\)\"\$/\1/p" "$cfg"; }
case $verb in
create)
  cfg=$1
  shift
  dom=
  for kv in "$@"; do
    case $kv in
    name=*) dom=${kv#name=}; dom=${dom//\"/} ;;
    esac
  done
  echo "create $dom" >>"$dir/calls"
  : >"$dir/creating-$dom"
  ls "$dir" | grep -c '^creating-' >>"$dir/concurrent"
  trap 'rm -f "$dir/creating-$dom"' EXIT
  case $(field fake_mode) in
  fail)
    : >"$dir/$dom.half"  # what a failed create leaves: destroy must remove it
    echo "libxl: error: fake failure creating $dom" >&2
    exit 3 ;;
  hang)  # the process uni-summon kills at the deadline (exec: the same pid)
    : >"$dir/$dom.half"
    echo $$ >"$dir/$dom.create-pid"
    exec sleep 60 ;;
  slow) sleep 1 ;;
  esac
  run=$(field fake_run)
  if [[ -n $run ]]; then
    setsid $run </dev/null >>"$dir/$dom.out" 2>&1 &
    echo $! >"$dir/$dom.pid"
  else
    sleep 3600 </dev/null >/dev/null 2>&1 &
    echo $! >"$dir/$dom.pid"
  fi
  exit 0 ;;
shutdown | destroy)
  [[ ${1:-} == -w ]] && shift
  dom=$1
  echo "$verb $dom" >>"$dir/calls"
  found=1
  rm -f "$dir/creating-$dom"  # a create that was killed
  [[ -f $dir/$dom.half ]] && { rm -f "$dir/$dom.half"; found=0; }
  if [[ -f $dir/$dom.pid ]]; then
    pid=$(cat "$dir/$dom.pid")
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    rm -f "$dir/$dom.pid"
    found=0
  fi
  ((found == 0)) || echo "xl: domain $dom does not exist" >&2
  exit $found ;;
domid)
  dom=$1
  echo "domid $dom" >>"$dir/calls"
  if [[ -f $dir/$dom.pid ]] && kill -0 "$(cat "$dir/$dom.pid")" 2>/dev/null; then echo 1; exit 0; fi
  echo "Can't get domid of domain name '$dom', maybe this domain does not exist." >&2
  exit 1 ;;
list)
  echo "Name ID"
  for p in "$dir"/*.pid "$dir"/*.half; do [[ -e $p ]] && basename "${p%.*}"; done
  exit 0 ;;
*)
  echo "fake xl: unknown verb $verb" >&2
  exit 1 ;;
esac
