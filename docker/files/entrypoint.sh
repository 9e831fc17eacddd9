#!/usr/bin/env bash
# A node of a `files` stack. FILES_ROLE=source: nginx takes uploads, and once drdrill has
# given it the run's SSH key and the sync's command (/run/drdrill-sync) the sync mirrors
# /srv/files to the mirror. FILES_ROLE=mirror: nginx serves /srv/files read-only; sshd
# takes the source's rsync. On both, once drdrill writes /etc/keepalived/keepalived.conf
# and /run/drdrill-keepalived, keepalived runs in the foreground (files-keepalived).
# FILES_ROLE=forward: the clients' way to the VIP (port 8080 to the VIP in /etc/drdrill-vip).
# `drdrill-files promote`: a mirror made the source: uploads taken from now on; it returns
# once nginx takes them. `drdrill-files notify-master` (keepalived's notify_master): that,
# then each step drdrill put in /etc/drdrill/notify.d (another service on this server
# promoted: seed 004's one Keepalived for the whole server), in order.
# Every file in /run/drdrill-forward.d ("port host port") forwards that port of this
# server (its VIP's, while it holds it) to the service's node on it.
set -uo pipefail
access=/etc/drdrill/access.conf
say() { echo "drdrill: $*" >/proc/1/fd/1; }
if [ "${1:-}" = notify-master ]; then
  "$0" promote
  rc=$?
  for step in /etc/drdrill/notify.d/*; do
    [ -f "$step" ] && { sh "$step" || rc=1; }
  done
  exit "$rc"
fi
if [ "${1:-}" = promote ]; then
  : >"$access" && nginx -c /etc/drdrill/nginx.conf -s reload 2>/dev/null
  for _ in $(seq 1 500); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE --max-time 1 http://127.0.0.1:8080/files/drdrill-probe-absent)
    [ "$code" = 404 ] && { say "made the source (uploads taken)"; exit 0; }
    sleep 0.01
  done
  say "promote: nginx still refuses uploads after 5 s"; exit 1
fi
if [ "${FILES_ROLE:-source}" = forward ]; then
  until [ -s /etc/drdrill-vip ]; do sleep 0.1; done
  vip=$(cat /etc/drdrill-vip) port=${FORWARD_PORT:-8080}
  echo "drdrill: forwarding :$port to the VIP $vip:$port"
  exec socat "TCP-LISTEN:$port,fork,reuseaddr" "TCP:$vip:$port,connect-timeout=2"
fi
forwards() {
  local seen=" " f port host to
  while true; do
    for f in /run/drdrill-forward.d/*; do
      [ -s "$f" ] || continue
      case "$seen" in *" $f "*) continue ;; esac
      seen="$seen$f "
      read -r port host to <"$f"
      echo "drdrill: forwarding :$port to $host:$to"
      socat "TCP-LISTEN:$port,fork,reuseaddr" "TCP:$host:$to,connect-timeout=2" &
    done
    sleep 0.2
  done
}
mkdir -p /run/drdrill-forward.d /etc/drdrill/notify.d
forwards &
ssh-keygen -A >/dev/null
if [ "${FILES_ROLE:-source}" = mirror ]; then
  echo 'limit_except GET HEAD { deny all; }' >"$access"
else
  : >"$access"
fi
echo "add_header X-Drdrill-Node \"${FILES_NODE:-}\" always;" >/etc/drdrill/node.conf
/usr/sbin/sshd -D -e -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o UseDNS=no &
sshd=$!
nginx -c /etc/drdrill/nginx.conf &
web=$!
echo "drdrill: files node up (${FILES_ROLE:-source})"
if [ "${FILES_ROLE:-source}" = source ]; then
  (
    while [ ! -s /run/drdrill-sync ]; do sleep 0.1; done
    echo "drdrill: sync: $(head -c 300 /run/drdrill-sync)"
    exec bash /run/drdrill-sync
  ) &
fi
(
  while [ ! -e /run/drdrill-keepalived ]; do sleep 0.1; done
  echo "drdrill: keepalived starting"
  exec keepalived -n -l -D -f /etc/keepalived/keepalived.conf
) &
# the node lives as long as its web server and sshd (the sync may fail and retry)
wait -n "$web" "$sshd"
echo "drdrill: nginx or sshd of the files node exited"
