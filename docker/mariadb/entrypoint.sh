#!/usr/bin/env bash
# Environment:
#   DRDRILL_ROLE          primary | replica: a MariaDB node; restore: an empty node that starts
#                         once drdrill has restored a backup into it and created
#                         /run/drdrill-start; binlog: streams the primary's binlog into the
#                         backup volume (from the file named in stream-from there); mha: the
#                         MHA manager; forward: the VIP forwarder (port 3306 -> the VIP
#                         written to /etc/drdrill-vip)
#   DRDRILL_NODE          this node's name (report_host)
#   DRDRILL_SERVER_ID     server_id (1, 2, ...)
#   DRDRILL_PASSWORD      password of the `drdrill` account (workload, replication, MHA)
#   DRDRILL_PRIMARY_HOST  replica: host to replicate from
#   DRDRILL_PRIMARY_PORT  replica: its port (default 3306; a proxy link when proxied)
#   DRDRILL_SEMI_SYNC     1: semi-synchronous replication (the slave side on every node,
#                         the master side on the primary; drdrill's promote turns it on)
#   DRDRILL_SETTINGS      extra my.cnf lines, one "key = value" per line (they win)
#   DRDRILL_MASTER_DELAY  replica: MASTER_DELAY in seconds (a delayed replica)
#   DRDRILL_SSH           1: run sshd (MHA reaches the nodes over SSH)
#   DRDRILL_PEERS         galera: every node's name, comma-separated (gcomm://)
#   DRDRILL_BOOTSTRAP     galera: 1 on the node that forms the cluster on its first start
#   DRDRILL_CLUSTER       galera: wsrep_cluster_name, unique per cluster on a network (a
#                         restarted node may get another cluster's old address; a node of
#                         another name is refused, so clusters never merge)
# DRDRILL_ROLE=galera runs a Galera node. On its first start the bootstrap node forms the
# cluster (--wsrep-new-cluster) and makes the drdrill account; every other node waits for a
# peer and joins it by full state transfer (rsync). A later start (after a kill) recovers
# the node's position from InnoDB (--wsrep-recover) and rejoins with it, as galera_recovery
# does: incremental state transfer when a peer's gcache still holds what it missed. A node
# restarted with /var/lib/mysql/drdrill-hold waits for the operator instead (held, below).
# A file /var/lib/mysql/drdrill-follow holding "host [port]" makes an existing node rejoin
# as a replica of that host: its data is rebuilt from a consistent dump of the new primary
# (an old async primary holds writes the new one never had; MariaDB has no pg_rewind).
set -euo pipefail
role=${DRDRILL_ROLE:-primary}
node=${DRDRILL_NODE:-$(hostname)}
pw=${DRDRILL_PASSWORD:-drdrill}
# the workload's account, as an application's: its table's rows only, so that read_only
# refuses its writes on a replica (the drdrill account, an administrator's, bypasses it)
app_account="CREATE USER IF NOT EXISTS 'drdrill_app'@'%' IDENTIFIED BY '$pw'; \
GRANT SELECT, INSERT, UPDATE, DELETE ON drdrill.* TO 'drdrill_app'@'%';"
conf=/etc/mysql/mariadb.conf.d/60-drdrill.cnf
follow_file=/var/lib/mysql/drdrill-follow
marker=/var/lib/mysql/drdrill-initialised
# primary | replica: what this node is now (drdrill's promote and rejoin rewrite it). Every
# node starts read-only (my.cnf); a primary is made writable once it is up.
role_file=/var/lib/mysql/drdrill-role

sql() { mariadb --protocol=socket -uroot -N -B -e "$1"; }

# The lines of every node's my.cnf, whatever its role.
node_conf() {
  cat <<CONF
[mariadb]
server_id = ${DRDRILL_SERVER_ID:-1}
report_host = $node
bind_address = 0.0.0.0
skip_name_resolve = 1
max_connections = 500
binlog_format = ROW
innodb_flush_log_at_trx_commit = 1
innodb_buffer_pool_size = 64M
CONF
}

# The scenario's own settings, last: they win.
user_settings() {
  if [ -n "${DRDRILL_SETTINGS:-}" ]; then printf '%s\n' "$DRDRILL_SETTINGS"; fi
}

write_conf() {
  node_conf >"$conf"
  cat >>"$conf" <<CONF
log_bin = mysql-bin
log_bin_index = mysql-bin.index
relay_log = relay-bin
relay_log_index = relay-bin.index
log_slave_updates = 1
gtid_strict_mode = 1
gtid_domain_id = 0
relay_log_purge = 0
sync_binlog = 1
read_only = 1
slave_net_timeout = 5
CONF
  if [ "${DRDRILL_SEMI_SYNC:-0}" = 1 ]; then
    # the master side only on the primary: on a replica it would make the SQL thread wait
    # for acks of the events it applies (log_slave_updates), for the whole timeout
    now=$(cat "$role_file" 2>/dev/null || echo "$role")
    [ -f "$follow_file" ] && now=replica
    master=OFF
    [ "$now" = primary ] && master=ON
    printf 'rpl_semi_sync_master_enabled = %s\nrpl_semi_sync_slave_enabled = ON\n' "$master" >>"$conf"
  fi
  user_settings >>"$conf"
}

change_master() { # host port
  echo "CHANGE MASTER TO MASTER_HOST='$1', MASTER_PORT=$2, MASTER_USER='drdrill', MASTER_PASSWORD='$pw', \
MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1${DRDRILL_MASTER_DELAY:+, MASTER_DELAY=$DRDRILL_MASTER_DELAY}"
}

wait_socket() { # pid [tenths of a second, default 300]
  for _ in $(seq 1 "${2:-300}"); do
    mariadb-admin --protocol=socket -uroot ping >/dev/null 2>&1 && return 0
    kill -0 "$1" 2>/dev/null || { echo "drdrill: mariadbd exited during start" >&2; exit 1; }
    sleep 0.1
  done
  echo "drdrill: mariadbd did not open its socket" >&2
  exit 1
}

first_boot() {
  # the account is local to each node (not binlogged): no GTID before the workload's own
  sql "SET sql_log_bin=0; CREATE USER IF NOT EXISTS 'drdrill'@'%' IDENTIFIED BY '$pw'; \
GRANT ALL PRIVILEGES ON *.* TO 'drdrill'@'%' WITH GRANT OPTION; $app_account FLUSH PRIVILEGES;"
  case "$role" in
    primary) ;;
    replica) sql "$(change_master "${DRDRILL_PRIMARY_HOST:?DRDRILL_PRIMARY_HOST is required for a replica}" "${DRDRILL_PRIMARY_PORT:-3306}"); START SLAVE" ;;
    *) echo "unknown DRDRILL_ROLE $role" >&2; exit 2 ;;
  esac
  echo "$role" >"$role_file"
  touch "$marker"
}

rejoin() {
  read -r src srcport <"$follow_file" || true
  srcport=${srcport:-3306}
  echo "drdrill: rejoining as a replica of $src:$srcport (rebuilt from its dump)"
  until mariadb-admin -h "$src" -P "$srcport" -udrdrill -p"$pw" --connect-timeout=2 ping >/dev/null 2>&1; do sleep 0.5; done
  mariadb-dump -h "$src" -P "$srcport" -udrdrill -p"$pw" --single-transaction --gtid --master-data=2 \
    --databases drdrill >/tmp/drdrill-rejoin.sql
  gtid=$(sed -n "s/^-- SET GLOBAL gtid_slave_pos='\(.*\)';/\1/p" /tmp/drdrill-rejoin.sql | head -1)
  sql "SET GLOBAL read_only = 1; STOP SLAVE; RESET SLAVE ALL; RESET MASTER; SET sql_log_bin=0; DROP DATABASE IF EXISTS drdrill"
  mariadb --protocol=socket -uroot --init-command="SET sql_log_bin=0" </tmp/drdrill-rejoin.sql
  sql "SET GLOBAL gtid_slave_pos = '$gtid'; $(change_master "$src" "$srcport"); START SLAVE"
  echo replica >"$role_file"
  rm -f "$follow_file" /tmp/drdrill-rejoin.sql
}

run_db() {
  write_conf
  if [ "${DRDRILL_SSH:-0}" = 1 ]; then ssh-keygen -A >/dev/null && /usr/sbin/sshd; fi
  extra=()
  [ -f "$follow_file" ] && extra=(--skip-slave-start)
  mariadbd --user=mysql "${extra[@]}" &
  pid=$!
  trap 'kill -TERM $pid 2>/dev/null' TERM INT
  wait_socket "$pid"
  if [ ! -f "$marker" ]; then first_boot; fi
  if [ -f "$follow_file" ]; then rejoin; fi
  if [ "$(cat "$role_file")" = primary ]; then sql "SET GLOBAL read_only = 0"; fi
  echo "drdrill: $node ready ($role)"
  wait "$pid" || true
  trap - TERM INT
  wait "$pid"
}

galera_conf() {
  node_conf >"$conf"
  cat >>"$conf" <<CONF
default_storage_engine = InnoDB
innodb_autoinc_lock_mode = 2
wsrep_on = ON
wsrep_provider = /usr/lib/galera/libgalera_smm.so
wsrep_cluster_name = ${DRDRILL_CLUSTER:-drdrill}
wsrep_cluster_address = gcomm://${DRDRILL_PEERS:?DRDRILL_PEERS is required for a galera node}
wsrep_node_name = $node
wsrep_node_address = $node
wsrep_sst_method = rsync
wsrep_provider_options = "gcache.size=64M"
CONF
  user_settings >>"$conf"
}

# Waits until a peer's group communication port answers (a joiner needs a cluster to join).
wait_peer() {
  while true; do
    for p in ${DRDRILL_PEERS//,/ }; do
      [ "$p" = "$node" ] && continue
      if (exec 3<>"/dev/tcp/$p/4567") 2>/dev/null; then echo "drdrill: $p answers, joining"; return 0; fi
    done
    sleep 0.2
  done
}

# The operator's bootstrap (failover mode bootstrap): a node started with the hold file
# does not start mariadbd. drdrill, as the operator, reads its saved position, then writes
# the go file: "bootstrap POSITION" (safe_to_bootstrap set, a new primary component formed
# from this node's data) or "join POSITION" (it joins the component another node formed).
galera_hold=/var/lib/mysql/drdrill-hold
galera_go=/var/lib/mysql/drdrill-go
held() {
  echo "drdrill: $node held: mariadbd waits for the operator"
  touch /run/drdrill-held
  until [ -s "$galera_go" ]; do sleep 0.05; done
  read -r mode pos <"$galera_go"
  rm -f "$galera_hold" "$galera_go" /run/drdrill-held
  if [ "$mode" = bootstrap ]; then
    sed -i 's/^safe_to_bootstrap:.*/safe_to_bootstrap: 1/' /var/lib/mysql/grastate.dat
    echo "drdrill: $node bootstraps a new primary component from its data (the operator's choice)"
    args=(--wsrep-new-cluster)
  fi
}

run_galera() {
  galera_conf
  started=/var/lib/drdrill-galera-started
  args=()
  if [ ! -f "$started" ]; then
    if [ "${DRDRILL_BOOTSTRAP:-0}" = 1 ]; then
      echo "drdrill: $node forms the cluster"
      args=(--wsrep-new-cluster)
    else
      wait_peer
    fi
  elif [ -f "$galera_hold" ]; then
    held
  else
    # as galera_recovery: the position InnoDB holds, so that a peer can send what is missing
    mariadbd --user=mysql --wsrep-recover --log-error=/tmp/drdrill-recover.log >/dev/null 2>&1 || true
    pos=$(sed -n 's/.*Recovered position: *\([^ ]*\).*/\1/p' /tmp/drdrill-recover.log | tail -1)
  fi
  if [ -f "$started" ]; then
    echo "drdrill: $node restarts at recovered position ${pos:-unknown}"
    [ -n "$pos" ] && args+=(--wsrep_start_position="$pos")
  fi
  mariadbd --user=mysql "${args[@]}" &
  pid=$!
  trap 'kill -TERM $pid 2>/dev/null' TERM INT
  # a joiner waits for its state transfer, a restarted node for a primary component: as
  # long as mariadbd runs
  wait_socket "$pid" 864000
  if [ ! -f "$started" ] && [ "${DRDRILL_BOOTSTRAP:-0}" = 1 ]; then
    sql "CREATE USER IF NOT EXISTS 'drdrill'@'%' IDENTIFIED BY '$pw'; GRANT ALL PRIVILEGES ON *.* TO 'drdrill'@'%' WITH GRANT OPTION; $app_account"
  fi
  touch "$started"
  echo "drdrill: $node ready (galera)"
  wait "$pid" || true
  trap - TERM INT
  wait "$pid"
}

run_mha() {
  # a key pair for this drill only, made here and handed to the nodes by drdrill
  [ -f /root/.ssh/id_ed25519 ] || ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519 -C "drdrill-$node"
  printf 'Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n  ConnectTimeout 2\n' >/root/.ssh/config
  # drdrill writes app1.cnf and vip.env, checks SSH and replication, then asks for the manager
  until [ -f /etc/masterha/start ]; do sleep 0.1; done
  echo "drdrill: starting masterha_manager"
  masterha_manager --conf=/etc/masterha/app1.cnf 2>&1 || echo "drdrill: masterha_manager exited with $?"
  exec sleep infinity
}

run_restore() {
  echo "drdrill: waiting for a restored data directory"
  until [ -f /run/drdrill-start ]; do sleep 0.01; done
  echo "drdrill: starting the restored data directory"
  run_db
}

run_binlog() {
  backup=/var/lib/drdrill-backup
  mkdir -p "$backup/binlog"
  until [ -s "$backup/stream-from" ]; do sleep 0.1; done
  read -r file <"$backup/stream-from"
  host=${DRDRILL_PRIMARY_HOST:?DRDRILL_PRIMARY_HOST is required for the binlog streamer}
  echo "drdrill: streaming the binlog of $host from $file"
  cd "$backup/binlog"
  mariadb-binlog --read-from-remote-server --raw --stop-never --stop-never-slave-server-id=9999 \
    -h "$host" -P "${DRDRILL_PRIMARY_PORT:-3306}" -udrdrill -p"$pw" --result-file="$backup/binlog/" "$file" \
    || echo "drdrill: the binlog stream ended ($?)"
  exec sleep infinity
}

run_forward() {
  until [ -s /etc/drdrill-vip ]; do sleep 0.1; done
  vip=$(cat /etc/drdrill-vip)
  echo "drdrill: forwarding :3306 to the VIP $vip:3306"
  exec socat TCP-LISTEN:3306,fork,reuseaddr "TCP:$vip:3306,connect-timeout=2"
}

case "$role" in
  primary | replica) run_db ;;
  galera) run_galera ;;
  restore) run_restore ;;
  binlog) run_binlog ;;
  mha) run_mha ;;
  forward) run_forward ;;
  *) echo "unknown DRDRILL_ROLE $role" >&2; exit 2 ;;
esac
