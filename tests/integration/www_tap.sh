#!/usr/bin/env bash
# The www appliance on uni's own stack (TAP, in a network namespace), judged by
# the same real clients as over host sockets (tests/scripts/www_checks.sh),
# running in the namespace against Linux's TCP: the embedded site, keep-alive,
# Range, If-None-Match, a chunked upload, hostile requests, a slowloris head,
# 200 concurrent connections; then a large file from disk (--root) by sha256.
#   www_tap.sh PATH_TO_www-tap SITE_DIR [LARGE_SIZE]   (head -c size; default 100M)
set -euo pipefail
source "$(dirname "$0")/netns.sh"
app=$1
SITE=$2
size=${3:-100M}
netns_setup 87
WORK=$(mktemp -d)
trap 'netns_cleanup; rm -rf "$WORK"' EXIT
source "$(dirname "$0")/../scripts/www_checks.sh"
RUN="ip netns exec $NS"
BASE="http://$APP_IP:80"

start_app "$app" --tap tap0 --ipv4 "$APP_IP/24" --header-timeout 2
www_basic_checks
www_hostile_checks 2
www_concurrency_check 200
stop_app
grep -q "rejected 5 400, 1 404, 1 405, 1 413, 1 414, 1 416, 2 431, 2 501, 1 505; timeouts 1 head" "$APP_LOG" ||
  die "the counters do not show each rejection once"
ok "counters: every rejection and the slowloris timeout counted"

head -c "$size" /dev/urandom >"$WORK/large.bin"
start_app "$app" --tap tap0 --ipv4 "$APP_IP/24" --root "$WORK"
www_large_file_check "$WORK/large.bin"
stop_app
echo "www on uni's stack over TAP: all checks passed"
