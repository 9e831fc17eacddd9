#!/bin/bash
# Start two single-node Ceph+RGW containers on one Docker network, zone A master, zone B secondary.
# Usage: run-multisite.sh [TAG] [extra ceph.conf lines for [client.rgw.*]]
set -euo pipefail
IMG=rgwprobe/ceph:${TAG:-1}
NET=rgwprobe-net
EXTRA=${EXTRA_CONF:-}
docker network inspect $NET >/dev/null 2>&1 || docker network create --label rgwprobe=1 $NET >/dev/null
T0=$(date +%s.%N); echo "T0=$T0"
docker run -d --label rgwprobe=1 --network $NET --name rgwprobe-a --hostname ceph-a -p 127.0.0.1::8080 \
  -e ROLE=master -e ZONE=a -e ENDPOINT=http://ceph-a:8080 -e EXTRA_CONF="$EXTRA" $IMG >/dev/null
docker run -d --label rgwprobe=1 --network $NET --name rgwprobe-b --hostname ceph-b -p 127.0.0.1::8080 \
  -e ROLE=secondary -e ZONE=b -e ENDPOINT=http://ceph-b:8080 -e MASTER_URL=http://ceph-a:8080 \
  -e EXTRA_CONF="$EXTRA" $IMG >/dev/null
PA=$(docker port rgwprobe-a 8080 | cut -d: -f2); PB=$(docker port rgwprobe-b 8080 | cut -d: -f2)
echo "A=http://127.0.0.1:$PA B=http://127.0.0.1:$PB"
for c in rgwprobe-a rgwprobe-b; do
  until docker logs $c 2>&1 | grep -q READY; do
    if [ "$(docker inspect -f '{{.State.Running}}' $c)" != true ]; then echo "$c died"; docker logs $c | tail -30; exit 1; fi
    sleep 0.5; done
  printf '%s READY at %.1fs after T0\n' $c "$(echo "$(date +%s.%N) - $T0" | bc)"
done
python3 "$(dirname "$0")/s3_putget.py" http://127.0.0.1:$PA $T0 | sed 's/^/A: /'
# first S3 PUT on A that is GET-able on B (user + bucket metadata sync + data sync)
python3 - "$PA" "$PB" "$T0" <<'PY'
import sys, time, boto3, botocore
pa, pb, t0 = sys.argv[1], sys.argv[2], float(sys.argv[3])
cfg = botocore.config.Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1})
mk = lambda p: boto3.client("s3", endpoint_url=f"http://127.0.0.1:{p}", aws_access_key_id="TESTACCESSKEY0000001",
    aws_secret_access_key="TESTSECRETKEY00000000000000000000000001", region_name="us-east-1", config=cfg)
b = mk(pb); last = None
while time.time() - t0 < 900:
    try:
        assert b.get_object(Bucket="probe", Key="hello")["Body"].read() == b"hello world"
        print(f"B: object PUT on A GET-able on B at {time.time()-t0:.1f}s after T0"); break
    except Exception as e:
        if str(e)[:60] != last: print(f"B:  [{time.time()-t0:6.1f}s] not yet: {str(e)[:110]}", flush=True); last = str(e)[:60]
        time.sleep(0.5)
PY
echo "PA=$PA PB=$PB" > ports.env
