# tests/scripts/www_socket_run.sh: sourced by www_socket.sh and
# www_disk_socket.sh, the www appliances over host sockets: start() and stop().
# The caller sets: app (the appliance's path), WORK (a scratch directory), pid
# (empty) and sources www_checks.sh first (die).

# Every wait here is bounded: an appliance that hangs fails the test with its log,
# it does not hold the test (or CTest's output pipe: its stdout goes to the log too)
# until CTest's timeout.
start() {  # start FLAGS...: runs the appliance on a free port, sets BASE
  local port
  for _ in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 12000))
    "$app" --port "$port" "$@" >"$WORK/log" 2>&1 &
    pid=$!
    for _ in $(seq 150); do grep -q "listening on" "$WORK/log" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if grep -q "listening on http://127.0.0.1:$port/" "$WORK/log"; then BASE="http://127.0.0.1:$port"; return 0; fi
    kill -KILL "$pid" 2>/dev/null || true  # the port was taken, or it never said it listens
    wait "$pid" || true
  done
  pid=
  die "the appliance did not start: $(cat "$WORK/log")"
}
stop() {  # SIGTERM; it must exit 0 within 20 s
  local watchdog status=0
  kill -TERM "$pid"
  (exec >/dev/null 2>&1; sleep 20; kill -KILL "$pid") &  # not on the test's output
  watchdog=$!
  wait "$pid" || status=$?
  kill "$watchdog" 2>/dev/null || true
  wait "$watchdog" 2>/dev/null || true
  pid=
  ((status == 0)) || die "exit status $status after SIGTERM$( ((status == 137)) && echo ' (did not stop within 20 s: killed)'): $(cat "$WORK/log")"
  sed 's/^/  appliance: /' "$WORK/log"
}
