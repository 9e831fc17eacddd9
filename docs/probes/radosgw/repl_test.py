#!/usr/bin/env python3
"""PUT objects on zone A, time until each is GET-able on zone B; then DELETE on A, time until 404 on B."""
import sys, time, statistics, boto3, botocore
A, B = sys.argv[1], sys.argv[2]
N = int(sys.argv[3]) if len(sys.argv) > 3 else 20
bucket = sys.argv[4] if len(sys.argv) > 4 else "repl"
AK, SK = "TESTACCESSKEY0000001", "TESTSECRETKEY00000000000000000000000001"
cfg = botocore.config.Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1})
mk = lambda u: boto3.client("s3", endpoint_url=u, aws_access_key_id=AK, aws_secret_access_key=SK,
                            region_name="us-east-1", config=cfg)
a, b = mk(A), mk(B)
POLL, TIMEOUT = 0.1, 300

def wait(fn, what):
    t = time.time()
    while time.time() - t < TIMEOUT:
        try:
            if fn():
                return time.time() - t
        except Exception:
            pass
        time.sleep(POLL)
    print(f"TIMEOUT waiting for {what}"); return None

t = time.time()
a.create_bucket(Bucket=bucket)
lag = wait(lambda: b.head_bucket(Bucket=bucket) or True, "bucket on B")
print(f"bucket '{bucket}' created on A, visible on B after {lag:.2f}s" if lag is not None else "bucket never visible")

lags = []
for i in range(N):
    key, body = f"obj-{i:03d}", f"payload {i} {time.time()}".encode()
    a.put_object(Bucket=bucket, Key=key, Body=body)
    l = wait(lambda: b.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key)
    print(f"  {key}: GET-able on B after {l:.2f}s" if l is not None else f"  {key}: not replicated", flush=True)
    if l is not None: lags.append(l)
if lags:
    s = sorted(lags)
    print(f"PUT replication lag over {len(lags)}/{N}: p50={statistics.median(s):.2f}s max={s[-1]:.2f}s min={s[0]:.2f}s mean={statistics.mean(s):.2f}s")

dl = []
for i in range(min(5, N)):
    key = f"obj-{i:03d}"
    a.delete_object(Bucket=bucket, Key=key)
    def gone():
        try:
            b.head_object(Bucket=bucket, Key=key); return False
        except botocore.exceptions.ClientError as e:
            return e.response["Error"]["Code"] in ("404", "NoSuchKey")
    l = wait(gone, "delete " + key)
    print(f"  DELETE {key}: gone on B after {l:.2f}s" if l is not None else f"  DELETE {key}: still on B after {TIMEOUT}s", flush=True)
    if l is not None: dl.append(l)
if dl:
    print(f"DELETE propagation over {len(dl)}/5: p50={statistics.median(dl):.2f}s max={max(dl):.2f}s")
