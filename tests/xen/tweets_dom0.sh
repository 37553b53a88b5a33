# tests/xen/tweets_dom0.sh: dom0.sh's `tweets` check (sourced by it; IMAGE the
# tweets appliance, NAME tweets, `ping ADDR tweets`). The domU gets a blank disk
# (xvda through blkback) and formats its B-tree there; busybox wget posts three
# tweets over netfront and reads them back, then the domain is shut down and
# created again on the same disk: the user's tweets must read back byte for byte
# from the B-tree, and a fourth POST's id goes on after them.
# dom0's processes die at random here (segfaults at garbage addresses, whichever
# process; dom0.sh retries xl create for the same reason), so a wget killed by
# SIGSEGV, SIGBUS or SIGILL runs once more -- a POST only if its tweet did not
# land -- and says so; any other failure, a timeout included, fails the test.
# Sets app_check, the checks dom0's init runs once the appliance answers ping.
devices+=$'\n'"disk = [ 'format=raw, vdev=xvda, access=rw, target=/tmp/disk.img' ]"
truncate -s 4M "$rd/app/disk.img"
read -r -d '' app_check <<'CHECK'
  crashed() { [ $1 = 139 ] || [ $1 = 135 ] || [ $1 = 132 ]; }
  fetch() {  # FILE: the user's tweets (wget once more if it crashed)
    timeout -s KILL 10 wget -q -O $1 http://@ADDR@/users/dom0/tweets; rc=$?
    crashed $rc || return $rc
    echo "dom0: tweets: wget died (status $rc) on a GET: once more"
    timeout -s KILL 10 wget -q -O $1 http://@ADDR@/users/dom0/tweets
  }
  post() {  # TEXT: a new tweet of dom0's
    timeout -s KILL 10 wget -q -O /tmp/posted --post-data "$1" http://@ADDR@/users/dom0/tweets; rc=$?
    crashed $rc || return $rc
    echo "dom0: tweets: wget died (status $rc) on a POST: once more unless the tweet landed"
    fetch /tmp/landed || return 1
    grep -qF "\"text\":\"$1\"" /tmp/landed && return 0
    timeout -s KILL 10 wget -q -O /tmp/posted --post-data "$1" http://@ADDR@/users/dom0/tweets
  }
  want='{"user":"dom0","tweets":[{"id":3,"text":"third, the newest"},{"id":2,"text":"second"},{"id":1,"text":"first from dom0"}]}'
  for t in "first from dom0" "second" "third, the newest"; do
    post "$t" || { echo "dom0: tweets: POST of '$t' failed (status $?)"; ok=0; break; }
  done
  if [ $ok = 1 ] && fetch /tmp/tweets && [ "$(cat /tmp/tweets)" = "$want" ]; then
    echo "dom0: tweets: 3 tweets posted (each a B-tree commit over blkfront) and read back"
  else echo "dom0: tweets: the GET after 3 POSTs: $(cat /tmp/tweets 2>/dev/null)"; ok=0; fi
  if [ $ok = 1 ]; then  # a new domain on the same disk
    timeout 20 xl shutdown -w @NAME@ >/dev/null 2>&1
    grep -q "@NAME@: exit status 0" $domu || { echo "dom0: tweets: the first domain did not stop cleanly"; ok=0; }
    for i in $(seq 1 50); do xl list @NAME@ >/dev/null 2>&1 || break; sleep 0.2; done  # gone, not just stopped
    echo "dom0: ---- domU console (first domain) ----"; cat $domu; echo "dom0: ---- end ----"
    mv $domu /tmp/first-domain.log
  fi
  if [ $ok = 1 ]; then
    create_domain /app/@NAME@.cfg @NAME@ || { echo "dom0: tweets: xl create failed again"; ok=0; }
    t1=$(cut -d' ' -f1 /proc/uptime)
    up=0
    for i in $(seq 1 40); do
      ping -c 1 -W 1 @ADDR@ >/dev/null 2>&1 && { up=1; break; }
      grep -qE "panic:|exit status [1-9]" $domu 2>/dev/null && break
    done
    [ $up = 1 ] || { echo "dom0: tweets: the second domain did not answer ping"; ok=0; }
    # Its network answers ping before its store is read back and HTTP listens.
    for i in $(seq 1 50); do grep -q "http: listening" $domu 2>/dev/null && break; sleep 0.2; done
  fi
  if [ $ok = 1 ] && fetch /tmp/tweets && [ "$(cat /tmp/tweets)" = "$want" ]; then
    echo "dom0: tweets: a new domain read the 3 tweets back from the disk, $(awk -v t=$t1 '{printf "%.2f", $1 - t}' /proc/uptime) s after xl create"
  elif [ $ok = 1 ]; then echo "dom0: tweets: the GET after the restart: $(cat /tmp/tweets 2>/dev/null)"; ok=0; fi
  if [ $ok = 1 ] && post "fourth, after the restart" && fetch /tmp/tweets &&
     grep -q '^{"user":"dom0","tweets":\[{"id":4,"text":"fourth, after the restart"},{"id":3,' /tmp/tweets; then
    echo "dom0: tweets: a fourth POST after the restart got id 4"
  elif [ $ok = 1 ]; then echo "dom0: tweets: the fourth POST: $(cat /tmp/posted /tmp/tweets 2>/dev/null)"; ok=0; fi
CHECK
app_check=${app_check//@ADDR@/$ping_addr}
app_check=${app_check//@NAME@/$name}
