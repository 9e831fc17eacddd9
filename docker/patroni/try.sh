#!/usr/bin/env bash
# MANUAL CHECK of the drdrill/patroni:3 image, run by hand; not part of the tests.
#   docker build -t drdrill/patroni:3 docker/patroni && docker/patroni/try.sh
# On a fresh network drdrill-try-<random> (label drdrill.try=1) it starts etcd-1..3, pg-1..3
# (Patroni) and haproxy, without --init, with fast settings (ttl 10, loop_wait 3, retry_timeout 3;
# HAProxy inter 1s fastinter 500ms fall 2 rise 1). HAProxy's 5000/5001/7000 are published on
# 127.0.0.1 only, at random free ports; nothing else is published (REST is asked via docker exec).
# It waits for a leader with 2 streaming replicas, writes through HAProxy :5000 with one psql
# connection per insert, `docker kill`s the leader and prints the time to a new leader, to the
# first insert that succeeds through HAProxy again, and the acknowledged inserts that got lost;
# then it starts the killed node again and waits until it streams from the new leader.
# Everything it created is removed on exit, whatever the outcome. The whole run holds
# /tmp/drdrill-drill.lock, the lock drdrill's timing-sensitive runs take.
# Env: DRDRILL_TRY_IMAGE (default drdrill/patroni:3).
set -euo pipefail
if [ -z "${DRDRILL_TRY_LOCKED:-}" ]; then
  exec env DRDRILL_TRY_LOCKED=1 flock /tmp/drdrill-drill.lock "$(readlink -f "$0")" "$@"
fi

image=${DRDRILL_TRY_IMAGE:-drdrill/patroni:3}
net=drdrill-try-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
etcd=etcd-1,etcd-2,etcd-3
nodes=(pg-1 pg-2 pg-3)
tmp=$(mktemp -d /tmp/drdrill-try.XXXXXX)
writer="" ok=0

now() { date +%s%3N; }
t0=$(now)
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }
log() { printf '[try %6ss] %s\n' "$(secs "$t0" "$(now)")" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$writer" ]; then kill "$writer" 2>/dev/null || true; wait "$writer" 2>/dev/null || true; fi
  local ids
  ids=$(docker ps -aq --filter "label=drdrill.try.net=$net" 2>/dev/null || true)
  if [ "$ok" != 1 ] && [ -n "$ids" ]; then
    local n
    for n in "${nodes[@]}"; do
      docker exec "$net-$n" patronictl -c /var/lib/postgresql/patroni.yml list >"$tmp/list" 2>/dev/null && break
    done
    { echo "----- patronictl list"; cat "$tmp/list"; } >&2 2>/dev/null || true
    if [ -n "${p_stats:-}" ]; then
      echo "----- HAProxy servers (proxy server status)" >&2
      curl -s -m 2 "http://127.0.0.1:$p_stats/;csv" | awk -F, '$2 !~ /^(FRONTEND|BACKEND|svname)$/ { print "    " $1, $2, $18 }' >&2 || true
    fi
    [ -s "$tmp/writes" ] && { echo "----- last writes (start-ms end-ms id result; kill at ${t_kill:-none})"; tail -5 "$tmp/writes"; } >&2
    for c in $(docker ps -a --filter "label=drdrill.try.net=$net" --format '{{.Names}}'); do
      echo "----- $c (last 15 log lines)" >&2
      docker logs --tail 15 "$c" 2>&1 | sed 's/^/    /' >&2 || true
    done
  fi
  # shellcheck disable=SC2086
  [ -z "$ids" ] || docker rm -f -v $ids >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
  rm -rf "$tmp"
  log "removed network $net and its containers"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run NAME DOCKER-OPTIONS...: one container of the image, named $net-NAME, alias and hostname NAME
run() {
  local name=$1
  shift
  docker run -d --name "$net-$name" --hostname "$name" --network "$net" --network-alias "$name" \
    --label drdrill.try=1 --label "drdrill.try.net=$net" \
    -e DRDRILL_NODE="$name" -e DRDRILL_ETCD="$etcd" -e DRDRILL_SCOPE=drdrill-try "$@" "$image" >/dev/null
}
# HTTP status of a Patroni REST path, asked inside the node's own container
rest() { docker exec "$net-$1" curl -s -o /dev/null -m 1 -w '%{http_code}' "http://localhost:8008$2" 2>/dev/null || true; }
leader() {
  local n
  for n in "$@"; do [ "$(rest "$n" /primary)" = 200 ] && { echo "$n"; return 0; }; done
  return 1
}
local_sql() { docker exec "$net-$1" psql -h /run/postgresql -U postgres -XAtq -c "$2" 2>/dev/null; }
# SQL through HAProxy (port $1 on 127.0.0.1): host psql, else the haproxy container's own
via() {
  local port=$1 sql=$2
  if command -v psql >/dev/null 2>&1; then
    timeout 6 psql "host=127.0.0.1 port=$port user=postgres dbname=postgres connect_timeout=2" -XAtq -v ON_ERROR_STOP=1 -c "$sql"
  else
    timeout 6 docker exec "$net-haproxy" psql "host=127.0.0.1 port=${inner[$port]} user=postgres dbname=postgres connect_timeout=2" \
      -XAtq -v ON_ERROR_STOP=1 -c "$sql"
  fi
}
wait_for() { # SECONDS WHAT COMMAND...: poll COMMAND every 0.2 s, give up after SECONDS
  local secs=$1 what=$2 limit=$(( $(now) + $1 * 1000 ))
  shift 2
  until "$@"; do
    [ "$(now)" -lt "$limit" ] || die "no $what within $secs s"
    sleep 0.2
  done
}

docker image inspect "$image" >/dev/null 2>&1 || die "image $image not found (docker build -t $image docker/patroni)"
docker network create --label drdrill.try=1 "$net" >/dev/null
log "network $net"
for e in ${etcd//,/ }; do run "$e" -e DRDRILL_ROLE=etcd; done
for n in "${nodes[@]}"; do
  run "$n" -e DRDRILL_ROLE=patroni -e DRDRILL_NODES="$(IFS=,; echo "${nodes[*]}")" \
    -e DRDRILL_TTL=10 -e DRDRILL_LOOP_WAIT=3 -e DRDRILL_RETRY_TIMEOUT=3 \
    -e DRDRILL_PG_SETTINGS="wal_sender_timeout = '5s'"
done
run haproxy -e DRDRILL_ROLE=haproxy -e DRDRILL_NODES="$(IFS=,; echo "${nodes[*]}")" \
  -e DRDRILL_HAPROXY_INTER=1s -e DRDRILL_HAPROXY_FASTINTER=500ms -e DRDRILL_HAPROXY_FALL=2 -e DRDRILL_HAPROXY_RISE=1 \
  -p 127.0.0.1::5000 -p 127.0.0.1::5001 -p 127.0.0.1::7000
hp() { docker port "$net-haproxy" "$1/tcp" | sed -n 's/^127\.0\.0\.1:\([0-9]*\)$/\1/p' | head -1; }
p_rw=$(hp 5000) p_ro=$(hp 5001) p_stats=$(hp 7000)
declare -A inner=([$p_rw]=5000 [$p_ro]=5001)
log "containers up; HAProxy primary 127.0.0.1:$p_rw, replicas 127.0.0.1:$p_ro, stats http://127.0.0.1:$p_stats/"

# PID 1 of each role is the service itself (the entrypoint execs it), Patroni as user postgres
for c in etcd-1 pg-1 haproxy; do
  log "  $c: PID 1 = $(docker exec "$net-$c" ps -o user=,args= -p 1 | cut -c1-70)"
done

# --- healthy cluster --------------------------------------------------------
have_leader() { L=$(leader "${nodes[@]}"); }
wait_for 120 leader have_leader
t_leader=$(now)
log "leader $L"
# named walsenders only: a replica's pg_basebackup streams WAL too, as application_name
# pg_basebackup, and its replica may then wait a loop_wait for its slot before it streams
named="'$(IFS=,; echo "${nodes[*]}" | sed "s/,/','/g")'"
streaming() { [ "$(local_sql "$L" "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND application_name IN ($named)")" = 2 ]; }
wait_for 120 "2 streaming replicas" streaming
rw_ok() { via "$p_rw" "CREATE TABLE IF NOT EXISTS try (id int PRIMARY KEY, at timestamptz DEFAULT now())" >/dev/null 2>&1; }
wait_for 60 "write through HAProxy" rw_ok
ro_ok() { [ "$(via "$p_ro" "SELECT pg_is_in_recovery()" 2>/dev/null)" = t ]; }
wait_for 60 "replica read through HAProxy" ro_ok
# the table has reached both replicas
replicated() {
  local n
  for n in "${nodes[@]}"; do
    [ "$n" = "$L" ] || [ "$(local_sql "$n" "SELECT to_regclass('try') IS NOT NULL")" = t ] || return 1
  done
}
wait_for 60 "table on both replicas" replicated
t_healthy=$(now)
log "healthy: leader $L, 2 streaming replicas, writes via :5000, replica reads via :5001 ($(secs "$t0" "$t_healthy") s from start)"
log "  settings: $(local_sql "$L" "SELECT string_agg(name || '=' || setting, ' ') FROM pg_settings WHERE name IN ('authentication_timeout','max_connections','wal_log_hints','data_checksums','wal_sender_timeout')")"

# --- writes, kill the leader ------------------------------------------------
# one psql connection per insert; each line: start-ms end-ms id ok|err
(
  i=0
  while :; do
    i=$((i + 1)) s=$(now)
    if via "$p_rw" "INSERT INTO try (id) VALUES ($i)" >/dev/null 2>&1; then r=ok; else r=err; fi
    echo "$s $(now) $i $r"
    sleep 0.05
  done
) >"$tmp/writes" 2>/dev/null &
writer=$!
sleep 3
old=$L
log "  replication just before the kill: $(local_sql "$L" "SELECT string_agg(application_name || ' ' || state || ' behind ' || pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn) || ' B', ', ') FROM pg_stat_replication")"
t_cmd=$(now)
docker kill "$net-$old" >/dev/null
# the clock starts once `docker kill` has returned: the signal is delivered by then
t_kill=$(now)
log "docker kill $old (the command took $(secs "$t_cmd" "$t_kill") s)"
survivors=()
for n in "${nodes[@]}"; do [ "$n" = "$old" ] || survivors+=("$n"); done
new_leader() { L=$(leader "${survivors[@]}"); }
wait_for 90 "new leader" new_leader
t_new=$(now)
log "new leader $L (+$(secs "$t_kill" "$t_new") s)"
# first insert that began after the kill and succeeded
first_ok() { awk -v k="$t_kill" '$1 >= k && $4 == "ok" { print $2; f = 1; exit } END { exit !f }' "$tmp/writes"; }
wait_for 90 "successful insert through HAProxy" eval 'first_ok >/dev/null'
t_ins=$(first_ok)
log "first insert through HAProxy ok (+$(secs "$t_kill" "$t_ins") s)"
sleep 4
kill "$writer"; wait "$writer" 2>/dev/null || true; writer=""
read -r acked failed last_err < <(awk -v k="$t_kill" '$4 == "ok" { a++ } $4 == "err" { f++; if ($1 >= k) le = $2 } END { printf "%d %d %.0f\n", a, f, le }' "$tmp/writes")
awk '$4 == "ok" { print $3 }' "$tmp/writes" | LC_ALL=C sort >"$tmp/acked"
local_sql "$L" "SELECT id FROM try" | LC_ALL=C sort >"$tmp/present"
LC_ALL=C comm -23 "$tmp/acked" "$tmp/present" | sort -n >"$tmp/lost"
lost=$(wc -l <"$tmp/lost")
if [ "$lost" != 0 ]; then
  # when were the lost rows acknowledged, relative to the kill (async replication: just before it)
  log "lost ids $(head -1 "$tmp/lost")..$(tail -1 "$tmp/lost"), acknowledged between $(awk -v k="$t_kill" 'NR == FNR { lost[$1] = 1; next }
    ($3 in lost) { t = ($2 - k) / 1000; if (min == "" || t < min) min = t; if (max == "" || t > max) max = t }
    END { printf "%+.2f s and %+.2f s", min, max }' "$tmp/lost" "$tmp/writes") relative to the kill"
fi
if [ "$last_err" = 0 ]; then last_err=none; else last_err="$(secs "$t_kill" "$last_err") s"; fi
log "writes: $acked acknowledged, $failed failed, acknowledged but missing: $lost; last failure: $last_err after the kill"

# --- the killed node comes back --------------------------------------------
t_start=$(now)
docker start "$net-$old" >/dev/null
back() { streaming &&
  [ "$(local_sql "$L" "SELECT count(*) FROM pg_stat_replication WHERE application_name = '$old' AND state = 'streaming'")" = 1 ]; }
wait_for 120 "$old streaming again" back
log "$old rejoined as a replica of $L, streaming (+$(secs "$t_start" "$(now)") s after docker start)"
replicas_up() { [ "$(curl -s -m 2 "http://127.0.0.1:$p_stats/;csv" |
  awk -F, '$1 == "replicas" && $2 != "FRONTEND" && $2 != "BACKEND" && $18 == "UP" { n++ } END { print n + 0 }')" = 2 ]; }
wait_for 30 "HAProxy replicas backend with 2 servers UP" replicas_up
log "HAProxy :5001 has both replicas UP again (the restarted node's address re-resolved)"

cat <<EOF

drdrill/patroni try ($image; ttl 10, loop_wait 3, retry_timeout 3; HAProxy inter 1s fastinter 500ms fall 2 rise 1)
  start -> healthy (leader, 2 streaming, rw + ro via HAProxy) : $(secs "$t0" "$t_healthy") s   (first leader at $(secs "$t0" "$t_leader") s)
  kill leader -> new leader (REST /primary 200)                : $(secs "$t_kill" "$t_new") s
  kill leader -> first insert ok through HAProxy :5000         : $(secs "$t_kill" "$t_ins") s
  kill leader -> last failed insert                            : $last_err
  acknowledged inserts lost                                    : $lost of $acked
EOF
ok=1
