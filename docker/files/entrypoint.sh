#!/usr/bin/env bash
# A node of a `files` stack. FILES_ROLE=source: nginx takes uploads, and once drdrill has
# given it the run's SSH key (/root/.ssh/id_ed25519, then /run/drdrill-sync: the sync's
# command) the sync mirrors /srv/files to the mirror. FILES_ROLE=mirror: nginx serves
# /srv/files read-only; sshd takes the source's rsync.
# `drdrill-files promote`: a mirror made the source (uploads taken from now on).
set -uo pipefail
access=/etc/drdrill/access.conf
if [ "${1:-}" = promote ]; then
  : >"$access" && nginx -c /etc/drdrill/nginx.conf -s reload && echo "drdrill: made the source"
  exit
fi
ssh-keygen -A >/dev/null
if [ "${FILES_ROLE:-source}" = mirror ]; then
  echo 'limit_except GET HEAD { deny all; }' >"$access"
else
  : >"$access"
fi
/usr/sbin/sshd -D -e -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o UseDNS=no &
sshd=$!
nginx -c /etc/drdrill/nginx.conf &
web=$!
echo "drdrill: files node up (${FILES_ROLE:-source})"
if [ "${FILES_ROLE:-source}" = source ]; then
  while [ ! -s /run/drdrill-sync ]; do sleep 0.1; done
  echo "drdrill: sync: $(head -c 300 /run/drdrill-sync)"
  bash /run/drdrill-sync &
fi
# the node lives as long as its web server and sshd (the sync may fail and retry)
wait -n "$web" "$sshd"
echo "drdrill: nginx or sshd of the files node exited"
