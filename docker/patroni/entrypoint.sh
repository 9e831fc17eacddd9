#!/usr/bin/env bash
# One entrypoint for the three roles of a Patroni stack.
# Environment (set by drdrill's patroni driver, src/stack/patroni.rs):
#   DRDRILL_ROLE        etcd | patroni | haproxy
#   DRDRILL_NODE        this container's name on the drill network (also its DNS alias)
#   DRDRILL_ETCD        etcd member names, comma-separated (etcd-1,etcd-2,etcd-3)
#   DRDRILL_SCOPE       Patroni scope (default drdrill)
#   DRDRILL_NODES       patroni / haproxy: Patroni node names, comma-separated
#   patroni:  DRDRILL_TTL (30) DRDRILL_LOOP_WAIT (10) DRDRILL_RETRY_TIMEOUT (10)
#             DRDRILL_MAX_LAG (1048576) DRDRILL_SYNC_MODE (false) DRDRILL_USE_PG_REWIND (true)
#             DRDRILL_USE_SLOTS (true) DRDRILL_PG_SETTINGS (postgresql parameters, one
#             "key = value" per line, into bootstrap.dcs; on top of authentication_timeout = 2s
#             and max_connections = 300)
#   haproxy:  DRDRILL_HAPROXY_INTER (3000ms) DRDRILL_HAPROXY_FASTINTER (= inter)
#             DRDRILL_HAPROXY_FALL (3) DRDRILL_HAPROXY_RISE (2)
#             DRDRILL_HAPROXY_SHUTDOWN_SESSIONS (true)
# Ports: etcd 2379 (clients) 2380 (peers); Patroni REST 8008, PostgreSQL 5432; HAProxy 5000
# (primary, OPTIONS /primary) and 5001 (replicas, OPTIONS /replica), stats on 7000.
set -euo pipefail
node=${DRDRILL_NODE:-$(hostname)}
scope=${DRDRILL_SCOPE:-drdrill}
IFS=, read -r -a etcd <<<"${DRDRILL_ETCD:-etcd-1}"
IFS=, read -r -a nodes <<<"${DRDRILL_NODES:-}"

run_etcd() {
  local cluster="" m
  for m in "${etcd[@]}"; do cluster+="${cluster:+,}$m=http://$m:2380"; done
  # the peers' names resolve once their containers exist: wait for them, briefly
  for m in "${etcd[@]}"; do
    for _ in $(seq 1 50); do getent hosts "$m" >/dev/null && break; sleep 0.1; done
  done
  exec etcd --name "$node" --data-dir /var/lib/etcd \
    --listen-client-urls http://0.0.0.0:2379 --advertise-client-urls "http://$node:2379" \
    --listen-peer-urls http://0.0.0.0:2380 --initial-advertise-peer-urls "http://$node:2380" \
    --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token "$scope" \
    --heartbeat-interval 100 --election-timeout 1000
}

run_haproxy() {
  local inter=${DRDRILL_HAPROXY_INTER:-3000ms} fast=${DRDRILL_HAPROXY_FASTINTER:-${DRDRILL_HAPROXY_INTER:-3000ms}}
  local fall=${DRDRILL_HAPROXY_FALL:-3} rise=${DRDRILL_HAPROXY_RISE:-2} down="" n
  [ "${DRDRILL_HAPROXY_SHUTDOWN_SESSIONS:-true}" = true ] && down="on-marked-down shutdown-sessions"
  {
    cat <<CFG
global
    maxconn 4096
defaults
    mode tcp
    timeout connect 1s
    timeout client 30m
    timeout server 30m
    timeout check 1s
resolvers docker
    nameserver dns 127.0.0.11:53
    hold valid 1s
    hold nx 1s
    hold obsolete 1s
listen stats
    mode http
    bind *:7000
    stats enable
    stats uri /
listen primary
    bind *:5000
    option httpchk OPTIONS /primary
    http-check expect status 200
    default-server inter $inter fastinter $fast downinter $inter fall $fall rise $rise $down resolvers docker init-addr last,libc,none
CFG
    for n in "${nodes[@]}"; do echo "    server $n $n:5432 check port 8008"; done
    cat <<CFG
listen replicas
    bind *:5001
    balance roundrobin
    option httpchk OPTIONS /replica
    http-check expect status 200
    default-server inter $inter fastinter $fast downinter $inter fall $fall rise $rise $down resolvers docker init-addr last,libc,none
CFG
    for n in "${nodes[@]}"; do echo "    server $n $n:5432 check port 8008"; done
  } >/etc/haproxy/haproxy.cfg
  exec haproxy -W -db -f /etc/haproxy/haproxy.cfg
}

run_patroni() {
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres:postgres /var/lib/postgresql /run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
  fi
  local hosts="" m conf=/var/lib/postgresql/patroni.yml
  for m in "${etcd[@]}"; do hosts+="${hosts:+, }$m:2379"; done
  # DRDRILL_PG_SETTINGS after drdrill's PostgreSQL defaults (a client that never sends its startup
  # packet holds a connection slot for authentication_timeout); the last line for a key wins.
  # 'quoted' values keep their '' escapes, which YAML's single-quoted scalars share.
  local params
  params=$(printf '%s\n' "authentication_timeout = 2s" "max_connections = 300" "${DRDRILL_PG_SETTINGS:-}" | awk '
    BEGIN { q = "\047" }
    /^[[:space:]]*(#|$)/ { next }
    !/^[[:space:]]*[A-Za-z0-9_.]+[[:space:]]*=/ { print "drdrill: ignored setting: " $0 > "/dev/stderr"; next }
    {
      eq = index($0, "="); k = substr($0, 1, eq - 1); gsub(/[[:space:]]/, "", k)
      v = substr($0, eq + 1); sub(/^[[:space:]]+/, "", v); sub(/[[:space:]]+$/, "", v)
      if (length(v) >= 2 && substr(v, 1, 1) == q && substr(v, length(v), 1) == q) v = substr(v, 2, length(v) - 2)
      else gsub(q, q q, v)
      if (!(k in val)) order[++n] = k
      val[k] = v
    }
    END { for (i = 1; i <= n; i++) printf "        %s: %s%s%s\n", order[i], q, val[order[i]], q }')
  cat >"$conf" <<YML
scope: $scope
name: $node
restapi:
  listen: 0.0.0.0:8008
  connect_address: $node:8008
etcd3:
  hosts: [$hosts]
bootstrap:
  dcs:
    ttl: ${DRDRILL_TTL:-30}
    loop_wait: ${DRDRILL_LOOP_WAIT:-10}
    retry_timeout: ${DRDRILL_RETRY_TIMEOUT:-10}
    maximum_lag_on_failover: ${DRDRILL_MAX_LAG:-1048576}
    synchronous_mode: ${DRDRILL_SYNC_MODE:-false}
    postgresql:
      use_pg_rewind: ${DRDRILL_USE_PG_REWIND:-true}
      use_slots: ${DRDRILL_USE_SLOTS:-true}
      parameters:
        wal_level: replica
        hot_standby: 'on'
        wal_log_hints: 'on'
        max_wal_senders: 16
        max_replication_slots: 16
        wal_keep_size: 1024MB
$params
  initdb:
    - encoding: UTF8
    - data-checksums
  pg_hba:
    - local all all trust
    - host all all 0.0.0.0/0 trust
    - host replication all 0.0.0.0/0 trust
postgresql:
  listen: 0.0.0.0:5432
  connect_address: $node:5432
  data_dir: /var/lib/postgresql/data
  bin_dir: /usr/lib/postgresql/15/bin
  pgpass: /var/lib/postgresql/.pgpass
  # a replica's base backup must not wait for the leader's next spread checkpoint
  basebackup:
    - checkpoint: fast
  authentication:
    superuser: {username: postgres, password: drdrill}
    replication: {username: postgres, password: drdrill}
    rewind: {username: postgres, password: drdrill}
  pg_hba:
    - local all all trust
    - host all all 0.0.0.0/0 trust
    - host replication all 0.0.0.0/0 trust
  parameters:
    unix_socket_directories: /run/postgresql
watchdog:
  mode: off
tags:
  nofailover: false
  noloadbalance: false
YML
  exec patroni "$conf"
}

case "${DRDRILL_ROLE:-}" in
  etcd) run_etcd ;;
  haproxy) run_haproxy ;;
  patroni) run_patroni "$@" ;;
  *) echo "DRDRILL_ROLE must be etcd, patroni or haproxy" >&2; exit 2 ;;
esac
