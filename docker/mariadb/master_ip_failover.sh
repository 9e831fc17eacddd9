#!/bin/bash
# MHA's master_ip_failover_script and master_ip_online_change_script: moves the VIP between
# the MariaDB containers on the drill network (ip addr over SSH, then gratuitous ARP).
# MHA calls it as: --command=status|stop|stopssh|start --orig_master_ip=.. [--new_master_ip=..]
# VIP and PREFIX come from /etc/masterha/vip.env (written by drdrill from the drill
# network's subnet). Every call is logged to stdout (the manager's log) with the time.
[ -r /etc/masterha/vip.env ] && . /etc/masterha/vip.env
VIP=${VIP:?VIP not set}
PREFIX=${PREFIX:?PREFIX not set}
DEV=eth0
SSH="ssh -o ConnectTimeout=2 -o BatchMode=yes"
cmd=; orig=; new=; user=root
for a in "$@"; do
  case "$a" in
    --command=*) cmd=${a#*=} ;;
    --orig_master_ip=*) orig=${a#*=} ;;
    --new_master_ip=*) new=${a#*=} ;;
    --ssh_user=*) user=${a#*=} ;;
  esac
done
say() { echo "drdrill-vip $(date +%H:%M:%S.%3N) $*"; }
case "$cmd" in
  status) exit 0 ;;
  stop | stopssh)
    # best effort: a killed master is unreachable (MHA then has no fencing: see the README)
    if [ -n "$orig" ] && $SSH "$user@$orig" "ip addr del $VIP/$PREFIX dev $DEV" 2>/dev/null; then
      say "VIP $VIP removed from $orig"
    else
      say "VIP $VIP not removed from $orig (unreachable or not there)"
    fi
    exit 0 ;;
  start)
    [ -z "$new" ] && { say "start without --new_master_ip"; exit 1; }
    # arping in the background: MHA makes the new master writable only after this returns
    $SSH "$user@$new" "ip addr replace $VIP/$PREFIX dev $DEV && { nohup arping -q -U -c 3 -w 3 -i $DEV -S $VIP $VIP >/dev/null 2>&1 & }"
    rc=$?
    say "VIP $VIP added on $new rc=$rc"
    exit $rc ;;
  *) say "unknown command '$cmd'"; exit 1 ;;
esac
