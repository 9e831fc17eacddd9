#!/bin/sh
# drdrill/redis:7 entrypoint: redis-server with the driver's arguments.
#   DRDRILL_ROLE=restore  a fresh node in a lost primary's place: it waits until drdrill
#                         creates /run/drdrill-start, then starts on the files it finds
#                         (the primary's AOF / RDB on the drill's surviving volume).
if [ "${DRDRILL_ROLE:-}" = restore ]; then
  echo "drdrill: waiting to start on the surviving files"
  until [ -f /run/drdrill-start ]; do sleep 0.01; done
  echo "drdrill: starting on the surviving files"
fi
exec redis-server --protected-mode no --dir /data --bind 0.0.0.0 "$@"
