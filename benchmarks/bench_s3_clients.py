"""Which S3 client the remote cache tier uses: obstore vs boto3, measured against moto's S3 server on 127.0.0.1.

    python -m benchmarks.bench_s3_clients [--objects 200 --size 20000]

Per client: installed size of the client and the packages it alone brings, start-up (import + client
construction, median of 5 fresh interpreters less a bare one: every Dagster step process of a Celery worker pays it),
and sequential PUT / GET / conditional PUT (If-None-Match) of small objects like cache entries (a
render sheet is 1-50 KB). s3fs is not measured: it sits on aiobotocore, which pins botocore to a narrow
range (a conflict with boto3, which moto needs) and keeps a listing cache that can hide a concurrent
writer's objects; the remote tier needs neither async nor a filesystem view.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.scaling_services import s3_server  # noqa: E402

CLOSURE = {"obstore": ["obstore"], "boto3": ["boto3", "botocore", "s3transfer", "jmespath"]}
STARTUP = {
    "": "pass",  # the bare interpreter, subtracted
    "obstore": "from obstore.store import S3Store; S3Store('sprites-cache', client_options={'allow_http': True})",
    "boto3": "import boto3; boto3.client('s3')",
}


def installed_mb(names: list[str]) -> float:
    total = 0
    for name in names:
        for f in metadata.distribution(name).files or []:
            path = Path(str(f.locate()))
            if path.is_file():
                total += path.stat().st_size
    return total / 1e6


def startup_s(client: str, env: dict[str, str]) -> float:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", STARTUP[client]], check=True, env={**os.environ, **env})
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ops(client: str, bucket: str, n: int, size: int) -> dict[str, float]:
    payloads = [os.urandom(size) for _ in range(n)]
    out: dict[str, float] = {}
    if client == "obstore":
        import obstore
        from obstore.store import S3Store

        store = S3Store(bucket, prefix="bench-obstore", client_options={"allow_http": True})
        start = time.perf_counter()
        for i, data in enumerate(payloads):
            obstore.put(store, f"o{i}", data)
        out["put"] = time.perf_counter() - start
        start = time.perf_counter()
        for i in range(n):
            bytes(obstore.get(store, f"o{i}").bytes())
        out["get"] = time.perf_counter() - start
        start = time.perf_counter()
        for i, data in enumerate(payloads):
            with contextlib.suppress(obstore.exceptions.AlreadyExistsError):
                obstore.put(store, f"o{i}", data, mode="create")
        out["conditional put (exists)"] = time.perf_counter() - start
    else:
        import boto3

        s3 = boto3.client("s3")
        start = time.perf_counter()
        for i, data in enumerate(payloads):
            s3.put_object(Bucket=bucket, Key=f"bench-boto3/o{i}", Body=data)
        out["put"] = time.perf_counter() - start
        start = time.perf_counter()
        for i in range(n):
            s3.get_object(Bucket=bucket, Key=f"bench-boto3/o{i}")["Body"].read()
        out["get"] = time.perf_counter() - start
        start = time.perf_counter()
        for i, data in enumerate(payloads):
            with contextlib.suppress(s3.exceptions.ClientError):
                s3.put_object(Bucket=bucket, Key=f"bench-boto3/o{i}", Body=data, IfNoneMatch="*")
        out["conditional put (exists)"] = time.perf_counter() - start
    return {k: v / n * 1000 for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--size", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, s3_server(Path(tmp)) as s3:
        os.environ.update(s3.env)
        rows = []
        bare = startup_s("", s3.env)
        for client in ("obstore", "boto3"):
            start = startup_s(client, s3.env) - bare
            rows.append((client, installed_mb(CLOSURE[client]), start, ops(client, s3.bucket, args.objects, args.size)))
    print(f"\n{args.objects} objects of {args.size} bytes, sequential, moto on 127.0.0.1\n")
    print("| client | installed | start-up | PUT | GET | conditional PUT, exists |")
    print("|---|---:|---:|---:|---:|---:|")
    for client, mb, start, times in rows:
        print(
            f"| {client} | {mb:.1f} MB | {start * 1000:.0f} ms | {times['put']:.1f} ms | {times['get']:.1f} ms "
            f"| {times['conditional put (exists)']:.1f} ms |"
        )


if __name__ == "__main__":
    main()
