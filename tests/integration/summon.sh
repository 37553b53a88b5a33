#!/usr/bin/env bash
# uni-summon without Xen: its configuration's errors (file and line), then the
# whole program with a fake `xl` on PATH (summon_fake_xl.sh: its "domains" are
# processes; www's is the www appliance over host sockets on 127.0.0.2), asked
# by dig on loopback: a query starts www and is answered once www accepts
# connections, curl gets the page, the next query is answered at once; a failing
# create, a hanging one and a missing image give SERVFAIL and leave nothing; three
# names asked at once start at most max-starts (2) at a time; an idle www is shut
# down and a new query starts it again; a domain destroyed behind its back is
# noticed and started again when asked; a stop during a start destroys the
# half-made domain; a second uni-summon adopts the domains the first left
# running. ~15 s.
#   summon.sh PATH_TO_uni-summon PATH_TO_www-socket
set -euo pipefail
summon=$1 www=$2
command -v dig >/dev/null || { echo "SKIP: dig is not installed"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
cleanup() {
  rc=$?
  # (|| true: under set -e a failed kill, of a process already gone, would end the trap.)
  [[ -n $pid ]] && kill "$pid" 2>/dev/null || true
  for p in "$work"/xl/*.pid; do [[ -e $p ]] && kill -KILL "$(cat "$p")" 2>/dev/null || true; done
  ((rc)) && { echo "--- uni-summon log"; cat "$work/log" 2>/dev/null; echo "--- xl calls"; cat "$work/xl/calls" 2>/dev/null; }
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
mkdir -p "$work/bin" "$work/xl"
ln -s "$here/summon_fake_xl.sh" "$work/bin/xl"
export PATH="$work/bin:$PATH" FAKE_XL="$work/xl"

# 1. The configuration: each error names the file and the line.
check() {  # check WANT LINES...: the configuration LINES must be refused with WANT
  local want=$1
  shift
  printf '%s\n' "$@" >"$work/bad.conf"
  if "$summon" --check --config "$work/bad.conf" 2>"$work/err"; then fail "accepted: $*"; fi
  grep -qF "$want" "$work/err" || fail "wanted '$want', got: $(cat "$work/err")"
}
b=$work/bad.conf
check "$b:2: unknown directive 'frobnicate'" "zone apps.test" "frobnicate 1"
check "$b:1: appliance before zone" "appliance www 10.0.0.2 image x config y"
check "$b:3: bad IPv4 address '10.0.0'" "zone apps.test" "# a comment" "appliance www 10.0.0 image x config y"
check "$b:2: appliance www.apps.test. has no image" "zone apps.test" "appliance www 10.0.0.2 config y"
check "$b:2: www.other.test. is outside the zone apps.test." "zone apps.test" "appliance www.other.test. 10.0.0.2 image x config y"
check "$b:3: www.apps.test. is already an appliance ($b:2)" "zone apps.test" "appliance www 10.0.0.2 image x config y" \
  "appliance www 10.0.0.3 image x config y domain w2"
check "$b:2: idle takes a duration" "zone apps.test" "appliance www 10.0.0.2 image x config y idle 5parsecs"
check "$b:2: ready takes tcp:PORT or created" "zone apps.test" "appliance www 10.0.0.2 image x config y ready udp:53"
check "$b:2: max-starts takes a number from 1 to 16" "zone apps.test" "max-starts 0"
check "$b:1: no appliance" "zone apps.test"
printf 'www 300 IN A 10.0.0.9\nmail IN MX 10 nowhere\n' >"$work/more.zone"
check "$work/more.zone:1: www.apps.test. is an appliance's name ($b:2)" "zone apps.test" \
  "appliance www 10.0.0.2 image x config y" "records more.zone"
printf '$TTL 300\nmail IN MX ten nowhere\n' >"$work/more.zone"
check "$work/more.zone:2:" "zone apps.test" "appliance www 10.0.0.2 image x config y" "records more.zone"
check "cannot read $work/none.zone" "zone apps.test" "appliance www 10.0.0.2 image x config y" "records none.zone"
echo "PASS: 13 configuration errors named their file and line"

# 2. The program. Domains: www (the www appliance, up when it accepts on its
# port), a b c (a second to create), broken (create fails), hang (never
# returns), missing (no image).
www_port=$((20000 + RANDOM % 20000))
: >"$work/image"
cfg() { printf '%s\n' "$@" >"$work/$1.cfg"; }
printf 'fake_run = "%s --bind 127.0.0.2 --port %s"\n' "$www" "$www_port" >"$work/www.cfg"
for d in a b c; do echo 'fake_mode = "slow"' >"$work/$d.cfg"; done
echo 'fake_mode = "fail"' >"$work/broken.cfg"
echo 'fake_mode = "hang"' >"$work/hang.cfg"
: >"$work/missing.cfg"
printf '$TTL 300\nstatic IN A 192.0.2.7\n' >"$work/static.zone"
cat >"$work/summon.conf" <<CONF
zone apps.test
ns ns.apps.test 127.0.0.1
records static.zone
max-starts 2
start-deadline 10s
idle-timeout 30s
check-every 500ms
appliance www.apps.test 127.0.0.2 image image config www.cfg ready tcp:$www_port idle 2s
appliance a.apps.test 127.0.0.3 image image config a.cfg
appliance b.apps.test 127.0.0.4 image image config b.cfg
appliance c.apps.test 127.0.0.5 image image config c.cfg
appliance broken.apps.test 127.0.0.6 image image config broken.cfg
appliance hang.apps.test 127.0.0.7 image image config hang.cfg deadline 1s
appliance missing.apps.test 127.0.0.8 image no-such-image config missing.cfg
appliance late.apps.test 127.0.0.9 image image config hang.cfg deadline 20s
CONF
"$summon" --check --config "$work/summon.conf" || fail "the test's configuration was refused"
start_summon() {  # start_summon LOG: on a free port ($port), its pid in $pid
  for _ in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 20000))
    [[ $port == "$www_port" ]] && continue
    "$summon" --config "$work/summon.conf" --bind 127.0.0.1 --port "$port" >"$1" 2>&1 &
    pid=$!
    for _ in $(seq 50); do grep -q "on udp" "$1" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    grep -q "on udp 127.0.0.1:$port" "$1" && return
    kill -KILL "$pid" 2>/dev/null || true
    pid=
  done
  fail "uni-summon did not start"
}
start_summon "$work/log"
ask() { dig @127.0.0.1 -p "$port" +tries=1 +timeout=12 "$@"; }
creates() { grep -c "^create $1\$" "$work/xl/calls" || true; }
# The clean-up runs after the answer: give it up to 5 s.
soon() { for _ in $(seq 50); do "$@" && return 0; sleep 0.1; done; "$@"; }
absent() { [[ ! -e $1 ]]; }
called() { grep -q "^$1\$" "$work/xl/calls"; }

# A query for www starts it; the answer comes once it accepts connections.
ask www.apps.test A >"$work/dig" || fail "dig www"
grep -q "status: NOERROR" "$work/dig" && grep -qE "^www\.apps\.test\.\s+0\s+IN\s+A\s+127\.0\.0\.2" "$work/dig" ||
  fail "www answer: $(cat "$work/dig")"
[[ $(creates www) == 1 ]] || fail "www created $(creates www) times"
curl -sf -o "$work/page" "http://127.0.0.2:$www_port/" || fail "no page from the summoned www"
grep -q "served by <strong>www</strong>" "$work/page" || fail "not www's page"
ask www.apps.test A >"$work/dig2"
grep -q "127.0.0.2" "$work/dig2" && [[ $(creates www) == 1 ]] || fail "a running www was started again"
echo "PASS: www summoned by a query ($(grep -m1 'up .* ms after' "$work/log" | sed 's/.*up //')), page served, asked again: answered at once"
ask static.apps.test A | grep -q "192.0.2.7" || fail "static name from the records file"
ask nothing.apps.test A | grep -q "status: NXDOMAIN" || fail "no NXDOMAIN for a name not in the zone"

# Failures: SERVFAIL, a log line, nothing left.
for d in broken hang missing; do
  ask $d.apps.test A >"$work/dig" || true
  grep -q "status: SERVFAIL" "$work/dig" || fail "$d: no SERVFAIL: $(cat "$work/dig")"
  grep -q "$d.apps.test.: start failed" "$work/log" || fail "$d: no log line"
  soon called "destroy $d" || fail "$d: no xl destroy"
  soon absent "$work/xl/$d.half" && absent "$work/xl/$d.pid" || fail "$d: left behind"
done
[[ $(creates missing) == 0 ]] || fail "xl create ran for a missing image"
grep -q "fake failure creating broken" "$work/log" || fail "the toolstack's error is not in the log"
! kill -0 "$(cat "$work/xl/hang.create-pid")" 2>/dev/null || fail "the hanging xl create was not killed"
echo "PASS: failed create, hung create and missing image: SERVFAIL, a log line, xl destroy, nothing left"

# Three names at once, max-starts 2: all answered, never more than 2 creates at a time.
: >"$work/xl/concurrent"
asking=()
for d in a b c; do
  ask $d.apps.test A >"$work/dig-$d" &
  asking+=($!)
done
wait "${asking[@]}" || true
for d in a b c; do grep -q "status: NOERROR" "$work/dig-$d" || fail "$d: $(cat "$work/dig-$d")"; done
most=$(sort -n "$work/xl/concurrent" | tail -1)
[[ $most == 2 ]] || fail "creates at once: $(tr '\n' ' ' <"$work/xl/concurrent") (want at most 2, and 2)"
echo "PASS: three names at once: all answered, creates at once: $(tr '\n' ' ' <"$work/xl/concurrent")"

# Idle: www (idle 2s) is shut down; asked again, it starts again.
soon called "shutdown www" || fail "idle www not shut down"
soon absent "$work/xl/www.pid" || fail "www still running"
ask www.apps.test A | grep -q "127.0.0.2" || fail "www not answered after its restart"
[[ $(creates www) == 2 ]] || fail "www created $(creates www) times (want 2)"
curl -sf -o /dev/null "http://127.0.0.2:$www_port/" || fail "no page from the restarted www"
echo "PASS: idle www shut down, summoned again"

# A domain destroyed behind uni-summon's back (a crash) is noticed (two missed
# checks, 500 ms apart) and started again by the next query.
xl destroy a 2>/dev/null
for _ in $(seq 50); do grep -q "a.apps.test.: domain a is gone" "$work/log" && break; sleep 0.1; done
grep -q "a.apps.test.: domain a is gone" "$work/log" || fail "a destroyed elsewhere was not noticed"
ask a.apps.test A | grep -q "127.0.0.3" && [[ $(creates a) == 2 ]] || fail "a not started again ($(creates a) creates)"
echo "PASS: a domain destroyed elsewhere noticed and started again when asked"

# Stopped in the middle of a start: the half-made domain is destroyed.
ask late.apps.test A >/dev/null 2>&1 &
asker=$!
for _ in $(seq 50); do [[ -e $work/xl/late.half ]] && break; sleep 0.1; done
[[ -e $work/xl/late.half ]] || fail "late's create did not begin"
kill -TERM "$pid"
wait "$pid" || fail "uni-summon exited with status $?"
pid=
kill "$asker" 2>/dev/null || true
grep -q "^destroy late\$" "$work/xl/calls" && [[ ! -e $work/xl/late.half ]] || fail "late's half-made domain was left"
grep -E "queries: .* starts" "$work/log" | sed 's/^/  /'
echo "PASS: stopped while starting: the half-made domain destroyed"

# A second uni-summon adopts what the first left running (b, c): no second create.
start_summon "$work/log2"
for _ in $(seq 30); do grep -q "c.apps.test.: domain c is already running" "$work/log2" && break; sleep 0.1; done
grep -q "b.apps.test.: domain b is already running: adopted" "$work/log2" || fail "b not adopted: $(cat "$work/log2")"
ask b.apps.test A | grep -q "127.0.0.4" && [[ $(creates b) == 1 ]] || fail "b created again ($(creates b))"
kill -TERM "$pid"
wait "$pid" || fail "the second uni-summon exited with status $?"
pid=
echo "PASS: uni-summon"
