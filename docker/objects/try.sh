#!/usr/bin/env bash
# MANUAL CHECK of the drdrill/objects:1 image, run by hand; not part of the tests.
#   docker build --network host -t drdrill/objects:1 docker/objects && docker/objects/try.sh
# On the network drdrill-objects-try (label objectstry=1) it starts objtry-a (ROLE=master,
# zone a) and objtry-b (ROLE=secondary, zone b), port 8080 of each published on 127.0.0.1
# only, and times both ready (`drdrill-objects ready`), RUNS times (default 3; the last pair
# stays up; on the earlier pairs a is killed and b promoted at once). Then, with SigV4-signed requests (curl --aws-sigv4) from the host: 20 objects PUT
# on a, each timed until GET-able on b; 5 DELETEs on a timed until 404 on b; a PUT on b while a
# lives (replicated back to a?); `docker kill objtry-a`; a PUT and a bucket creation on b with
# the master dead; `drdrill-objects promote` on b, timed; then PUT, GET and a bucket creation
# on b. Prints the figures (image size, idle memory, ready times, lag p50/max, promote).
# Everything it created is removed on exit, whatever the outcome. The whole run holds
# /tmp/drdrill-drill.lock, the lock drdrill's timing-sensitive runs take.
# Env: DRDRILL_TRY_IMAGE (default drdrill/objects:1), RUNS (default 3), OBJECTS (default 20).
set -euo pipefail
if [ -z "${DRDRILL_TRY_LOCKED:-}" ]; then
  exec env DRDRILL_TRY_LOCKED=1 flock /tmp/drdrill-drill.lock "$(readlink -f "$0")" "$@"
fi

image=${DRDRILL_TRY_IMAGE:-drdrill/objects:1}
runs=${RUNS:-3}
objects=${OBJECTS:-20}
net=drdrill-objects-try
label=objectstry=1
a=objtry-a b=objtry-b
bucket=drdrill
ak=DRDRILLACCESSKEY0001 sk=drdrillsecretkey000000000000000000000001
tmp=$(mktemp -d /tmp/drdrill-objects-try.XXXXXX)
ok=0

now() { date +%s%3N; }
t0=$(now)
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1000 }'; }
log() { printf '[try %7ss] %s\n' "$(secs "$t0" "$(now)")" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
figures=()
figure() { figures+=("$*"); log "FIGURE $*"; }

remove_ours() {
  local ids
  ids=$(docker ps -aq --filter "label=$label" 2>/dev/null || true)
  # shellcheck disable=SC2086
  [ -z "$ids" ] || docker rm -f -v $ids >/dev/null 2>&1 || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$ok" != 1 ]; then
    for c in $(docker ps -a --filter "label=$label" --format '{{.Names}}'); do
      echo "----- $c (last 25 log lines)" >&2
      docker logs --tail 25 "$c" 2>&1 | sed 's/^/    /' >&2 || true
    done
  fi
  remove_ours
  docker network rm "$net" >/dev/null 2>&1 || true
  rm -rf "$tmp"
  log "removed $a, $b and the network $net"
  exit "$rc"
}
trap cleanup EXIT INT TERM

# s3 PORT METHOD PATH [curl args...]: a signed request to 127.0.0.1:PORT; prints the status
# (the body goes to $out, /dev/null unless set).
s3() {
  local port=$1 method=$2 path=$3; shift 3
  [ "$method" != HEAD ] || set -- --head "$@"
  curl -s -o "${out:-/dev/null}" -w '%{http_code}' --max-time 10 -X "$method" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ak:$sk" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    "$@" "http://127.0.0.1:$port/$path" || true
}
# get_is PORT KEY BODY: GET returns 200 and exactly BODY
get_is() {
  local code
  rm -f "$tmp/got"
  code=$(out=$tmp/got s3 "$1" GET "$bucket/$2")
  [ "$code" = 200 ] && [ "$(cat "$tmp/got")" = "$3" ]
}
gone() { [ "$(s3 "$1" HEAD "$bucket/$2")" = 404 ]; }
# lag_of CMD...: poll CMD every 50 ms for up to 120 s; print the seconds it took, or "timeout"
lag_of() {
  local s
  s=$(now)
  while ! "$@"; do
    [ $(( $(now) - s )) -lt 120000 ] || { echo timeout; return; }
    sleep 0.05
  done
  secs "$s" "$(now)"
}
# stats NAME FILE: p50 / max / min of the numbers in FILE
stats() {
  sort -n "$2" | awk -v name="$1" '{ v[NR] = $1 } END {
    if (NR == 0) { print name ": none"; exit }
    p50 = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%s over %d: p50 %.2f s, max %.2f s, min %.2f s\n", name, NR, p50, v[NR], v[1] }'
}

start_pair() {
  remove_ours
  local start
  start=$(now)
  docker run -d --label "$label" --network "$net" --name "$a" --hostname "$a" -p 127.0.0.1::8080 \
    -e ROLE=master -e ZONE=a -e BUCKET="$bucket" -e S3_AK="$ak" -e S3_SK="$sk" "$image" >/dev/null
  docker run -d --label "$label" --network "$net" --name "$b" --hostname "$b" -p 127.0.0.1::8080 \
    -e ROLE=secondary -e ZONE=b -e MASTER_URL="http://$a:8080" -e BUCKET="$bucket" -e S3_AK="$ak" -e S3_SK="$sk" \
    "$image" >/dev/null
  local c t_a="" t_b=""
  while [ -z "$t_a" ] || [ -z "$t_b" ]; do
    for c in "$a" "$b"; do
      [ "$(docker inspect -f '{{.State.Running}}' "$c")" = true ] || die "$c exited"
    done
    [ -n "$t_a" ] || ! docker exec "$a" drdrill-objects ready || t_a=$(secs "$start" "$(now)")
    [ -n "$t_b" ] || ! docker exec "$b" drdrill-objects ready || t_b=$(secs "$start" "$(now)")
    [ $(( $(now) - start )) -lt 600000 ] || die "not ready after 600 s"
    sleep 0.5
  done
  pa=$(docker port "$a" 8080 | head -1 | cut -d: -f2)
  pb=$(docker port "$b" 8080 | head -1 | cut -d: -f2)
  ready_a+=("$t_a") ready_b+=("$t_b")
  log "run $1: $a ready at ${t_a}s, $b ready at ${t_b}s after the first docker run (a :$pa, b :$pb)"
}

# --- image, network, start-up --------------------------------------------------------
docker image inspect "$image" >/dev/null 2>&1 || die "no image $image (docker build --network host -t $image docker/objects)"
figure "image $image: $(docker image inspect -f '{{.Size}}' "$image" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
remove_ours
docker network rm "$net" >/dev/null 2>&1 || true
docker network create --label "$label" "$net" >/dev/null
# promote_b: `drdrill-objects promote` on b, timed into $promote_s; fails the run if it fails
promote_b() {
  local start
  start=$(now)
  docker exec "$b" drdrill-objects promote >"$tmp/promote" 2>&1 || { cat "$tmp/promote" >&2; die "promote failed"; }
  promote_s=$(secs "$start" "$(now)")
  sed 's/^/    promote: /' "$tmp/promote" >&2
}
ready_a=() ready_b=() clean=()
for run in $(seq 1 "$runs"); do
  start_pair "$run"
  [ "$run" -lt "$runs" ] || break
  # the pairs before the last: a plain failover, nothing in flight on b
  docker kill "$a" >/dev/null
  promote_b
  code=$(s3 "$pb" PUT "$bucket/run-$run" --data-binary "run $run")
  [ "$code" = 200 ] || die "PUT on b after promote: HTTP $code"
  clean+=("$promote_s")
done
figure "ready after docker run, $runs runs: a ${ready_a[*]} s; b (both ready) ${ready_b[*]} s"
[ "${#clean[@]}" = 0 ] || figure "promote, a killed, nothing in flight on b: ${clean[*]} s"
docker logs "$b" 2>&1 | grep 'drdrill:' | sed 's/^/    b: /' >&2

# --- idle memory -----------------------------------------------------------------------
log "idle 30 s, then docker stats"
sleep 30
figure "idle memory: $(docker stats --no-stream --format '{{.Name}} {{.MemUsage}} cpu {{.CPUPerc}}' "$a" "$b" | tr '\n' ';')"

# --- replication a -> b ------------------------------------------------------------------
: >"$tmp/put" && : >"$tmp/del"
for i in $(seq 1 "$objects"); do
  key=obj-$i body="payload $i $(now)"
  code=$(s3 "$pa" PUT "$bucket/$key" --data-binary "$body")
  [ "$code" = 200 ] || die "PUT $key on a: HTTP $code"
  lag=$(lag_of get_is "$pb" "$key" "$body")
  [ "$lag" != timeout ] || die "$key never GET-able on b"
  echo "$lag" >>"$tmp/put"
done
log "lags, object by object: $(tr '\n' ' ' <"$tmp/put")"
figure "$(stats "replication lag a->b (PUT on a, GET on b)" "$tmp/put")"
for i in $(seq 1 5); do
  key=obj-$i
  code=$(s3 "$pa" DELETE "$bucket/$key")
  [ "$code" = 204 ] || die "DELETE $key on a: HTTP $code"
  lag=$(lag_of gone "$pb" "$key")
  [ "$lag" != timeout ] || die "$key still on b after 120 s"
  echo "$lag" >>"$tmp/del"
done
figure "$(stats "delete lag a->b (DELETE on a, 404 on b)" "$tmp/del")"

# --- writes to zone b before promotion ------------------------------------------------------
code=$(s3 "$pb" PUT "$bucket/from-b" --data-binary "written on b")
lag=timeout
[ "$code" != 200 ] || lag=$(lag_of get_is "$pa" from-b "written on b")
figure "PUT on b while a is master and alive: HTTP $code; GET-able on a after ${lag}s"
code=$(s3 "$pb" PUT "bucket-from-b")
figure "bucket created through b while a is master and alive: HTTP $code"

# --- the master zone lost, then promotion ------------------------------------------------------
docker kill "$a" >/dev/null
log "killed $a"
t_kill=$(now)
sleep 2   # right after the kill a forwarded request fails at once (500); later it hangs
code=$(s3 "$pb" PUT "$bucket/b-after-kill" --data-binary "written on b, a dead")
figure "PUT object on b, a dead, before promote: HTTP $code"
code=$(s3 "$pb" PUT "bucket-a-dead")
figure "bucket created through b, a dead, before promote: HTTP $code ($(secs "$t_kill" "$(now)") s after the kill)"
promote_b
figure "promote, a killed, the bucket creation above still in flight in b's radosgw: $promote_s s ($(grep -q restarting "$tmp/promote" && echo "radosgw restarted" || echo "realm reloaded"))"
code=$(s3 "$pb" PUT "$bucket/after-promote" --data-binary "written on b, the master")
[ "$code" = 200 ] || die "PUT on b after promote: HTTP $code"
get_is "$pb" after-promote "written on b, the master" || die "GET on b after promote"
get_is "$pb" b-after-kill "written on b, a dead" && kept=yes || kept=no
code=$(s3 "$pb" PUT "bucket-after-promote")
figure "after promote: PUT + GET on b OK; object written on b before promote readable: $kept; bucket created through b: HTTP $code"
zombies=$(docker exec "$b" ps -eo stat,comm | awk '$1 ~ /^Z/' | wc -l)
figure "zombie processes in $b after the radosgw restart: $zombies"

ok=1
echo "===== figures" >&2
printf '  %s\n' "${figures[@]}" >&2
