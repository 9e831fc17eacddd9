#!/usr/bin/env bash
# Environment:
#   DRDRILL_ROLE          primary | replica | restore (an empty node: drdrill restores a
#                         backup into $PGDATA, then creates /var/lib/postgresql/drdrill-start)
#   DRDRILL_NODE          this node's name (application_name towards the primary)
#   DRDRILL_PRIMARY_HOST  replica: host to clone from and stream from
#   DRDRILL_PRIMARY_PORT  replica: its port (default 5432; a proxy link when proxied)
#   DRDRILL_SYNC_NAMES    primary: value of synchronous_standby_names ('' = async)
#   DRDRILL_SETTINGS      extra postgresql.conf lines, one "key = value" per line
# A file $PGDATA/../drdrill-follow holding "host [port]" makes an existing data directory
# rejoin as a replica of that host (crash recovery, pg_rewind, standby.signal).
# The server runs under libfaketime, its offset read from $skew_file (at most once a second):
# `+0` is the real time, `-2.5` two and a half seconds behind (the clock_skew fault writes it).
# Monotonic clocks are left alone, and only the server is skewed, never psql or pg_ctl.
set -euo pipefail
if [ "$(id -u)" = 0 ]; then
  chown -R postgres:postgres /var/lib/postgresql /run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
node=${DRDRILL_NODE:-$(hostname)}
follow_file=/var/lib/postgresql/drdrill-follow
conninfo() { echo "host=$1 port=${2:-5432} user=postgres application_name=$node connect_timeout=2"; }

write_conf() {
  cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = '*'
wal_level = replica
max_wal_senders = 16
wal_keep_size = 1024MB
hot_standby = on
wal_log_hints = on
fsync = on
synchronous_commit = on
wal_sender_timeout = 5s
wal_receiver_timeout = 5s
wal_retrieve_retry_interval = 1s
log_line_prefix = '%m [%p] %a '
CONF
  if [ -n "${DRDRILL_SETTINGS:-}" ]; then printf '%s\n' "$DRDRILL_SETTINGS" >>"$PGDATA/postgresql.conf"; fi
  cat >"$PGDATA/pg_hba.conf" <<HBA
local all all trust
host all all 0.0.0.0/0 trust
host replication all 0.0.0.0/0 trust
HBA
}

if [ -f "$follow_file" ] && [ -s "$PGDATA/PG_VERSION" ]; then
  read -r src srcport <"$follow_file" || true
  srcport=${srcport:-5432}
  echo "drdrill: rejoining as a replica of $src"
  rm -f "$PGDATA/postmaster.pid" "$PGDATA/standby.signal"
  # pg_rewind needs a cleanly shut down target: run crash recovery in single-user mode first
  postgres --single -D "$PGDATA" -c config_file="$PGDATA/postgresql.conf" postgres </dev/null >/dev/null 2>&1 || true
  until pg_isready -q -h "$src" -p "$srcport"; do sleep 0.5; done
  # a just-promoted source records its new timeline in pg_control only at a checkpoint;
  # without one pg_rewind sees "the same timeline" and wrongly skips the rewind
  psql -qAt -h "$src" -p "$srcport" -U postgres -d postgres -c CHECKPOINT
  pg_rewind --target-pgdata="$PGDATA" --source-server="host=$src port=$srcport user=postgres dbname=postgres" --progress
  touch "$PGDATA/standby.signal"
  echo "primary_conninfo = '$(conninfo "$src" "$srcport")'" >>"$PGDATA/postgresql.auto.conf"
  rm -f "$follow_file"
elif [ ! -s "$PGDATA/PG_VERSION" ]; then
  case "${DRDRILL_ROLE:-primary}" in
    primary)
      initdb -D "$PGDATA" -U postgres --auth=trust --data-checksums >/dev/null
      write_conf
      pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" start >/dev/null
      psql -qAt -U postgres -c "CREATE DATABASE drdrill" >/dev/null
      pg_ctl -D "$PGDATA" -w -m fast stop >/dev/null
      # after the bootstrap writes, which would otherwise wait for a standby forever
      echo "synchronous_standby_names = '${DRDRILL_SYNC_NAMES:-}'" >>"$PGDATA/postgresql.conf"
      ;;
    replica)
      host=${DRDRILL_PRIMARY_HOST:?DRDRILL_PRIMARY_HOST is required for a replica}
      port=${DRDRILL_PRIMARY_PORT:-5432}
      until pg_isready -q -h "$host" -p "$port"; do sleep 0.5; done
      pg_basebackup -h "$host" -p "$port" -U postgres -D "$PGDATA" -X stream -c fast
      chmod 700 "$PGDATA"
      touch "$PGDATA/standby.signal"
      echo "primary_conninfo = '$(conninfo "$host" "$port")'" >>"$PGDATA/postgresql.auto.conf"
      # a replica never asks for synchronous standbys of its own until it is promoted
      echo "synchronous_standby_names = ''" >>"$PGDATA/postgresql.auto.conf"
      ;;
    restore)
      echo "drdrill: waiting for a restored data directory"
      until [ -f /var/lib/postgresql/drdrill-start ]; do sleep 0.05; done
      echo "drdrill: starting the restored data directory"
      ;;
    *) echo "unknown DRDRILL_ROLE ${DRDRILL_ROLE}" >&2; exit 2 ;;
  esac
fi
skew_file=/var/lib/postgresql/drdrill-skew
[ -s "$skew_file" ] || echo "+0" >"$skew_file"
export LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 FAKETIME_TIMESTAMP_FILE=$skew_file \
  FAKETIME_CACHE_DURATION=1 FAKETIME_DONT_FAKE_MONOTONIC=1
exec postgres -D "$PGDATA"
