#!/usr/bin/env bash
# A site of an `objects` stack: one single-node Ceph 16.2 cluster (mon, mgr, one bluestore OSD
# on a sparse 10 GiB file, radosgw on :8080) that is one zone of the RGW multisite realm.
#   drdrill-objects start    the container's command. ROLE=master: creates realm, zonegroup,
#                            zone $ZONE (the zonegroup's master), the system user, the S3 user
#                            `drdrill` and the bucket $BUCKET. ROLE=secondary: waits for the
#                            master's gateway ($MASTER_URL), pulls the realm, adds zone $ZONE,
#                            then waits until $BUCKET is visible through its own gateway
#                            (metadata synced). Ready: /run/drdrill-objects.ready, "drdrill: ready".
#   drdrill-objects ready    exit 0 only when the ready file exists and the gateway answers HTTP.
#   drdrill-objects promote  on the secondary, the master zone lost: make this zone the master
#                            (zone modify --master, period commit; radosgw reloads the realm by
#                            itself, restarted only if it does not), return once a bucket and an
#                            object can be created through it again. Works with the master dead.
# Env: ROLE ZONE MASTER_URL ENDPOINT BUCKET REALM ZONEGROUP SYS_AK SYS_SK S3_AK S3_SK START_TIMEOUT_S.
# Settings and pitfalls: docs/probes/radosgw/REPORT.md. tini is PID 1 (the image's entrypoint),
# so a radosgw restarted from `docker exec` is reaped. Every daemon runs as root, cephx on.
set -euo pipefail

ROLE=${ROLE:-master}
if [ "$ROLE" = secondary ]; then ZONE=${ZONE:-b}; else ZONE=${ZONE:-a}; fi
REALM=${REALM:-drdrill}
ZONEGROUP=${ZONEGROUP:-drdrill}
MASTER_URL=${MASTER_URL:-}
ENDPOINT=${ENDPOINT:-http://$(hostname):8080}
BUCKET=${BUCKET:-drdrill}
SYS_AK=${SYS_AK:-DRDRILLSYSTEMKEY0001}
SYS_SK=${SYS_SK:-drdrillsystemsecret00000000000000000001}
S3_AK=${S3_AK:-DRDRILLACCESSKEY0001}
S3_SK=${S3_SK:-drdrillsecretkey000000000000000000000001}
START_TIMEOUT_S=${START_TIMEOUT_S:-600}

PORT=8080
S3_USER=drdrill
SYNC_USER=drdrill-sync
READY_FILE=/run/drdrill-objects.ready
HOST=$(hostname -s)
RGW_NAME=client.rgw.$HOST

# --- logging ---------------------------------------------------------------
t0=$(date +%s%N)
# "[  12.34s] drdrill: message", seconds since this command started; promote (run with
# `docker exec`) also writes to the container's log (PID 1's stdout).
to_container_log=0
log() {
  local d=$(( ($(date +%s%N) - t0) / 10000000 ))
  local line
  line=$(printf '[%4d.%02ds] drdrill: %s' $((d / 100)) $((d % 100)) "$*")
  note "$line"
}
note() {
  echo "$*"
  if [ "$to_container_log" = 1 ]; then echo "$*" >/proc/1/fd/1 2>/dev/null || true; fi
}
die() { log "FAILED: $*"; exit 1; }

# wait_for SECONDS CMD...: run CMD every 0.2 s until it succeeds; status 1 after SECONDS.
wait_for() {
  local end=$(( $(date +%s%N) / 1000000 + $1 * 1000 )); shift
  until "$@"; do
    [ $(( $(date +%s%N) / 1000000 )) -lt "$end" ] || return 1
    sleep 0.2
  done
}
# wait_until SECONDS WHAT CMD...: wait_for, and fail the command after SECONDS.
wait_until() {
  local limit=$1 what=$2; shift 2
  wait_for "$limit" "$@" || die "timed out after ${limit}s waiting for $what"
}

# ra ARGS...: radosgw-admin, the command logged, its output kept in $ra_out.
ra() {
  note "  + radosgw-admin $*"
  ra_out=$(timeout 120 radosgw-admin "$@" 2>&1) || { echo "$ra_out" | tail -5; die "radosgw-admin $1 $2 failed"; }
}

# --- S3 and HTTP checks (curl signs with SigV4 itself) ----------------------
# s3 METHOD PATH [curl args...]: a signed request as the S3 user to this site's gateway;
# prints the HTTP status (000 when no answer). curl 7.88 does not send x-amz-content-sha256,
# without which radosgw answers 403 SignatureDoesNotMatch: the payload goes unsigned.
s3() {
  local method=$1 path=$2; shift 2
  [ "$method" != HEAD ] || set -- --head "$@"   # -X HEAD alone would wait for a body
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X "$method" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_AK:$S3_SK" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@" \
    "http://127.0.0.1:$PORT/$path" || true
}
gateway_answers() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/" || true)
  [ "$code" != 000 ]
}
url_answers() { curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; }
bucket_visible() { [ "$(s3 HEAD "$BUCKET")" = 200 ]; }
bucket_created() {
  local code
  code=$(s3 PUT "$BUCKET")
  [ "$code" = 200 ] || [ "$code" = 409 ] && bucket_visible
}

# --- the cluster -------------------------------------------------------------
write_conf() {
  local ip=$1 fsid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  mkdir -p /etc/ceph /var/lib/ceph/{mon,mgr,osd,radosgw,bootstrap-osd} /var/log/ceph /var/run/ceph
  # one host, one OSD: pools of size 1, 8 PGs each (radosgw makes 7-8 pools), no autoscaler
  cat >/etc/ceph/ceph.conf <<EOF
[global]
fsid = $fsid
mon initial members = $HOST
mon host = $ip
public network = $ip/32
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
mon max pg per osd = 1000
log to stderr = false
err to stderr = false
log file = /var/log/ceph/\$cluster-\$name.log

[mon]
mon data avail warn = 5
mon data avail crit = 1

[osd]
osd objectstore = bluestore
bluestore block create = true
bluestore block size = 10737418240
bluestore block db create = false
bluestore block wal create = false
osd memory target = 939524096
bluestore cache autotune = false
bluestore cache size = 134217728

[mgr]
mgr initial modules = iostat

[$RGW_NAME]
rgw frontends = beast port=$PORT
rgw dns name = $HOST
log file = /var/log/ceph/radosgw.log
rgw realm = $REALM
rgw zonegroup = $ZONEGROUP
rgw zone = $ZONE
# a sync shard's lease left by a stopped radosgw blocks its successor until it expires:
# 120 s by default (catch-up after a restart 92 s), 20 s here (16 s)
rgw sync lease period = 20
EOF
}

mon_answers() { ceph -s --connect-timeout 2 >/dev/null 2>&1; }
start_mon() {
  local ip=$1
  ceph-authtool --create-keyring /tmp/ceph.mon.keyring --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring /etc/ceph/ceph.client.admin.keyring --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool /tmp/ceph.mon.keyring --import-keyring /etc/ceph/ceph.client.admin.keyring >/dev/null
  monmaptool --create --addv "$HOST" "[v2:$ip:3300,v1:$ip:6789]" --fsid "$(awk '/^fsid/ {print $3}' /etc/ceph/ceph.conf)" /tmp/monmap >/dev/null
  ceph-mon --mkfs -i "$HOST" --monmap /tmp/monmap --keyring /tmp/ceph.mon.keyring
  ceph-mon -f -i "$HOST" &
  mon_pid=$!
  wait_until 60 "the monitor" mon_answers
  log "monitor up"
}

start_mgr() {
  mkdir -p "/var/lib/ceph/mgr/ceph-$HOST"
  ceph auth get-or-create "mgr.$HOST" mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
    >"/var/lib/ceph/mgr/ceph-$HOST/keyring"
  ceph-mgr -f -i "$HOST" &
  log "mgr started"
}

osd_up() { ceph osd dump 2>/dev/null | grep -q "^osd.$1 up"; }
start_osd() {
  local uuid id dir
  uuid=$(cat /proc/sys/kernel/random/uuid)
  id=$(ceph osd new "$uuid")
  dir=/var/lib/ceph/osd/ceph-$id
  mkdir -p "$dir"
  ceph auth get-or-create "osd.$id" mon 'allow profile osd' mgr 'allow profile osd' osd 'allow *' \
    >"$dir/keyring"
  ceph-osd -i "$id" --mkfs --osd-uuid "$uuid" >/var/log/ceph/osd-mkfs.log 2>&1 \
    || { tail -5 /var/log/ceph/osd-mkfs.log; die "ceph-osd --mkfs failed"; }
  ceph-osd -f -i "$id" &
  osd_pid=$!
  wait_until 120 "osd.$id up" osd_up "$id"
  log "osd.$id up (bluestore on a sparse file)"
}

# --- radosgw -------------------------------------------------------------------
# radosgw daemonizes: its parent is then PID 1 (tini), which reaps it when it is killed,
# whether `start` or `promote` (from docker exec) started it.
start_rgw() {
  local dir=/var/lib/ceph/radosgw/ceph-rgw.$HOST
  if [ ! -s "$dir/keyring" ]; then
    mkdir -p "$dir"
    ceph auth get-or-create "$RGW_NAME" mon 'allow rw' osd 'allow rwx' mgr 'allow rw' >"$dir/keyring"
  fi
  radosgw -n "$RGW_NAME"
  wait_until 120 "radosgw to answer on :$PORT" gateway_answers
  log "radosgw answering on :$PORT"
}

# SIGKILL, not SIGTERM: with the other zone dead, radosgw's orderly shutdown waits ~40 s on
# its sync threads' requests to that zone ("handle_sigterm" ... "final shutdown"). Its address
# is then blocklisted: the OSD drops its watches at once, else the next radosgw's first notify
# waits for the dead watcher ("Watchers [...] did not respond", 10 s a try, ~26 s in all).
kill_rgw() {
  local addrs addr
  addrs=$(rados -p "$ZONE.rgw.control" listwatchers notify.0 2>/dev/null | sed -n 's/^watcher=\([^ ]*\) .*/\1/p')
  pkill -9 -x radosgw || true
  wait_for 10 eval '! pgrep -x radosgw >/dev/null' || die "radosgw survived SIGKILL"
  for addr in $addrs; do ceph osd blocklist add "$addr" >/dev/null 2>&1 || true; done
}

# --- multisite -----------------------------------------------------------------
configure_master() {
  ra realm create --rgw-realm="$REALM" --default
  ra zonegroup create --rgw-zonegroup="$ZONEGROUP" --rgw-realm="$REALM" --endpoints="$ENDPOINT" --master --default
  ra zone create --rgw-zonegroup="$ZONEGROUP" --rgw-zone="$ZONE" --endpoints="$ENDPOINT" \
    --access-key="$SYS_AK" --secret="$SYS_SK" --master --default
  ra user create --uid="$SYNC_USER" --display-name="multisite sync" --access-key="$SYS_AK" --secret="$SYS_SK" --system
  ra period update --commit
  log "realm $REALM, zonegroup $ZONEGROUP, zone $ZONE (master) configured"
  # the S3 user is metadata: the secondary gets it by metadata sync
  ra user create --uid="$S3_USER" --display-name="drdrill" --access-key="$S3_AK" --secret="$S3_SK"
  log "S3 user $S3_USER created"
}

configure_secondary() {
  [ -n "$MASTER_URL" ] || die "ROLE=secondary needs MASTER_URL (e.g. http://objects-a:8080)"
  wait_until "$START_TIMEOUT_S" "the master's gateway $MASTER_URL" url_answers "$MASTER_URL"
  log "master gateway $MASTER_URL answers"
  ra realm pull --url="$MASTER_URL" --access-key="$SYS_AK" --secret="$SYS_SK" --rgw-realm="$REALM"
  ra realm default --rgw-realm="$REALM"
  ra zone create --rgw-zonegroup="$ZONEGROUP" --rgw-zone="$ZONE" --endpoints="$ENDPOINT" \
    --access-key="$SYS_AK" --secret="$SYS_SK" --default
  # no --url/--access-key/--secret here: with them the commit fails with "user.init failed:
  # (13) Permission denied"; without, radosgw-admin forwards it to the master with the zone's
  # system key ("Sending period to new master zone ...")
  ra period update --commit
  log "zone $ZONE (secondary) added to realm $REALM"
}

metadata_caught_up() {
  timeout 20 radosgw-admin sync status 2>/dev/null | grep -q "metadata is caught up with master"
}

start() {
  rm -f "$READY_FILE"
  local ip
  ip=$(hostname -i | awk '{print $1}')
  log "starting the $ROLE site: zone $ZONE, $HOST $ip, endpoint $ENDPOINT"
  case "$ROLE" in master | secondary) ;; *) die "ROLE must be master or secondary, got '$ROLE'" ;; esac
  write_conf "$ip"
  start_mon "$ip"
  start_mgr
  start_osd
  if [ "$ROLE" = master ]; then
    configure_master
    start_rgw
    wait_until 120 "bucket $BUCKET created" bucket_created
    log "bucket $BUCKET created (owner $S3_USER)"
  else
    configure_secondary
    start_rgw
    wait_until "$START_TIMEOUT_S" "bucket $BUCKET visible through this gateway (metadata sync)" bucket_visible
    log "bucket $BUCKET visible through this gateway"
    wait_until 120 "metadata sync caught up" metadata_caught_up
    log "metadata sync caught up with the master"
  fi
  echo "$ROLE $ZONE" >"$READY_FILE"
  log "ready"
  # the site lives as long as its monitor and its OSD
  local rc=0
  wait -n "$mon_pid" "$osd_pid" || rc=$?
  log "ceph-mon or ceph-osd exited (rc $rc)"
  exit 1
}

# --- ready -------------------------------------------------------------------------
# `radosgw-admin sync status` is left out: ~1 s a call, and it asks the master zone, so once
# the master is dead it would fail exactly when the secondary must stay ready. The secondary's
# start checks it once, before writing the ready file.
ready() {
  [ -e "$READY_FILE" ] && gateway_answers
}

# --- promote -----------------------------------------------------------------------
zone_id() { radosgw-admin zone get --rgw-zone="$ZONE" 2>/dev/null | sed -n 's/^ *"id": "\(.*\)",$/\1/p' | head -1; }
period_master() { radosgw-admin period get 2>/dev/null | sed -n 's/^ *"master_zone": "\(.*\)",$/\1/p' | head -1; }

# a bucket (metadata: only the master zone creates it) and an object in it, then both removed
master_takes_writes() {
  local check=$BUCKET-promote-check code
  code=$(s3 PUT "$check")
  [ "$code" = 200 ] || [ "$code" = 409 ] || return 1
  code=$(s3 PUT "$check/object" --data-binary promote-check)
  [ "$code" = 200 ] || return 1
  s3 DELETE "$check/object" >/dev/null
  s3 DELETE "$check" >/dev/null
}

reloads() { grep -c "rgw realm reloader: Resuming frontends" /var/log/ceph/radosgw.log || true; }
reloaded_since() { [ "$(reloads)" -gt "$1" ]; }

promote() {
  local id before
  id=$(zone_id)
  [ -n "$id" ] || die "zone $ZONE not found"
  log "promote: making zone $ZONE ($id) the master of zonegroup $ZONEGROUP"
  before=$(reloads)
  ra zone modify --rgw-zone="$ZONE" --master --default
  ra period update --commit
  [ "$(period_master)" = "$id" ] || die "period committed but its master zone is $(period_master), not zone $ZONE"
  log "period committed with zone $ZONE as master"
  # the commit notifies radosgw, whose realm reloader takes the new period in ~0.2 s, no
  # restart needed. But the reloader first waits for the requests in flight, and a bucket
  # creation forwarded to the dead master hangs for 30-40 s: after 5 s, restart radosgw
  # (~1.5 s), and likewise if it reloaded but still refuses the writes.
  if wait_for 5 reloaded_since "$before" && wait_for 15 master_takes_writes; then
    log "radosgw reloaded the realm"
  else
    log "radosgw did not reload the realm within 5 s (requests to the dead master in flight?): restarting it"
    kill_rgw
    start_rgw
    wait_until 60 "a bucket and an object created through this gateway" master_takes_writes
  fi
  log "made the master zone"
}

case "${1:-start}" in
  start) start ;;
  ready) ready ;;
  promote) to_container_log=1; promote ;;
  *) echo "usage: drdrill-objects start|ready|promote" >&2; exit 2 ;;
esac
