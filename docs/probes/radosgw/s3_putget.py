#!/usr/bin/env python3
"""Poll until an S3 PUT + GET succeeds against URL; print seconds since T0 (epoch float)."""
import sys, time, boto3, botocore
url, t0 = sys.argv[1], float(sys.argv[2])
ak = sys.argv[3] if len(sys.argv) > 3 else "TESTACCESSKEY0000001"
sk = sys.argv[4] if len(sys.argv) > 4 else "TESTSECRETKEY00000000000000000000000001"
cfg = botocore.config.Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1})
s3 = boto3.client("s3", endpoint_url=url, aws_access_key_id=ak, aws_secret_access_key=sk,
                  region_name="us-east-1", config=cfg)
last = None
while time.time() - t0 < 600:
    try:
        try:
            s3.create_bucket(Bucket="probe")
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        s3.put_object(Bucket="probe", Key="hello", Body=b"hello world")
        body = s3.get_object(Bucket="probe", Key="hello")["Body"].read()
        assert body == b"hello world", body
        print(f"first PUT+GET ok at {time.time()-t0:.1f}s after docker run")
        sys.exit(0)
    except Exception as e:
        if str(e) != last:
            print(f"  [{time.time()-t0:6.1f}s] not yet: {type(e).__name__}: {str(e)[:120]}", flush=True)
            last = str(e)
        time.sleep(0.5)
sys.exit(1)
