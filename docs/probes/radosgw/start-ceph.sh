#!/bin/bash
# Single-node Ceph (mon + mgr + 1 bluestore OSD on a sparse file) + radosgw, in one container.
# ROLE=single    : plain RGW (default zone), creates S3 user $S3_AK/$S3_SK
# ROLE=master    : realm/zonegroup/zone master ($ZONE), system user, S3 user, commits period
# ROLE=secondary : pulls realm from $MASTER_URL, creates zone $ZONE, commits period
set -euo pipefail
trap 'echo "FAILED (rc=$?) at line $LINENO: $BASH_COMMAND"; exec sleep infinity' ERR
ROLE=${ROLE:-single}
ZONE=${ZONE:-z1}
REALM=${REALM:-probe}
ZONEGROUP=${ZONEGROUP:-zg}
RGW_PORT=${RGW_PORT:-8080}
SYS_AK=${SYS_AK:-SYSTEMACCESSKEY00001}
SYS_SK=${SYS_SK:-SYSTEMSECRETKEY0000000000000000000000001}
S3_AK=${S3_AK:-TESTACCESSKEY0000001}
S3_SK=${S3_SK:-TESTSECRETKEY00000000000000000000000001}
ENDPOINT=${ENDPOINT:-http://$(hostname):$RGW_PORT}
EXTRA_CONF=${EXTRA_CONF:-}

t0=$(date +%s%N)
ts() { local d=$(( ($(date +%s%N) - t0) / 10000000 )); printf '[%d.%02ds] %s\n' $((d/100)) $((d%100)) "$*"; }

HOST=$(hostname -s)
IP=$(hostname -i | awk '{print $1}')
FSID=$(cat /proc/sys/kernel/random/uuid)
mkdir -p /etc/ceph /var/lib/ceph/{mon,mgr,osd,radosgw,bootstrap-osd} /var/log/ceph /var/run/ceph

cat > /etc/ceph/ceph.conf <<EOF
[global]
fsid = $FSID
mon initial members = $HOST
mon host = $IP
public network = $IP/32
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

[client.rgw.$HOST]
rgw frontends = beast port=$RGW_PORT
rgw dns name = $HOST
log file = /var/log/ceph/radosgw.log
$( [ "$ROLE" != single ] && echo "rgw zone = $ZONE" )
$( [ "$ROLE" != single ] && echo "rgw realm = $REALM" )
$( [ "$ROLE" != single ] && echo "rgw zonegroup = $ZONEGROUP" )
$EXTRA_CONF
EOF

ts "monitor: keys, monmap, mkfs"
ceph-authtool --create-keyring /tmp/ceph.mon.keyring --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool --create-keyring /etc/ceph/ceph.client.admin.keyring --gen-key -n client.admin \
  --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
ceph-authtool /tmp/ceph.mon.keyring --import-keyring /etc/ceph/ceph.client.admin.keyring >/dev/null
monmaptool --create --addv "$HOST" "[v2:$IP:3300,v1:$IP:6789]" --fsid "$FSID" /tmp/monmap >/dev/null
ceph-mon --mkfs -i "$HOST" --monmap /tmp/monmap --keyring /tmp/ceph.mon.keyring
ceph-mon -i "$HOST"
until ceph -s --connect-timeout 2 >/dev/null 2>&1; do sleep 0.5; done
ts "monitor up"

mkdir -p /var/lib/ceph/mgr/ceph-$HOST
ceph auth get-or-create mgr.$HOST mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
  > /var/lib/ceph/mgr/ceph-$HOST/keyring
ceph-mgr -i "$HOST"
ts "mgr started"

OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD_ID=$(ceph osd new "$OSD_UUID")
OSD_DIR=/var/lib/ceph/osd/ceph-$OSD_ID
mkdir -p "$OSD_DIR"
ceph auth get-or-create osd.$OSD_ID mon 'allow profile osd' mgr 'allow profile osd' osd 'allow *' \
  > "$OSD_DIR/keyring"
ceph-osd -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" >/var/log/ceph/osd-mkfs.log 2>&1
ts "osd.$OSD_ID mkfs done"
ceph-osd -i "$OSD_ID"
until ceph osd dump 2>/dev/null | grep -q "^osd.$OSD_ID up"; do sleep 0.5; done
ts "osd.$OSD_ID up"

RGW_DIR=/var/lib/ceph/radosgw/ceph-rgw.$HOST
mkdir -p "$RGW_DIR"
ceph auth get-or-create client.rgw.$HOST mon 'allow rw' osd 'allow rwx' mgr 'allow rw' > "$RGW_DIR/keyring"

ra() { echo "+ radosgw-admin $*" >&2; radosgw-admin "$@" >/dev/null; }

case "$ROLE" in
master)
  ra realm create --rgw-realm="$REALM" --default
  ra zonegroup create --rgw-zonegroup="$ZONEGROUP" --rgw-realm="$REALM" --endpoints="$ENDPOINT" --master --default
  ra zone create --rgw-zonegroup="$ZONEGROUP" --rgw-zone="$ZONE" --endpoints="$ENDPOINT" \
     --access-key="$SYS_AK" --secret="$SYS_SK" --master --default
  ra user create --uid=sync-user --display-name="sync user" --access-key="$SYS_AK" --secret="$SYS_SK" --system
  ra period update --commit
  ts "multisite master configured (realm $REALM, zonegroup $ZONEGROUP, zone $ZONE)"
  ;;
secondary)
  until curl -fsS -o /dev/null "$MASTER_URL"; do sleep 1; done
  ts "master endpoint $MASTER_URL reachable"
  ra realm pull --url="$MASTER_URL" --access-key="$SYS_AK" --secret="$SYS_SK" --rgw-realm="$REALM"
  ra realm default --rgw-realm="$REALM"
  ra zone create --rgw-zonegroup="$ZONEGROUP" --rgw-zone="$ZONE" --endpoints="$ENDPOINT" \
     --access-key="$SYS_AK" --secret="$SYS_SK" --default
  ra period update --commit   # NB: no --access-key/--secret here: radosgw-admin then fails with "user.init failed: (13) Permission denied"; the zone system_key is used to forward the commit to the master
  ts "multisite secondary configured (zone $ZONE)"
  ;;
esac

radosgw -n client.rgw.$HOST
until curl -fsS -o /dev/null "http://127.0.0.1:$RGW_PORT"; do sleep 0.5; done
ts "radosgw answering on :$RGW_PORT"

if [ "$ROLE" != secondary ]; then
  ra user create --uid=tester --display-name="tester" --access-key="$S3_AK" --secret="$S3_SK"
  ts "S3 user tester created"
fi
ts "READY"
exec sleep infinity
