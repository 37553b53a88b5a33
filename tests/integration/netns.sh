# tests/integration/netns.sh: sourced by the integration scripts. A private
# network namespace with a TAP device whose kernel side is the Linux peer:
#
#   [ appliance ] --tap0-- [ Linux in namespace $NS, $PEER_IP/24 ]
#
# Everything is removed on exit, whatever happens. Needs root; without it the
# caller exits 77 (CTest's "skipped") with a message saying so.

NS=""
APP_PID=""
APP_LOG=""

skip() { echo "SKIP: $*"; exit 77; }

netns_setup() {  # netns_setup SUBNET_OCTET  -> PEER_IP=10.<n>.0.1, APP_IP=10.<n>.0.2
  [[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces and TAP devices)"
  NS="uni-it-${UNI_NETNS_TAG:+$UNI_NETNS_TAG-}$$-$RANDOM"  # UNI_NETNS_TAG: whose namespace it is
  PEER_IP="10.$1.0.1"
  APP_IP="10.$1.0.2"
  ip netns add "$NS" 2>/dev/null || skip "cannot create network namespaces here"
  trap netns_cleanup EXIT
  in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  in_ns ip link set lo up
  in_ns ip tuntap add dev tap0 mode tap
  in_ns ip addr add "$PEER_IP/24" dev tap0
  in_ns ip link set tap0 up
}

in_ns() { ip netns exec "$NS" "$@"; }

# end_namespace NAME: ends every process in the namespace, then deletes it.
# Deleting a namespace does not end its processes, and a PID taken from a
# backgrounded in_ns is the subshell's, not the daemon's.
end_namespace() {
  local left
  left=$(ip netns pids "$1" 2>/dev/null || true)
  if [[ -n "$left" ]]; then
    kill -TERM $left 2>/dev/null || true
    for _ in $(seq 20); do
      left=$(ip netns pids "$1" 2>/dev/null || true)
      [[ -z "$left" ]] && break
      sleep 0.05
    done
    [[ -n "$left" ]] && kill -KILL $left 2>/dev/null || true
  fi
  ip netns del "$1" 2>/dev/null || true
}

netns_cleanup() {
  if [[ -n "$APP_PID" ]] && kill -0 "$APP_PID" 2>/dev/null; then kill -KILL "$APP_PID" 2>/dev/null || true; fi
  [[ -n "$NS" ]] && end_namespace "$NS"
  [[ -n "$APP_LOG" ]] && rm -f "$APP_LOG"
  return 0
}

# start_app CMD...: runs the appliance in the namespace, waits until it is up.
start_app() {
  APP_LOG=$(mktemp)
  ip netns exec "$NS" "$@" >"$APP_LOG" 2>&1 &  # ip execs the appliance: $! is its PID
  APP_PID=$!
  for _ in $(seq 100); do
    grep -q " on tap0 " "$APP_LOG" && return 0
    kill -0 "$APP_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "FAIL: the appliance did not start:"; cat "$APP_LOG"; exit 1
}

# stop_app: SIGTERM (background jobs of a script ignore SIGINT), then its exit status must be 0; prints its log (counters).
stop_app() {
  kill -TERM "$APP_PID"
  local status=0
  wait "$APP_PID" || status=$?
  APP_PID=""
  sed 's/^/  appliance: /' "$APP_LOG"
  [[ $status -eq 0 ]] || { echo "FAIL: appliance exited with $status"; exit 1; }
}

fail() { echo "FAIL: $*"; exit 1; }
