#!/usr/bin/env bash
# How an appliance starts, takes its flags and stops (uni/options.hpp,
# uni/lifecycle.hpp), judged by exit status and message, any user:
#   - a service that fails at start exits at once with status 1 (a bad zone, a
#     missing zone file, a port in use on tcp-echo, www and dns);
#   - --help exits 0 and lists the platform's and the appliance's flags with defaults;
#   - an unknown flag, a malformed or out-of-range number, a bad --log, a flag of
#     another target, an unwritable --pcap, an address without its prefix: exit 2
#     with one line on stderr;
#   - SIGUSR1 on the socket target prints the counters and the appliance runs on.
#   appliance_cli.sh TCP_ECHO_SOCKET WWW_SOCKET DNS_SOCKET TCP_ECHO_TAP
set -uo pipefail
tcp_echo=$1 www=$2 dns=$3 tcp_echo_tap=$4
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# expect STATUS TEXT CMD...: CMD ends within 10 s with STATUS and says TEXT (stderr or stdout).
expect() {
  local want=$1 text=$2 status=0
  shift 2
  timeout 10 "$@" >"$work/out" 2>"$work/err" || status=$?
  ((status == 124)) && fail "$(basename "$1") ${*:2}: still running after 10 s"
  ((status == want)) || fail "$(basename "$1") ${*:2}: exit status $status, not $want: $(cat "$work/err" "$work/out")"
  grep -qF -- "$text" "$work/err" "$work/out" || fail "$(basename "$1") ${*:2}: does not say '$text': $(cat "$work/err" "$work/out")"
}
# refused TEXT CMD...: exit status 2, one line on stderr saying TEXT, nothing on stdout.
refused() {
  local text=$1
  shift
  expect 2 "$text" "$@"
  [[ $(wc -l <"$work/err") == 1 && ! -s "$work/out" ]] || fail "$(basename "$1") ${*:2}: not one line: $(cat "$work/err" "$work/out")"
  echo "ok: $(basename "$1") ${*:2} -> 2: $(cat "$work/err")"
}

# A port in use (TCP and UDP): held by a listener of our own. Other tests run beside
# this one, so the holder tries ports until one binds both ways and its next two are
# free too (the zone and SIGUSR1 checks below use them), then says which. Ports
# stay below Linux's ephemeral range (32768 up), where other tests' clients take theirs.
python3 -c '
import random, socket, time
def free(p):
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            with socket.socket(socket.AF_INET, kind) as s: s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
for p in random.sample(range(20000, 32000), 200):
    t = socket.socket(); u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(("127.0.0.1", p)); t.listen()
        u.bind(("127.0.0.1", p))
    except OSError:
        t.close(); u.close(); continue
    if free(p + 1) and free(p + 2):
        print("held", p, flush=True); time.sleep(60)
    t.close(); u.close()' >"$work/held" &
pids+=($!)
for _ in $(seq 50); do grep -q held "$work/held" && break; sleep 0.1; done
grep -q held "$work/held" || fail "could not hold a port"
port=$(awk '/held/ {print $2}' "$work/held")

# 1. Start-up failures end the process at once with the service's status.
expect 1 "cannot listen on port $port: in use" "$tcp_echo" --port "$port"
expect 1 "cannot listen on port $port: in use" "$www" --port "$port"
expect 1 "cannot bind udp port $port: in use" "$dns" --port "$port"
echo "ok: a port in use ends tcp-echo, www and dns at once with status 1"
printf '$ORIGIN bad.\n$TTL 60\n@ SOA ns host 1 7200 3600 1209600 60\n@ NS\n' >"$work/bad.zone"
expect 1 "bad.zone" "$dns" --port $((port + 1)) --zone "$work/bad.zone"
expect 1 "dns: cannot read $work/missing.zone" "$dns" --port $((port + 1)) --zone "$work/missing.zone"
echo "ok: a bad zone and a missing zone file end dns at once with status 1"

# 4. --help: the platform's flags and the appliance's, with defaults, exit 0.
expect 0 "--port N" "$tcp_echo" --help
for want in "--bind ADDR" "(default 127.0.0.1)" "--log debug|info|warn" "(1-65535, default 7)"; do
  grep -qF -- "$want" "$work/out" || fail "tcp-echo-socket --help does not list '$want': $(cat "$work/out")"
done
expect 0 "--header-timeout N" "$www" --help
grep -qF -- "(1-65535, default 8080)" "$work/out" || fail "www-socket --help: no default port: $(cat "$work/out")"
expect 0 "--zone FILE[,FILE...]" "$dns" --help
expect 0 "--tap IFNAME" "$tcp_echo_tap" --help
for want in "--pcap FILE" "--ipv4 ADDR/PREFIX" "(default tap0)"; do
  grep -qF -- "$want" "$work/out" || fail "tcp-echo-tap --help does not list '$want': $(cat "$work/out")"
done
echo "ok: --help lists the flags and their defaults, exit 0"

# 5, 6, 8. Bad flags: one line, exit 2, nothing started.
refused "unknown flag --prot" "$tcp_echo" --prot 7777
refused "--port: 'abc' is not a number" "$tcp_echo" --port abc
refused "--port: 70000 is out of range (1-65535)" "$tcp_echo" --port 70000
refused "--port: -1 is out of range (1-65535)" "$tcp_echo" --port -1
refused "--log: 'verbose' is not one of debug|info|warn" "$tcp_echo" --log verbose
refused "--pcap does not apply to the posix-socket target" "$tcp_echo" --pcap "$work/x.pcap"
refused "--tap does not apply to the posix-socket target" "$tcp_echo" --tap tap0
refused "--ipv4 does not apply to the posix-socket target" "$www" --ipv4 10.0.0.2/24
refused "--pcap: cannot write /nonexistent/dir/x.pcap" "$tcp_echo_tap" --pcap /nonexistent/dir/x.pcap
UNI_PCAP=/nonexistent/dir/y.pcap refused "UNI_PCAP: cannot write /nonexistent/dir/y.pcap" "$tcp_echo_tap"
refused "--ipv4: '10.0.0.2' is not ADDR/PREFIX" "$tcp_echo_tap" --ipv4 10.0.0.2
refused "--tap given more than once" "$tcp_echo_tap" --tap a --tap b
refused "--memo: 'x' is not a number" "$dns" --memo x

# 9. SIGUSR1 on the socket target: the counters, and it runs on; SIGTERM: exit 0.
"$tcp_echo" --port $((port + 2)) 2>"$work/usr1.log" &
app=$!
pids+=($app)
for _ in $(seq 50); do grep -q listening "$work/usr1.log" && break; sleep 0.1; done
kill -USR1 "$app"
for _ in $(seq 50); do grep -q "pages: " "$work/usr1.log" && break; sleep 0.1; done
grep -q "pages: 0 in use" "$work/usr1.log" || fail "no counters after SIGUSR1: $(cat "$work/usr1.log")"
sleep 0.2
kill -0 "$app" 2>/dev/null || fail "SIGUSR1 ended the socket target: $(cat "$work/usr1.log")"
kill -TERM "$app"
status=0
wait "$app" || status=$?
((status == 0)) || fail "exit status $status after SIGTERM: $(cat "$work/usr1.log")"
grep -q "stopped by signal 15" "$work/usr1.log" || fail "no 'stopped by signal 15': $(cat "$work/usr1.log")"
echo "ok: SIGUSR1 prints the counters of the socket target, which runs on; SIGTERM ends it with 0"
echo "PASS: start-up failures, --help, bad flags and signals"
