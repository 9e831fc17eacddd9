#!/usr/bin/env bash
# The archive host of seed 001 (`dr-storage`): sshd, and rsync for the nodes' archive_command
# (`rsync -a %p postgres@dr-storage:/archives/%f`). WAL segments land in /archives, the base
# backup in /backups. Its host keys are made when it starts (one set per run); drdrill reads
# the public one for the nodes' known_hosts and puts the run's client key in
# ~postgres/.ssh/authorized_keys.
set -euo pipefail
ssh-keygen -A >/dev/null
mkdir -p /run/sshd /archives /backups /var/lib/postgresql/.ssh
chown postgres:postgres /archives /backups /var/lib/postgresql /var/lib/postgresql/.ssh
chmod 700 /var/lib/postgresql/.ssh
echo "drdrill: archive host up: /archives, /backups"
exec /usr/sbin/sshd -D -e -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o UseDNS=no
