# tests/xen/vchan_dom0.sh: the `vchan` mode of dom0.sh (sourced by it; IMAGE is
# examples/vchan-echo). Puts Xen's vchan-socket-proxy (xen-utils, libxenvchan)
# in dom0's initramfs with a scenario it runs once the toolstack is up, the
# domUs one after another, dom0 the vchan's client through the proxy's
# stdin/stdout unless said otherwise:
#   in-page   --ring-order 10 (both rings inside the shared page, 1 and 2 KiB):
#             1 MiB each way, echoed byte for byte (10 MiB take ~65 s under TCG:
#             one event round trip per KiB of ring)
#   pages     --ring-order 16 (64 KiB rings in 16 granted pages each): 10 MiB
#             each way, the same
#   two domUs vchan-echo serving at ring order 13 for another domU, vchan-echo
#             --connect --check there: 256 KiB of a pattern each way (the server
#             lets its peer read its xenstore nodes, XS_SET_PERMS)
#   http      www-vchan (UNI_VCHAN_WWW: examples/www over a vchan) answers two
#             pipelined GETs through the proxy
#   client    the roles swapped: the proxy is the server (libxenvchan's own
#             in-page orders) at /local/domain/0/data/vchan-client, the appliance
#             (--connect) maps its grants into its physmap: 1 MiB each way
#   killed    --ring-order 12: the proxy killed (SIGKILL) mid-transfer; the
#             appliance notices (the live byte gntdev clears, the event) and
#             ends with status 0
# With UNI_VCHAN_BENCH (bench/vchan.sh) the benchmark runs instead.
# A segfault in dom0's kernel log fails the run: the bytes pass through dom0's
# processes, and one crashing means dom0 itself is unsound (as it was under Xen's
# lazy FPU switching, see dom0.sh's spec-ctrl=eager-fpu).
# The verdict is the scenario's exit status.
proxy=$root/usr/lib/xen-4.17/bin/vchan-socket-proxy
[[ -x $proxy ]] || { echo "SKIP: $proxy is missing (xen-utils-4.17 in $dom0)"; exit 77; }
cp "$proxy" "$rd/bin/"
for l in $(ldd "$proxy" | awk '/=> \// {print $3}'); do cp -L "$l" "$rd/lib/x86_64-linux-gnu/"; done
cp "$root/usr/bin/xenstore-read" "$rd/bin/" 2>/dev/null
# xenctx, xen-hvmctx: a stalled domU's registers (the two-domU pair dumps them).
for tool in xenctx xen-hvmctx; do
  [[ -x $root/usr/lib/xen-4.17/bin/$tool ]] || continue
  cp "$root/usr/lib/xen-4.17/bin/$tool" "$rd/usr/lib/xen-4.17/bin/"
  for l in $(ldd "$root/usr/lib/xen-4.17/bin/$tool" | awk '/=> \// {print $3}'); do cp -L "$l" "$rd/lib/x86_64-linux-gnu/"; done
done
# www-vchan (examples/www over a vchan), when given: HTTP from dom0 through the proxy.
[[ -n ${UNI_VCHAN_WWW:-} ]] && cp "$UNI_VCHAN_WWW" "$rd/app/www-vchan"
# bench/vchan.sh: its peer (bench/vchan_peer.cpp) and tcp-echo-xen; the
# benchmark runs instead of the tests.
bench=${UNI_VCHAN_BENCH:-}
if [[ -n $bench ]]; then
  cp "$bench" "$rd/bin/vchan_peer" && cp "${UNI_VCHAN_TCP_ECHO:?tcp-echo-xen for the benchmark}" "$rd/app/tcp-echo" || exit 1
fi

cat >"$rd/app/scenario.sh" <<SCENARIO
#!/bin/sh
# NAME EXTRA [IMAGE [LINE]]: an xl configuration for the vchan-echo image (or
# IMAGE), no devices (or LINE's).
cfg() { printf '%s\\n' "name = \"\$1\"" 'type = "pvh"' "kernel = \"\${3:-/app/$name}\"" 'memory = 32' 'vcpus = 1' \\
  "extra = \"\$2\"" 'on_poweroff = "destroy"' 'on_crash = "preserve"' "\${4:-}" >/app/\$1.cfg; }
# NAME EXTRA [IMAGE]: creates the domU (xl has been seen to hang: cut off, cleared, tried again).
create() {
  cfg "\$1" "\$2" "\${3:-}"
  for attempt in 1 2; do
    timeout 60 xl create /app/\$1.cfg && return 0
    echo "dom0: xl create \$1 failed (attempt \$attempt)"; xl destroy \$1 2>/dev/null; sleep 1
  done
  return 1
}
# NAME EXTRA [IMAGE]: creates the domU and waits for its vchan in xenstore; sets \$path.
start() {
  create "\$1" "\$2" "\${3:-}" || return 1
  domid=\$(xl domid \$1)
  path=/local/domain/\$domid/data/vchan
  for i in \$(seq 1 300); do xenstore-read \$path/ring-ref >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "dom0: \$1 offered no vchan at \$path"; return 1
}
# NAME [TENTHS]: waits (20 s, or TENTHS tenths of a second) for the appliance's
# end, prints its console; true if it exited 0. (One that has not ended by then
# is destroyed, so it cannot slow what follows.)
finish() {
  log=/var/log/xen/console/guest-\$1.log
  for i in \$(seq 1 \${2:-200}); do grep -qE "exit status|panic:" \$log 2>/dev/null && break; sleep 0.1; done
  for i in \$(seq 1 50); do xl list \$1 >/dev/null 2>&1 || break; sleep 0.1; done
  xl destroy \$1 2>/dev/null && echo "dom0: \$1 had not ended: destroyed"
  echo "dom0: ---- domU console (\$1) ----"; cat \$log; echo "dom0: ---- end ----"
  grep -q "vchan-echo: exit status 0" \$log
}
# MODE: runs the proxy (client: dom0 maps the domU's grants; server: it grants)
# with /tmp/in as its stdin and /tmp/got as its stdout.
connect() {
  rm -f /tmp/in /tmp/got; mkfifo /tmp/in
  vchan-socket-proxy -m \${1:-client} \$domid \$path - </tmp/in >/tmp/got &
  proxy=\$!
  exec 3>/tmp/in
}
size() { wc -c <\$1 2>/dev/null || echo 0; }
wait_for() {  # BYTES SECONDS: until /tmp/got holds BYTES
  t=\$(( \$(cut -d. -f1 /proc/uptime) + \$2 ))
  while [ \$(size /tmp/got) -lt \$1 ] && [ \$(cut -d. -f1 /proc/uptime) -lt \$t ]; do sleep 0.1; done
  [ \$(size /tmp/got) -ge \$1 ]
}
if [ -n "$bench" ]; then
  # The benchmark: tcp-echo over netfront (10.0.0.2) and vchan-echo (ring order
  # 16, a fresh domain each time) against the same peer, alternately, twice.
  cfg tcp-bench "" /app/tcp-echo "vif = [ 'bridge=xenbr0,mac=00:16:3e:00:00:02' ]"
  timeout 60 xl create /app/tcp-bench.cfg >/dev/null || exit 1
  for i in \$(seq 1 100); do ping -c 1 -W 1 10.0.0.2 >/dev/null 2>&1 && break; done
  ok=0
  measure() {  # RUN ARGS...: one vchan_peer run, its line prefixed
    run=\$1; shift
    vchan_peer "\$@" ${UNI_VCHAN_BENCH_BYTES:-8388608} 200 >/tmp/bench 2>&1 || ok=1
    sed "s/^/dom0: bench: run \$run: /" /tmp/bench
  }
  for run in 1 2; do
    if start vchan-bench\$run "--ring-order 16"; then measure \$run vchan \$domid \$path; else ok=1; fi
    measure \$run tcp 10.0.0.2 7
  done
  exit \$ok
fi
dd if=/dev/urandom of=/tmp/sent10 bs=1M count=10 2>/dev/null
head -c 1048576 /tmp/sent10 >/tmp/sent1
ok=0
for run in "in-page 10 1" "pages 16 10"; do
  set -- \$run
  cp /tmp/sent\$3 /tmp/sent
  total=\$(size /tmp/sent)
  start vchan-\$1 "--ring-order \$2" || { ok=1; continue; }
  t0=\$(cut -d' ' -f1 /proc/uptime)
  connect
  cat /tmp/sent >&3 &  # in the background: a peer that never reads must not hang the run
  writer=\$!
  took() { awk -v t0=\$t0 '{printf "%.2f", \$1 - t0}' /proc/uptime; }
  if ! wait_for \$total 60; then echo "dom0: vchan (\$1): \$(size /tmp/got) of \$total bytes back after \$(took) s"; ok=1
  elif cmp /tmp/sent /tmp/got; then echo "dom0: vchan (\$1, ring order \$2): \$total bytes each way, echoed intact in \$(took) s"
  else echo "dom0: vchan (\$1): the bytes came back changed"; ok=1; fi
  kill \$proxy \$writer 2>/dev/null; exec 3>&-
  finish vchan-\$1 || ok=1
done
# Two uni domUs: vchan-echo serving (ring order 13: the client maps two
# granted pages per ring) for the next domain, and vchan-echo --check as its
# client sending a pattern. Both are created paused, so each knows the other's
# domid before it runs: Xen hands out the next free id; a guess that missed
# (an id taken by a failed create) is destroyed and made again. Both log at
# debug level: a wait that moves nothing for 5 s prints the shared page's
# indices, notify and live bytes as each side sees them. The checker has 40 s
# (the pair takes 2-9 s at load 8-14); if it has not ended by then, its
# registers (xenctx, xen-hvmctx) and Xen's event channel and domain state are
# dumped before it is destroyed. UNI_VCHAN_PAIRS=N runs the pair N times.
pair() {  # ROUND
  next=\$((domid + 1)); made=""
  server=vchan-server\$1 checker=vchan-checker\$1
  for attempt in 1 2 3; do
    cfg \$server "--ring-order 13 --peer \$((next + 1)) --log debug"
    cfg \$checker "--connect --peer \$next --vchan /local/domain/\$next/data/vchan --check 262144 --log debug"
    s=""; c=""
    timeout 60 xl create -p /app/\$server.cfg >/dev/null && s=\$(xl domid \$server)
    [ "\$s" = "\$next" ] && timeout 60 xl create -p /app/\$checker.cfg >/dev/null && c=\$(xl domid \$checker)
    [ "\$c" = "\$((next + 1))" ] && { made=1; break; }
    echo "dom0: the pair's domids were not \$next and \$((next + 1)) (\$s, \$c): again"
    xl destroy \$server 2>/dev/null; xl destroy \$checker 2>/dev/null
    next=\$(( \${c:-\${s:-\$next}} + 2 ))
  done
  [ -n "\$made" ] || return 1
  domid=\$c
  t0=\$(cut -d' ' -f1 /proc/uptime)
  xl unpause \$server; xl unpause \$checker
  took() { awk -v t0=\$t0 '{printf "%.2f", \$1 - t0}' /proc/uptime; }
  t=\$(( \$(cut -d. -f1 /proc/uptime) + 40 ))
  until grep -qE "exit status|panic:" /var/log/xen/console/guest-\$checker.log 2>/dev/null || [ \$(cut -d. -f1 /proc/uptime) -ge \$t ]; do sleep 0.2; done
  if ! grep -qE "exit status|panic:" /var/log/xen/console/guest-\$checker.log; then
    echo "dom0: vchan between two domUs (\$next serving, \$c checking): no end after \$(took) s; the domains, the checker's registers, Xen's event channels:"
    xl list; xenctx \$c 2>&1; xen-hvmctx \$c 2>&1 | head -60; xl debug-keys e; xl debug-keys q; sleep 2
  fi
  if finish \$checker && grep -q "check: 262144 bytes sent and echoed intact" /var/log/xen/console/guest-\$checker.log; then
    echo "dom0: vchan between two domUs (\$next serving, \$c checking): 262144 bytes each way intact in \$(took) s"
  else
    echo "dom0: vchan between two domUs (\$next serving, \$c checking) failed after \$(took) s"
    finish \$server; return 1
  fi
  finish \$server
}
for round in \$(seq 1 ${UNI_VCHAN_PAIRS:-1}); do pair \$round || ok=1; done
# HTTP over vchan: www-vchan serves its site; two pipelined requests (the
# second asks to close) through vchan-socket-proxy, whose stdin stays open
# until the appliance closes the channel after the second answer.
if [ -f /app/www-vchan ]; then
  if start www-vchan "--ring-order 12" /app/www-vchan; then
    t0=\$(cut -d' ' -f1 /proc/uptime)
    connect
    printf 'GET / HTTP/1.1\\r\\nHost: www\\r\\n\\r\\nGET /style.css HTTP/1.1\\r\\nHost: www\\r\\nConnection: close\\r\\n\\r\\n' >&3
    for i in \$(seq 1 200); do kill -0 \$proxy 2>/dev/null || break; sleep 0.1; done
    exec 3>&-; kill \$proxy 2>/dev/null
    if [ "\$(grep -c 'HTTP/1.1 200' /tmp/got)" = 2 ] && grep -q "served by <strong>www</strong>" /tmp/got && grep -q "font-family" /tmp/got; then
      echo "dom0: http over vchan: GET / and /style.css from www-vchan (\$(size /tmp/got) bytes) in \$(awk -v t0=\$t0 '{printf "%.2f", \$1 - t0}' /proc/uptime) s"
    else echo "dom0: http over vchan failed (\$(size /tmp/got) bytes):"; head -c 300 /tmp/got; ok=1; fi
    xl destroy www-vchan
    log=/var/log/xen/console/guest-www-vchan.log
    echo "dom0: ---- domU console (www-vchan) ----"; cat \$log; echo "dom0: ---- end ----"
  else ok=1; fi
fi
# The appliance as the client of a server in dom0.
head -c 1048576 /tmp/sent10 >/tmp/sent
if create vchan-client "--connect --vchan /local/domain/0/data/vchan-client"; then
  domid=\$(xl domid vchan-client)
  path=/local/domain/0/data/vchan-client
  t0=\$(cut -d' ' -f1 /proc/uptime)
  connect server
  cat /tmp/sent >&3 &  # in the background: a peer that never reads must not hang the run
  writer=\$!
  if wait_for 1048576 60 && cmp /tmp/sent /tmp/got; then
    echo "dom0: vchan (client, libxenvchan's orders): 1048576 bytes each way, echoed intact in \$(awk -v t0=\$t0 '{printf "%.2f", \$1 - t0}' /proc/uptime) s"
  else echo "dom0: vchan (client): \$(size /tmp/got) of 1048576 bytes came back, or not intact"; ok=1; fi
  kill \$proxy \$writer 2>/dev/null; exec 3>&-
  finish vchan-client || ok=1
else ok=1; fi
cp /tmp/sent10 /tmp/sent
# dom0's end killed mid-transfer: the appliance must end cleanly.
start vchan-killed "--ring-order 12" || ok=1
connect
cat /tmp/sent >&3 &
writer=\$!
if wait_for 65536 20; then  # under way: kill it
  kill -9 \$proxy; echo "dom0: vchan-socket-proxy killed after \$(size /tmp/got) bytes"
else echo "dom0: the transfer did not start"; ok=1; kill -9 \$proxy; fi
exec 3>&-; kill \$writer 2>/dev/null
finish vchan-killed && grep -q "ended by the peer going" /var/log/xen/console/guest-vchan-killed.log || ok=1
# dom0's own processes that crashed meanwhile (the kernel logs each segfault).
dmesg | grep -E "segfault at" | sed 's/^/dom0: dmesg: /' | grep . && ok=1
exit \$ok
SCENARIO
chmod +x "$rd/app/scenario.sh"
# dom0 runs the scenario instead of its own checks; its status is the verdict.
mode_init='/app/scenario.sh; verdict $?'
