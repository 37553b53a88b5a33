#!/usr/bin/env bash
# The tweets appliance (examples/tweets) on uni's own stack (TAP, in a network
# namespace), judged by curl in the peer namespace against Linux's TCP: tweets
# posted for two users come back as JSON (checked by Python's parser), newest
# first with their ids; 105 tweets over one kept-alive curl leave the last 100;
# an unknown user is an empty list; bad names and an empty tweet are 400, 281
# bytes 413, DELETE 405, another path 404. The counters must agree. The store
# is a B-tree on a file given with --disk (the restart is tweets_socket.sh's);
# the appliance and its disk wait on io_uring, unless this kernel refuses it.
#   tweets_tap.sh PATH_TO_tweets-tap
set -euo pipefail
source "$(dirname "$0")/netns.sh"
app=$1
command -v curl >/dev/null || skip "curl is not installed"
netns_setup 91
WORK=$(mktemp -d)
trap 'netns_cleanup; rm -rf "$WORK"' EXIT
base="http://$APP_IP:80"

# call METHOD PATH [BODY]: prints the status; the body is in $WORK/body, the head in $WORK/head.
call() {
  local data=()
  [[ $# -ge 3 ]] && data=(--data-binary "$3" -H "Content-Type: text/plain")
  in_ns curl -s -m 5 -X "$1" "${data[@]}" -o "$WORK/body" -D "$WORK/head" -w '%{http_code}' "$base$2"
}
# expect STATUS METHOD PATH [BODY]
expect() {
  local want=$1 got
  shift
  got=$(call "$@")
  [[ $got == "$want" ]] || fail "$1 $2: $got, not $want ($(head -c 200 "$WORK/body"))"
}
# tweets USER PYTHON_CONDITION: GET the user's tweets; the condition is on `t`, the texts newest first.
tweets() {
  expect 200 GET "/users/$1/tweets"
  python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
t = [x["text"] for x in d["tweets"]]
ids = [x["id"] for x in d["tweets"]]
ok = d["user"] == sys.argv[2] and ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids) and eval(sys.argv[3])
sys.exit(0 if ok else 1)' "$WORK/body" "$1" "$2" || fail "GET /users/$1/tweets: not $2: $(head -c 300 "$WORK/body")"
}

truncate -s 16M "$WORK/disk.img"
start_app "$app" --tap tap0 --ipv4 "$APP_IP/24" --disk "$WORK/disk.img" --disk-cache --log debug
if ! grep -q "waiting on io_uring" "$APP_LOG"; then
  grep -q "io_uring not used (io_uring_setup" "$APP_LOG" || fail "it does not wait on io_uring: $(grep -m1 "io_uring" "$APP_LOG")"
  echo "note: this kernel refuses io_uring; the appliance waits on Asio's epoll"
fi
for text in "first" 'a "quoted" one' "third, with UTF-8: héllo"; do expect 201 POST /users/ann/tweets "$text"; done
grep -q '^{"id":[0-9]*}$' "$WORK/body" || fail "POST: not {\"id\":N}: $(cat "$WORK/body")"
expect 201 POST /users/bob/tweets "bob was here"
tweets ann 't == ["third, with UTF-8: héllo", "a \"quoted\" one", "first"]'
tweets bob 't == ["bob was here"]'
echo "ok: two users' tweets back as JSON, newest first, as posted"

# 105 tweets in one curl (one kept-alive connection): the last 100 stay.
for i in $(seq 0 104); do
  ((i)) && echo next
  printf 'url = "%s/users/cy/tweets"\ndata-binary = "tweet %d"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
    "$base" "$i"
done >"$WORK/many.curl"
codes=$(in_ns curl -s -m 20 -K "$WORK/many.curl" | sort | uniq -c | tr -s ' ')
[[ $codes == " 105 201" ]] || fail "105 POSTs: $codes"
tweets cy 'len(t) == 100 and t[0] == "tweet 104" and t[-1] == "tweet 5"'
tweets nobody 't == []'
echo "ok: after 105 tweets a user shows the last 100; an unknown user none"

expect 400 POST "/users/bad%20name/tweets" "x"
expect 400 GET "/users/$(printf 'n%.0s' $(seq 33))/tweets"
expect 400 POST /users/ann/tweets ""
expect 413 POST /users/ann/tweets "$(head -c 281 /dev/zero | tr '\0' x)"
expect 405 DELETE /users/ann/tweets
grep -q $'^Allow: POST, GET\r$' "$WORK/head" || fail "405: no Allow: POST, GET in $(cat "$WORK/head")"
expect 404 GET /nothing
tweets ann 'len(t) == 3'
echo "ok: 400 for bad names and an empty tweet, 413 past 280 bytes, 405, 404; nothing stored by them"
stop_app
grep -q "tweets: 3 users, 109 tweets posted" "$APP_LOG" || fail "the counters do not show 3 users and 109 tweets"
grep -q "tweets: 16 connections, 120 requests, 120 responses" "$APP_LOG" || fail "not 120 requests over 16 connections"
grep -q "rejected 3 400, 1 404, 1 405, 1 413, 0 414" "$APP_LOG" || fail "the counters do not show each rejection once"
echo "tweets on uni's stack over TAP: all checks passed"
