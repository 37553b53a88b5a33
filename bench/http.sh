#!/usr/bin/env bash
# bench/http.sh: static pages per second, the www appliance against nginx
# serving the same files on the same machine (the Mirage paper's Section 4.4).
#
#   namespace C (clients: wrk, curl)                       namespace N
#     tap0 10.95.0.1 ---- TAP ---- uni www-tap 10.95.0.2
#     veth 10.96.0.1 ---- veth pair ----------------- veth 10.96.0.2 nginx (Linux)
#     lo 127.0.0.1: www-socket :8080 and nginx :8081 (both on Linux's TCP)
#
#   - "tap":    wrk -> www-tap (uni's own stack) against wrk -> nginx over veth
#               (Linux's stack on both ends): each server behind one link;
#   - "socket": wrk -> www-socket against wrk -> nginx, both over loopback.
#   nginx: one worker, access log off, sendfile, keep-alive without a request
#   limit; the files: examples/www/site. wrk: one thread, 1, 10 and 100
#   connections, keep-alive, GET /index.html (697 bytes), DURATION seconds each.
#   Runs alternate www and nginx (www first, then nginx first, ...); the median
#   over the runs is reported, with the average and 99th-percentile latency
#   (wrk --latency) and each server's CPU use over the run (user + system time of
#   its processes / wall time): with two cores shared by wrk and the server, the
#   load generator competes with the server, so requests per server CPU-second
#   is given as well. Then a 100 MB file (served from disk, --root / nginx root)
#   is downloaded by curl from each server, nine times: a download lasts tens of
#   milliseconds, and one server's speeds spread over 2-3x between downloads
#   (nginx's 1.3 to 4.5 GB/s in one run), so the median is the figure compared,
#   the best beside it. The binary sizes close the report.
#
# Writes RESULTS/http.md. Usage: bench/http.sh [--quick] [--repeats N] [--duration S] [--out DIR] [--build DIR] [--pin split|same] [--steer rfs]
#   --pin: the servers on CPU 0, the load generator on CPU 1 (split) or CPU 0 too (same);
#   unpinned by default (bench/lib.sh, pin_cpus, says why it matters at one connection).
#   --steer rfs: Linux's receive flow steering on every device, uni's TAP and the
#   Linux peer's veth alike (bench/lib.sh, start_steering, says what it moves); none by default.
#   --quick: 1 repeat of 3 s; default 3 repeats of 5 s. --build: release build
#   directory (default build/release, configured with the release preset if missing).
# Needs root (namespaces, TAP); exits 77 without it. Every step is bounded by
# `timeout`; the namespaces and servers are removed on exit whatever happens.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
out=$root/bench/results build=build/release quick=0 repeats="" duration="" pin="" steer=""
read_flags "[--quick] [--repeats N] [--duration S] [--out DIR] [--build DIR] [--pin split|same] [--steer rfs]" "quick" "repeats duration out build pin steer" "$@"
pin_cpus "$pin"
[ -n "$repeats" ] || repeats=$((quick ? 1 : 3))
[ -n "$duration" ] || duration=$((quick ? 3 : 5))
need_root http
need_tools http wrk nginx curl
out=$(results_dir "$out")
conn_counts=(1 10 100)

cd "$root"
build_targets "$build" release www-socket www-tap bench_pauses
build=$(cd "$build" && pwd)

start_steering "$steer"
two_namespaces bh

# The same files for both: the site, plus a 100 MB file for the download.
mkdir -p "$work/files"
cp -r examples/www/site/. "$work/files/"
head -c 100000000 /dev/urandom >"$work/files/large.bin"
chmod -R a+rX "$work"

nginx_conf() {  # nginx_conf NAME LISTEN
  mkdir -p "$work/$1/tmp"
  cat >"$work/$1/nginx.conf" <<EOF
worker_processes 1;
pid $work/$1/nginx.pid;
error_log $work/$1/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 100000000;
  keepalive_timeout 65;
  types { text/html html; text/css css; image/svg+xml svg; text/plain txt; }
  default_type application/octet-stream;
  client_body_temp_path $work/$1/tmp;
  proxy_temp_path $work/$1/tmp;
  fastcgi_temp_path $work/$1/tmp;
  uwsgi_temp_path $work/$1/tmp;
  scgi_temp_path $work/$1/tmp;
  server {
    listen $2;
    root $work/files;
  }
}
EOF
}

# start NAME NS CMD...: runs a server in a namespace; SERVER_PID is its process
# (ip netns exec execs it), waits until it answers on URL_$NAME.
start() {
  local name=$1 ns=$2 url
  shift 2
  ip netns exec "$ns" "${SERVER_PIN[@]}" "$@" >"$work/$name.log" 2>&1 &
  SERVER_PID=$!
  pids+=("$SERVER_PID")
  url=$(eval echo "\$URL_$name")
  for _ in $(seq 100); do
    ip netns exec "$NS_C" timeout 2 curl -s -o /dev/null "$url/index.html" && return 0
    sleep 0.1
  done
  echo "bench/http.sh: $name did not start:"; cat "$work/$name.log"; exit 1
}
hz=$(getconf CLK_TCK)

# to_ms VALUE: wrk's "1.23ms", "456.00us", "1.02s" in milliseconds.
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }

# measure NAME CONNS: one wrk run against the running server; appends a line
# "name conns rps avg_ms p99_ms cpu steal pauses worst_pause_ms" to runs.txt. steal:
# the host's steal time over the run (CPU-seconds per second, all CPUs); pauses: the
# times a CPU stood still for 20 ms or more meanwhile (bench_pauses, beside wrk). A
# p99 near the worst pause is the machine's, not the server's.
measure() {
  local name=$1 c=$2 url t0 t1 s0 s1 w0 w1 raw rps avg p99 cpu steal pauser pauses
  url=$(eval echo "\$URL_$name")
  "$build/bench/bench_pauses" --seconds "$duration" >"$work/pauses.txt" 2>&1 &
  pauser=$!
  t0=$(ticks "$SERVER_PID")
  s0=$(steal_ticks)
  w0=$(date +%s.%N)
  raw=$(ip netns exec "$NS_C" "${CLIENT_PIN[@]}" timeout $((duration + 30)) wrk -t1 -c"$c" -d"${duration}s" --latency "$url/index.html")
  w1=$(date +%s.%N)
  t1=$(ticks "$SERVER_PID")
  s1=$(steal_ticks)
  wait "$pauser" || true
  pauses=$(sed -n 's/^pauses count=\([0-9]*\) worst_ms=\([0-9.]*\).*/\1 \2/p' "$work/pauses.txt")
  echo "== $name c=$c" >>"$work/wrk.txt"
  echo "$raw" >>"$work/wrk.txt"
  rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$raw")
  avg=$(to_ms "$(awk '$1 == "Latency" { print $2; exit }' <<<"$raw")")
  p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$raw")")
  if grep -q "Non-2xx\|Socket errors" <<<"$raw"; then
    echo "bench/http.sh: errors against $name (c=$c):"; echo "$raw"; exit 1
  fi
  cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$w0" -v e="$w1" 'BEGIN { printf "%.2f", (b - a) / hz / (e - s) }')
  steal=$(awk -v a="$s0" -v b="$s1" -v hz="$hz" -v s="$w0" -v e="$w1" 'BEGIN { printf "%.3f", (b - a) / hz / (e - s) }')
  [ -n "$pauses" ] || pauses="? ?"
  echo "$name $c $rps $avg $p99 $cpu $steal $pauses" >>"$work/runs.txt"
  printf '  %-12s c=%-3s %10.0f req/s  avg %7.3f ms  p99 %7.3f ms  cpu %.2f  host steal %.3f  pauses %s (worst %s ms)\n' \
    "$name" "$c" "$rps" "$avg" "$p99" "$cpu" "$steal" "${pauses% *}" "${pauses#* }"
}

URL_www_tap="http://$UNI_IP:80"
URL_nginx_veth="http://$N_IP:80"
URL_www_socket="http://127.0.0.1:8080"
URL_nginx_lo="http://127.0.0.1:8081"
nginx_conf nginx_veth "$N_IP:80"
nginx_conf nginx_lo "127.0.0.1:8081"
start_server() {  # start_server NAME [extra www flags]
  case $1 in
    www_tap) start www_tap "$NS_C" "$build/examples/www-tap" --tap tap0 --ipv4 "$UNI_IP/24" --log warn "${@:2}" ;;
    www_socket) start www_socket "$NS_C" "$build/examples/www-socket" --port 8080 --log warn "${@:2}" ;;
    nginx_veth) start nginx_veth "$NS_N" nginx -e "$work/nginx_veth/error.log" -c "$work/nginx_veth/nginx.conf" -g "daemon off;" ;;
    nginx_lo) start nginx_lo "$NS_C" nginx -e "$work/nginx_lo/error.log" -c "$work/nginx_lo/nginx.conf" -g "daemon off;" ;;
  esac
}

: >"$work/runs.txt"
echo "bench/http.sh: wrk, ${duration} s per run, $repeats repeat(s), connections ${conn_counts[*]}"
for r in $(seq "$repeats"); do
  for pair in "www_tap nginx_veth" "www_socket nginx_lo"; do
    read -r a b <<<"$pair"
    ((r % 2 == 0)) && read -r b a <<<"$pair"
    for name in $a $b; do
      start_server "$name"
      for c in "${conn_counts[@]}"; do measure "$name" "$c"; done
      stop
    done
  done
done

# 100 MB downloads (www from disk with --root, nginx from the same directory).
download() {  # download NAME: prints MB/s, checks the size
  local url got
  url=$(eval echo "\$URL_$1")
  got=$(ip netns exec "$NS_C" timeout 120 curl -sS -o /dev/null -w '%{size_download} %{speed_download}' "$url/large.bin")
  [ "${got% *}" = 100000000 ] || { echo "bench/http.sh: $1: short download ($got)"; exit 1; }
  awk -v s="${got#* }" 'BEGIN { printf "%.0f", s / 1e6 }'
}
declare -A mbps best_mbps
for name in www_tap nginx_veth www_socket nginx_lo; do
  case $name in www_*) start_server "$name" --root "$work/files" ;; *) start_server "$name" ;; esac
  speeds=()
  for _ in $(seq 9); do speeds+=("$(download "$name")"); done
  mbps[$name]=$(printf '%s\n' "${speeds[@]}" | sort -n | sed -n 5p)
  best_mbps[$name]=$(printf '%s\n' "${speeds[@]}" | sort -n | tail -1)
  echo "  $name: 100 MB download at ${mbps[$name]} MB/s (median of 9; ${speeds[*]})"
  stop
done

# The report: medians per (server, connections).
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { awk -v n="$1" -v c="$2" -v f="$3" '$1 == n && $2 == c { print $f }' "$work/runs.txt" | median; }
{
  echo "# HTTP: www against nginx"
  echo
  echo "$(date -u +%Y-%m-%d) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"
  echo "wrk 1 thread, ${duration} s per run, median of $repeats run(s), GET /index.html (697 bytes), keep-alive."
  echo "nginx $(nginx -v 2>&1 | cut -d/ -f2): 1 worker, access log off, sendfile. cpu = server CPU time / wall time."
  echo "The load generator shares the two cores with the server; req/cpu-s = requests per server CPU-second."
  echo "CPUs: ${pin:-not pinned}${pin:+ (--pin: servers on CPU 0, wrk on CPU ${CLIENT_PIN[2]})}."
  echo "$(steering_text)."
  echo
  for pair in "www_tap nginx_veth uni's stack over TAP|Linux over veth" "www_socket nginx_lo host sockets, loopback|loopback"; do
    read -r a b rest <<<"$pair"
    echo "## $a (${rest%|*}) against $b (${rest#*|})"
    echo
    echo "| conns | www req/s | nginx req/s | www / nginx | www avg / p99 ms | nginx avg / p99 ms | www cpu | nginx cpu | www req/cpu-s | nginx req/cpu-s | per-CPU ratio |"
    echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for c in "${conn_counts[@]}"; do
      ra=$(field "$a" "$c" 3) rb=$(field "$b" "$c" 3)
      la=$(field "$a" "$c" 4) pa=$(field "$a" "$c" 5) lb=$(field "$b" "$c" 4) pb=$(field "$b" "$c" 5)
      ca=$(field "$a" "$c" 6) cb=$(field "$b" "$c" 6)
      awk -v c="$c" -v ra="$ra" -v rb="$rb" -v la="$la" -v pa="$pa" -v lb="$lb" -v pb="$pb" -v ca="$ca" -v cb="$cb" 'BEGIN {
        ea = ca > 0 ? ra / ca : 0; eb = cb > 0 ? rb / cb : 0
        printf "| %d | %.0f | %.0f | %.2f | %.3f / %.3f | %.3f / %.3f | %.2f | %.2f | %.0f | %.0f | %.2f |\n",
          c, ra, rb, ra / rb, la, pa, lb, pb, ca, cb, ea, eb, (eb > 0 ? ea / eb : 0) }'
    done
    echo
  done
  echo "## 100 MB download (curl, median of 9, from disk)"
  echo
  echo "| path | www MB/s | nginx MB/s | ratio | www best | nginx best | ratio of bests |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  row() {  # row TEXT WWW NGINX
    awk -v t="$1" -v a="${mbps[$2]}" -v b="${mbps[$3]}" -v ba="${best_mbps[$2]}" -v bb="${best_mbps[$3]}" \
      'BEGIN { printf "| %s | %d | %d | %.2f | %d | %d | %.2f |\n", t, a, b, a / b, ba, bb, ba / bb }'
  }
  row "TAP (uni) vs veth (Linux)" www_tap nginx_veth
  row "loopback, both on Linux TCP" www_socket nginx_lo
  echo
  echo "## Binary size (stripped)"
  echo
  for f in www-socket www-tap; do
    s=$(strip -o "$work/$f.stripped" "$build/examples/$f" && stat -c %s "$work/$f.stripped")
    echo "- $f: $s bytes (Linux executable; shared libraries not counted)"
  done
  xen=$(ls "$root"/build/*/examples/www-xen 2>/dev/null | head -1 || true)
  [ -n "$xen" ] && echo "- www-xen: $(stat -c %s "$xen") bytes (the whole Xen guest kernel; the paper's static-site appliance: 172 KB)"
  echo
  echo "Every run (server, connections, req/s, average ms, p99 ms, cpu, host steal in CPU-s/s, CPU pauses of"
  echo "20 ms or more and the worst in ms: a p99 near the worst pause is the machine standing still, not the server):"
  echo
  echo '```'
  cat "$work/runs.txt"
  echo '```'
} >"$out/http.md"
echo "bench/http.sh: wrote $out/http.md"
cat "$out/http.md"
