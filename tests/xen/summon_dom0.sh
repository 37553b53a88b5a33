# tests/xen/summon_dom0.sh: dom0.sh's `summon` mode (sourced by it, IMAGE the www
# appliance, NAME www): dom0 runs uni-summon (examples/summon, $UNI_SUMMON, a
# static host binary) for the zone apps.test on 10.0.0.1:53, with three names:
#   www.apps.test     10.0.0.2  the www image (IMAGE), idle after 4 s
#   dns.apps.test     10.0.0.3  the dns appliance ($UNI_SUMMON_SECOND)
#   broken.apps.test  10.0.0.9  an image that is not a kernel
# and, asking with kdig (copied in with its libraries): www's name starts
# www-xen, wget gets its page (the time from the query to the page is the
# figure), the next query is answered at once; broken's gives SERVFAIL and no
# domain is left; once idle, www is gone from `xl list`; then www and dns asked
# at once start both, and each answers (wget; dns's zone through kdig).
# Sets mode_init, the part of dom0's init that runs instead of its own checks.
summon_bin=${UNI_SUMMON:?UNI_SUMMON: the uni-summon binary}
second=${UNI_SUMMON_SECOND:?UNI_SUMMON_SECOND: the dns appliance image}
command -v kdig >/dev/null || { echo "SKIP: kdig (knot-dnsutils) asks uni-summon in dom0"; exit 77; }
cp "$summon_bin" "$rd/bin/uni-summon"
cp "$(command -v kdig)" "$rd/bin/kdig"
for l in $(ldd "$(command -v kdig)" | awk '/=> \// {print $3}'); do cp -L "$l" "$rd/lib/x86_64-linux-gnu/"; done
cp "$second" "$rd/app/dns"
printf 'this is not a kernel\n%.0s' $(seq 200) >"$rd/app/broken"
# dns: the same configuration but its own MAC and address; broken: its own name.
sed -e 's/00:16:3e:00:00:02/00:16:3e:00:00:03/' -e '/^extra/d' "$rd/app/$name.cfg" >"$rd/app/dns.cfg"
echo 'extra = "--ipv4 10.0.0.3/24"' >>"$rd/app/dns.cfg"
sed 's/00:16:3e:00:00:02/00:16:3e:00:00:09/' "$rd/app/$name.cfg" >"$rd/app/broken.cfg"
if [[ $image == linux ]]; then
  # The comparison (not a test): dom0.sh's Linux domU behind www's name, serving
  # the same line with busybox httpd; only the first summons is measured.
  ln -s busybox "$drd/bin/httpd"
  ln -s busybox "$drd/bin/mkdir"
  sed -i 's|^echo "linux domU: eth0 up"|mkdir -p /www; echo "served by <strong>www</strong>" >/www/index.html; httpd -p 80 -h /www\n&|' "$drd/init"
  (cd "$drd" && find . | "$root/bin/busybox" cpio -o -H newc 2>/dev/null) >"$rd/app/domu.cpio"
fi
cat >"$rd/app/summon.conf" <<CONF
zone apps.test
ns ns.apps.test 10.0.0.1
max-starts 2
start-deadline $([[ $image == linux ]] && echo 150s || echo 40s)
stop-deadline 20s
appliance www.apps.test 10.0.0.2 image /app/$name config /app/$name.cfg domain www ready tcp:80 idle 4s
appliance dns.apps.test 10.0.0.3 image /app/dns config /app/dns.cfg ready tcp:53 idle 60s
appliance broken.apps.test 10.0.0.9 image /app/broken config /app/broken.cfg
CONF
read -r -d '' mode_init <<INIT
linux_domu=$([[ $image == linux ]] && echo 1 || echo 0)
INIT
read -r -d '' summon_init <<'INIT'
now() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v t0=$1 '{printf "%.2f", $1 - t0}' /proc/uptime; }
ask() { kdig @10.0.0.1 +retry=0 +timeout=160 "$@"; }
# OUT NAME: a SERVFAIL because xl itself crashed (it dies at random in this dom0:
# a signal, or its monitoring child's) is the toolstack's, not uni-summon's:
# NAME is asked again, twice at most. Any other answer stands.
crashes_seen=0
again_if_xl_crashed() {
  for i in 1 2; do
    n=$(grep -cE "status 1(34|39)|fatal signal" /tmp/summon.log)
    grep -q SERVFAIL $1 && [ $n -gt $crashes_seen ] || return 0
    crashes_seen=$n
    echo "dom0: xl crashed under uni-summon (the toolstack): asking for $2 again"
    ask $2 A >$1 2>&1
  done
}
bad() { echo "dom0: FAIL: $*"; ok=0; }
ok=1
ip link set lo up  # kdig asks dom0's own address: through lo
uni-summon --config /app/summon.conf --bind 10.0.0.1 --port 53 >/tmp/summon.log 2>&1 &
summon_pid=$!
for i in $(seq 50); do grep -q "on udp" /tmp/summon.log && break; sleep 0.1; done
t0=$(now)
ask www.apps.test A >/tmp/q1 2>&1
again_if_xl_crashed /tmp/q1 www.apps.test
t_dns=$(since $t0)
timeout 30 wget -q -O /tmp/page http://10.0.0.2/
t_page=$(since $t0)
if grep -q "NOERROR" /tmp/q1 && grep -qE "^www\.apps\.test\.\s+0\s+IN\s+A\s+10\.0\.0\.2" /tmp/q1 &&
   grep -q "served by <strong>www</strong>" /tmp/page; then
  echo "dom0: www summoned: answer $t_dns s after the query, the page (first byte) $t_page s after it"
else bad "www: $(cat /tmp/q1)"; fi
xl list www >/dev/null 2>&1 || bad "www is not in xl list"
if [ $linux_domu = 1 ]; then
  sed 's/^/dom0: summon: /' /tmp/summon.log
  [ $ok = 1 ] && verdict 0
  verdict 1
fi
t0=$(now); ask www.apps.test A >/tmp/q2 2>&1
grep -q "10.0.0.2" /tmp/q2 && echo "dom0: www asked again: answered in $(since $t0) s" || bad "www again: $(cat /tmp/q2)"
ask broken.apps.test A >/tmp/q3 2>&1
if grep -q "SERVFAIL" /tmp/q3 && ! xl list broken >/dev/null 2>&1; then echo "dom0: broken: SERVFAIL, no domain left"
else bad "broken: $(cat /tmp/q3)"; xl list; fi
t0=$(now)
for i in $(seq 200); do xl list www >/dev/null 2>&1 || break; sleep 0.1; done
xl list www >/dev/null 2>&1 && bad "www still running after its idle timeout" ||
  echo "dom0: www idle (4 s): gone from xl list $(since $t0) s after the last check"
t0=$(now)
ask www.apps.test A >/tmp/q4 2>&1 &
a1=$!
ask dns.apps.test A >/tmp/q5 2>&1 &
a2=$!
wait $a1 $a2
again_if_xl_crashed /tmp/q4 www.apps.test
again_if_xl_crashed /tmp/q5 dns.apps.test
t_both=$(since $t0)
grep -q "10.0.0.2" /tmp/q4 && grep -q "10.0.0.3" /tmp/q5 || bad "www and dns at once: $(cat /tmp/q4 /tmp/q5)"
ask www.apps.test A >/dev/null 2>&1  # (a retry above may have let www idle out: a client asks before it connects)
timeout 30 wget -q -O /tmp/page2 http://10.0.0.2/ && grep -q "served by <strong>www</strong>" /tmp/page2 || bad "restarted www: no page"
kdig @10.0.0.3 +retry=1 +timeout=5 www.example.com A >/tmp/q6 2>&1
grep -q "192.0.2.80" /tmp/q6 || bad "the summoned dns appliance: $(cat /tmp/q6)"
[ $ok = 1 ] && echo "dom0: www (started again) and dns summoned at once: both answered in $t_both s; both serve"
kill -USR1 $summon_pid; sleep 0.2
echo "dom0: ---- uni-summon ----"; sed 's/^/dom0: summon: /' /tmp/summon.log
grep -h "start of day took\|network up" /var/log/xen/console/guest-www.log | sed 's/^/dom0: www console: /'
xl list | sed 's/^/dom0: /'
echo "dom0: ---- domU console ----"; cat /var/log/xen/console/guest-www.log; echo "dom0: ---- end ----"
[ $ok = 1 ] && verdict 0
verdict 1
INIT
mode_init+=$'\n'$summon_init
