# tests/integration/nsd.sh: sourced by scripts that run NSD (Debian's nsd) as a
# real DNS peer: a configuration that keeps everything in one scratch folder,
# needs no user switch, chroot or control socket, and serves one zone.
#   nsd_conf DIR ADDRESS PORT ZONE ZONEFILE [SERVER_OPTION...] >DIR/nsd.conf
#   nsd -d -c DIR/nsd.conf
# ZONEFILE is relative to DIR; each SERVER_OPTION is one more "name: value" line.
nsd_conf() {
  local dir=$1 address=$2 port=$3 zone=$4 zonefile=$5
  shift 5
  cat <<CONF
server:
  ip-address: $address
  port: $port
  username: ""
  chroot: ""
  zonesdir: "$dir"
  pidfile: "$dir/nsd.pid"
  database: ""
  zonelistfile: "$dir/zone.list"
  xfrdfile: "$dir/xfrd.state"
  xfrdir: "$dir"
  logfile: "$dir/nsd.log"
  server-count: 1
$(for o in "$@"; do echo "  $o"; done)
remote-control:
  control-enable: no
zone:
  name: $zone
  zonefile: $zonefile
CONF
}
